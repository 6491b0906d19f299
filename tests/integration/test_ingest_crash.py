"""A crash mid-stream loses nothing and counts nothing twice.

A client streams events (retrying, as SDKs do, until each one gets a 2xx) while the whole
Picket process is killed with SIGKILL and started again on the same data. Afterwards every
event is stored exactly once and the accepted outcomes count each event once.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx

from tests.support.kafka import KafkaBroker
from tests.support.picket import PicketProcess

EVENTS = 600


def _total_events(p: PicketProcess) -> int:
    with p.client() as http:
        issues = http.get("/api/0/projects/crash/default/issues/", params={"query": ""}).json()
    return sum(int(i["count"]) for i in issues)


def test_kill_9_mid_stream_loses_nothing_and_counts_each_event_once(kafka: KafkaBroker, tmp_path: Path) -> None:
    p = PicketProcess(kafka.bootstrap, tmp_path / "p", org="crash").start()
    project_id = p.dsn.rsplit("/", 1)[1]
    key = p.dsn.split("//")[1].split("@")[0]
    url = f"{p.url}/api/{project_id}/store/?sentry_key={key}"
    ids = [uuid.uuid4().hex for _ in range(EVENTS)]
    acked: set[str] = set()
    retries = 0

    def send_all() -> None:
        nonlocal retries
        with httpx.Client(timeout=5) as http:
            for n, event_id in enumerate(ids):
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        r = http.post(url, json={"event_id": event_id, "message": f"crash stream {n % 2 and 'odd' or 'even'}"})
                        if r.status_code == 200:
                            acked.add(event_id)
                            break
                    except httpx.TransportError:
                        pass
                    retries += 1
                    time.sleep(0.2)

    sender = threading.Thread(target=send_all)
    try:
        sender.start()
        while len(acked) < EVENTS // 3:
            time.sleep(0.05)
        p.stop(kill=True)
        p.start()
        sender.join(timeout=180)
        assert not sender.is_alive()
        assert acked == set(ids), "every event was eventually accepted"
        assert retries > 0, "the crash really interrupted the stream"

        # (generous: after a kill -9 the restarted consumers rejoin their groups first, slow on a loaded machine)
        deadline = time.monotonic() + 180
        while _total_events(p) < EVENTS and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # a duplicate, if any, would show up now
        assert _total_events(p) == EVENTS
    finally:
        p.stop()
    from picket.store.client import Store

    store = Store(f"chdb:///{p.data_dir / 'clickhouse'}", "picket")
    try:
        accepted = store.query(
            "SELECT sum(quantity) FROM {db}.outcomes_raw FINAL WHERE outcome = 0 AND category IN (0, 1)")[0][0]
        assert accepted == EVENTS
        assert store.query("SELECT count() FROM {db}.error_events FINAL")[0][0] == EVENTS
    finally:
        store.close()
