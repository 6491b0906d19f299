"""Sentry's HTTP check-in endpoint (`GET|POST /api/{project_id}/cron/{monitor_slug}/{sentry_key}/`)
on a fake runtime: what a curl from a cron job publishes, and every refusal with its status and
detail, nothing published. (The request's fields → check-in item: `test_cron_envelope.py`; the
whole path to a queryable check-in: `tests/e2e/test_cron_checkins.py`.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from picket.schemas import topics as t
from picket.schemas.ingest import IngestItem
from tests.support.gateway_world import World, detail

RUN_ID = "83a7c0f9-1e3c-4b6c-9f8e-5c2a1d0b7e64"


def url(world: World, slug: str = "nightly", key: str | None = "default", slash: str = "/") -> str:
    public = world.key.public if key == "default" else key
    return f"/api/{world.project.id}/cron/{slug}" + (f"/{public}" if public else "") + slash


def check_ins(world: World) -> list[dict[str, Any]]:
    found = [t.INGEST_EVENTS.decode(r.value) for r in world.rt.publisher.records
             if r.topic == t.INGEST_MONITORS.full_name("t-")]
    assert all(isinstance(i, IngestItem) and i.item_type == "check_in" for i in found)
    assert all((i.project_id, i.org_id, i.key_id) == (world.project.id, world.org.id, world.key.id) for i in found)
    return [json.loads(i.payload) for i in found]


def test_a_get_with_the_status_in_the_query_is_a_check_in_answered_202(world: World) -> None:
    response = world.http.get(url(world) + f"?status=ok&check_in_id={RUN_ID}&duration=12.5&environment=prod")
    assert (response.status_code, response.content) == (202, b"")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert check_ins(world) == [{"status": "ok", "check_in_id": RUN_ID.replace("-", ""), "duration": 12.5,
                                 "environment": "prod", "monitor_slug": "nightly"}]


@pytest.mark.parametrize("slash", ["/", ""])
def test_a_post_with_a_json_body_carries_the_monitor_config(world: World, slash: str) -> None:
    config = {"schedule": {"type": "crontab", "value": "0 * * * *"}, "checkin_margin": 5}
    response = world.http.post(url(world, slash=slash) + "?status=in_progress", json={"monitor_config": config})
    assert response.status_code == 202
    [check_in] = check_ins(world)
    assert check_in == {"status": "in_progress", "check_in_id": "0" * 32, "monitor_config": config,
                        "monitor_slug": "nightly"}


def test_the_key_may_come_from_the_query_or_a_header_instead_of_the_path(world: World) -> None:
    assert world.http.get(url(world, key=None) + f"?status=ok&sentry_key={world.key.public}").status_code == 202
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={world.key.public}"}
    assert world.http.post(url(world, key=None, slash=""), params={"status": "error"}, headers=auth).status_code == 202
    assert [c["status"] for c in check_ins(world)] == ["ok", "error"]


@pytest.mark.parametrize(("key", "status", "message"), [
    (None, 401, "Missing DSN key: send X-Sentry-Auth or sentry_key."),
    ("0" * 32, 401, "Unknown DSN key."),
])
def test_a_missing_or_unknown_key_is_401(world: World, key: str | None, status: int, message: str) -> None:
    response = world.http.get(url(world, key=key) + "?status=ok")
    assert (response.status_code, detail(response)) == (status, message)
    assert world.rt.publisher.published == []


def test_a_disabled_key_or_a_key_of_another_project_is_403(world: World) -> None:
    disabled = world.rt.add_key(world.project, is_active=False)
    other = world.rt.add_key(world.rt.add_project(world.org, "web"))
    for key, message in ((disabled, "This DSN key is disabled."),
                         (other, "This DSN key does not belong to the project in the URL.")):
        response = world.http.get(url(world, key=key.public) + "?status=ok")
        assert (response.status_code, detail(response)) == (403, message)
    assert world.rt.publisher.published == []


@pytest.mark.parametrize(("query", "body", "message"), [
    ("", None, "`status` is required: in_progress, ok or error."),
    ("?status=finished", None, "`status` is required: in_progress, ok or error."),
    ("?status=ok&check_in_id=not-a-uuid", None, "`check_in_id` is a UUID."),
    ("?status=ok&duration=soon", None, "`duration` is a number of seconds."),
    ("?status=ok", b"[1, 2]", "invalid check-in body: expected a JSON object"),
    ("?status=ok", b'{"monitor_config": ', None),
])
def test_a_malformed_check_in_is_400_and_nothing_is_published(world: World, query: str, body: bytes | None,
                                                              message: str | None) -> None:
    if body is None:
        response = world.http.get(url(world) + query)
    else:
        response = world.http.post(url(world) + query, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    if message is not None:
        assert detail(response) == message
    else:
        assert detail(response).startswith("invalid check-in body: ")
    assert world.rt.publisher.published == []


def test_an_invalid_slug_in_the_path_is_400(world: World) -> None:
    response = world.http.get(url(world, slug="Not A Slug!") + "?status=ok")
    assert (response.status_code, detail(response)) == (400, "The monitor slug in the path is not a valid slug.")
    assert world.rt.publisher.published == []


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_a_body_over_the_check_in_limit_is_413_whatever_its_type(world: World, content_type: str) -> None:
    """A check-in's limit bounds what is read at all, not only what is parsed as JSON."""
    body = json.dumps({"status": "ok", "padding": "x" * 200_000}).encode()
    response = world.http.post(url(world) + "?status=ok", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 413
    assert detail(response)
    assert world.rt.publisher.published == []


def test_a_project_id_that_is_not_a_number_is_404(world: World) -> None:
    response = world.http.get(f"/api/api/cron/nightly/{world.key.public}/?status=ok")
    assert (response.status_code, detail(response)) == (404, "Unknown project.")
