"""The worker's Faust app: on the Tansu fallback broker its agents' consumer polls briefly, since
that broker answers a long poll late and every administrative command waits for this hop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from picket.bus.connection import KafkaConnection
from picket.agents.faust_app import EMBEDDED_FETCH_MAX_WAIT_MS, create_app
from picket.config import from_env


def _fetch_wait_ms(fast_group_join: bool, tmp_path: Path) -> int:
    settings = from_env(str(tmp_path)).with_(fast_group_join=fast_group_join)

    async def build() -> int:
        app = create_app(settings, KafkaConnection("127.0.0.1:9"))
        consumer = app.consumer._thread._create_worker_consumer(app.transport)  # not started
        return consumer._fetch_max_wait_ms  # what AIOKafkaConsumer.start() gives its fetcher

    return asyncio.run(build())


def test_agents_poll_the_tansu_broker_briefly(tmp_path: Path) -> None:
    assert _fetch_wait_ms(True, tmp_path) == EMBEDDED_FETCH_MAX_WAIT_MS


def test_agents_keep_fausts_long_poll_on_apache_kafka(tmp_path: Path) -> None:
    assert _fetch_wait_ms(False, tmp_path) == 1500  # Apache Kafka answers as soon as data arrives
