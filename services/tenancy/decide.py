"""decide(state, command) -> Accepted(events) | Rejected(outcome, detail). Pure, deterministic.

Uniqueness (slugs), existence and invariants (an organization keeps an owner) are decided here,
by the single writer of the aggregate, never by the gateway. Everything random or time-bound
comes in the command, so deciding the same command on the same state gives the same events.
"""

from __future__ import annotations

from typing import Any

import msgspec

from picket.schemas import commands as c
from picket.schemas import events as e
from picket.schemas.entities import Member, Organization, Project, ProjectKey, Team, Token, User
from picket.decisions import Accepted, Decision, Emitter, Rejected
from picket.tenancy.state import AggregateState, OrgState, SlugState, UserState


NOT_FOUND = "The requested resource does not exist"

__all__ = ["Accepted", "Decision", "Rejected", "decide"]


def _emitter(command: Any, key: str, version: int) -> Emitter:
    return Emitter(command, key, version, e.EventMeta, command.meta.issued_at)


def decide(key: str, state: AggregateState, command: Any) -> Decision:
    """Decide `command` against the state of aggregate `key`."""
    if command.meta.command_id in state.recent_commands:
        return Accepted([], duplicate=True)
    emit = _emitter(command, key, state.version)
    match state:
        case SlugState():
            result = _decide_slug(state, command, emit)
        case UserState():
            result = _decide_user(state, command, emit)
        case OrgState():
            result = _decide_org(state, command, emit)
    return result if isinstance(result, Rejected) else emit.done()


def _decide_slug(state: SlugState, cmd: Any, emit: Emitter) -> Rejected | None:
    match cmd:
        case c.ClaimOrganizationSlug():
            if state.owner is not None and state.owner != cmd.org_id:
                return Rejected("conflict", "An organization with this slug already exists.")
            if state.owner is None:
                emit(e.OrganizationSlugClaimed, slug=cmd.slug, org_id=cmd.org_id)
        case c.ReleaseOrganizationSlug():
            if state.owner == cmd.org_id:
                emit(e.OrganizationSlugReleased, slug=cmd.slug, org_id=cmd.org_id)
        case _:
            return Rejected("invalid", f"{type(cmd).__name__} does not apply to a slug claim.")
    return None


def _decide_user(state: UserState, cmd: Any, emit: Emitter) -> Rejected | None:
    match cmd:
        case c.CreateUser():
            if state.user is not None:
                return Rejected("conflict", "A user with this email already exists.", state.user.id)
            emit(
                e.UserCreated,
                user=User(
                    id=cmd.user_id, email=cmd.email, name=cmd.name, date_joined=cmd.meta.issued_at
                ),
            )
        case c.CreateToken():
            if state.user is None:
                return Rejected("not_found", "The user does not exist.")
            if any(t.token_hash == cmd.token_hash for t in state.tokens.values()):
                return Rejected("conflict", "This token already exists.")
            emit(
                e.TokenCreated,
                token=Token(
                    id=cmd.token_id,
                    user_id=state.user.id,
                    token_hash=cmd.token_hash,
                    scopes=sorted(set(cmd.scopes)),
                    date_created=cmd.meta.issued_at,
                    name=cmd.name,
                    org_id=cmd.org_id,
                ),
            )
        case _:
            return Rejected("invalid", f"{type(cmd).__name__} does not apply to a user.")
    return None


def _changed(record: Any, changes: dict[str, object]) -> Any | None:
    """`record` with `changes` applied and re-validated, or None if they do not fit its type."""
    if not set(changes) <= set(record.__struct_fields__) or {"id", "org_id"} & set(changes):
        return None
    try:
        return msgspec.convert({**msgspec.structs.asdict(record), **changes}, type(record))
    except (msgspec.ValidationError, TypeError):
        return None


def _new_key(cmd: Any, org_id: int, key_id: int, label: str, public: str, secret: str,
             rate_limit: Any = None) -> ProjectKey:
    return ProjectKey(
        id=key_id, org_id=org_id, project_id=cmd.project_id, label=label, public=public, secret=secret,
        rate_limit=rate_limit, date_created=cmd.meta.issued_at,
    )


def _team_slug_taken(state: OrgState, slug: str, except_id: int | None = None) -> bool:
    return any(t.slug == slug and t.id != except_id for t in state.teams.values())


def _project_slug_taken(state: OrgState, slug: str, except_id: int | None = None) -> bool:
    return any(p.slug == slug and p.id != except_id for p in state.projects.values())


def _decide_org(state: OrgState, cmd: Any, emit: Emitter) -> Rejected | None:
    org = state.organization
    if isinstance(cmd, c.CreateOrganization):
        if org is not None:
            return Rejected("conflict", "The organization already exists.")
        emit(
            e.OrganizationCreated,
            organization=Organization(
                id=cmd.org_id, slug=cmd.slug, name=cmd.name, date_created=cmd.meta.issued_at
            ),
        )
        emit(
            e.MemberAdded,
            member=Member(
                id=cmd.owner_member_id,
                org_id=cmd.org_id,
                email=cmd.owner_email,
                role="owner",
                user_id=cmd.owner_user_id,
                date_created=cmd.meta.issued_at,
            ),
        )
        return None
    if org is None or org.status != "active":
        return Rejected("not_found", NOT_FOUND)

    match cmd:
        case c.UpdateOrganization():
            updated = _changed(org, cmd.changes)
            if updated is None:
                return Rejected("invalid", "Invalid organization fields.")
            emit(e.OrganizationUpdated, organization=updated)

        case c.CreateTeam():
            if _team_slug_taken(state, cmd.slug):
                return Rejected("conflict", "A team with this slug already exists.")
            team = Team(
                id=cmd.team_id,
                org_id=org.id,
                slug=cmd.slug,
                name=cmd.name,
                date_created=cmd.meta.issued_at,
            )
            emit(e.TeamCreated, team=team)
            creator = state.members.get(cmd.creator_member_id or -1)
            if creator is not None:
                # As in Sentry, whoever creates a team joins it.
                emit(
                    e.MemberUpdated,
                    member=msgspec.structs.replace(
                        creator, team_ids=sorted({*creator.team_ids, team.id})
                    ),
                )

        case c.UpdateTeam():
            team = state.teams.get(cmd.team_id)
            if team is None:
                return Rejected("not_found", NOT_FOUND)
            changes: dict[str, Any] = {}
            if cmd.slug is not msgspec.UNSET:
                if _team_slug_taken(state, cmd.slug, except_id=team.id):
                    return Rejected("conflict", "A team with this slug already exists.")
                changes["slug"] = cmd.slug
            if cmd.name is not msgspec.UNSET:
                changes["name"] = cmd.name
            emit(e.TeamUpdated, team=msgspec.structs.replace(team, **changes))

        case c.DeleteTeam():
            team = state.teams.get(cmd.team_id)
            if team is None:
                return Rejected("not_found", NOT_FOUND)
            emit(e.TeamDeletionScheduled, team=team)
            for member in state.members.values():
                if team.id in member.team_ids:
                    emit(
                        e.MemberUpdated,
                        member=msgspec.structs.replace(
                            member, team_ids=[t for t in member.team_ids if t != team.id]
                        ),
                    )
            for project in state.projects.values():
                if team.id in project.team_ids:
                    emit(
                        e.ProjectUpdated,
                        project=msgspec.structs.replace(
                            project, team_ids=[t for t in project.team_ids if t != team.id]
                        ),
                    )

        case c.CreateProject():
            if cmd.team_id not in state.teams:
                return Rejected("not_found", NOT_FOUND)
            if _project_slug_taken(state, cmd.slug):
                return Rejected("conflict", "A project with this slug already exists.")
            emit(
                e.ProjectCreated,
                project=Project(
                    id=cmd.project_id,
                    org_id=org.id,
                    slug=cmd.slug,
                    name=cmd.name,
                    platform=cmd.platform,
                    team_ids=[cmd.team_id],
                    date_created=cmd.meta.issued_at,
                ),
            )
            emit(e.KeyCreated, key=_new_key(cmd, org.id, cmd.key_id, "Default", cmd.key_public, cmd.key_secret))

        case c.UpdateProject():
            project = state.projects.get(cmd.project_id)
            if project is None:
                return Rejected("not_found", NOT_FOUND)
            slug = cmd.changes.get("slug")
            if isinstance(slug, str) and _project_slug_taken(state, slug, except_id=project.id):
                return Rejected("conflict", "Another project is already using that slug.")
            updated = _changed(project, cmd.changes)
            if updated is None:
                return Rejected("invalid", "Invalid project fields.")
            emit(e.ProjectUpdated, project=updated)

        case c.DeleteProject():
            project = state.projects.get(cmd.project_id)
            if project is None:
                return Rejected("not_found", NOT_FOUND)
            emit(e.ProjectDeletionScheduled, project=project)
            for key in state.keys.values():
                if key.project_id == project.id:
                    emit(e.KeyDeleted, key=key)

        case c.CreateKey():
            if cmd.project_id not in state.projects:
                return Rejected("not_found", NOT_FOUND)
            emit(e.KeyCreated, key=_new_key(cmd, org.id, cmd.key_id, cmd.label, cmd.public, cmd.secret,
                                            cmd.rate_limit))

        case c.UpdateKey():
            key = state.keys.get(cmd.key_id)
            if key is None or key.project_id != cmd.project_id:
                return Rejected("not_found", NOT_FOUND)
            fields = ("label", "is_active", "rate_limit", "browser_sdk_version")
            changes = {f: getattr(cmd, f) for f in fields if getattr(cmd, f) is not msgspec.UNSET}
            emit(e.KeyUpdated, key=msgspec.structs.replace(key, **changes))

        case c.DeleteKey():
            key = state.keys.get(cmd.key_id)
            if key is None or key.project_id != cmd.project_id:
                return Rejected("not_found", NOT_FOUND)
            emit(e.KeyDeleted, key=key)

        case c.AddMember():
            if any(m.email.lower() == cmd.email.lower() for m in state.members.values()):
                return Rejected("conflict", "The user is already a member of this organization.")
            unknown = set(cmd.team_ids) - set(state.teams)
            if unknown:
                return Rejected("invalid", "Unknown team.")
            emit(
                e.MemberAdded,
                member=Member(
                    id=cmd.member_id,
                    org_id=org.id,
                    email=cmd.email,
                    role=cmd.role,
                    user_id=cmd.user_id,
                    team_ids=sorted(set(cmd.team_ids)),
                    pending=cmd.user_id is None,
                    date_created=cmd.meta.issued_at,
                ),
            )

        case c.RemoveMember():
            member = state.members.get(cmd.member_id)
            if member is None:
                return Rejected("not_found", NOT_FOUND)
            owners = [m for m in state.members.values() if m.role == "owner" and not m.pending]
            if member.role == "owner" and len(owners) <= 1:
                return Rejected("forbidden", "Cannot remove the only owner of the organization.")
            emit(e.MemberRemoved, member=member)

        case c.UpdateMember():
            member = state.members.get(cmd.member_id)
            if member is None:
                return Rejected("not_found", NOT_FOUND)
            owners = [m for m in state.members.values() if m.role == "owner" and not m.pending]
            if member.role == "owner" and cmd.role != "owner" and len(owners) <= 1 and not member.pending:
                return Rejected("forbidden", "Cannot demote the only owner of the organization.")
            if cmd.role != member.role:
                emit(e.MemberUpdated, member=msgspec.structs.replace(member, role=cmd.role))

        case c.SetTeamMembers():
            team = state.teams.get(cmd.team_id)
            if team is None:
                return Rejected("not_found", NOT_FOUND)
            named = set(cmd.add) | set(cmd.remove) | set(cmd.replace or ())
            if named - set(state.members):
                return Rejected("invalid", "Unknown member.")
            for member in sorted(state.members.values(), key=lambda m: m.id):
                inside = team.id in member.team_ids
                wanted = (member.id in cmd.replace) if cmd.replace is not None else (
                    (inside or member.id in cmd.add) and member.id not in cmd.remove)
                if wanted != inside:
                    teams = sorted({*member.team_ids, team.id}) if wanted else [t for t in member.team_ids if t != team.id]
                    emit(e.MemberUpdated, member=msgspec.structs.replace(member, team_ids=teams))

        case _:
            return Rejected("invalid", f"{type(cmd).__name__} does not apply to an organization.")
    return None
