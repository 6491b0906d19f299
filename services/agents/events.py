"""Consumer of `ingest-events`: normalize, group into issues, store events; count outcomes.

It is the single writer of its projects' issues (the topic is keyed by project id). What it
knows of a project (hash → group, next short-id number) is loaded from ClickHouse the first time
the project shows up after start or after a rebalance, and kept in memory after that. A batch
works on copies, kept once the batch is written; a project one of whose events failed to be
written is forgotten, and loaded again from what was stored (group ids derive from the
project and the hash, so a group made again is the same group).
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from picket.schemas import topics as t
from picket.runtime.consumer import BatchConsumer
from picket.runtime.steps import Output, Table
from picket.agents.wiring import Wiring
from picket.ingest import issues
from picket.ingest.grouping import grouping_hash, metadata
from picket.ingest.normalize import normalize_event
from picket.ingest.outcomes import Category, OutcomeKind, outcome
from picket.ingest.processed import parse_json
from picket.agents.ingest import ITEMS_LINGER_SECONDS, decode_item
from picket.store import issues_read
from picket.store.client import Store

# Hashes and groups before events: a reader never sees an event of an unknown group.
GROUP_HASHES = Table("group_hashes", issues.HASH_COLUMNS)
GROUPS = Table("groups", issues.GROUP_COLUMNS)
GROUP_STATUS = Table("group_status", issues.STATUS_COLUMNS)
EVENTS = Table("events", issues.EVENT_COLUMNS)
ORDER = (GROUP_HASHES, GROUPS, GROUP_STATUS, EVENTS)


def load_project(store: Store, project_id: int) -> issues.ProjectGroups:
    found = issues_read.project_grouping(store, project_id)
    state = issues.ProjectGroups(project_id, next_number=found.top_short_number + 1)
    for hash_, group_id in found.hashes:
        state.by_hash[hash_] = issues.GroupState(group_id, found.statuses.get(group_id, "unresolved"))
    return state


def _copy(base: issues.ProjectGroups) -> issues.ProjectGroups:
    return issues.ProjectGroups(base.project_id, base.next_number,
                                {h: issues.GroupState(g.group_id, g.status) for h, g in base.by_hash.items()})


class EventProjection:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._projects: dict[int, issues.ProjectGroups] = {}
        self._touched: dict[int, issues.ProjectGroups] = {}

    def forget(self) -> None:
        """Drop what is known of projects: after a rebalance another worker may have written."""
        self._projects.clear()
        self._touched.clear()

    def after(self, done: bool, failed: list[Any]) -> None:
        """Keep the batch's copies if it was written, but of projects with a failed event."""
        if done:
            self._projects.update(self._touched)
            for msg in failed:
                self._projects.pop(_project_of(msg), None)
        self._touched.clear()

    async def _state(self, project_id: int) -> issues.ProjectGroups:
        state = self._touched.get(project_id)
        if state is None:
            base = self._projects.get(project_id)
            if base is None:
                base = self._projects[project_id] = await asyncio.to_thread(load_project, self._store, project_id)
            state = self._touched[project_id] = _copy(base)
        return state

    async def process(self, msg: Any) -> Output:
        item = decode_item(msg.value)
        common = {"org_id": item.org_id, "project_id": item.project_id, "key_id": item.key_id,
                  "timestamp": item.received, "event_id": item.event_id}
        raw, problem = parse_json(item.payload)
        if problem is None and not isinstance(raw, dict):
            problem = f"expected a JSON object, got {type(raw).__name__}"
        event = None
        if problem is None:
            try:
                event = normalize_event(raw, project_id=item.project_id, received=item.received,
                                        event_id=item.event_id, client_ip=item.remote_addr, size=len(item.payload))
            except ValueError as exc:
                problem = str(exc)
        if event is None:
            return Output(outcomes=[outcome(kind=OutcomeKind.INVALID, reason="invalid_json", category=Category.ERROR,
                                            id=f"{item.item_id}:0" if item.item_id else None, **common)],
                          refused=f"invalid_json: {problem}")
        hash_ = grouping_hash(event)
        meta = metadata(event)
        rows = issues.EventRows()
        issues.add_event(await self._state(item.project_id), event, hash_, meta,
                         int(item.received.timestamp() * 1000), rows)
        # As Relay's data category of an event type: errors and default (message) events count as
        # error, security reports as security.
        category = Category.SECURITY if item.item_type == "security" else Category.ERROR
        common["event_id"] = event.event_id
        out = Output(outcomes=[outcome(kind=OutcomeKind.ACCEPTED, category=category,
                                       id=f"{item.item_id}:0" if item.item_id else None, **common)])
        out.add_rows(GROUP_HASHES, rows.hashes).add_rows(GROUPS, rows.groups)
        return out.add_rows(GROUP_STATUS, rows.statuses).add_rows(EVENTS, rows.events)


def _project_of(msg: Any) -> int:
    try:
        return decode_item(msg.value).project_id
    except (msgspec.DecodeError, TypeError, ValueError):
        return -1


def events_consumer(w: Wiring) -> BatchConsumer:
    projection = EventProjection(w.store)
    name = "ingest-events-consumer"
    handler = w.items(name, t.INGEST_EVENTS, projection.process, order=ORDER, after=projection.after)
    return w.consumer(name, t.INGEST_EVENTS, t.INGEST_EVENTS.name, handler, on_rebalance=projection.forget,
                      linger=ITEMS_LINGER_SECONDS)
