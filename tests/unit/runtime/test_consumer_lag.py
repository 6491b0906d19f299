"""A batch consumer's sampled gauges (services/metrics.py): its lag is its partitions' ends less
what it committed (its position where it has committed nothing since it got them), and the time
of its last commit; a source that cannot tell its ends sets no lag."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from picket import metrics
from picket.runtime.consumer import BatchConsumer
from tests.unit.runtime.test_batch_consumer import P0, TP, ManualClock, ScriptedSource, msgs

P1 = TP("in", 1)


class EndsSource(ScriptedSource):
    group = "picket-test-group"

    def __init__(self, *fetches: Any, ends: dict[Any, int]) -> None:
        super().__init__(*fetches)
        self.end = ends

    async def ends(self) -> dict[Any, int]:
        return dict(self.end)

    async def positions(self) -> dict[Any, int]:
        return {P0: self.position, P1: 4}


def gauge(name: str, consumer: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(name, {"consumer": consumer, "group": "picket-test-group"})


def test_lag_is_the_ends_less_what_was_committed() -> None:
    async def handler(messages: list[Any]) -> None:
        pass

    source = EndsSource(msgs(0, 1, 2), ends={P0: 10, P1: 6})
    consumer = BatchConsumer("lagging", source, handler, clock=ManualClock())

    async def run() -> None:
        await consumer.sample_lag()  # nothing committed yet: from the positions (0 and 4)
        assert gauge("picket_consumer_lag_messages", "lagging") == 10 + 2
        assert gauge("picket_consumer_last_commit_timestamp_seconds", "lagging") is None
        before = time.time()
        await consumer.step()  # commits 3 on P0 (and P1's position, 4)
        assert gauge("picket_consumer_last_commit_timestamp_seconds", "lagging") >= before
        source.position = 9  # fetched further, not committed: still counts as behind
        await consumer.sample_lag()
        assert gauge("picket_consumer_lag_messages", "lagging") == (10 - 3) + (6 - 4)

    asyncio.run(run())


def test_a_source_without_ends_sets_no_lag() -> None:
    async def handler(messages: list[Any]) -> None:
        pass

    consumer = BatchConsumer("no-ends", ScriptedSource(), handler, clock=ManualClock())
    asyncio.run(consumer.sample_lag())
    assert metrics.REGISTRY.get_sample_value("picket_consumer_lag_messages", {"consumer": "no-ends", "group": ""}) is None
