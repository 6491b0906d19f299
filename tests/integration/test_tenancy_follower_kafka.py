"""The gateway's follower of the tenancy log on a real Apache Kafka broker, without a gateway.

It reads what is published after it started (not before), skips what it cannot decode (and
says to drop every cache), starts over at the end of the topic (and says to drop every cache)
when its position is gone, goes on after the broker restarts, and stops cleanly.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition

from picket.schemas import events as e
from picket.schemas.entities import ProjectKey
from picket.schemas.topics import TENANCY_LOG
from picket.bus.connection import KafkaConnection
from picket.bus.kafka import ensure_topics
from picket.gateway.tenancy_follower import ForgetAll, HoldKey, TenancyFollower
from tests.support.kafka import KafkaBroker

T0 = datetime(2026, 11, 27, tzinfo=timezone.utc)


def key_event(n: int) -> e.KeyUpdated:
    key = ProjectKey(id=n, org_id=1, project_id=2, label=f"key {n}", public=f"pub{n}", secret="s",
                     date_created=T0, is_active=False)
    meta = e.EventMeta(event_id=f"cmd{n}:0", aggregate="org:1", version=n, timestamp=T0, command_id=f"cmd{n}")
    return e.KeyUpdated(meta=meta, key=key)


class Recorder:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def __call__(self, changes: Sequence[Any]) -> None:
        self.seen.extend(changes)

    async def wait_for(self, change: Any, timeout: float) -> float:
        """Seconds until `change` was told; AssertionError with what was told if not in time."""
        started = time.monotonic()
        while change not in self.seen:
            assert time.monotonic() - started < timeout, f"not told {change} in {timeout} s: {self.seen}"
            await asyncio.sleep(0.01)
        return time.monotonic() - started


@asynccontextmanager
async def following(bootstrap: str) -> AsyncIterator[tuple[TenancyFollower, Recorder, AIOKafkaProducer, str]]:
    prefix = f"f{uuid.uuid4().hex[:8]}-"
    await ensure_topics(KafkaConnection(bootstrap), prefix, (TENANCY_LOG,))
    topic = TENANCY_LOG.full_name(prefix)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    recorder = Recorder()
    follower = TenancyFollower(KafkaConnection(bootstrap), topic, TENANCY_LOG.partitions, recorder)
    try:
        yield follower, recorder, producer, topic
    finally:
        await follower.stop()
        await producer.stop()


def test_events_after_the_start_are_told_and_undecodable_ones_drop_everything(kafka: KafkaBroker) -> None:
    async def scenario() -> None:
        async with following(kafka.bootstrap) as (follower, recorder, producer, topic):
            await producer.send_and_wait(topic, TENANCY_LOG.encode(key_event(1)), key=b"org:1")
            await follower.start()
            await producer.send_and_wait(topic, b"\xc1 not an event", key=b"org:1")
            await producer.send_and_wait(topic, TENANCY_LOG.encode(key_event(2)), key=b"org:1")
            elapsed = await recorder.wait_for(HoldKey(key_event(2).key), timeout=5)
            assert elapsed < 1, f"told {elapsed:.2f} s after the publication"
            assert recorder.seen == [ForgetAll(), HoldKey(key_event(2).key)], "event 1 predates the start"
            task = follower._task
            await follower.stop()
            assert task is not None and task.done() and follower._consumer is None

    asyncio.run(scenario())


def test_a_position_the_broker_no_longer_has_starts_the_follower_over_at_the_end(kafka: KafkaBroker) -> None:
    """As after a broker lost its data (the embedded one keeps it in memory): the offset the
    follower would read next is past the end of the partition."""
    async def scenario() -> None:
        async with following(kafka.bootstrap) as (follower, recorder, producer, topic):
            await follower.start()
            await producer.send_and_wait(topic, TENANCY_LOG.encode(key_event(1)), key=b"org:1", partition=0)
            await recorder.wait_for(HoldKey(key_event(1).key), timeout=5)
            assert follower._consumer is not None
            follower._consumer.seek(TopicPartition(topic, 0), 1000)
            await recorder.wait_for(ForgetAll(), timeout=10)
            deadline = time.monotonic() + 30
            while HoldKey(key_event(2).key) not in recorder.seen:  # told once it follows again
                await producer.send_and_wait(topic, TENANCY_LOG.encode(key_event(2)), key=b"org:1", partition=0)
                assert time.monotonic() < deadline, f"the follower did not start over: {recorder.seen}"
                await asyncio.sleep(0.2)
            assert recorder.seen[:2] == [HoldKey(key_event(1).key), ForgetAll()]

    asyncio.run(scenario())


def test_the_follower_goes_on_after_the_broker_restarts(tmp_path: Path) -> None:
    with KafkaBroker(use_env=False) as broker:
        async def scenario() -> None:
            async with following(broker.bootstrap) as (follower, recorder, producer, topic):
                await follower.start()
                await producer.send_and_wait(topic, TENANCY_LOG.encode(key_event(1)), key=b"org:1")
                await recorder.wait_for(HoldKey(key_event(1).key), timeout=5)
                await asyncio.to_thread(broker.restart)
                deadline = time.monotonic() + 60
                while True:  # the producer reconnects too; retry until the broker takes the record
                    try:
                        await asyncio.wait_for(
                            producer.send_and_wait(topic, TENANCY_LOG.encode(key_event(2)), key=b"org:1"), timeout=10)
                        break
                    except Exception:
                        assert time.monotonic() < deadline, "the broker did not come back"
                await recorder.wait_for(HoldKey(key_event(2).key), timeout=30)
                assert follower._task is not None and not follower._task.done()

        asyncio.run(scenario())
