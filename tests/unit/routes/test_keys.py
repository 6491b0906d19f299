"""Client-key routes (services/gateway/routes/keys.py) on a fake runtime."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from picket.schemas import commands as c
from picket.schemas.entities import ProjectKey, RateLimit
from tests.support.fake_runtime import NOW, replaced
from tests.support.gateway_world import World, detail

KEYS = "/api/0/projects/acme/api/keys/"


def apply_key_commands(world: World) -> None:
    def apply(command: Any) -> None:
        if isinstance(command, c.CreateKey):
            world.rt.put(ProjectKey(id=command.key_id, org_id=command.org_id, project_id=command.project_id,
                                    label=command.label, public=command.public, secret=command.secret,
                                    date_created=NOW, rate_limit=command.rate_limit))
        elif isinstance(command, c.UpdateKey):
            key = next(k for k in world.rt.records("key") if k.id == command.key_id)
            changes = {"label": command.label, "is_active": command.is_active, "rate_limit": command.rate_limit,
                       "browser_sdk_version": command.browser_sdk_version}
            world.rt.put(replaced(key, **{k: v for k, v in changes.items() if v is not msgspec.UNSET}))

    world.rt.bus.on_accepted = apply


def key_url(world: World, key: ProjectKey | None = None) -> str:
    return f"{KEYS}{(key or world.key).public}/"


def test_list_keys_with_their_dsn(world: World) -> None:
    response = world.get(KEYS)
    assert response.status_code == 200
    [key] = response.json()
    assert (key["id"], key["name"], key["isActive"]) == (world.key.public, "Default", True)
    assert key["dsn"]["public"] == f"http://{world.key.public}@picket.test/{world.project.id}"


def test_list_keys_by_status(world: World) -> None:
    off = world.rt.add_key(world.project, "Off", is_active=False)
    world.rt.add_key(world.rt.add_project(world.org, "web"), "Other project")
    assert [k["id"] for k in world.get(KEYS).json()] == [world.key.public, off.public]
    assert [k["id"] for k in world.get(KEYS, params={"status": "active"}).json()] == [world.key.public]
    assert [k["id"] for k in world.get(KEYS, params={"status": "inactive"}).json()] == [off.public]


def test_list_keys_statuses(world: World) -> None:
    assert world.http.get(KEYS).status_code == 401
    assert world.get("/api/0/projects/acme/nope/keys/").status_code == 404
    assert world.get("/api/0/projects/nope/api/keys/").status_code == 404
    assert world.get(KEYS, token=world.viewer_token).status_code == 403
    assert world.get(KEYS, token=world.member_token).status_code == 200  # project:read is enough


def test_create_key_sends_a_new_key_pair_and_answers_it(world: World) -> None:
    apply_key_commands(world)
    response = world.post(KEYS, {"name": " CI ", "rateLimit": {"window": 60, "count": 10}})
    assert response.status_code == 201
    [command] = world.rt.bus.commands
    assert isinstance(command, c.CreateKey)
    assert (command.org_id, command.project_id, command.label) == (world.org.id, world.project.id, "CI")
    assert command.rate_limit == RateLimit(window=60, count=10)
    assert len(command.public) == 32 and len(command.secret) == 32
    body = response.json()
    assert (body["id"], body["label"], body["rateLimit"]) == (command.public, "CI", {"window": 60, "count": 10})
    assert body["dsn"]["secret"].startswith(f"http://{command.public}:{command.secret}@")


def test_create_key_without_a_body_makes_the_default_key(world: World) -> None:
    apply_key_commands(world)
    response = world.http.post(KEYS, headers={"Authorization": f"Bearer {world.owner_token}"})
    assert response.status_code == 201
    [command] = world.rt.bus.commands
    assert (command.label, command.rate_limit) == ("Default", None)


@pytest.mark.parametrize("limit", [{"window": 0, "count": 5}, {"window": 60}, {"count": 0, "window": 60}, None])
def test_a_partial_or_zero_rate_limit_is_none(world: World, limit: Any) -> None:
    apply_key_commands(world)
    assert world.post(KEYS, {"rateLimit": limit}).status_code == 201
    assert world.rt.bus.commands[0].rate_limit is None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": "n" * 65}, "Invalid name: at most 64 characters."),
        ({"rateLimit": {"window": 86401, "count": 1}},
         "Invalid rateLimit: window must be 1..86400 seconds, count positive."),
        ({"rateLimit": {"window": 60, "count": -1}},
         "Invalid request body: Expected `int` >= 0 - at `$.rateLimit.count`"),
        ({"rateLimit": "fast"}, "Invalid request body: Expected `object | null`, got `str` - at `$.rateLimit`"),
    ],
)
def test_create_key_refuses_invalid_bodies(world: World, payload: dict[str, Any], message: str) -> None:
    response = world.post(KEYS, payload)
    assert (response.status_code, detail(response)) == (400, message)
    assert world.rt.bus.sent == []


def test_create_key_needs_project_write(world: World) -> None:
    assert world.post(KEYS, {"name": "x"}, token=world.member_token).status_code == 403
    assert world.rt.bus.sent == []


def test_update_key_sends_only_what_is_given(world: World) -> None:
    apply_key_commands(world)
    response = world.put(key_url(world), {"isActive": False, "rateLimit": None})
    assert response.status_code == 200
    [command] = world.rt.bus.commands
    assert isinstance(command, c.UpdateKey)
    assert (command.key_id, command.project_id) == (world.key.id, world.project.id)
    assert (command.is_active, command.rate_limit) == (False, None)
    assert command.label is msgspec.UNSET and command.browser_sdk_version is msgspec.UNSET
    assert (response.json()["isActive"], response.json()["name"]) == (False, "Default")


def test_update_key_renames(world: World) -> None:
    apply_key_commands(world)
    response = world.put(key_url(world), {"name": "Prod", "browserSdkVersion": "8.x"})
    assert (response.status_code, response.json()["name"], response.json()["browserSdkVersion"]) == (200, "Prod", "8.x")
    assert world.rt.bus.commands[0].rate_limit is msgspec.UNSET


def test_a_key_of_another_project_or_unknown_is_404(world: World) -> None:
    elsewhere = world.rt.add_key(world.rt.add_project(world.org, "web"))
    for url in (key_url(world, elsewhere), f"{KEYS}{'0' * 32}/"):
        assert world.put(url, {"name": "x"}).status_code == 404
        assert world.delete(url).status_code == 404
    assert world.rt.bus.sent == []


def test_update_key_refuses_invalid_bodies(world: World) -> None:
    response = world.put(key_url(world), {"isActive": "no"})
    assert (response.status_code, detail(response)) == (
        400, "Invalid request body: Expected `bool`, got `str` - at `$.isActive`")
    assert world.rt.bus.sent == []


def test_delete_key(world: World) -> None:
    response = world.delete(key_url(world))
    assert response.status_code == 204
    [command] = world.rt.bus.commands
    assert isinstance(command, c.DeleteKey)
    assert (command.org_id, command.project_id, command.key_id) == (world.org.id, world.project.id, world.key.id)


def test_delete_key_needs_project_admin(world: World) -> None:
    assert world.delete(key_url(world), token=world.member_token).status_code == 403
    assert world.rt.bus.sent == []
