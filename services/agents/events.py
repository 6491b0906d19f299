"""Consumer of `ingest-events` and `issues-commands`: normalize, group into issues, store events;
decide the issue workflow's commands; count outcomes.

It is the single writer of its projects' issues: both topics are keyed by project id and read
together, co-partitioned, so one member owns a project's events and its commands. What it knows
of a project (`picket.issues.state.ProjectGroups`) is loaded from ClickHouse the first time the
project shows up after start or after a rebalance, and kept in memory after that. A batch works
on copies, kept once the batch is written; a project one of whose messages failed is forgotten,
and loaded again from what was stored (group ids derive from the project and the hash, so a
group made again is the same group). The issue events a batch causes go to the public
`issues-events` once its rows are written; a command's caller is answered then too. The first
event of a release in a project sends the releases context the command that creates it
(`picket.releases.sightings`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from picket.application.aggregates import answer
from picket.schemas import topics as t
from picket.schemas.issues import IssueCreated, IssueMerged, IssueRegressed, StatusDetails
from picket.runtime.consumer import BatchConsumer
from picket.runtime.steps import Output, Pipeline, Table, Unavailable, item_pipeline
from picket.artifacts import js_processing
from picket.artifacts.resolver import CachedResolver
from picket.blobs.store import OUTAGES, BlobStore
from picket.store.errors import StoreError
from picket.agents import hooks_fanout
from picket.agents.wiring import Wiring
from picket.integrations.directory import Directory
from picket.bus.publisher import Record
from picket.bus.topics import Topics
from picket.decisions import Rejected
from picket.ingest import issues
from picket.ingest.grouping import grouping_hash, metadata
from picket.ingest.normalize import normalize_event
from picket.ingest.outcomes import Category, OutcomeKind, outcome, refused_item_outcomes
from picket.ingest.processed import parse_json
from picket.issues import decide, evolve
from picket.issues.project import IssueRows, project
from picket.issues.state import GroupState, ProjectGroups, Snooze, parse_assignee
from picket.releases.sightings import Sightings, sighting
from picket.agents.ingest import ITEMS_LINGER_SECONDS, decode_item
from picket.store import issue_changes, issues_read
from picket.store.client import Store
from picket.store.rollups import write_events
from picket.schemas.rows import GroupActivityRow, GroupUserFlagRow

# Hashes and groups before events: a reader never sees an event of an unknown group. Moves and
# deletions of events last: they act on what the batch wrote before them.
GROUP_HASHES = Table("group_hashes", issues.HASH_COLUMNS)
GROUPS = Table("groups", issues.GROUP_COLUMNS)
GROUP_STATUS = Table("group_status", issues.STATUS_COLUMNS)
EVENTS = Table("error_events", issues.EVENT_COLUMNS, write_events)
ACTIVITY = Table("group_activity", GroupActivityRow._fields)
USER_FLAGS = Table("group_user_flags", GroupUserFlagRow._fields)
EVENT_MOVES = Table("group_status", ("project_id", "group_id", "merged_into"), issue_changes.move_events)
EVENT_DELETES = Table("error_events", ("project_id", "group_id"), issue_changes.delete_events)
ORDER = (GROUP_HASHES, GROUPS, GROUP_STATUS, EVENTS, ACTIVITY, USER_FLAGS, EVENT_MOVES, EVENT_DELETES)

_details = msgspec.json.Decoder(StatusDetails)
log = logging.getLogger(__name__)


def load_project(store: Store, project_id: int) -> ProjectGroups:
    found = issues_read.project_grouping(store, project_id)
    state = ProjectGroups(project_id, next_number=found.top_short_number + 1)
    for row in found.statuses:
        try:
            details = _details.decode(row.status_details) if row.status_details else StatusDetails()
        except msgspec.DecodeError:
            details = StatusDetails()
        group = GroupState(row.group_id, status=row.status or "unresolved", substatus=row.substatus,
                           details=details, assignee=parse_assignee(row.assignee), share_id=row.share_id,
                           merged_into=row.merged_into, version=row.version, first_seen=row.first_seen)
        if group.status == "ignored" and details.at is not None and (details.ignore_count or details.ignore_user_count):
            group = GroupState(**{**group.__dict__, "snooze": _snooze(store, project_id, row.group_id, details)})
        state.groups[row.group_id] = group
    for hash_, group_id in found.hashes:
        if group_id == 0:
            state.retired.add(hash_)
        else:
            state.by_hash[hash_] = group_id
            state.groups.setdefault(group_id, GroupState(group_id))
    return state


def _snooze(store: Store, project_id: int, group_id: int, d: StatusDetails) -> Snooze:
    """An ignored issue's progress towards its conditions, from its stored events."""
    assert d.at is not None
    user_since = d.at if not d.ignore_user_window else max(d.at, _now() - timedelta(minutes=d.ignore_user_window))
    found = issues_read.snooze_progress(store, project_id, group_id, d.at, d.ignore_count or 0, user_since)
    if d.ignore_user_window:
        return Snooze(events=found.events, recent=tuple(found.recent), user_times=tuple(found.users))
    return Snooze(events=found.events, recent=tuple(found.recent), users=frozenset(u for u, _ in found.users))


def _now() -> datetime:
    return datetime.now(timezone.utc)


class EventProjection:
    def __init__(self, store: Store, topics: Topics, resolver: CachedResolver | None = None,
                 directory: Directory | None = None, public_url: str = "") -> None:
        self._store = store
        self._resolver = resolver
        self._directory = directory
        self._public_url = public_url
        self._topics = topics
        self._commands = topics.name(t.ISSUES_COMMANDS)
        self._projects: dict[int, issues.ProjectGroups] = {}
        self._touched: dict[int, issues.ProjectGroups] = {}
        self._sightings = Sightings()

    def forget(self) -> None:
        """Drop what is known of projects: after a rebalance another worker may have written."""
        self._projects.clear()
        self._touched.clear()

    def after(self, done: bool, failed: list[Any]) -> None:
        """Keep the batch's copies if it was written, but of projects with a failed event."""
        if done:
            self._projects.update(self._touched)
            for msg in failed:
                self._projects.pop(self._project_of(msg), None)
        self._touched.clear()
        # A failed message's records were not sent: announce the batch's releases again.
        self._sightings.commit(done and not failed)

    def _project_of(self, msg: Any) -> int:
        try:
            return (t.ISSUES_COMMANDS if msg.topic == self._commands else t.INGEST_EVENTS).decode(msg.value).project_id
        except (msgspec.DecodeError, TypeError, ValueError):
            return -1

    async def _state(self, project_id: int) -> issues.ProjectGroups:
        state = self._touched.get(project_id)
        if state is None:
            base = self._projects.get(project_id)
            if base is None:
                base = self._projects[project_id] = await asyncio.to_thread(load_project, self._store, project_id)
            state = self._touched[project_id] = base.copy()
        return state

    async def process(self, msg: Any) -> Output:
        """One message: an error event (from ingest-events) or an issue command."""
        if msg.topic == self._commands:
            return await self.command(msg)
        return await self.event(msg)

    async def command(self, msg: Any) -> Output:
        """Decide an issue command: its events' rows, the events on `issues-events`, the answer."""
        command = t.ISSUES_COMMANDS.decode(msg.value)
        state = await self._state(command.project_id)
        decision = decide.decide(state, command)
        out = Output()
        if isinstance(decision, Rejected):
            reply = answer(command.meta, decision.outcome, decision.detail)
        else:
            rows = IssueRows()
            for event in decision:
                project(event, evolve.apply(state, event), rows)
            _add_issue_rows(out, rows)
            out.records += [self._topics.record(t.ISSUES_EVENTS, event) for event in decision]
            # A merge's caller is told which issue the others went into.
            parent = next((e.into for e in decision if isinstance(e, IssueMerged)), None)
            reply = answer(command.meta, "accepted", entity_id=parent)
        if reply is not None:
            out.records.append(self._topics.record(t.COMMAND_REPLIES, reply))
        return out

    def failed(self, msg: Any, reason: str) -> list[Record]:
        """The answer to the caller of a command that failed (none for an ingest item)."""
        if msg.topic != self._commands:
            return []
        try:
            meta = t.ISSUES_COMMANDS.decode(msg.value).meta
        except (msgspec.DecodeError, TypeError, ValueError):
            return []
        reply = answer(meta, "invalid", "The change could not be applied.")
        return [] if reply is None else [self._topics.record(t.COMMAND_REPLIES, reply)]

    def refused_outcomes(self, msg: Any, reason: str) -> list[Any]:
        """What a failed ingest item counts as (a command counts as nothing)."""
        return [] if msg.topic == self._commands else refused_item_outcomes(msg.value, reason)

    async def event(self, msg: Any) -> Output:
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
        if self._resolver is not None and js_processing.is_js(event):
            event = await self._map_sources(item.org_id, item.project_id, event)
        hash_ = grouping_hash(event)
        meta = metadata(event)
        rows = issues.EventRows()
        group_id = issues.add_event(await self._state(item.project_id), event, hash_, meta,
                                    int(item.received.timestamp() * 1000), rows)
        # As Relay's data category of an event type: errors and default (message) events count as
        # error, security reports as security.
        category = Category.SECURITY if item.item_type == "security" else Category.ERROR
        common["event_id"] = event.event_id
        out = Output(outcomes=[outcome(kind=OutcomeKind.ACCEPTED, category=category,
                                       id=f"{item.item_id}:0" if item.item_id else None, **common)])
        out.add_rows(GROUPS, rows.groups).add_rows(EVENTS, rows.events)
        _add_issue_rows(out, rows)
        out.records += [self._topics.record(t.ISSUES_EVENTS, event) for event in rows.domain]
        if self._directory is not None:
            out.records += await self._hook_records(item.org_id, event, group_id, rows)
        if self._sightings.first(item.project_id, event.release):
            command = sighting(item.org_id, item.project_id, event.release, item.received)
            if command is not None:
                out.records.append(self._topics.record(t.RELEASES_COMMANDS, command))
        return out


    async def _hook_records(self, org_id: int, event: Any, group_id: int, rows: Any) -> list[Record]:
        """Deliveries of `event.created` (and `event.alert`) to the hooks and apps that want them;
        the directory is read in a thread only when it is due for a refresh."""
        directory = self._directory
        assert directory is not None
        if directory.stale:
            await asyncio.to_thread(directory.targets)
        if not directory.targets(org_id, event.project_id):
            return []
        alert = any(isinstance(e, (IssueCreated, IssueRegressed)) for e in rows.domain)
        triggers = hooks_fanout.event_triggers(event, org_id, group_id, alert, self._public_url)
        return hooks_fanout.to_deliveries(triggers, directory, self._topics)

    async def _map_sources(self, org_id: int, project_id: int, event: Any) -> Any:
        """The event with source maps applied; unchanged if that fails (a broken source map
        must not lose the event), but for an outage of the store or the blob store (pause)."""
        assert self._resolver is not None
        resolver = self._resolver.for_project(org_id, project_id)
        try:
            return await asyncio.to_thread(js_processing.process, event, resolver)
        except StoreError:
            raise
        except OUTAGES as exc:
            raise Unavailable(f"blob store: {exc!r}") from exc
        except Exception:
            log.warning("applying source maps to %s failed; stored as sent", event.event_id, exc_info=True)
            return event


def _add_issue_rows(out: Output, rows: IssueRows) -> None:
    out.add_rows(GROUP_HASHES, rows.hashes).add_rows(GROUP_STATUS, rows.statuses)
    out.add_rows(ACTIVITY, rows.activity).add_rows(USER_FLAGS, rows.flags)
    out.add_rows(EVENT_MOVES, rows.moves).add_rows(EVENT_DELETES, rows.deletes)


def events_consumer(w: Wiring, blobs: BlobStore | None = None, directory: Directory | None = None) -> BatchConsumer:
    """Reads ingest-events and issues-commands together in the group `ingest-events`; with a
    blob store, applies source maps to JavaScript events; with a directory of hooks, tells them
    of stored events."""
    projection = EventProjection(w.store, w.topics, CachedResolver(w.store, blobs) if blobs is not None else None,
                                 directory, w.settings.public_url)
    name = "ingest-events-consumer"
    read = [t.INGEST_EVENTS, t.ISSUES_COMMANDS]
    handler: Pipeline = item_pipeline(
        name, projection.process, store=w.store, guards=w.guards, producer=w.producer, topics=w.topics,
        topic=read, order=ORDER, after=projection.after, refused_outcomes=projection.refused_outcomes,
        on_failure=projection.failed)
    return BatchConsumer(name, w.source(read, t.INGEST_EVENTS.name), handler, on_rebalance=projection.forget,
                         linger=ITEMS_LINGER_SECONDS)
