"""A real Picket process for integration and end-to-end tests.

`PicketProcess` runs `picket run` as a subprocess against the test Kafka broker (or, with no
bootstrap, on the embedded broker), with its own
topic prefix, data directory (chdb) and port, reads the credentials it prints, and can be
stopped (SIGTERM or SIGKILL) and started again on the same data.
"""

from __future__ import annotations

import asyncio
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
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from picket.schemas.topics import ALL_TOPICS
from picket.bus.connection import KafkaConnection
from picket.bus.embedded import connection_file

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PicketProcess:
    def __init__(self, bootstrap: str | None, data_dir: Path, *, org: str = "acme", token: str | None = None,
                 env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        self.extra_env = env or {}
        # One gateway unless a test asks for more, whatever the machine's cores (the default).
        self.extra_args = args if "--gateways" in args else ("--gateways", "1", *args)
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
            [sys.executable, "-m", "picket.cli", "run", "--port", str(self.port), "--data-dir", str(self.data_dir),
             *self.extra_args],
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

    @property
    def metrics_url(self) -> str:
        """The worker's `/metrics`, as `picket run` printed it."""
        found = re.findall(r"Metrics:\s+(\S+)", self._log.read_text().split("=== stopped ===")[-1])
        if not found:
            raise RuntimeError(f"picket run printed no metrics address:\n{self.log_tail()}")
        return found[-1]

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

    def wait_drained(self, groups: tuple[str, ...] = (), timeout: float = 120) -> None:
        """Return once each consumer group of this Picket has committed up to the end of every
        partition of the topics it consumes: what was accepted has been processed, including by
        writers that batch lazily. A group that has committed nothing yet is unknown here (its
        topics are not known), so the groups named in `groups` (e.g. "outcomes", without the
        prefix) must have committed. TimeoutError with the lags if not in `timeout` s."""
        required = {f"{self.prefix}picket-{g}" for g in groups}
        asyncio.run(_wait_drained(self.kafka, self.prefix, required, timeout))

    @property
    def kafka(self) -> KafkaConnection:
        """How to reach this Picket's broker: the test broker, or the embedded one (whose address
        and password `picket run` keeps in its data directory)."""
        if self.bootstrap:
            return KafkaConnection(self.bootstrap)
        return KafkaConnection.load(connection_file(self.data_dir))

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self._log.read_text().splitlines()[-lines:]) if self._log.exists() else ""

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"} if (token or self.token) else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


async def _group_lags(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, topic_prefix: str) -> dict[str, int]:
    """Messages not yet committed, by consumer group of the Picket with `topic_prefix` that has
    committed (over every partition of each topic it has committed on)."""
    partitions_of = {t.full_name(topic_prefix): t.partitions for t in ALL_TOPICS}
    lags = {}
    for group, _ in await admin.list_consumer_groups():
        if not group.startswith(f"{topic_prefix}picket"):
            continue
        committed = await admin.list_consumer_group_offsets(group)
        if not committed:
            continue
        topics = {tp.topic for tp in committed}
        partitions = [TopicPartition(t, p) for t in topics if t in partitions_of for p in range(partitions_of[t])]
        ends = await consumer.end_offsets(partitions) if partitions else {}
        done = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
        lags[group] = sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())
    return lags


async def _wait_drained(kafka: KafkaConnection, topic_prefix: str, required: set[str], timeout: float) -> None:
    admin = AIOKafkaAdminClient(**kafka.client_args())
    consumer = AIOKafkaConsumer(**kafka.client_args(), group_id=None, enable_auto_commit=False,
                                isolation_level="read_committed")
    await admin.start()
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            lags = await _group_lags(admin, consumer, topic_prefix)
            if lags and required <= lags.keys() and not any(lags.values()):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumer groups still behind: {lags}")
            await asyncio.sleep(0.2)
    finally:
        await consumer.stop()
        await admin.close()
