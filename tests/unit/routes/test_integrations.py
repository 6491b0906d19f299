"""Service hook and Sentry app routes on a fake runtime: who may call them (401, 403 for another
organization's caller or too few scopes, 404 for what is not there) and the commands they send."""

from __future__ import annotations

from datetime import datetime, timezone

from picket.schemas import integrations as i
from picket.store import hooks_read, integrations_read
from tests.support.contract import validate_response
from tests.support.gateway_world import World, detail

AT = datetime(2026, 12, 6, tzinfo=timezone.utc)


def _hooks_path(world: World) -> str:
    return f"/api/0/projects/{world.org.slug}/{world.project.slug}/hooks/"


def test_hooks_need_a_member_of_the_organization_with_project_scopes(world: World) -> None:
    world.rt.answer(integrations_read.hooks, [])
    path = _hooks_path(world)
    body = {"url": "https://8.8.8.8/hook", "events": ["event.created"]}
    assert world.http.get(path).status_code == 401
    assert world.get(path, token=world.stranger_token).status_code == 403
    assert world.post(path, body, token=world.viewer_token).status_code == 403
    assert world.rt.bus.commands == []
    made = world.post(path, body)
    assert made.status_code == 201, made.text
    validate_response("POST", path, 201, made.json())
    [command] = world.rt.bus.commands
    assert isinstance(command, i.CreateHook) and command.hook.url == body["url"]
    assert command.hook.project_id == world.project.id and len(command.hook.secret) == 64


def test_a_private_hook_url_is_refused_unless_allowed(world: World) -> None:
    path = _hooks_path(world)
    refused = world.post(path, {"url": "http://10.1.2.3/hook", "events": ["event.created"]})
    assert refused.status_code == 400 and "url" in detail(refused)
    world.rt.settings = world.rt.settings.with_(hooks_allow_private=True)
    assert world.post(path, {"url": "http://10.1.2.3/hook", "events": ["event.created"]}).status_code == 201


def test_a_hook_shows_failing_while_its_latest_try_failed(world: World) -> None:
    hook = i.ServiceHook(id="a" * 32, org_id=world.org.id, project_id=world.project.id, url="https://8.8.8.8/h",
                         events=("event.created",), secret="s" * 64, date_created=AT)
    world.rt.answer(integrations_read.hooks, [hook])
    world.rt.answer(hooks_read.last_attempts, {hook.id: False})
    got = world.get(f"{_hooks_path(world)}{hook.id}/")
    assert got.status_code == 200 and got.json()["status"] == "failing"
    world.rt.answer(hooks_read.last_attempts, {hook.id: True})
    assert world.get(f"{_hooks_path(world)}{hook.id}/").json()["status"] == "active"
    assert world.get(f"{_hooks_path(world)}{'b' * 32}/").status_code == 404
    assert world.get(f"{_hooks_path(world)}not-a-hook/").status_code == 404


def test_external_issues_of_another_organizations_installation_are_403(world: World) -> None:
    installation = i.Installation(uuid="inst-1", app_uuid="app-1", app_slug="tracker", org_id=world.org.id,
                                  date_created=AT)
    world.rt.answer(integrations_read.installation, installation)
    path = "/api/0/sentry-app-installations/inst-1/external-issues/"
    body = {"issueId": 1, "webUrl": "https://t.example/1", "project": "P", "identifier": "1"}
    assert world.post(path, body, token=world.stranger_token).status_code == 403
    assert world.delete(f"{path}5/", token=world.stranger_token).status_code == 403
    world.rt.answer(integrations_read.installation, None)
    assert world.post(path, body).status_code == 404
    assert world.rt.bus.commands == []


def test_installations_are_listed_for_members_only(world: World) -> None:
    path = f"/api/0/organizations/{world.org.slug}/sentry-app-installations/"
    app = i.SentryApp(uuid="app-1", slug="tracker", name="Tracker", org_id=world.org.id, webhook_url="https://t.example",
                      events=("issue",), client_id="c", client_secret="x", date_created=AT)
    installation = i.Installation(uuid="inst-1", app_uuid="app-1", app_slug="tracker", org_id=world.org.id,
                                  date_created=AT)
    world.rt.answer(integrations_read.installations, [(installation, app)])
    listed = world.get(path)
    assert listed.status_code == 200
    validate_response("GET", path, 200, listed.json())
    assert listed.json()[0]["app"] == {"uuid": "app-1", "slug": "tracker"}
    assert "clientSecret" not in str(listed.json())
    assert world.get(path, token=world.stranger_token).status_code == 403
