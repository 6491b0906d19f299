"""ClickHouse refusing writes: the consumer keeps its offsets, retries with backoff, and resumes
where it was once writes work again — every item stored once. A poison message goes to the
dead-letter topic with its reason and does not hold the partition.

Real Kafka, real chdb; the outage is real too: the table the consumer writes is renamed away,
so ClickHouse rejects the inserts, and renamed back.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from picket.schemas import topics as t
from picket.schemas.ingest import IngestItem
from picket.agents.ingest import ingest_consumers
from picket.agents.wiring import Wiring
from picket.bus.connection import KafkaConnection
from picket.bus.kafka import ensure_topics, producer as make_producer
from picket.config import from_env
from picket.store.client import Store
from picket.store.guards import TableGuards
from picket.store.migrate import migrate
from tests.support.kafka import KafkaBroker

SESSIONS = 40


def _session_item(n: int) -> bytes:
    now = datetime.now(timezone.utc)
    body = {"sid": uuid.uuid4().hex, "seq": 0, "init": True, "status": "exited", "errors": 0,
            "started": now.isoformat(), "timestamp": now.isoformat(), "duration": float(n),
            "attrs": {"release": "app@1", "environment": "production"}}
    item = IngestItem(item_type="session", project_id=7, org_id=1, key_id=1, received=now,
                      payload=json.dumps(body).encode())
    return msgspec.msgpack.encode(item)


async def _committed(bootstrap: str, group: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0)


async def _scenario(bootstrap: str, data_dir: Path) -> None:
    kafka = KafkaConnection(bootstrap)
    settings = from_env(str(data_dir)).with_(topic_prefix=f"t{uuid.uuid4().hex[:8]}-", kafka=kafka)
    await ensure_topics(kafka, settings.topic_prefix)
    store = Store(settings.clickhouse_url, settings.database)
    migrate(store)
    producer = make_producer(kafka)
    await producer.start()
    topic = t.INGEST_SESSIONS.full_name(settings.topic_prefix)
    group = f"{settings.app_id}-{t.INGEST_SESSIONS.name}"
    wiring = Wiring(settings, kafka, store, producer, TableGuards.load(store))
    [consumer] = [c for c in ingest_consumers(wiring) if c.name.startswith("ingest-sessions")]
    try:
        for n in range(SESSIONS // 2):
            await producer.send_and_wait(topic, _session_item(n), key=b"7")
        await producer.send_and_wait(topic, b"\x00 not msgpack", key=b"7")  # poison
        for n in range(SESSIONS // 2, SESSIONS):
            await producer.send_and_wait(topic, _session_item(n), key=b"7")

        store.command("RENAME TABLE {db}.sessions TO {db}.sessions_away")  # ClickHouse refuses the writes
        await consumer.start()
        await asyncio.sleep(4)  # several failed attempts
        assert await _committed(bootstrap, group, topic) == 0, "offsets moved while nothing was stored"

        store.command("RENAME TABLE {db}.sessions_away TO {db}.sessions")
        deadline = time.monotonic() + 60
        while store.query("SELECT count() FROM {db}.sessions")[0][0] < SESSIONS:
            assert time.monotonic() < deadline, "the consumer never resumed"
            await asyncio.sleep(0.2)
        while await _committed(bootstrap, group, topic) < SESSIONS + 1:
            assert time.monotonic() < deadline, "the offsets never moved past the batch"
            await asyncio.sleep(0.2)
        assert store.query("SELECT count(), uniqExact(session_id) FROM {db}.sessions FINAL") == [(SESSIONS, SESSIONS)]

        dead = AIOKafkaConsumer(t.INGEST_DLQ.full_name(settings.topic_prefix), bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
        await dead.start()
        try:
            batch = await dead.getmany(timeout_ms=5000)
            letters = [m for part in batch.values() for m in part]
        finally:
            await dead.stop()
        # The poison message is dead-lettered once (when its batch is through), with the reason.
        assert [m.value for m in letters] == [b"\x00 not msgpack"]
        assert dict(letters[0].headers)["reason"].startswith(b"undecodable message")
    finally:
        await consumer.stop()
        await producer.stop()
        store.close()


def test_consumer_holds_offsets_while_clickhouse_refuses_and_resumes_exactly_once(
        kafka: KafkaBroker, tmp_path: Path) -> None:
    asyncio.run(_scenario(kafka.bootstrap, tmp_path))
