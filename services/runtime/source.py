"""Where a `BatchConsumer` reads from: a topic in a consumer group, behind a small interface
(`Source`) so that the loop's rules (commit after the handler, hold chunks, linger, back off)
are tested on their own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

from picket.bus.connection import KafkaConnection
from picket.bus.kafka import consumer
from picket.bus.offsets import TakeOver, take_over_offsets
from picket.bus.tansu import CONSUMER_GROUP_TIMINGS

FETCH_TIMEOUT_MS = 200


class Source(Protocol):
    async def start(self, on_rebalance: Callable[[], None]) -> None:
        """Join the group; `on_rebalance` is called whenever partitions move."""

    async def stop(self) -> None: ...

    async def fetch(self, max_records: int) -> list[Any]:
        """The next messages (at most `max_records`; none after a short wait when idle)."""

    async def positions(self) -> dict[Any, int]:
        """Each assigned partition (with `.topic`, `.partition`) and its next offset to read."""

    async def commit(self, offsets: dict[Any, int]) -> None: ...


class KafkaSource:
    """Topics in one consumer group, read_committed, committed by hand.

    Several topics are co-partitioned: partition n of each goes to the same member (the range
    assignor, on topics with as many partitions; round robin only while older members that know
    nothing else are in the group). `takes_over`: where the group starts on a topic it took over
    from another group (`picket.bus.offsets`), done before it joins. `fast_join`: short group
    timings, for the Tansu fallback broker (which makes a join wait half the session timeout;
    Apache Kafka refuses sessions under 6 s by default)."""

    def __init__(self, kafka: KafkaConnection, topics: str | Sequence[str], group: str, fast_join: bool = False,
                 takes_over: Sequence[TakeOver] = ()) -> None:
        self._kafka = kafka
        self._topics = [topics] if isinstance(topics, str) else list(topics)
        self._group = group
        self._takes_over = tuple(takes_over)
        self._consumer = consumer(
            kafka,
            group_id=group,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor, RoundRobinPartitionAssignor)
            if len(self._topics) > 1 else (RoundRobinPartitionAssignor,),
            **(CONSUMER_GROUP_TIMINGS if fast_join else {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}),
            # An idle consumer asks again every fetch_max_wait_ms. Apache Kafka answers a long poll
            # as soon as data arrives. The Tansu fallback broker answers late when the wait is long
            # (measured: records seen 2-9 ms after their ack on 20 ms polls, 5-18 ms on 50 ms,
            # 10-20 ms on 100 ms, ~365 ms on 1 s); each hop of a pipeline adds that delay, and
            # short polls cost idle CPU (ten consumers on 20 ms polls: a quarter of a core).
            fetch_max_wait_ms=50 if fast_join else 100,
        )

    async def start(self, on_rebalance: Callable[[], None]) -> None:
        for take_over in self._takes_over:
            await take_over_offsets(self._kafka, take_over, self._group)
        await self._consumer.start()
        self._consumer.subscribe(self._topics, listener=_Rebalance(on_rebalance))

    def owns(self, topic: str, partition: int) -> bool:
        """Whether partition `partition` of `topic` is assigned to this member now."""
        return TopicPartition(topic, partition) in self._consumer.assignment()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def fetch(self, max_records: int) -> list[Any]:
        batches = await self._consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS, max_records=max_records)
        return [m for part in batches.values() for m in part]

    async def positions(self) -> dict[Any, int]:
        return {tp: await self._consumer.position(tp) for tp in self._consumer.assignment()}

    async def commit(self, offsets: dict[Any, int]) -> None:
        await self._consumer.commit(offsets)

    @property
    def group(self) -> str:
        return self._group

    async def ends(self) -> dict[Any, int]:
        """Each assigned partition's end (the last stable offset: read_committed), asked of the
        broker."""
        assigned = list(self._consumer.assignment())
        return await self._consumer.end_offsets(assigned) if assigned else {}


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tells the consumer that partitions moved, so it drops state another worker may change."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self._callback()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._callback()
