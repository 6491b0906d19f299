"""The rows the issue workflow's events become. Pure.

Every event that changes an issue writes the issue's whole state as its newest status row;
each also leaves an activity entry keyed by the event's id, so a replay writes nothing new.
Merges and deletions also re-point hashes and name the events to move or delete (`EventMove`,
`EventDelete`: the store carries those out, idempotently).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec

from picket.issues.state import GroupState, status_row
from picket.schemas.issues import (
    IssueAssigned,
    IssueDeleted,
    IssueMerged,
    IssueRegressed,
    IssueShared,
    IssueStatusChanged,
    IssueUserFlags,
)
from picket.schemas.rows import GroupActivityRow, GroupHashRow, GroupStatusRow, GroupUserFlagRow

_json = msgspec.json.Encoder()


class EventMove(NamedTuple):
    """Move the stored events of `group_id` to `into` (a merge)."""

    project_id: int
    group_id: int
    into: int


class EventDelete(NamedTuple):
    """Delete the stored events of `group_id`."""

    project_id: int
    group_id: int


@dataclass
class IssueRows:
    statuses: list[GroupStatusRow] = field(default_factory=list)
    activity: list[GroupActivityRow] = field(default_factory=list)
    flags: list[GroupUserFlagRow] = field(default_factory=list)
    hashes: list[GroupHashRow] = field(default_factory=list)
    moves: list[EventMove] = field(default_factory=list)
    deletes: list[EventDelete] = field(default_factory=list)


def project(event: Any, group: GroupState | None, out: IssueRows) -> None:
    """Append the rows of `event`; `group`: the issue it changed, as it is now."""
    project_id = event.meta.project_id
    if group is not None:
        out.statuses.append(status_row(project_id, group))
    activity = _activity(event)
    if activity is not None:
        kind, data, group_id = activity
        out.activity.append(GroupActivityRow(project_id=project_id, group_id=group_id, id=event.meta.event_id,
                                             type=kind, user_id=event.meta.actor_user_id or 0,
                                             data=_json.encode(data).decode(), at=event.meta.at))
    if isinstance(event, IssueUserFlags):
        version = int(event.meta.at.timestamp() * 1000)
        for flag in ("has_seen", "is_bookmarked", "is_subscribed"):
            value = getattr(event, flag)
            if value is not None:
                out.flags.append(GroupUserFlagRow(project_id=project_id, group_id=event.group_id,
                                                  user_id=event.user_id, flag=flag, value=int(value),
                                                  at=event.meta.at, version=version))
    elif isinstance(event, IssueMerged):
        out.hashes += [GroupHashRow(project_id=project_id, hash=h, group_id=event.into) for h in event.hashes]
        out.moves.append(EventMove(project_id, event.group_id, event.into))
    elif isinstance(event, IssueDeleted):
        out.hashes += [GroupHashRow(project_id=project_id, hash=h, group_id=0) for h in event.hashes]
        out.deletes.append(EventDelete(project_id, event.group_id))


def _activity(event: Any) -> tuple[str, dict[str, Any], int] | None:
    """(Sentry's activity type, its data, the issue it is shown on)."""
    if isinstance(event, IssueStatusChanged):
        d = event.status_details
        if event.status == "resolved":
            if d.in_next_release:
                return "set_resolved_in_release", {"inNextRelease": True}, event.group_id
            if d.in_release:
                return "set_resolved_in_release", {"version": d.in_release}, event.group_id
            if d.in_commit:
                return "set_resolved_in_commit", {"commit": d.in_commit}, event.group_id
            return "set_resolved", {}, event.group_id
        if event.status == "ignored":
            data = {k: v for k, v in (("ignoreDuration", d.ignore_duration), ("ignoreCount", d.ignore_count),
                                      ("ignoreWindow", d.ignore_window), ("ignoreUserCount", d.ignore_user_count),
                                      ("ignoreUserWindow", d.ignore_user_window)) if v is not None}
            return "set_ignored", data, event.group_id
        if event.reason == "ignore_expired":
            return "set_escalating" if event.substatus == "escalating" else "set_unresolved", {}, event.group_id
        return "set_unresolved", {}, event.group_id
    if isinstance(event, IssueRegressed):
        return "set_regression", ({"version": event.release} if event.release else {}), event.group_id
    if isinstance(event, IssueAssigned):
        if event.assignee is None:
            return "unassigned", {}, event.group_id
        return "assigned", {"assignee": str(event.assignee.id), "assigneeType": event.assignee.type}, event.group_id
    if isinstance(event, IssueShared):
        return ("set_public" if event.is_public else "set_private"), {}, event.group_id
    if isinstance(event, IssueMerged):
        return "merge", {"issues": [{"id": str(event.group_id)}]}, event.into
    return None
