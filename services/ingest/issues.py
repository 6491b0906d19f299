"""Grouping a project's events into issues, and the rows an event yields. Pure.

`ProjectGroups` (`picket.issues.state`) is what the events consumer (the single writer of a
project's issues: `ingest-events` and `issues-commands` are keyed by project) knows about a
project. Group ids derive from (project, hash), so re-processing an event after a crash assigns
the same group; a hash whose issue was deleted opens a new issue with an id derived from its
short number too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from picket.issues.evolve import apply, on_event
from picket.issues.project import IssueRows, project
from picket.issues.state import GroupState, ProjectGroups, group_id_for, status_row
from picket.schemas.ingest import NormalizedEvent
from picket.schemas.issues import IssueCreated, IssueEventMeta
from picket.schemas.rows import EventRow, GroupHashRow, GroupRow, GroupStatusRow

__all__ = ["EventRows", "GroupState", "ProjectGroups", "add_event", "group_id_for"]

EVENT_COLUMNS = EventRow._fields
GROUP_COLUMNS = GroupRow._fields
STATUS_COLUMNS = GroupStatusRow._fields
HASH_COLUMNS = GroupHashRow._fields

_json = msgspec.json.Encoder()


@dataclass
class EventRows(IssueRows):
    events: list[tuple[Any, ...]] = field(default_factory=list)
    groups: list[tuple[Any, ...]] = field(default_factory=list)
    domain: list[Any] = field(default_factory=list)  # the issue events the event caused


def _user_tag(event: NormalizedEvent) -> str:
    u = event.user
    if u is None:
        return ""
    # Sentry's order, the same as the event's `user` tag.
    for prefix, value in (("id", u.id), ("username", u.username), ("email", u.email), ("ip", u.ip_address)):
        if value:
            return f"{prefix}:{value}"
    return ""


def add_event(state: ProjectGroups, event: NormalizedEvent, hash_: str, metadata: dict[str, Any],
              version: int, out: EventRows) -> int:
    """Assign `event` to its group (creating it, or reopening it as its status says) and append
    its rows and the issue events it causes; the group id. What can fail (encoding the event)
    is done before the state changes."""
    body = _json.encode(event).decode()
    encoded_metadata = _json.encode(metadata).decode()
    project_id = state.project_id
    user = _user_tag(event)
    group = state.group_of(hash_)
    if group is None:
        number = state.next_number
        group_id = group_id_for(project_id, hash_ if hash_ not in state.retired else f"{hash_}#{number}")
        created = IssueCreated(
            meta=IssueEventMeta(event_id=f"{event.event_id}:created", project_id=project_id, at=event.received),
            group_id=group_id, short_number=number, title=event.title, culprit=event.culprit, level=event.level,
            event_type=event.type, first_event_id=event.event_id, first_release=event.release or "")
        state.by_hash[hash_] = group_id
        state.retired.discard(hash_)
        state.groups[group_id] = group = GroupState(group_id, first_seen=event.timestamp, version=version)
        state.next_number += 1
        out.domain.append(created)
        out.hashes.append(GroupHashRow(project_id=project_id, hash=hash_, group_id=group_id))
        out.groups.append(GroupRow(
            project_id=project_id, group_id=group_id, short_number=number, hash=hash_,
            type=event.type, title=event.title, culprit=event.culprit, level=event.level, logger=event.logger,
            platform=event.platform, metadata=encoded_metadata, first_seen=event.timestamp,
            first_release=event.release or "",
        ))
        out.statuses.append(status_row(project_id, group))
    else:
        changed, caused = on_event(group, project_id, event.event_id, event.received, event.release or "", user)
        state.groups[group.group_id] = group = changed
        if caused is not None:
            out.domain.append(caused)
            project(caused, apply(state, caused), out)
    out.events.append(EventRow(
        project_id=project_id, event_id=event.event_id, group_id=group.group_id, timestamp=event.timestamp,
        received=event.received, type=event.type, platform=event.platform, level=event.level, title=event.title,
        message=event.message, culprit=event.culprit, release=event.release or "",
        environment=event.environment or "", transaction=event.transaction or "", user_tag=user,
        user_email=(event.user.email or "") if event.user else "", tags_key=[k for k, _ in event.tags],
        tags_value=[v for _, v in event.tags], hash=hash_, size=event.size, body=body,
    ))
    return group.group_id
