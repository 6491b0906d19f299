"""Processes of Picket: all-in-one (`run`), gateway only, worker only.

`run` starts the embedded broker when `KAFKA_BOOTSTRAP` is unset (`services/bus/embedded.py`),
then a worker and gateways (`--gateways N`, sharing the port) as child processes it keeps
running (`services/supervisor.py`),
bootstraps the first organization and prints the URL, a token and a DSN.

The data directory is its owner's alone (0700, files 0600): it holds the broker's and the
store's passwords (`kafka.json`, `store.json`), which `picket admin` reads to work beside a
running `picket run`.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from clickhouse_connect.driver.exceptions import OperationalError

from picket.schemas.topics import COMMAND_REPLIES
from picket.admin import Admin, bootstrap
from picket.bus import embedded
from picket.bus.connection import KafkaConnection, write_private
from picket.bus.kafka import ensure_topics, producer as make_producer
from picket.bus.loopback import free_loopback_port
from picket.bus.replies import ReplyWaiter
from picket.config import Settings
from picket.gateway.app import create_app
from picket.metrics import metrics_app
from picket.bus.commands import CommandClient
from picket.bus.topics import Topics
from picket.store.client import Store
from picket.store.http_interface import USER as STORE_USER, Handles, create_app as store_app, engine_path
from picket.store.migrate import migrate
from picket.supervisor import Child, child_env
from picket.worker import Worker

log = logging.getLogger("picket")


STORE_FILE = "store.json"


def secure_data_dir(path: Path) -> None:
    """Create the data directory, its owner's alone (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)


def lock_data_dir(path: Path) -> Any:
    """Hold `<data dir>/run.lock` for this process's life: one `picket run` per data directory
    (a second would fight the first over the broker's and the engine's files)."""
    handle = open(path / "run.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(f"another picket run uses {path}; stop it first")
    return handle


def _store_password(data_dir: Path) -> str:
    """The embedded store server's password, made at the first start and kept (0600)."""
    try:
        return str(json.loads((data_dir / STORE_FILE).read_text())["password"])
    except (OSError, ValueError, KeyError, TypeError):
        return secrets.token_urlsafe(24)


def _save_store(data_dir: Path, url: str, password: str) -> None:
    write_private(data_dir / STORE_FILE, json.dumps({"url": url, "password": password}))


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


MAX_REQUESTS_IN_PROGRESS = 2048
MAX_STORE_REQUESTS = 256


async def _serve(app: Any, host: str, port: int, limit: int, reuse_port: bool = False) -> uvicorn.Server:
    """Serve `app` on host:port; `reuse_port`: beside other processes bound the same way
    (SO_REUSEPORT: the kernel spreads new connections over them, and over the survivors when
    one dies)."""
    # limit_concurrency bounds the requests in progress (beyond it: 503), so a flood waits in
    # the clients' retries, not in this process's memory.
    # log_config=None: uvicorn's records go through the process's own handler (`picket.logs`:
    # JSON off a terminal, secrets masked), not a formatter of uvicorn's.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", log_config=None,
                            access_log=False, limit_concurrency=limit)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # we own signals
    sockets = [_reuse_port_socket(host, port)] if reuse_port else None
    task = asyncio.create_task(server.serve(sockets=sockets))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"nothing listens on {host}:{port}")
        await asyncio.sleep(0.05)
    server._picket_task = task  # type: ignore[attr-defined]
    return server


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def default_gateways(cores: int | None = None) -> int:
    """Gateway processes `picket run` starts unless told: half the cores, at least one (the worker
    and the broker need the rest: per item, the worker spends about as much CPU as a gateway)."""
    return max(1, (cores or os.cpu_count() or 1) // 2)


async def _stop_server(server: uvicorn.Server) -> None:
    server.should_exit = True
    await server._picket_task  # type: ignore[attr-defined]


async def _admin_session(settings: Settings, kafka: KafkaConnection, store: Store | None):  # type: ignore[no-untyped-def]
    producer = make_producer(kafka, idempotent=settings.idempotent_producer)
    topics = Topics(settings.topic_prefix, settings.app_id)
    waiter = ReplyWaiter(kafka, topics.name(COMMAND_REPLIES), COMMAND_REPLIES.partitions,
                         instance_id=f"admin-{uuid.uuid4().hex[:12]}")
    await producer.start()
    await waiter.start()
    bus = CommandClient(producer, waiter, topics, max(settings.reply_timeout, 30))

    async def close() -> None:
        await waiter.stop()
        await producer.stop()

    return Admin(bus=bus, store=store), close


READY_TIMEOUT = 120.0


async def run_all(settings: Settings, gateways: int = 1) -> None:
    """The broker (unless `KAFKA_BOOTSTRAP` names one), a worker and `gateways` gateways (sharing
    the port), each a process of its own, restarted if it dies; then the first organization, and
    the URL, token and DSN.

    On embedded chdb the worker owns the engine and serves it to the gateway over ClickHouse's
    HTTP interface (`services/store/http_interface.py`), on loopback with a fresh password."""
    started = time.monotonic()
    secure_data_dir(settings.data_dir)
    lock = lock_data_dir(settings.data_dir)
    os.umask(0o077)  # every file this process and its children write is the owner's alone
    broker = None
    kafka = settings.kafka
    env: dict[str, str | None] = {"PICKET_DATA_DIR": str(settings.data_dir)}
    if kafka is None:
        broker = embedded.start(settings.data_dir)  # main thread: the broker dies with this process
        kafka = broker.connection
        settings = settings.with_(kafka=kafka, idempotent_producer=not broker.fallback,
                                  transactions=not broker.fallback, fast_group_join=broker.fallback)
        env.update(PICKET_KAFKA_IDEMPOTENCE="0" if broker.fallback else "1",
                   PICKET_KAFKA_TRANSACTIONS="0" if broker.fallback else "1",
                   PICKET_FAST_GROUP_JOIN="1" if broker.fallback else "0")
    env.update(kafka.env())
    store_url = settings.clickhouse_url
    if store_url.startswith("chdb:"):
        listen = f"127.0.0.1:{free_loopback_port()}"
        password = _store_password(settings.data_dir)
        env.update(PICKET_STORE_LISTEN=listen, PICKET_STORE_PASSWORD=password)
        store_url = f"http://{STORE_USER}:{password}@{listen}"
        _save_store(settings.data_dir, store_url, password)
    run_dir = settings.data_dir / "run"
    metrics_listen = settings.metrics_listen or f"127.0.0.1:{free_loopback_port()}"
    # The worker counts alone; the gateways together (`picket.gateway.metrics`).
    worker = Child("worker", ["worker"], child_env(**env, PICKET_METRICS_LISTEN=metrics_listen,
                                                   **{name: None for name in MULTIPROC_VARIABLES}),
                   run_dir, ready="Picket worker started")
    gateway_env = {**env, "CLICKHOUSE_URL": store_url, "PICKET_PUBLIC_URL": settings.public_url,
                   "PICKET_STORE_LISTEN": None, "PICKET_STORE_PASSWORD": None,
                   "PICKET_REUSE_PORT": "1" if gateways > 1 else None,
                   "prometheus_multiproc_dir": None,
                   "PROMETHEUS_MULTIPROC_DIR": str(fresh_metrics_dir(run_dir / "gateway-metrics"))}
    # Each gateway names its transactional producers after its id: unique per process.
    gateway_children = [
        Child("gateway" if n == 1 else f"gateway-{n}",
              ["gateway", "--host", settings.host, "--port", str(settings.port), "--no-migrate"],
              child_env(**gateway_env, PICKET_GATEWAY_ID=settings.gateway_id if n == 1 else f"{settings.gateway_id}-{n}"),
              run_dir, ready="Picket gateway on")
        for n in range(1, gateways + 1)
    ]
    store = None
    watch = asyncio.create_task(broker.keep_running(run_dir / "broker.pid")) if broker is not None else None
    try:
        # Both start at once: the gateway waits for the worker's store by itself.
        await worker.start()
        for gateway in gateway_children:
            await gateway.start()
        await worker.wait_for(worker.ready, READY_TIMEOUT)
        for gateway in gateway_children:
            await gateway.wait_for(gateway.ready, READY_TIMEOUT)
        store = await asyncio.to_thread(Store, store_url, settings.database)
        admin, close_admin = await _admin_session(settings, kafka, store)
        try:
            creds = await bootstrap(admin, settings)
        finally:
            await close_admin()
        print(
            f"Picket is ready in {time.monotonic() - started:.1f}s\n"
            f"  URL:          {creds.url}\n"
            + (f"  Gateways:     {gateways} processes on port {settings.port}\n" if gateways > 1 else "") +
            f"  Auth token:   {creds.token}\n"
            f"  Organization: {creds.organization}\n"
            f"  DSN:          {creds.dsn}\n"
            f"  Kafka:        {kafka.bootstrap}{_embedded_note(broker)}\n"
            f"  Metrics:      http://{metrics_listen}/metrics (the worker's counters; "
            f"the gateways': {creds.url}/metrics)\n"
            f"  Health:       {creds.url}/_health/ready\n"
            f"  ClickHouse:   {settings.clickhouse_url}",
            flush=True,
        )
        await _wait_for_signal()
    finally:
        if watch is not None:
            watch.cancel()
        for gateway in gateway_children:
            await gateway.stop()
        await worker.stop()
        if store is not None:
            store.close()
        if broker is not None:
            broker.stop()
        lock.close()  # the next picket run may take the data directory


MULTIPROC_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")


def fresh_metrics_dir(path: Path) -> Path:
    """An empty directory for the gateways' counters (prometheus_client's multiprocess mode: a
    file per process and kind, summed by whichever process answers `/metrics`): what a previous
    run left would count again."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, mode=0o700)
    return path


def _embedded_note(broker: embedded.EmbeddedBroker | None) -> str:
    if broker is None:
        return ""
    if broker.fallback:
        return " (embedded Tansu, IN MEMORY: nothing survives a restart)"
    return f" (embedded Apache Kafka, SASL user picket; connection in {embedded.CONNECTION_FILE})"


async def _store_when_reachable(settings: Settings, timeout: float = READY_TIMEOUT) -> Store:
    """The gateway's store client; a worker that serves embedded chdb may still be starting."""
    deadline = time.monotonic() + timeout
    address = urlsplit(settings.clickhouse_url)
    while True:
        try:
            # A bare connect first: the client logs every refused attempt as a warning.
            _, writer = await asyncio.open_connection(address.hostname, address.port or 8123)
            writer.close()
            return await asyncio.to_thread(Store, settings.clickhouse_url, settings.database)
        except (OSError, OperationalError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def run_gateway(settings: Settings, migrate_store: bool = True) -> None:
    if settings.kafka is None:
        sys.exit("picket gateway needs KAFKA_BOOTSTRAP")
    if settings.clickhouse_url.startswith("chdb:"):
        sys.exit("picket gateway needs a ClickHouse server (CLICKHOUSE_URL=http://…)")
    await ensure_topics(settings.kafka, settings.topic_prefix)
    store = await _store_when_reachable(settings)
    if migrate_store:
        await asyncio.to_thread(migrate, store)
    server = await _serve(create_app(settings, settings.kafka, store), settings.host, settings.port,
                          MAX_REQUESTS_IN_PROGRESS, reuse_port=settings.reuse_port)
    print(f"Picket gateway on http://{settings.host}:{settings.port}", flush=True)
    try:
        await _wait_for_signal()
    finally:
        await _stop_server(server)
        store.close()


async def run_worker(settings: Settings) -> None:
    """Agents, projectors and the sealer; with `store_listen`, also the embedded engine's HTTP
    interface for the gateway (served once the tables are migrated, before consumers join); with
    `metrics_listen`, its counters."""
    if settings.kafka is None:
        sys.exit("picket worker needs KAFKA_BOOTSTRAP")
    store = Store(settings.clickhouse_url, settings.database)
    handles = None
    store_server = None
    metrics_server = None
    worker = Worker(settings, settings.kafka, store)
    try:
        if settings.metrics_listen:
            host, _, port = settings.metrics_listen.rpartition(":")
            metrics_server = await _serve(metrics_app(settings.metrics_token), host, int(port), MAX_STORE_REQUESTS)
        if settings.store_listen:
            await asyncio.to_thread(migrate, store)
            handles = Handles(engine_path(settings.clickhouse_url))
            host, _, port = settings.store_listen.rpartition(":")
            store_server = await _serve(store_app(handles, settings.store_password), host, int(port),
                                        MAX_STORE_REQUESTS)
            print(f"Picket store on http://{settings.store_listen}", flush=True)
        await worker.start()
        print("Picket worker started", flush=True)
        await _wait_for_signal()
    finally:
        for server in (store_server, metrics_server):
            if server is not None:
                await _stop_server(server)
        await worker.stop()
        if handles is not None:
            handles.close()
        store.close()


async def run_admin(settings: Settings, action) -> object:  # type: ignore[no-untyped-def]
    """Run one admin action against a running worker: `KAFKA_BOOTSTRAP` and `CLICKHOUSE_URL`, or
    the embedded broker and store of a `picket run` on the same data directory (their addresses
    and passwords are in its data directory)."""
    kafka = settings.kafka
    saved = embedded.connection_file(settings.data_dir)
    if kafka is None and saved.exists():
        kafka = KafkaConnection.load(saved)
    if kafka is None:
        sys.exit("admin commands need KAFKA_BOOTSTRAP (or a running `picket run` on --data-dir)")
    store = open_store(settings)
    if store is None:
        log.warning("picket admin: only actions that need no reads will work")
    admin, close = await _admin_session(settings, kafka, store)
    try:
        return await action(admin)
    finally:
        await close()
        if store is not None:
            store.close()


def open_store(settings: Settings) -> Store | None:
    """The store beside an instance (`picket admin`, `picket replay`): the server of
    `CLICKHOUSE_URL`; on embedded chdb the server a running `picket run` makes of it, else the
    engine itself. None if none answers."""
    urls = [settings.clickhouse_url]
    served = settings.data_dir / STORE_FILE
    if settings.clickhouse_url.startswith("chdb:") and served.exists():
        try:
            urls.insert(0, json.loads(served.read_text())["url"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    for url in urls:
        try:
            return Store(url, settings.database)
        except Exception:  # not running, or the engine is held by a running process
            log.info("no store at %s", _redacted(url))
    log.warning("no store answers at %s", ", ".join(_redacted(u) for u in urls))
    return None


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url
