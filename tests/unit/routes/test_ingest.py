"""SDK ingestion routes (services/gateway/routes/ingest.py) on a fake runtime: what is published for
a request, and every refusal with its status, detail and headers. Body reading and envelope
parsing are tested on their own in test_request_body.py and test_envelope.py."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import msgspec
import pytest

from picket.schemas import topics as t
from picket.schemas.entities import RateLimit
from picket.schemas.ingest import IngestItem, Outcome
from picket.ingest.outcomes import OutcomeKind
from tests.support.gateway_world import World, detail

EVENT_ID = "e" * 32


def envelope(*items: tuple[dict[str, Any], bytes], event_id: str | None = EVENT_ID, **header: Any) -> bytes:
    head = {**({"event_id": event_id} if event_id else {}), **header}
    lines = [json.dumps(head).encode()]
    for item_header, payload in items:
        lines += [json.dumps({**item_header, "length": len(payload)}).encode(), payload]
    return b"\n".join(lines) + b"\n"


EVENT = ({"type": "event"}, json.dumps({"event_id": EVENT_ID, "message": "boom"}).encode())


def sentry_auth(public: str) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={public}, sentry_client=test/1.0"}


def send(world: World, body: bytes, *, project_id: object = None, key: Any = None, path: str = "envelope",
         headers: dict[str, str] | None = None) -> Any:
    project_id = world.project.id if project_id is None else project_id
    auth = sentry_auth((key or world.key).public) if headers is None else headers
    return world.http.post(f"/api/{project_id}/{path}/", content=body, headers=auth)


def items(world: World) -> list[tuple[str, IngestItem]]:
    return [(r.topic, t.INGEST_EVENTS.decode(r.value)) for r in world.rt.publisher.records
            if r.topic != t.OUTCOMES.full_name("t-")]


def outcomes(world: World) -> list[Outcome]:
    # Outcomes are a public topic: plain JSON.
    return [msgspec.json.decode(r.value, type=Outcome) for r in world.rt.publisher.records
            if r.topic == t.OUTCOMES.full_name("t-")]


def test_an_envelope_is_published_and_answered_with_its_event_id(world: World) -> None:
    response = send(world, envelope(EVENT))
    assert response.status_code == 200
    assert response.json() == {"id": EVENT_ID}
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    [(topic, item)] = items(world)
    assert topic == t.INGEST_EVENTS.full_name("t-")
    assert (item.item_type, item.project_id, item.org_id, item.key_id, item.event_id) == (
        "event", world.project.id, world.org.id, world.key.id, EVENT_ID)
    assert json.loads(item.payload) == {"event_id": EVENT_ID, "message": "boom"}
    assert item.sdk == "testclient"
    # One record of an item that counts once by its event id needs no transaction.
    assert [atomic for _, atomic in world.rt.publisher.published] == [False]


def test_items_go_to_their_topics_together(world: World) -> None:
    session = ({"type": "session"}, b'{"sid": "s1", "status": "ok"}')
    check_in = ({"type": "check_in"}, b'{"check_in_id": "' + b"1" * 32 + b'", "status": "ok"}')
    response = send(world, envelope(EVENT, session, check_in))
    assert response.status_code == 200
    assert [(topic, item.item_type) for topic, item in items(world)] == [
        (t.INGEST_EVENTS.full_name("t-"), "event"), (t.INGEST_SESSIONS.full_name("t-"), "session"),
        (t.INGEST_MONITORS.full_name("t-"), "check_in")]
    assert [atomic for _, atomic in world.rt.publisher.published] == [True]
    assert len({item.item_id for _, item in items(world)}) == 3


def test_an_unsupported_item_becomes_an_invalid_outcome(world: World) -> None:
    response = send(world, envelope(EVENT, ({"type": "replay_video"}, b"xx")))
    assert response.status_code == 200
    assert [item.item_type for _, item in items(world)] == ["event"]
    [outcome] = outcomes(world)
    assert (outcome.outcome, outcome.reason, outcome.quantity) == (OutcomeKind.INVALID, "unsupported_item", 1)


def test_a_client_report_becomes_its_outcomes(world: World) -> None:
    report = json.dumps({"timestamp": 1_700_000_000,
                         "discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 4}]})
    response = send(world, envelope(({"type": "client_report"}, report.encode()), event_id=None))
    assert (response.status_code, response.json()) == (200, {})
    assert items(world) == []
    [outcome] = outcomes(world)
    assert (outcome.outcome, outcome.reason, outcome.quantity) == (OutcomeKind.CLIENT_DISCARD, "queue_overflow", 4)


def test_the_legacy_store_endpoint(world: World) -> None:
    response = send(world, json.dumps({"event_id": EVENT_ID, "message": "boom"}).encode(), path="store")
    assert (response.status_code, response.json()) == (200, {"id": EVENT_ID})
    [(_, item)] = items(world)
    assert (item.item_type, item.event_id) == ("event", EVENT_ID)


def test_the_key_may_come_in_the_query_or_the_envelope_header(world: World) -> None:
    url = f"/api/{world.project.id}/envelope/?sentry_key={world.key.public}"
    assert world.http.post(url, content=envelope(EVENT)).status_code == 200
    dsn = f"http://{world.key.public}@picket.test/{world.project.id}"
    assert send(world, envelope(EVENT, dsn=dsn), headers={}).status_code == 200
    assert len(items(world)) == 2


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "Missing DSN key: send X-Sentry-Auth or sentry_key."),
        (sentry_auth("0" * 32), 401, "Unknown DSN key."),
    ],
)
def test_an_unknown_or_missing_key_is_401(world: World, headers: dict[str, str], status: int, message: str) -> None:
    response = send(world, envelope(EVENT), headers=headers)
    assert (response.status_code, detail(response)) == (status, message)
    assert response.headers["X-Sentry-Error"] == message
    assert world.rt.publisher.published == []


def test_a_disabled_key_or_a_key_of_another_project_is_403(world: World) -> None:
    disabled = world.rt.add_key(world.project, is_active=False)
    response = send(world, envelope(EVENT), key=disabled)
    assert (response.status_code, detail(response)) == (403, "This DSN key is disabled.")
    other = world.rt.add_key(world.rt.add_project(world.org, "web"))
    response = send(world, envelope(EVENT), key=other)
    assert (response.status_code, detail(response)) == (403, "This DSN key does not belong to the project in the URL.")
    assert world.rt.publisher.published == []


def test_a_project_id_that_is_not_a_number_is_404(world: World) -> None:
    response = send(world, envelope(EVENT), project_id="api")
    assert (response.status_code, detail(response)) == (404, "Unknown project.")
    assert response.headers["X-Sentry-Error"] == "Unknown project."


def test_a_malformed_envelope_is_400_and_nothing_is_published(world: World) -> None:
    response = send(world, b"not json\n")
    assert response.status_code == 400
    assert detail(response) == response.headers["X-Sentry-Error"]
    assert world.rt.publisher.published == []


def test_an_envelope_over_the_limit_is_413(world: World) -> None:
    world.rt.limits = dataclasses.replace(world.rt.limits, max_envelope_size=64)
    response = send(world, envelope(EVENT, EVENT))
    assert response.status_code == 413
    assert detail(response) == response.headers["X-Sentry-Error"]
    assert world.rt.publisher.published == []


def test_over_the_keys_rate_limit_is_429_with_rate_limited_outcomes(world: World) -> None:
    limited = world.rt.put(msgspec.structs.replace(world.key, rate_limit=RateLimit(window=3600, count=1)))
    assert send(world, envelope(EVENT), key=limited).status_code == 200
    response = send(world, envelope(EVENT, ({"type": "attachment"}, b"x")), key=limited)
    assert (response.status_code, detail(response)) == (429, "Event dropped due to rate limiting")
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-Sentry-Rate-Limits"].endswith(":error;transaction;security:key:key_quota")
    assert len(items(world)) == 1  # the first envelope only
    assert [(o.outcome, o.reason) for o in outcomes(world)] == [(OutcomeKind.RATE_LIMITED, "key_quota")] * 2


def test_a_broker_that_does_not_ack_is_a_503_to_retry(world: World) -> None:
    world.rt.publisher.fail = True
    response = send(world, envelope(EVENT))
    assert (response.status_code, detail(response)) == (503, "Ingestion is unavailable; try again.")
    assert response.headers["Retry-After"] == "1"
    assert response.headers["Access-Control-Expose-Headers"] == "X-Sentry-Error, X-Sentry-Rate-Limits, Retry-After"


@pytest.mark.parametrize("path", ["envelope", "store"])
def test_preflight(world: World, path: str) -> None:
    response = world.http.options(f"/api/{world.project.id}/{path}/")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert "X-Sentry-Auth" in response.headers["Access-Control-Allow-Headers"]
