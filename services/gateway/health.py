"""The gateway's health endpoints, open as Sentry's internal ones.

- `GET /_health/`: liveness, `200 {"ok": true}` while the process answers (nothing else looked at).
- `GET /_health/ready` (also `GET /_health/?full=1`): readiness of the whole installation, 200
  with the report when all is well, 503 with it otherwise; its `problems` name what is wrong:
  - `broker`: a metadata request answers within 2 s;
  - `store`: `SELECT 1` answers within 2 s;
  - `consumers`: every consumer group of the registry is idle or moving (committed offsets
    against end offsets; one behind without committing for `PICKET_HEALTH_STALL_SECONDS` is
    stuck and named, `picket.gateway.readiness`);
  - `clock`: with `PICKET_CLOCK=wall`, a tick on `monitors-clock-tick` within the last 3 minutes.
  A look takes at most ~5 s (the broker and the store at once, then offsets and the clock); its
  report is reused for `CACHE_SECONDS`, and one look is under way at a time, so probes cost the
  broker and the store a few requests every few seconds at most.

It judges the worker too, from the broker's offsets: as a Kubernetes readinessProbe of gateways
it would take every gateway out of service when a worker stalls (ingestion still works then,
into Kafka). Probe gateways with `/_health/`; alert on `/_health/ready`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

import clickhouse_connect
from aiokafka import TopicPartition
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from picket.bus.connection import KafkaConnection
from picket.bus.kafka import admin as make_admin, consumer as make_consumer
from picket.bus.topics import Topics
from picket.config import Settings
from picket.gateway import readiness as r
from picket.hooks.deliverer import GROUP as HOOKS_GROUP, RETRY_CAP
from picket.schemas import topics as t

CACHE_SECONDS = 3.0
BROKER_TIMEOUT = 2.0
STORE_TIMEOUT = 2.0
OFFSETS_TIMEOUT = 3.0
TICK_WINDOW = 180.0


class Readiness:
    """Looks at the broker, the store, the consumer groups and the monitors clock (see the
    module); its Kafka clients and store client are made at the first look and kept."""

    def __init__(self, settings: Settings, kafka: KafkaConnection) -> None:
        self._settings = settings
        self._kafka = kafka
        topics = Topics(settings.topic_prefix, settings.app_id)
        self._groups = r.registered_groups(topics)
        self._tick_topic = topics.name(t.MONITORS_CLOCK_TICK)
        self._hooks_group = topics.group(t.HOOK_DELIVERIES, HOOKS_GROUP)
        self._hooks_span = r.hook_delivery_span(settings.hooks_attempts, settings.hooks_timeout,
                                                settings.hooks_retry_base, RETRY_CAP)
        self._progress = r.Progress()
        self._started = time.monotonic()
        self._lock = asyncio.Lock()
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._admin: Any = None
        self._consumer: Any = None
        self._coordinators: dict[str, int] = {}
        self._store_client: Any = None
        self._store_lock = threading.Lock()

    async def report(self) -> dict[str, Any]:
        async with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] >= CACHE_SECONDS:
                self._cached = (now, await self._look(now))
            return self._cached[1]

    async def close(self) -> None:
        await self._drop_kafka()
        if self._store_client is not None:
            with contextlib.suppress(Exception):
                self._store_client.close()

    async def _look(self, now: float) -> dict[str, Any]:
        broker, store = await asyncio.gather(self._broker(), self._store())
        if broker.ok:
            consumers, clock = await asyncio.gather(self._consumers(now), self._clock(now))
        else:
            consumers = clock = r.Check(False, {"skipped": "the broker does not answer"})
        return r.report({"broker": broker, "store": store, "consumers": consumers, "clock": clock})

    def _stall_seconds(self, group: str) -> float:
        stall = self._settings.health_stall_seconds
        return stall + self._hooks_span if group == self._hooks_group else stall

    # --- the broker ---

    async def _kafka_clients(self) -> tuple[Any, Any]:
        if self._admin is None:
            admin = make_admin(self._kafka, request_timeout_ms=10_000)
            consumer = make_consumer(self._kafka, group_id=None, request_timeout_ms=10_000)
            try:
                await asyncio.wait_for(admin.start(), BROKER_TIMEOUT)
                await asyncio.wait_for(consumer.start(), BROKER_TIMEOUT)
                # The metadata of every topic looked at, in one request (asked for by end_offsets,
                # they would come one topic and one retry at a time: seconds).
                topics = sorted({*(name for reads in self._groups.values() for name in reads), self._tick_topic})
                await asyncio.wait_for(consumer._client.set_topics(topics), BROKER_TIMEOUT)
            except BaseException:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                with contextlib.suppress(Exception):
                    await admin.close()
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def _drop_kafka(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        self._coordinators.clear()
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()

    async def _broker(self) -> r.Check:
        started = time.perf_counter()
        try:
            admin, _ = await self._kafka_clients()
            cluster = await asyncio.wait_for(admin.describe_cluster(), BROKER_TIMEOUT)
        except Exception as exc:
            await self._drop_kafka()  # made again at the next look
            return r.Check(False, {"bootstrap": self._kafka.bootstrap},
                           (f"the broker does not answer: {_reason(exc)}",))
        return r.Check(True, {"brokers": len(cluster.get("brokers", ())),
                              "seconds": round(time.perf_counter() - started, 3)})

    # --- the store ---

    def _select_one(self) -> Any:
        with self._store_lock:
            if self._store_client is None:
                self._store_client = clickhouse_connect.get_client(
                    dsn=self._settings.clickhouse_url, connect_timeout=1, send_receive_timeout=STORE_TIMEOUT,
                    autogenerate_session_id=False)
            try:
                return self._store_client.command("SELECT 1")
            except Exception:
                client, self._store_client = self._store_client, None
                with contextlib.suppress(Exception):
                    client.close()
                raise

    async def _store(self) -> r.Check:
        if self._settings.clickhouse_url.startswith("chdb:"):
            return r.Check(True, {"skipped": "embedded chdb in this process"})
        started = time.perf_counter()
        try:
            # The thread ends by itself within the client's timeouts, answered or not.
            answer = await asyncio.wait_for(asyncio.to_thread(self._select_one), STORE_TIMEOUT + 1.0)
            if answer != 1:
                raise RuntimeError(f"SELECT 1 answered {answer!r}")
        except Exception as exc:
            return r.Check(False, {}, (f"the store does not answer: {_reason(exc)}",))
        return r.Check(True, {"seconds": round(time.perf_counter() - started, 3)})

    # --- consumer groups and the clock ---

    async def _committed(self, admin: Any, group: str) -> dict[r.Partition, int]:
        coordinator = self._coordinators.get(group)
        if coordinator is None:
            coordinator = self._coordinators[group] = await admin.find_coordinator(group)
        try:
            found = await admin.list_consumer_group_offsets(group, coordinator)
        except Exception:
            self._coordinators.pop(group, None)  # moved, maybe: asked again next time
            raise
        return {(tp.topic, tp.partition): meta.offset for tp, meta in found.items()}

    async def _looks(self) -> list[r.GroupOffsets]:
        admin, consumer = await self._kafka_clients()
        partitions = sorted({TopicPartition(topic, n) for reads in self._groups.values()
                             for topic, count in reads.items() for n in range(count)})
        ends, *committed = await asyncio.gather(consumer.end_offsets(partitions),
                                                *(self._committed(admin, group) for group in self._groups))
        looks = []
        for (group, reads), done in zip(self._groups.items(), committed):
            mine = {(tp.topic, tp.partition): end for tp, end in ends.items() if tp.topic in reads}
            looks.append(r.GroupOffsets(group, mine, done))
        return looks

    async def _consumers(self, now: float) -> r.Check:
        try:
            looks = await asyncio.wait_for(self._looks(), OFFSETS_TIMEOUT)
        except Exception as exc:
            return r.Check(False, {}, (f"the consumer groups' offsets cannot be read: {_reason(exc)}",))
        return r.judge_consumers(self._progress, looks, now, self._stall_seconds)

    async def _clock(self, now: float) -> r.Check:
        mode = self._settings.clock
        ticked = False
        if mode == "wall":
            tp = TopicPartition(self._tick_topic, 0)
            wall = time.time()
            try:
                _, consumer = await self._kafka_clients()
                found = await asyncio.wait_for(consumer.offsets_for_times({tp: int((wall - TICK_WINDOW) * 1000)}),
                                               BROKER_TIMEOUT)
            except Exception as exc:
                return r.Check(False, {}, (f"the monitors clock's ticks cannot be read: {_reason(exc)}",))
            ticked = found.get(tp) is not None  # the first tick written since then, if any
        return r.judge_clock(mode, ticked, now - self._started, TICK_WINDOW, self._tick_topic)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__}: {exc}"[:200]


async def live(request: Request) -> Response:
    """`GET /_health/`: the process answers (`?full=1`: the readiness report)."""
    if request.query_params.get("full", "0") not in ("", "0", "false"):
        return await ready(request)
    return JSONResponse({"ok": True}, headers={"Cache-Control": "no-store"})


async def ready(request: Request) -> Response:
    """`GET /_health/ready`: 200 with the report when all is well, 503 with it otherwise."""
    readiness: Readiness | None = getattr(request.app.state, "readiness", None)
    if readiness is None:
        found: dict[str, Any] = {"ok": False, "problems": ["this process does not look at readiness"]}
    else:
        found = await readiness.report()
    return JSONResponse(found, status_code=200 if found["ok"] else 503, headers={"Cache-Control": "no-store"})
