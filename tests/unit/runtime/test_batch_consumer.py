"""The batch consumer's rules, on a scripted source and a manual clock: offsets are committed only
after the handler returned; a failing handler is retried on the same batch with growing delays;
a consumer lingers only after a batch that was not full; a chunk still held caps the commit; an
idle consumer commits moved positions at most once a second; a rebalance drops held chunks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest

from picket.bus.chunks import HEADER
from picket.runtime.consumer import IDLE_COMMIT_SECONDS, RETRY_DELAYS, BatchConsumer


class TP(NamedTuple):
    topic: str
    partition: int


P0 = TP("in", 0)


@dataclass(frozen=True)
class Msg:  # the fields of aiokafka's ConsumerRecord the consumer reads (also a dataclass)
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class ScriptedSource:
    """Hands out the scripted fetches in turn (then nothing); the position follows what was
    fetched, as a Kafka consumer's does."""

    def __init__(self, *fetches: list[Msg]) -> None:
        self.fetches = list(fetches)
        self.position = 0
        self.commits: list[dict[Any, int]] = []
        self.on_rebalance: Callable[[], None] | None = None

    async def start(self, on_rebalance: Callable[[], None]) -> None:
        self.on_rebalance = on_rebalance

    async def stop(self) -> None:
        pass

    async def fetch(self, max_records: int) -> list[Msg]:
        batch = self.fetches.pop(0) if self.fetches else []
        assert len(batch) <= max_records
        if batch:
            self.position = batch[-1].offset + 1
        return batch

    async def positions(self) -> dict[Any, int]:
        return {P0: self.position}

    async def commit(self, offsets: dict[Any, int]) -> None:
        self.commits.append(dict(offsets))


class ManualClock:
    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def msgs(*offsets: int) -> list[Msg]:
    return [Msg("in", 0, o, b"k", f"v{o}".encode()) for o in offsets]


def chunk(offset: int, index: int, count: int) -> Msg:
    return Msg("in", 0, offset, b"k", f"part{index}".encode(), ((HEADER, f"c1 {index} {count}".encode()),))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_offsets_are_committed_only_after_the_handler_returned() -> None:
    seen: list[tuple[list[int], int]] = []
    source = ScriptedSource(msgs(0, 1, 2))

    async def handler(messages: list[Msg]) -> None:
        seen.append(([m.offset for m in messages], len(source.commits)))

    consumer = BatchConsumer("c", source, handler, clock=ManualClock())
    run(consumer.step())
    assert seen == [([0, 1, 2], 0)]  # handled before any commit
    assert source.commits == [{P0: 3}]


def test_a_failing_handler_is_retried_on_the_same_batch_with_growing_delays() -> None:
    attempts: list[list[int]] = []

    async def handler(messages: list[Msg]) -> None:
        attempts.append([m.offset for m in messages])
        if len(attempts) < 4:
            raise ConnectionError("the store is away")

    source, clock = ScriptedSource(msgs(5, 6)), ManualClock()
    run(BatchConsumer("c", source, handler, clock=clock).step())
    assert attempts == [[5, 6]] * 4
    assert clock.slept == list(RETRY_DELAYS[:3])
    assert source.commits == [{P0: 7}]  # committed once, after the success


def test_a_consumer_lingers_after_a_small_batch_but_not_after_a_full_one() -> None:
    async def handler(messages: list[Msg]) -> None:
        clock.t += 0.25  # the batch takes a quarter of a second

    source, clock = ScriptedSource(msgs(0, 1), msgs(2, 3, 4)), ManualClock()
    consumer = BatchConsumer("c", source, handler, clock=clock, linger=1.0, max_batch=3)
    run(consumer.step())
    assert clock.slept == [0.75]  # the rest of the linger since the batch started
    run(consumer.step())
    assert clock.slept == [0.75]  # a full batch: the consumer is behind, no lingering


def test_a_chunk_still_held_caps_the_commit_and_the_whole_value_reaches_the_handler() -> None:
    handled: list[list[bytes]] = []

    async def handler(messages: list[Msg]) -> None:
        handled.append([m.value for m in messages])

    source = ScriptedSource([*msgs(0), chunk(1, 0, 2)], [chunk(2, 1, 2), *msgs(3)])
    consumer = BatchConsumer("c", source, handler, clock=ManualClock())
    run(consumer.step())
    assert handled == [[b"v0"]]
    assert source.commits == [{P0: 1}]  # not past the first chunk of the value still incomplete
    run(consumer.step())
    assert handled[1] == [b"part0part1", b"v3"]
    assert source.commits[-1] == {P0: 4}


def test_an_idle_consumer_commits_moved_positions_at_most_once_a_second() -> None:
    async def handler(messages: list[Msg]) -> None:
        raise AssertionError("nothing to handle")

    source, clock = ScriptedSource(), ManualClock()
    consumer = BatchConsumer("c", source, handler, clock=clock)
    source.position = 10  # moved past records never returned (commit markers)
    run(consumer.step())
    assert source.commits == [{P0: 10}]
    source.position = 12
    clock.t += IDLE_COMMIT_SECONDS / 2
    run(consumer.step())
    assert source.commits == [{P0: 10}]  # too soon
    clock.t += IDLE_COMMIT_SECONDS
    run(consumer.step())
    run(consumer.step())
    assert source.commits == [{P0: 10}, {P0: 12}]
    clock.t += IDLE_COMMIT_SECONDS
    run(consumer.step())
    assert source.commits == [{P0: 10}, {P0: 12}]  # nothing moved: nothing to commit


def test_a_rebalance_drops_held_chunks_and_tells_the_owner() -> None:
    told: list[str] = []

    async def handler(messages: list[Msg]) -> None:
        pass

    source = ScriptedSource([chunk(0, 0, 2)])
    consumer = BatchConsumer("c", source, handler, clock=ManualClock(), on_rebalance=lambda: told.append("moved"))

    async def scenario() -> None:
        await consumer.start()
        assert consumer._task is not None
        consumer._task.cancel()  # drive the loop by hand
        await consumer.step()
        assert source.commits == [{P0: 0}]  # holding the chunk at offset 0
        assert source.on_rebalance is not None
        source.on_rebalance()
        await consumer.step()  # idle, holding nothing: commits the position

    run(scenario())
    assert told == ["moved"]
    assert source.commits[-1] == {P0: 1}


@pytest.mark.parametrize("attempt", range(len(RETRY_DELAYS) + 2))
def test_retry_delays_grow_then_stay_at_the_longest(attempt: int) -> None:
    failures = attempt + 1

    async def handler(messages: list[Msg]) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionError("away")

    clock = ManualClock()
    run(BatchConsumer("c", ScriptedSource(msgs(0)), handler, clock=clock).step())
    assert clock.slept[-1] == RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
