"""Settings of every Picket process, read from the environment once at start.

| variable              | default                         | meaning                                   |
|-----------------------|---------------------------------|-------------------------------------------|
| KAFKA_BOOTSTRAP       | (unset: embedded broker)        | Kafka bootstrap servers                   |
| KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD | | signing in to Kafka (`services/bus/connection.py`) |
| PICKET_KAFKA_IDEMPOTENCE | 1                            | `0`: plain producers (brokers without InitProducerId) |
| PICKET_KAFKA_TRANSACTIONS | 1                           | `0`: an envelope's messages are not written in one transaction |
| PICKET_GATEWAY_ID     | <hostname>-<port>               | names a gateway's transactional producers (stable across its restarts, unique among gateways) |
| CLICKHOUSE_URL        | chdb:///<data dir>/clickhouse   | ClickHouse server URL or embedded chdb    |
| PICKET_DATA_DIR       | ./picket-data                   | where embedded broker and chdb keep data  |
| PICKET_DATABASE       | picket                          | ClickHouse database                       |
| PICKET_TOPIC_PREFIX   | (empty)                         | prefix of every topic and consumer group  |
| PICKET_PUBLIC_URL     | http://<host>:<port>            | base URL used in DSNs                     |
| PICKET_REPLY_TIMEOUT  | 15                              | seconds the gateway waits for a verdict   |
| PICKET_FEEDBACK_EDIT_WINDOW | 300                       | seconds user feedback stays replaceable   |
| PICKET_CLOCK          | wall                            | `manual`: monitors clock ticks come from outside (tests) |
| PICKET_FAST_GROUP_JOIN | 0                              | `1`: short consumer-group timings (embedded broker) |
| PICKET_STORE_LISTEN   | (unset)                         | `host:port` where a worker serves its embedded ClickHouse |
| PICKET_STORE_PASSWORD | (unset)                         | the password of that server (user `picket`) |
| PICKET_METRICS_LISTEN | (unset; `picket run`: a loopback port) | `host:port` where a worker serves `/metrics` (Prometheus) |
| PICKET_METRICS_TOKEN  | (unset: no auth)                | bearer token `/metrics` (gateway's and worker's) asks for |
| PICKET_HEALTH_STALL_SECONDS | 60                        | seconds a consumer group may be behind without committing before `/_health/ready` calls it stuck |
| PICKET_REUSE_PORT     | 0                               | `1`: a gateway binds its port beside other gateways (SO_REUSEPORT; `picket run --gateways N` sets it) |
| PICKET_BODY_BUDGET    | 268435456 (256 MiB)             | request-body bytes a gateway holds at once; past it, 503 + Retry-After |
| PICKET_HOOKS_ALLOW_PRIVATE | 0                          | `1`: webhooks may go to private, loopback and link-local addresses |
| PICKET_HOOKS_TIMEOUT  | 10                              | seconds a webhook request may take        |
| PICKET_HOOKS_ATTEMPTS | 8                               | tries of a webhook before it is dead-lettered |
| PICKET_HOOKS_RETRY_BASE | 1.0                           | seconds before the first retry of a webhook (doubling, capped at 300 s, jittered) |
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path

from picket.bus.connection import KafkaConnection


@dataclass(frozen=True)
class Settings:
    kafka: KafkaConnection | None
    clickhouse_url: str
    data_dir: Path
    database: str
    topic_prefix: str
    public_url: str
    reply_timeout: float
    # Idempotent producers need broker support (InitProducerId) that the Tansu fallback lacks.
    idempotent_producer: bool = True
    # Each request's messages in one Kafka transaction (services/bus/publisher.py).
    transactions: bool = True
    gateway_id: str = ""
    # How long user feedback on an event may still be replaced (Sentry: 5 minutes).
    feedback_edit_window: float = 300.0
    # "wall": the worker ticks the monitors clock every minute; "manual": ticks come from outside.
    clock: str = "wall"
    # Seconds between passes of the rollups' sealer.
    seal_interval: float = 10.0
    # Seconds ingestion waits for the broker's acks before answering 503 + Retry-After.
    ingest_ack_timeout: float = 1.0
    # Short consumer-group timings: set for the Tansu fallback broker, where a join waits half
    # the session timeout.
    fast_group_join: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    # Where a worker on embedded chdb serves ClickHouse's HTTP interface to the gateway process.
    store_listen: str | None = None
    store_password: str = field(default="", repr=False)
    # Where a worker serves its counters (`/metrics`, `services/metrics.py`); None: nowhere.
    metrics_listen: str | None = None
    # The bearer token `/metrics` asks for (gateway and worker); empty: none.
    metrics_token: str = field(default="", repr=False)
    # Seconds a consumer group may stay behind without committing before readiness calls it stuck.
    health_stall_seconds: float = 60.0
    # Bind the gateway's port with SO_REUSEPORT, beside other gateway processes.
    reuse_port: bool = False
    # Request-body bytes a gateway process holds at once (received, or decoded when compressed);
    # a request that would pass it is answered 503 with Retry-After.
    body_budget: int = 256 * 1024 * 1024
    # Where uploaded files' chunks are kept (`picket.blobs.store.open_blob_store`): a directory
    # (the default: `<data dir>/blobs`) or `s3://bucket/prefix?endpoint=...`.
    blob_store: str = ""
    # Seconds a deleted artifact's chunks stay before the sweeper may remove them.
    blob_gc_grace: float = 600.0
    # Webhooks (`services/hooks/`): may they go to private addresses; seconds a request may take;
    # tries before a delivery is dead-lettered; seconds before the first retry.
    hooks_allow_private: bool = False
    hooks_timeout: float = 10.0
    hooks_attempts: int = 8
    hooks_retry_base: float = 1.0

    @property
    def blob_store_url(self) -> str:
        return self.blob_store or str(self.data_dir / "blobs")

    @property
    def app_id(self) -> str:
        """Faust application id, also the consumer-group prefix."""
        return f"{self.topic_prefix}picket"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def from_env(data_dir: str | None = None, host: str | None = None, port: int | None = None) -> Settings:
    env = os.environ
    root = Path(data_dir or env.get("PICKET_DATA_DIR") or "picket-data").resolve()
    host = host or env.get("PICKET_HOST") or "127.0.0.1"
    port = port if port is not None else int(env.get("PICKET_PORT") or 8000)
    return Settings(
        kafka=KafkaConnection.from_env(env),
        clickhouse_url=env.get("CLICKHOUSE_URL") or f"chdb:///{root / 'clickhouse'}",
        data_dir=root,
        database=env.get("PICKET_DATABASE") or "picket",
        topic_prefix=env.get("PICKET_TOPIC_PREFIX", ""),
        public_url=(env.get("PICKET_PUBLIC_URL") or f"http://{host}:{port}").rstrip("/"),
        reply_timeout=float(env.get("PICKET_REPLY_TIMEOUT") or 15),
        idempotent_producer=env.get("PICKET_KAFKA_IDEMPOTENCE", "1") != "0",
        transactions=env.get("PICKET_KAFKA_TRANSACTIONS", "1") != "0",
        gateway_id=env.get("PICKET_GATEWAY_ID") or f"{socket.gethostname()}-{port}",
        feedback_edit_window=float(env.get("PICKET_FEEDBACK_EDIT_WINDOW") or 300),
        clock=env.get("PICKET_CLOCK") or "wall",
        seal_interval=float(env.get("PICKET_SEAL_INTERVAL") or 10),
        ingest_ack_timeout=float(env.get("PICKET_INGEST_ACK_TIMEOUT") or 1),
        fast_group_join=env.get("PICKET_FAST_GROUP_JOIN") == "1",
        host=host,
        port=port,
        store_listen=env.get("PICKET_STORE_LISTEN") or None,
        store_password=env.get("PICKET_STORE_PASSWORD", ""),
        metrics_listen=env.get("PICKET_METRICS_LISTEN") or None,
        metrics_token=env.get("PICKET_METRICS_TOKEN", ""),
        health_stall_seconds=float(env.get("PICKET_HEALTH_STALL_SECONDS") or 60),
        reuse_port=env.get("PICKET_REUSE_PORT") == "1",
        body_budget=int(env.get("PICKET_BODY_BUDGET") or 256 * 1024 * 1024),
        blob_store=env.get("PICKET_BLOB_STORE", ""),
        blob_gc_grace=float(env.get("PICKET_BLOB_GC_GRACE") or 600),
        hooks_allow_private=env.get("PICKET_HOOKS_ALLOW_PRIVATE") == "1",
        hooks_timeout=float(env.get("PICKET_HOOKS_TIMEOUT") or 10),
        hooks_attempts=int(env.get("PICKET_HOOKS_ATTEMPTS") or 8),
        hooks_retry_base=float(env.get("PICKET_HOOKS_RETRY_BASE") or 1.0),
    )

