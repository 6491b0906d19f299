"""Processes under test: `picket run` (with its credentials and readiness), the bare stack's
processes, and the resident memory of a process tree sampled from /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(root: int) -> list[int]:
    """`root` and its descendants (from the parent ids in /proc/<pid>/stat)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def picket_cpu_groups(root: int, data_dir: Path) -> dict[str, list[int]]:
    """The processes of a running `picket run` by role: its gateway and worker (from the pid
    files it keeps), and the rest (the supervisor and the embedded broker)."""
    roles = {name: int((data_dir / "run" / f"{name}.pid").read_text()) for name in ("gateway", "worker")}
    rest = [pid for pid in tree(root) if pid not in roles.values()]
    return {"gateway": [roles["gateway"]], "worker": [roles["worker"]], "broker+run": rest}


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * _PAGE
        except OSError:
            pass
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by `pids` (not counting reaped children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / ticks


class CpuMeter:
    """CPU used by groups of processes between `start()` and `stop()`, in cores."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self._t0 = 0.0
        self._cpu0: dict[str, float] = {}

    def start(self) -> CpuMeter:
        self._t0 = time.monotonic()
        self._cpu0 = {name: cpu_seconds(pids) for name, pids in self.groups.items()}
        return self

    def stop(self) -> dict[str, float]:
        wall = max(time.monotonic() - self._t0, 1e-9)
        return {name: (cpu_seconds(pids) - self._cpu0[name]) / wall for name, pids in self.groups.items()}


class RssSampler:
    """Samples the summed RSS of process trees every `interval` s on a thread; keeps the peak."""

    def __init__(self, *roots: int, interval: float = 0.25) -> None:
        self.roots = roots
        self.interval = interval
        self.peak = 0
        self.last = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        self.last = rss_bytes([pid for root in self.roots for pid in tree(root)])
        self.peak = max(self.peak, self.last)
        return self.last

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()


def stop(proc: subprocess.Popen, grace: float = 20) -> None:  # type: ignore[type-arg]
    """SIGTERM the process we started (its own shutdown stops its children), then SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def python(*args: str, env: dict[str, str] | None = None, log: Path | None = None,
           stdout: int | None = None) -> subprocess.Popen:  # type: ignore[type-arg]
    err = open(log, "ab") if log else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=stdout if stdout is not None else err, stderr=err)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return 200 <= r.status < 300
    except OSError:
        return False


def wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while not http_ok(url):
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer in {timeout} s")
        time.sleep(0.05)


@dataclass
class Picket:
    """A running `picket run` and what it printed."""

    proc: subprocess.Popen  # type: ignore[type-arg]
    url: str
    token: str
    org: str
    dsn: str
    kafka: str
    metrics: str  # the worker's /metrics
    ready_s: float  # from starting the process to credentials printed and HTTP answering
    reported_ready_s: float  # what Picket itself printed ("ready in …", from inside run_all)
    sampler: RssSampler
    rss_at_ready: int


def start_picket(data_dir: Path, port: int, bootstrap: str | None, topic_prefix: str, log: Path,
                 timeout: float = 120) -> Picket:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "PICKET_", "CLICKHOUSE_"))}
    if bootstrap:
        env["KAFKA_BOOTSTRAP"] = bootstrap
        env["PICKET_TOPIC_PREFIX"] = topic_prefix  # a fresh set of topics on a shared broker
    started = time.monotonic()
    proc = python("-m", "picket.cli", "run", "--data-dir", str(data_dir), "--port", str(port),
                  env=env, log=log, stdout=subprocess.PIPE)
    sampler = RssSampler(proc.pid).start()
    seen: dict[str, str] = {}
    reported = float("nan")
    assert proc.stdout is not None
    deadline = started + timeout
    for raw in proc.stdout:  # the credentials block is the only thing `picket run` prints
        line = raw.decode(errors="replace").strip()
        if line.startswith("Picket is ready in"):
            reported = float(line.split()[-1].rstrip("s"))
        name, _, value = line.partition(":")
        if value:
            seen[name.strip()] = value.strip()
        if "ClickHouse" in seen or time.monotonic() > deadline:
            break
    if "DSN" not in seen:
        stop(proc)
        raise RuntimeError(f"picket run printed no credentials; see {log}")
    url = seen["URL"]
    wait_http(f"{url}/_health/", proc, max(1.0, deadline - time.monotonic()))
    ready = time.monotonic() - started
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    return Picket(proc, url, seen["Auth token"], seen["Organization"], seen["DSN"], seen["Kafka"].split()[0],
                  seen["Metrics"].split()[0], ready, reported, sampler, sampler.sample())
