"""What SDKs send: `POST /api/{project_id}/envelope/` and the legacy `POST /api/{project_id}/store/`;
and what cron jobs send: `GET|POST /api/{project_id}/cron/{monitor_slug}/{sentry_key}/`.

The answer comes once every item is durably on Kafka (`acks=all`); processing is asynchronous.
- DSN auth: `X-Sentry-Auth`, `Authorization: Sentry …`, `?sentry_key=`, or the envelope's `dsn`;
  unknown key → 401, disabled key or key of another project → 403, checked before the body is
  read (`request_body`: only a key in the envelope header has that line read first).
- malformed body → 400, over the size limits → 413, both with `{"detail"}` and nothing written;
  over the gateway's budget of body bytes → 503 with `Retry-After`.
- per-key rate limit → 429 with `Retry-After` and `X-Sentry-Rate-Limits`, and `rate_limited`
  outcomes.
- Item types without a consumer, oversized items and client reports become outcomes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from picket.schemas import topics as t
from picket.schemas.entities import ProjectKey
from picket.schemas.ingest import IngestItem, Outcome
from picket.gateway.fast_path import FastRoute
from picket.gateway.publishing import CORS_HEADERS, publish
from picket.gateway.publishing import ingest_error as _error
from picket.gateway.request_body import Lease, Refused, closes_connection, read_ingest_body
from picket.gateway.runtime import Runtime, path_int, runtime
from picket.ingest.client_reports import client_report_outcomes
from picket.ingest.cron import cron_envelope
from picket.ingest.limits import Limits
from picket.ingest.item_ids import item_ids
from picket.ingest.envelope import (
    Envelope,
    EnvelopeError,
    PayloadTooLarge,
    oversized_items,
    parse_envelope,
    store_payload_to_envelope,
)
from picket.ingest.outcomes import ITEM_CATEGORY, Category, OutcomeKind, outcome

ITEM_TOPICS = {
    "event": t.INGEST_EVENTS,
    "security": t.INGEST_EVENTS,
    "transaction": t.INGEST_TRANSACTIONS,
    "attachment": t.INGEST_ATTACHMENTS,
    "session": t.INGEST_SESSIONS,
    "sessions": t.INGEST_SESSIONS,
    "check_in": t.INGEST_MONITORS,
    "feedback": t.INGEST_FEEDBACK,
    "user_report": t.INGEST_FEEDBACK,
}
# Items a client key's rate limit counts (as Sentry's key limits: errors and transactions).
RATE_LIMITED_TYPES = {"event", "security", "transaction"}


async def _authenticated_envelope(request: Request, rt: Runtime, project_id: int, parse: Any,
                                  lease: Lease, path_key: str | None,
                                  body_limit: int | None) -> tuple[ProjectKey, Envelope]:
    """The request's client key, checked before its body is read, and its body (at most
    `body_limit` bytes, read or decoded, when given) parsed by `parse`; `_error`s (401/403, 400,
    413, 503) otherwise."""
    limits = rt.limits
    raw_limit, limit = limits.max_compressed_body, limits.max_envelope_size
    if body_limit is not None:
        raw_limit, limit = min(raw_limit, body_limit), min(limit, body_limit)
    try:
        key, data = await read_ingest_body(
            request, project_id=project_id, keys=rt.keys.get, raw_limit=raw_limit, limit=limit, lease=lease,
            envelope=parse is parse_envelope, path_key=path_key,
        )
        return key, parse(data, limits)
    except Refused as exc:
        raise _error(exc.status, exc.detail, exc.headers) from None
    except PayloadTooLarge as exc:
        raise _error(413, exc.detail) from None
    except EnvelopeError as exc:
        raise _error(400, exc.detail) from None


def _event_id(envelope: Envelope) -> str | None:
    event_id = envelope.headers.get("event_id")
    return event_id if isinstance(event_id, str) else None


async def _accept(request: Request, parse: Any, lease: Lease, path_key: str | None = None,
                  body_limit: int | None = None) -> str | None:
    """Publish what the request carries (its body parsed by `parse` into an envelope); its
    event id, if it has one."""
    rt = runtime(request)
    project_id = path_int(request.path_params["project_id"])
    if project_id is None:
        raise _error(404, "Unknown project.", {"Connection": "close"} if closes_connection(request) else None)
    limits = rt.limits
    key, envelope = await _authenticated_envelope(request, rt, project_id, parse, lease, path_key, body_limit)
    received = datetime.now(timezone.utc)
    event_id = _event_id(envelope)
    common = {"org_id": key.org_id, "project_id": key.project_id, "key_id": key.id}

    ids = item_ids(key.project_id, event_id, envelope.items, envelope.sent_at)
    limited = [i for i in envelope.items if i.type in RATE_LIMITED_TYPES]
    wait = rt.rate_limiter.admit(key.id, key.rate_limit, len(limited)) if limited else None
    if wait is not None:
        rejected = [
            outcome(timestamp=received, kind=OutcomeKind.RATE_LIMITED, reason="key_quota",
                    category=ITEM_CATEGORY.get(i.type, Category.DEFAULT), event_id=event_id,
                    id=f"{item_id}:gateway", **common)
            for i, item_id in zip(envelope.items, ids) if i.type != "client_report"
        ]
        await publish(rt, [], rejected)
        seconds = str(int(wait + 0.999))
        raise _error(429, "Event dropped due to rate limiting", {
            "Retry-After": seconds,
            "X-Sentry-Rate-Limits": f"{seconds}:error;transaction;security:key:key_quota",
        })

    too_big = {id(item): reason for item, reason in oversized_items(envelope, limits)}
    messages: list[tuple[t.Topic, IngestItem]] = []
    outcomes: list[Outcome] = []
    reported: list[Outcome] = []  # by the client, of what it dropped itself
    for item, item_id in zip(envelope.items, ids):
        category = ITEM_CATEGORY.get(item.type, Category.DEFAULT)
        if id(item) in too_big:
            outcomes.append(outcome(timestamp=received, kind=OutcomeKind.INVALID, reason=too_big[id(item)],
                                    category=category, event_id=event_id, id=f"{item_id}:gateway", **common))
            continue
        if item.type == "client_report":
            try:
                client_report = client_report_outcomes(item.payload, received=received, **common)
            except ValueError:
                continue  # a broken report is the client's loss, not a reason to refuse its events
            reported.extend(msgspec.structs.replace(o, id=f"{item_id}:{n}") for n, o in enumerate(client_report))
            continue
        topic = ITEM_TOPICS.get(item.type)
        if topic is None:
            outcomes.append(outcome(timestamp=received, kind=OutcomeKind.INVALID, reason="unsupported_item",
                                    category=category, event_id=event_id, id=f"{item_id}:gateway", **common))
            continue
        messages.append((topic, IngestItem(
            item_type=item.type, received=received, event_id=event_id, payload=item.payload,
            headers=item.headers, remote_addr=request.client.host if request.client else None,
            sdk=request.headers.get("user-agent"), item_id=item_id, **common,
        )))
    await publish(rt, messages, outcomes, reported)
    return event_id


def _accepted(event_id: str | None) -> Response:
    return JSONResponse({"id": event_id} if event_id else {}, headers=CORS_HEADERS)


async def envelope_endpoint(request: Request) -> Response:
    with runtime(request).body_budget.lease() as lease:  # the body counts until the answer
        return _accepted(await _accept(request, parse_envelope, lease))


async def store_endpoint(request: Request) -> Response:
    with runtime(request).body_budget.lease() as lease:
        return _accepted(await _accept(request, store_payload_to_envelope, lease))


async def cron_endpoint(request: Request) -> Response:
    """Sentry's HTTP check-in (`picket.ingest.cron`): 202 with no body once the check-in is on
    Kafka; never 429, as Relay."""
    slug = request.path_params["monitor_slug"]
    query = request.query_params
    content_type = request.headers.get("content-type")

    def parse(body: bytes, limits: Limits) -> Envelope:
        return cron_envelope(slug, query, body, content_type, limits)

    rt = runtime(request)
    with rt.body_budget.lease() as lease:  # one check-in: no body larger than one is read
        await _accept(request, parse, lease, path_key=request.path_params.get("sentry_key"),
                      body_limit=rt.limits.max_check_in_size)
    return Response(status_code=202, headers=CORS_HEADERS)


async def preflight(_: Request) -> Response:
    return Response(status_code=200, headers={
        **CORS_HEADERS,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Content-Encoding, X-Sentry-Auth, Authorization, sentry-trace, baggage",
        "Access-Control-Max-Age": "3600",
    })


# As Relay: with and without the key in the path, with and without the trailing slash (a
# redirect would lose a curl POST's body).
CRON_PATHS = ("/api/{project_id}/cron/{monitor_slug}/{sentry_key}/", "/api/{project_id}/cron/{monitor_slug}/{sentry_key}",
              "/api/{project_id}/cron/{monitor_slug}/", "/api/{project_id}/cron/{monitor_slug}")

# Served ahead of the router (`picket.gateway.fast_path`).
fast_routes = [
    FastRoute("/api/{project_id}/envelope/", envelope_endpoint, ("POST",)),
    FastRoute("/api/{project_id}/store/", store_endpoint, ("POST",)),
    *(FastRoute(path, cron_endpoint, ("GET", "POST")) for path in CRON_PATHS),
]

# The same through the router (for what the fast path leaves: other methods, preflights).
routes = [
    Route("/api/{project_id}/envelope/", envelope_endpoint, methods=["POST"]),
    Route("/api/{project_id}/store/", store_endpoint, methods=["POST"]),
    Route("/api/{project_id}/envelope/", preflight, methods=["OPTIONS"]),
    Route("/api/{project_id}/store/", preflight, methods=["OPTIONS"]),
    *(Route(path, cron_endpoint, methods=["GET", "POST"]) for path in CRON_PATHS),
]
