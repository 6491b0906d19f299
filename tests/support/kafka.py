"""A real Apache Kafka broker for tests.

``KafkaBroker`` gives a test a Kafka bootstrap address:

* with ``KAFKA_BOOTSTRAP`` set in the environment, that broker is used as is (nothing is started,
  nothing is stopped);
* otherwise it starts a single-node KRaft broker (``deploy/kafka/kafka.sh start``) on two free
  loopback ports, in a fresh temporary data directory, and removes both when the block ends.

    with KafkaBroker() as kafka:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
        ...
        kafka.restart()   # same data directory and port: acknowledged records are still there

The first use on a machine resolves the broker jars with Maven (``kafka.sh fetch``, cached under
``~/.cache/picket``); after that a start takes about 2 s on two cores.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"

HOST = "127.0.0.1"
FETCH_TIMEOUT = 900.0  # first use: Maven downloads the jars


class KafkaBrokerError(RuntimeError):
    """The broker could not be fetched, started or stopped; the message carries its log tail."""


class KafkaBroker:
    """A Kafka broker for the duration of a ``with`` block.

    Guarantees, for a broker this class starts:

    * on entry (and after ``start()``/``restart()``) the broker has answered a Metadata request on
      ``bootstrap`` and lists itself, so clients can connect, create topics and produce;
    * it runs in its own process group and never outlives the block: on exit the group is
      killed and the temporary data directory removed (a ``data_dir`` you pass is kept). When
      started from the main thread, it is also killed if the test process dies;
    * ``stop()`` is a clean shutdown; ``start()`` brings it back on the same data directory and
      ports, so ``bootstrap`` does not change and acknowledged records survive;
    * a broker that does not answer within ``startup_timeout`` seconds, or exits early, raises
      ``KafkaBrokerError`` with the tail of its log, and leaves no process behind.

    With ``KAFKA_BOOTSTRAP`` set (and ``use_env`` true) the class only hands that address on;
    ``stop()``/``start()``/``restart()`` then raise, since that broker is not ours to restart.
    Tests that need a restart pass ``use_env=False`` to always get a broker of their own.

    ``config`` adds or overrides broker settings (``{"log.retention.ms": "1000"}``).
    """

    def __init__(
        self,
        *,
        use_env: bool = True,
        data_dir: str | os.PathLike[str] | None = None,
        config: dict[str, str] | None = None,
        startup_timeout: float = 90.0,
    ) -> None:
        env = os.environ.get("KAFKA_BOOTSTRAP", "").strip() if use_env else ""
        self.external = bool(env)
        self.bootstrap: str = env
        self.startup_timeout = startup_timeout
        self.startup_seconds: float | None = None  # how long the last start took to answer
        self.port: int | None = None
        self.controller_port: int | None = None
        self._config = dict(config or {})
        self._own_dir = data_dir is None
        self.data_dir: Path | None = None if data_dir is None else Path(data_dir).resolve()
        self._proc: subprocess.Popen[bytes] | None = None

    # -- context manager -------------------------------------------------------------------

    def __enter__(self) -> KafkaBroker:
        if not self.external:
            try:
                self.start()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def log_path(self) -> Path | None:
        """The broker's own log (WARN and above unless PICKET_KAFKA_LOG_LEVEL says otherwise)."""
        return None if self.data_dir is None else self.data_dir / "broker.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the broker (first time: new data directory and ports) and wait until it answers."""
        self._own_broker("start")
        if self.running:
            return
        _fetch()
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="picket-kafka-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.port is None or self.controller_port is None:
            self.port, self.controller_port = _free_ports(2)
        self.bootstrap = f"{HOST}:{self.port}"
        settings = [f"{k}={v}" for k, v in self._config.items()]
        with open(self.data_dir / "kafka.out", "ab") as out:
            self._proc = subprocess.Popen(
                [str(KAFKA_SH), "start", str(self.data_dir), str(self.port),
                 str(self.controller_port), *settings],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if _in_main_thread() else None,
            )
        began = time.monotonic()
        try:
            self._wait_until_ready(began + self.startup_timeout)
        except BaseException:
            self._kill()
            raise
        self.startup_seconds = time.monotonic() - began

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the broker down cleanly (SIGTERM; SIGKILL after ``timeout`` seconds)."""
        self._own_broker("stop")
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                raise KafkaBrokerError(
                    f"Kafka broker on {self.bootstrap} did not stop within {timeout:g} s"
                    f"{self._log_tail()}"
                ) from None
        self._proc = None

    def restart(self) -> None:
        """``stop()`` then ``start()``: same data directory, same ``bootstrap``."""
        self._own_broker("restart")
        self.stop()
        self.start()

    def close(self) -> None:
        """Kill the broker if it runs and remove the data directory if this object made it."""
        if self.external:
            return
        if self._own_dir:
            self._kill()  # its data is about to be deleted: no need for a clean shutdown
        elif self.running:
            self.stop()
        if self._own_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    # -- internals ---------------------------------------------------------------------------

    def _own_broker(self, action: str) -> None:
        if self.external:
            raise KafkaBrokerError(
                f"cannot {action} the broker at KAFKA_BOOTSTRAP={self.bootstrap}: it was not "
                "started here (use KafkaBroker(use_env=False) for a broker of the test's own)"
            )

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()

    def _wait_until_ready(self, deadline: float) -> None:
        assert self._proc is not None and self.port is not None
        while True:
            code = self._proc.poll()
            if code is not None:
                raise KafkaBrokerError(
                    f"Kafka broker for {self.bootstrap} exited with code {code} before answering"
                    f"{self._log_tail()}"
                )
            if _answers_metadata(HOST, self.port):
                return
            if time.monotonic() > deadline:
                raise KafkaBrokerError(
                    f"Kafka broker on {self.bootstrap} did not answer a Metadata request within "
                    f"{self.startup_timeout:g} s{self._log_tail()}"
                )
            time.sleep(0.05)

    def _log_tail(self, lines: int = 40) -> str:
        if self.data_dir is None:
            return ""
        parts = [f" (data dir {self.data_dir})"]
        for name in ("kafka.out", "broker.log"):
            path = self.data_dir / name
            try:
                text = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            if text:
                parts.append(f"\n--- last lines of {path} ---\n" + "\n".join(text))
        return "".join(parts)


def _fetch() -> None:
    """Resolve the broker jars (once per machine; a no-op afterwards)."""
    try:
        subprocess.run(
            [str(KAFKA_SH), "fetch"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            timeout=FETCH_TIMEOUT,
        )
    except subprocess.CalledProcessError as e:
        raise KafkaBrokerError(
            f"{KAFKA_SH} fetch failed with code {e.returncode}:\n"
            f"{e.stderr.decode(errors='replace')}"
        ) from None
    except subprocess.TimeoutExpired:
        raise KafkaBrokerError(f"{KAFKA_SH} fetch took longer than {FETCH_TIMEOUT:.0f} s") from None


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)  # start_new_session: the group id is the child's pid
    except (ProcessLookupError, PermissionError):
        pass


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


try:  # resolved here: the child between fork and exec must not import anything
    _PRCTL = ctypes.CDLL(None).prctl
except (OSError, AttributeError):
    _PRCTL = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the parent dies (Linux; no-op elsewhere).

    Linux ties this to the thread that forked, hence it is used only from the main thread.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _answers_metadata(host: str, port: int, timeout: float = 2.0) -> bool:
    """True if ``host:port`` answers a Metadata (v4) request that lists at least one broker."""
    correlation_id = 0x5049434B
    client_id = b"picket-test-harness"
    request = (
        struct.pack(">hhih", 3, 4, correlation_id, len(client_id))  # Metadata v4, header v1
        + client_id
        + struct.pack(">ib", -1, 0)  # all topics (null array), allow_auto_topic_creation=false
    )
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
            body = _recv_exactly(sock, size)
    except (OSError, ValueError, struct.error):
        return False
    if len(body) < 12:
        return False
    got_id, _throttle_ms, brokers = struct.unpack_from(">iii", body)
    return got_id == correlation_id and brokers >= 1


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n > 0:
        chunk = sock.recv(min(n, 65536))
        if not chunk:
            raise ValueError("connection closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)
