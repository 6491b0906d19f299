"""The issue workflow's pure core: deciding commands (picket.issues.decide), folding their
events (picket.issues.evolve.apply), judging arriving events against an issue's status
(regressions, ignores that end) and the rows it all becomes (picket.issues.project)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec

from picket.decisions import Rejected
from picket.ingest.grouping import grouping_hash, metadata
from picket.ingest.issues import EventRows, add_event
from picket.ingest.normalize import normalize_event
from picket.issues.decide import decide
from picket.issues.evolve import apply, on_event
from picket.issues.project import EventDelete, EventMove, IssueRows, project
from picket.issues.state import GroupState, ProjectGroups, group_id_for
from picket.schemas.commands import CommandMeta
from picket.schemas.issues import (
    Assignee,
    DeleteIssues,
    IssueAssigned,
    IssueDeleted,
    IssueMerged,
    IssueRegressed,
    IssueShared,
    IssueStatusChanged,
    IssueUserFlags,
    MergeIssues,
    StatusDetails,
    UpdateIssues,
)
from picket.schemas.rows import EPOCH

PROJECT = 30
AT = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
A, B, C = 101, 102, 103


def _state() -> ProjectGroups:
    state = ProjectGroups(PROJECT, next_number=4)
    for n, (group_id, hash_) in enumerate(((A, "ha"), (B, "hb"), (C, "hc"))):
        state.by_hash[hash_] = group_id
        state.groups[group_id] = GroupState(group_id, first_seen=AT - timedelta(days=3 - n), version=1)
    return state


def _meta(n: int = 1, actor: int | None = 7) -> CommandMeta:
    return CommandMeta(command_id=f"cmd{n}", issued_at=AT, reply_to="gw", actor_user_id=actor)


def _update(*ids: int, **changes) -> UpdateIssues:
    return UpdateIssues(meta=_meta(), project_id=PROJECT, group_ids=ids, **changes)


def _run(state: ProjectGroups, command) -> tuple[list, IssueRows]:
    events = decide(state, command)
    assert not isinstance(events, Rejected)
    rows = IssueRows()
    for event in events:
        project(event, apply(state, event), rows)
    return events, rows


# --- status -----------------------------------------------------------------------------------


def test_resolving_issues_changes_each_one_and_records_who_and_when():
    state = _state()
    events, rows = _run(state, _update(A, B, status="resolved"))
    assert [(type(e), e.group_id, e.status) for e in events] == [(IssueStatusChanged, A, "resolved"),
                                                                  (IssueStatusChanged, B, "resolved")]
    assert [e.meta.event_id for e in events] == ["cmd1:0", "cmd1:1"]
    assert events[0].status_details.actor_user_id == 7 and events[0].status_details.at == AT
    assert state.groups[A].status == "resolved" and state.groups[C].status == "unresolved"
    assert [(r.group_id, r.status, r.substatus) for r in rows.statuses] == [(A, "resolved", ""), (B, "resolved", "")]
    assert all(r.version > 1 for r in rows.statuses)
    assert [(a.group_id, a.type, a.user_id) for a in rows.activity] == [(A, "set_resolved", 7), (B, "set_resolved", 7)]


def test_deciding_the_same_command_again_changes_nothing():
    state = _state()
    _run(state, _update(A, status="resolved"))
    again, rows = _run(state, _update(A, status="resolved"))
    assert again == [] and rows.statuses == []


def test_a_status_row_is_newer_than_the_last_whatever_the_clock_says():
    state = _state()
    state.groups[A] = GroupState(A, version=int((AT + timedelta(hours=1)).timestamp() * 1000))
    _, rows = _run(state, _update(A, status="resolved"))
    assert rows.statuses[0].version == state.groups[A].version > int((AT + timedelta(hours=1)).timestamp() * 1000)


def test_ignoring_for_a_duration_ends_at_that_time_and_keeps_the_conditions_only():
    state = _state()
    details = StatusDetails(ignore_duration=30, in_release="web@1", ignore_window=5)
    [event], rows = _run(state, _update(A, status="ignored", status_details=details))
    assert event.substatus == "archived_until_condition_met"
    assert event.status_details.ignore_until == AT + timedelta(minutes=30)
    assert event.status_details.in_release is None and event.status_details.ignore_window is None
    assert rows.statuses[0].ignore_until == AT + timedelta(minutes=30)
    assert rows.activity[0].type == "set_ignored" and msgspec.json.decode(rows.activity[0].data) == {"ignoreDuration": 30}


def test_ignoring_without_conditions_is_forever():
    [event], rows = _run(_state(), _update(A, status="ignored"))
    assert event.substatus == "archived_forever"
    assert rows.statuses[0].ignore_until == EPOCH


def test_resolving_in_the_next_release_keeps_the_release_current_then():
    state = _state()
    [event], _ = _run(state, _update(A, status="resolved", status_details=StatusDetails(in_next_release=True),
                                     current_releases={A: "web@1"}))
    assert event.status_details.in_next_release and event.status_details.current_release == "web@1"


def test_unresolving_clears_the_details():
    state = _state()
    _run(state, _update(A, status="ignored", status_details=StatusDetails(ignore_count=5)))
    [event], _ = _run(state, _update(A, status="unresolved"))
    assert (event.status, event.substatus, event.status_details.ignore_count) == ("unresolved", "ongoing", None)


# --- assignment, flags, sharing ----------------------------------------------------------------


def test_assigning_and_unassigning():
    state = _state()
    [assigned], rows = _run(state, _update(A, assign=True, assignee=Assignee(type="team", id=9)))
    assert isinstance(assigned, IssueAssigned) and state.groups[A].assignee == Assignee(type="team", id=9)
    assert rows.statuses[0].assignee == "team:9"
    assert msgspec.json.decode(rows.activity[0].data) == {"assignee": "9", "assigneeType": "team"}
    assert _run(state, _update(A, assign=True, assignee=Assignee(type="team", id=9)))[0] == []  # no change
    [unassigned], rows = _run(state, _update(A, assign=True, assignee=None))
    assert unassigned.assignee is None and rows.activity[0].type == "unassigned" and rows.statuses[0].assignee == ""


def test_a_users_flags_are_rows_of_their_own_and_leave_the_status_alone():
    state = _state()
    [flags], rows = _run(state, _update(A, is_bookmarked=True, has_seen=True))
    assert isinstance(flags, IssueUserFlags) and flags.user_id == 7
    assert rows.statuses == [] and rows.activity == []
    assert sorted((r.flag, r.value, r.user_id) for r in rows.flags) == [("has_seen", 1, 7), ("is_bookmarked", 1, 7)]


def test_flags_need_a_user():
    command = UpdateIssues(meta=_meta(actor=None), project_id=PROJECT, group_ids=(A,), is_bookmarked=True)
    assert decide(_state(), command) == []


def test_sharing_gives_the_issue_a_share_id_until_it_is_private_again():
    state = _state()
    [shared], rows = _run(state, _update(A, is_public=True, share_id="s1"))
    assert isinstance(shared, IssueShared) and rows.statuses[0].share_id == "s1"
    assert _run(state, _update(A, is_public=True, share_id="s2"))[0] == []  # already public: the id stays
    _, rows = _run(state, _update(A, is_public=False))
    assert rows.statuses[0].share_id == "" and rows.activity[0].type == "set_private"


# --- merge and delete --------------------------------------------------------------------------


def test_merging_moves_hashes_and_events_into_the_oldest_issue():
    state = _state()
    state.by_hash["hc2"] = C
    events, rows = _run(state, MergeIssues(meta=_meta(), project_id=PROJECT, group_ids=(C, B, A)))
    assert [(type(e), e.group_id, e.into) for e in events] == [(IssueMerged, C, A), (IssueMerged, B, A)]
    assert events[0].hashes == ("hc", "hc2")
    assert state.by_hash == {"ha": A, "hb": A, "hc": A, "hc2": A}
    assert state.groups[B].status == "merged" and state.groups[B].merged_into == A
    assert sorted(rows.moves) == [EventMove(PROJECT, B, A), EventMove(PROJECT, C, A)]
    assert sorted((h.hash, h.group_id) for h in rows.hashes) == [("hb", A), ("hc", A), ("hc2", A)]
    assert {(a.group_id, a.type) for a in rows.activity} == {(A, "merge")}
    # Merged again (a redelivery): nothing is left to merge.
    assert _run(state, MergeIssues(meta=_meta(), project_id=PROJECT, group_ids=(C, B, A)))[0] == []


def test_deleting_retires_the_hashes_and_a_later_event_opens_a_new_issue():
    state = _state()
    [deleted], rows = _run(state, DeleteIssues(meta=_meta(), project_id=PROJECT, group_ids=(A, 999)))
    assert isinstance(deleted, IssueDeleted) and deleted.hashes == ("ha",)
    assert rows.deletes == [EventDelete(PROJECT, A)]
    assert [(h.hash, h.group_id) for h in rows.hashes] == [("ha", 0)]
    assert "ha" not in state.by_hash and state.retired == {"ha"}
    assert _run(state, _update(A, status="resolved"))[0] == []  # a deleted issue changes no more

    event = normalize_event({"message": "again"}, project_id=PROJECT, received=AT, event_id="e" * 32, size=10)
    out = EventRows()
    new_id = add_event(state, event, "ha", metadata(event), 1, out)
    assert new_id not in (A, group_id_for(PROJECT, "ha"))
    assert new_id == group_id_for(PROJECT, "ha#4")  # stable on a replay: derived from its short number
    assert "ha" not in state.retired and state.by_hash["ha"] == new_id


# --- events arriving ----------------------------------------------------------------------------


def _arrive(group: GroupState, at: datetime = AT, release: str = "", user: str = "", n: int = 1):
    return on_event(group, PROJECT, f"{n:032x}", at, release, user)


def test_an_event_of_a_resolved_issue_regresses_it_but_not_one_of_the_release_before_the_fix():
    resolved = GroupState(A, "resolved", "", StatusDetails(in_next_release=True, current_release="web@1"))
    assert _arrive(resolved, release="web@1")[1] is None
    _, caused = _arrive(resolved, release="web@2")
    assert isinstance(caused, IssueRegressed) and caused.release == "web@2"
    plain = GroupState(A, "resolved", "")
    assert isinstance(_arrive(plain, release="web@1")[1], IssueRegressed)


def test_an_ignore_for_a_while_ends_with_the_first_event_after_it():
    group = GroupState(A, "ignored", "archived_until_condition_met", StatusDetails(ignore_until=AT))
    assert _arrive(group, AT - timedelta(seconds=1))[1] is None
    _, ended = _arrive(group, AT)
    assert (ended.status, ended.substatus, ended.reason) == ("unresolved", "ongoing", "ignore_expired")


def test_an_ignore_until_a_count_ends_with_the_counted_event():
    group = GroupState(A, "ignored", "archived_until_condition_met", StatusDetails(ignore_count=3))
    for n in range(2):
        group, caused = _arrive(group, n=n)
        assert caused is None
    _, ended = _arrive(group, n=3)
    assert (ended.status, ended.substatus) == ("unresolved", "escalating")


def test_an_ignore_until_a_count_within_a_window_needs_them_close_together():
    group = GroupState(A, "ignored", "", StatusDetails(ignore_count=2, ignore_window=10))
    group, caused = _arrive(group, AT)
    group, caused = _arrive(group, AT + timedelta(minutes=11))
    assert caused is None  # two events, but 11 minutes apart
    _, ended = _arrive(group, AT + timedelta(minutes=15))
    assert ended is not None and ended.substatus == "escalating"


def test_an_ignore_until_users_counts_each_user_once():
    group = GroupState(A, "ignored", "", StatusDetails(ignore_user_count=2))
    group, caused = _arrive(group, user="id:1")
    group, caused = _arrive(group, user="id:1")
    assert caused is None
    group, caused = _arrive(group, user="")
    assert caused is None
    _, ended = _arrive(group, user="id:2")
    assert ended is not None


def test_an_ignore_until_users_within_a_window_forgets_users_seen_before_it():
    group = GroupState(A, "ignored", "", StatusDetails(ignore_user_count=2, ignore_user_window=5))
    group, _ = _arrive(group, AT, user="id:1")
    group, caused = _arrive(group, AT + timedelta(minutes=6), user="id:2")
    assert caused is None
    _, ended = _arrive(group, AT + timedelta(minutes=7), user="id:1")
    assert ended is not None


def test_an_ignore_that_ends_on_an_event_writes_the_status_and_the_event_in_one_go():
    event = normalize_event({"message": "boom"}, project_id=PROJECT, received=AT, event_id="f" * 32, size=10)
    hash_ = grouping_hash(event)
    group_id = group_id_for(PROJECT, hash_)
    state = ProjectGroups(PROJECT, 2, {hash_: group_id},
                          {group_id: GroupState(group_id, "ignored", "", StatusDetails(ignore_count=1))})
    out = EventRows()
    add_event(state, event, hash_, metadata(event), 1, out)
    assert [(type(e), e.status) for e in out.domain] == [(IssueStatusChanged, "unresolved")]
    assert [(r.status, r.substatus) for r in out.statuses] == [("unresolved", "escalating")]
    assert [a.type for a in out.activity] == ["set_escalating"]
    assert len(out.events) == 1 and state.groups[group_id].status == "unresolved"
