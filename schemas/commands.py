"""Commands of the tenancy context (organizations, teams, projects, keys, members, users, tokens).

A command is a request to change one aggregate; the agent owning that aggregate decides it.
Everything a decision needs that is not in the aggregate's state — fresh ids, secrets, the
clock — travels in the command, so deciding is deterministic: re-deciding a command after a
crash yields the very same events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from picket.schemas.entities import RateLimit

# msgspec's way of saying "field absent" for partial updates (PUT bodies).
UNSET = msgspec.UNSET
UnsetType = msgspec.UnsetType


class CommandMeta(msgspec.Struct, kw_only=True, frozen=True):
    command_id: str
    issued_at: datetime
    reply_to: str | None = None  # the gateway instance waiting for the verdict
    actor_user_id: int | None = None


class _Command(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    meta: CommandMeta


# --- organization slug directory (aggregate key: orgslug:<slug>) ---

class ClaimOrganizationSlug(_Command, tag="claim_organization_slug"):
    slug: str
    org_id: int


class ReleaseOrganizationSlug(_Command, tag="release_organization_slug"):
    slug: str
    org_id: int


# --- users (aggregate key: user:<email>) ---

class CreateUser(_Command, tag="create_user"):
    user_id: int
    email: str
    name: str


class CreateToken(_Command, tag="create_token"):
    email: str
    token_id: int
    token_hash: str
    scopes: list[str]
    name: str = ""
    org_id: int | None = None


# --- organizations (aggregate key: org:<id>) ---

class CreateOrganization(_Command, tag="create_organization"):
    org_id: int
    slug: str
    name: str
    owner_user_id: int
    owner_email: str
    owner_member_id: int


class UpdateOrganization(_Command, tag="update_organization"):
    org_id: int
    changes: dict[str, Any]  # validated field -> value, already in record field names


class CreateTeam(_Command, tag="create_team"):
    org_id: int
    team_id: int
    slug: str
    name: str
    creator_member_id: int | None = None


class UpdateTeam(_Command, tag="update_team"):
    org_id: int
    team_id: int
    slug: str | UnsetType = UNSET
    name: str | UnsetType = UNSET


class DeleteTeam(_Command, tag="delete_team"):
    org_id: int
    team_id: int


class CreateProject(_Command, tag="create_project"):
    org_id: int
    team_id: int
    project_id: int
    slug: str
    name: str
    # The project's first client key, so a new project has a DSN at once (as in Sentry).
    key_id: int
    key_public: str
    key_secret: str
    platform: str | None = None


class UpdateProject(_Command, tag="update_project"):
    org_id: int
    project_id: int
    changes: dict[str, Any]


class DeleteProject(_Command, tag="delete_project"):
    org_id: int
    project_id: int


class CreateKey(_Command, tag="create_key"):
    org_id: int
    project_id: int
    key_id: int
    label: str
    public: str
    secret: str
    rate_limit: RateLimit | None = None


class UpdateKey(_Command, tag="update_key"):
    org_id: int
    project_id: int
    key_id: int
    label: str | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    rate_limit: RateLimit | None | UnsetType = UNSET
    browser_sdk_version: str | UnsetType = UNSET


class DeleteKey(_Command, tag="delete_key"):
    org_id: int
    project_id: int
    key_id: int


class AddMember(_Command, tag="add_member"):
    org_id: int
    member_id: int
    email: str
    role: str
    user_id: int | None = None
    team_ids: list[int] = []


class RemoveMember(_Command, tag="remove_member"):
    org_id: int
    member_id: int


class UpdateMember(_Command, tag="update_member"):
    """Change a member's organization role; the last owner keeps theirs."""

    org_id: int
    member_id: int
    role: str


class SetTeamMembers(_Command, tag="set_team_members"):
    """Change who is in a team: `replace` (all of them), else `add` and `remove`."""

    org_id: int
    team_id: int
    add: list[int] = []
    remove: list[int] = []
    replace: list[int] | None = None


TenancyCommand = (
    ClaimOrganizationSlug
    | ReleaseOrganizationSlug
    | CreateUser
    | CreateToken
    | CreateOrganization
    | UpdateOrganization
    | CreateTeam
    | UpdateTeam
    | DeleteTeam
    | CreateProject
    | UpdateProject
    | DeleteProject
    | CreateKey
    | UpdateKey
    | DeleteKey
    | AddMember
    | RemoveMember
    | UpdateMember
    | SetTeamMembers
)


def aggregate_key(command: TenancyCommand) -> str:
    """The partition key of a command: every command of one aggregate has the same key."""
    match command:
        case ClaimOrganizationSlug(slug=slug) | ReleaseOrganizationSlug(slug=slug):
            return f"orgslug:{slug}"
        case CreateUser(email=email) | CreateToken(email=email):
            return f"user:{email.lower()}"
        case _:
            return f"org:{command.org_id}"  # type: ignore[union-attr]
