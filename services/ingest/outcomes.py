"""Sentry's outcome and data-category vocabulary, and outcome construction.

Numbers are Sentry's (`outcomes` topic, stats_v2): outcome 0 accepted, 1 filtered,
2 rate_limited, 3 invalid, 4 abuse, 5 client_discard; categories as Relay's DataCategory.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from picket.schemas.ingest import Outcome


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
