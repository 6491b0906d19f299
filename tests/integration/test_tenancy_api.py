"""The organization slice end to end: HTTP → Kafka → agent → ClickHouse → HTTP.

Each scenario runs against a real `picket run` process on the real Apache Kafka broker and
embedded ClickHouse (chdb); every response is checked against Sentry's reference schema.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.api import call
from tests.support.picket import REPO, PicketProcess


def _slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _admin(p: PicketProcess, *args: str) -> str:
    """Run `picket admin ...` against the running process (bus only: chdb is held by it)."""
    env = {"KAFKA_BOOTSTRAP": p.bootstrap, "PICKET_TOPIC_PREFIX": p.prefix, "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "picket.cli", "admin", *args, "--data-dir", str(p.data_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_create_organization_team_project_key_each_answer_carries_the_resource(picket: PicketProcess) -> None:
    with picket.client() as http:
        org_slug = _slug("org")
        org = call(http, "POST", "/api/0/organizations/", json={"name": "Acme " + org_slug, "slug": org_slug})
        assert org.status_code == 201 and org.json()["slug"] == org_slug
        assert call(http, "GET", f"/api/0/organizations/{org_slug}/").json()["id"] == org.json()["id"]

        team = call(http, "POST", f"/api/0/organizations/{org_slug}/teams/", json={"name": "Platform Team"})
        assert team.status_code == 201
        assert team.json()["slug"] == "platform-team" and team.json()["isMember"] is True
        got = call(http, "GET", f"/api/0/teams/{org_slug}/platform-team/")
        assert got.json()["id"] == team.json()["id"] and got.json()["memberCount"] == 1

        project = call(http, "POST", f"/api/0/teams/{org_slug}/platform-team/projects/",
                       json={"name": "Web Shop", "platform": "python"})
        assert project.status_code == 201 and project.json()["slug"] == "web-shop"
        detail = call(http, "GET", f"/api/0/projects/{org_slug}/web-shop/").json()
        assert detail["id"] == project.json()["id"] and detail["team"]["slug"] == "platform-team"

        keys = call(http, "GET", f"/api/0/projects/{org_slug}/web-shop/keys/").json()
        assert [k["label"] for k in keys] == ["Default"], "a new project has its default key"
        key = call(http, "POST", f"/api/0/projects/{org_slug}/web-shop/keys/", json={"name": "CI"})
        assert key.status_code == 201
        k = key.json()
        assert k["dsn"]["public"] == f"http://{k['public']}@127.0.0.1:{picket.port}/{detail['id']}"
        assert len(k["public"]) == 32 and len(k["secret"]) == 32
        listed = call(http, "GET", f"/api/0/projects/{org_slug}/web-shop/keys/").json()
        assert {x["id"] for x in listed} == {keys[0]["id"], k["id"]}

        updated = call(http, "PUT", f"/api/0/projects/{org_slug}/web-shop/keys/{k['id']}/",
                       json={"name": "CI runners", "isActive": False, "rateLimit": {"window": 60, "count": 100}})
        assert updated.json()["name"] == "CI runners" and updated.json()["isActive"] is False
        assert updated.json()["rateLimit"] == {"window": 60, "count": 100}

        org_projects = call(http, "GET", f"/api/0/organizations/{org_slug}/projects/").json()
        assert [p["slug"] for p in org_projects] == ["web-shop"]
        team_projects = call(http, "GET", f"/api/0/teams/{org_slug}/platform-team/projects/").json()
        assert [p["slug"] for p in team_projects] == ["web-shop"]
        everywhere = call(http, "GET", "/api/0/projects/").json()
        assert "web-shop" in {p["slug"] for p in everywhere}


def test_read_your_writes_holds_for_100_of_100_creates(picket: PicketProcess) -> None:
    """Every create is answered only once the next GET sees it."""
    with picket.client() as http:
        seen = 0
        for i in range(100):
            slug = _slug(f"ryw{i}")
            created = call(http, "POST", f"/api/0/organizations/{picket.org}/teams/", json={"slug": slug})
            assert created.status_code == 201
            got = http.get(f"/api/0/teams/{picket.org}/{slug}/")
            seen += got.status_code == 200 and got.json()["id"] == created.json()["id"]
        assert seen == 100


def test_20_concurrent_creates_of_one_team_slug_give_one_201_and_nineteen_409(picket: PicketProcess) -> None:
    slug = _slug("race")

    def create(_: int) -> int:
        with picket.client() as http:
            return http.post(f"/api/0/organizations/{picket.org}/teams/", json={"slug": slug}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(create, range(20)))
    assert sorted(codes) == [201] + [409] * 19


def test_update_and_scheduled_delete(picket: PicketProcess) -> None:
    with picket.client() as http:
        slug = _slug("upd")
        call(http, "POST", f"/api/0/organizations/{picket.org}/teams/", json={"slug": slug, "name": "Old"})
        renamed = call(http, "PUT", f"/api/0/teams/{picket.org}/{slug}/", json={"name": "New", "slug": slug + "-x"})
        assert renamed.json()["name"] == "New" and renamed.json()["slug"] == slug + "-x"
        assert http.get(f"/api/0/teams/{picket.org}/{slug}/").status_code == 404
        call(http, "POST", f"/api/0/teams/{picket.org}/{slug}-x/projects/", json={"name": slug})
        proj = call(http, "PUT", f"/api/0/projects/{picket.org}/{slug}/", json={"name": "Renamed", "isBookmarked": True})
        assert proj.json()["name"] == "Renamed" and proj.json()["isBookmarked"] is True

        assert call(http, "DELETE", f"/api/0/projects/{picket.org}/{slug}/").status_code == 204
        assert http.get(f"/api/0/projects/{picket.org}/{slug}/").status_code == 404
        assert slug not in {p["slug"] for p in http.get(f"/api/0/organizations/{picket.org}/projects/").json()}
        assert call(http, "DELETE", f"/api/0/teams/{picket.org}/{slug}-x/").status_code == 204
        assert http.get(f"/api/0/teams/{picket.org}/{slug}-x/").status_code == 404
        # The slug is free again once the team is gone.
        again = call(http, "POST", f"/api/0/organizations/{picket.org}/teams/", json={"slug": slug + "-x"})
        assert again.status_code == 201


def test_members_and_users(picket: PicketProcess) -> None:
    with picket.client() as http:
        me = call(http, "GET", f"/api/0/organizations/{picket.org}/members/me/").json()
        assert me["role"] == "owner" and me["isOnlyOwner"] is True
        by_id = call(http, "GET", f"/api/0/organizations/{picket.org}/members/{me['id']}/").json()
        assert by_id["email"] == me["email"]
        users = call(http, "GET", f"/api/0/organizations/{picket.org}/users/").json()
        assert [u["email"] for u in users] == [me["email"]]
        # The only owner cannot be removed.
        assert http.delete(f"/api/0/organizations/{picket.org}/members/{me['id']}/").status_code == 403
        assert http.get(f"/api/0/organizations/{picket.org}/members/999/").status_code == 404


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("POST", "/api/0/organizations/{org}/teams/", {"slug": "Not Valid"}),
        ("POST", "/api/0/organizations/{org}/teams/", {}),
        ("POST", "/api/0/organizations/{org}/teams/", {"slug": "12345"}),
        ("POST", "/api/0/organizations/{org}/teams/", "not json"),
        ("POST", "/api/0/organizations/{org}/teams/", {"name": 7}),
        ("PUT", "/api/0/organizations/{org}/", {"slug": "x"}),
        ("GET", "/api/0/organizations/{org}/teams/?per_page=0", None),
        ("GET", "/api/0/organizations/{org}/teams/?cursor=abc", None),
    ],
)
def test_bad_input_gets_400_with_detail(picket: PicketProcess, method: str, path: str, body: object) -> None:
    with picket.client() as http:
        kwargs = {"content": body} if isinstance(body, str) else ({"json": body} if body is not None else {})
        response = http.request(method, path.format(org=picket.org), **kwargs)
        assert response.status_code == 400, response.text
        assert isinstance(response.json()["detail"], str)


def test_unknown_resources_are_404(picket: PicketProcess) -> None:
    with picket.client() as http:
        for path in (
            "/api/0/organizations/no-such-org/",
            f"/api/0/teams/{picket.org}/no-such-team/",
            f"/api/0/projects/{picket.org}/no-such-project/",
            f"/api/0/projects/{picket.org}/no-such-project/keys/",
            "/api/0/nothing-here/",
        ):
            response = http.get(path)
            assert response.status_code == 404, path
            assert response.json() == {"detail": "The requested resource does not exist"}


def test_auth_401_403_and_no_leaks_across_organizations(picket: PicketProcess) -> None:
    org = picket.org
    assert httpx.get(f"{picket.url}/api/0/organizations/{org}/").status_code == 401
    with picket.client(token="0" * 64) as bad:
        assert bad.get(f"/api/0/organizations/{org}/").status_code == 401

    # Bob: his own user, a full-scope token, and his own organization.
    bob = f"bob-{uuid.uuid4().hex[:6]}@example.com"
    _admin(picket, "create-user", "--email", bob)
    bob_token = _admin(picket, "create-token", "--email", bob)
    read_only = _admin(picket, "create-token", "--email", bob, "--scopes", "org:read")
    bob_org = _slug("bob")
    with picket.client(token=bob_token) as http:
        assert call(http, "POST", "/api/0/organizations/", json={"name": bob_org, "slug": bob_org}).status_code == 201
        call(http, "POST", f"/api/0/organizations/{bob_org}/teams/", json={"slug": "secret-team"})
        # Bob sees only his organization, and Alice's is forbidden to him.
        assert [o["slug"] for o in call(http, "GET", "/api/0/organizations/").json()] == [bob_org]
        assert http.get(f"/api/0/organizations/{org}/").status_code == 403
        assert http.get(f"/api/0/organizations/{org}/teams/").status_code == 403
        assert http.get(f"/api/0/organizations/{org}/projects/").status_code == 403
        assert http.post(f"/api/0/organizations/{org}/teams/", json={"slug": "intruder"}).status_code == 403
        assert {p["organization"]["slug"] for p in call(http, "GET", "/api/0/projects/").json()} <= {bob_org}
    with picket.client(token=read_only) as http:
        assert call(http, "GET", f"/api/0/organizations/{bob_org}/").status_code == 200
        denied = http.post(f"/api/0/organizations/{bob_org}/teams/", json={"slug": "nope"})
        assert denied.status_code == 403 and "detail" in denied.json()
    with picket.client() as alice:
        assert alice.get(f"/api/0/organizations/{bob_org}/").status_code == 403
        assert bob_org not in {o["slug"] for o in alice.get("/api/0/organizations/").json()}
        assert "secret-team" not in {t["slug"] for t in alice.get(f"/api/0/organizations/{org}/teams/").json()}


def test_pagination_link_header(picket: PicketProcess) -> None:
    with picket.client() as http:
        org_slug = _slug("pages")
        call(http, "POST", "/api/0/organizations/", json={"name": org_slug, "slug": org_slug})
        for i in range(3):
            call(http, "POST", f"/api/0/organizations/{org_slug}/teams/", json={"slug": f"t{i}-team"})
        first = call(http, "GET", f"/api/0/organizations/{org_slug}/teams/?per_page=2")
        assert [t["slug"] for t in first.json()] == ["t0-team", "t1-team"]
        assert 'rel="next"; results="true"; cursor="2:1:0"' in first.headers["link"]
        assert 'rel="previous"; results="false"' in first.headers["link"]
        second = call(http, "GET", f"/api/0/organizations/{org_slug}/teams/?per_page=2&cursor=2:1:0")
        assert [t["slug"] for t in second.json()] == ["t2-team"]
        assert 'rel="next"; results="false"' in second.headers["link"]


def test_everything_survives_a_restart_on_the_same_data(fresh_picket: PicketProcess) -> None:
    p = fresh_picket.start()
    with p.client() as http:
        call(http, "POST", f"/api/0/organizations/{p.org}/teams/", json={"slug": "kept"})
        call(http, "POST", f"/api/0/teams/{p.org}/kept/projects/", json={"name": "Kept Project"})
        keys_before = call(http, "GET", f"/api/0/projects/{p.org}/kept-project/keys/").json()
    p.stop()
    p.start()
    with p.client() as http:
        assert call(http, "GET", f"/api/0/teams/{p.org}/kept/").status_code == 200
        assert call(http, "GET", f"/api/0/projects/{p.org}/kept-project/").json()["name"] == "Kept Project"
        assert call(http, "GET", f"/api/0/projects/{p.org}/kept-project/keys/").json() == keys_before
        # The agent still knows the state: a duplicate slug is still refused after the restart.
        assert http.post(f"/api/0/organizations/{p.org}/teams/", json={"slug": "kept"}).status_code == 409
