"""The bare stack, the ceiling Picket is compared with; each part runs as its own process.

    python -m bench.bare serve --bootstrap B --topic T --port P
    python -m bench.bare consume --bootstrap B --topic T --expect N --data-dir D

`serve`: a Starlette app under uvicorn with the settings `picket run` gives its gateway (one
process, httptools, no access log, served from `asyncio.run` as `picket run` does, hence
asyncio's own event loop; `--loop uvloop` for comparison). `POST /produce` sends the request
body to T with Picket's producer settings (`acks=all`, idempotence as Picket sets it for the
broker) and answers after the ack; `POST /noop` answers at once (the load generator's ceiling).

`consume`: an aiokafka consumer with Picket's batch-consumer settings reads T from the start in
`getmany` batches of up to 2000, inserts one row per message into an embedded chdb table through
Picket's `Store` (from a worker thread, as Picket's consumers do), commits, and prints
`{"rows": N, "seconds": S}` as JSON once N rows are in, timed from the first batch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timezone

BATCH = 2000
COLUMNS = ("partition", "offset", "payload", "received")


def app(bootstrap: str, topic: str):  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from picket.bus.connection import KafkaConnection
    from picket.bus.kafka import producer as make_producer

    state: dict[str, object] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        producer = make_producer(KafkaConnection(bootstrap))
        await producer.start()
        state["producer"] = producer
        try:
            yield
        finally:
            await producer.stop()

    async def produce(request: Request) -> Response:
        body = await request.body()
        await state["producer"].send_and_wait(topic, body, key=b"1")  # type: ignore[attr-defined]
        return Response(b"{}", media_type="application/json")

    async def noop(request: Request) -> Response:
        await request.body()
        return Response(b"{}", media_type="application/json")

    return Starlette(routes=[Route("/produce", produce, methods=["POST"]), Route("/noop", noop, methods=["GET", "POST"])],
                     lifespan=lifespan)


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    config = uvicorn.Config(app(args.bootstrap, args.topic), host="127.0.0.1", port=args.port,
                            log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    if args.loop == "uvloop":
        import uvloop
        uvloop.run(server.serve())
    else:
        asyncio.run(server.serve())


async def consume(args: argparse.Namespace) -> dict[str, float]:
    from aiokafka import AIOKafkaConsumer

    from picket.store.client import Store

    store = Store(f"chdb:///{args.data_dir}/ch", "bench")
    store.command("CREATE DATABASE IF NOT EXISTS bench")
    store.command("CREATE TABLE IF NOT EXISTS {db}.bare_rows (partition UInt32, offset UInt64, payload String,"
                  " received DateTime64(3, 'UTC')) ENGINE = ReplacingMergeTree ORDER BY (partition, offset)")
    consumer = AIOKafkaConsumer(
        args.topic, bootstrap_servers=args.bootstrap, group_id=f"bare-{time.time_ns()}", enable_auto_commit=False,
        auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=1000, fetch_max_wait_ms=20,
    )
    await consumer.start()
    rows_in = 0
    first = None
    try:
        while rows_in < args.expect:
            batches = await consumer.getmany(timeout_ms=200, max_records=BATCH)
            messages = [m for part in batches.values() for m in part]
            if not messages:
                continue
            first = first or time.perf_counter()
            now = datetime.now(timezone.utc)
            rows = [(m.partition, m.offset, m.value.decode("utf-8", "replace"), now) for m in messages]
            await asyncio.to_thread(store.insert, "bare_rows", rows, COLUMNS)
            await consumer.commit()
            rows_in += len(rows)
        seconds = time.perf_counter() - (first or time.perf_counter())
    finally:
        await consumer.stop()
        store.close()
    return {"rows": rows_in, "seconds": seconds}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bare")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    c = sub.add_parser("consume")
    c.add_argument("--expect", type=int, required=True)
    c.add_argument("--data-dir", required=True)
    for p in (s, c):
        p.add_argument("--bootstrap", required=True)
        p.add_argument("--topic", required=True)
    args = ap.parse_args(argv)
    if args.cmd == "serve":
        serve(args)
    else:
        print(json.dumps(asyncio.run(consume(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
