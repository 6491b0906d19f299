"""Apache Kafka (KRaft, one node) on loopback, run from the Maven Central jars.

`deploy/kafka/kafka.sh` resolves the jars once per machine (Maven, cached under
`~/.cache/picket`) and runs the broker; this class starts it as a child process, waits until it
answers, and stops it. It is the embedded broker of `picket run` and the test harness's broker:
durable (what it acknowledged survives a kill -9 and a restart on the same data directory),
with idempotent and transactional producers, retention that deletes, and, given a secret,
SASL/PLAIN on both listeners.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from picket.bus.connection import KafkaConnection, write_private
from picket.bus.loopback import HOST, answers_kafka, die_with_parent, free_loopback_ports

KAFKA_SH_ENV = "PICKET_KAFKA_SH"
SASL_USER = "picket"


class KafkaServerError(RuntimeError):
    """The broker could not be fetched, started or stopped; the message carries its log tail."""


def kafka_sh() -> Path | None:
    """The launcher script: `$PICKET_KAFKA_SH`, else `deploy/kafka/kafka.sh` of this checkout."""
    override = os.environ.get(KAFKA_SH_ENV)
    path = Path(override) if override else Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "kafka.sh"
    return path if path.is_file() else None


def java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(home and os.access(Path(home) / "bin" / "java", os.X_OK)) or shutil.which("java") is not None


def fetch(timeout: float = 900.0) -> None:
    """Resolve the broker's jars (first use on a machine: Maven downloads them); raises
    KafkaServerError with what went wrong."""
    script = kafka_sh()
    if script is None:
        raise KafkaServerError(f"deploy/kafka/kafka.sh not found (set {KAFKA_SH_ENV})")
    try:
        done = subprocess.run(["bash", str(script), "fetch"], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise KafkaServerError(f"fetching the Kafka jars took over {timeout:.0f}s") from None
    if done.returncode != 0:
        raise KafkaServerError(f"fetching the Kafka jars failed:\n{done.stderr.strip()[-2000:]}")


class KafkaServer:
    """One broker process on `data_dir`. `start()` returns once it answers; `stop()` shuts it down
    cleanly, `kill()` at once. Ports given (or chosen at the first start) are kept, so a restart
    has the same `bootstrap`. With `secret`, clients must sign in as `picket` with it. `config`
    adds broker settings; `jvm_opts` JVM options (those of `$PICKET_KAFKA_JVM_OPTS` win)."""

    def __init__(self, data_dir: Path, *, port: int = 0, controller_port: int = 0, secret: str | None = None,
                 config: dict[str, str] | None = None, jvm_opts: str | None = None,
                 stop_with_parent: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.controller_port = controller_port
        self.secret = secret
        self.config = dict(config or {})
        self.jvm_opts = jvm_opts
        self.stop_with_parent = stop_with_parent
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def connection(self) -> KafkaConnection:
        if self.secret is None:
            return KafkaConnection(self.bootstrap)
        return KafkaConnection(self.bootstrap, "SASL_PLAINTEXT", "PLAIN", SASL_USER, self.secret)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.log"

    def start(self, timeout: float = 90.0) -> None:
        if self.running:
            return
        script = kafka_sh()
        if script is None:
            raise KafkaServerError(f"deploy/kafka/kafka.sh not found (set {KAFKA_SH_ENV})")
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.port or not self.controller_port:
            self.port, self.controller_port = free_loopback_ports(2)
        env = dict(os.environ)
        if self.jvm_opts:
            env["PICKET_KAFKA_JVM_OPTS"] = f"{self.jvm_opts} {env.get('PICKET_KAFKA_JVM_OPTS', '')}".strip()
        if self.secret is not None:
            secret_file = self.data_dir / "sasl.secret"
            write_private(secret_file, self.secret)
            env["PICKET_KAFKA_SASL_SECRET_FILE"] = str(secret_file)
        settings = [f"{k}={v}" for k, v in self.config.items()]
        # From the main thread only: Linux ties the parent-death signal to the forking thread.
        main_thread = threading.current_thread() is threading.main_thread()
        with open(self.data_dir / "kafka.out", "ab") as out:
            self._proc = subprocess.Popen(
                ["bash", str(script), "start", str(self.data_dir), str(self.port), str(self.controller_port),
                 *settings],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                preexec_fn=die_with_parent if (self.stop_with_parent and main_thread) else None,
            )
        began = time.monotonic()
        try:
            self._wait_until_ready(began + timeout, timeout)
        except BaseException:
            self.kill()
            raise
        self.startup_seconds = time.monotonic() - began

    def _wait_until_ready(self, deadline: float, timeout: float) -> None:
        assert self._proc is not None
        while True:
            code = self._proc.poll()
            if code is not None:
                raise KafkaServerError(f"Kafka on {self.bootstrap} exited with code {code}{self.log_tail()}")
            if answers_kafka(self.port):
                return
            if time.monotonic() > deadline:
                raise KafkaServerError(f"Kafka on {self.bootstrap} did not answer in {timeout:g}s{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (the broker flushes and closes its logs), SIGKILL after `timeout` seconds."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise KafkaServerError(f"Kafka on {self.bootstrap} did not stop in {timeout:g}s{self.log_tail()}")
        self._proc = None

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        parts = [f" (data dir {self.data_dir})"]
        for name in ("kafka.out", "broker.log"):
            try:
                text = (self.data_dir / name).read_text(errors="replace")
            except OSError:
                continue
            tail = "\n".join(text.splitlines()[-lines:])
            if tail:
                parts.append(f"\n--- {name} ---\n{tail}")
        return "".join(parts)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)  # start_new_session: the group id is the child's pid
    except (ProcessLookupError, PermissionError):
        pass
