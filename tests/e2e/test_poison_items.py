"""One bad item never stops a stream: per ingest topic, a poison item, then a canary.

Each case sends a hostile item that once stalled its consumer for everyone (invalid UTF-8, JSON
nested thousands deep, integers and dates beyond what ClickHouse holds, a message that is not
even msgpack), then a well-formed item from another organization whose project lands on the
same partition, and asserts that the canary is stored within seconds and that the poison is in
the dead-letter topic with its reason. Poisons come through the public ingestion endpoint where
the gateway forwards them as they are; poisons no gateway would publish (undecodable messages,
an outcome dated in year 9999) are produced straight to the topic, as a faulty or hostile
producer with broker access could.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx
import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from picket.schemas.ingest import Outcome
from picket.bus.kafka import partition_for
from tests.support.api import call
from tests.support.picket import PicketProcess
from tests.support.waiting import eventually

PARTITIONS = 4
WITHIN = 20.0  # seconds the canary may take to be stored (sessions: a sealing pass of 1 s)


@dataclass
class Project:
    org: str
    slug: str
    id: int
    key: str
    org_id: int


@dataclass
class Setup:
    p: PicketProcess
    poisoner: Project
    canary: Project


def _partition(project_id: int) -> int:
    return partition_for(str(project_id).encode(), list(range(PARTITIONS)), list(range(PARTITIONS)))


def _project(http: httpx.Client, org: str, slug: str) -> Project:
    project = call(http, "GET", f"/api/0/projects/{org}/{slug}/").json()
    key = call(http, "GET", f"/api/0/projects/{org}/{slug}/keys/").json()[0]
    org_id = int(call(http, "GET", f"/api/0/organizations/{org}/").json()["id"])
    return Project(org, slug, int(project["id"]), key["public"], org_id)


@pytest.fixture(scope="module")
def setup(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:  # type: ignore[no-untyped-def]
    p = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("poison"), org="poisoner",
                      env={"PICKET_SEAL_INTERVAL": "1"}).start()
    try:
        with p.client() as http:
            poisoner = _project(http, "poisoner", "default")
            call(http, "POST", "/api/0/organizations/", json={"name": "Canary", "slug": "canary"})
            call(http, "POST", "/api/0/organizations/canary/teams/", json={"slug": "birds"})
            for n in range(40):  # a canary project on the poisoner's partition of every ingest topic
                call(http, "POST", "/api/0/teams/canary/birds/projects/", json={"name": f"c{n}", "slug": f"c{n}"})
                canary = _project(http, "canary", f"c{n}")
                if _partition(canary.id) == _partition(poisoner.id):
                    break
            else:
                raise AssertionError("no canary project landed on the poisoner's partition")
        yield Setup(p, poisoner, canary)
    finally:
        p.stop()


def _envelope(project: Project, item_type: str, payload: bytes, event_id: str | None = None,
              **item_headers: Any) -> bytes:
    header = {"event_id": event_id} if event_id else {}
    item = {"type": item_type, "length": len(payload), **item_headers}
    return json.dumps(header).encode() + b"\n" + json.dumps(item).encode() + b"\n" + payload + b"\n"


def _send(s: Setup, project: Project, body: bytes) -> None:
    response = httpx.post(f"{s.p.url}/api/{project.id}/envelope/", content=body,
                          headers={"X-Sentry-Auth": f"Sentry sentry_key={project.key}, sentry_version=7"})
    assert response.status_code == 200, response.text


async def _produce(s: Setup, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=s.p.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(f"{s.p.prefix}{topic}", value, key=key)
    finally:
        await producer.stop()


async def _dead_letters(s: Setup) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(f"{s.p.prefix}ingest-dlq", bootstrap_servers=s.p.bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        letters = []
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                return letters
            letters += [(m.value, dict(m.headers)) for part in batch.values() for m in part]
    finally:
        await consumer.stop()


def _dead_letter_of(s: Setup, marker: bytes) -> dict[str, bytes]:
    """The headers of the dead letter whose message carries `marker`, waiting for it."""
    deadline = time.monotonic() + WITHIN
    while True:
        for value, headers in asyncio.run(_dead_letters(s)):
            if marker in value:
                return headers
        assert time.monotonic() < deadline, f"no dead letter carries {marker!r}"
        time.sleep(0.5)


def _eventually(fetch: Callable[[], Any], ok: Callable[[Any], bool]) -> Any:
    return eventually(fetch, ok, timeout=WITHIN)


# --- canaries: a well-formed item of the canary organization, and how to see it stored --------


def _canary_event(s: Setup) -> None:
    event_id = uuid.uuid4().hex
    _send(s, s.canary, _envelope(s.canary, "event", json.dumps({"message": "canary sings"}).encode(), event_id))
    with s.p.client() as http:
        _eventually(lambda: call(http, "GET", f"/api/0/projects/canary/{s.canary.slug}/events/").json(),
                    lambda events: any(e["eventID"] == event_id for e in events))


def _canary_feedback(s: Setup) -> None:
    event_id, words = uuid.uuid4().hex, f"canary {uuid.uuid4().hex}"
    payload = {"event_id": event_id, "name": "Bird", "email": "bird@example.com", "comments": words}
    _send(s, s.canary, _envelope(s.canary, "user_report", json.dumps(payload).encode(), event_id))
    with s.p.client() as http:
        _eventually(lambda: call(http, "GET", f"/api/0/projects/canary/{s.canary.slug}/user-feedback/").json(),
                    lambda items: any(i["comments"] == words for i in items))


def _canary_checkin(s: Setup) -> None:
    check_in_id = uuid.uuid4().hex
    payload = {"check_in_id": check_in_id, "monitor_slug": "canary-job", "status": "ok",
               "monitor_config": {"schedule": {"type": "crontab", "value": "* * * * *"}}}
    _send(s, s.canary, _envelope(s.canary, "check_in", json.dumps(payload).encode()))
    with s.p.client() as http:
        def checkins() -> list[dict[str, Any]]:
            got = http.get("/api/0/organization/canary/monitors/canary-job/checkins/")
            return got.json() if got.status_code == 200 else []
        _eventually(checkins, lambda items: any(c["id"].replace("-", "") == check_in_id for c in items))


def _sessions_total(s: Setup, release: str) -> int:
    with s.p.client() as http:
        got = call(http, "GET", "/api/0/organizations/canary/sessions/", params={
            "field": "sum(session)", "statsPeriod": "1h", "interval": "1h", "project": str(s.canary.id),
            "query": f"release:{release}"}).json()
    return sum(int(g["totals"]["sum(session)"] or 0) for g in got["groups"])


def _canary_session(s: Setup) -> None:
    release = f"canary@{uuid.uuid4().hex[:8]}"
    now = datetime.now(timezone.utc).isoformat()
    payload = {"sid": uuid.uuid4().hex, "init": True, "status": "exited", "started": now, "timestamp": now,
               "attrs": {"release": release, "environment": "production"}}
    _send(s, s.canary, _envelope(s.canary, "session", json.dumps(payload).encode()))
    _eventually(lambda: _sessions_total(s, release), lambda total: total == 1)


def _accepted(s: Setup, category: str) -> int:
    with s.p.client() as http:
        got = call(http, "GET", "/api/0/organizations/canary/stats_v2/", params={
            "field": "sum(quantity)", "statsPeriod": "1h", "interval": "1h", "category": category,
            "outcome": "accepted", "project": str(s.canary.id)}).json()
    return sum(int(g["totals"]["sum(quantity)"]) for g in got["groups"])


def _counted(s: Setup, category: str, send: Callable[[], None]) -> None:
    before = _accepted(s, category)
    send()
    _eventually(lambda: _accepted(s, category), lambda now: now > before)


def _canary_attachment(s: Setup) -> None:
    _counted(s, "attachment", lambda: _send(s, s.canary, _envelope(
        s.canary, "attachment", b"canary bytes", uuid.uuid4().hex, filename="canary.txt")))


def _canary_transaction(s: Setup) -> None:
    now = time.time()
    payload = {"type": "transaction", "transaction": "/canary", "start_timestamp": now - 1, "timestamp": now,
               "contexts": {"trace": {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16]}}}
    _counted(s, "transaction", lambda: _send(s, s.canary, _envelope(
        s.canary, "transaction", json.dumps(payload).encode(), uuid.uuid4().hex)))


# --- poisons -----------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _marker() -> bytes:
    return uuid.uuid4().hex.encode()


def _poison_via_api(item_type: str, payload: Callable[[bytes], bytes], with_event_id: bool = True):  # type: ignore[no-untyped-def]
    def send(s: Setup, marker: bytes) -> None:
        _send(s, s.poisoner, _envelope(s.poisoner, item_type, payload(marker),
                                       uuid.uuid4().hex if with_event_id else None))
    return send


def _poison_produced(topic: str, value: Callable[[Setup, bytes], bytes], key: Callable[[Setup], bytes]):  # type: ignore[no-untyped-def]
    def send(s: Setup, marker: bytes) -> None:
        asyncio.run(_produce(s, topic, key(s), value(s, marker)))
    return send


def _session(**fields: Any) -> Callable[[bytes], bytes]:
    def payload(marker: bytes) -> bytes:
        now = datetime.now(timezone.utc).isoformat()
        body = {"sid": uuid.uuid4().hex, "init": True, "status": "exited", "started": now, "timestamp": now,
                "attrs": {"release": f"poison@{marker.decode()}", "environment": "production"}, **fields}
        return json.dumps(body).encode()
    return payload


def _outcome_in_year_9999(s: Setup, marker: bytes) -> bytes:
    return msgspec.msgpack.encode(Outcome(
        timestamp=datetime(9999, 12, 31, 23, tzinfo=timezone.utc), org_id=s.canary.org_id,
        project_id=s.canary.id, key_id=None, outcome=0, reason=marker.decode(), category=1, quantity=1))


def _not_msgpack(_: Setup, marker: bytes) -> bytes:
    return b"\xc1 not msgpack " + marker


def _project_key(s: Setup) -> bytes:
    return str(s.canary.id).encode()


def _org_key(s: Setup) -> bytes:
    return str(s.canary.org_id).encode()


CASES = {
    "event nested 3000 deep": (
        _poison_via_api("event", lambda m: b'{"message": "' + m + b'", "extra": {"deep": ' + _nested(3000) + b"}}"),
        _canary_event, "nested too deep"),
    "event with invalid UTF-8": (
        _poison_via_api("event", lambda m: b'{"message": "' + m + b' \xff\xfe"}'), _canary_event, "not UTF-8"),
    "feedback with invalid UTF-8": (
        _poison_via_api("feedback", lambda m: b'{"contexts": {"feedback": {"message": "' + m + b' \xff"}}}'),
        _canary_feedback, "not UTF-8"),
    "feedback nested 3000 deep": (
        _poison_via_api("user_report", lambda m: b'{"comments": "' + m + b'", "x": ' + _nested(3000) + b"}"),
        _canary_feedback, "nested too deep"),
    "check-in with invalid UTF-8": (
        _poison_via_api("check_in", lambda m: b'{"monitor_slug": "p", "status": "ok", "x": "' + m + b' \xff"}', False),
        _canary_checkin, "not UTF-8"),
    "check-in nested 3000 deep": (
        _poison_via_api("check_in", lambda m: b'{"monitor_slug": "' + m + b'", "x": ' + _nested(3000) + b"}", False),
        _canary_checkin, "nested too deep"),
    "session with 2**40 errors": (
        _poison_via_api("session", _session(errors=2**40), False), _canary_session, "sessions.errors"),
    "session with seq 2**70": (_poison_via_api("session", _session(seq=2**70), False), _canary_session, "sessions.seq"),
    "session started in year 9999": (
        _poison_via_api("session", _session(started="9999-12-31T23:00:00Z"), False), _canary_session,
        "sessions.started"),
    "undecodable session message": (
        _poison_produced("ingest-sessions", _not_msgpack, _project_key), _canary_session, "undecodable"),
    "undecodable attachment message": (
        _poison_produced("ingest-attachments", _not_msgpack, _project_key), _canary_attachment, "undecodable"),
    "undecodable transaction message": (
        _poison_produced("ingest-transactions", _not_msgpack, _project_key), _canary_transaction, "undecodable"),
    "undecodable event message": (
        _poison_produced("ingest-events", _not_msgpack, _project_key), _canary_event, "undecodable"),
    "undecodable check-in message": (
        _poison_produced("ingest-monitors", _not_msgpack, _project_key), _canary_checkin, "undecodable"),
    "outcome dated in year 9999": (
        _poison_produced("outcomes", _outcome_in_year_9999, _org_key), _canary_attachment, "outcomes_raw.timestamp"),
    "undecodable outcome message": (
        _poison_produced("outcomes", _not_msgpack, _org_key), _canary_attachment, "undecodable"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_poison_item_is_dead_lettered_and_the_stream_goes_on(setup: Setup, case: str) -> None:
    poison, canary, reason = CASES[case]
    marker = _marker()
    poison(setup, marker)
    canary(setup)
    headers = _dead_letter_of(setup, marker)
    assert headers.get("reason"), "a dead letter says why"
    if reason is not None:
        assert reason.encode() in headers["reason"], headers["reason"]
    assert headers.get("source", b"").count(b"/") == 2, "and where it came from (topic/partition/offset)"
