"""The issue workflow: commands and domain events of the issues context.

Aggregate: the issues of one project (key: the project id, decimal, as on `ingest-events`), so
the consumer that groups a project's events into issues also decides its commands, and an
event arriving on a resolved or ignored issue is judged against the status decided last.
Everything time-bound travels in the command (`meta.issued_at`), so deciding is pure.
Evolution rule for events: add fields with defaults; never change or remove one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from picket.schemas.commands import CommandMeta

Status = Literal["unresolved", "resolved", "ignored"]
# Sentry's substatuses: why an unresolved issue is unresolved, or how an ignored one waits.
Substatus = Literal["new", "ongoing", "regressed", "escalating", "archived_until_condition_met",
                    "archived_until_escalating", "archived_forever", ""]


class StatusDetails(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """How a resolution or an ignore is qualified (Sentry's `statusDetails`, snake-cased).

    Resolved: `in_release` (fixed in that release), `in_next_release` (fixed in the release after
    `in_release`, the one current when resolved), `in_commit`. Ignored: until `ignore_until`
    (from `ignore_duration` minutes), until `ignore_count` more events (within `ignore_window`
    minutes, if given), until `ignore_user_count` more users (within `ignore_user_window`)."""

    in_release: str | None = None
    in_next_release: bool | None = None
    in_commit: str | None = None
    # The release the issue was last seen in when resolved in a release: its events are from
    # before the fix and do not reopen the issue (events of any other release do).
    current_release: str | None = None
    ignore_duration: int | None = None
    ignore_until: datetime | None = None
    ignore_count: int | None = None
    ignore_window: int | None = None
    ignore_user_count: int | None = None
    ignore_user_window: int | None = None
    actor_user_id: int | None = None
    at: datetime | None = None  # when the status was set: the conditions count from here


class Assignee(msgspec.Struct, kw_only=True, frozen=True):
    type: Literal["user", "team"]
    id: int


# --- commands (topic issues-commands, key = project id) ---

class _Command(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    meta: CommandMeta
    project_id: int
    group_ids: tuple[int, ...]


class UpdateIssues(_Command, tag="update_issues"):
    """Change what is given of the issues `group_ids`; None leaves a field as it is. The per-user
    flags (`has_seen`, `is_bookmarked`, `is_subscribed`) are the actor's."""

    status: Status | None = None
    status_details: StatusDetails | None = None
    assign: bool = False  # whether `assignee` is to be set (None: unassign)
    assignee: Assignee | None = None
    has_seen: bool | None = None
    is_bookmarked: bool | None = None
    is_subscribed: bool | None = None
    is_public: bool | None = None
    share_id: str | None = None  # the share id to use if the issue becomes public
    # Each issue's latest release, for a resolution in a release (`StatusDetails.current_release`).
    current_releases: dict[int, str] = {}


class MergeIssues(_Command, tag="merge_issues"):
    """Merge `group_ids` into the oldest of them: their hashes and events move there."""


class DeleteIssues(_Command, tag="delete_issues"):
    """Delete the issues and their events; a later event of one of their hashes opens a new issue."""


IssueCommand = UpdateIssues | MergeIssues | DeleteIssues


# --- domain events (topic issues-events, key = project id) ---

class IssueEventMeta(msgspec.Struct, kw_only=True, frozen=True):
    event_id: str  # unique and stable: a replay republishes the same id
    project_id: int
    at: datetime
    actor_user_id: int | None = None
    command_id: str | None = None


class _Event(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    meta: IssueEventMeta
    group_id: int


class IssueCreated(_Event, tag="issue_created"):
    short_number: int
    title: str
    culprit: str
    level: str
    event_type: str
    first_event_id: str
    first_release: str = ""


class IssueStatusChanged(_Event, tag="issue_status_changed"):
    status: Status
    substatus: Substatus
    status_details: StatusDetails = StatusDetails()
    # user: set through the API; ignore_expired: an ignore's condition was met
    reason: Literal["user", "ignore_expired"] = "user"


class IssueRegressed(_Event, tag="issue_regressed"):
    """A resolved issue happened again: it is unresolved (substatus `regressed`)."""

    event_id: str
    release: str = ""


class IssueAssigned(_Event, tag="issue_assigned"):
    assignee: Assignee | None  # None: unassigned


class IssueUserFlags(_Event, tag="issue_user_flags"):
    """What one user set on the issue; None: left as it was."""

    user_id: int
    has_seen: bool | None = None
    is_bookmarked: bool | None = None
    is_subscribed: bool | None = None


class IssueShared(_Event, tag="issue_shared"):
    is_public: bool
    share_id: str | None = None


class IssueMerged(_Event, tag="issue_merged"):
    """`group_id` (a child) merged into `into` (the parent): its hashes and events moved there."""

    into: int
    hashes: tuple[str, ...] = ()


class IssueDeleted(_Event, tag="issue_deleted"):
    hashes: tuple[str, ...] = ()


IssueEvent = (IssueCreated | IssueStatusChanged | IssueRegressed | IssueAssigned | IssueUserFlags | IssueShared
              | IssueMerged | IssueDeleted)


def issues_key(value: _Command | _Event) -> str:
    """The aggregate key: the project id."""
    return str(value.project_id if isinstance(value, _Command) else value.meta.project_id)
