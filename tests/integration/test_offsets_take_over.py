"""A consumer group that takes over a topic from another group starts where that one left off,
on a real broker: a deployment upgraded from the check-in forwarder (group `ingest-monitors`) to
the decider reading `ingest-monitors` (group `monitors-decider`) does not read the topic again
from its beginning. The take-over never moves a group that has offsets of its own."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from picket.bus.connection import KafkaConnection
from picket.bus.offsets import TakeOver, take_over_offsets
from tests.support.kafka import KafkaBroker


async def _commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await committer.start()
    committer.assign(list(offsets))
    await committer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
    await committer.stop()


async def _first_read(bootstrap: str, topic: str, group: str) -> dict[int, bytes]:
    """What a new member of `group` reads first on each partition (by the usual `earliest` rule
    where the group has no offset)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    first: dict[int, bytes] = {}
    deadline = asyncio.get_running_loop().time() + 30
    try:
        while asyncio.get_running_loop().time() < deadline and not {0, 2} <= set(first):
            for tp, msgs in (await consumer.getmany(timeout_ms=500)).items():
                first.setdefault(tp.partition, msgs[0].value)
        await asyncio.sleep(1)  # partition 1, read to its end by the old group, has nothing more
        for tp, msgs in (await consumer.getmany(timeout_ms=500)).items():
            first.setdefault(tp.partition, msgs[0].value)
    finally:
        await consumer.stop()
    return first


async def _scenario(bootstrap: str) -> tuple[dict[int, int], dict[int, int], dict[int, bytes]]:
    topic, old, new = f"takeover-{uuid.uuid4().hex[:10]}", f"old-{uuid.uuid4().hex[:6]}", f"new-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    for partition in range(3):
        for n in range(5):
            await producer.send_and_wait(topic, f"{partition}:{n}".encode(), partition=partition)
    await producer.stop()
    # The old group got to 3 on partition 0 and to 5 on partition 1, never committed on 2.
    await _commit(bootstrap, old, {TopicPartition(topic, 0): 3, TopicPartition(topic, 1): 5})
    kafka = KafkaConnection(bootstrap)
    taken = await take_over_offsets(kafka, TakeOver(topic, 3, old), new)
    # The old group goes on (an old worker during a rolling upgrade): the new group keeps its own.
    await _commit(bootstrap, old, {TopicPartition(topic, 0): 5})
    again = await take_over_offsets(kafka, TakeOver(topic, 3, old), new)
    return taken, again, await _first_read(bootstrap, topic, new)


def test_a_new_group_starts_where_the_group_it_replaces_left_off(kafka: KafkaBroker) -> None:
    taken, again, first = asyncio.run(_scenario(kafka.bootstrap))
    assert taken == {0: 3, 1: 5}
    assert again == {}, "a group with offsets of its own is never moved"
    assert first[0] == b"0:3", "read on from the old group's offset"
    assert first[2] == b"2:0", "where the old group never committed, from the beginning"
    assert 1 not in first, "the old group had read partition 1 to its end"

