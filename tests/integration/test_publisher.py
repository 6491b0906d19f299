"""The gateway's publisher on a real broker: concurrent calls share transactions and each call is
read whole by read_committed consumers; a call the broker cannot take in time fails within its
deadline and none of it is ever read."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiokafka.producer.sender
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from picket.bus.connection import KafkaConnection
from picket.bus.publisher import PublishFailed, Record, TransactionalPublisher
from tests.support.kafka import KafkaBroker


async def _topic(bootstrap: str) -> str:
    name = f"pub-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 4, 1)])
    finally:
        await admin.close()
    return name


async def _committed_values(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        values: list[bytes] = []
        while batch := await consumer.getmany(timeout_ms=2000):
            values += [m.value for part in batch.values() for m in part]
        return values
    finally:
        await consumer.stop()


def test_aiokafka_still_has_the_transaction_retry_wait_the_publisher_shortens() -> None:
    assert aiokafka.producer.sender.BACKOFF_OVERRIDE == 0.002


def test_concurrent_calls_are_all_committed(kafka: KafkaBroker) -> None:
    async def scenario() -> list[bytes]:
        topic = await _topic(kafka.bootstrap)
        publisher = TransactionalPublisher(KafkaConnection(kafka.bootstrap), f"t-{uuid.uuid4().hex[:8]}")
        await publisher.start()
        try:
            calls = [[Record(topic, f"{n}:{i}".encode(), str(n).encode()) for i in range(3)] for n in range(200)]
            await asyncio.gather(*(publisher.publish(records, timeout=10) for records in calls))
        finally:
            await publisher.stop()
        return await _committed_values(kafka.bootstrap, topic)

    values = asyncio.run(scenario())
    assert sorted(values) == sorted(f"{n}:{i}".encode() for n in range(200) for i in range(3))


def test_a_call_the_broker_cannot_take_fails_in_time_and_is_never_read() -> None:
    with KafkaBroker(use_env=False) as broker:
        topic = asyncio.run(_topic(broker.bootstrap))

        async def scenario() -> float:
            publisher = TransactionalPublisher(KafkaConnection(broker.bootstrap), f"t-{uuid.uuid4().hex[:8]}")
            await publisher.start()
            try:
                await publisher.publish([Record(topic, b"before", b"k")], timeout=10)
                broker.stop()
                began = time.monotonic()
                with pytest.raises(PublishFailed):
                    await publisher.publish([Record(topic, b"lost", b"k"), Record(topic, b"lost too", b"j")],
                                            timeout=1)
                took = time.monotonic() - began
                broker.start()
                return took
            finally:
                await publisher.stop()

        took = asyncio.run(scenario())
        assert took < 1 + 5 + 1, f"it failed after {took:.1f}s"
        assert asyncio.run(_committed_values(broker.bootstrap, topic)) == [b"before"]
