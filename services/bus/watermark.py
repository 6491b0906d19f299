"""How far a consumer group has got on a topic partition, against the partition's end.

An aggregate agent rebuilds an aggregate it does not hold from the archived event log; it
first waits until the projection (which archives) has committed up to the end of the
aggregate's event partition, so the archive holds every event the log has. The monitors
clock waits the same way for the check-in forwarder before it acts on a tick.
"""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from picket.bus.connection import KafkaConnection
from picket.bus.kafka import admin, consumer


class GroupWatermark:
    def __init__(self, kafka: KafkaConnection, topic: str, group: str) -> None:
        self._topic = topic
        self._group = group
        self._admin = admin(kafka)
        self._consumer = consumer(kafka, group_id=None)

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def _end(self, tp: TopicPartition) -> int:
        return (await self._consumer.end_offsets([tp]))[tp]

    async def _committed(self, tp: TopicPartition) -> int:
        found = (await self._admin.list_consumer_group_offsets(self._group, partitions=[tp])).get(tp)
        return found.offset if found is not None and found.offset >= 0 else 0

    async def lag(self, partition: int) -> int:
        tp = TopicPartition(self._topic, partition)
        end = await self._end(tp)
        return max(0, end - await self._committed(tp))

    async def wait_caught_up(self, partition: int, timeout: float = 60.0) -> None:
        """Return once the group has committed everything on the partition at the time of the
        call; TimeoutError if not. Messages published meanwhile are not waited for: under
        sustained load the lag may never reach zero."""
        tp = TopicPartition(self._topic, partition)
        target = await self._end(tp)
        deadline = asyncio.get_running_loop().time() + timeout
        while await self._committed(tp) < target:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{self._group} did not catch up on {self._topic}/{partition}")
            await asyncio.sleep(0.05)
