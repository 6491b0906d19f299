"""`GroupWatermark.wait_caught_up` waits for what was on the partition when it was called, on a
real broker: not less (it returns only once the group committed that far), and not more (it
returns although messages keep arriving, as under sustained load)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from picket.bus.connection import KafkaConnection
from picket.bus.watermark import GroupWatermark
from tests.support.kafka import KafkaBroker


async def _scenario(bootstrap: str) -> tuple[bool, bool, int]:
    topic, group = f"watermark-{uuid.uuid4().hex[:12]}", f"g-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    watermark = GroupWatermark(KafkaConnection(bootstrap), topic, group)
    await producer.start()
    await committer.start()
    await watermark.start()
    tp = TopicPartition(topic, 0)
    committer.assign([tp])

    async def keep_producing() -> None:
        while True:
            await producer.send_and_wait(topic, b"later")
            await asyncio.sleep(0.01)

    try:
        for _ in range(10):
            await producer.send_and_wait(topic, b"before")
        waiting = asyncio.create_task(watermark.wait_caught_up(0, timeout=20))
        await asyncio.sleep(0.5)  # it has read the end (10) by now; what follows comes after the call
        load = asyncio.create_task(keep_producing())
        await committer.commit({tp: OffsetAndMetadata(9, "")})  # one short of the snapshot
        await asyncio.sleep(1.0)
        early = waiting.done()
        await committer.commit({tp: OffsetAndMetadata(10, "")})
        await asyncio.wait_for(waiting, timeout=10)
        lag_after = await watermark.lag(0)
        load.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load
        return early, waiting.done(), lag_after
    finally:
        await watermark.stop()
        await committer.stop()
        await producer.stop()


def test_waits_for_the_end_at_the_call_not_for_messages_after_it(kafka: KafkaBroker) -> None:
    early, done, lag_after = asyncio.run(_scenario(kafka.bootstrap))
    assert not early, "returned before the group committed what was there at the call"
    assert done
    assert lag_after > 0, "messages kept arriving, so the group was still behind the end when it returned"
