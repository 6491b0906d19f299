"""User feedback and users routes (services/gateway/routes/feedback.py) on a fake runtime."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from picket.schemas import topics as t
from picket.schemas.ingest import IngestItem
from picket.store import issues_read
from picket.store.issues_read import Feedback
from tests.support.fake_runtime import NOW
from tests.support.gateway_world import World, detail

FEEDBACK = "/api/0/projects/acme/api/user-feedback/"
USERS = "/api/0/projects/acme/api/users/"
EVENT_ID = "c" * 32
VALID = {"event_id": EVENT_ID, "name": "Ann", "email": "ann@example.test", "comments": "It broke."}


def published_items(world: World) -> list[tuple[str, IngestItem]]:
    return [(r.topic, t.INGEST_FEEDBACK.decode(r.value)) for r in world.rt.publisher.records]


def dsn_header(world: World, key: Any = None) -> dict[str, str]:
    key = key or world.key
    return {"Authorization": f"DSN http://{key.public}@picket.test/{key.project_id}"}


def test_list_feedback(world: World) -> None:
    world.rt.answer(issues_read.feedback, [Feedback("f1", EVENT_ID, "Ann", "ann@example.test", "It broke.", NOW, None)])
    response = world.get(FEEDBACK)
    assert response.status_code == 200
    [item] = response.json()
    assert (item["id"], item["eventID"], item["name"], item["comments"]) == ("f1", EVENT_ID, "Ann", "It broke.")
    assert world.rt.reads_of(issues_read.feedback) == [((world.project.id,), {})]
    assert item["issue"] is None, "its event is not stored yet"


def test_listed_feedback_carries_the_issue_of_its_event(world: World) -> None:
    from tests.unit.routes.test_events import group

    world.rt.answer(issues_read.feedback, [Feedback("f1", EVENT_ID, "Ann", "ann@example.test", "It broke.", NOW, 77)])
    world.rt.answer(issues_read.groups, [group(world)])
    [item] = world.get(FEEDBACK).json()
    assert (item["issue"]["id"], item["issue"]["shortId"]) == ("77", "API-3")
    assert world.rt.reads_of(issues_read.groups)[0][1] == {"group_ids": [77]}


def test_list_feedback_statuses(world: World) -> None:
    assert world.http.get(FEEDBACK).status_code == 401
    assert world.get("/api/0/projects/acme/nope/user-feedback/").status_code == 404
    assert world.get(FEEDBACK, token=world.viewer_token).status_code == 403


def test_create_feedback_publishes_a_user_report_and_answers_it(world: World) -> None:
    world.rt.answer(issues_read.feedback, [])
    response = world.post(FEEDBACK, {**VALID, "event_id": "CCCCCCCC-CCCC-CCCC-CCCC-CCCCCCCCCCCC"})
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["eventID"], body["name"], body["email"], body["comments"]) == (
        EVENT_ID, EVENT_ID, "Ann", "ann@example.test", "It broke.")
    [(topic, item)] = published_items(world)
    assert topic == t.INGEST_FEEDBACK.full_name("t-")
    assert (item.item_type, item.project_id, item.org_id, item.key_id, item.event_id) == (
        "user_report", world.project.id, world.org.id, 0, EVENT_ID)
    assert json.loads(item.payload) == {**VALID}
    assert len(item.item_id) == 32


def test_feedback_within_the_edit_window_keeps_its_first_date(world: World) -> None:
    first = datetime.now(timezone.utc) - timedelta(seconds=30)
    world.rt.answer(issues_read.feedback, [Feedback("f1", EVENT_ID, "Ann", "ann@example.test", "Old.", first, None)])
    response = world.post(FEEDBACK, VALID)
    assert response.status_code == 200
    assert response.json()["dateCreated"].startswith(first.strftime("%Y-%m-%dT%H:%M:%S"))
    assert len(world.rt.publisher.records) == 1


def test_feedback_past_the_edit_window_is_a_409(world: World) -> None:
    old = datetime.now(timezone.utc) - timedelta(seconds=world.rt.settings.feedback_edit_window + 5)
    world.rt.answer(issues_read.feedback, [Feedback("f1", EVENT_ID, "Ann", "ann@example.test", "Old.", old, None)])
    response = world.post(FEEDBACK, VALID)
    assert (response.status_code, detail(response)) == (409, "Feedback for this event cannot be modified.")
    assert world.rt.publisher.records == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event_id": "xyz"}, "Invalid event_id: 32 hexadecimal characters expected."),
        ({"comments": "  "}, "Invalid comments: 1 to 4096 characters."),
        ({"comments": "x" * 4097}, "Invalid comments: 1 to 4096 characters."),
        ({"email": "not-an-email"}, "Invalid name or email."),
        ({"name": "n" * 129}, "Invalid name or email."),
        ({"comments": None}, "Invalid request body: Expected `str`, got `null` - at `$.comments`"),
    ],
)
def test_create_feedback_refuses_invalid_bodies(world: World, changes: dict[str, Any], message: str) -> None:
    response = world.post(FEEDBACK, {**VALID, **changes})
    assert (response.status_code, detail(response)) == (400, message)
    assert world.rt.publisher.records == []


def test_create_feedback_needs_a_write_scope(world: World) -> None:
    assert world.post(FEEDBACK, VALID, token=world.viewer_token).status_code == 403
    assert world.http.post(FEEDBACK, json=VALID).status_code == 401
    assert world.rt.publisher.records == []


def test_create_feedback_with_the_projects_dsn(world: World) -> None:
    world.rt.answer(issues_read.feedback, [])
    response = world.http.post(FEEDBACK, json=VALID, headers=dsn_header(world))
    assert response.status_code == 200
    [(_, item)] = published_items(world)
    assert (item.key_id, item.project_id, item.org_id) == (world.key.id, world.project.id, world.org.id)


def test_an_unknown_or_disabled_dsn_is_401(world: World) -> None:
    disabled = world.rt.add_key(world.project, is_active=False)
    for headers in ({"Authorization": "DSN http://" + "0" * 32 + "@picket.test/1"}, {"Authorization": "DSN nonsense"},
                    dsn_header(world, disabled)):
        response = world.http.post(FEEDBACK, json=VALID, headers=headers)
        assert (response.status_code, detail(response)) == (401, "Invalid DSN.")
    assert world.rt.publisher.records == []


def test_a_dsn_of_another_project_is_403(world: World) -> None:
    other_key = world.rt.add_key(world.rt.add_project(world.org, "web"))
    response = world.http.post(FEEDBACK, json=VALID, headers=dsn_header(world, other_key))
    assert response.status_code == 403
    assert world.rt.publisher.records == []


def test_a_broker_that_does_not_ack_is_a_503_to_retry(world: World) -> None:
    world.rt.answer(issues_read.feedback, [])
    world.rt.publisher.fail = True
    response = world.post(FEEDBACK, VALID)
    assert (response.status_code, detail(response)) == (503, "Ingestion is unavailable; try again.")
    assert response.headers["Retry-After"] == "1"
    assert response.headers["X-Sentry-Error"] == "Ingestion is unavailable; try again."
    assert response.headers["Access-Control-Allow-Origin"] == "*"


USER_ROWS = [("id:42", "", NOW), ("email:ann@example.test", "ann@example.test", NOW), ("ip:10.0.0.1", "", NOW)]


def test_list_users_seen_in_events(world: World) -> None:
    world.rt.answer(issues_read.users, USER_ROWS)
    response = world.get(USERS)
    assert response.status_code == 200
    first, second, third = response.json()
    assert (first["id"], first["identifier"], first["email"]) == ("id:42", "42", None)
    assert (second["email"], second["name"]) == ("ann@example.test", "ann@example.test")
    assert (third["ipAddress"], third["identifier"]) == ("10.0.0.1", None)


def test_list_users_by_query(world: World) -> None:
    world.rt.answer(issues_read.users, USER_ROWS)
    assert [u["id"] for u in world.get(USERS, params={"query": "email:ann"}).json()] == ["email:ann@example.test"]
    response = world.get(USERS, params={"query": "name:ann"})
    assert (response.status_code, detail(response)) == (
        400, "Invalid query: use id:, email:, username: or ip: followed by a value.")


def test_list_users_statuses(world: World) -> None:
    assert world.http.get(USERS).status_code == 401
    assert world.get("/api/0/projects/acme/nope/users/").status_code == 404
    assert world.get(USERS, token=world.viewer_token).status_code == 403
