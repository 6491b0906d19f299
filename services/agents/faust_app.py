"""The Faust application of a worker: settings tuned for fast start and raw msgpack values."""

from __future__ import annotations

import faust

from services.config import Settings


def create_app(settings: Settings, bootstrap: str) -> faust.App:
    return faust.App(
        settings.app_id,
        broker=f"kafka://{bootstrap}",
        store="memory://",  # state is rebuilt from the changelog topics at start
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=4,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        # Apache Kafka answers a group join at once (initial rebalance delay 0); Kafka-compatible
        # brokers that wait half the session timeout join faster with a short one.
        broker_session_timeout=2 if settings.fast_group_join else 6,
        broker_heartbeat_interval=0.6 if settings.fast_group_join else 1,
        broker_commit_every=1,
        broker_commit_interval=0.5,
        producer_acks=-1,
        producer_linger=0,
        table_cleanup_interval=3600,
    )
