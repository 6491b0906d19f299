"""100,000 check-ins through repeated SIGKILLs: each stored once, each counted once.

A client sends check-ins the way SDKs do (envelopes of `check_in` items, each retried until it
gets a 2xx) while, at random moments, the worker alone is killed with SIGKILL (the gateway is
left running), the gateway alone (requests in flight get no answer and are retried), and the
whole `picket run` with both; the supervisor restarts a killed child, the test restarts
`picket run`. Afterwards every monitor holds exactly the check-ins sent to it (none lost, none
twice), the raw store has each once, and stats_v2 counts each accepted check-in once.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
import uuid
from pathlib import Path

from urllib.parse import urlsplit

import httpx

from bench.load import Connection
from picket.store.client import Store
from tests.support.kafka import KafkaBroker
from tests.support.picket import PicketProcess

CHECK_INS = int(os.environ.get("PICKET_CRASH_CHECK_INS", "100000"))
MONITORS = 20
CONCURRENCY = 32
# What each kill hits, in order, at a random moment in each sixth of the stream.
KILLS = ("worker", "gateway", "picket run", "worker", "gateway")
CONFIG = {"schedule": {"type": "interval", "value": 1, "unit": "day"}, "checkin_margin": 60, "max_runtime": 60}


def _envelope(check_in_id: str, slug: str) -> bytes:
    """One check-in per envelope (Relay refuses a second one as `max_one_per_envelope`)."""
    body = json.dumps({"check_in_id": check_in_id, "monitor_slug": slug, "status": "ok", "duration": 1.5,
                       "monitor_config": CONFIG}).encode()
    header = json.dumps({"type": "check_in", "length": len(body)}).encode()
    return b"{}\n" + header + b"\n" + body + b"\n"


class Sender:
    """Sends every envelope until it gets a 2xx, over keep-alive connections, from a thread of
    its own (a plain HTTP/1.1 client: the test must not be slower than the server)."""

    def __init__(self, url: str, envelopes: list[bytes]) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = f"{parts.path}?{parts.query}"
        self.pending = list(envelopes)
        self.acked = 0
        self.attempts = 0
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        await asyncio.gather(*(self._worker() for _ in range(CONCURRENCY)))

    async def _worker(self) -> None:
        connection = Connection(self.host, self.port)
        while self.pending:
            body = self.pending.pop()
            raw = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                   f"Content-Type: application/x-sentry-envelope\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            while True:
                self.attempts += 1
                try:
                    status, _ = await asyncio.wait_for(connection.request(raw), timeout=10)
                    if status == 200:
                        self.acked += 1
                        break
                except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                    connection.close()
                await asyncio.sleep(0.2)
        connection.close()


def _count_check_ins(http: httpx.Client, org: str, slug: str, expected: int) -> int:
    """The number of check-ins the monitor lists, read from the pages around `expected`."""
    per_page = 100
    last_full = expected // per_page - 1
    counted = 0
    for page in (last_full, last_full + 1, last_full + 2):
        r = http.get(f"/api/0/organization/{org}/monitors/{slug}/checkins/",
                     params={"cursor": f"{per_page}:{page}:0", "per_page": per_page})
        if r.status_code != 200:
            return -1
        counted = page * per_page + len(r.json()) if r.json() else counted
    return counted


def test_check_ins_survive_repeated_kill_9_exactly_once(kafka: KafkaBroker, tmp_path: Path) -> None:
    p = PicketProcess(kafka.bootstrap, tmp_path / "p", org="cron", env={"PICKET_CLOCK": "manual"}).start()
    project_id = p.dsn.rsplit("/", 1)[1]
    key = p.dsn.split("//")[1].split("@")[0]
    ids = [(uuid.uuid4().hex, f"job-{i % MONITORS}") for i in range(CHECK_INS)]
    envelopes = [_envelope(check_in_id, slug) for check_in_id, slug in ids]
    sender = Sender(f"{p.url}/api/{project_id}/envelope/?sentry_key={key}", envelopes)
    rng = random.Random()
    try:
        sender.thread.start()
        for n, victim in enumerate(KILLS):
            target = len(envelopes) * (n + rng.random()) / (len(KILLS) + 1)
            while sender.acked < target:
                time.sleep(0.02)
            if victim == "picket run":
                p.stop(kill=True)
                p.start()
            else:
                p.kill_child(victim)
        sender.thread.join(timeout=1200)
        assert not sender.thread.is_alive(), f"only {sender.acked} of {len(envelopes)} envelopes acknowledged"
        assert sender.acked == len(envelopes)

        deadline = time.monotonic() + 900
        with p.client() as http:
            while True:
                stats = http.get("/api/0/organizations/cron/stats_v2/", params={
                    "field": "sum(quantity)", "category": "monitor", "outcome": "accepted",
                    "statsPeriod": "1d", "interval": "1h"}).json()
                accepted = stats["groups"][0]["totals"]["sum(quantity)"] if stats["groups"] else 0
                per_monitor = [_count_check_ins(http, "cron", f"job-{m}", CHECK_INS // MONITORS)
                               for m in range(MONITORS)]
                if accepted >= CHECK_INS and all(n >= CHECK_INS // MONITORS for n in per_monitor):
                    break
                assert time.monotonic() < deadline, f"accepted {accepted}, per monitor {per_monitor}"
                time.sleep(2)
        assert accepted == CHECK_INS, "a retried check-in counted twice in stats_v2"
        assert per_monitor == [CHECK_INS // MONITORS] * MONITORS, "a check-in stored twice on a monitor"
        assert sender.attempts > len(envelopes), "the kills interrupted nothing: the test proved nothing"
        p.wait_drained(groups=("ingest-monitors-raw",))  # the raw check-ins' writer batches lazily
    finally:
        p.stop()
    # The raw store holds each check-in once (read directly, now that Picket released it).
    store = Store(f"chdb:///{p.data_dir / 'clickhouse'}", "picket")
    try:
        assert store.query("SELECT count(), uniqExact(check_in_id) FROM {db}.checkins_raw FINAL") == [
            (CHECK_INS, CHECK_INS)]
    finally:
        store.close()
