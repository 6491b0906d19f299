"""A real Apache Kafka broker for tests.

``KafkaBroker`` gives a test a Kafka bootstrap address:

* with ``KAFKA_BOOTSTRAP`` set in the environment, that broker is used as is (nothing is started,
  nothing is stopped);
* otherwise it starts a single-node KRaft broker (``picket.bus.kafka_server.KafkaServer``, the
  same launcher as ``picket run``'s embedded broker) on two free loopback ports, in a fresh
  temporary data directory, and removes both when the block ends.

    with KafkaBroker() as kafka:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
        ...
        kafka.restart()   # same data directory and port: acknowledged records are still there

The first use on a machine resolves the broker jars with Maven (``kafka.sh fetch``, cached under
``~/.cache/picket``); after that a start takes about 2 s on two cores.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from picket.bus.connection import KafkaConnection
from picket.bus.kafka_server import KafkaServer, KafkaServerError, fetch

FETCH_TIMEOUT = 900.0  # first use: Maven downloads the jars
KafkaBrokerError = KafkaServerError


class KafkaBroker:
    """A Kafka broker for the duration of a ``with`` block.

    Guarantees, for a broker this class starts:

    * on entry (and after ``start()``/``restart()``) the broker answers on ``bootstrap``;
    * it runs in its own process group and never outlives the block: on exit the group is
      killed and the temporary data directory removed (a ``data_dir`` you pass is kept). When
      started from the main thread, it is also stopped if the test process dies;
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
        self._env_bootstrap = env
        self.startup_timeout = startup_timeout
        self._config = dict(config or {})
        self._own_dir = data_dir is None
        self._data_dir = None if data_dir is None else Path(data_dir).resolve()
        self._server: KafkaServer | None = None

    def __enter__(self) -> KafkaBroker:
        if not self.external:
            try:
                self.start()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def bootstrap(self) -> str:
        if self.external:
            return self._env_bootstrap
        return self._server.bootstrap if self._server is not None else ""

    @property
    def connection(self) -> KafkaConnection:
        """How Picket's own code connects to this broker."""
        if self.external:
            found = KafkaConnection.from_env(os.environ)
            assert found is not None
            return found
        assert self._server is not None
        return self._server.connection

    @property
    def data_dir(self) -> Path | None:
        return self._server.data_dir if self._server is not None else self._data_dir

    @property
    def log_path(self) -> Path | None:
        """The broker's own log (WARN and above unless PICKET_KAFKA_LOG_LEVEL says otherwise)."""
        return self._server.log_path if self._server is not None else None

    @property
    def startup_seconds(self) -> float | None:
        return self._server.startup_seconds if self._server is not None else None

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.running

    def start(self) -> None:
        """Start the broker (first time: new data directory and ports) and wait until it answers."""
        self._own_broker("start")
        if self._server is None:
            fetch(FETCH_TIMEOUT)
            self._data_dir = self._data_dir or Path(tempfile.mkdtemp(prefix="picket-kafka-"))
            self._server = KafkaServer(self._data_dir, config=self._config)
        self._server.start(self.startup_timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the broker down cleanly (SIGTERM; SIGKILL after ``timeout`` seconds)."""
        self._own_broker("stop")
        if self._server is not None:
            self._server.stop(timeout)

    def restart(self) -> None:
        """``stop()`` then ``start()``: same data directory, same ``bootstrap``."""
        self._own_broker("restart")
        self.stop()
        self.start()

    def close(self) -> None:
        """Kill the broker if it runs and remove the data directory if this object made it."""
        if self.external or self._server is None:
            return
        if self._own_dir:
            self._server.kill()  # its data is about to be deleted: no need for a clean shutdown
            shutil.rmtree(self._server.data_dir, ignore_errors=True)
        elif self._server.running:
            self._server.stop()
        self._server = None

    def _own_broker(self, action: str) -> None:
        if self.external:
            raise KafkaBrokerError(
                f"cannot {action} the broker at KAFKA_BOOTSTRAP={self._env_bootstrap}: it was not "
                "started here (use KafkaBroker(use_env=False) for a broker of the test's own)"
            )
