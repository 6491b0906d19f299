"""Reads of the monitors projection: monitors (with environments), check-ins, what is due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from picket.schemas.monitors import CheckIn, Monitor
from picket.store.client import Store

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


def check_ins(store: Store, org_id: int, monitor_id: int, environments: Sequence[str] = (),
              offset: int = 0, limit: int = 100) -> list[CheckIn]:
    """A monitor's check-ins, newest first, `limit` from `offset` (in `environments`, when given).
    Ties in creation time are ordered by id, so pages neither repeat nor skip a check-in."""
    where = "org_id = {o:UInt64} AND monitor_id = {m:UInt64}"
    params: dict[str, object] = {"o": org_id, "m": monitor_id, "offset": offset, "limit": limit}
    if environments:
        where += " AND environment IN {envs:Array(String)}"
        params["envs"] = list(environments)
    rows = store.query(
        f"SELECT body FROM {{db}}.monitor_checkins FINAL WHERE {where}"
        " ORDER BY date_created DESC, check_in_id LIMIT {limit:UInt32} OFFSET {offset:UInt64}",
        params,
    )
    return [_check_in.decode(b) for (b,) in rows]


def check_in(store: Store, org_id: int, slug: str, check_in_id: str | None) -> CheckIn | None:
    """A check-in of the monitor by id, or (id None) the one changed last."""
    found = monitor(store, org_id, slug)
    return None if found is None else monitor_check_in(store, org_id, found.id, check_in_id)


def monitor_check_in(store: Store, org_id: int, monitor_id: int, check_in_id: str | None) -> CheckIn | None:
    """`check_in` for a monitor known by id (one query instead of two)."""
    where = "org_id = {o:UInt64} AND monitor_id = {m:UInt64}"
    params: dict[str, object] = {"o": org_id, "m": monitor_id}
    if check_in_id is not None:
        where += " AND check_in_id = {c:String}"
        params["c"] = check_in_id
    rows = store.query(
        f"SELECT body FROM {{db}}.monitor_checkins FINAL WHERE {where} ORDER BY version DESC LIMIT 1", params
    )
    return _check_in.decode(rows[0][0]) if rows else None


def due_monitors(store: Store, at: datetime) -> list[tuple[int, str]]:
    """(org id, slug) of monitors with a check-in deadline or an open check-in's timeout by `at`."""
    rows = store.query(
        "SELECT DISTINCT org_id, slug FROM {db}.monitor_deadlines FINAL WHERE deleted = 0 AND"
        " ((next_checkin_latest IS NOT NULL AND next_checkin_latest <= {at:DateTime64(3, 'UTC')})"
        " OR (open_timeouts IS NOT NULL AND open_timeouts <= {at:DateTime64(3, 'UTC')}))",
        {"at": at},
    )
    return [(org_id, slug) for org_id, slug in rows]
