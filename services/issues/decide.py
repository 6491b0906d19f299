"""Deciding the issue workflow's commands against a project's issues. Pure.

`decide(state, command)` → the domain events, or a rejection. Issues that no longer exist
(deleted, merged away) are skipped: a bulk change applies to what is left, and a command
decided again after a crash finds its changes made and decides nothing new.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec

from picket.decisions import Rejected
from picket.issues.state import GroupState, ProjectGroups
from picket.schemas.issues import (
    DeleteIssues,
    IssueAssigned,
    IssueCommand,
    IssueDeleted,
    IssueEventMeta,
    IssueMerged,
    IssueShared,
    IssueStatusChanged,
    IssueUserFlags,
    MergeIssues,
    StatusDetails,
    UpdateIssues,
)


class _Stamp:
    """Event metas of one command: ids `<command id>:<n>`, so deciding again yields the same."""

    def __init__(self, command: Any) -> None:
        self._command = command
        self.events: list[Any] = []

    def __call__(self, event_type: type, group_id: int, **payload: Any) -> None:
        meta = self._command.meta
        self.events.append(event_type(
            meta=IssueEventMeta(event_id=f"{meta.command_id}:{len(self.events)}", project_id=self._command.project_id,
                                at=meta.issued_at, actor_user_id=meta.actor_user_id, command_id=meta.command_id),
            group_id=group_id, **payload))


def decide(state: ProjectGroups, command: IssueCommand) -> list[Any] | Rejected:
    live = [g for g in (state.groups.get(i) for i in dict.fromkeys(command.group_ids)) if g is not None and not g.gone]
    stamp = _Stamp(command)
    if isinstance(command, UpdateIssues):
        for group in live:
            _update(group, command, stamp)
    elif isinstance(command, MergeIssues):
        if len(live) > 1:
            parent = min(live, key=lambda g: (g.first_seen is None, g.first_seen, g.group_id))
            for child in live:
                if child is not parent:
                    stamp(IssueMerged, child.group_id, into=parent.group_id, hashes=state.hashes_of(child.group_id))
    elif isinstance(command, DeleteIssues):
        for group in live:
            stamp(IssueDeleted, group.group_id, hashes=state.hashes_of(group.group_id))
    return stamp.events


def _update(group: GroupState, command: UpdateIssues, stamp: _Stamp) -> None:
    if command.status is not None:
        status, substatus, details = _status(command, command.current_releases.get(group.group_id))
        if status != group.status or details != _without_time(group.details):
            stamp(IssueStatusChanged, group.group_id, status=status, substatus=substatus,
                  status_details=_timed(details, command))
    if command.assign and command.assignee != group.assignee:
        stamp(IssueAssigned, group.group_id, assignee=command.assignee)
    actor = command.meta.actor_user_id
    flags = {"has_seen": command.has_seen, "is_bookmarked": command.is_bookmarked,
             "is_subscribed": command.is_subscribed}
    if actor is not None and any(v is not None for v in flags.values()):
        stamp(IssueUserFlags, group.group_id, user_id=actor, **flags)
    if command.is_public is not None and command.is_public != bool(group.share_id):
        stamp(IssueShared, group.group_id, is_public=command.is_public,
              share_id=(command.share_id or None) if command.is_public else None)


def _status(command: UpdateIssues, current_release: str | None) -> tuple[str, str, StatusDetails]:
    """(status, substatus, details) a status change asks for; details keep what fits it."""
    asked = command.status_details or StatusDetails()
    if command.status == "resolved":
        qualified = asked.in_release or asked.in_next_release or asked.in_commit
        return "resolved", "", StatusDetails(in_release=asked.in_release, in_next_release=asked.in_next_release,
                                             in_commit=asked.in_commit,
                                             current_release=current_release if qualified else None)
    if command.status == "ignored":
        details = StatusDetails(
            ignore_duration=asked.ignore_duration, ignore_count=asked.ignore_count,
            ignore_window=asked.ignore_window if asked.ignore_count else None,
            ignore_user_count=asked.ignore_user_count,
            ignore_user_window=asked.ignore_user_window if asked.ignore_user_count else None,
        )
        waits = details.ignore_duration or details.ignore_count or details.ignore_user_count
        return "ignored", "archived_until_condition_met" if waits else "archived_forever", details
    return "unresolved", "ongoing", StatusDetails()


def _timed(details: StatusDetails, command: UpdateIssues) -> StatusDetails:
    """`details` with who set them and when, and the end of an ignore by duration."""
    at = command.meta.issued_at
    until = at + timedelta(minutes=details.ignore_duration) if details.ignore_duration else None
    return msgspec.structs.replace(details, actor_user_id=command.meta.actor_user_id, at=at, ignore_until=until)


def _without_time(details: StatusDetails) -> StatusDetails:
    return msgspec.structs.replace(details, actor_user_id=None, at=None, ignore_until=None)
