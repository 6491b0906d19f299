"""Producers place a key where Kafka's default partitioner (murmur2) places it, also once its
hash is remembered: consumers and single-writer guarantees rely on key → partition."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner

from picket.bus.kafka import partition_for


def test_keys_land_on_the_default_partition_first_time_and_remembered() -> None:
    rng = random.Random(3)
    keys = [f"monitor:{rng.randrange(10**6)}:job-{i}".encode() for i in range(500)] + [b"", b"7", "ü".encode()]
    for partitions in ([0], [0, 1, 2, 3], list(range(12))):
        expected = [DefaultPartitioner()(k, partitions, partitions) for k in keys]
        for _ in range(2):  # the second pass is answered from the remembered hashes
            assert [partition_for(k, partitions, partitions) for k in keys] == expected


def test_a_key_of_none_goes_to_an_available_partition() -> None:
    assert all(partition_for(None, [0, 1, 2, 3], [2]) == 2 for _ in range(20))
