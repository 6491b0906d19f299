"""Load generator: raw HTTP/1.1 keep-alive requests over asyncio streams, in worker processes.

`LoadRunner.run(workload, ...)` gives each of its worker processes (spawned once, reused
between runs) a share of the connections and of the rate, starts them at one wall-clock
instant and merges what they return. Two modes:
- closed loop: every connection sends its next request as soon as the previous answer came;
- paced: requests fall due at fixed instants (`rate`/s); a due request waits for a free
  connection and its latency counts from the instant it fell due, so a server that falls
  behind shows its queue in the latency instead of slowing the generator down.
Every `probe_every` seconds a worker sends a probe instead of a bulk request: the same kind of
item, stamped with an id the caller then looks for in the store (see `bench.probes`).
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from array import array
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context

import msgspec

_json = msgspec.json.encode


def http_request(method: str, host: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive HTTP/1.1 connection; answers must carry Content-Length (Starlette's do)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        reused = self._writer is not None
        try:
            return await self._exchange(raw)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            if not reused:
                raise
            # The server closed an idle keep-alive connection (uvicorn: after 5 s): once more.
            return await self._exchange(raw)

    async def _exchange(self, raw: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        try:
            self._writer.write(raw)
            head = await self._reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at < 0:
                raise ConnectionError("answer without Content-Length")
            length = int(lower[at + 17 : lower.index(b"\r\n", at + 2)])
            body = await self._reader.readexactly(length) if length else b""
            if b"\r\nconnection: close" in lower:
                self.close()
            return status, body
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


# --- what to send ---------------------------------------------------------------------------------

KINDS = ("checkin-rest", "checkin-envelope", "checkin-cron", "event", "feedback", "bare", "noop")
# Kinds whose items are check-ins of monitors (probes: one monitor per command partition).
CHECK_IN_KINDS = ("checkin-rest", "checkin-envelope", "checkin-cron")
MONITOR_CONFIG = {"schedule_type": "crontab", "schedule": "0 0 * * *", "checkin_margin": 60, "max_runtime": 60}


@dataclass(frozen=True)
class Workload:
    """What one kind of request looks like, and where bulk and probe items go."""

    kind: str
    host: str
    port: int
    org: str = ""
    token: str = ""
    project_id: int = 0
    key: str = ""
    monitors: tuple[str, ...] = ()  # bulk monitor slugs (in the bulk project)
    probe_project_id: int = 0
    probe_key: str = ""
    probe_monitors: tuple[str, ...] = ()  # probe monitor slugs (in the probe project)
    tag: str = "00000000"  # 8 hex digits that make this run's ids unique
    worker: int = 0  # set per worker process

    def item_id(self, seq: int, probe: bool) -> str:
        return f"{self.tag}{self.worker:02x}{int(probe):x}{seq:021x}"

    def probe_id(self, seq: int, answer: bytes) -> str:
        """The id of probe `seq` as lists show it: stamped by the generator, or (REST check-ins,
        whose ids the server makes) read from the answer."""
        if self.kind == "checkin-rest":
            return str(msgspec.json.decode(answer)["id"]).replace("-", "")
        return self.item_id(seq, True)

    def build(self, seq: int, probe: bool) -> bytes:
        """The raw request number `seq` (probe: to the probe project/monitor, id stamped)."""
        item_id = self.item_id(seq, probe)
        project_id, key = (self.probe_project_id, self.probe_key) if probe else (self.project_id, self.key)
        monitors = self.probe_monitors if probe else self.monitors
        if self.kind == "checkin-rest":
            slug = monitors[seq % len(monitors)]
            return http_request(
                "POST", self.host, f"/api/0/organization/{self.org}/monitors/{slug}/checkins/",
                {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
                b'{"status":"ok","duration":500,"environment":"production"}',
            )
        if self.kind == "checkin-cron":  # what a shell job's curl sends: all in the query string
            slug = monitors[seq % len(monitors)]
            return http_request(
                "GET", self.host,
                f"/api/{project_id}/cron/{slug}/{key}/?status=ok&check_in_id={item_id}&duration=0.5&environment=production",
                {},
            )
        body = envelope(self.kind, item_id, monitors[seq % len(monitors)] if monitors else "")
        if self.kind in ("bare", "noop"):
            return http_request("POST", self.host, f"/{'produce' if self.kind == 'bare' else 'noop'}",
                                {"Content-Type": "application/x-sentry-envelope"}, body)
        return http_request(
            "POST", self.host, f"/api/{project_id}/envelope/",
            {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={key}, sentry_client=bench/1.0",
             "Content-Type": "application/x-sentry-envelope"},
            body,
        )


def envelope(kind: str, item_id: str, slug: str = "") -> bytes:
    """An envelope of one item as SDKs send it: a check-in (also the bare stack's body), a small
    error event, or a user feedback."""
    now = time.time()
    if kind in ("checkin-envelope", "bare", "noop"):
        header = {"sent_at": now}
        item_type = "check_in"
        payload = {"check_in_id": item_id, "monitor_slug": slug or "bench", "status": "ok", "duration": 0.5,
                   "environment": "production"}
    elif kind == "event":
        header = {"event_id": item_id, "sent_at": now}
        item_type = "event"
        payload = {
            "event_id": item_id, "timestamp": now, "platform": "python", "level": "error",
            "logger": "bench", "release": "bench@1.0.0", "environment": "production",
            "exception": {"values": [{
                "type": "ValueError", "value": f"invalid literal {item_id[-6:]}", "module": "builtins",
                "stacktrace": {"frames": [
                    {"filename": "app/main.py", "function": "handle", "module": "app.main", "lineno": 42,
                     "in_app": True},
                    {"filename": "app/parse.py", "function": "parse_int", "module": "app.parse", "lineno": 7,
                     "in_app": True},
                ]},
            }]},
            "tags": {"region": "eu", "shard": "7"},
            "user": {"id": "bench-user"},
            "sdk": {"name": "sentry.python", "version": "2.20.0"},
        }
    elif kind == "feedback":
        header = {"event_id": item_id, "sent_at": now}
        item_type = "feedback"
        payload = {"event_id": item_id, "timestamp": now, "platform": "javascript", "contexts": {"feedback": {
            "message": "The page froze after I clicked save.", "contact_email": "user@example.com",
            "name": "Bench User"}}}
    else:
        raise ValueError(f"no envelope for {kind!r}")
    body = _json(payload)
    return b"\n".join((_json(header), _json({"type": item_type, "length": len(body)}), body))


# --- one worker process ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    workload: Workload
    start_at: float  # wall clock
    duration: float
    concurrency: int
    rate: float | None  # None: closed loop
    probe_every: float | None


@dataclass
class Result:
    accepted: array = field(default_factory=lambda: array("d"))  # wall-clock answer times (2xx)
    latency_ms: array = field(default_factory=lambda: array("d"))  # of the 2xx answers
    statuses: Counter = field(default_factory=Counter)  # non-2xx statuses and errors
    probes: list[tuple[str, float]] = field(default_factory=list)  # (id, wall-clock answer time)
    cpu_s: float = 0.0  # CPU the generator used
    started: float = 0.0
    ended: float = 0.0
    last_error: str = ""

    def merge(self, other: Result) -> None:
        self.accepted.extend(other.accepted)
        self.latency_ms.extend(other.latency_ms)
        self.statuses.update(other.statuses)
        self.probes.extend(other.probes)
        self.cpu_s += other.cpu_s
        self.started = min(self.started or other.started, other.started)
        self.ended = max(self.ended, other.ended)
        self.last_error = other.last_error or self.last_error


async def _drive(task: Task) -> Result:
    wl = task.workload
    out = Result()
    seq = 0
    next_probe = [task.start_at + (task.probe_every or 0) / 2]

    def take() -> tuple[int, bool]:
        nonlocal seq
        seq += 1
        probe = task.probe_every is not None and time.time() >= next_probe[0]
        if probe:
            next_probe[0] += task.probe_every  # type: ignore[operator]
        return seq, probe

    async def send(conn: Connection, due: float) -> None:
        n, probe = take()
        raw = wl.build(n, probe)
        try:
            status, answer = await conn.request(raw)
        except (OSError, asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            out.statuses[type(exc).__name__] += 1
            out.last_error = repr(exc)
            await asyncio.sleep(0.01)
            return
        now = time.perf_counter()
        if 200 <= status < 300:
            wall = time.time()
            out.accepted.append(wall)
            out.latency_ms.append((now - due) * 1000)
            if probe:
                out.probes.append((wl.probe_id(n, answer), wall))
        else:
            out.statuses[status] += 1

    await asyncio.sleep(max(0.0, task.start_at - time.time()))
    t0 = time.perf_counter()
    end = t0 + task.duration
    out.started = time.time()
    cpu0 = _cpu()
    conns = [Connection(wl.host, wl.port) for _ in range(task.concurrency)]

    if task.rate is None:
        async def closed(conn: Connection) -> None:
            while (due := time.perf_counter()) < end:
                await send(conn, due)
        await asyncio.gather(*(closed(c) for c in conns))
    else:
        queue: asyncio.Queue[float | None] = asyncio.Queue()

        async def paced(conn: Connection) -> None:
            while (due := await queue.get()) is not None:
                await send(conn, due)

        async def schedule() -> None:
            issued = 0
            while (now := time.perf_counter()) < end:
                owed = int((now - t0) * task.rate) - issued  # type: ignore[operator]
                for i in range(owed):
                    queue.put_nowait(t0 + (issued + i + 1) / task.rate)  # type: ignore[operator]
                issued += max(owed, 0)
                await asyncio.sleep(0.002)
            for _ in conns:
                queue.put_nowait(None)

        await asyncio.gather(schedule(), *(paced(c) for c in conns))
    out.ended = time.time()
    out.cpu_s = _cpu() - cpu0
    for c in conns:
        c.close()
    return out


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _run_task(task: Task) -> Result:
    try:
        import uvloop
        return uvloop.run(_drive(task))
    except ImportError:  # plain asyncio works, only slower
        return asyncio.run(_drive(task))


def _warm() -> int:
    return os.getpid()


class LoadRunner:
    """A pool of load-generator processes, spawned once so runs do not pay interpreter start."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool = ProcessPoolExecutor(processes, mp_context=get_context("spawn"))
        self.pids: list[int] = []

    def start(self) -> None:
        futures = [self._pool.submit(_warm) for _ in range(self.processes * 4)]
        self.pids = sorted({f.result() for f in futures})

    async def run(self, workload: Workload, *, duration: float, concurrency: int, rate: float | None = None,
                  probe_every: float | None = None, lead: float = 0.3) -> Result:
        """Load for `duration` s at `concurrency` in-flight requests (closed loop), or paced at
        `rate`/s over as many connections; returns the merged result of every process."""
        loop = asyncio.get_running_loop()
        start_at = time.time() + lead
        n = self.processes
        tasks = []
        for w in range(n):
            share = concurrency // n + (1 if w < concurrency % n else 0)
            if share == 0:
                continue
            tasks.append(Task(replace(workload, worker=w), start_at, duration, share,
                              None if rate is None else rate * share / concurrency,
                              None if probe_every is None else probe_every * n))
        results = await asyncio.gather(*(loop.run_in_executor(self._pool, _run_task, t) for t in tasks))
        merged = Result()
        for r in results:
            merged.merge(r)
        return merged

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
