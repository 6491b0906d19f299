"""What a worker counts, in Prometheus' text format on `/metrics`.

Counters move once their work is done: a consumer's messages once the batch was handled and its
offsets committed, a table's rows once the insert returned (they are queryable then; a batch
retried after a failure inserts, and counts, its rows again), dead letters once their batch was
produced. So a scraper that sees N rows of a table knows N rows can be read, and counting costs
the process a few increments per batch, not a query.
Timed: a batch from fetch to commit, an insert until it returned (failed ones too: a slow
failing store shows).
Sampled, not counted: each consumer's lag (end offsets less what it committed, on the partitions
it holds) every few seconds, and the time of its last commit.
Names follow Prometheus' conventions (`picket_…_total`). With `PICKET_METRICS_TOKEN` set, `/metrics`
asks for it as a bearer token (the gateway's too, `picket.gateway.metrics`).
"""

from __future__ import annotations

import hmac

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

REGISTRY = CollectorRegistry(auto_describe=True)

CONSUMED = Counter("picket_consumer_messages_total", "Messages handled and committed, by consumer.",
                   ["consumer"], registry=REGISTRY)
BATCHES = Histogram("picket_consumer_batch_size", "Messages per handled batch, by consumer.", ["consumer"],
                    buckets=(1, 10, 100, 1000, 10_000), registry=REGISTRY)
BATCH_SECONDS = Histogram("picket_consumer_batch_duration_seconds",
                          "Time from a fetched batch to its offsets committed (every try of its "
                          "handler included), by consumer.", ["consumer"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
                          registry=REGISTRY)
RETRIES = Counter("picket_consumer_retries_total", "Batches handled again after a failure, by consumer.",
                  ["consumer"], registry=REGISTRY)
ROWS_WRITTEN = Counter("picket_store_rows_written_total", "Rows inserted into the store (retries included), by table.", ["table"],
                       registry=REGISTRY)
INSERT_SECONDS = Histogram("picket_store_insert_duration_seconds",
                           "Time an insert into the store took until it returned, by table.", ["table"],
                           buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                           registry=REGISTRY)
DEAD_LETTERS = Counter("picket_dead_letters_total", "Messages sent to a dead-letter topic, by consumer.",
                       ["consumer"], registry=REGISTRY)
LAG = Gauge("picket_consumer_lag_messages",
            "Messages on the consumer's partitions past what it committed (sampled), by consumer and group.",
            ["consumer", "group"], registry=REGISTRY)
LAST_COMMIT = Gauge("picket_consumer_last_commit_timestamp_seconds",
                    "When the consumer last committed offsets (Unix time), by consumer and group.",
                    ["consumer", "group"], registry=REGISTRY)
HOOK_DELIVERIES = Counter("picket_hook_deliveries_total",
                          "Webhook deliveries delivered or dead_lettered, and tries that failed and are "
                          "retried, by outcome.", ["outcome"], registry=REGISTRY)


def authorized(request: Request, token: str) -> bool:
    """Whether `request` may read metrics: always without a token, else with it as bearer."""
    if not token:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def unauthorized() -> Response:
    return Response("metrics need the bearer token (PICKET_METRICS_TOKEN)\n", status_code=401,
                    media_type="text/plain", headers={"WWW-Authenticate": "Bearer"})


def metrics_app(token: str = "") -> Starlette:
    """`GET /metrics`: this process's counters (asking for `token` as bearer, if given)."""

    async def metrics(request: Request) -> Response:
        if not authorized(request, token):
            return unauthorized()
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", metrics)])
