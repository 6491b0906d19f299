"""The issue workflow's rows in real ClickHouse (chdb): what the events consumer writes for events
and commands is what its state is loaded back from after a restart, and what the API reads
(statuses, ignores that expire, assignees, flags, activity, merges and deletions)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from picket.agents.events import ORDER, load_project
from picket.ingest.grouping import grouping_hash, metadata
from picket.ingest.issues import EventRows, add_event
from picket.ingest.normalize import normalize_event
from picket.issues.decide import decide
from picket.issues.evolve import apply
from picket.issues.project import IssueRows, project
from picket.issues.state import ProjectGroups
from picket.schemas.commands import CommandMeta
from picket.schemas.issues import Assignee, DeleteIssues, MergeIssues, StatusDetails, UpdateIssues
from picket.store import issues_read
from picket.store.client import Store
from picket.store.migrate import migrate

PROJECT = 41
NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(f"chdb:///{tmp_path_factory.mktemp('chdb') / 'ch'}", "issue_store_test")
    migrate(s)
    yield s
    s.close()


def _write(store: Store, rows: IssueRows) -> None:
    """Insert rows as the events consumer's pipeline does: its tables, in its order."""
    by_table = {"group_hashes": rows.hashes, "group_status": rows.statuses, "group_activity": rows.activity,
                "group_user_flags": rows.flags}
    if isinstance(rows, EventRows):
        by_table |= {"groups": rows.groups, "events": rows.events}
    for table in ORDER:
        if table.write is not None:
            found = rows.moves if table.columns[-1] == "merged_into" else rows.deletes
        else:
            found = by_table.get(table.name, [])
        if found:
            table.insert(store, found)


def _event(state: ProjectGroups, store: Store, message: str, n: int, user: str = "1",
           received: datetime = NOW - timedelta(minutes=1)) -> int:
    raw = {"message": message, "user": {"id": user}, "release": "web@1"}
    event = normalize_event(raw, project_id=PROJECT, received=received, event_id=f"{n:032x}", size=10)
    out = EventRows()
    group_id = add_event(state, event, grouping_hash(event), metadata(event), int(received.timestamp() * 1000), out)
    _write(store, out)
    return group_id


def _command(state: ProjectGroups, store: Store, command) -> None:
    rows = IssueRows()
    for event in decide(state, command):
        project(event, apply(state, event), rows)
    _write(store, rows)


def _meta(n: int, at: datetime = NOW) -> CommandMeta:
    return CommandMeta(command_id=f"c{n}", issued_at=at, reply_to=None, actor_user_id=5)


def _group(store: Store, group_id: int) -> issues_read.Group | None:
    found = issues_read.groups(store, [PROJECT], group_ids=[group_id])
    return found[0] if found else None


def test_the_state_written_is_the_state_loaded_and_read(store: Store) -> None:
    state = ProjectGroups(PROJECT)
    a = _event(state, store, "alpha", 1)
    b = _event(state, store, "beta", 2, user="2")
    c = _event(state, store, "gamma", 3)
    _command(state, store, UpdateIssues(
        meta=_meta(1), project_id=PROJECT, group_ids=(a,), status="resolved",
        status_details=StatusDetails(in_next_release=True), current_releases={a: "web@1"},
        assign=True, assignee=Assignee(type="team", id=9), is_bookmarked=True, is_public=True, share_id="s1"))
    _command(state, store, UpdateIssues(meta=_meta(2), project_id=PROJECT, group_ids=(b,), status="ignored",
                                        status_details=StatusDetails(ignore_user_count=2)))
    _command(state, store, UpdateIssues(meta=_meta(3, NOW - timedelta(hours=2)), project_id=PROJECT,
                                        group_ids=(c,), status="ignored",
                                        status_details=StatusDetails(ignore_duration=60)))

    loaded = load_project(store, PROJECT)
    assert loaded.next_number == 4
    assert loaded.by_hash == state.by_hash
    for group_id in (a, b, c):
        assert (loaded.groups[group_id].status, loaded.groups[group_id].details) == \
               (state.groups[group_id].status, state.groups[group_id].details)
        assert loaded.groups[group_id].version == state.groups[group_id].version
    assert loaded.groups[a].assignee == Assignee(type="team", id=9) and loaded.groups[a].share_id == "s1"
    # The ignore by users knows the user it saw since: one more user ends it.
    assert loaded.groups[b].snooze.events == 0
    _event(loaded, store, "beta", 4, user="3", received=NOW + timedelta(seconds=1))
    assert loaded.groups[b].status == "ignored" and loaded.groups[b].snooze.users == frozenset({"id:3"})
    reloaded = load_project(store, PROJECT)
    assert reloaded.groups[b].snooze.users == frozenset({"id:3"}) and reloaded.groups[b].snooze.events == 1
    _event(reloaded, store, "beta", 5, user="4", received=NOW + timedelta(seconds=2))
    assert reloaded.groups[b].status == "unresolved"

    read_a = _group(store, a)
    assert (read_a.status, read_a.assignee, read_a.share_id) == ("resolved", "team:9", "s1")
    assert read_a.status_details["in_next_release"] is True and read_a.status_details["actor_user_id"] == 5
    # An ignore whose hour is up reads unresolved before any event says so.
    read_c = _group(store, c)
    assert (read_c.status, read_c.substatus) == ("unresolved", "ongoing")
    assert [g.id for g in issues_read.groups(store, [PROJECT], statuses=["resolved"])] == [a]
    assert issues_read.user_flags(store, PROJECT, [a, b], 5) == {a: {"is_bookmarked": True}}
    assert [x.type for x in issues_read.activity(store, PROJECT, a)] == sorted(
        ["set_resolved_in_release", "assigned", "set_public"], key=["set_public", "assigned",
                                                                    "set_resolved_in_release"].index)
    assert issues_read.latest_releases(store, PROJECT, [a]) == {a: "web@1"}


def test_merge_moves_events_and_delete_removes_them(store: Store) -> None:
    project_id = PROJECT
    state = load_project(store, project_id)
    old = _event(state, store, "old one", 10, received=NOW - timedelta(minutes=5))
    new = _event(state, store, "new one", 11)
    _command(state, store, MergeIssues(meta=_meta(10), project_id=project_id, group_ids=(new, old)))

    assert _group(store, new) is None
    merged = _group(store, old)
    assert merged is not None and merged.count == 2
    assert issues_read.group_redirect(store, new) == old
    assert {h for h, _ in issues_read.hashes(store, project_id, old)} == {
        h for h, g in state.by_hash.items() if g == old}
    assert load_project(store, project_id).by_hash == state.by_hash

    _command(state, store, DeleteIssues(meta=_meta(11), project_id=project_id, group_ids=(old,)))
    assert _group(store, old) is None
    assert issues_read.events(store, [project_id], group_id=old, limit=10) == []
    loaded = load_project(store, project_id)
    assert loaded.retired == state.retired and len(loaded.retired) == 2
    again = _event(loaded, store, "old one", 12)
    assert again != old and _group(store, again).count == 1
