"""A batch of messages, each processed on its own: one bad item never stops a stream.

A consumer supplies `process(message) -> Output`: the rows (by table), outcomes and records one
message yields. `ItemBatch` is the batch handler (for `BatchConsumer`) that runs it and:

1. isolates: an exception while processing a message fails that message alone;
2. guards: every row is checked against its table's columns (`services/store/guards.py`); a row
   out of range fails its message;
3. writes each table's rows in one insert. If ClickHouse (or its client) refuses the data, the
   rows are bisected to find the offending ones, whose messages fail. A failure of the store
   itself (unreachable, read-only, ...) raises: the consumer pauses and retries the whole batch,
   which is idempotent since every row is keyed by its item's id;
4. publishes, together, the records and outcomes of the messages that succeeded, an `invalid`
   outcome for each failed ingest item, and a dead letter for every failed message and every
   item with an `invalid` outcome (the reason in its headers), and awaits every ack.

The consumer commits the batch after that, so a crash anywhere replays it without loss.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError
from clickhouse_connect.driver.exceptions import Error as StoreError

from picket.schemas import topics as t
from picket.schemas.ingest import IngestItem, Outcome
from picket.bus.publisher import Record, send_all
from picket.bus.topics import Topics, origin
from picket.ingest.outcomes import ITEM_CATEGORY, Category, OutcomeKind, outcome
from picket.store.client import Store
from picket.store.guards import TableGuards

log = logging.getLogger(__name__)

Row = Sequence[Any]
# Server error codes that blame the data (ClickHouse's own numbering), not the store.
DATA_ERROR_CODES = {6, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 131, 190, 321, 349, 352, 394}


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


def is_data_error(exc: BaseException) -> bool:
    """Whether a failed insert blames the rows (bisect them) rather than the store (retry)."""
    if isinstance(exc, OperationalError):
        return False
    if isinstance(exc, (DataError, ValueError, TypeError, OverflowError, struct.error)):
        return True
    if isinstance(exc, DatabaseError):
        code = getattr(exc, "code", None)
        return code in DATA_ERROR_CODES if code is not None else False
    return False


def invalid_outcome(item: IngestItem, reason: str) -> Outcome:
    """The `invalid` outcome of an ingest item refused whole."""
    return outcome(
        timestamp=item.received, org_id=item.org_id, project_id=item.project_id, key_id=item.key_id,
        kind=OutcomeKind.INVALID, reason=reason, category=ITEM_CATEGORY.get(item.item_type, Category.DEFAULT),
        quantity=len(item.payload) if item.item_type == "attachment" else 1, event_id=item.event_id,
        id=f"{item.item_id}:refused" if item.item_id else None,
    )


@dataclass
class _Item:
    msg: Any
    out: Output
    failed: str | None = None  # why this message failed in processing, guarding or writing


class ItemBatch:
    """The batch handler: `process` each message, guard and write rows, publish, dead-letter.

    `topic` is the topic consumed: its failed messages go to its registered dead-letter topic.
    `outcomes` false: this consumer publishes no outcomes (another group on the same topic does). Tables are written in `order` (those not named there after them). `after(done, failed)`
    runs when the batch is over: `done` false if it raised (it will be retried), else with the
    messages that failed, so a consumer with state of its own keeps or drops what it changed.
    `on_failure(message, reason)` gives records to send for a failed message (an answer to a
    caller who waits)."""

    def __init__(self, name: str, process: Process, store: Store | None, producer: AIOKafkaProducer,
                 guards: TableGuards | None, topics: Topics, topic: t.Topic, outcomes: bool = True,
                 order: Sequence[Table] = (), after: Callable[[bool, list[Any]], None] | None = None,
                 on_failure: Callable[[Any, str], list[Record]] | None = None) -> None:
        self.name = name
        self._process = process
        self._store = store
        self._producer = producer
        self._guards = guards
        self._topics = topics
        self._topic = topic
        topics.dead_letter_topic(topic)  # fails here, at wiring, if the registry names none
        self._outcomes = outcomes
        self._order = {table: rank for rank, table in enumerate(order)}
        self._after = after
        self._on_failure = on_failure

    async def __call__(self, messages: list[Any]) -> None:
        try:
            items = [await self._run_one(msg) for msg in messages]
            self._guard(items)
            await self._write(items)
            await self._publish(items)
        except BaseException:
            if self._after is not None:
                self._after(False, [])
            raise
        if self._after is not None:
            self._after(True, [item.msg for item in items if item.failed])

    async def _run_one(self, msg: Any) -> _Item:
        try:
            return _Item(msg, await self._process(msg))
        except asyncio.CancelledError:
            raise
        except msgspec.DecodeError as exc:
            return _Item(msg, Output(), failed=f"undecodable message: {exc}"[:2000])
        except Exception as exc:  # a defect or hostile input: this message alone fails
            if isinstance(exc, StoreError):
                raise  # a processor that reads found the store failing: pause, do not dead-letter
            log.warning("%s: %s failed: %r", self.name, origin(msg), exc)
            return _Item(msg, Output(), failed=f"processing failed: {type(exc).__name__}: {exc}"[:2000])

    def _guard(self, items: list[_Item]) -> None:
        if self._guards is None:
            return
        for item in items:
            if item.failed:
                continue
            for table, rows in item.out.rows.items():
                guard = self._guards.guard(table.name, table.columns)
                problem = next((p for p in map(guard.problem, rows) if p), None)
                if problem:
                    item.failed = f"refused by the store's types: {problem}"
                    break

    async def _write(self, items: list[_Item]) -> None:
        tables: dict[Table, list[tuple[int, Row]]] = {}
        for index, item in enumerate(items):
            if not item.failed:
                for table, rows in item.out.rows.items():
                    tables.setdefault(table, []).extend((index, row) for row in rows)
        for table in sorted(tables, key=lambda t: self._order.get(t, len(self._order))):
            tagged = tables[table]
            tagged = [(i, row) for i, row in tagged if not items[i].failed]  # an earlier table failed it
            for index, reason in await self._insert(table, tagged):
                items[index].failed = items[index].failed or f"refused by the store: {reason}"

    async def _insert(self, table: Table, tagged: list[tuple[int, Row]]) -> list[tuple[int, str]]:
        """Insert; on a data error, bisect. Returns (item index, reason) of the rows refused."""
        if not tagged:
            return []
        assert self._store is not None
        try:
            await asyncio.to_thread(table.insert, self._store, [row for _, row in tagged])
            return []
        except Exception as exc:
            if not is_data_error(exc):
                raise
            if len(tagged) == 1:
                log.warning("%s: %s refused a row: %r", self.name, table.name, exc)
                return [(tagged[0][0], f"{table.name}: {type(exc).__name__}: {exc}"[:2000])]
        half = len(tagged) // 2
        return [*await self._insert(table, tagged[:half]), *await self._insert(table, tagged[half:])]

    async def _publish(self, items: list[_Item]) -> None:
        produce: list[Record] = []
        for item in items:
            reason = item.failed or item.out.refused or _invalid_reason(item.out.outcomes)
            outcomes = item.out.outcomes
            if item.failed:
                outcomes = _refused_outcomes(self._topic, item.msg, item.failed)
                produce += self._on_failure(item.msg, item.failed) if self._on_failure else []
            else:
                produce += item.out.records
            if self._outcomes:
                produce += [self._topics.record(t.OUTCOMES, o) for o in outcomes]
            if reason is not None:
                produce += self._topics.dead_letters(self._topic, item.msg, reason, self.name)
        await send_all(self._producer, produce)


def _invalid_reason(outcomes: list[Outcome]) -> str | None:
    for o in outcomes:
        if o.outcome == OutcomeKind.INVALID:
            return o.reason or "invalid"
    return None


def _refused_outcomes(topic: t.Topic, msg: Any, reason: str) -> list[Outcome]:
    """An `invalid` outcome when the message is an ingest item it can still be read as."""
    if topic.value_type is not IngestItem:
        return []
    try:
        item = topic.decode(msg.value)
    except (msgspec.DecodeError, TypeError, ValueError):
        return []
    return [invalid_outcome(item, "internal" if reason.startswith("processing failed") else "invalid_data")]

