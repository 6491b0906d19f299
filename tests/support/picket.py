"""A real Picket process for integration and end-to-end tests.

`PicketProcess` runs `picket run` as a subprocess against the test Kafka broker (or, with no
bootstrap, on the embedded broker), with its own
topic prefix, data directory (chdb) and port, reads the credentials it prints, and can be
stopped (SIGTERM or SIGKILL) and started again on the same data.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PicketProcess:
    def __init__(self, bootstrap: str | None, data_dir: Path, *, org: str = "acme", token: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.extra_env = env or {}
        self.bootstrap = bootstrap
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prefix = f"t{uuid.uuid4().hex[:8]}-"
        self.org = org
        self.token = token or uuid.uuid4().hex + uuid.uuid4().hex
        self.dsn = ""
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen[str] | None = None
        self._log = data_dir / "picket.log"

    def start(self, timeout: float = 120) -> PicketProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP": self.bootstrap or "",
            "PICKET_TOPIC_PREFIX": self.prefix,
            "PICKET_ORG": self.org,
            "PICKET_ADMIN_TOKEN": self.token,
            "PICKET_LOG_LEVEL": "WARNING",
            **self.extra_env,
        }
        env.pop("CLICKHOUSE_URL", None)
        started = time.monotonic()
        log = open(self._log, "a")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", "--port", str(self.port), "--data-dir", str(self.data_dir)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"picket run exited with {self._proc.returncode}:\n{self.log_tail()}")
            current = self._log.read_text().split("=== stopped ===")[-1]
            found = re.search(r"DSN:\s+(\S+)", current)
            if found and "Picket is ready" in current:
                self.dsn = found.group(1)
                self.startup_seconds = time.monotonic() - started
                return self
            time.sleep(0.2)
        self.stop(kill=True)
        raise TimeoutError(f"picket run not ready in {timeout}s:\n{self.log_tail()}")

    def stop(self, kill: bool = False) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._proc = None
        with open(self._log, "a") as f:
            f.write("\n=== stopped ===\n")

    def child_pid(self, name: str) -> int:
        """The pid of `picket run`'s child process `name` ("worker" or "gateway")."""
        return int((self.data_dir / "run" / f"{name}.pid").read_text())

    def kill_child(self, name: str, timeout: float = 60) -> None:
        """SIGKILL one child of `picket run`; return once its supervisor started another (and, for
        the gateway, once that one answers)."""
        pid = self.child_pid(name)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.child_pid(name) != pid and (name != "gateway" or self._answers()):
                    return
            except (FileNotFoundError, ValueError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"picket run did not restart its {name}:\n{self.log_tail()}")

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/_health/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self._log.read_text().splitlines()[-lines:]) if self._log.exists() else ""

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"} if (token or self.token) else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)
