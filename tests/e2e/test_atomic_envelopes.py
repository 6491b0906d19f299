"""A 503 means nothing of the envelope was counted, so the client's retry counts it once.

An envelope that cannot be written in time (a sessions aggregate with 100,000 tiny attachments
behind it: 100,000 outcome messages) is answered 503. Its messages go in one Kafka transaction
that is then aborted, so not even the sessions that were written before the deadline are
counted; the retry without the attachments counts them once.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx

from tests.support.api import call
from tests.support.picket import PicketProcess


def _sessions(p: PicketProcess, release: str) -> int:
    with p.client() as http:
        got = call(http, "GET", f"/api/0/organizations/{p.org}/sessions/", params={
            "field": "sum(session)", "statsPeriod": "1h", "interval": "1h", "query": f"release:{release}"}).json()
    return sum(int(g["totals"]["sum(session)"] or 0) for g in got["groups"])


def _attachment_outcomes(p: PicketProcess) -> int:
    with p.client() as http:
        got = call(http, "GET", f"/api/0/organizations/{p.org}/stats_v2/", params={
            "field": "sum(quantity)", "statsPeriod": "1h", "interval": "1h", "category": "attachment"}).json()
    return sum(int(g["totals"]["sum(quantity)"]) for g in got["groups"])


def test_an_envelope_answered_503_is_not_counted_and_its_retry_counts_once(kafka, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = PicketProcess(kafka.bootstrap, tmp_path / "atomic", org="atomic",
                      env={"PICKET_SEAL_INTERVAL": "1", "PICKET_INGEST_ACK_TIMEOUT": "0.5"}).start()
    try:
        release = f"atomic@{uuid.uuid4().hex[:6]}"
        now = datetime.now(timezone.utc).isoformat()
        sessions = json.dumps({"aggregates": [{"started": now, "exited": 5}], "attrs": {"release": release}}).encode()
        head = b"{}\n" + json.dumps({"type": "sessions", "length": len(sessions)}).encode() + b"\n" + sessions + b"\n"
        flood = b'{"type":"attachment","length":1}\nx\n' * 100_000
        project_id, key = p.dsn.rsplit("/", 1)[1], p.dsn.split("//")[1].split("@")[0]
        url = f"{p.url}/api/{project_id}/envelope/"
        auth = {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"}

        refused = httpx.post(url, content=head + flood, headers=auth, timeout=120)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] and refused.json()["detail"]
        time.sleep(1)  # the aborted transaction is behind every consumer now (a session shows in ~1 s)
        p.wait_drained(groups=("ingest-sessions", "outcomes"))
        assert _sessions(p, release) == 0, "nothing of an envelope answered 503 is counted"
        assert _attachment_outcomes(p) == 0

        assert httpx.post(url, content=head, headers=auth, timeout=30).status_code == 200
        deadline = time.monotonic() + 30
        while _sessions(p, release) != 5:
            assert time.monotonic() < deadline, f"the retry counted {_sessions(p, release)} sessions, not 5"
            time.sleep(0.3)
        p.wait_drained(groups=("ingest-sessions",))
        time.sleep(2)
        assert _sessions(p, release) == 5
    finally:
        p.stop()
