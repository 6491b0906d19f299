"""`picket tail TOPIC`: follow a public topic, one JSON object a line.

    picket tail monitors-events [--from-beginning] [--org SLUG|ID] [--type EVENT] [--data-dir D]
                                [--bootstrap HOST:PORT]

It reads the topic as any subscriber would (no consumer group, committed transactions only),
under the deployment's `PICKET_TOPIC_PREFIX`, from its end (or its beginning) on, and prints each
value: compact JSON, one object a line, when stdout is not a terminal; indented and colored, under
a line naming partition, offset and key, when it is (`NO_COLOR` turns colors off).

Kafka is `--bootstrap`, else `KAFKA_BOOTSTRAP` (with the `KAFKA_SASL_*` variables), else the
embedded broker of a `picket run` on `--data-dir` (its address and password are in the data
directory's `kafka.json`).

`--org` takes an organization's slug or id. A slug is looked up on `tenancy-events` (the
organizations' own events carry it), so the tail needs nothing but Kafka; events of no
organization (users, tokens not bound to one) are left out. Issue events name their project only:
their organization is the project's, also read from `tenancy-events`. `--type` keeps the event
types named (repeat it, or separate them with commas).

Exit codes: 2 for an unknown topic or event type (with the list of what there is), 1 when Kafka,
the topic or the organization is not found, 130 after Ctrl-C (quietly).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import msgspec
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from picket.bus import embedded
from picket.bus.chunks import Reassembler
from picket.bus.connection import KafkaConnection
from picket.bus.kafka import consumer as make_consumer
from picket.config import Settings
from picket.schemas.asyncapi import event_types as union_types
from picket.schemas.topics import PUBLIC_TOPICS, TENANCY_EVENTS, Topic

USAGE = 2
NOT_FOUND = 1
INTERRUPTED = 130
# Aggregate keys that name their organization's id second: org:<id>, monitor:<org id>:<slug>, ...
ORG_AGGREGATES = ("org", "monitor", "release", "release-files", "bundle", "debug-files")


class TailError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# --- pure parts ---

def public_topic(name: str) -> Topic:
    """The public topic `name` (without the deployment's prefix); TailError listing them if none."""
    for topic in PUBLIC_TOPICS:
        if topic.name == name:
            return topic
    names = "\n".join(f"  {t.name:<20} {t.doc}" for t in PUBLIC_TOPICS)
    raise TailError(f"picket tail: {name!r} is not a public topic. Public topics:\n{names}", USAGE)


def event_types(topic: Topic) -> list[str]:
    """The `type`s of a topic's values (empty: its values have none, as outcomes)."""
    return union_types(msgspec.json.schema(topic.value_type))


def checked_types(topic: Topic, wanted: Iterable[str]) -> frozenset[str]:
    """`--type` values (repeated or comma-separated), each one the topic has."""
    names = frozenset(t.strip() for value in wanted for t in value.split(",") if t.strip())
    known = event_types(topic)
    if names and not known:
        raise TailError(f"picket tail: {topic.name} values have no event type; leave out --type", USAGE)
    unknown = sorted(names - set(known))
    if unknown:
        raise TailError(f"picket tail: {topic.name} has no event type {', '.join(map(repr, unknown))}. "
                        f"Its types: {', '.join(known)}", USAGE)
    return names


def as_json(topic: Topic, raw: bytes) -> Any:
    """A message's value as its subscriber reads it: the JSON as published; a value an earlier
    version wrote as MessagePack is read with the topic's codec and written as JSON is now."""
    if raw[:1] == b"{":
        return json.loads(raw)
    return json.loads(topic.encode(topic.decode(raw)))


@dataclass
class Directory:
    """Organizations by slug, and the organization of each project, as `tenancy-events` tells."""

    orgs: dict[str, int] = field(default_factory=dict)
    projects: dict[int, int] = field(default_factory=dict)

    def learn(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind in ("organization_created", "organization_updated"):
            org = event["organization"]
            self.orgs[org["slug"]] = org["id"]
        elif kind in ("project_created", "project_updated", "project_deletion_scheduled"):
            project = event["project"]
            self.projects[project["id"]] = project["org_id"]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def org_of(value: Any, projects: Mapping[int, int]) -> int | None:
    """The id of the organization a public message is about; None if it is about none (a user),
    or names a project `projects` does not know."""
    if not isinstance(value, Mapping):
        return None
    if _int(value.get("org_id")) is not None:  # outcomes, slug claims
        return value["org_id"]
    organization = value.get("organization")
    if isinstance(organization, Mapping) and _int(organization.get("id")) is not None:
        return organization["id"]
    for record in value.values():  # the record an event carries: project, key, monitor, release, ...
        if isinstance(record, Mapping) and _int(record.get("org_id")) is not None:
            return record["org_id"]
    meta = value.get("meta")
    if not isinstance(meta, Mapping):
        return None
    kind, _, rest = str(meta.get("aggregate", "")).partition(":")
    number = rest.split(":", 1)[0]
    if kind in ORG_AGGREGATES and number.isdigit():
        return int(number)
    project = _int(meta.get("project_id"))  # issues-events
    return None if project is None else projects.get(project)


def wanted(value: Any, org_id: int | None, types: frozenset[str], projects: Mapping[int, int]) -> bool:
    if types and (not isinstance(value, Mapping) or value.get("type") not in types):
        return False
    return org_id is None or org_of(value, projects) == org_id


def needs_project(value: Any, projects: Mapping[int, int]) -> int | None:
    """The project id of an issue event whose project `projects` does not know yet."""
    meta = value.get("meta") if isinstance(value, Mapping) else None
    project = _int(meta.get("project_id")) if isinstance(meta, Mapping) else None
    return project if project is not None and project not in projects else None


COLORS = {"key": "\x1b[34m", "string": "\x1b[32m", "number": "\x1b[36m", "literal": "\x1b[35m",
          "dim": "\x1b[2m", "reset": "\x1b[0m"}


def colored(value: Any, depth: int = 0) -> str:
    """`value` as `json.dumps(value, indent=2)` writes it, with ANSI colors."""
    c = COLORS
    inner, outer = "  " * (depth + 1), "  " * depth
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = [f"{inner}{c['key']}{json.dumps(k, ensure_ascii=False)}{c['reset']}: {colored(v, depth + 1)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{outer}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(f"{inner}{colored(v, depth + 1)}" for v in value) + f"\n{outer}]"
    text = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return f"{c['string']}{text}{c['reset']}"
    if value is None or isinstance(value, bool):
        return f"{c['literal']}{text}{c['reset']}"
    return f"{c['number']}{text}{c['reset']}"


def render(value: Any, *, pretty: bool, color: bool, where: str = "") -> str:
    """One message as printed: compact JSON on one line; or indented (colored), under `where`."""
    if not pretty:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    body = colored(value) if color else json.dumps(value, ensure_ascii=False, indent=2)
    if not where:
        return body
    header = f"{COLORS['dim']}# {where}{COLORS['reset']}" if color else f"# {where}"
    return f"{header}\n{body}"


def describe(msg: Any) -> str:
    key = msg.key.decode(errors="replace") if msg.key is not None else "-"
    return f"partition {msg.partition} offset {msg.offset} key {key}"


# --- the shell ---

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="a public topic: " + ", ".join(t.name for t in PUBLIC_TOPICS))
    parser.add_argument("--from-beginning", action="store_true", help="start at the topic's first message")
    parser.add_argument("--org", help="only this organization's messages (slug or id)")
    parser.add_argument("--type", dest="types", action="append", default=[], metavar="EVENT",
                        help="only events of this type (repeat, or separate with commas)")
    parser.add_argument("--data-dir", default=None, help="a picket run's data directory (its embedded broker)")
    parser.add_argument("--bootstrap", help="HOST:PORT of a broker (default: KAFKA_BOOTSTRAP)")


def connection(settings: Settings, bootstrap: str | None) -> KafkaConnection:
    if bootstrap:
        found = KafkaConnection.from_env({**os.environ, "KAFKA_BOOTSTRAP": bootstrap})
        assert found is not None
        return found
    if settings.kafka is not None:
        return settings.kafka
    saved = embedded.connection_file(settings.data_dir)
    if saved.exists():
        return KafkaConnection.load(saved)
    raise TailError(f"picket tail: no broker: set KAFKA_BOOTSTRAP, give --bootstrap, or run it beside a "
                    f"`picket run` on --data-dir (no {saved})", NOT_FOUND)


async def _partitions(consumer: Any, name: str, bootstrap: str, prefix: str) -> list[TopicPartition]:
    # Every topic's metadata, as `consumer.topics()` asks for it (asking for one topic by name could
    # make a broker create it), kept for its partitions: the deployment's, which may be more than
    # the registry's.
    cluster = await consumer._client.fetch_all_metadata()
    partitions = cluster.partitions_for_topic(name) if name in cluster.topics() else None
    if not partitions:
        raise TailError(f"picket tail: no topic {name!r} on {bootstrap} (PICKET_TOPIC_PREFIX={prefix!r}; "
                        f"has this deployment started?)", NOT_FOUND)
    return [TopicPartition(name, n) for n in sorted(partitions)]


@dataclass
class _TenancyReader:
    """Reads `tenancy-events` up to its current end into a Directory; again from there on demand."""

    kafka: KafkaConnection
    prefix: str
    directory: Directory = field(default_factory=Directory)
    positions: dict[TopicPartition, int] = field(default_factory=dict)

    async def catch_up(self) -> Directory:
        name = TENANCY_EVENTS.full_name(self.prefix)
        consumer = make_consumer(self.kafka, group_id=None)
        try:
            await consumer.start()
            tps = await _partitions(consumer, name, self.kafka.bootstrap, self.prefix)
            consumer.assign(tps)
            for tp in tps:
                if tp in self.positions:
                    consumer.seek(tp, self.positions[tp])
                else:
                    await consumer.seek_to_beginning(tp)
            ends = await consumer.end_offsets(tps)
            chunks = Reassembler()
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                for messages in (await consumer.getmany(timeout_ms=1000)).values():
                    for msg in chunks.feed(messages):
                        try:
                            self.directory.learn(as_json(TENANCY_EVENTS, msg.value))
                        except (ValueError, KeyError, TypeError, msgspec.DecodeError):
                            pass  # not an event this reader needs
            for tp in tps:
                self.positions[tp] = await consumer.position(tp)
        finally:
            await consumer.stop()
        return self.directory


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


async def tail(kafka: KafkaConnection, prefix: str, topic: Topic, *, from_beginning: bool = False,
               org: str | None = None, types: frozenset[str] = frozenset(), out: TextIO = sys.stdout,
               err: TextIO = sys.stderr) -> None:
    """Follow `topic` until cancelled, writing the messages wanted to `out`."""
    pretty = _is_terminal(out)
    color = pretty and not os.environ.get("NO_COLOR")
    tenancy = _TenancyReader(kafka, prefix)
    org_id = None
    if org is not None:
        org_id = int(org) if org.isdigit() else (await tenancy.catch_up()).orgs.get(org)
        if org_id is None:
            raise TailError(f"picket tail: no organization {org!r} on {TENANCY_EVENTS.full_name(prefix)}", NOT_FOUND)
        if topic.name == "issues-events" and not tenancy.positions:
            await tenancy.catch_up()
    name = topic.full_name(prefix)
    consumer = make_consumer(kafka, group_id=None, auto_offset_reset="earliest" if from_beginning else "latest")
    try:
        await consumer.start()
        tps = await _partitions(consumer, name, kafka.bootstrap, prefix)
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        if _is_terminal(err):
            print(f"Following {name} on {kafka.bootstrap} (Ctrl-C to stop)", file=err, flush=True)
        chunks = Reassembler()
        looked_up: set[int] = set()
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            for messages in batch.values():
                for msg in chunks.feed(messages):
                    try:
                        value = as_json(topic, msg.value)
                    except (ValueError, TypeError, msgspec.DecodeError) as exc:
                        print(f"picket tail: skipped {msg.topic}/{msg.partition}/{msg.offset}: {exc}", file=err,
                              flush=True)
                        continue
                    project = needs_project(value, tenancy.directory.projects) if org_id is not None else None
                    if project is not None and project not in looked_up:
                        looked_up.add(project)  # once: a project deleted long ago stays unknown
                        await tenancy.catch_up()  # a project created since: its organization
                    if wanted(value, org_id, types, tenancy.directory.projects):
                        out.write(render(value, pretty=pretty, color=color, where=describe(msg)) + "\n")
                        out.flush()
    finally:
        await consumer.stop()


def main(settings: Settings, args: argparse.Namespace) -> int:
    """`picket tail`: the exit code."""
    try:
        topic = public_topic(args.topic)
        types = checked_types(topic, args.types)
        kafka = connection(settings, args.bootstrap)
        asyncio.run(tail(kafka, settings.topic_prefix, topic, from_beginning=args.from_beginning, org=args.org,
                         types=types))
    except TailError as exc:
        print(exc, file=sys.stderr)
        return exc.code
    except KafkaError as exc:
        print(f"picket tail: Kafka at {kafka.bootstrap}: {exc!r}", file=sys.stderr)
        return NOT_FOUND
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0

