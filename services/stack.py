"""Processes of Picket: all-in-one (`run`), gateway only, worker only.

`run` starts, in one process (chdb allows one process per data directory): the embedded broker
when `KAFKA_BOOTSTRAP` is unset, a worker, the gateway, then bootstraps the first organization
and prints the URL, a token and a DSN.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
import uuid

import uvicorn

from schemas.topics import COMMAND_REPLIES
from services.admin import Admin, bootstrap
from services.bus.kafka import ensure_topics, producer as make_producer
from services.bus.replies import ReplyWaiter
from services.config import Settings, topic_name
from services.gateway.app import create_app
from services.gateway.commands import CommandBus
from services.gateway.routing import command_router
from services.store.client import Store
from services.store.migrate import migrate
from services.worker import Worker

log = logging.getLogger("picket")


def _start_broker(settings: Settings):  # type: ignore[no-untyped-def]
    from services.bus.embedded_broker import EmbeddedBroker

    broker = EmbeddedBroker(settings.data_dir / "broker")
    broker.start()
    return broker


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


MAX_REQUESTS_IN_PROGRESS = 2048


async def _serve(settings: Settings, bootstrap_servers: str, store: Store) -> uvicorn.Server:
    app = create_app(settings, bootstrap_servers, store)
    # limit_concurrency bounds the requests in progress (beyond it: 503), so a flood waits in
    # the clients' retries, not in this process's memory.
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            lifespan="on", access_log=False, limit_concurrency=MAX_REQUESTS_IN_PROGRESS)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # we own signals
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the gateway did not start")
        await asyncio.sleep(0.05)
    server._picket_task = task  # type: ignore[attr-defined]
    return server


async def _stop_server(server: uvicorn.Server) -> None:
    server.should_exit = True
    await server._picket_task  # type: ignore[attr-defined]


async def _admin_session(settings: Settings, bootstrap_servers: str, store: Store | None):  # type: ignore[no-untyped-def]
    producer = make_producer(bootstrap_servers, idempotent=settings.idempotent_producer)
    waiter = ReplyWaiter(bootstrap_servers, topic_name(settings, COMMAND_REPLIES), COMMAND_REPLIES.partitions,
                         instance_id=f"admin-{uuid.uuid4().hex[:12]}")
    await producer.start()
    await waiter.start()
    bus = CommandBus(producer, waiter, command_router(settings), max(settings.reply_timeout, 30))

    async def close() -> None:
        await waiter.stop()
        await producer.stop()

    return Admin(bus=bus, store=store), close


async def run_all(settings: Settings) -> None:
    started = time.monotonic()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    broker = None
    servers = settings.kafka_bootstrap
    if servers is None:
        broker = _start_broker(settings)  # main thread: the broker dies with this process
        servers = broker.bootstrap
        settings = settings.with_(idempotent_producer=False, fast_group_join=True)
        (settings.data_dir / "kafka_bootstrap").write_text(servers)
    store = Store(settings.clickhouse_url, settings.database)
    worker = Worker(settings, servers, store)
    server = None
    try:
        await worker.start()
        server = await _serve(settings, servers, store)
        admin, close_admin = await _admin_session(settings, servers, store)
        try:
            creds = await bootstrap(admin, settings)
        finally:
            await close_admin()
        print(
            f"Picket is ready in {time.monotonic() - started:.1f}s\n"
            f"  URL:          {creds.url}\n"
            f"  Auth token:   {creds.token}\n"
            f"  Organization: {creds.organization}\n"
            f"  DSN:          {creds.dsn}\n"
            f"  Kafka:        {servers}{' (embedded)' if broker else ''}\n"
            f"  ClickHouse:   {settings.clickhouse_url}",
            flush=True,
        )
        await _wait_for_signal()
    finally:
        if server is not None:
            await _stop_server(server)
        await worker.stop()
        store.close()
        if broker is not None:
            broker.stop()


async def run_gateway(settings: Settings) -> None:
    if settings.kafka_bootstrap is None:
        sys.exit("picket gateway needs KAFKA_BOOTSTRAP")
    store = Store(settings.clickhouse_url, settings.database)
    await ensure_topics(settings.kafka_bootstrap, settings.topic_prefix)
    await asyncio.to_thread(migrate, store)
    server = await _serve(settings, settings.kafka_bootstrap, store)
    print(f"Picket gateway on http://{settings.host}:{settings.port}", flush=True)
    try:
        await _wait_for_signal()
    finally:
        await _stop_server(server)
        store.close()


async def run_worker(settings: Settings) -> None:
    if settings.kafka_bootstrap is None:
        sys.exit("picket worker needs KAFKA_BOOTSTRAP")
    store = Store(settings.clickhouse_url, settings.database)
    worker = Worker(settings, settings.kafka_bootstrap, store)
    await worker.start()
    print("Picket worker started", flush=True)
    try:
        await _wait_for_signal()
    finally:
        await worker.stop()
        store.close()


async def run_admin(settings: Settings, action) -> object:  # type: ignore[no-untyped-def]
    """Run one admin action against a running worker (needs KAFKA_BOOTSTRAP)."""
    servers = settings.kafka_bootstrap
    saved = settings.data_dir / "kafka_bootstrap"
    if servers is None and saved.exists():
        servers = saved.read_text().strip()  # the embedded broker of a running `picket run`
    if servers is None:
        sys.exit("admin commands need KAFKA_BOOTSTRAP (or a running `picket run` on --data-dir)")
    try:
        store: Store | None = Store(settings.clickhouse_url, settings.database)
    except Exception:  # embedded chdb held by the running process: bus-only operations still work
        store = None
    admin, close = await _admin_session(settings, servers, store)
    try:
        return await action(admin)
    finally:
        await close()
        if store is not None:
            store.close()
