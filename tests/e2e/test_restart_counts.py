"""Restarts of `picket run` on embedded defaults lose nothing and count nothing twice.

Check-ins, session aggregates and client-reported outcomes are sent in four phases; between
them the whole `picket run` is stopped with SIGTERM, then killed (SIGKILL of its process
group, broker included) right after a phase was answered and before it could be processed, and
started again on the same data directory. After each restart the new items are counted next to
the old ones, every count exact: the embedded broker keeps what it acknowledged, and nothing is
deduplicated by Kafka offsets (which a broker or topic reset would start again at 0).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from tests.support.api import call
from tests.support.picket import PicketProcess

CHECKINS = 30  # per phase, each its own check-in
SESSION_ENVELOPES = 4  # per phase, each an aggregate of 5 exited sessions
REPORTS = 5  # per phase, each a client report of 100 discarded errors
RELEASE = "restart@1"
WITHIN = 60.0


def _envelope(item_type: str, payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    return b"{}\n" + json.dumps({"type": item_type, "length": len(body)}).encode() + b"\n" + body + b"\n"


def _send_phase(p: PicketProcess) -> None:
    project_id, key = p.dsn.rsplit("/", 1)[1], p.dsn.split("//")[1].split("@")[0]
    url = f"{p.url}/api/{project_id}/envelope/"
    headers = {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"}
    now = datetime.now(timezone.utc).isoformat()
    bodies = [_envelope("check_in", {"check_in_id": uuid.uuid4().hex, "monitor_slug": "nightly", "status": "ok",
                                     "monitor_config": {"schedule": {"type": "crontab", "value": "0 3 * * *"}}})
              for _ in range(CHECKINS)]
    bodies += [_envelope("sessions", {"aggregates": [{"started": now, "exited": 5}],
                                      "attrs": {"release": RELEASE, "environment": "production"}})
               for _ in range(SESSION_ENVELOPES)]
    bodies += [_envelope("client_report", {"timestamp": now, "discarded_events": [
        {"reason": "queue_overflow", "category": "error", "quantity": 100}]}) for _ in range(REPORTS)]
    with httpx.Client(timeout=30) as client:
        for body in bodies:
            assert client.post(url, content=body, headers=headers).status_code == 200


def _checkins(http: httpx.Client, org: str) -> int:
    count, cursor = 0, None
    while True:
        params = {"per_page": "100", **({"cursor": cursor} if cursor else {})}
        got = http.get(f"/api/0/organization/{org}/monitors/nightly/checkins/", params=params)
        if got.status_code == 404:
            return 0
        count += len(got.json())
        following = [part for part in got.headers.get("Link", "").split(",") if 'rel="next"' in part]
        if not following or 'results="true"' not in following[0]:
            return count
        cursor = following[0].split('cursor="')[1].split('"')[0]


def _counts(p: PicketProcess) -> tuple[int, int, int]:
    with p.client() as http:
        sessions = call(http, "GET", f"/api/0/organizations/{p.org}/sessions/", params={
            "field": "sum(session)", "statsPeriod": "1h", "interval": "1h", "query": f"release:{RELEASE}"}).json()
        discarded = call(http, "GET", f"/api/0/organizations/{p.org}/stats_v2/", params={
            "field": "sum(quantity)", "statsPeriod": "1h", "interval": "1h", "category": "error",
            "outcome": "client_discard"}).json()
        return (
            _checkins(http, p.org),
            sum(int(g["totals"]["sum(session)"] or 0) for g in sessions["groups"]),
            sum(int(g["totals"]["sum(quantity)"]) for g in discarded["groups"]),
        )


def _expect(p: PicketProcess, phases: int) -> None:
    expected = (CHECKINS * phases, SESSION_ENVELOPES * 5 * phases, REPORTS * 100 * phases)
    deadline = time.monotonic() + WITHIN
    counts = _counts(p)
    while counts != expected:
        assert time.monotonic() < deadline, f"after {phases} phases: {counts}, expected {expected}"
        time.sleep(0.5)
        counts = _counts(p)
    time.sleep(2)  # and nothing more arrives: a count exact now is not one that grows later
    assert _counts(p) == expected


def test_every_count_is_exact_across_clean_and_killed_restarts(tmp_path: Path) -> None:
    p = PicketProcess(None, tmp_path / "restarts", org="restarts", env={"PICKET_SEAL_INTERVAL": "1"}).start()
    try:
        _send_phase(p)
        _expect(p, 1)

        p.stop()  # SIGTERM
        p.start()
        _expect(p, 1)
        _send_phase(p)
        _expect(p, 2)

        _send_phase(p)  # answered 200, then killed before it could be processed
        p.stop(kill=True)
        p.start()
        _expect(p, 3)

        p.stop(kill=True)
        p.start()
        _send_phase(p)
        _expect(p, 4)
    finally:
        p.stop(kill=True)
