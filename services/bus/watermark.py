"""How far a consumer group has got on a topic partition, against the partition's end.

An aggregate agent rebuilds an aggregate it does not hold from the archived event log; it
first waits until the projection (which archives) has committed up to the end of the
aggregate's event partition, so the archive holds every event the log has. The monitors
clock waits the same way for the check-in forwarder before it acts on a tick.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


class GroupWatermark:
    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        self._topic = topic
        self._group = group
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def lag(self, partition: int) -> int:
        tp = TopicPartition(self._topic, partition)
        end = (await self._consumer.end_offsets([tp]))[tp]
        committed = await self._admin.list_consumer_group_offsets(self._group, partitions=[tp])
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        return max(0, end - done)

    async def wait_caught_up(self, partition: int, timeout: float = 60.0) -> None:
        """Return once the group has committed everything on the partition; TimeoutError if not."""
        deadline = asyncio.get_running_loop().time() + timeout
        while await self.lag(partition) > 0:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{self._group} did not catch up on {self._topic}/{partition}")
            await asyncio.sleep(0.05)
