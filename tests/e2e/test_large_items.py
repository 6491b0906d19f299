"""Items up to Relay's limits are accepted, though a Kafka message holds about 1 MB.

A 2 MiB and a 40 MiB attachment, a 5.8 MiB sessions item and an event just under 1 MiB each
used to get 503 forever (the producer's message limit). They go through Kafka in chunks and
come out whole: the attachments' bytes are stored intact, every session is counted, the event
is stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from picket.store.client import Store
from tests.support.api import call
from tests.support.picket import PicketProcess
from tests.support.waiting import eventually

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("large"), org="large",
                         env={"PICKET_SEAL_INTERVAL": "1"}).start()
    yield proc
    proc.stop()


def _send(p: PicketProcess, items: list[tuple[dict[str, Any], bytes]], event_id: str | None = None) -> httpx.Response:
    project_id, key = p.dsn.rsplit("/", 1)[1], p.dsn.split("//")[1].split("@")[0]
    body = json.dumps({"event_id": event_id} if event_id else {}).encode() + b"\n"
    for headers, payload in items:
        body += json.dumps({**headers, "length": len(payload)}).encode() + b"\n" + payload + b"\n"
    return httpx.post(f"{p.url}/api/{project_id}/envelope/", content=body, timeout=120,
                      headers={"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"})


def _store(p: PicketProcess) -> Store:
    """The worker's embedded ClickHouse, read through the server it makes of it."""
    return Store(json.loads((p.data_dir / "store.json").read_text())["url"], "picket")


@pytest.mark.parametrize("size", [2 * MIB, 40 * MIB])
def test_a_large_attachment_is_stored_intact(p: PicketProcess, size: int) -> None:
    data = os.urandom(size)
    event_id = uuid.uuid4().hex
    assert _send(p, [({"type": "attachment", "filename": "dump.bin"}, data)], event_id).status_code == 200
    store = _store(p)
    try:
        rows = eventually(
            lambda: store.query("SELECT size, lower(hex(SHA1(data))) FROM {db}.attachments FINAL"
                                " WHERE event_id = {e:String}", {"e": event_id}),
            lambda found: bool(found))
    finally:
        store.close()
    assert rows == [(size, hashlib.sha1(data).hexdigest())]


def test_a_large_sessions_item_counts_every_session(p: PicketProcess) -> None:
    release = f"big@{uuid.uuid4().hex[:6]}"
    started = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    aggregates = [{"started": started, "exited": 1, "did": f"user-{n:07d}-{'x' * 40}"} for n in range(70_000)]
    payload = json.dumps({"aggregates": aggregates, "attrs": {"release": release}}).encode()
    assert 5 * MIB < len(payload) < 10 * MIB
    assert _send(p, [({"type": "sessions"}, payload)]).status_code == 200

    def total() -> int:
        with p.client() as http:
            got = call(http, "GET", "/api/0/organizations/large/sessions/", params={
                "field": "sum(session)", "statsPeriod": "1h", "interval": "1h", "query": f"release:{release}"}).json()
        return sum(int(g["totals"]["sum(session)"] or 0) for g in got["groups"])

    eventually(total, lambda n: n == len(aggregates))


def test_an_event_just_under_the_event_limit_is_stored(p: PicketProcess) -> None:
    event_id = uuid.uuid4().hex
    payload = json.dumps({"message": "heavy", "extra": {"blob": "y" * (MIB - 200)}}).encode()
    assert MIB - 200 < len(payload) <= MIB
    assert _send(p, [({"type": "event"}, payload)], event_id).status_code == 200
    with p.client() as http:
        eventually(lambda: http.get(f"/api/0/projects/large/default/events/{event_id}/").status_code,
                    lambda status: status == 200)
