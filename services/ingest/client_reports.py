"""Client reports (what SDKs dropped themselves) as outcomes. Pure.

As Relay does: `discarded_events` become `client_discard`, `rate_limited_events` become
`rate_limited` and `filtered_events` / `filtered_sampling_events` become `filtered` outcomes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import msgspec

from schemas.ingest import Outcome
from services.ingest.outcomes import CATEGORY_NAMES, OutcomeKind, outcome

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

    Raises ValueError when the payload is not a JSON object.
    """
    try:
        report: Any = msgspec.json.decode(payload)
    except msgspec.DecodeError as exc:
        raise ValueError(f"client report is not JSON: {exc}") from None
    if not isinstance(report, dict):
        raise ValueError("client report is not a JSON object")
    at = _timestamp(report.get("timestamp"), received)
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
                    or quantity <= 0 or not isinstance(reason, str)):
                continue
            out.append(outcome(timestamp=at, org_id=org_id, project_id=project_id, key_id=key_id,
                               kind=kind, category=category, quantity=quantity, reason=reason[:200]))
    return out


def _timestamp(value: Any, fallback: datetime) -> datetime:
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(float(value), timezone.utc)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    return fallback
