"""The usual item pipeline on real chdb and a real broker: each message stands alone.

A message whose processing raises, a row the column types refuse, and a row only the insert
refuses (the guard is off) each fail alone: the others are written, the failures go to the dead
letters with their reasons. A store that fails as a whole (a table gone) is not a bad row: the
batch raises, nothing is dead-lettered, and it can be retried.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from picket.runtime.steps import Output, Pipeline, Table, item_pipeline
from picket.bus.topics import Topics
from picket.schemas.topics import Topic
from picket.store.client import Store
from picket.store.guards import TableGuards
from tests.support.kafka import KafkaBroker

NUMBERS = Table("numbers", ("n", "label"))
# The consumed topic: its failures go to the dead-letter topic it names, under the test's prefix.
NUMBERS_IN = Topic("numbers-in", partitions=1, key="k", value_type=bytes, retention_ms=60_000,
                   dead_letter="ingest-dlq")


def _batch(store: Store, producer: AIOKafkaProducer, guards: TableGuards | None) -> tuple[Pipeline, str]:
    """The pipeline under test, and the dead-letter topic it writes to."""
    topics = Topics(prefix=f"t{uuid.uuid4().hex[:8]}-")
    batch = item_pipeline("numbers", process, store=store, guards=guards, producer=producer, topics=topics,
                          topic=NUMBERS_IN, outcomes=False)
    return batch, topics.dead_letter_topic(NUMBERS_IN)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One chdb engine path for the module (a process opens one), closed at its end."""
    path = tmp_path_factory.mktemp("items") / "ch"
    holder = Store(f"chdb:///{path}", "default")
    yield path
    holder.close()


@pytest.fixture
def store(engine: Path) -> Iterator[Store]:
    """A database of the test's own, with the table the step writes."""
    s = Store(f"chdb:///{engine}", f"items_{uuid.uuid4().hex[:8]}")
    s.command("CREATE DATABASE {db}")
    s.command("CREATE TABLE {db}.numbers (n UInt32, label String) ENGINE = ReplacingMergeTree ORDER BY n")
    yield s
    s.close()


def _message(offset: int, value: bytes) -> ConsumerRecord:
    return ConsumerRecord(topic="numbers-in", partition=0, offset=offset, timestamp=0, timestamp_type=0,
                          key=b"k", value=value, checksum=None, serialized_key_size=1,
                          serialized_value_size=len(value), headers=())


async def process(msg: Any) -> Output:
    text = msg.value.decode()
    if text == "boom":
        raise RuntimeError("this message breaks its processor")
    return Output().add_rows(NUMBERS, [(int(text), f"label {text}")])


async def _run(bootstrap: str, store: Store, values: list[bytes], guards: TableGuards | None) -> list[tuple[bytes, dict[str, bytes]]]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        batch, dead = _batch(store, producer, guards)
        await batch([_message(i, v) for i, v in enumerate(values)])
    finally:
        await producer.stop()
    return await _read(bootstrap, dead)


async def _read(bootstrap: str, topic: str) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=3000)
        return [(m.value, dict(m.headers)) for part in batch.values() for m in part]
    finally:
        await consumer.stop()


def _stored(store: Store) -> list[int]:
    return [n for (n,) in store.query("SELECT n FROM {db}.numbers FINAL ORDER BY n")]


def test_rows_only_the_insert_refuses_are_found_by_bisection(kafka: KafkaBroker, store: Store) -> None:
    good = list(range(1, 41))
    values = [str(n).encode() for n in good]
    values[7:7] = [str(2**40).encode()]  # too wide for UInt32
    values[25:25] = [b"-5"]  # negative
    letters = asyncio.run(_run(kafka.bootstrap, store, values, guards=None))
    assert _stored(store) == good, "every other row is written"
    assert sorted(v for v, _ in letters) == sorted([str(2**40).encode(), b"-5"])
    for _, headers in letters:
        assert headers["reason"].startswith(b"refused by the store: numbers:")
        assert headers["consumer"] == b"numbers"


def test_guarded_rows_and_failing_processing_fail_alone(kafka: KafkaBroker, store: Store) -> None:
    values = [b"1", b"boom", str(2**33).encode(), b"2", b"not a number", b"3"]
    letters = dict(asyncio.run(_run(kafka.bootstrap, store, values, guards=TableGuards.load(store))))
    assert _stored(store) == [1, 2, 3]
    assert set(letters) == {b"boom", str(2**33).encode(), b"not a number"}
    assert letters[b"boom"]["reason"].startswith(b"processing failed: RuntimeError")
    assert letters[str(2**33).encode()]["reason"].startswith(b"refused by the store's types: numbers.n:")
    assert letters[b"not a number"]["reason"].startswith(b"processing failed: ValueError")


def test_a_store_that_fails_as_a_whole_fails_the_batch_and_dead_letters_nothing(
        kafka: KafkaBroker, store: Store) -> None:
    guards = TableGuards.load(store)
    store.command("DROP TABLE {db}.numbers")

    async def scenario() -> str:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
        await producer.start()
        try:
            batch, dead = _batch(store, producer, guards)
            with pytest.raises(Exception) as raised:
                await batch([_message(0, b"1"), _message(1, b"2")])
            assert "numbers" in str(raised.value)
        finally:
            await producer.stop()
        return dead

    dead = asyncio.run(scenario())
    assert asyncio.run(_read(kafka.bootstrap, dead)) == []
