"""Sentry's outcome and data-category vocabulary, and outcome construction.

Numbers are Sentry's (`outcomes` topic, stats_v2): outcome 0 accepted, 1 filtered,
2 rate_limited, 3 invalid, 4 abuse, 5 client_discard; categories as Relay's DataCategory.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

import msgspec

from picket.schemas.ingest import IngestItem, Outcome
from picket.schemas.topics import INGEST_EVENTS


class OutcomeKind(IntEnum):
    ACCEPTED = 0
    FILTERED = 1
    RATE_LIMITED = 2
    INVALID = 3
    ABUSE = 4
    CLIENT_DISCARD = 5


class Category(IntEnum):
    DEFAULT = 0
    ERROR = 1
    TRANSACTION = 2
    SECURITY = 3
    ATTACHMENT = 4
    SESSION = 5
    PROFILE = 6
    REPLAY = 7
    TRANSACTION_PROCESSED = 8
    TRANSACTION_INDEXED = 9
    MONITOR = 10
    PROFILE_INDEXED = 11
    SPAN = 12
    MONITOR_SEAT = 13
    USER_REPORT_V2 = 14


CATEGORY_NAMES = {
    "default": Category.DEFAULT,
    "error": Category.ERROR,
    "transaction": Category.TRANSACTION,
    "security": Category.SECURITY,
    "attachment": Category.ATTACHMENT,
    "session": Category.SESSION,
    "profile": Category.PROFILE,
    "replay": Category.REPLAY,
    "transaction_processed": Category.TRANSACTION_PROCESSED,
    "transaction_indexed": Category.TRANSACTION_INDEXED,
    "monitor": Category.MONITOR,
    "profile_indexed": Category.PROFILE_INDEXED,
    "span": Category.SPAN,
    "monitor_seat": Category.MONITOR_SEAT,
    "feedback": Category.USER_REPORT_V2,
    "user_report_v2": Category.USER_REPORT_V2,
}

# The category an envelope item counts in before it is processed.
ITEM_CATEGORY = {
    "event": Category.ERROR,
    "transaction": Category.TRANSACTION,
    "security": Category.SECURITY,
    "attachment": Category.ATTACHMENT,
    "session": Category.SESSION,
    "sessions": Category.SESSION,
    "check_in": Category.MONITOR,
    "feedback": Category.USER_REPORT_V2,
    "user_report": Category.USER_REPORT_V2,
    "profile": Category.PROFILE,
    "replay_event": Category.REPLAY,
    "replay_recording": Category.REPLAY,
    "span": Category.SPAN,
}


def outcome(*, timestamp: datetime, org_id: int, project_id: int, key_id: int | None, kind: OutcomeKind,
            category: Category, quantity: int = 1, reason: str | None = None,
            event_id: str | None = None, id: str | None = None) -> Outcome:
    return Outcome(
        timestamp=timestamp, org_id=org_id, project_id=project_id, key_id=key_id, outcome=int(kind),
        reason=reason, category=int(category), quantity=quantity, event_id=event_id, id=id,
    )


def refused_item_outcome(item: IngestItem, reason: str) -> Outcome:
    """The `invalid` outcome of an ingest item refused whole after it was accepted."""
    return outcome(
        timestamp=item.received, org_id=item.org_id, project_id=item.project_id, key_id=item.key_id,
        kind=OutcomeKind.INVALID, reason=reason, category=ITEM_CATEGORY.get(item.item_type, Category.DEFAULT),
        quantity=len(item.payload) if item.item_type == "attachment" else 1, event_id=item.event_id,
        id=f"{item.item_id}:refused" if item.item_id else None,
    )


def refused_item_outcomes(value: bytes, reason: str) -> list[Outcome]:
    """The `invalid` outcome of an ingest message that failed in processing (`reason`), when it
    can still be read as an item: it was counted accepted at the gateway, and now counts as
    refused (`internal` for a defect, `invalid_data` for data the store refused)."""
    try:
        item = INGEST_EVENTS.decode(value)  # every ingest topic: IngestItem values, one codec
    except (msgspec.DecodeError, TypeError, ValueError):
        return []
    return [refused_item_outcome(item, "internal" if reason.startswith("processing failed") else "invalid_data")]
