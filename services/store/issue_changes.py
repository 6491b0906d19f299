"""What merging and deleting issues does to their stored events, as table writers for the
events consumer's pipeline (`picket.runtime.steps.Table.write`). Both are idempotent: moving
events already moved, or deleting events already deleted, finds none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from picket.schemas.rows import EventRow
from picket.store.client import Store
from picket.store.rollup import mark_dirty
from picket.store.rollups import GROUPS

_COLUMNS = ", ".join(EventRow._fields)
# Each event again with its new group: the copy replaces the original (same key and version,
# inserted later).
_MOVE = (f"INSERT INTO {{db}}.error_events ({_COLUMNS}) SELECT "
         + ", ".join("{into:UInt64}" if c == "group_id" else c for c in EventRow._fields)
         + " FROM {db}.error_events FINAL WHERE project_id = {p:UInt64} AND group_id = {g:UInt64}"
         # an issue's events may span more days (partitions) than an insert may write by default
         + " SETTINGS max_partitions_per_insert_block = 0")


def move_events(store: Store, rows: Sequence[Sequence[Any]]) -> None:
    """rows: (project id, group id, the group its events move to). The hours of the events moved
    are marked for the issue counters' rollup to recount (after the move: see `rollup.write`)."""
    for project_id, group_id, into in rows:
        params = {"p": project_id, "g": group_id, "into": into}
        hours = store.query("SELECT DISTINCT toStartOfHour(timestamp) FROM {db}.error_events FINAL"
                            " WHERE project_id = {p:UInt64} AND group_id = {g:UInt64}", params)
        store.command(_MOVE, params)
        mark_dirty(store, GROUPS, [h for (h,) in hours])


def delete_events(store: Store, rows: Sequence[Sequence[Any]]) -> None:
    """rows: (project id, group id) whose events go. A lightweight delete: the rows are gone from
    every read at once, and from disk as parts merge."""
    for project_id, group_id in rows:
        store.command("DELETE FROM {db}.error_events WHERE project_id = {p:UInt64} AND group_id = {g:UInt64}",
                      {"p": project_id, "g": group_id})
