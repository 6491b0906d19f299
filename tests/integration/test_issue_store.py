"""The issue workflow's rows in real ClickHouse (chdb): what the events consumer writes for events
and commands is what its state is loaded back from after a restart, and what the API reads
(statuses, ignores that expire, assignees, flags, activity, merges and deletions)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from picket.agents.events import EVENT_DELETES, EVENT_MOVES, ORDER, load_project
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
from picket.store.rollup import seal
from picket.store.rollups import GROUPS

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
        by_table |= {"groups": rows.groups, "error_events": rows.events}
    for table in ORDER:
        found = {EVENT_MOVES: rows.moves, EVENT_DELETES: rows.deletes}.get(table, by_table.get(table.name, []))
        if found:
            table.insert(store, found)


def _event(state: ProjectGroups, store: Store, message: str, n: int, user: str = "1",
           received: datetime = NOW - timedelta(minutes=1), release: str = "web@1") -> int:
    raw = {"message": message, "user": {"id": user}, "release": release}
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
    seen = issues_read.release_seen(store, PROJECT, "web@1")
    assert seen is not None and seen.new_groups == 3 and seen.first_event <= seen.last_event
    assert issues_read.release_seen(store, PROJECT, "web@404") is None


def test_merge_moves_events_and_delete_removes_them(store: Store) -> None:
    project_id = PROJECT
    state = load_project(store, project_id)
    old = _event(state, store, "old one", 10, received=NOW - timedelta(minutes=5))
    new = _event(state, store, "new one", 11, release="web@2")
    assert issues_read.latest_releases(store, project_id, [old, new]) == {old: "web@1", new: "web@2"}
    _command(state, store, MergeIssues(meta=_meta(10), project_id=project_id, group_ids=(new, old)))
    # the moved events bring their release: the merged issue was last seen in web@2
    assert issues_read.latest_releases(store, project_id, [old]) == {old: "web@2"}

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


def _timed_event(state: ProjectGroups, store: Store, message: str, n: int, at: datetime, user: str,
                 environment: str = "prod") -> int:
    raw = {"message": message, "user": {"id": user}, "environment": environment, "timestamp": at.timestamp()}
    received = datetime.now(timezone.utc)
    event = normalize_event(raw, project_id=state.project_id, received=received, event_id=f"{n:032x}", size=10)
    out = EventRows()
    group_id = add_event(state, event, grouping_hash(event), metadata(event), int(received.timestamp() * 1000), out)
    _write(store, out)
    return group_id


def test_counters_come_from_sealed_hours_and_recent_events_alike(store: Store) -> None:
    project_id = 42
    state = ProjectGroups(project_id)
    now = datetime.now(timezone.utc)
    old = now - timedelta(hours=3)
    a = _timed_event(state, store, "counted", 100, old, "1")
    _timed_event(state, store, "counted", 101, old, "2")
    _timed_event(state, store, "counted", 102, old, "2", environment="staging")
    _timed_event(state, store, "counted", 103, now, "1")  # in the hour not sealed yet, whatever the minute

    def read(**filters):  # type: ignore[no-untyped-def]
        [group] = issues_read.groups(store, [project_id], **filters)
        return group.count, group.user_count

    before = read()
    assert before == (4, 2)
    assert seal(store, GROUPS), "the hour three hours ago is sealed"
    assert store.query("SELECT sum(times_seen) FROM {db}.group_hourly FINAL WHERE project_id = 42")[0][0] == 3
    assert read() == before  # now mostly from the rollup
    assert read(environments=["prod"]) == (3, 2)
    assert read(since=now - timedelta(hours=1)) == (1, 1)
    hourly = issues_read.hourly_counts(store, [project_id], [a], now - timedelta(hours=24))[a]
    assert sorted(hourly.values()) == [1, 3]
    # The same hours read with the counters (a sealed one, the current one), in an environment too.
    old_hour = old.replace(minute=0, second=0, microsecond=0)
    [group] = issues_read.groups(store, [project_id], series_from=old_hour)
    assert group.hourly == hourly and (group.count, group.user_count) == before
    [group] = issues_read.groups(store, [project_id], environments=["prod"], series_from=old_hour)
    assert sorted(group.hourly.values()) == [1, 2]
    [group] = issues_read.groups(store, [project_id], series_from=old_hour + timedelta(hours=1))
    assert list(group.hourly.values()) == [1]

    # A redelivered event counts once: its late hour is recounted from the deduplicated events.
    _timed_event(state, store, "counted", 101, old, "2")
    seal(store, GROUPS)
    assert read() == before

    # A merge moves events into a sealed hour of the parent: that hour is recounted.
    b = _timed_event(state, store, "other", 104, old, "9")
    seal(store, GROUPS)
    _command(state, store, MergeIssues(meta=_meta(40), project_id=project_id, group_ids=(a, b)))
    assert seal(store, GROUPS)
    parent = a if state.groups[b].status == "merged" else b
    [merged] = issues_read.groups(store, [project_id])
    assert (merged.id, merged.count, merged.user_count) == (parent, 5, 3)


def test_issue_lists_page_in_the_store_newest_first(store: Store) -> None:
    project_id = 43
    state = ProjectGroups(project_id)
    now = datetime.now(timezone.utc)
    names = ["alpha", "bravo", "charlie", "delta", "echo"]  # digits would be folded into one issue
    ids = [_timed_event(state, store, f"issue {name}", 200 + n, now - timedelta(minutes=50 - n), "1")
           for n, name in enumerate(names)]
    assert len(set(ids)) == 5
    newest_first = list(reversed(ids))
    assert [g.id for g in issues_read.groups(store, [project_id], limit=2)] == newest_first[:2]
    assert [g.id for g in issues_read.groups(store, [project_id], limit=2, offset=2)] == newest_first[2:4]
    assert [g.id for g in issues_read.groups(store, [project_id], text="ISSUE DELTA")] == [ids[3]]
    assert [g.id for g in issues_read.groups(store, [project_id], short_number=2)] == [ids[1]]
    assert issues_read.groups(store, [project_id], environments=["nowhere"]) == []


@pytest.mark.parametrize("look", [100, 1], ids=["among-the-newest", "then-every-status"])
def test_a_page_of_a_status_is_the_same_whether_the_newest_hold_it_or_not(
        store: Store, monkeypatch: pytest.MonkeyPatch, look: int) -> None:
    """A page is first looked for among the newest issues; when they hold too few of its status,
    every status is read: the same page either way."""
    monkeypatch.setattr(issues_read, "MIN_CANDIDATES", look)
    monkeypatch.setattr(issues_read, "CANDIDATES_PER_ROW", 1)
    project_id = 44 + look
    state = ProjectGroups(project_id)
    now = datetime.now(timezone.utc)
    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    ids = [_timed_event(state, store, f"issue {name}", 300 + n + 10 * look, now - timedelta(minutes=50 - n), "1")
           for n, name in enumerate(names)]
    # the three newest resolved: a page of unresolved ones lies past them
    _command(state, store, UpdateIssues(meta=_meta(500 + look), project_id=project_id, group_ids=tuple(ids[3:]),
                                        status="resolved"))
    unresolved = issues_read.groups(store, [project_id], statuses=["unresolved"], limit=2)
    assert [g.id for g in unresolved] == [ids[2], ids[1]]
    assert [g.id for g in issues_read.groups(store, [project_id], statuses=["unresolved"], limit=2, offset=2)] \
        == [ids[0]]
    assert [g.id for g in issues_read.groups(store, [project_id], statuses=["resolved"], limit=5)] \
        == [ids[5], ids[4], ids[3]]
    assert [g.id for g in issues_read.groups(store, [project_id], limit=3, offset=1)] == [ids[4], ids[3], ids[2]]
