"""What processing one ingest item yields: rows for one table and outcomes. Pure helpers.

Outcomes are named after the item (`<item id>:<n>`), so processing the same item again names
them the same and they count once. A refused item says why in `refused` (for the dead letters)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import msgspec

from picket.schemas.ingest import IngestItem, Outcome
from picket.ingest.outcomes import Category, OutcomeKind, outcome


@dataclass
class Processed:
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    refused: str | None = None

    def _id(self, item: IngestItem) -> str | None:
        return f"{item.item_id}:{len(self.outcomes)}" if item.item_id else None

    def accept(self, item: IngestItem, category: Category, quantity: int = 1, event_id: str | None = None,
               id: str | None = None) -> None:
        """An `accepted` outcome, named `id` when the item's identity names it (else by the item)."""
        self.outcomes.append(outcome(
            timestamp=item.received, org_id=item.org_id, project_id=item.project_id, key_id=item.key_id,
            kind=OutcomeKind.ACCEPTED, category=category, quantity=quantity, event_id=event_id or item.event_id,
            id=id or self._id(item),
        ))

    def reject(self, item: IngestItem, category: Category, reason: str, quantity: int = 1,
               detail: str | None = None) -> None:
        """An `invalid` outcome; `detail` says more for the dead letters."""
        self.outcomes.append(outcome(
            timestamp=item.received, org_id=item.org_id, project_id=item.project_id, key_id=item.key_id,
            kind=OutcomeKind.INVALID, category=category, quantity=quantity, reason=reason, event_id=item.event_id,
            id=self._id(item),
        ))
        self.refused = f"{reason}: {detail}" if detail else reason


def parse_json(payload: bytes) -> tuple[Any, str | None]:
    """(the payload's JSON value, None), or (None, why it is not JSON taken here): malformed,
    not UTF-8, nested deeper than the decoder goes, a number out of range."""
    try:
        return msgspec.json.decode(payload), None
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8: {exc}"
    except RecursionError:
        return None, "nested too deep"
    except msgspec.DecodeError as exc:
        return None, f"not JSON: {exc}"


def json_object(payload: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """(the payload as a JSON object, None), or (None, why it is not one)."""
    value, problem = parse_json(payload)
    if problem is None and not isinstance(value, dict):
        problem = f"expected a JSON object, got {type(value).__name__}"
    return (value, None) if problem is None else (None, problem)


def item_key(item: IngestItem, origin: str) -> str:
    """What names the item: its id, or, for an item published before ids existed, where it came
    from (`topic/partition/offset`)."""
    return item.item_id or origin


def as_datetime(value: Any, fallback: datetime) -> datetime:
    """RFC 3339 string or epoch seconds → aware UTC datetime; `fallback` for anything else."""
    try:
        if isinstance(value, bool):
            return fallback
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(float(value), timezone.utc)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    return fallback


def text(value: Any, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
