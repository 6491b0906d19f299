"""Client reports (what SDKs dropped themselves) as outcomes. Pure.

As Relay does: `discarded_events` become `client_discard`, `rate_limited_events` become
`rate_limited` and `filtered_events` / `filtered_sampling_events` become `filtered` outcomes.

A report is whatever a client sends: an entry whose quantity is not a count Relay would read (an
unsigned 32-bit integer) is skipped, so no quantity overflows the outcome's msgpack integer or
ClickHouse's UInt64 sums; a report dated outside 1970-2100 gives no outcomes at all (nothing is
counted at a time ClickHouse's `DateTime` cannot hold).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from picket.schemas.ingest import Outcome
from picket import json_input
from picket.ingest.outcomes import CATEGORY_NAMES, OutcomeKind, outcome

MAX_QUANTITY = 2**32 - 1  # Relay reads a client report's quantity as u32
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
# Which lists of a report become outcomes, and the outcome each list stands for.
_LISTS = {
    "discarded_events": OutcomeKind.CLIENT_DISCARD,
    "rate_limited_events": OutcomeKind.RATE_LIMITED,
    "filtered_events": OutcomeKind.FILTERED,
    "filtered_sampling_events": OutcomeKind.FILTERED,
}


def client_report_outcomes(payload: bytes, *, received: datetime, org_id: int, project_id: int,
                           key_id: int | None) -> list[Outcome]:
    """One outcome per (reason, category) entry; malformed entries are skipped.

    Raises ValueError when the payload is not a JSON object (or not UTF-8, or nested too deep).
    """
    try:
        report: Any = json_input.decode(payload)
    except json_input.JsonInputError as exc:
        raise ValueError(f"client report is {exc.detail}") from None
    if not isinstance(report, dict):
        raise ValueError("client report is not a JSON object")
    at = _timestamp(report.get("timestamp"), received)
    if at is None:
        return []
    out = []
    for name, kind in _LISTS.items():
        entries = report.get(name)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            category = CATEGORY_NAMES.get(str(entry.get("category")))
            quantity = entry.get("quantity")
            reason = entry.get("reason")
            if (category is None or isinstance(quantity, bool) or not isinstance(quantity, int)
                    or not 0 < quantity <= MAX_QUANTITY or not isinstance(reason, str)):
                continue
            out.append(outcome(timestamp=at, org_id=org_id, project_id=project_id, key_id=key_id,
                               kind=kind, category=category, quantity=quantity, reason=reason[:200]))
    return out


def _timestamp(value: Any, fallback: datetime) -> datetime | None:
    """The report's date: `fallback` when it has none that reads as a date, None when it names
    one outside 1970-2100."""
    if isinstance(value, (int, float)):
        if not EARLIEST.timestamp() <= value < LATEST.timestamp():  # also inf, and before fromtimestamp fails
            return None
        at = datetime.fromtimestamp(float(value), timezone.utc)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return fallback
        at = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    else:
        return fallback
    return at if EARLIEST <= at < LATEST else None
