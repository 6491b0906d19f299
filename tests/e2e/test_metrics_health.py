"""Operability of a live `picket run`: the gateway's `/metrics` (its port) and the worker's (the
`Metrics:` address it prints) move by exactly what was sent through the envelope endpoint; the
health endpoints answer; and readiness names the consumer group that is stuck when the store
stops taking its writes (a table renamed away, as tests/integration/test_store_outage.py does)
or stops answering at all (the worker, which serves embedded chdb, frozen with SIGSTOP) while
events keep arriving, and is ready again once the store is back."""

from __future__ import annotations

import json
import os
import re
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sentry_sdk.envelope import Envelope, Item, PayloadRef

from picket.gateway import keys
from picket.store.client import Store
from tests.support.picket import PicketProcess

N = 8
STALL_SECONDS = "4"  # PICKET_HEALTH_STALL_SECONDS: short, for the outage scenarios
ENVELOPE_ROUTE = "/api/{project_id}/envelope/"


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("observed"), org="observed").start()
    yield proc
    proc.stop()


@pytest.fixture
def outage(kafka, tmp_path) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    """A Picket of the test's own: its store is taken away."""
    proc = PicketProcess(kafka.bootstrap, tmp_path / "picket", org="outage",
                         env={"PICKET_HEALTH_STALL_SECONDS": STALL_SECONDS}).start()
    yield proc
    proc.stop(kill=True)


def samples(url: str) -> dict[str, float]:
    """Every sample of an exposition, by name and labels as written."""
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+) (\S+)$", answer.text, re.MULTILINE)}


def send(p: PicketProcess, item_type: str, payload: dict[str, Any]) -> None:
    project_id = p.dsn.rsplit("/", 1)[1]
    key = p.dsn.split("//")[1].split("@")[0]
    env = Envelope(headers={})
    env.add_item(Item(type=item_type, payload=PayloadRef(json=payload)))
    answer = httpx.post(f"{p.url}/api/{project_id}/envelope/?sentry_key={key}", content=env.serialize(), timeout=10)
    assert answer.status_code == 200, answer.text


def error_event(n: int) -> dict[str, Any]:
    return {"event_id": uuid.uuid4().hex, "level": "error", "platform": "python",
            "exception": {"values": [{"type": "CountedError", "value": f"counted {n}"}]}}


def check_in() -> dict[str, Any]:
    return {"check_in_id": uuid.uuid4().hex, "monitor_slug": "observed-job", "status": "ok",
            "monitor_config": {"schedule": {"type": "interval", "value": 1, "unit": "day"}}}


def readiness(p: PicketProcess, path: str = "/_health/ready") -> tuple[int, dict[str, Any]]:
    answer = httpx.get(f"{p.url}{path}", timeout=15)
    return answer.status_code, answer.json()


def until(what: str, check: Callable[[], Any], timeout: float = 90, every: Callable[[], None] | None = None) -> Any:
    """`check()`'s first truthy answer, calling `every()` before each try; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if every is not None:
            every()
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not in {timeout}s (last: {last})")


def ready(p: PicketProcess) -> dict[str, Any] | None:
    status, report = readiness(p)
    return report if status == 200 else None


def test_counters_move_by_exactly_what_was_sent(p: PicketProcess) -> None:
    gateway = f"{p.url}/metrics"
    p.wait_drained(groups=("outcomes",), timeout=60)  # whatever starting up wrote is counted
    before_gateway, before_worker = samples(gateway), samples(p.metrics_url)
    sent_at = time.time()
    for n in range(N):
        send(p, "event", error_event(n))
        send(p, "check_in", check_in())
    p.wait_drained(groups=("ingest-events", "monitors-decider", "monitors-projector", "ingest-monitors-raw",
                           "outcomes"), timeout=90)
    after_gateway = samples(gateway)
    ingest = f'{{consumer="ingest-events-consumer",group="{p.prefix}picket-ingest-events"}}'

    def sampled() -> dict[str, float] | None:  # the lag is sampled every few seconds
        worker = samples(p.metrics_url)
        committed = worker.get(f"picket_consumer_last_commit_timestamp_seconds{ingest}", 0.0) >= sent_at
        return worker if committed and worker.get(f"picket_consumer_lag_messages{ingest}") == 0 else None

    after_worker = until("the worker's commit time and lag of the events consumer", sampled, timeout=30)

    def moved(after: dict[str, float], before: dict[str, float], sample: str) -> float:
        return after.get(sample, 0.0) - before.get(sample, 0.0)

    def on_gateway(sample: str) -> float:
        return moved(after_gateway, before_gateway, sample)

    def on_worker(sample: str) -> float:
        return moved(after_worker, before_worker, sample)

    assert on_gateway('picket_ingest_items_total{category="error",outcome="accepted",reason=""}') == N
    assert on_gateway('picket_ingest_items_total{category="monitor",outcome="accepted",reason=""}') == N
    assert on_gateway(f'picket_http_requests_total{{method="POST",route="{ENVELOPE_ROUTE}",status="200"}}') == 2 * N
    assert on_gateway(f'picket_http_request_duration_seconds_count{{method="POST",route="{ENVELOPE_ROUTE}"}}') == 2 * N
    assert not any(p.dsn.rsplit("/", 1)[1] in line for line in after_gateway)  # labelled by template, not path

    rows = 'picket_store_rows_written_total{table="%s"}'
    assert on_worker(rows % "error_events") == N
    assert on_worker(rows % "checkins_raw") == N
    assert on_worker(rows % "monitor_checkins") == N
    assert on_worker('picket_consumer_messages_total{consumer="ingest-events-consumer"}') == N
    assert on_worker('picket_consumer_messages_total{consumer="monitors-decider"}') == N
    assert on_worker('picket_dead_letters_total{consumer="ingest-events-consumer"}') == 0


def test_health_endpoints_of_a_healthy_instance(p: PicketProcess) -> None:
    assert readiness(p, "/_health/") == (200, {"ok": True})
    report = until("a healthy instance ready", lambda: ready(p), timeout=60)
    assert report["problems"] == []
    assert {name: report[name]["ok"] for name in ("broker", "store", "consumers", "clock")} == {
        "broker": True, "store": True, "consumers": True, "clock": True}
    groups = report["consumers"]["groups"]
    assert {f"{p.prefix}picket-ingest-events", f"{p.prefix}picket-outcomes", f"{p.prefix}picket"} <= groups.keys()
    assert all(group["state"] in ("idle", "progressing") for group in groups.values())
    status, full = readiness(p, "/_health/?full=1")
    assert status == 200 and full["ok"] is True


def _stuck(p: PicketProcess, group: str, *, store_answers: bool) -> dict[str, Any] | None:
    status, report = readiness(p)
    if status != 503 or group not in report["consumers"].get("stuck", ()):
        return None
    if report["store"]["ok"] is not store_answers:
        return None
    return report


def test_readiness_names_the_stuck_consumer_when_the_store_is_stopped(outage: PicketProcess) -> None:
    p = outage
    group = f"{p.prefix}picket-ingest-events"
    worker_rows = 'picket_store_rows_written_total{table="error_events"}'
    until("ready before the outage", lambda: ready(p), timeout=60)
    sent = 0

    def one_more() -> None:
        nonlocal sent
        send(p, "event", error_event(sent))
        sent += 1

    one_more()  # the gateway has the key cached before the store goes
    p.wait_drained(groups=("ingest-events",), timeout=60)
    rows_before = samples(p.metrics_url).get(worker_rows, 0.0)

    # 1. The store refuses the writes of error events (their table is renamed away): the events
    #    consumer retries and commits nothing, while events keep arriving.
    store = Store(json.loads((p.data_dir / "store.json").read_text())["url"], "picket")
    store.command("RENAME TABLE {db}.error_events TO {db}.error_events_away")
    try:
        report = until("503 naming the stuck events consumer", lambda: _stuck(p, group, store_answers=True),
                       timeout=60, every=one_more)
    finally:
        store.command("RENAME TABLE {db}.error_events_away TO {db}.error_events")
    assert any(problem.startswith(f"consumer group {group} is stuck") for problem in report["problems"])
    assert report["consumers"]["groups"][group]["state"] == "stuck"
    assert report["consumers"]["groups"][group]["lag"] > 0
    assert report["broker"]["ok"] and report["store"]["ok"]
    until("ready again once the table is back", lambda: ready(p), timeout=90)
    p.wait_drained(groups=("ingest-events",), timeout=60)
    assert samples(p.metrics_url).get(worker_rows, 0.0) - rows_before == sent - 1  # every event stored once

    # 2. The store stops answering altogether: the worker that serves embedded chdb is frozen.
    #    Ingestion goes on, also once the gateway's key cache entry has expired: the expired key
    #    is answered from the entry while it is read again (that read hangs), within `send`'s 10 s.
    one_more()
    worker = p.child_pid("worker")
    os.kill(worker, signal.SIGSTOP)
    try:
        one_more()
        time.sleep(keys.TTL_SECONDS + 1)
        for _ in range(3):
            one_more()
        report = until("503 naming the store and the stuck consumer", lambda: _stuck(p, group, store_answers=False),
                       timeout=60)
    finally:
        os.kill(worker, signal.SIGCONT)
    assert any(problem.startswith("the store does not answer") for problem in report["problems"])
    assert any(problem.startswith(f"consumer group {group} is stuck") for problem in report["problems"])
    until("ready again once the worker runs", lambda: ready(p), timeout=120)
