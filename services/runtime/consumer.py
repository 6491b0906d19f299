"""The batch consumer loop every projector runs on.

fetch a batch → put chunked values together → `handler(messages)` (which writes ClickHouse and
may produce) → commit. A consumer with a `linger` starts batches at most that often. Each
ClickHouse insert costs a new part (a few milliseconds of CPU, then merges) whatever its size, so
writers whose rows nobody waits for (raw check-ins, outcomes) write fewer, larger parts. A full
batch (`max_batch`) does not linger: the consumer is behind. Meanwhile messages wait in the
broker (and in the consumer's bounded prefetch), not in an unbounded queue.
Offsets are committed only after the handler returned, so a crash replays the batch; handlers
are idempotent, so a replay changes nothing. A failing handler is retried with backoff on the
same batch: handlers fail only when the store or Kafka is down (per-item failures are theirs to
turn into dead letters, `picket.runtime.steps`), which stalls the partition, never skips it.
Values sent in chunks (`picket.bus.chunks`) reach the handler whole; offsets are committed no
further than the first chunk of an item not yet whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from picket import metrics
from picket.bus.chunks import Reassembler
from picket.runtime.clock import LOOP_CLOCK, Clock
from picket.runtime.source import Source

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
IDLE_COMMIT_SECONDS = 1.0
Handler = Callable[[list[Any]], Awaitable[None]]


class BatchConsumer:
    """`linger`: the least time in seconds from the start of one batch to the start of the next.
    `on_rebalance`: called when partitions move (drop state another worker may change)."""

    def __init__(self, name: str, source: Source, handler: Handler, *, max_batch: int = 2000,
                 linger: float = 0.0, on_rebalance: Callable[[], None] | None = None,
                 clock: Clock = LOOP_CLOCK, chunks: Reassembler | None = None) -> None:
        self.name = name
        self._source = source
        self._handler = handler
        self._max_batch = max_batch
        self._linger = linger
        self._on_rebalance = on_rebalance
        self._clock = clock
        self._chunks = chunks or Reassembler()
        self._committed: dict[Any, int] = {}
        self._group = getattr(source, "group", "")  # a Kafka source's consumer group (metrics label)
        self._last_idle_commit: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._source.start(self._rebalanced)
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._source.stop()

    def _rebalanced(self) -> None:
        self._chunks.forget()
        self._committed.clear()
        if self._on_rebalance is not None:
            self._on_rebalance()

    async def _run(self) -> None:
        while True:
            await self.step()

    async def step(self) -> None:
        """One turn of the loop: a batch handled and committed, or an idle fetch."""
        fetched = await self._source.fetch(self._max_batch)
        if not fetched and not self._chunks.holding:
            await self._commit_skipped()
            return
        started = self._clock.now()
        messages = self._chunks.feed(fetched)  # also hands on items gone stale
        if not (fetched or messages):
            return
        if messages:
            await self._retrying(messages)
        try:
            await self._commit()
        except Exception:
            # Typically a rebalance: the next owner replays the batch, which is harmless.
            log.warning("%s: offset commit failed; the batch will be replayed", self.name, exc_info=True)
        else:
            if messages:
                metrics.CONSUMED.labels(self.name).inc(len(messages))
                metrics.BATCHES.labels(self.name).observe(len(messages))
                metrics.BATCH_SECONDS.labels(self.name).observe(self._clock.now() - started)
        rest = self._linger - (self._clock.now() - started)
        if rest > 0 and len(fetched) < self._max_batch:
            await self._clock.sleep(rest)

    async def _positions(self) -> dict[Any, int]:
        """Each assigned partition's position, but no further than a chunk still held."""
        offsets = {}
        for tp, position in (await self._source.positions()).items():
            held = self._chunks.holds(tp.topic, tp.partition)
            offsets[tp] = position if held is None else min(position, held)
        return offsets

    async def _commit(self) -> None:
        offsets = await self._positions()
        await self._source.commit(offsets)
        self._committed.update(offsets)
        metrics.LAST_COMMIT.labels(self.name, self._group).set_to_current_time()

    async def sample_lag(self) -> None:
        """Set the lag gauge: the assigned partitions' ends (asked of the broker) less what this
        consumer committed (its positions on partitions it has not committed since it got them)."""
        ends = getattr(self._source, "ends", None)
        if ends is None:
            return
        found = await ends()
        positions = None
        lag = 0
        for tp, end in found.items():
            done = self._committed.get(tp)
            if done is None:
                positions = positions if positions is not None else await self._source.positions()
                done = positions.get(tp, end)
            lag += max(end - done, 0)
        metrics.LAG.labels(self.name, self._group).set(lag)

    async def _commit_skipped(self) -> None:
        """When idle, at most every second: commit positions that moved past records the consumer
        never returned (aborted transactions, commit markers), so that the group's lag says 0
        when nothing is left to process (the clock and state rebuilds wait on it)."""
        now = self._clock.now()
        if self._last_idle_commit is not None and now - self._last_idle_commit < IDLE_COMMIT_SECONDS:
            return
        self._last_idle_commit = now
        try:
            offsets = await self._positions()
            if any(self._committed.get(tp) != offset for tp, offset in offsets.items()):
                await self._source.commit(offsets)
                self._committed.update(offsets)
                metrics.LAST_COMMIT.labels(self.name, self._group).set_to_current_time()
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
                metrics.RETRIES.labels(self.name).inc()
                attempt += 1
                await self._clock.sleep(delay)
