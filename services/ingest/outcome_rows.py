"""Outcome messages → `outcomes_raw` rows. Pure.

Outcomes about one event (errors, transactions, feedback) or one check-in message are keyed by
its id, so an item accepted twice — an SDK retry, a replayed envelope — counts once. All others
are keyed by their own id (stable for the same item processed again, `Outcome.id`); only an
outcome without one (published before ids existed) falls back to its Kafka coordinates.
"""

from __future__ import annotations

from picket.schemas.ingest import Outcome
from picket.schemas.rows import OutcomeRow
from picket.ingest.outcomes import Category, OutcomeKind

COLUMNS = OutcomeRow._fields
PER_EVENT = {Category.DEFAULT, Category.ERROR, Category.TRANSACTION, Category.SECURITY, Category.USER_REPORT_V2}


def _per_item(o: Outcome) -> bool:
    """Whether `o.event_id` names the one item the outcome is about. Accepted check-ins carry the
    id of their message (`checkins.message_id`); a check-in refused at the gateway does not."""
    return o.category in PER_EVENT or (o.category == Category.MONITOR and o.outcome == OutcomeKind.ACCEPTED)


def outcome_row(o: Outcome, origin: str) -> OutcomeRow:
    dedupe = f"event:{o.event_id}" if o.event_id and _per_item(o) else (f"id:{o.id}" if o.id else origin)
    return OutcomeRow(
        org_id=o.org_id, project_id=o.project_id, key_id=o.key_id or 0, timestamp=o.timestamp.replace(microsecond=0),
        outcome=o.outcome, category=o.category, reason=o.reason or "", quantity=o.quantity, dedupe_id=dedupe,
    )
