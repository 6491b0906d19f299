"""The batch consumer loop every projector runs on.

fetch a batch → `handler(messages)` (which writes ClickHouse and may produce) → commit.
A consumer with a `linger` starts batches at most that often. Each ClickHouse insert costs a new
part (a few milliseconds of CPU, then merges) whatever its size, so writers whose rows nobody
waits for (raw check-ins, outcomes) write fewer, larger parts. A full batch (`max_batch`) does
not linger: the consumer is behind. Meanwhile messages wait in the broker (and in the consumer's
bounded prefetch), not in an unbounded queue.
Offsets are committed only after the handler returned, so a crash replays the batch; handlers
are idempotent, so a replay changes nothing. A failing handler is retried with backoff on the
same batch: handlers fail only when the store or Kafka is down (per-item failures are theirs to
turn into dead letters, `services/agents/items.py`), which stalls the partition, never skips it.
Values sent in chunks (`services/bus/chunks.py`) reach the handler whole; offsets are committed
no further than the first chunk of an item not yet whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import ConsumerRebalanceListener

from picket.bus.chunks import Reassembler
from picket.bus.connection import KafkaConnection
from picket.bus.kafka import consumer
from picket.bus.tansu import CONSUMER_GROUP_TIMINGS

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
Handler = Callable[[list[Any]], Awaitable[None]]


class BatchConsumer:
    def __init__(self, name: str, kafka: KafkaConnection, topic: str, group: str, handler: Handler,
                 max_batch: int = 2000, on_rebalance: Callable[[], None] | None = None,
                 fast_join: bool = False, linger: float = 0.0) -> None:
        """`fast_join`: short group timings, for the Tansu fallback broker (which makes a join wait
        half the session timeout; Apache Kafka refuses sessions under 6 s by default). `linger`: the
        least time in seconds from the start of one batch to the start of the next."""
        self.name = name
        self._linger = linger
        self._topic = topic
        self._handler = handler
        self._max_batch = max_batch
        self._on_rebalance = on_rebalance
        self._consumer = consumer(
            kafka,
            group_id=group,
            auto_offset_reset="earliest",
            **(CONSUMER_GROUP_TIMINGS if fast_join else {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}),
            # An idle consumer asks again every fetch_max_wait_ms. Apache Kafka answers a long poll
            # as soon as data arrives. The Tansu fallback broker answers late when the wait is long
            # (measured: records seen 2-9 ms after their ack on 20 ms polls, 5-18 ms on 50 ms,
            # 10-20 ms on 100 ms, ~365 ms on 1 s); each hop of a pipeline adds that delay, and
            # short polls cost idle CPU (ten consumers on 20 ms polls: a quarter of a core).
            fetch_max_wait_ms=50 if fast_join else 100,
        )
        self._task: asyncio.Task[None] | None = None
        self._chunks = Reassembler()
        self._committed: dict[Any, int] = {}
        self._last_idle_commit = 0.0

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.subscribe([self._topic], listener=_Rebalance(self._rebalanced))
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    def _rebalanced(self) -> None:
        self._chunks.forget()
        self._committed.clear()
        if self._on_rebalance is not None:
            self._on_rebalance()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=self._max_batch)
            fetched = [m for part in batches.values() for m in part]
            if not fetched and not self._chunks.holding:
                await self._commit_skipped()
                continue
            started = loop.time()
            messages = self._chunks.feed(fetched)  # also hands on items gone stale
            if not (fetched or messages):
                continue
            if messages:
                await self._retrying(messages)
            try:
                await self._commit()
            except Exception:
                # Typically a rebalance: the next owner replays the batch, which is harmless.
                log.warning("%s: offset commit failed; the batch will be replayed", self.name, exc_info=True)
            rest = self._linger - (loop.time() - started)
            if rest > 0 and len(fetched) < self._max_batch:
                await asyncio.sleep(rest)

    async def _positions(self) -> dict[Any, int]:
        """Each assigned partition's position, but no further than a chunk still held."""
        offsets = {}
        for tp in self._consumer.assignment():
            position = await self._consumer.position(tp)
            held = self._chunks.holds(tp.topic, tp.partition)
            offsets[tp] = position if held is None else min(position, held)
        return offsets

    async def _commit(self) -> None:
        """What was consumed, but no further than a chunk still held."""
        offsets = await self._positions()
        await self._consumer.commit(offsets)
        self._committed.update(offsets)

    async def _commit_skipped(self) -> None:
        """When idle, at most every second: commit positions that moved past records the consumer
        never returned (aborted transactions, commit markers), so that the group's lag says 0
        when nothing is left to process (the clock and state rebuilds wait on it)."""
        now = asyncio.get_running_loop().time()
        if now - self._last_idle_commit < 1.0:
            return
        self._last_idle_commit = now
        try:
            offsets = await self._positions()
            if any(self._committed.get(tp) != offset for tp, offset in offsets.items()):
                await self._consumer.commit(offsets)
                self._committed.update(offsets)
        except Exception:
            log.debug("%s: idle commit failed", self.name, exc_info=True)

    async def _retrying(self, messages: list[Any]) -> None:
        attempt = 0
        while True:
            try:
                await self._handler(messages)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                log.exception("%s: batch failed; retrying in %.1fs", self.name, delay)
                attempt += 1
                await asyncio.sleep(delay)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tells the consumer that partitions moved, so it drops state another worker may change."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self._callback()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._callback()
