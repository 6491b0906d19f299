"""Reads and writes of the `entities` projection (tenancy records).

Reads always go through FINAL and filter `deleted` after it, so a record whose newest version
is a deletion is gone at once, even before ClickHouse merges its parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from picket.schemas.entities import Member, Organization, Project, ProjectKey, Team, Token, User
from picket.schemas.rows import EntityRow
from picket.store.client import Store

RECORD_TYPES: dict[str, type] = {
    "organization": Organization,
    "team": Team,
    "project": Project,
    "key": ProjectKey,
    "member": Member,
    "user": User,
    "token": Token,
}
_DECODERS = {kind: msgspec.json.Decoder(t) for kind, t in RECORD_TYPES.items()}

_FILTERS = {
    "org_id": "org_id = {org_id:UInt64}",
    "id": "id = {id:UInt64}",
    "ids": "id IN {ids:Array(UInt64)}",
    "org_ids": "org_id IN {org_ids:Array(UInt64)}",
    "parent_id": "parent_id = {parent_id:UInt64}",
    "slug": "slug = {slug:String}",
}


def write_rows(store: Store, rows: Sequence[EntityRow]) -> None:
    store.insert("entities", rows, EntityRow._fields)


def select(store: Store, kind: str, **filters: Any) -> list[Any]:
    """Live records of one kind matching every given filter (see `_FILTERS`), newest version."""
    where = ["kind = {kind:String}"] + [_FILTERS[name] for name in filters]
    sql = (
        "SELECT body FROM {db}.entities FINAL WHERE "
        + " AND ".join(where)
        + " AND deleted = 0 ORDER BY id"
    )
    rows = store.query(sql, {"kind": kind, **filters})
    decode = _DECODERS[kind].decode
    return [decode(body) for (body,) in rows]


def select_many(store: Store, kinds: Iterable[str], org_id: int) -> dict[str, list[Any]]:
    """All live records of the given kinds in one organization, in one query."""
    kinds = list(kinds)
    rows = store.query(
        "SELECT kind, body FROM {db}.entities FINAL WHERE kind IN {kinds:Array(String)}"
        " AND org_id = {org_id:UInt64} AND deleted = 0 ORDER BY id",
        {"kinds": kinds, "org_id": org_id},
    )
    out: dict[str, list[Any]] = {k: [] for k in kinds}
    for kind, body in rows:
        out[kind].append(_DECODERS[kind].decode(body))
    return out


def first(store: Store, kind: str, **filters: Any) -> Any | None:
    found = select(store, kind, **filters)
    return found[0] if found else None
