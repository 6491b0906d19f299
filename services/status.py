"""`picket status`: what a running Picket is doing, as tables on the terminal.

    picket status [--data-dir D]

- Processes of the `picket run` on the data directory: the supervisor (the holder of
  `<data dir>/run.lock`, as `/proc/locks` tells), and the children whose pids it keeps in
  `<data dir>/run/*.pid` (worker, gateways, the embedded broker): pid, alive, resident memory
  and time since start, from `/proc`.
- Consumer groups: for every topic the registry says a group reads (`CONSUMED_TOPICS`, under the
  deployment's `PICKET_TOPIC_PREFIX`, groups named as `Topics.group` names them), the lag:
  messages up to the end of each partition (committed transactions: a consumer's end) that the
  group has not committed, and the group's members as the broker reports them.
- Dead letters: messages on each dead-letter topic (offsets between its start and end, within
  retention).
- Tables: rows and bytes of the active parts of each table of `PICKET_DATABASE`
  (`system.parts`), through the store the instance serves: the store server of a `picket run`
  on embedded chdb (its address and password in `<data dir>/store.json`), else `CLICKHOUSE_URL`.
- The monitors clock: the time of the last message on `monitors-clock-tick`.

Kafka is `KAFKA_BOOTSTRAP` (with the `KAFKA_SASL_*` variables), else the embedded broker of the
`picket run` (`<data dir>/kafka.json`), as for `picket admin`. Exit code 1, with a sentence saying
so, when nothing runs on the data directory (unless `KAFKA_BOOTSTRAP` and a ClickHouse server are
given: then the processes are unknown here, the rest is reported, as beside a scaled-out
deployment); 0 otherwise, whatever the report says.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiokafka import TopicPartition

from picket.bus import embedded
from picket.bus.connection import KafkaConnection
from picket.bus.kafka import admin as make_admin, consumer as make_consumer
from picket.bus.topics import Topics
from picket.config import Settings
from picket.schemas.topics import ALL_TOPICS, BY_NAME, CONSUMED_TOPICS, MONITORS_CLOCK_TICK
from picket.store.client import Store

NOT_RUNNING = 1
KAFKA_TIMEOUT = 30.0
STORE_FILE = "store.json"  # as `picket.stack` writes it
# What a live process's command line holds, by the name of its pid file (broker: the JVM of
# Apache Kafka, or the Tansu fallback).
MARKERS = {"broker": (b"kafka", b"tansu")}
PICKET_MARKER = (b"picket",)


# --- pure parts ---

@dataclass(frozen=True)
class Process:
    name: str
    pid: int
    alive: bool
    rss: int | None = None  # bytes
    uptime: float | None = None  # seconds


@dataclass(frozen=True)
class GroupLag:
    group: str
    topic: str
    partitions: int
    lag: int
    committed: bool  # False: the group has committed nothing on the topic (its lag counts from the start)
    members: int | None = None  # None: not known


@dataclass(frozen=True)
class TableSize:
    table: str
    rows: int
    bytes: int


@dataclass
class Report:
    data_dir: Path
    processes: list[Process] = field(default_factory=list)
    kafka: str | None = None
    kafka_error: str | None = None
    groups: list[GroupLag] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)
    last_tick: datetime | None = None
    store: str | None = None
    store_error: str | None = None
    tables: list[TableSize] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def running(self) -> bool:
        return any(p.alive for p in self.processes)


def lock_holder(locks: str, device: int, inode: int) -> int | None:
    """The pid holding a lock on the file (`device`, `inode`), from the text of /proc/locks."""
    for line in locks.splitlines():
        fields = line.split()
        if "->" in fields or len(fields) < 6:
            continue  # a process waiting for the lock, not holding it
        try:
            major, minor, ino = fields[5].split(":")
            pid = int(fields[4])
            if int(ino) == inode and int(major, 16) == os.major(device) and int(minor, 16) == os.minor(device):
                return pid
        except ValueError:
            continue
    return None


def parse_stat(stat: str) -> tuple[str, int]:
    """A process's state letter and start time (clock ticks after boot) from /proc/<pid>/stat."""
    rest = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return rest[0], int(rest[19])


def parse_rss(status: str) -> int | None:
    """Resident memory in bytes from /proc/<pid>/status (`VmRSS: 123 kB`)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def process(name: str, pid: int, proc: Path = Path("/proc"), markers: Sequence[bytes] = PICKET_MARKER) -> Process:
    """Process `pid` as /proc shows it: alive if it exists, is no zombie and its command line
    holds one of `markers` (a pid file left behind may name a pid used since by another)."""
    root = proc / str(pid)
    try:
        cmdline = (root / "cmdline").read_bytes().lower()
        state, started = parse_stat((root / "stat").read_text())
        rss = parse_rss((root / "status").read_text())
        boot_uptime = float((proc / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return Process(name, pid, False)
    if state in ("Z", "X") or not any(marker in cmdline for marker in markers):
        return Process(name, pid, False)
    return Process(name, pid, True, rss, max(0.0, boot_uptime - started / os.sysconf("SC_CLK_TCK")))


def _order(name: str) -> tuple[int, int, str]:
    kind, _, number = name.partition("-")
    rank = {"supervisor": 0, "broker": 1, "worker": 2, "gateway": 3}.get(kind, 4)
    return rank, int(number) if number.isdigit() else 1, name


def processes(data_dir: Path, proc: Path = Path("/proc")) -> list[Process]:
    """The supervisor of the `picket run` on `data_dir` and its children, as their pid files say."""
    found = []
    lock = data_dir / "run.lock"
    try:
        st = lock.stat()
        holder = lock_holder((proc / "locks").read_text(), st.st_dev, st.st_ino)
    except OSError:
        holder = None
    if holder is not None:
        found.append(process("supervisor", holder, proc))
    for pid_file in sorted((data_dir / "run").glob("*.pid")):
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            continue
        found.append(process(pid_file.stem, pid, proc, MARKERS.get(pid_file.stem, PICKET_MARKER)))
    return sorted(found, key=lambda p: _order(p.name))


def group_lag(group: str, topic: str, ends: Mapping[int, int], starts: Mapping[int, int],
              committed: Mapping[int, int], members: int | None = None) -> GroupLag:
    """The lag of `group` on `topic`, summed over partitions: each one's end less the group's
    committed offset, or, where it has none, less the partition's first offset."""
    lag = 0
    for partition, end in ends.items():
        done = committed.get(partition, -1)
        lag += max(0, end - (done if done >= 0 else starts.get(partition, 0)))
    return GroupLag(group, topic, len(ends), lag, any(committed.get(p, -1) >= 0 for p in ends), members)


def registry_groups(topics: Topics) -> list[tuple[str, str]]:
    """(full group name, full topic name) of every group the registry says reads a topic."""
    pairs = {(topics.group(topic, group), topics.name(topic)) for topic in CONSUMED_TOPICS for group in topic.groups}
    return sorted(pairs)


def dead_letter_topics(topics: Topics) -> list[str]:
    return sorted({topics.prefix + BY_NAME[t.dead_letter].name for t in ALL_TOPICS if t.dead_letter})


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], right: Iterable[int] = ()) -> str:
    """Rows under their headers, in columns two spaces apart; columns in `right` right-aligned."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    aligned = set(right)
    lines = []
    for row in cells:
        parts = [c.rjust(w) if i in aligned else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(parts).rstrip())
    return "\n".join("  " + line for line in lines)


def redacted_url(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


def problems(report: Report, lag_warning: int = 1000, tick_warning: float = 150.0) -> list[str]:
    """What an operator should look at, one sentence each."""
    found = [f"{p.name} (pid {p.pid}) is not running" for p in report.processes if not p.alive]
    found += [f"{g.group} is {g.lag} messages behind on {g.topic}" for g in report.groups if g.lag >= lag_warning]
    found += [f"{g.group} has no members (no consumer reads {g.topic})" for g in report.groups
              if g.members == 0 and g.lag]
    found += [f"{count} dead letters on {topic}" for topic, count in report.dead_letters.items() if count]
    if report.kafka_error:
        found.append(f"Kafka: {report.kafka_error}")
    if report.store_error:
        found.append(f"ClickHouse: {report.store_error}")
    if report.last_tick is not None and (report.now - report.last_tick).total_seconds() > tick_warning:
        found.append(f"the monitors clock last ticked {human_duration((report.now - report.last_tick).total_seconds())} ago")
    return found


def render(report: Report) -> str:
    out = [f"Picket on {report.data_dir}", ""]
    out.append("Processes")
    if report.processes:
        out.append(table(["name", "pid", "alive", "rss", "up"],
                         [(p.name, p.pid, "yes" if p.alive else "NO", human_bytes(p.rss) if p.alive else "-",
                           human_duration(p.uptime) if p.alive else "-") for p in report.processes], right=(1, 3, 4)))
    else:
        out.append("  no picket run on this data directory (a scaled-out deployment's processes are not known here)")
    out.append("")
    out.append(f"Consumer groups (Kafka {report.kafka or '-'})")
    if report.kafka_error:
        out.append(f"  unavailable: {report.kafka_error}")
    else:
        out.append(table(["group", "topic", "partitions", "members", "lag"],
                         [(g.group, g.topic, g.partitions, "-" if g.members is None else g.members,
                           g.lag if g.committed else f"{g.lag} (nothing committed)") for g in report.groups],
                         right=(2, 3)))
        out.append("")
        letters = [(topic, count) for topic, count in sorted(report.dead_letters.items()) if count]
        if letters:
            out.append("Dead letters")
            out.append(table(["topic", "messages"], letters, right=(1,)))
            if len(letters) < len(report.dead_letters):
                out.append(f"  none on the {len(report.dead_letters) - len(letters)} other dead-letter topics")
        else:
            out.append(f"Dead letters: none on the {len(report.dead_letters)} dead-letter topics")
        out.append("")
        tick = "none yet" if report.last_tick is None else (
            f"{report.last_tick.isoformat(timespec='seconds')} "
            f"({human_duration((report.now - report.last_tick).total_seconds())} ago)")
        out.append(f"Monitors clock: last tick {tick}")
    out.append("")
    out.append(f"Tables (ClickHouse {report.store or '-'}; rows and bytes of active parts)")
    if report.store_error:
        out.append(f"  unavailable: {report.store_error}")
    else:
        filled = [t for t in report.tables if t.rows or t.bytes]
        rows = [(t.table, t.rows, human_bytes(t.bytes)) for t in filled]
        rows.append(("(total)", sum(t.rows for t in filled), human_bytes(sum(t.bytes for t in filled))))
        out.append(table(["table", "rows", "bytes"], rows, right=(1, 2)))
        if len(filled) < len(report.tables):
            out.append(f"  and {len(report.tables) - len(filled)} empty tables")
    found = problems(report)
    out.append("")
    out.append("Problems" if found else "No problems seen.")
    out.extend(f"  - {p}" for p in found)
    return "\n".join(out)


# --- the shell ---

def kafka_connection(settings: Settings) -> KafkaConnection | None:
    if settings.kafka is not None:
        return settings.kafka
    saved = embedded.connection_file(settings.data_dir)
    return KafkaConnection.load(saved) if saved.exists() else None


def store_url(settings: Settings, running: bool) -> str | None:
    """The store the instance serves: the store server of a running `picket run` on embedded
    chdb, else a ClickHouse server's `CLICKHOUSE_URL`; None if there is none (the engine itself
    is its process's alone)."""
    served = settings.data_dir / STORE_FILE
    if settings.clickhouse_url.startswith("chdb:"):
        if not (running and served.exists()):
            return None
        try:
            return str(json.loads(served.read_text())["url"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return settings.clickhouse_url


async def _kafka_part(report: Report, kafka: KafkaConnection, topics: Topics) -> None:
    admin = make_admin(kafka, request_timeout_ms=10_000)
    consumer = make_consumer(kafka, group_id=None, request_timeout_ms=10_000)
    await admin.start()
    try:
        await consumer.start()
        # Every topic's metadata (asking for one by name could make a broker create it).
        cluster = await consumer._client.fetch_all_metadata()

        def partitions(name: str) -> list[TopicPartition]:
            found = cluster.partitions_for_topic(name) if name in cluster.topics() else None
            return [TopicPartition(name, p) for p in sorted(found or ())]

        pairs = registry_groups(topics)
        dead = dead_letter_topics(topics)
        every = sorted({tp for name in {t for _, t in pairs} | set(dead) for tp in partitions(name)})
        # The client's own metadata of these (existing) topics, at once: else each offset request
        # waits for a refresh.
        await consumer._client.set_topics(sorted({tp.topic for tp in every}))
        ends = await consumer.end_offsets(every) if every else {}
        starts = await consumer.beginning_offsets(every) if every else {}
        existing = {g[0] for g in await admin.list_consumer_groups()}
        names = sorted({g for g, _ in pairs})
        members = await _members(admin, [g for g in names if g in existing])
        committed: dict[str, dict[Any, int]] = {}
        for group in names:
            offsets = await admin.list_consumer_group_offsets(group) if group in existing else {}
            committed[group] = {tp: meta.offset for tp, meta in offsets.items()}
        for group, name in pairs:
            tps = partitions(name)
            report.groups.append(group_lag(
                group, name, {tp.partition: ends[tp] for tp in tps}, {tp.partition: starts[tp] for tp in tps},
                {tp.partition: o for tp, o in committed[group].items() if tp.topic == name},
                members.get(group, 0 if group in existing else None)))
        for name in dead:
            report.dead_letters[name] = sum(max(0, ends[tp] - starts[tp]) for tp in partitions(name))
        report.last_tick = await _last_message_time(consumer, partitions(topics.name(MONITORS_CLOCK_TICK)),
                                                    ends, starts)
    finally:
        await consumer.stop()
        await admin.close()


async def _members(admin: Any, groups: list[str]) -> dict[str, int]:
    """Members of each group, from DescribeGroups (group id second, members sixth in each entry).
    One group a request: aiokafka fails to decode an answer about several."""
    found = {}
    for group in groups:
        try:
            responses = await admin.describe_consumer_groups([group])
        except Exception:  # not known then: the lag is still worth reporting
            continue
        for response in responses:
            for entry in response.groups:
                if len(entry) > 5:
                    found[entry[1]] = len(entry[5])
    return found


async def _last_message_time(consumer: Any, tps: list[Any], ends: Mapping[Any, int],
                             starts: Mapping[Any, int]) -> datetime | None:
    """The timestamp of the newest message on `tps` (the last few offsets are read: transaction
    markers take offsets too)."""
    live = [tp for tp in tps if ends.get(tp, 0) > starts.get(tp, 0)]
    if not live:
        return None
    consumer.assign(live)
    for tp in live:
        consumer.seek(tp, max(starts[tp], ends[tp] - 5))
    newest = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while loop.time() < deadline and any([await consumer.position(tp) < ends[tp] for tp in live]):
        for messages in (await consumer.getmany(timeout_ms=500)).values():
            for msg in messages:
                newest = msg.timestamp if newest is None else max(newest, msg.timestamp)
    return None if newest is None else datetime.fromtimestamp(newest / 1000, timezone.utc)


def _store_part(report: Report, url: str, database: str) -> None:
    store = Store(url, database)
    try:
        names = [row[0] for row in store.query(
            "SELECT name FROM system.tables WHERE database = {d:String} AND NOT is_temporary "
            "AND engine NOT IN ('View', 'MaterializedView', 'LiveView') ORDER BY name", {"d": database})]
        sizes = {row[0]: (int(row[1]), int(row[2])) for row in store.query(
            "SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts "
            "WHERE database = {d:String} AND active GROUP BY table", {"d": database})}
    finally:
        store.close()
    report.tables = [TableSize(name, *sizes.get(name, (0, 0))) for name in names]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


async def gather(settings: Settings) -> Report:
    report = Report(settings.data_dir, processes=processes(settings.data_dir))
    kafka = kafka_connection(settings)
    if kafka is None:
        report.kafka_error = "no broker known (set KAFKA_BOOTSTRAP, or no kafka.json in the data directory)"
    else:
        report.kafka = kafka.bootstrap
        try:
            await asyncio.wait_for(_kafka_part(report, kafka, Topics(settings.topic_prefix, settings.app_id)),
                                   KAFKA_TIMEOUT)
        except Exception as exc:  # unreachable, refused, timed out: said in the report
            report.kafka_error = _short(exc) if not isinstance(exc, TimeoutError) else \
                f"no answer in {KAFKA_TIMEOUT:.0f}s"
    url = store_url(settings, report.running)
    if url is None:
        report.store_error = "no store server (CLICKHOUSE_URL is embedded chdb, and no picket run serves it)"
    else:
        report.store = redacted_url(url)
        try:
            await asyncio.to_thread(_store_part, report, url, settings.database)
        except Exception as exc:
            report.store_error = _short(exc)
    return report


def main(settings: Settings) -> int:
    """`picket status`: the exit code."""
    data_dir = settings.data_dir
    running = any(p.alive for p in processes(data_dir))
    external = settings.kafka is not None and not settings.clickhouse_url.startswith("chdb:")
    if not running and not external:
        where = data_dir if data_dir.exists() else f"{data_dir} (no such directory)"
        print(f"picket status: nothing is running on {where}; start it with `picket run --data-dir {data_dir}`, "
              f"or give --data-dir of a running one", file=sys.stderr)
        return NOT_RUNNING
    # Signing in over plain SASL is what the embedded broker on loopback asks for: no news here.
    logging.getLogger("aiokafka.conn").setLevel(logging.ERROR)
    print(render(asyncio.run(gather(settings))), flush=True)
    return 0
