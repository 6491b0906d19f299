"""A gateway on a fake runtime with one organization to test routes against: `acme` with a team,
a project and its key, tokens of members with different roles and scopes, and `globex`, another
organization with a member of its own."""

from __future__ import annotations

from dataclasses import dataclass


from picket.schemas.entities import Member, Organization, Project, ProjectKey, Team, User
from picket.tenancy.roles import ALL_SCOPES
from tests.support.fake_runtime import FakeRuntime, TestClient


@dataclass
class World:
    rt: FakeRuntime
    http: TestClient
    org: Organization
    team: Team
    project: Project
    key: ProjectKey
    owner: User
    owner_member: Member
    owner_token: str  # every scope, role owner
    member_token: str  # every scope, role member: reads, no project writes
    viewer_token: str  # only org:read, role owner
    stranger_token: str  # every scope, member of `other` only
    other: Organization

    def get(self, url: str, token: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
        return self.http.get(url, headers=auth(token or self.owner_token), **kwargs)

    def post(self, url: str, json: object = None, token: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
        return self.http.post(url, json=json, headers=auth(token or self.owner_token), **kwargs)

    def put(self, url: str, json: object = None, token: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
        return self.http.put(url, json=json, headers=auth(token or self.owner_token), **kwargs)

    def delete(self, url: str, token: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
        return self.http.delete(url, headers=auth(token or self.owner_token), **kwargs)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_world() -> World:
    rt = FakeRuntime()
    org = rt.add_org("acme", "Acme")
    team = rt.add_team(org, "backend")
    project = rt.add_project(org, "api", [team], platform="python")
    key = rt.add_key(project)
    owner = rt.add_user("owner@acme.test", "Olive Owner")
    owner_member = rt.add_member(org, owner, "owner", [team])
    member = rt.add_user("member@acme.test", "Max Member")
    rt.add_member(org, member, "member", [team])
    viewer = rt.add_user("viewer@acme.test", "Vic Viewer")
    rt.add_member(org, viewer, "owner")
    other = rt.add_org("globex", "Globex")
    stranger = rt.add_user("stranger@globex.test", "Stan Stranger")
    rt.add_member(other, stranger, "owner")
    return World(
        rt=rt, http=rt.client(), org=org, team=team, project=project, key=key, owner=owner,
        owner_member=owner_member, owner_token=rt.add_token(owner, ALL_SCOPES),
        member_token=rt.add_token(member, ALL_SCOPES), viewer_token=rt.add_token(viewer, ["org:read"]),
        stranger_token=rt.add_token(stranger, ALL_SCOPES), other=other,
    )


def detail(response) -> str:  # type: ignore[no-untyped-def]
    return response.json()["detail"]
