"""The Kafka test harness gives a working broker: records acknowledged with acks=all can be read
back, also after the broker restarts on the same data."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.kafka import KafkaBroker

VALUES = [b"first", b"second", b"third"]


async def _create_topic(bootstrap: str) -> str:
    topic = f"harness-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    return topic


async def _produce(bootstrap: str, topic: str, values: list[bytes]) -> list[int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        offsets = []
        for value in values:
            meta = await producer.send_and_wait(topic, value, key=b"k")
            offsets.append(meta.offset)
        return offsets
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        values: list[bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(values) < count and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                values.extend(r.value for r in records)
        return values
    finally:
        await consumer.stop()


def test_produced_records_are_consumed_back() -> None:
    with KafkaBroker() as kafka:
        topic = asyncio.run(_create_topic(kafka.bootstrap))

        offsets = asyncio.run(_produce(kafka.bootstrap, topic, VALUES))

        assert offsets == [0, 1, 2]
        assert asyncio.run(_consume(kafka.bootstrap, topic, len(VALUES))) == VALUES


def test_acknowledged_records_survive_a_broker_restart() -> None:
    with KafkaBroker(use_env=False) as kafka:
        bootstrap = kafka.bootstrap
        topic = asyncio.run(_create_topic(bootstrap))
        asyncio.run(_produce(bootstrap, topic, VALUES))

        kafka.restart()

        assert kafka.bootstrap == bootstrap
        assert asyncio.run(_consume(bootstrap, topic, len(VALUES))) == VALUES
        assert asyncio.run(_produce(bootstrap, topic, [b"fourth"])) == [3]
