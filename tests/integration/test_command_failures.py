"""A write the bus cannot complete gets a clear 5xx with a detail, never a hang."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.kafka import KafkaBroker
from tests.support.picket import PicketProcess


def test_no_verdict_in_time_is_a_504_with_detail(kafka: KafkaBroker, tmp_path: Path) -> None:
    p = PicketProcess(kafka.bootstrap, tmp_path / "p", org="slow", env={"PICKET_REPLY_TIMEOUT": "0.001"}).start()
    try:
        with p.client() as http:
            response = http.post("/api/0/organizations/slow/teams/", json={"slug": "late"})
        assert response.status_code == 504
        assert response.json()["detail"] == "Timed out waiting for the change to be applied."
    finally:
        p.stop()


def test_broker_down_is_a_503_with_retry_after_and_recovers(tmp_path: Path) -> None:
    with KafkaBroker(use_env=False) as broker:
        p = PicketProcess(broker.bootstrap, tmp_path / "p", org="flaky").start()
        try:
            with p.client() as http:
                assert http.post("/api/0/organizations/flaky/teams/", json={"slug": "before"}).status_code == 201
                broker.stop()
                started = time.monotonic()
                down = http.post("/api/0/organizations/flaky/teams/", json={"slug": "during"})
                assert down.status_code == 503, down.text
                assert down.json()["detail"] == "The command bus is unavailable; try again."
                assert down.headers["retry-after"] == "1"
                assert time.monotonic() - started < 15, "the gateway answers within its send timeout"
                broker.start()
                deadline = time.monotonic() + 60
                status = 0
                while time.monotonic() < deadline and status != 201:
                    status = http.post("/api/0/organizations/flaky/teams/", json={"slug": "after"}).status_code
                    if status != 201:
                        time.sleep(1)
                assert status == 201, "writes work again once the broker is back"
                assert http.get("/api/0/teams/flaky/before/").status_code == 200
        finally:
            p.stop(kill=True)
