"""Release-health items → `sessions` rows. Pure.

A `session` item is one update of one session (sid, seq): rows are keyed by (sid, seq) so a
replayed update is stored once, and queries take each session's latest update. A `sessions`
item is pre-aggregated counts per start time: each aggregate becomes one row keyed by where it
came from, so a replay is stored once too.

Counters that make no sense (negative, not integers, or larger than their column holds: `seq`
UInt64, the counts UInt32) are stored as 0, and an aggregate whose total a UInt32 cannot hold is
skipped: a value the insert cannot encode would fail its batch on every retry.
"""

from __future__ import annotations

from typing import Any

from schemas.ingest import IngestItem
from services.ingest.outcomes import Category
from services.ingest.processed import Processed, as_datetime, json_object, number, text

COLUMNS = (
    "org_id", "project_id", "session_id", "seq", "distinct_id", "init", "status", "errors", "started",
    "timestamp", "duration", "release", "environment", "quantity", "exited", "errored", "abnormal",
    "crashed", "aggregate", "received",
)
STATUSES = {"ok", "exited", "crashed", "abnormal", "errored"}
MAX_COUNT = 2**32 - 1  # UInt32 columns
MAX_SEQ = 2**64 - 1  # UInt64


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_COUNT else 0


def process_session_item(item: IngestItem, origin: str) -> Processed:
    """`origin` identifies the Kafka message (topic/partition/offset) for aggregate rows."""
    out = Processed()
    body = json_object(item.payload)
    if body is None:
        out.reject(item, Category.SESSION, "invalid_json")
        return out
    attrs = body.get("attrs") if isinstance(body.get("attrs"), dict) else {}
    release = text(attrs.get("release"))
    environment = text(attrs.get("environment"), 64)
    if not release:
        out.reject(item, Category.SESSION, "missing_release")
        return out
    if item.item_type == "session":
        sid = text(body.get("sid"), 64)
        status = body.get("status", "ok")
        if not sid or status not in STATUSES:
            out.reject(item, Category.SESSION, "invalid_session")
            return out
        started = as_datetime(body.get("started"), item.received)
        seq = body.get("seq")
        out.rows.append((
            item.org_id, item.project_id, sid, seq if isinstance(seq, int) and 0 <= seq <= MAX_SEQ else 0,
            text(body.get("did"), 128), int(body.get("init") is True), status, _count(body.get("errors")),
            started, as_datetime(body.get("timestamp"), item.received), number(body.get("duration")),
            release, environment, 1, 0, 0, 0, 0, 0, item.received,
        ))
        out.accept(item, Category.SESSION)
        return out
    aggregates = body.get("aggregates")
    if not isinstance(aggregates, list):
        out.reject(item, Category.SESSION, "invalid_session")
        return out
    total = 0
    for index, agg in enumerate(aggregates):
        if not isinstance(agg, dict):
            continue
        exited, errored = _count(agg.get("exited")), _count(agg.get("errored"))
        abnormal, crashed = _count(agg.get("abnormal")), _count(agg.get("crashed"))
        quantity = exited + errored + abnormal + crashed
        if quantity == 0 or quantity > MAX_COUNT:
            continue
        total += quantity
        started = as_datetime(agg.get("started"), item.received)
        out.rows.append((
            item.org_id, item.project_id, f"{origin}/{index}", 0, text(agg.get("did"), 128), 1, "aggregate", 0,
            started, started, None, release, environment, quantity, exited, errored, abnormal, crashed, 1,
            item.received,
        ))
    if total:
        out.accept(item, Category.SESSION, quantity=total)
    return out
