"""Reads of the monitors projection: monitors (with environments) and check-ins."""

from __future__ import annotations

import msgspec

from schemas.monitors import CheckIn, Monitor
from services.store.client import Store

_monitor = msgspec.json.Decoder(Monitor)
_check_in = msgspec.json.Decoder(CheckIn)


def monitors(store: Store, org_id: int) -> list[Monitor]:
    rows = store.query(
        "SELECT body FROM {db}.monitors FINAL WHERE org_id = {o:UInt64} AND deleted = 0 ORDER BY slug",
        {"o": org_id},
    )
    return [_monitor.decode(b) for (b,) in rows]


def monitor(store: Store, org_id: int, slug: str) -> Monitor | None:
    rows = store.query(
        "SELECT body FROM {db}.monitors FINAL WHERE org_id = {o:UInt64} AND slug = {s:String} AND deleted = 0",
        {"o": org_id, "s": slug},
    )
    return _monitor.decode(rows[0][0]) if rows else None


def check_ins(store: Store, monitor_id: int, limit: int = 10_000) -> list[CheckIn]:
    rows = store.query(
        "SELECT body FROM {db}.monitor_checkins FINAL WHERE monitor_id = {m:UInt64}"
        " ORDER BY date_created DESC LIMIT {limit:UInt32}",
        {"m": monitor_id, "limit": limit},
    )
    return [_check_in.decode(b) for (b,) in rows]


def check_in(store: Store, org_id: int, slug: str, check_in_id: str | None) -> CheckIn | None:
    """A check-in of the monitor by id, or (id None) the one changed last."""
    found = monitor(store, org_id, slug)
    if found is None:
        return None
    where = "monitor_id = {m:UInt64}"
    params: dict[str, object] = {"m": found.id}
    if check_in_id is not None:
        where += " AND check_in_id = {c:String}"
        params["c"] = check_in_id
    rows = store.query(
        f"SELECT body FROM {{db}}.monitor_checkins FINAL WHERE {where} ORDER BY version DESC LIMIT 1", params
    )
    return _check_in.decode(rows[0][0]) if rows else None
