"""Release-health items → `sessions` rows. Pure.

A `session` item is one update of one session (sid, seq): rows are keyed by (sid, seq) so a
replayed update is stored once, and queries take each session's latest update. A `sessions`
item is pre-aggregated counts per start time: each aggregate becomes one row keyed by where it
came from, so a replay is stored once too.
"""

from __future__ import annotations

from typing import Any

from picket.schemas.ingest import IngestItem
from picket.schemas.rows import SessionRow
from picket.ingest.outcomes import Category
from picket.ingest.processed import Processed, as_datetime, item_key, json_object, number, text

COLUMNS = SessionRow._fields
STATUSES = {"ok", "exited", "crashed", "abnormal", "errored"}


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def process_session_item(item: IngestItem, origin: str) -> Processed:
    """Aggregate rows are named after the item (`origin`: where it came from, for an item
    without an id)."""
    out = Processed()
    body, problem = json_object(item.payload)
    if body is None:
        out.reject(item, Category.SESSION, "invalid_json", detail=problem)
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
            out.reject(item, Category.SESSION, "invalid_session", detail="needs a sid and a known status")
            return out
        started = as_datetime(body.get("started"), item.received)
        seq = body.get("seq")
        seq_row = seq if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0 else 0
        out.rows.append(SessionRow(
            org_id=item.org_id, project_id=item.project_id, session_id=sid, seq=seq_row,
            distinct_id=text(body.get("did"), 128), init=int(body.get("init") is True), status=status,
            errors=_count(body.get("errors")), started=started,
            timestamp=as_datetime(body.get("timestamp"), item.received), duration=number(body.get("duration")),
            release=release, environment=environment, quantity=1, exited=0, errored=0, abnormal=0, crashed=0,
            aggregate=0, received=item.received,
        ))
        # Named by the update, not the item: the same update stored twice counts once.
        out.accept(item, Category.SESSION, id=f"session:{item.project_id}:{sid}:{seq_row}")
        return out
    aggregates = body.get("aggregates")
    if not isinstance(aggregates, list):
        out.reject(item, Category.SESSION, "invalid_session", detail="aggregates must be a list")
        return out
    total = 0
    for index, agg in enumerate(aggregates):
        if not isinstance(agg, dict):
            continue
        exited, errored = _count(agg.get("exited")), _count(agg.get("errored"))
        abnormal, crashed = _count(agg.get("abnormal")), _count(agg.get("crashed"))
        quantity = exited + errored + abnormal + crashed
        if quantity == 0:
            continue
        total += quantity
        started = as_datetime(agg.get("started"), item.received)
        out.rows.append(SessionRow(
            org_id=item.org_id, project_id=item.project_id, session_id=f"{item_key(item, origin)}/{index}", seq=0,
            distinct_id=text(agg.get("did"), 128), init=1, status="aggregate", errors=0, started=started,
            timestamp=started, duration=None, release=release, environment=environment, quantity=quantity,
            exited=exited, errored=errored, abnormal=abnormal, crashed=crashed, aggregate=1,
            received=item.received,
        ))
    if total:
        out.accept(item, Category.SESSION, quantity=total)
    return out
