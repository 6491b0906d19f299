"""The monitors context: its aggregate agent, its intake of check-in items and the clock.

- Check-in items from envelopes and the cron endpoint (`ingest-monitors`, keyed by monitor)
  become `RecordCheckIn` commands that the monitors decider, which reads `monitors-commands`
  and `ingest-monitors` together, decides where they arrive: REST and SDK check-ins meet in one
  model, and an SDK check-in takes no hop through `monitors-commands`.
- The clock: a ticker publishes one tick per minute to `monitors-clock-tick` (unless the
  clock is manual, as in tests, which publish ticks themselves). The dispatcher takes a tick
  once every check-in received before it has been decided and projected (each stage's group
  has caught up, in that order), so a lagging ingestion never produces a false
  "missed", and a check-in answered at decision is in the deadlines the tick reads; but it waits
  at most `PIPELINE_WAIT_SECONDS`, then acts and says so in the log: a stuck stage must not stop
  every monitor's clock. Then it sends a `ClockTick` task to every monitor whose deadline the
  tick passed. The monitor's agent decides with its own state, so a stale deadline in the
  projection costs a no-op, never a wrong verdict. Tick tasks carry ids derived from the tick,
  so duplicates are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta, timezone
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from picket.application.aggregates import Context
from picket.schemas import monitors as m
from picket.schemas import topics as t
from picket.schemas.monitors import monitor_key
from picket.runtime.consumer import BatchConsumer
from picket.agents.aggregate import Decider, Intake, Owns
from picket.agents.ingest import decode_item
from picket.runtime.steps import Output, Table
from picket.agents.wiring import Wiring
from picket.bus.kafka import partition_for
from picket.bus.publisher import Record, send_all
from picket.bus.topics import Topics, origin
from picket.bus.watermark import GroupWatermark
from picket.ingest import checkins
from picket.ingest.outcomes import refused_item_outcomes
from picket.monitors import project as monitor_project
from picket.monitors.answers import check_in_answer
from picket.monitors.decide import decide
from picket.monitors.evolve import fold
from picket.monitors.state import initial_state
from picket.store import monitors_read
from picket.store.client import Store

log = logging.getLogger(__name__)

# Monitor events hold nothing a subscriber may not see: the public topic is the log itself.
MONITORS = Context(
    name="monitors",
    commands=t.MONITORS_COMMANDS,
    events=t.MONITORS_EVENTS,
    event_log_table="monitor_events",
    decide=decide,
    fold=fold,
    initial_state=initial_state,
    project=monitor_project.project,
    columns=monitor_project.COLUMNS,
    answer_decided=check_in_answer,
    projection_linger=0.25,
)


# Raw check-in rows are for audit and counting, not on the path to a queryable check-in.
RAW_LINGER_SECONDS = 1.0
RAW_MAX_BATCH = 10_000
CHECKINS_RAW = Table("checkins_raw", checkins.COLUMNS)
# How long the clock waits for the stages before a deadline before it acts on a tick anyway.
PIPELINE_WAIT_SECONDS = 30.0


async def _check_in(message: Any, decider: Decider, owns: Owns, topics: Topics) -> Output:
    """A check-in item: its outcomes, and its command decided here if this member owns the
    monitor's partition of `monitors-commands` and the item arrived keyed by its monitor (so on
    that partition of `ingest-monitors`: the two are co-partitioned); otherwise, e.g. an item
    keyed by its project before an upgrade, or read during a rebalance, the command goes on to
    `monitors-commands`, to the monitor's owner."""
    result = checkins.process_checkin_item(decode_item(message.value), origin(message))
    out = Output(outcomes=result.processed.outcomes, refused=result.processed.refused)
    command = result.command
    if command is None:
        return out
    key = monitor_key(command.org_id, command.slug).encode()
    partition = partition_for(key, _COMMAND_PARTITIONS, _COMMAND_PARTITIONS)
    if message.key == key and owns(topics.name(t.MONITORS_COMMANDS), partition):
        decided = await decider.decide(key.decode(), partition, command)
        out.records += decided.records
        out.refused = decided.refused
    else:
        out.records.append(topics.record(t.MONITORS_COMMANDS, command))
    return out


_COMMAND_PARTITIONS = list(range(t.MONITORS_COMMANDS.partitions))


def check_in_intake(topics: Topics) -> Intake:
    """`ingest-monitors` as the monitors decider's intake: SDK and HTTP check-ins are decided
    where they arrive, with their outcomes (an item that fails counts as `invalid`)."""

    def failed(message: Any, reason: str) -> list[Record]:
        return [topics.record(t.OUTCOMES, o) for o in refused_item_outcomes(message.value, reason)]

    async def process(message: Any, decider: Decider, owns: Owns) -> Output:
        return await _check_in(message, decider, owns, topics)

    return Intake(t.INGEST_MONITORS, process, failed)


async def raw_process(msg: Any) -> Output:
    """`ingest-monitors` in a group of its own: the `checkins_raw` rows. Refused items are the
    decider's to report (outcome and dead letter)."""
    result = checkins.process_checkin_item(decode_item(msg.value), origin(msg))
    return Output().add_rows(CHECKINS_RAW, result.processed.rows)


# The consumer group of the raw rows' writer on `ingest-monitors`.
RAW_GROUP = "ingest-monitors-raw"


def raw_check_in_consumer(w: Wiring) -> BatchConsumer:
    """The writer of the raw rows, in a consumer group of its own on `ingest-monitors`."""
    return w.consumer(RAW_GROUP, t.INGEST_MONITORS, RAW_GROUP,
                      w.items(RAW_GROUP, t.INGEST_MONITORS, raw_process, outcomes=False),
                      linger=RAW_LINGER_SECONDS, max_batch=RAW_MAX_BATCH)


def clock_consumer(w: Wiring, stages: Sequence[Stage]) -> BatchConsumer:
    """The dispatcher of clock ticks (`stages`: the progress of what comes before a deadline)."""
    name = "monitors-clock"
    dispatcher = ClockDispatcher(w.topics, w.store, stages)
    return w.consumer(name, t.MONITORS_CLOCK_TICK, name,
                      w.items(name, t.MONITORS_CLOCK_TICK, dispatcher.process, outcomes=False))


def tick(at: datetime) -> m.ClockTick:
    """The tick message for minute `at` (its id is the minute, so two tickers agree)."""
    minute = at.astimezone(timezone.utc).replace(second=0, microsecond=0)
    return m.ClockTick(meta=m.MonitorCommandMeta(command_id=f"tick:{minute.isoformat()}", at=minute),
                       org_id=0, slug="")


@dataclass(frozen=True)
class Stage:
    """One step between a check-in's receipt and its monitor's projected state: the group that
    does it, and the topic it reads."""

    name: str
    watermark: GroupWatermark
    partitions: int


class ClockDispatcher:
    """The process step of `monitors-clock-tick`'s pipeline: one ClockTick task per due monitor
    per tick (an undecodable tick goes to the dead letters, through the pipeline).

    A tick waits until every stage has done what was before it (in order: forwarded, decided,
    projected), so the deadlines it reads include every check-in received, or answered, before
    it; but it waits at most `wait_seconds` in all."""

    def __init__(self, topics: Topics, store: Store, stages: Sequence[Stage],
                 wait_seconds: float = PIPELINE_WAIT_SECONDS) -> None:
        self._topics = topics
        self._store = store
        self._stages = tuple(stages)
        self._wait_seconds = wait_seconds

    async def process(self, msg: Any) -> Output:
        tick_command = t.MONITORS_CLOCK_TICK.decode(msg.value)
        at = tick_command.meta.at
        await self.wait_for_stages(at)
        due = await asyncio.to_thread(monitors_read.due_monitors, self._store, at)
        tasks = [
            m.ClockTick(meta=m.MonitorCommandMeta(command_id=f"{tick_command.meta.command_id}:{org_id}:{slug}",
                                                  at=at),
                        org_id=org_id, slug=slug)
            for org_id, slug in due
        ]
        return Output(records=[self._topics.record(t.MONITORS_COMMANDS, task) for task in tasks])

    async def wait_for_stages(self, at: datetime) -> None:
        """Until every stage caught up with what was there when it was asked, stage after stage,
        but never forever: a stuck stage must not stop every monitor's clock."""
        deadline = asyncio.get_running_loop().time() + self._wait_seconds
        for stage in self._stages:
            for partition in range(stage.partitions):
                left = deadline - asyncio.get_running_loop().time()
                try:
                    await stage.watermark.wait_caught_up(partition, timeout=max(left, 0.0))
                except TimeoutError:
                    log.warning("the %s stage is behind on partition %d; the %s tick goes ahead (a check-in "
                                "not through it yet may be counted as missed)", stage.name, partition,
                                at.isoformat())


def wall_clock() -> datetime:
    return datetime.now(timezone.utc)


class Ticker:
    """Publishes a tick at every minute boundary of `clock` (the wall clock by default)."""

    def __init__(self, topics: Topics, producer: AIOKafkaProducer,
                 clock: Callable[[], datetime] = wall_clock) -> None:
        self._producer = producer
        self._record = lambda tick_: topics.record(t.MONITORS_CLOCK_TICK, tick_)
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="monitors-ticker")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            now = self._clock()
            following = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            await asyncio.sleep((following - now).total_seconds())
            try:
                await send_all(self._producer, [self._record(tick(following))])
            except Exception:  # the next minute's tick covers this one: deadlines are "<= at"
                log.warning("publishing the clock tick failed", exc_info=True)
