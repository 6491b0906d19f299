"""The monitors context: its aggregate agent, the check-in forwarder and the clock.

- Check-in items from envelopes (`ingest-monitors`) become `RecordCheckIn` commands on
  `monitors-commands`, keyed by the monitor, so REST and SDK check-ins meet in one model.
- The clock: a ticker publishes one tick per minute to `monitors-clock-tick` (unless the
  clock is manual, as in tests, which publish ticks themselves). The dispatcher takes a tick
  once every check-in received before it has been forwarded (the forwarder's group has caught
  up), so a lagging ingestion never produces a false "missed"; but it waits at most
  `FORWARDER_WAIT_SECONDS`, then acts and says so in the log: a stuck forwarder must not stop
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
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer

from picket.schemas import monitors as m
from picket.schemas import topics as t
from picket.agents.aggregate import Context
from picket.agents.batch import BatchConsumer
from picket.agents.ingest import decode_item
from picket.agents.items import Output, Process, Table, origin
from picket.bus.publisher import Record
from picket.agents.wiring import Wiring
from picket.bus.watermark import GroupWatermark
from picket.config import Settings, topic_name
from picket.ingest import checkins
from picket.monitors import project as monitor_project
from picket.monitors.decide import decide
from picket.monitors.evolve import fold
from picket.monitors.state import initial_state
from picket.store.client import Store

log = logging.getLogger(__name__)

encode = msgspec.msgpack.Encoder().encode
decode_command = msgspec.msgpack.Decoder(m.MonitorCommand).decode
decode_event = msgspec.msgpack.Decoder(m.MonitorEvent).decode


def _key(command: Any) -> str:
    return m.monitor_key(command.org_id, command.slug)


MONITORS = Context(
    name="monitors",
    commands=t.MONITORS_COMMANDS,
    events=t.MONITORS_EVENTS,
    dead_letters=t.MONITORS_COMMANDS_DLQ,
    event_log_table="monitor_events",
    decode_command=decode_command,
    decode_event=decode_event,
    key_of=_key,
    decide=decide,
    fold=fold,
    initial_state=initial_state,
    project=monitor_project.project,
    columns=monitor_project.COLUMNS,
)


# Raw check-in rows are for audit and counting, not on the path to a queryable check-in.
RAW_LINGER_SECONDS = 1.0
RAW_MAX_BATCH = 10_000
CHECKINS_RAW = Table("checkins_raw", checkins.COLUMNS)
# How long the clock waits for the check-in forwarder before it acts on a tick anyway.
FORWARDER_WAIT_SECONDS = 30.0


def forward_process(commands_topic: str) -> Process:
    """`ingest-monitors` → a command to the monitor (Kafka only) and the outcomes."""

    async def run(msg: Any) -> Output:
        result = checkins.process_checkin_item(decode_item(msg.value), origin(msg))
        out = Output(outcomes=result.processed.outcomes, refused=result.processed.refused)
        if result.command is not None:
            key = m.monitor_key(result.command.org_id, result.command.slug).encode()
            out.records.append(Record(commands_topic, encode(result.command), key))
        return out

    return run


async def raw_process(msg: Any) -> Output:
    """`ingest-monitors` in a group of its own: the `checkins_raw` rows. Refused items are the
    forwarder's to report (outcome and dead letter)."""
    result = checkins.process_checkin_item(decode_item(msg.value), origin(msg))
    return Output().add_rows(CHECKINS_RAW, result.processed.rows)


def forwarder_group(settings: Settings) -> str:
    return f"{settings.app_id}-{t.INGEST_MONITORS.name}"


def check_in_consumers(w: Wiring) -> list[BatchConsumer]:
    """The forwarder (to commands, on the way to a queryable check-in) and the raw rows' writer,
    each in a consumer group of its own on `ingest-monitors`."""
    topic = t.INGEST_MONITORS
    forward = forward_process(w.topic(t.MONITORS_COMMANDS))
    return [
        w.consumer("ingest-monitors-forwarder", topic, forwarder_group(w.settings),
                   w.items("ingest-monitors-forwarder", topic, forward)),
        w.consumer("ingest-monitors-raw", topic, f"{forwarder_group(w.settings)}-raw",
                   w.items("ingest-monitors-raw", topic, raw_process, outcomes=False),
                   linger=RAW_LINGER_SECONDS, max_batch=RAW_MAX_BATCH),
    ]


def tick(at: datetime) -> m.ClockTick:
    """The tick message for minute `at` (its id is the minute, so two tickers agree)."""
    minute = at.astimezone(timezone.utc).replace(second=0, microsecond=0)
    return m.ClockTick(meta=m.MonitorCommandMeta(command_id=f"tick:{minute.isoformat()}", at=minute),
                       org_id=0, slug="")


def due_monitors(store: Store, at: datetime) -> list[tuple[int, str]]:
    """(org id, slug) of monitors with a check-in deadline or an open check-in's timeout by `at`."""
    rows = store.query(
        "SELECT DISTINCT org_id, slug FROM {db}.monitor_deadlines FINAL WHERE deleted = 0 AND"
        " ((next_checkin_latest IS NOT NULL AND next_checkin_latest <= {at:DateTime64(3, 'UTC')})"
        " OR (open_timeouts IS NOT NULL AND open_timeouts <= {at:DateTime64(3, 'UTC')}))",
        {"at": at},
    )
    return [(org_id, slug) for org_id, slug in rows]


class ClockDispatcher:
    """Batch handler of `monitors-clock-tick`: one ClockTick task per due monitor per tick."""

    def __init__(self, settings: Settings, store: Store, producer: AIOKafkaProducer, watermark: GroupWatermark) -> None:
        self._store = store
        self._producer = producer
        self._watermark = watermark
        self._commands = topic_name(settings, t.MONITORS_COMMANDS)
        self._dead = topic_name(settings, t.MONITORS_COMMANDS_DLQ)

    async def __call__(self, messages: list[Any]) -> None:
        for msg in messages:
            try:
                tick_command = decode_command(msg.value)
            except msgspec.DecodeError as exc:
                await self._producer.send_and_wait(self._dead, msg.value, headers=[("reason", str(exc).encode())])
                continue
            at = tick_command.meta.at
            await self._wait_for_forwarder(at)
            due = await asyncio.to_thread(due_monitors, self._store, at)
            sends = []
            for org_id, slug in due:
                task = m.ClockTick(
                    meta=m.MonitorCommandMeta(command_id=f"{tick_command.meta.command_id}:{org_id}:{slug}", at=at),
                    org_id=org_id, slug=slug,
                )
                sends.append(await self._producer.send(self._commands, encode(task),
                                                       key=m.monitor_key(org_id, slug).encode()))
            await asyncio.gather(*sends)


    async def _wait_for_forwarder(self, at: datetime) -> None:
        """Until every check-in received before the tick is forwarded, but never forever: a
        stuck forwarder must not stop every monitor's clock."""
        deadline = asyncio.get_running_loop().time() + FORWARDER_WAIT_SECONDS
        for partition in range(t.INGEST_MONITORS.partitions):
            left = deadline - asyncio.get_running_loop().time()
            try:
                await self._watermark.wait_caught_up(partition, timeout=max(left, 0.0))
            except TimeoutError:
                log.warning("the check-in forwarder is behind on partition %d; the %s tick goes ahead "
                            "(a check-in not forwarded yet may be counted as missed)", partition, at.isoformat())


class Ticker:
    """Publishes a tick at every minute boundary of the wall clock."""

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._topic = topic_name(settings, t.MONITORS_CLOCK_TICK)
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
            now = datetime.now(timezone.utc)
            following = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            await asyncio.sleep((following - now).total_seconds())
            try:
                await self._producer.send_and_wait(self._topic, encode(tick(following)))
            except Exception:  # the next minute's tick covers this one: deadlines are "<= at"
                log.warning("publishing the clock tick failed", exc_info=True)
