"""Projector of `tenancy-events` into the ClickHouse `entities` table, in batches.

Loop: fetch a batch → `project()` every event → one insert → answer the gateways waiting on
commands whose last event is in the batch → commit offsets. Offsets are committed only after
ClickHouse accepted the rows, so a crash replays the batch; rows are versioned and replayed
replies find no waiter, so a replay changes nothing. Undecodable events go to the dead-letter
topic with the reason and are never retried in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.replies import Reply
from schemas.topics import COMMAND_REPLIES, TENANCY_EVENTS, TENANCY_EVENTS_DLQ
from services.agents.codec import decode_event, encode
from services.config import Settings, topic_name
from services.store import entities, event_log
from services.store.client import Store
from services.tenancy.project import project

log = logging.getLogger(__name__)

MAX_BATCH = 2000
RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class TenancyProjector:
    def __init__(self, settings: Settings, bootstrap: str, store: Store, producer: AIOKafkaProducer) -> None:
        self._settings = settings
        self._store = store
        self._producer = producer
        self._consumer = AIOKafkaConsumer(
            topic_name(settings, TENANCY_EVENTS),
            bootstrap_servers=bootstrap,
            group_id=self.group(settings),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
            fetch_max_wait_ms=20,
            isolation_level="read_uncommitted",
        )
        self._replies = topic_name(settings, COMMAND_REPLIES)
        self._dead = topic_name(settings, TENANCY_EVENTS_DLQ)
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def group(settings: Settings) -> str:
        return f"{settings.app_id}-tenancy-projector"

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="tenancy-projector")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=MAX_BATCH)
            messages = [m for part in batches.values() for m in part]
            if not messages:
                continue
            await self._with_retry(self._apply, messages)
            try:
                await self._consumer.commit()
            except Exception:
                # Typically a rebalance: the next owner replays the batch, which is harmless.
                log.warning("offset commit failed; the batch will be replayed", exc_info=True)

    async def _apply(self, messages: list[Any]) -> None:
        rows = []
        log_rows = []
        waiting = []
        for msg in messages:
            try:
                event = decode_event(msg.value)
            except msgspec.DecodeError as exc:
                await self._producer.send_and_wait(
                    self._dead, msg.value, key=msg.key,
                    headers=[("reason", f"undecodable event: {exc}".encode()),
                             ("source", f"{msg.topic}/{msg.partition}/{msg.offset}".encode())],
                )
                continue
            rows.extend(project(event))
            log_rows.append(event_log.event_row(event, msg.value))
            if event.meta.reply_to:
                waiting.append(event.meta)
        await asyncio.to_thread(event_log.append, self._store, log_rows)
        await asyncio.to_thread(entities.write_rows, self._store, rows)
        sends = [
            await self._producer.send(
                self._replies,
                encode(Reply(command_id=m.command_id, outcome="accepted")),
                key=m.reply_to.encode(),
            )
            for m in waiting
        ]
        await asyncio.gather(*sends)

    async def _with_retry(self, fn: Any, *args: Any) -> None:
        """Retry with backoff until it works: ClickHouse or Kafka being down stalls, never skips."""
        for attempt in range(10**9):
            try:
                await fn(*args)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                log.exception("projector step failed; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
