"""Ingestion writes: a request's items and outcomes published all or nothing, and the shape of
ingestion's answers (CORS headers, `X-Sentry-Error`), which SDKs in browsers read cross-origin."""

from __future__ import annotations

import functools

from picket.schemas import topics as t
from picket.schemas.ingest import IngestItem, Outcome
from picket.bus.publisher import PublishFailed
from picket.bus.topics import Topics
from picket.gateway.errors import ApiError
from picket.gateway.metrics import count_items
from picket.gateway.runtime import Runtime
from picket.ingest.item_ids import names_itself

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "X-Sentry-Error, X-Sentry-Rate-Limits, Retry-After",
}


def ingest_error(status: int, detail: str, headers: dict[str, str] | None = None) -> ApiError:
    """An ingestion refusal: the detail also in `X-Sentry-Error`, with the CORS headers."""
    return ApiError(status, detail, {**CORS_HEADERS, "X-Sentry-Error": detail, **(headers or {})})


@functools.lru_cache(maxsize=8)
def _topics(prefix: str, app_id: str) -> Topics:
    return Topics(prefix, app_id)


def topics_of(rt: Runtime) -> Topics:
    """The topic names of the gateway's deployment."""
    return _topics(rt.settings.topic_prefix, rt.settings.app_id)


async def publish(rt: Runtime, messages: list[tuple[t.Topic, IngestItem]], outcomes: list[Outcome],
                  reported: list[Outcome] | None = None) -> None:
    """Publish a request's items and outcomes (the gateway's, and those the client `reported`
    about itself), all or nothing (one Kafka transaction), and answer once the broker has them;
    503 with `Retry-After` if it does not take them within `ingest_ack_timeout` (unreachable, or
    too slow to keep up: the client backs off instead of requests piling up here), and then
    nothing of the request is counted. Items larger than a Kafka message go in chunks."""
    topics = _topics(rt.settings.topic_prefix, rt.settings.app_id)
    out = [r for topic, msg in messages for r in topics.chunked(topic, msg, msg.item_id)]
    out += [topics.record(t.OUTCOMES, o) for o in (*outcomes, *(reported or ()))]
    # One record of an item that counts once by itself is atomic without a transaction.
    alone = len(out) == 1 and bool(messages) and names_itself(messages[0][1].item_type, messages[0][1].event_id)
    try:
        await rt.publisher.publish(out, rt.settings.ingest_ack_timeout, atomic=not alone)
    except PublishFailed:
        raise ingest_error(503, "Ingestion is unavailable; try again.", {"Retry-After": "1"}) from None
    count_items([msg for _, msg in messages], outcomes)
