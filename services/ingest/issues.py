"""Grouping state of one project and the rows an event yields. Pure.

`ProjectGroups` is what the events consumer (the single writer of a project's issues: the
ingest-events topic is keyed by project) knows about a project: which hash belongs to which
group, and the next short-id number. Group ids derive from (project, hash), so re-processing
an event after a crash assigns the same group.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import msgspec

from picket.schemas.ingest import NormalizedEvent
from picket.schemas.rows import EventRow, GroupHashRow, GroupRow, GroupStatusRow

EVENT_COLUMNS = EventRow._fields
GROUP_COLUMNS = GroupRow._fields
STATUS_COLUMNS = GroupStatusRow._fields
HASH_COLUMNS = GroupHashRow._fields

_json = msgspec.json.Encoder()


def group_id_for(project_id: int, hash_: str) -> int:
    """A stable 52-bit id for the group of `hash_` in the project (exact in JavaScript)."""
    digest = hashlib.blake2b(f"{project_id}:{hash_}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 12 or 1


@dataclass
class GroupState:
    group_id: int
    status: str


@dataclass
class ProjectGroups:
    project_id: int
    next_number: int = 1
    by_hash: dict[str, GroupState] = field(default_factory=dict)


@dataclass
class EventRows:
    events: list[tuple[Any, ...]] = field(default_factory=list)
    groups: list[tuple[Any, ...]] = field(default_factory=list)
    statuses: list[tuple[Any, ...]] = field(default_factory=list)
    hashes: list[tuple[Any, ...]] = field(default_factory=list)


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
    """Assign `event` to its group (creating or reopening it) and append its rows; the group id.
    What can fail (encoding the event) is done before the state changes."""
    body = _json.encode(event).decode()
    encoded_metadata = _json.encode(metadata).decode()
    group = state.by_hash.get(hash_)
    if group is None:
        group = GroupState(group_id_for(state.project_id, hash_), "unresolved")
        state.by_hash[hash_] = group
        out.hashes.append(GroupHashRow(project_id=state.project_id, hash=hash_, group_id=group.group_id))
        out.groups.append(GroupRow(
            project_id=state.project_id, group_id=group.group_id, short_number=state.next_number, hash=hash_,
            type=event.type, title=event.title, culprit=event.culprit, level=event.level, logger=event.logger,
            platform=event.platform, metadata=encoded_metadata, first_seen=event.timestamp,
            first_release=event.release or "",
        ))
        out.statuses.append(GroupStatusRow(project_id=state.project_id, group_id=group.group_id,
                                           status="unresolved", substatus="new", version=version))
        state.next_number += 1
    elif group.status == "resolved":
        # A regression: the issue was resolved and happens again.
        group.status = "unresolved"
        out.statuses.append(GroupStatusRow(project_id=state.project_id, group_id=group.group_id,
                                           status="unresolved", substatus="regressed", version=version))
    out.events.append(EventRow(
        project_id=state.project_id, event_id=event.event_id, group_id=group.group_id, timestamp=event.timestamp,
        received=event.received, type=event.type, platform=event.platform, level=event.level, title=event.title,
        message=event.message, culprit=event.culprit, release=event.release or "",
        environment=event.environment or "", transaction=event.transaction or "", user_tag=_user_tag(event),
        user_email=(event.user.email or "") if event.user else "", tags_key=[k for k, _ in event.tags],
        tags_value=[v for _, v in event.tags], hash=hash_, size=event.size, body=body,
    ))
    return group.group_id
