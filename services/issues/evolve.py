"""How the issue workflow's events change a project's issues, and how an arriving event is
judged against an issue's status (regression, the end of an ignore). Pure.

`apply(state, event)` changes the batch's copy of the project in place (its `GroupState`s are
replaced, never changed). `on_event(group, ...)` is what an error event does to an issue that
exists: reopen it if it was resolved, count it towards an ignore's conditions.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from picket.issues.state import GroupState, ProjectGroups, Snooze
from picket.schemas.issues import (
    IssueAssigned,
    IssueDeleted,
    IssueEventMeta,
    IssueMerged,
    IssueRegressed,
    IssueShared,
    IssueStatusChanged,
    StatusDetails,
)


def version_of(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def apply(state: ProjectGroups, event: Any) -> GroupState | None:
    """Fold `event` (any but `IssueCreated`: the grouping makes the issue) into `state`; the issue
    it changed, as it is now (None: no issue state changed, as for a user's flags)."""
    version = version_of(event.meta.at)
    group = state.groups.get(event.group_id)
    if group is None:
        return None
    if isinstance(event, IssueStatusChanged):
        return state.put(replace(group, status=event.status, substatus=event.substatus,
                                 details=event.status_details, snooze=Snooze()), version)
    if isinstance(event, IssueRegressed):
        return state.put(replace(group, status="unresolved", substatus="regressed", details=StatusDetails(),
                                 snooze=Snooze()), version)
    if isinstance(event, IssueAssigned):
        return state.put(replace(group, assignee=event.assignee), version)
    if isinstance(event, IssueShared):
        return state.put(replace(group, share_id=(event.share_id or "") if event.is_public else ""), version)
    if isinstance(event, IssueMerged):
        for hash_ in event.hashes:
            state.by_hash[hash_] = event.into
        return state.put(replace(group, status="merged", merged_into=event.into), version)
    if isinstance(event, IssueDeleted):
        for hash_ in event.hashes:
            state.by_hash.pop(hash_, None)
            state.retired.add(hash_)
        return state.put(replace(group, status="deleted"), version)
    return None


def on_event(group: GroupState, project_id: int, event_id: str, received: datetime, release: str,
             user: str) -> tuple[GroupState, Any | None]:
    """An error event of `group` arrived: the group with its snooze progress, and the domain
    event its arrival causes (a regression, an ignore ended), if any."""
    meta = IssueEventMeta(event_id=f"{event_id}:{group.group_id}", project_id=project_id, at=received)
    if group.status == "resolved":
        if group.details.current_release and release == group.details.current_release:
            return group, None  # an event of the release before the fix
        return group, IssueRegressed(meta=meta, group_id=group.group_id, event_id=event_id, release=release)
    if group.status != "ignored":
        return group, None
    snooze, ended = _advance(group.details, group.snooze, received, user)
    if ended is None:
        return replace(group, snooze=snooze), None
    return group, IssueStatusChanged(meta=meta, group_id=group.group_id, status="unresolved", substatus=ended,
                                     reason="ignore_expired")


def _advance(d: StatusDetails, s: Snooze, at: datetime, user: str) -> tuple[Snooze, str | None]:
    """The snooze after one more event at `at` by `user`, and the substatus the issue goes back
    to if that ends the ignore: `ongoing` when its time is up, `escalating` when it grew past a
    count (as Sentry)."""
    if d.ignore_until is not None and at >= d.ignore_until:
        return s, "ongoing"
    recent = (*s.recent, at)[-d.ignore_count:] if d.ignore_count else ()
    user_times = s.user_times
    users = s.users
    if user and d.ignore_user_count:
        if d.ignore_user_window:
            horizon = at - timedelta(minutes=d.ignore_user_window)
            user_times = (*((u, t) for u, t in user_times if u != user and t >= horizon), (user, at))
        else:
            users = users | {user}
    snooze = Snooze(events=s.events + 1, recent=recent, users=users, user_times=user_times)
    if d.ignore_count:
        if d.ignore_window:
            if len(recent) >= d.ignore_count and recent[-1] - recent[0] <= timedelta(minutes=d.ignore_window):
                return snooze, "escalating"
        elif snooze.events >= d.ignore_count:
            return snooze, "escalating"
    if d.ignore_user_count:
        if len(user_times if d.ignore_user_window else users) >= d.ignore_user_count:
            return snooze, "escalating"
    return snooze, None
