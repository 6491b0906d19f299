"""Domain events of the tenancy context, published on the public `tenancy-events` topic.

Every event carries its own id, the aggregate it belongs to, the aggregate's version after it,
a timestamp, and the command that caused it. Ids are derived from the command id, so an event
re-published after a crash has the same id and subscribers can drop the duplicate.
Evolution rule: add fields with defaults; never change or remove one.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from picket.schemas.entities import Member, Organization, Project, ProjectKey, Team, Token, User


class EventMeta(msgspec.Struct, kw_only=True, frozen=True):
    event_id: str
    aggregate: str
    version: int
    timestamp: datetime
    command_id: str
    reply_to: str | None = None  # set on the last event of a command whose caller waits


class _Event(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    meta: EventMeta


class OrganizationSlugClaimed(_Event, tag="organization_slug_claimed"):
    slug: str
    org_id: int


class OrganizationSlugReleased(_Event, tag="organization_slug_released"):
    slug: str
    org_id: int


class UserCreated(_Event, tag="user_created"):
    user: User


class TokenCreated(_Event, tag="token_created"):
    token: Token


class OrganizationCreated(_Event, tag="organization_created"):
    organization: Organization


class OrganizationUpdated(_Event, tag="organization_updated"):
    organization: Organization


class TeamCreated(_Event, tag="team_created"):
    team: Team


class TeamUpdated(_Event, tag="team_updated"):
    team: Team


class TeamDeletionScheduled(_Event, tag="team_deletion_scheduled"):
    team: Team


class ProjectCreated(_Event, tag="project_created"):
    project: Project


class ProjectUpdated(_Event, tag="project_updated"):
    project: Project


class ProjectDeletionScheduled(_Event, tag="project_deletion_scheduled"):
    project: Project


class KeyCreated(_Event, tag="key_created"):
    key: ProjectKey


class KeyUpdated(_Event, tag="key_updated"):
    key: ProjectKey


class KeyDeleted(_Event, tag="key_deleted"):
    key: ProjectKey


class MemberAdded(_Event, tag="member_added"):
    member: Member


class MemberUpdated(_Event, tag="member_updated"):
    member: Member


class MemberRemoved(_Event, tag="member_removed"):
    member: Member


TenancyEvent = (
    OrganizationSlugClaimed
    | OrganizationSlugReleased
    | UserCreated
    | TokenCreated
    | OrganizationCreated
    | OrganizationUpdated
    | TeamCreated
    | TeamUpdated
    | TeamDeletionScheduled
    | ProjectCreated
    | ProjectUpdated
    | ProjectDeletionScheduled
    | KeyCreated
    | KeyUpdated
    | KeyDeleted
    | MemberAdded
    | MemberUpdated
    | MemberRemoved
)
