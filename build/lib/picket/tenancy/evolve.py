"""evolve(state, event) -> state. Pure; applying an event twice changes nothing.

An event whose version is not newer than the state's is one the state already holds (a
re-delivery after a crash), so it is ignored.
"""

from __future__ import annotations

from typing import Any

import msgspec

from picket.schemas import events as e
from picket.tenancy.state import RECENT_COMMANDS, AggregateState, OrgState


def _without(d: dict[int, Any], key: int) -> dict[int, Any]:
    return {k: v for k, v in d.items() if k != key}


def evolve(state: AggregateState, event: Any) -> AggregateState:
    if event.meta.version <= state.version:
        return state
    recent = state.recent_commands
    if event.meta.command_id not in recent:
        recent = [*recent[-(RECENT_COMMANDS - 1) :], event.meta.command_id]
    base = {"version": event.meta.version, "recent_commands": recent}
    match event:
        case e.OrganizationSlugClaimed():
            return msgspec.structs.replace(state, owner=event.org_id, **base)
        case e.OrganizationSlugReleased():
            return msgspec.structs.replace(state, owner=None, **base)
        case e.UserCreated():
            return msgspec.structs.replace(state, user=event.user, **base)
        case e.TokenCreated():
            tokens = {**state.tokens, event.token.id: event.token}  # type: ignore[union-attr]
            return msgspec.structs.replace(state, tokens=tokens, **base)
    assert isinstance(state, OrgState), f"{type(event).__name__} applies to organizations only"
    s = state
    match event:
        case e.OrganizationCreated() | e.OrganizationUpdated():
            return msgspec.structs.replace(s, organization=event.organization, **base)
        case e.TeamCreated() | e.TeamUpdated():
            return msgspec.structs.replace(s, teams={**s.teams, event.team.id: event.team}, **base)
        case e.TeamDeletionScheduled():
            return msgspec.structs.replace(
                s,
                teams=_without(s.teams, event.team.id),
                deleted_teams={**s.deleted_teams, event.team.id: event.team},
                **base,
            )
        case e.ProjectCreated() | e.ProjectUpdated():
            projects = {**s.projects, event.project.id: event.project}
            return msgspec.structs.replace(s, projects=projects, **base)
        case e.ProjectDeletionScheduled():
            return msgspec.structs.replace(
                s,
                projects=_without(s.projects, event.project.id),
                deleted_projects={**s.deleted_projects, event.project.id: event.project},
                **base,
            )
        case e.KeyCreated() | e.KeyUpdated():
            return msgspec.structs.replace(s, keys={**s.keys, event.key.id: event.key}, **base)
        case e.KeyDeleted():
            return msgspec.structs.replace(s, keys=_without(s.keys, event.key.id), **base)
        case e.MemberAdded() | e.MemberUpdated():
            members = {**s.members, event.member.id: event.member}
            return msgspec.structs.replace(s, members=members, **base)
        case e.MemberRemoved():
            return msgspec.structs.replace(s, members=_without(s.members, event.member.id), **base)
    raise TypeError(f"unknown event {type(event).__name__}")


def fold(state: AggregateState, events: list[Any]) -> AggregateState:
    for event in events:
        state = evolve(state, event)
    return state
