"""Outcome messages → `outcomes_raw` rows. Pure.

Outcomes about one event (errors, transactions, feedback) or one check-in message are keyed by
its id, so an item accepted twice — an SDK retry, a replayed envelope — counts once. All others
are keyed by their own id (stable for the same item processed again, `Outcome.id`); only an
outcome without one (published before ids existed) falls back to its Kafka coordinates.
"""

from __future__ import annotations

from typing import Any

from picket.schemas.ingest import Outcome
from picket.ingest.outcomes import Category, OutcomeKind

COLUMNS = ("org_id", "project_id", "key_id", "timestamp", "outcome", "category", "reason", "quantity", "dedupe_id")
PER_EVENT = {Category.DEFAULT, Category.ERROR, Category.TRANSACTION, Category.SECURITY, Category.USER_REPORT_V2}


def _per_item(o: Outcome) -> bool:
    """Whether `o.event_id` names the one item the outcome is about. Accepted check-ins carry the
    id of their message (`checkins.message_id`); a check-in refused at the gateway does not."""
    return o.category in PER_EVENT or (o.category == Category.MONITOR and o.outcome == OutcomeKind.ACCEPTED)


def outcome_row(o: Outcome, origin: str) -> tuple[Any, ...]:
    dedupe = f"event:{o.event_id}" if o.event_id and _per_item(o) else (f"id:{o.id}" if o.id else origin)
    return (
        o.org_id, o.project_id, o.key_id or 0, o.timestamp.replace(microsecond=0), o.outcome, o.category,
        o.reason or "", o.quantity, dedupe,
    )
