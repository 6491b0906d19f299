"""The topic registry as a subscriber and a faulty producer meet it, on a running Picket.

- Every public topic is read with a plain aiokafka consumer and `json.loads`, as a new
  subscriber would; every message is valid against the topic's committed JSON Schema, keyed as
  the registry says, and carries no field named like a secret.
- A poison message on each consumed topic of the registry lands on that topic's own dead-letter
  topic, with the reason, where it came from and which consumer gave up on it.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from picket.schemas import topics as t
from tests.support.api import call
from tests.support.picket import PicketProcess
from tests.support.waiting import eventually

SCHEMAS = Path(t.__file__).with_name("jsonschema")
SECRET_NAME = re.compile(r"secret|password|token_hash", re.IGNORECASE)


@pytest.fixture(scope="module")
def picket(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    """A Picket where something happened on every public topic: an organization, a team, a
    project with its key, a second key, a token (tenancy-events); a monitor and its check-in
    (monitors-events); a release with commits and a deploy (releases-events); a release file
    (artifacts-events); a service hook (integrations-events); an event (outcomes)."""
    p = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("topics"), org="subscribed",
                      env={"PICKET_HOOKS_ALLOW_PRIVATE": "1"}).start()
    try:
        with p.client() as http:
            call(http, "POST", "/api/0/organizations/subscribed/teams/", json={"slug": "readers"})
            call(http, "POST", "/api/0/teams/subscribed/readers/projects/", json={"name": "feed", "slug": "feed"})
            call(http, "POST", "/api/0/projects/subscribed/feed/keys/", json={"name": "second"})
            key = call(http, "GET", "/api/0/projects/subscribed/feed/keys/").json()[0]
            monitor = {"project": "feed", "name": "nightly", "slug": "nightly", "type": "cron_job",
                       "config": {"schedule_type": "crontab", "schedule": "0 * * * *"}}
            call(http, "POST", "/api/0/organizations/subscribed/monitors/", json=monitor)
            call(http, "POST", "/api/0/organization/subscribed/monitors/nightly/checkins/", json={"status": "ok"})
            release = {"version": "feed@1.0", "projects": ["feed"],
                       "commits": [{"id": "a" * 40, "repository": "acme/feed", "author_email": "dev@example.com",
                                    "patch_set": [{"path": "app.py", "type": "M"}]}]}
            call(http, "POST", "/api/0/organizations/subscribed/releases/", json=release)
            call(http, "POST", "/api/0/organizations/subscribed/releases/feed@1.0/deploys/", json={"environment": "prod"})
            uploaded = call(http, "POST", "/api/0/organizations/subscribed/releases/feed@1.0/files/",
                            data={"name": "~/app.js"}, files={"file": ("app.js", b"console.log(1)")})
            assert uploaded.status_code == 201, uploaded.text
            hook = call(http, "POST", "/api/0/projects/subscribed/feed/hooks/",
                        json={"url": "http://127.0.0.1:9/hook", "events": ["issue.created"]})
            assert hook.status_code == 201, hook.text
            stored = httpx.post(f"{p.url}/api/{key['projectId']}/store/?sentry_key={key['public']}",
                                json={"message": "for subscribers"})
            assert stored.status_code == 200, stored.text
        p.wait_drained(("outcomes", "tenancy-projector", "monitors-projector", "releases-projector",
                        "artifacts-projector", "integrations-projector"))
        yield p
    finally:
        p.stop()


async def _read_all(p: PicketProcess, topic: str, partitions: int) -> list[Any]:
    """Every message of `topic` so far, read as a subscriber would: no group, from the start."""
    consumer = AIOKafkaConsumer(bootstrap_servers=p.bootstrap, enable_auto_commit=False, group_id=None,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, n) for n in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[Any] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                out += messages
        return out
    finally:
        await consumer.stop()


def _names(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}"
            yield from _names(v, f"{path}.{k}")
    elif isinstance(value, list):
        for n, v in enumerate(value):
            yield from _names(v, f"{path}[{n}]")


@pytest.mark.parametrize("topic", t.PUBLIC_TOPICS, ids=[topic.name for topic in t.PUBLIC_TOPICS])
def test_a_subscriber_reads_json_valid_against_the_published_schema(picket: PicketProcess, topic: t.Topic) -> None:
    validator = jsonschema_rs.validator_for(json.loads((SCHEMAS / f"{topic.name}.json").read_text()))
    messages = asyncio.run(_read_all(picket, topic.full_name(picket.prefix), topic.partitions))
    assert messages, f"nothing was published on {topic.name}"
    for message in messages:
        value = json.loads(message.value)  # plain JSON, nothing Picket-specific needed
        errors = [e.message for e in validator.iter_errors(value)]
        assert not errors, f"{topic.name} at {message.offset}: {errors}"
        assert message.key == topic.key_for(topic.decode(message.value)), "keyed as the registry says"
        secrets = [name for name in _names(value) if SECRET_NAME.search(name.rsplit(".", 1)[-1])]
        assert not secrets, f"{topic.name} at {message.offset} carries {secrets}"


def test_tenancy_events_tell_of_keys_and_tokens_without_their_secrets(picket: PicketProcess) -> None:
    """The events that carried secrets before are published, whole but for them."""
    messages = asyncio.run(_read_all(picket, t.TENANCY_EVENTS.full_name(picket.prefix), t.TENANCY_EVENTS.partitions))
    values = [json.loads(m.value) for m in messages]
    keys = [v["key"] for v in values if v["type"] == "key_created"]
    tokens = [v["token"] for v in values if v["type"] == "token_created"]
    assert len(keys) >= 2 and tokens
    assert all(k["public"] and "secret" not in k for k in keys)
    assert all(tok["scopes"] and "token_hash" not in tok for tok in tokens)
    # The internal log keeps them, for rebuilding state.
    log = asyncio.run(_read_all(picket, t.TENANCY_LOG.full_name(picket.prefix), t.TENANCY_LOG.partitions))
    whole = [t.TENANCY_LOG.decode(m.value) for m in log]
    assert all(e.key.secret for e in whole if type(e).__name__ == "KeyCreated")
    assert sorted(e.meta.event_id for e in whole) == sorted(v["meta"]["event_id"] for v in values)


@pytest.fixture(scope="module")
def poisoned(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    """A Picket of its own: poisons on public topics must not reach the subscriber's test."""
    p = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("poisoned"), org="poisoned").start()
    try:
        yield p
    finally:
        p.stop()


async def _produce(p: PicketProcess, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=p.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _letter_with(p: PicketProcess, topic: str, marker: bytes) -> dict[str, bytes] | None:
    """The headers of the dead letter on `topic` whose value holds `marker`, if there is one."""
    for message in await _read_all(p, topic, 1):
        if marker in message.value:
            return dict(message.headers)
    return None


@pytest.mark.parametrize("topic", t.CONSUMED_TOPICS, ids=[topic.name for topic in t.CONSUMED_TOPICS])
def test_a_poison_message_lands_on_its_topics_dead_letter_topic(poisoned: PicketProcess, topic: t.Topic) -> None:
    assert topic.dead_letter is not None, f"{topic.name} is consumed but has no dead-letter topic"
    marker = f"poison-{uuid.uuid4().hex}".encode()
    name = topic.full_name(poisoned.prefix)
    # Neither MessagePack nor JSON: no codec of the registry reads it.
    asyncio.run(_produce(poisoned, name, b"poisoned-key", b"\xc1" + marker))
    dead_letters = t.BY_NAME[topic.dead_letter].full_name(poisoned.prefix)
    headers = eventually(lambda: asyncio.run(_letter_with(poisoned, dead_letters, marker)), lambda h: h is not None)
    assert b"undecodable" in headers["reason"], headers
    assert headers["source"].decode().startswith(f"{name}/"), headers
    assert headers["consumer"], headers


def test_after_every_poison_each_stream_goes_on(poisoned: PicketProcess) -> None:
    """Runs after the poisons above (same Picket): a tenancy change, a monitor and its check-in,
    and an event each make their way through the topics that were poisoned."""
    with poisoned.client() as http:
        call(http, "POST", "/api/0/organizations/poisoned/teams/", json={"slug": "after"})
        call(http, "POST", "/api/0/teams/poisoned/after/projects/", json={"name": "later", "slug": "later"})
        monitor = {"project": "later", "name": "after", "slug": "after", "type": "cron_job",
                   "config": {"schedule_type": "crontab", "schedule": "0 * * * *"}}
        call(http, "POST", "/api/0/organizations/poisoned/monitors/", json=monitor)
        call(http, "POST", "/api/0/organization/poisoned/monitors/after/checkins/", json={"status": "ok"})
        key = call(http, "GET", "/api/0/projects/poisoned/later/keys/").json()[0]
        stored = httpx.post(f"{poisoned.url}/api/{key['projectId']}/store/?sentry_key={key['public']}",
                            json={"message": "after the poison"})
        assert stored.status_code == 200, stored.text
        checkins = eventually(
            lambda: call(http, "GET", "/api/0/organization/poisoned/monitors/after/checkins/").json(),
            lambda found: len(found) == 1)
        assert checkins[0]["status"] == "ok"
        issues = eventually(lambda: call(http, "GET", "/api/0/projects/poisoned/later/issues/").json(),
                            lambda found: len(found) == 1)
        assert issues[0]["title"] == "after the poison"
