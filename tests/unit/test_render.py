"""The gateway's renderings of tenancy records, checked against Sentry's OpenAPI reference.

Each test renders a shape from records exactly as an endpoint answers it, and validates it with
the response schema of that endpoint in the reference document (tests/support/contract.py).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from picket.schemas.entities import Member, Organization, Project, ProjectKey, RateLimit, Team, User
from picket.gateway import render
from picket.tenancy.roles import role_scopes
from tests.support.contract import ContractError, validate_response

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
PUBLIC_URL = "http://picket.test:8000"

ORG = Organization(id=1, slug="acme", name="Acme", date_created=T0)
BACKEND = Team(id=20, org_id=1, slug="backend", name="Backend", date_created=T0)
FRONTEND = Team(id=21, org_id=1, slug="frontend", name="Frontend", date_created=T0)
TEAMS = {t.id: t for t in (BACKEND, FRONTEND)}
WEB = Project(id=30, org_id=1, slug="web", name="Web", date_created=T0, team_ids=[20],
              platform="python")
API = Project(id=31, org_id=1, slug="api", name="API", date_created=T0, team_ids=[20, 21])
ORPHAN = Project(id=32, org_id=1, slug="orphan", name="Orphan", date_created=T0)
OWNER_USER = User(id=100, email="owner@acme.test", name="Olive Owner", date_joined=T0)
MEMBER_USER = User(id=101, email="mia@acme.test", name="Mia Member", date_joined=T0)
OWNER = Member(id=10, org_id=1, email="owner@acme.test", role="owner", date_created=T0,
               user_id=100, team_ids=[20])
MEMBER = Member(id=11, org_id=1, email="mia@acme.test", role="member", date_created=T0,
                user_id=101, team_ids=[20, 21])
INVITED = Member(id=12, org_id=1, email="new@acme.test", role="admin", date_created=T0,
                 pending=True, inviter_name="Olive Owner")
MEMBERS = [OWNER, MEMBER, INVITED]
SCOPES = sorted(role_scopes("owner"))
KEY = ProjectKey(id=40, org_id=1, project_id=30, label="Default", public="a" * 32,
                 secret="b" * 32, date_created=T0)
LIMITED_KEY = ProjectKey(id=41, org_id=1, project_id=30, label="Limited", public="c" * 32,
                         secret="d" * 32, date_created=T0, rate_limit=RateLimit(window=60, count=10))


def violations(error: ContractError) -> list[str]:
    """The violation lines of a ContractError, each `<json path>: <message> (schema: ...)`."""
    return [line.strip()[2:] for line in str(error).splitlines() if line.strip().startswith("- ")]


def violated_paths(error: ContractError) -> set[str]:
    return {line.split(":", 1)[0] for line in violations(error)}


# --- dates ---------------------------------------------------------------------------------------


def test_dates_are_rfc3339_utc_with_milliseconds_and_z():
    assert render.iso(T0) == "2024-05-01T12:00:00.123Z"
    assert render.iso(datetime(2024, 5, 1, 12, 0)) == "2024-05-01T12:00:00.000Z"  # naive = UTC
    from datetime import timedelta
    plus2 = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert render.iso(plus2) == "2024-05-01T12:00:00.000Z"
    assert render.iso(None) is None


# --- organizations -------------------------------------------------------------------------------


def test_organization_list_matches_the_reference():
    other = Organization(id=2, slug="globex", name="Globex", date_created=T0, require_2fa=True)
    body = [render.organization_summary(o) for o in (ORG, other)]
    assert body[0]["id"] == "1" and body[1]["require2FA"] is True
    validate_response("GET", "/api/0/organizations/", 200, body)


def test_organization_detail_matches_the_reference():
    body = render.organization_detail(ORG, SCOPES, OWNER, [BACKEND, FRONTEND], [WEB, API, ORPHAN],
                                      MEMBERS)
    assert body["slug"] == "acme"
    assert [t["memberCount"] for t in body["teams"]] == [2, 1]
    assert [p["team"] for p in body["projects"]][2] is None
    validate_response("GET", "/api/0/organizations/acme/", 200, body)


# --- teams ---------------------------------------------------------------------------------------


def test_created_team_with_nested_organization_and_projects_matches_the_reference():
    """A team as POST /teams/ answers it: the team, its organization (nested shape) and its
    projects in the shape the team endpoints use for them (`project_created`)."""
    body = {
        **render.team(BACKEND, MEMBERS, OWNER, SCOPES),
        "organization": render.organization_nested(ORG, PUBLIC_URL),
        "projects": [render.project_created(p, TEAMS, OWNER, SCOPES) for p in (WEB, API)],
    }
    assert body["isMember"] is True and body["memberCount"] == 2
    validate_response("POST", "/api/0/organizations/acme/teams/", 201, body)


def test_team_detail_matches_the_reference():
    body = render.team_detail(FRONTEND, ORG, MEMBERS, OWNER, SCOPES)
    assert body["isMember"] is False and body["teamRole"] is None
    validate_response("GET", "/api/0/teams/acme/backend/", 200, body)


# --- projects ------------------------------------------------------------------------------------


def test_organization_project_list_matches_the_reference():
    body = [render.project_summary(p, TEAMS, MEMBER, SCOPES) for p in (WEB, API, ORPHAN)]
    assert body[1]["teams"] == [render.team_ref(BACKEND), render.team_ref(FRONTEND)]
    assert body[2]["team"] is None and body[2]["teams"] == []
    validate_response("GET", "/api/0/organizations/acme/projects/", 200, body)


def test_created_project_matches_the_reference():
    body = render.project_created(WEB, TEAMS, OWNER, SCOPES)
    assert re.fullmatch(r"#[0-9a-f]{6}", body["color"])
    validate_response("POST", "/api/0/teams/acme/backend/projects/", 201, body)


def test_project_detail_matches_the_reference():
    body = render.project_detail(API, ORG, TEAMS, OWNER)
    assert body["team"] == render.team_ref(BACKEND)
    validate_response("GET", "/api/0/projects/acme/web/", 200, body)


def test_project_detail_of_a_project_without_team_matches_the_reference():
    body = render.project_detail(ORPHAN, ORG, TEAMS, OWNER)
    validate_response("GET", "/api/0/projects/acme/orphan/", 200, body)


def test_cross_organization_project_list_matches_the_reference():
    body = [render.project_in_list(p, ORG, MEMBER) for p in (WEB, API, ORPHAN)]
    assert [p["isMember"] for p in body] == [True, True, False]
    validate_response("GET", "/api/0/projects/", 200, body)


# --- client keys ---------------------------------------------------------------------------------


def test_key_list_without_rate_limit_matches_the_reference():
    body = [render.project_key(KEY, PUBLIC_URL)]
    assert body[0]["dsn"]["public"] == f"http://{'a' * 32}@picket.test:8000/30"
    assert body[0]["rateLimit"] is None
    validate_response("GET", "/api/0/projects/acme/web/keys/", 200, body)


def test_key_with_rate_limit_differs_from_the_reference_only_in_rate_limit():
    """Sentry answers `rateLimit` as {window, count}; the reference types it as a string. Every
    other field of the key must still match."""
    body = [render.project_key(LIMITED_KEY, PUBLIC_URL)]
    assert body[0]["rateLimit"] == {"window": 60, "count": 10}
    with pytest.raises(ContractError) as raised:
        validate_response("GET", "/api/0/projects/acme/web/keys/", 200, body)
    assert violated_paths(raised.value) == {"$[0].rateLimit"}, violations(raised.value)


# --- members and users ---------------------------------------------------------------------------


def test_organization_user_list_matches_the_reference():
    body = [render.organization_user(OWNER, OWNER_USER, [WEB, API, ORPHAN]),
            render.organization_user(MEMBER, MEMBER_USER, [WEB, API, ORPHAN])]
    assert body[0]["projects"] == ["web", "api"]
    validate_response("GET", "/api/0/organizations/acme/users/", 200, body)


@pytest.mark.parametrize(
    ("member", "user", "deviations"),
    [
        (OWNER, OWNER_USER, {"$.expired"}),
        (MEMBER, MEMBER_USER, {"$.expired"}),
        # An invitation has no account yet: Sentry answers `user: null`, which the reference
        # (typing `user` as a required object) does not foresee.
        (INVITED, None, {"$.expired", "$.user"}),
    ],
    ids=["owner", "member", "pending-invite"],
)
def test_member_detail_differs_from_the_reference_only_where_sentry_does(member, user, deviations):
    """The reference types `expired` as a string while Sentry answers a boolean; every other
    field of the member must match."""
    body = render.member_detail(member, user, TEAMS, MEMBERS, "owner")
    assert body["expired"] is False
    with pytest.raises(ContractError) as raised:
        validate_response("GET", "/api/0/organizations/acme/members/1/", 200, body)
    assert violated_paths(raised.value) == deviations, violations(raised.value)


def test_member_detail_says_who_is_the_only_owner():
    assert render.member_detail(OWNER, OWNER_USER, TEAMS, MEMBERS, "owner")["isOnlyOwner"] is True
    assert render.member_detail(MEMBER, MEMBER_USER, TEAMS, MEMBERS, "owner")["isOnlyOwner"] is False
    roles = render.member_detail(MEMBER, MEMBER_USER, TEAMS, MEMBERS, "admin")["orgRoleList"]
    assert {r["id"]: r["allowed"] for r in roles} == {
        "member": True, "admin": True, "manager": False, "owner": False, "billing": False,
    }
