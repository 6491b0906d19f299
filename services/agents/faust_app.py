"""The Faust application of a worker: settings tuned for fast start and raw msgpack values."""

from __future__ import annotations

import ssl
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from picket.bus.connection import KafkaConnection
from picket.config import Settings

# How long the agents' consumer lets the broker hold an empty fetch. Faust fixes 1.5 s. Apache
# Kafka answers a long poll as soon as data arrives, but the Tansu fallback broker answers late when
# the wait is long, and each administrative command waits for that hop: 0.5-0.8 s a command
# (four of them at the first start of `picket run`). The batch consumers poll every 50 ms there.
EMBEDDED_FETCH_MAX_WAIT_MS = 50


class _PromptConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start(), which builds its fetcher with it; Faust has no setting.
        consumer._fetch_max_wait_ms = EMBEDDED_FETCH_MAX_WAIT_MS
        return consumer


class _PromptConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> Any:
        return _PromptConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _PromptTransport(faust_aiokafka.Transport):
    Consumer = _PromptConsumer


class _EmbeddedBrokerApp(faust.App):
    """A Faust app whose agents poll the Tansu fallback broker briefly (see above)."""

    def _new_transport(self) -> Any:
        return _PromptTransport(self.conf.broker_consumer, self)


def faust_credentials(kafka: KafkaConnection) -> Any:
    """Faust's `broker_credentials` for a connection, or None for a PLAINTEXT broker."""
    if kafka.uses_sasl:
        return faust.SASLCredentials(
            username=kafka.username, password=kafka.password, mechanism=kafka.sasl_mechanism or "PLAIN",
            ssl_context=ssl.create_default_context() if kafka.security_protocol == "SASL_SSL" else None,
        )
    if kafka.security_protocol == "SSL":
        return faust.SSLCredentials(ssl.create_default_context())
    return None


def create_app(settings: Settings, kafka: KafkaConnection) -> faust.App:
    app_class = _EmbeddedBrokerApp if settings.fast_group_join else faust.App
    return app_class(
        settings.app_id,
        broker=f"kafka://{kafka.bootstrap}",
        broker_credentials=faust_credentials(kafka),
        store="memory://",  # state is rebuilt from the changelog topics at start
        datadir=str(settings.data_dir / "faust"),  # not "<app id>-data" in the working directory
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
