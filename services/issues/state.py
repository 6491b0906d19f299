"""What the single writer of a project's issues knows of them. Pure.

`ProjectGroups` maps each grouping hash to its issue and each issue to its `GroupState`. States
are immutable, replaced on change, so a batch works on a shallow copy (`ProjectGroups.copy`)
and keeps it only once its rows are written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime

import msgspec

from picket.schemas.issues import Assignee, StatusDetails
from picket.schemas.rows import EPOCH, GroupStatusRow

# Statuses an issue leaves every list with (kept in its status row, never shown).
GONE = ("merged", "deleted")

_json = msgspec.json.Encoder()


def group_id_for(project_id: int, hash_: str) -> int:
    """A stable 52-bit id for the group of `hash_` in the project (exact in JavaScript)."""
    digest = hashlib.blake2b(f"{project_id}:{hash_}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 12 or 1


@dataclass(frozen=True)
class Snooze:
    """How far an ignored issue is towards its conditions: events and users since it was
    ignored, and the times of the latest events (as many as the count asks for)."""

    events: int = 0
    recent: tuple[datetime, ...] = ()
    users: frozenset[str] = frozenset()
    user_times: tuple[tuple[str, datetime], ...] = ()  # first time of each user, for a user window


@dataclass(frozen=True)
class GroupState:
    group_id: int
    status: str = "unresolved"
    substatus: str = "new"
    details: StatusDetails = StatusDetails()
    assignee: Assignee | None = None
    share_id: str = ""
    merged_into: int = 0
    version: int = 0  # of its newest status row
    first_seen: datetime | None = None
    snooze: Snooze = Snooze()

    @property
    def gone(self) -> bool:
        return self.status in GONE


@dataclass
class ProjectGroups:
    project_id: int
    next_number: int = 1
    by_hash: dict[str, int] = field(default_factory=dict)  # hash -> group id
    groups: dict[int, GroupState] = field(default_factory=dict)
    retired: set[str] = field(default_factory=set)  # hashes whose issue was deleted

    def copy(self) -> ProjectGroups:
        return ProjectGroups(self.project_id, self.next_number, dict(self.by_hash), dict(self.groups),
                             set(self.retired))

    def group_of(self, hash_: str) -> GroupState | None:
        group_id = self.by_hash.get(hash_)
        return None if group_id is None else self.groups.get(group_id)

    def hashes_of(self, group_id: int) -> tuple[str, ...]:
        return tuple(sorted(h for h, g in self.by_hash.items() if g == group_id))

    def put(self, group: GroupState, version: int) -> GroupState:
        """Keep `group` as changed at `version` (later than any status row the group had, so its
        row is the newest whatever the clocks say)."""
        group = replace(group, version=max(version, group.version + 1))
        self.groups[group.group_id] = group
        return group


def status_row(project_id: int, group: GroupState) -> GroupStatusRow:
    """The group's whole state as its newest status row."""
    until = group.details.ignore_until if group.status == "ignored" and group.details.ignore_until else EPOCH
    assignee = f"{group.assignee.type}:{group.assignee.id}" if group.assignee else ""
    return GroupStatusRow(project_id=project_id, group_id=group.group_id, status=group.status,
                          substatus=group.substatus, version=group.version,
                          status_details=_json.encode(group.details).decode(), ignore_until=until,
                          assignee=assignee, share_id=group.share_id, merged_into=group.merged_into)


def parse_assignee(text: str) -> Assignee | None:
    kind, _, ident = text.partition(":")
    if kind in ("user", "team") and ident.isdigit():
        return Assignee(type=kind, id=int(ident))  # type: ignore[arg-type]
    return None
