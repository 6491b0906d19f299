"""What a worker counts, in Prometheus' text format on `/metrics`.

Counters move once their work is done: a consumer's messages once the batch was handled and its
offsets committed, a table's rows once the insert returned (they are queryable then; a batch
retried after a failure inserts, and counts, its rows again), dead letters once their batch was
produced. So a scraper that sees N rows of a table knows N rows can be read, and counting costs
the process a few increments per batch, not a query.
Names follow Prometheus' conventions (`picket_…_total`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
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
RETRIES = Counter("picket_consumer_retries_total", "Batches handled again after a failure, by consumer.",
                  ["consumer"], registry=REGISTRY)
ROWS_WRITTEN = Counter("picket_store_rows_written_total", "Rows inserted into the store (retries included), by table.", ["table"],
                       registry=REGISTRY)
DEAD_LETTERS = Counter("picket_dead_letters_total", "Messages sent to a dead-letter topic, by consumer.",
                       ["consumer"], registry=REGISTRY)


async def _metrics(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def metrics_app() -> Starlette:
    """`GET /metrics`: this process's counters."""
    return Starlette(routes=[Route("/metrics", _metrics)])
