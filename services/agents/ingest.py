"""Consumers of the ingest topics and of `outcomes`, each a batch handler for `BatchConsumer`.

Per batch: decode the items, process each with its pure function, publish the outcomes, insert
the rows. Outcomes are published before the rows are written: a crash in between replays the
batch, and the outcomes (keyed per event or per message) collapse in ClickHouse instead of
being lost. Undecodable messages go to the dead-letter topic with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer

from schemas import topics as t
from schemas.ingest import IngestItem, Outcome
from services.agents.batch import BatchConsumer
from services.bus.connection import KafkaConnection
from services.config import Settings, topic_name
from services.ingest import attachments, feedback, outcome_rows, sessions
from services.ingest.outcomes import Category
from services.ingest.processed import Processed
from services.store.client import Store
from services.store.rollups import write_outcomes, write_sessions

# Outcomes are counted in stats, which no one reads by the millisecond: written once a second
# at most, in fewer and larger parts.
OUTCOMES_LINGER_SECONDS = 1.0
OUTCOMES_MAX_BATCH = 10_000

decode_item = msgspec.msgpack.Decoder(IngestItem).decode
decode_outcome = msgspec.msgpack.Decoder(Outcome).decode
encode = msgspec.msgpack.Encoder().encode


def origin(msg: Any) -> str:
    return f"{msg.topic}/{msg.partition}/{msg.offset}"


async def decoded_items(messages: list[Any], dead: DeadLetters) -> list[tuple[Any, IngestItem]]:
    """(message, item) for every decodable message; the others go to the dead-letter topic."""
    out = []
    for msg in messages:
        try:
            out.append((msg, decode_item(msg.value)))
        except msgspec.DecodeError as exc:
            await dead.send(msg, f"undecodable ingest item: {exc}")
    return out


class DeadLetters:
    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self._topic = topic_name(settings, t.INGEST_DLQ)
        self._producer = producer

    async def send(self, msg: Any, reason: str) -> None:
        await self._producer.send_and_wait(
            self._topic, msg.value, key=msg.key,
            headers=[("reason", reason.encode()), ("source", origin(msg).encode())],
        )


async def publish_outcomes(producer: AIOKafkaProducer, topic: str, outcomes: Sequence[Outcome]) -> None:
    futures = [await producer.send(topic, encode(o), key=str(o.org_id).encode()) for o in outcomes]
    await asyncio.gather(*futures)


Writer = Callable[[Store, Sequence[Sequence[Any]]], None]


def table_writer(table: str, columns: Sequence[str]) -> Writer:
    return lambda store, rows: store.insert(table, rows, columns)


class ItemProjection:
    """Batch handler for one ingest topic whose items map to rows written by `write` (None: items
    that are only counted, as outcomes)."""

    def __init__(self, settings: Settings, store: Store, producer: AIOKafkaProducer, write: Writer | None,
                 process: Callable[[IngestItem, str], Processed]) -> None:
        self._store = store
        self._producer = producer
        self._write = write
        self._process = process
        self._outcomes = topic_name(settings, t.OUTCOMES)
        self._dead = DeadLetters(settings, producer)

    async def __call__(self, messages: list[Any]) -> None:
        rows: list[tuple[Any, ...]] = []
        outcomes: list[Outcome] = []
        for msg, item in await decoded_items(messages, self._dead):
            done = self._process(item, origin(msg))
            rows.extend(done.rows)
            outcomes.extend(done.outcomes)
        await publish_outcomes(self._producer, self._outcomes, outcomes)
        if self._write is not None:
            await asyncio.to_thread(self._write, self._store, rows)


class OutcomeProjection:
    """Batch handler of the `outcomes` topic → `outcomes_raw` (marking late hours of the rollup)."""

    def __init__(self, settings: Settings, store: Store, producer: AIOKafkaProducer) -> None:
        self._store = store
        self._dead = DeadLetters(settings, producer)

    async def __call__(self, messages: list[Any]) -> None:
        rows = []
        for msg in messages:
            try:
                rows.append(outcome_rows.outcome_row(decode_outcome(msg.value), origin(msg)))
            except msgspec.DecodeError as exc:
                await self._dead.send(msg, f"undecodable outcome: {exc}")
        await asyncio.to_thread(write_outcomes, self._store, rows)


def _transaction(item: IngestItem, _: str) -> Processed:
    """Transactions are counted, not stored (performance data is not served)."""
    out = Processed()
    out.accept(item, Category.TRANSACTION)
    return out


def ingest_consumers(settings: Settings, kafka: KafkaConnection, store: Store, producer: AIOKafkaProducer) -> list[BatchConsumer]:
    """Every ingest consumer but those of events (`services.agents.events`) and check-ins
    (`services.agents.monitors`)."""

    def consumer(topic: t.Topic, write: Writer | None, process: Any) -> BatchConsumer:
        handler = ItemProjection(settings, store, producer, write, process)
        return BatchConsumer(f"{topic.name}-consumer", kafka, topic_name(settings, topic),
                             f"{settings.app_id}-{topic.name}", handler, fast_join=settings.fast_group_join)

    return [
        consumer(t.INGEST_SESSIONS, write_sessions, sessions.process_session_item),
        consumer(t.INGEST_FEEDBACK, table_writer("feedback", feedback.COLUMNS), lambda i, _: feedback.process_feedback_item(i)),
        consumer(t.INGEST_ATTACHMENTS, table_writer("attachments", attachments.COLUMNS), attachments.process_attachment_item),
        consumer(t.INGEST_TRANSACTIONS, None, _transaction),
        BatchConsumer("outcomes-consumer", kafka, topic_name(settings, t.OUTCOMES),
                      f"{settings.app_id}-outcomes", OutcomeProjection(settings, store, producer),
                      fast_join=settings.fast_group_join, linger=OUTCOMES_LINGER_SECONDS,
                      max_batch=OUTCOMES_MAX_BATCH),
    ]
