"""Aggregate states of the tenancy context, as the deciding agent keeps them.

Three kinds of aggregate, told apart by their key prefix:
- `org:<id>`       an organization with its teams, projects, keys and members;
- `orgslug:<slug>` the claim on an organization slug (slugs are unique across organizations);
- `user:<email>`   a user with its API tokens.
"""

from __future__ import annotations

import msgspec

from picket.schemas.entities import Member, Organization, Project, ProjectKey, Team, Token, User

# How many command ids an aggregate remembers to answer a redelivered command idempotently.
RECENT_COMMANDS = 256


class OrgState(msgspec.Struct, kw_only=True, frozen=True):
    version: int = 0
    organization: Organization | None = None
    teams: dict[int, Team] = {}
    projects: dict[int, Project] = {}
    keys: dict[int, ProjectKey] = {}
    members: dict[int, Member] = {}
    deleted_teams: dict[int, Team] = {}
    deleted_projects: dict[int, Project] = {}
    recent_commands: list[str] = []


class SlugState(msgspec.Struct, kw_only=True, frozen=True):
    version: int = 0
    owner: int | None = None
    recent_commands: list[str] = []


class UserState(msgspec.Struct, kw_only=True, frozen=True):
    version: int = 0
    user: User | None = None
    tokens: dict[int, Token] = {}
    recent_commands: list[str] = []


AggregateState = OrgState | SlugState | UserState

_TYPES: dict[str, type[OrgState] | type[SlugState] | type[UserState]] = {
    "org": OrgState,
    "orgslug": SlugState,
    "user": UserState,
}


def state_type(key: str) -> type[OrgState] | type[SlugState] | type[UserState]:
    """The state type of the aggregate with this key; KeyError for an unknown prefix."""
    return _TYPES[key.split(":", 1)[0]]


def initial_state(key: str) -> AggregateState:
    return state_type(key)()

