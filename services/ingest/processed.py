"""What processing one ingest item yields: rows for one table and outcomes. Pure helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import msgspec

from schemas.ingest import IngestItem, Outcome
from services.ingest.outcomes import Category, OutcomeKind, outcome


@dataclass
class Processed:
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def accept(self, item: IngestItem, category: Category, quantity: int = 1, event_id: str | None = None) -> None:
        self.outcomes.append(outcome(
            timestamp=item.received, org_id=item.org_id, project_id=item.project_id, key_id=item.key_id,
            kind=OutcomeKind.ACCEPTED, category=category, quantity=quantity, event_id=event_id or item.event_id,
        ))

    def reject(self, item: IngestItem, category: Category, reason: str, quantity: int = 1) -> None:
        self.outcomes.append(outcome(
            timestamp=item.received, org_id=item.org_id, project_id=item.project_id, key_id=item.key_id,
            kind=OutcomeKind.INVALID, category=category, quantity=quantity, reason=reason, event_id=item.event_id,
        ))


def json_object(payload: bytes) -> dict[str, Any] | None:
    """The payload as a JSON object, or None if it is not one. Payloads reach the worker unread
    by the gateway: invalid UTF-8 (UnicodeDecodeError, a ValueError) and nesting msgspec refuses
    with RecursionError are "not one" too, or one such item would fail its batch forever."""
    try:
        value = msgspec.json.decode(payload)
    except (ValueError, RecursionError):  # msgspec.DecodeError is a ValueError
        return None
    return value if isinstance(value, dict) else None


EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)


def as_datetime(value: Any, fallback: datetime) -> datetime:
    """RFC 3339 string or epoch seconds → aware UTC datetime; `fallback` for anything else, and
    for a time outside 1970-2100 (what ClickHouse's date columns and the hour arithmetic of the
    rollups hold: year 9999 would fail every insert of its batch)."""
    try:
        if isinstance(value, bool):
            return fallback
        if isinstance(value, (int, float)):
            at = datetime.fromtimestamp(float(value), timezone.utc)
        elif isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            at = parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
        else:
            return fallback
    except (ValueError, OverflowError, OSError):
        return fallback
    return at if EARLIEST <= at < LATEST else fallback


def text(value: Any, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
