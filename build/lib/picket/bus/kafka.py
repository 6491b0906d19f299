"""Kafka clients configured the one way Picket uses them.

Producers wait for all in-sync replicas (`acks=all`), so a write the gateway acknowledged is
durable; with idempotence on (every real Kafka broker) a producer retry is not a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from functools import lru_cache

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner, murmur2

from picket.schemas.topics import ALL_TOPICS, Topic
from picket.bus.connection import KafkaConnection

log = logging.getLogger(__name__)


@lru_cache(maxsize=65536)
def _key_hash(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF


def partition_for(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Kafka's default partition of a key (murmur2, as the Java client), with the hash of recent
    keys remembered: keys repeat (a monitor, a project) and the hash is pure Python."""
    if key is None:
        return DefaultPartitioner()(key, all_partitions, available)  # type: ignore[no-any-return]
    return all_partitions[_key_hash(key) % len(all_partitions)]


def producer(kafka: KafkaConnection, *, idempotent: bool = True, linger_ms: int = 0,
             **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **kafka.client_args(),
        acks="all",
        enable_idempotence=idempotent,
        linger_ms=linger_ms,
        request_timeout_ms=10_000,
        partitioner=partition_for,
        **options,
    )


def consumer(kafka: KafkaConnection, *topics: str, **options: Any) -> AIOKafkaConsumer:
    """A consumer that never commits by itself and reads only committed transactions."""
    return AIOKafkaConsumer(*topics, **kafka.client_args(), enable_auto_commit=False,
                            isolation_level="read_committed", **options)


def admin(kafka: KafkaConnection, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**kafka.client_args(), **options)


async def ensure_topics(
    kafka: KafkaConnection, prefix: str, topics: tuple[Topic, ...] = ALL_TOPICS, timeout: float = 60
) -> None:
    """Create every registered topic that does not exist yet, with its partitions and configs.

    Retries while the broker is still starting; raises TimeoutError if it never answers.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        client = admin(kafka, request_timeout_ms=10_000)
        try:
            await client.start()
            existing = set(await client.list_topics())
            missing = [
                NewTopic(t.full_name(prefix), t.partitions, 1, topic_configs=t.configs())
                for t in topics
                if t.full_name(prefix) not in existing
            ]
            if missing:
                try:
                    await client.create_topics(missing)
                except TopicAlreadyExistsError:
                    pass  # another process created them meanwhile
            return
        except Exception as exc:  # broker not ready yet
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"Kafka at {kafka.bootstrap} did not answer: {exc}") from exc
            log.info("waiting for Kafka at %s: %s", kafka.bootstrap, exc)
            await asyncio.sleep(0.5)
        finally:
            await client.close()
