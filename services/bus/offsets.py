"""A consumer group that takes over a topic from another group starts where that one left off.

When a deployment is upgraded and the work of one group moves to another (the monitors decider
reads `ingest-monitors` where the check-in forwarder used to), the new group has no committed
offsets and would start at the beginning of the topic: a day of items read again. So before it
joins, the new group is given the old group's committed offsets on every partition where it has
none of its own. Partitions where neither group committed start as any new group does.

The offsets are committed for the new group by a member outside the group's generations, which
the broker accepts only while the group has no members: it is done before the first member
joins. Two workers starting together may both try; the second finds the offsets there.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from picket.bus.connection import KafkaConnection
from picket.bus.kafka import admin, consumer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TakeOver:
    """Group `replaced` read `topic` (of `partitions` partitions) before the group at hand."""

    topic: str
    partitions: int
    replaced: str


async def take_over_offsets(kafka: KafkaConnection, take_over: TakeOver, group: str,
                            timeout: float = 60.0) -> dict[int, int]:
    """Commit, for `group`, the replaced group's offsets where `group` has none; returns them by
    partition (empty: nothing to take over). Retries while the broker cannot answer yet (a new
    broker has no group coordinator for a moment); raises if that lasts `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await _take_over(kafka, take_over, group)
        except KafkaError as exc:
            if not exc.retriable or asyncio.get_running_loop().time() > deadline:
                raise
            log.info("taking over %s's offsets on %s: %r; retrying", take_over.replaced, take_over.topic, exc)
            await asyncio.sleep(0.5)


async def _take_over(kafka: KafkaConnection, take_over: TakeOver, group: str) -> dict[int, int]:
    partitions = [TopicPartition(take_over.topic, p) for p in range(take_over.partitions)]
    client = admin(kafka, request_timeout_ms=10_000)
    await client.start()
    try:
        own = await client.list_consumer_group_offsets(group, partitions=partitions)
        missing = [tp for tp in partitions if tp not in own or own[tp].offset < 0]
        if not missing:
            return {}
        replaced = await client.list_consumer_group_offsets(take_over.replaced, partitions=missing)
    finally:
        await client.close()
    taken = {tp: OffsetAndMetadata(replaced[tp].offset, "")
             for tp in missing if tp in replaced and replaced[tp].offset >= 0}
    if not taken:
        return {}
    committer = consumer(kafka, group_id=group)
    await committer.start()
    try:
        committer.assign(list(taken))
        await committer.commit(taken)
    except Exception:
        if not await _has_offsets(kafka, group, list(taken)):
            raise
        return {}  # another member of the group committed first: it starts from there
    finally:
        await committer.stop()
    log.info("consumer group %s starts on %s where %s left off: %s", group, take_over.topic, take_over.replaced,
             {tp.partition: o.offset for tp, o in taken.items()})
    return {tp.partition: o.offset for tp, o in taken.items()}


async def _has_offsets(kafka: KafkaConnection, group: str, partitions: list[TopicPartition]) -> bool:
    client = admin(kafka, request_timeout_ms=10_000)
    await client.start()
    try:
        own = await client.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await client.close()
    return all(tp in own and own[tp].offset >= 0 for tp in partitions)
