"""The steps a batch handler is composed of: one bad item never stops a stream.

A consumer supplies `process(message) -> Output`: the rows (by table), outcomes and records one
message yields. A `Pipeline` runs its steps over a `Batch` in order; the usual ones
(`item_pipeline`) are:

1. `ProcessEach`: an exception while processing a message fails that message alone (but a
   failing store, met by a processor that reads, pauses the consumer: nothing is dead-lettered);
2. `Guard`: every row is checked against its table's columns (`picket.store.guards`); a row out
   of range fails its message;
3. `Write`: each table's rows in one insert. If ClickHouse (or its client) refuses the data, the
   rows are bisected to find the offending ones, whose messages fail. A failure of the store
   itself (unreachable, read-only, ...) raises: the consumer pauses and retries the whole batch,
   which is idempotent since every row is keyed by its item's id;
4. `Deliver`: the records and outcomes of the messages that succeeded;
5. `DeadLetter`: for every failed message its `invalid` outcome and the answer its caller waits
   for, and for it and every item refused by its processor a dead letter on the consumed topic's
   registered dead-letter topic (the reason in its headers);
6. `Produce`: everything the batch sends, together, and every ack awaited.

The consumer commits the batch after that, so a crash anywhere replays it without loss.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
from aiokafka import AIOKafkaProducer

from picket import metrics
from picket.bus.publisher import Record, send_all
from picket.bus.topics import Topics, origin
from picket.ingest.outcomes import OutcomeKind
from picket.schemas import topics as t
from picket.schemas.ingest import Outcome
from picket.store.client import Store
from picket.store.errors import StoreError, is_data_error
from picket.store.guards import TableGuards

log = logging.getLogger(__name__)

Row = Sequence[Any]
MAX_REASON = 2000


@dataclass(frozen=True)
class Table:
    """Where rows go: a table, its column layout, and how to write a list of rows (by default
    one insert; the rollups' exact stores also mark late hours)."""

    name: str
    columns: tuple[str, ...]
    write: Callable[[Store, Sequence[Row]], None] | None = None

    def insert(self, store: Store, rows: Sequence[Row]) -> None:
        if self.write is not None:
            self.write(store, rows)
        else:
            store.insert(self.name, rows, self.columns)


@dataclass
class Output:
    """What processing one message yields. `refused`: why the item was refused as a whole (it
    goes to the dead letters; its outcomes say `invalid`)."""

    rows: dict[Table, list[Row]] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    refused: str | None = None

    def add_rows(self, table: Table, rows: Sequence[Row]) -> Output:
        if rows:
            self.rows.setdefault(table, []).extend(rows)
        return self


Process = Callable[[Any], Awaitable[Output]]


@dataclass
class Item:
    """One message of the batch and what became of it."""

    msg: Any
    out: Output
    failed: str | None = None  # why it failed in processing, guarding or writing

    def fail(self, reason: str) -> None:
        self.failed = self.failed or reason[:MAX_REASON]

    @property
    def dead_reason(self) -> str | None:
        """Why it goes to the dead letters, if it does."""
        if self.failed or self.out.refused:
            return self.failed or self.out.refused
        return next((o.reason or "invalid" for o in self.out.outcomes if o.outcome == OutcomeKind.INVALID), None)


@dataclass
class Batch:
    messages: list[Any]
    items: list[Item] = field(default_factory=list)
    outbox: list[Record] = field(default_factory=list)  # what `Produce` sends


class Step(Protocol):
    async def __call__(self, batch: Batch) -> None: ...


class Pipeline:
    """A batch handler (for `BatchConsumer`): its steps, in order, over each batch.

    `after(done, failed)` runs when the batch is over: `done` false if a step raised (the batch
    will be retried), else with the messages that failed, so a consumer with state of its own
    keeps or drops what it changed."""

    def __init__(self, name: str, steps: Sequence[Step],
                 after: Callable[[bool, list[Any]], None] | None = None) -> None:
        self.name = name
        self.steps = tuple(steps)
        self._after = after

    async def __call__(self, messages: list[Any]) -> None:
        batch = Batch(list(messages))
        try:
            for step in self.steps:
                await step(batch)
        except BaseException:
            if self._after is not None:
                self._after(False, [])
            raise
        dead = sum(1 for item in batch.items if item.dead_reason is not None)
        if dead:
            metrics.DEAD_LETTERS.labels(self.name).inc(dead)
        if self._after is not None:
            self._after(True, [item.msg for item in batch.items if item.failed])


class Unavailable(Exception):
    """Raised by a processor that found a dependency other than the store failing (the blob
    store): like a store error, the batch pauses and is tried again; nothing is dead-lettered."""


class ProcessEach:
    """Each message through `process`, on its own."""

    def __init__(self, name: str, process: Process) -> None:
        self._name = name
        self._process = process

    async def __call__(self, batch: Batch) -> None:
        batch.items = [await self._one(msg) for msg in batch.messages]

    async def _one(self, msg: Any) -> Item:
        try:
            return Item(msg, await self._process(msg))
        except asyncio.CancelledError:
            raise
        except msgspec.DecodeError as exc:
            return Item(msg, Output(), failed=f"undecodable message: {exc}"[:MAX_REASON])
        except Exception as exc:  # a defect or hostile input: this message alone fails
            if isinstance(exc, (StoreError, Unavailable)):
                raise  # a processor found the store failing: pause, do not dead-letter
            log.warning("%s: %s failed: %r", self._name, origin(msg), exc)
            return Item(msg, Output(), failed=f"processing failed: {type(exc).__name__}: {exc}"[:MAX_REASON])


class Guard:
    """Rows outside their columns' types fail their message before anything is written."""

    def __init__(self, guards: TableGuards) -> None:
        self._guards = guards

    async def __call__(self, batch: Batch) -> None:
        for item in batch.items:
            if item.failed:
                continue
            for table, rows in item.out.rows.items():
                guard = self._guards.guard(table.name, table.columns)
                problem = next((p for p in map(guard.problem, rows) if p), None)
                if problem:
                    item.fail(f"refused by the store's types: {problem}")
                    break


class Write:
    """Each table's rows in one insert, tables in `order` (those not named there after them);
    rows the store refuses are found by bisection and fail their messages."""

    def __init__(self, name: str, store: Store, order: Sequence[Table] = ()) -> None:
        self._name = name
        self._store = store
        self._order = {table: rank for rank, table in enumerate(order)}

    async def __call__(self, batch: Batch) -> None:
        items = batch.items
        tables: dict[Table, list[tuple[int, Row]]] = {}
        for index, item in enumerate(items):
            if not item.failed:
                for table, rows in item.out.rows.items():
                    tables.setdefault(table, []).extend((index, row) for row in rows)
        for table in sorted(tables, key=lambda t: self._order.get(t, len(self._order))):
            tagged = [(i, row) for i, row in tables[table] if not items[i].failed]  # an earlier table failed it
            for index, reason in await self._insert(table, tagged):
                items[index].fail(f"refused by the store: {reason}")

    async def _insert(self, table: Table, tagged: list[tuple[int, Row]]) -> list[tuple[int, str]]:
        """Insert; on a data error, bisect. Returns (item index, reason) of the rows refused."""
        if not tagged:
            return []
        started = time.perf_counter()
        try:
            try:
                await asyncio.to_thread(table.insert, self._store, [row for _, row in tagged])
            finally:
                metrics.INSERT_SECONDS.labels(table.name).observe(time.perf_counter() - started)
            metrics.ROWS_WRITTEN.labels(table.name).inc(len(tagged))
            return []
        except Exception as exc:
            if not is_data_error(exc):
                raise
            if len(tagged) == 1:
                log.warning("%s: %s refused a row: %r", self._name, table.name, exc)
                return [(tagged[0][0], f"{table.name}: {type(exc).__name__}: {exc}")]
        half = len(tagged) // 2
        return [*await self._insert(table, tagged[:half]), *await self._insert(table, tagged[half:])]


class Deliver:
    """The records of the messages that succeeded, and their outcomes (`outcomes` false: this
    consumer publishes none; another group on the same topic does)."""

    def __init__(self, topics: Topics, outcomes: bool = True) -> None:
        self._topics = topics
        self._outcomes = outcomes

    async def __call__(self, batch: Batch) -> None:
        for item in batch.items:
            if item.failed:
                continue
            batch.outbox += item.out.records
            if self._outcomes:
                batch.outbox += [self._topics.record(t.OUTCOMES, o) for o in item.out.outcomes]


class DeadLetter:
    """The one dead-letter path. For a failed message: the outcomes it now counts as
    (`refused_outcomes(message, reason)`) and the records its caller waits for
    (`on_failure(message, reason)`); for it and every item its processor refused: a dead letter
    on the dead-letter topic the registry names for the topic it was read from (`topic`: the
    topics the consumer reads), with reason, source and consumer."""

    def __init__(self, name: str, topics: Topics, topic: t.Topic | Sequence[t.Topic],
                 refused_outcomes: Callable[[Any, str], list[Outcome]] | None = None,
                 on_failure: Callable[[Any, str], list[Record]] | None = None) -> None:
        self._name = name
        self._topics = topics
        read = [topic] if isinstance(topic, t.Topic) else list(topic)
        for each in read:
            topics.dead_letter_topic(each)  # fails here, at wiring, if the registry names none
        self._topic = {topics.name(each): each for each in read}  # by the name messages carry
        self._first = read[0]
        self._refused_outcomes = refused_outcomes
        self._on_failure = on_failure

    async def __call__(self, batch: Batch) -> None:
        for item in batch.items:
            if item.failed:
                if self._refused_outcomes is not None:
                    outcomes = self._refused_outcomes(item.msg, item.failed)
                    batch.outbox += [self._topics.record(t.OUTCOMES, o) for o in outcomes]
                if self._on_failure is not None:
                    batch.outbox += self._on_failure(item.msg, item.failed)
            reason = item.dead_reason
            if reason is not None:
                topic = self._topic.get(item.msg.topic, self._first)
                batch.outbox += self._topics.dead_letters(topic, item.msg, reason, self._name)


class Produce:
    """Everything the batch sends, together; returns once every ack is in (raises if one fails,
    and the batch is retried)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def __call__(self, batch: Batch) -> None:
        await send_all(self._producer, batch.outbox)


def item_pipeline(name: str, process: Process, *, store: Store, guards: TableGuards | None,
                  producer: AIOKafkaProducer, topics: Topics, topic: t.Topic, outcomes: bool = True,
                  order: Sequence[Table] = (), after: Callable[[bool, list[Any]], None] | None = None,
                  refused_outcomes: Callable[[Any, str], list[Outcome]] | None = None,
                  on_failure: Callable[[Any, str], list[Record]] | None = None) -> Pipeline:
    """The usual handler of a consumer of `topic`: process each → guard → write → deliver →
    dead-letter → produce (see the module's docstring). `guards` None: rows go to the store
    unchecked (only its own refusals fail them)."""
    steps: list[Step] = [ProcessEach(name, process)]
    if guards is not None:
        steps.append(Guard(guards))
    steps += [
        Write(name, store, order),
        Deliver(topics, outcomes),
        DeadLetter(name, topics, topic, refused_outcomes if outcomes else None, on_failure),
        Produce(producer),
    ]
    return Pipeline(name, steps, after)
