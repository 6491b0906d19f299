"""A transaction item → its `transactions` row and outcomes. Pure.

The payload is normalized as an event is (`picket.ingest.normalize`: release, environment,
platform, user, tags, contexts), then what makes it a transaction is read as Relay validates
it: a trace context with a valid trace id, a start and an end timestamp, the end not before the
start. A transaction that fails these, is not a JSON object, or ends outside the window events
are kept in (30 days back, a minute ahead: shifting it would misplace its duration) is refused
with an `invalid` outcome and no row; an accepted one counts as today: one `transaction`.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from picket.schemas.ingest import IngestItem
from picket.schemas.rows import TransactionRow
from picket.ingest.normalize import (
    MAX_SECS_IN_FUTURE, MAX_SECS_IN_PAST, normalize_event, parse_event_id, parse_timestamp, user_tag_value)
from picket.ingest.outcomes import Category
from picket.ingest.processed import Processed, json_object

COLUMNS = TransactionRow._fields

# Sentry's span statuses; anything else (or none) is `unknown`, as Relay stores it.
SPAN_STATUSES = frozenset({
    "ok", "cancelled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists",
    "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range",
    "unimplemented", "internal_error", "unavailable", "data_loss", "unauthenticated",
})
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
_MEASUREMENT = re.compile(r"[a-z0-9_.\-]{1,64}")
MAX_MEASUREMENTS = 50
MAX_MEASUREMENT = 1e15
# Measurements in a duration unit are stored in milliseconds, as Discover shows durations.
_TO_MS = {"nanosecond": 1e-6, "microsecond": 1e-3, "millisecond": 1.0, "second": 1e3, "minute": 6e4,
          "hour": 3.6e6, "day": 8.64e7, "week": 6.048e8}
MAX_OP = 64
MAX_USER_FIELD = 128
MAX_USER_TAG = 200
MAX_URL = 1024


def _short(value: Any, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _measurements(value: Any) -> tuple[list[str], list[float]]:
    """Well-formed measurements only (`{"lcp": {"value": 1.2, "unit": "second"}}`), by name."""
    found: dict[str, float] = {}
    for name, entry in (value.items() if isinstance(value, dict) else ()):
        key = name.lower() if isinstance(name, str) else ""
        number = entry.get("value") if isinstance(entry, dict) else None
        if (not _MEASUREMENT.fullmatch(key) or isinstance(number, bool) or not isinstance(number, (int, float))
                or len(found) >= MAX_MEASUREMENTS):
            continue
        number = float(number) * _TO_MS.get(entry.get("unit") or "millisecond", 1.0)
        if math.isfinite(number) and abs(number) <= MAX_MEASUREMENT:
            found[key] = number
    names = sorted(found)
    return names, [found[n] for n in names]


def _times(raw: dict[str, Any], received: datetime) -> tuple[datetime, datetime] | str:
    """(start, end), or why they are refused."""
    start, end = parse_timestamp(raw.get("start_timestamp")), parse_timestamp(raw.get("timestamp"))
    if start is None or end is None:
        return "a transaction needs a start_timestamp and a timestamp"
    if end < start:
        return "the timestamp is before the start_timestamp"
    if not received - MAX_SECS_IN_PAST <= end <= received + MAX_SECS_IN_FUTURE:
        return "the timestamp is out of the accepted window"
    return start, end


def transaction_row(raw: Any, item: IngestItem) -> TransactionRow | str:
    """The row of a decoded transaction payload, or why it is refused."""
    if not isinstance(raw, dict):
        return f"expected a JSON object, got {type(raw).__name__}"
    times = _times(raw, item.received)
    if isinstance(times, str):
        return times
    start, end = times
    try:
        # Without an id of its own, the item's id names it: a redelivery is the same row.
        own_id = item.event_id or parse_event_id(raw.get("event_id")) or item.item_id or None
        event = normalize_event(raw, project_id=item.project_id, received=item.received, event_id=own_id,
                                client_ip=item.remote_addr, size=len(item.payload))
    except ValueError as exc:
        return str(exc)
    trace = event.contexts.get("trace", {})
    trace_id = parse_event_id(trace.get("trace_id"))
    if trace_id is None:
        return "a transaction needs a trace context with a valid trace_id"
    span_id, parent = _short(trace.get("span_id"), 16), _short(trace.get("parent_span_id"), 16)
    status = trace.get("status")
    user = event.user
    request = event.request or {}
    names, values = _measurements(raw.get("measurements"))
    # An event's default level (`error`) says nothing of a transaction: its tag is left out.
    tags = [(k, v) for k, v in event.tags if k != "level"]
    return TransactionRow(
        project_id=item.project_id, event_id=event.event_id, trace_id=trace_id,
        span_id=span_id if _SPAN_ID.fullmatch(span_id) else "", parent_span_id=parent if _SPAN_ID.fullmatch(parent) else "",
        transaction=event.transaction or "", op=_short(trace.get("op"), MAX_OP),
        status=status if isinstance(status, str) and status in SPAN_STATUSES else "unknown", start_timestamp=start, timestamp=end,
        duration=(end - start).total_seconds() * 1000, release=event.release or "",
        environment=event.environment or "", platform=event.platform,
        user_id=_short(user.id, MAX_USER_FIELD) if user and user.id else "",
        user_email=_short(user.email, MAX_USER_FIELD) if user and user.email else "",
        user_username=_short(user.username, MAX_USER_FIELD) if user and user.username else "",
        user_ip=(user.ip_address or "") if user else "", user_tag=(user_tag_value(user) or "")[:MAX_USER_TAG],
        tags_key=[k for k, _ in tags], tags_value=[v for _, v in tags], measurements_key=names,
        measurements_value=values, http_method=_short(request.get("method"), 16).upper(),
        http_url=_short(request.get("url"), MAX_URL), received=item.received,
    )


def process_transaction_item(item: IngestItem, _origin: str = "") -> Processed:
    """One `transaction` item: its row and an accepted outcome, or an invalid outcome alone."""
    out = Processed()
    raw, problem = json_object(item.payload)
    if raw is None:
        out.reject(item, Category.TRANSACTION, "invalid_json", detail=problem)
        return out
    row = transaction_row(raw, item)
    if isinstance(row, str):
        out.reject(item, Category.TRANSACTION, "invalid_transaction", detail=row)
        return out
    out.rows.append(row)
    out.accept(item, Category.TRANSACTION)
    return out
