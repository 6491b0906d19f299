"""The monitors clock takes a tick only once what came before it went through every stage, in
order (forwarded, then decided, then projected), so a lagging ingestion never makes a check-in
count as missed; but a stuck stage holds the clock for a bounded time, then the tick goes ahead
and the log says which stage was behind. (Watermarks are stand-ins here: a real group's
progress is `tests/integration/test_group_watermark.py`.)"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

import pytest

from picket.agents.monitors import ClockDispatcher, Stage
from picket.bus.topics import Topics

AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


class Watermark:
    """A group that catches up after `delay` seconds, or never (None)."""

    def __init__(self, name: str, log: list[str], delay: float | None = 0.0) -> None:
        self.name, self.log, self.delay = name, log, delay

    async def wait_caught_up(self, partition: int, timeout: float = 60.0) -> None:
        self.log.append(f"{self.name}/{partition}")
        if self.delay is None or self.delay > timeout:
            await asyncio.sleep(timeout)
            raise TimeoutError
        await asyncio.sleep(self.delay)


def dispatcher(stages: list[Stage], wait: float = 30.0) -> ClockDispatcher:
    return ClockDispatcher(Topics(prefix="p-"), store=None, stages=stages, wait_seconds=wait)  # type: ignore[arg-type]


def test_every_stage_is_waited_for_in_order_on_every_partition() -> None:
    log: list[str] = []
    stages = [Stage("forwarder", Watermark("f", log), 2), Stage("decider", Watermark("d", log), 2),  # type: ignore[arg-type]
              Stage("projector", Watermark("p", log, delay=0.01), 1)]  # type: ignore[arg-type]
    asyncio.run(dispatcher(stages).wait_for_stages(AT))
    assert log == ["f/0", "f/1", "d/0", "d/1", "p/0"]


def test_a_stuck_stage_holds_the_clock_a_bounded_time_then_the_tick_goes_ahead(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    stages = [Stage("forwarder", Watermark("f", log), 1), Stage("decider", Watermark("d", log, delay=None), 2),  # type: ignore[arg-type]
              Stage("projector", Watermark("p", log), 1)]  # type: ignore[arg-type]

    async def timed() -> float:
        started = asyncio.get_running_loop().time()
        with caplog.at_level(logging.WARNING):
            await dispatcher(stages, wait=0.2).wait_for_stages(AT)
        return asyncio.get_running_loop().time() - started

    took = asyncio.run(timed())
    assert 0.2 <= took < 1.0  # the whole wait is bounded, not each partition's
    assert log == ["f/0", "d/0", "d/1", "p/0"]
    assert "the decider stage is behind on partition 0" in caplog.text
