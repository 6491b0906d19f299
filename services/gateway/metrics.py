"""What a gateway counts, in Prometheus' text format on `GET /metrics` of its own port.

- `picket_http_requests_total{route, method, status}` and
  `picket_http_request_duration_seconds{route, method}`: every request, labelled by its route's
  template (`/api/{project_id}/envelope/`, never the raw path: ids would make a series each),
  `unmatched` when no route took it; methods outside HTTP's usual ones count as `other`.
- `picket_ingest_items_total{category, outcome, reason}`: envelope items as the gateway decided
  them, counted once the broker has them: `accepted` (published for processing, `reason=""`) or
  the outcome it published for them (`rate_limited`/`key_quota`, `invalid`/`max_event_size`, …).
  Outcomes an SDK reports about itself (client reports) are not the gateway's and not counted.
- `picket_command_verdicts_total{command, outcome}`: each command's verdict: `accepted`, the
  agent's refusal (`conflict`, `not_found`, `invalid`, `forbidden`), `timeout` or `unavailable`.
- `picket_store_query_duration_seconds{route}`: store reads (`Runtime.read` and `Runtime.query`),
  by the template of the route that made them.

Several gateway processes on one port (`picket run --gateways N`) count together:
`picket run` points each at one directory (`PROMETHEUS_MULTIPROC_DIR`, under the data dir, emptied
at start) before they import prometheus_client, and whichever answers the scrape sums every
process's files (prometheus_client's multiprocess mode). Without it, a process counts alone.
"""

from __future__ import annotations

import os
import time
from contextvars import ContextVar
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from picket.ingest.outcomes import ITEM_CATEGORY, Category, OutcomeKind
from picket.metrics import authorized, unauthorized
from picket.schemas.ingest import IngestItem, Outcome

REGISTRY = CollectorRegistry(auto_describe=True)

UNMATCHED = "unmatched"  # the route label of a request no route took (404s of unknown paths)
NO_ROUTE = "none"  # the route label of a store read made outside any request
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter("picket_http_requests_total", "HTTP requests answered, by route template, method and status.",
                   ["route", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("picket_http_request_duration_seconds",
                    "Seconds from a request's arrival to the end of its answer, by route template and method.",
                    ["route", "method"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
ITEMS = Counter("picket_ingest_items_total",
                "Envelope items the gateway accepted or refused, once on Kafka, by data category, outcome and "
                "reason.", ["category", "outcome", "reason"], registry=REGISTRY)
COMMANDS = Counter("picket_command_verdicts_total", "Command verdicts, by command type and outcome.",
                   ["command", "outcome"], registry=REGISTRY)
STORE_QUERIES = Histogram("picket_store_query_duration_seconds",
                          "Seconds of the gateway's store reads, by the template of the route that made them.",
                          ["route"], buckets=LATENCY_BUCKETS, registry=REGISTRY)

# The scope of the request being handled (its route is known once the router matched it).
CURRENT: ContextVar[Scope | None] = ContextVar("picket_request_scope", default=None)


def multiprocess_dir() -> str | None:
    """The directory of prometheus_client's multiprocess mode, when it is on (chosen, as the
    library does, from the environment of the process at its start)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


def exposition() -> bytes:
    """Every gateway process's counters (in multiprocess mode), or this process's."""
    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path)
    return generate_latest(registry)


async def metrics_endpoint(request: Request) -> Response:
    """`GET /metrics`: open, unless `PICKET_METRICS_TOKEN` asks for a bearer token."""
    state = getattr(request.app.state, "runtime", None)
    token = getattr(getattr(state, "settings", None), "metrics_token", "") or ""
    if not authorized(request, token):
        return unauthorized()
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def route_label(scope: Scope) -> str:
    """The template of the route that took the request (the router and the fast path put it in
    the scope), `unmatched` if none did."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


_request_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    method = method_label(method)
    key = (route, method, status)
    series = _request_series.get(key)
    if series is None:  # the labelled children, looked up once (labels() takes a lock)
        series = _request_series[key] = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route, method))
    series[0].inc()
    series[1].observe(seconds)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route's template (plain ASGI: it wraps the
    ingestion fast path too, `Gateway(outer=…)`), and makes the request's scope known to store
    reads made meanwhile."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # no answer begun: the request failed

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = CURRENT.set(scope)
        try:
            await self.app(scope, receive, counting_send)
        finally:
            CURRENT.reset(token)
            observe_request(route_label(scope), scope["method"], status, time.perf_counter() - started)


def observe_store_query(seconds: float) -> None:
    """A store read of the request being handled took `seconds`."""
    scope = CURRENT.get()
    STORE_QUERIES.labels(NO_ROUTE if scope is None else route_label(scope)).observe(seconds)


def _category(number: int) -> str:
    try:
        return Category(number).name.lower()
    except ValueError:
        return "unknown"


def _outcome(number: int) -> str:
    try:
        return OutcomeKind(number).name.lower()
    except ValueError:
        return "unknown"


def count_items(items: list[IngestItem], outcomes: list[Outcome]) -> None:
    """A request's items published (`accepted`) and the outcomes of those the gateway refused."""
    for item in items:
        ITEMS.labels(ITEM_CATEGORY.get(item.item_type, Category.DEFAULT).name.lower(), "accepted", "").inc()
    for o in outcomes:
        ITEMS.labels(_category(o.category), _outcome(o.outcome), o.reason or "").inc()


def count_verdict(command: Any, outcome: str) -> None:
    COMMANDS.labels(type(command).__name__, outcome).inc()
