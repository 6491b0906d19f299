"""SCIM provisioning against a running Picket, as an identity provider runs it: create a user,
add it to a group, rename the group, deactivate the user, delete the group — each step checked
against the reference contract, through the REST members and teams endpoints, and as events on
the public `tenancy-events` topic; and bad input answered with SCIM error bodies."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from picket.schemas import topics as t
from tests.support.api import call
from tests.support.picket import PicketProcess

SCIM_TYPE = "application/scim+json"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(scope="module")
def scim(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    p = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("scim"), org="idp").start()
    try:
        yield p
    finally:
        p.stop()


def _base(p: PicketProcess) -> str:
    return f"/api/0/organizations/{p.org}/scim/v2"


async def _tenancy_events(p: PicketProcess) -> list[dict]:
    consumer = AIOKafkaConsumer(bootstrap_servers=p.bootstrap, enable_auto_commit=False, group_id=None,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        topic = t.TENANCY_EVENTS.full_name(p.prefix)
        tps = [TopicPartition(topic, n) for n in range(t.TENANCY_EVENTS.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[dict] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                out += [json.loads(m.value) for m in messages]
        return out
    finally:
        await consumer.stop()


def test_an_identity_provider_provisions_a_user_and_a_group(scim: PicketProcess) -> None:
    base = _base(scim)
    email = f"ada-{uuid.uuid4().hex[:6]}@example.com"
    with scim.client() as client:
        made = call(client, "POST", f"{base}/Users", json={"schemas": [USER], "userName": email,
                                                          "sentryOrgRole": "member", "active": True},
                    headers={"Content-Type": SCIM_TYPE})
        assert made.status_code == 201, made.text
        assert made.headers["content-type"].startswith(SCIM_TYPE)
        user = made.json()
        assert user["userName"] == email and user["meta"]["resourceType"] == "User"
        member = call(client, "GET", f"/api/0/organizations/{scim.org}/members/{user['id']}/").json()
        assert member["email"] == email and member["role"] == "member"
        found = call(client, "GET", f"{base}/Users", params={"filter": f'userName eq "{email.upper()}"'}).json()
        assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user["id"] and found["startIndex"] == 1
        again = call(client, "POST", f"{base}/Users", json={"schemas": [USER], "userName": email})
        assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"

        group = call(client, "POST", f"{base}/Groups", json={"schemas": [GROUP], "displayName": "Data Team",
                                                            "members": [{"value": user["id"]}]})
        assert group.status_code == 201, group.text
        team = group.json()
        assert team["displayName"] == "data-team" and [m["value"] for m in team["members"]] == [user["id"]]
        assert user["id"] in [m["value"] for m in call(client, "GET", f"{base}/Groups/{team['id']}").json()["members"]]
        renamed = call(client, "PATCH", f"{base}/Groups/{team['id']}", json={
            "schemas": [PATCH], "Operations": [{"op": "replace", "value": {"id": team["id"], "displayName": "Data Crew"}}]})
        assert renamed.status_code == 204
        assert call(client, "GET", f"{base}/Groups/{team['id']}").json()["displayName"] == "data-crew"
        teams = call(client, "GET", f"/api/0/organizations/{scim.org}/teams/").json()
        assert "data-crew" in [x["slug"] for x in teams] and "data-team" not in [x["slug"] for x in teams]

        deactivated = call(client, "PATCH", f"{base}/Users/{user['id']}", json={
            "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]})
        assert deactivated.status_code == 204
        assert call(client, "GET", f"/api/0/organizations/{scim.org}/members/{user['id']}/").status_code == 404
        assert call(client, "GET", f"{base}/Groups/{team['id']}").json().get("members", []) == []
        assert call(client, "DELETE", f"{base}/Groups/{team['id']}").status_code == 204
        assert call(client, "GET", f"{base}/Groups/{team['id']}").status_code == 404

    events = asyncio.run(_tenancy_events(scim))
    mine = [(e["type"], (e.get("member") or e.get("team") or {}).get("id")) for e in events]
    assert ("member_added", int(user["id"])) in mine and ("member_removed", int(user["id"])) in mine
    assert ("team_created", int(team["id"])) in mine and ("team_updated", int(team["id"])) in mine
    assert ("team_deletion_scheduled", int(team["id"])) in mine


def test_roles_change_but_the_last_owner_stays(scim: PicketProcess) -> None:
    base = _base(scim)
    with scim.client() as client:
        owners = [m for m in call(client, "GET", f"{base}/Users").json()["Resources"] if m.get("sentryOrgRole") == "owner"]
        assert len(owners) == 1
        demote = call(client, "PATCH", f"{base}/Users/{owners[0]['id']}", json={
            "schemas": [PATCH], "Operations": [{"op": "replace", "path": "sentryOrgRole", "value": "member"}]})
        assert demote.status_code == 403 and demote.json()["schemas"] == [ERROR]
        email = f"bob-{uuid.uuid4().hex[:6]}@example.com"
        user = call(client, "POST", f"{base}/Users", json={"schemas": [USER], "userName": email}).json()
        promoted = call(client, "PATCH", f"{base}/Users/{user['id']}", json={
            "schemas": [PATCH], "Operations": [{"op": "replace", "path": "sentryOrgRole", "value": "admin"}]})
        assert promoted.status_code == 204
        assert call(client, "GET", f"{base}/Users/{user['id']}").json()["sentryOrgRole"] == "admin"
        assert call(client, "GET", f"/api/0/organizations/{scim.org}/members/{user['id']}/").json()["role"] == "admin"
        assert call(client, "DELETE", f"{base}/Users/{user['id']}").status_code == 204
        assert call(client, "DELETE", f"{base}/Users/{user['id']}").status_code == 404


@pytest.mark.parametrize(("method", "path", "payload"), [
    ("POST", "/Users", {"schemas": [USER]}),
    ("POST", "/Users", {"schemas": ["urn:nope"], "userName": "x@example.com"}),
    ("POST", "/Users", {"schemas": [USER], "userName": "not-an-email"}),
    ("POST", "/Users", {"schemas": [USER], "userName": "a@example.com", "sentryOrgRole": "emperor"}),
    ("POST", "/Groups", {"schemas": [GROUP]}),
    ("POST", "/Groups", {"schemas": [GROUP], "displayName": "x", "members": [{"value": "abc"}]}),
    ("GET", '/Users?filter=userName eq "a" or 1 eq 1', None),
    ("GET", "/Users?filter=userName eq \"a\\\" or \\\"1\\\" eq \\\"1\"; DROP TABLE", None),
    ("GET", "/Users?filter=" + "(" * 5000, None),
    ("GET", "/Groups?filter=title co \"x\"", None),
    ("GET", "/Users?startIndex=abc", None),
])
def test_bad_scim_requests_get_scim_error_bodies(scim: PicketProcess, method: str, path: str, payload: dict | None) -> None:
    with scim.client() as client:
        answer = client.request(method, f"{_base(scim)}{path}", json=payload)
    assert 400 <= answer.status_code < 500, answer.text
    body = answer.json()
    assert body["schemas"] == [ERROR] and body["detail"] and body["status"] == str(answer.status_code)


def test_patch_ops_on_unsupported_paths_are_400(scim: PicketProcess) -> None:
    base = _base(scim)
    with scim.client() as client:
        user = call(client, "POST", f"{base}/Users", json={"schemas": [USER],
                                                          "userName": f"c-{uuid.uuid4().hex[:6]}@example.com"}).json()
        for ops in ([{"op": "replace", "path": "userName", "value": "z@example.com"}],
                    [{"op": "explode", "path": "active", "value": False}], "nope"):
            answer = client.patch(f"{base}/Users/{user['id']}", json={"schemas": [PATCH], "Operations": ops})
            assert answer.status_code == 400 and answer.json()["schemas"] == [ERROR], answer.text
        other = client.get(f"{base}/Users/123456789")
        assert other.status_code == 404 and other.json()["schemas"] == [ERROR]
        assert client.get(f"{base}/Users", headers={"Authorization": "Bearer nope"}).status_code == 401
