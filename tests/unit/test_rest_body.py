"""REST bodies: decoded into the route's Struct, with every hostile body a 4xx carrying a detail.

A Starlette app with one route per body shape calls `validation.body` as the real routes do (the
Structs are theirs); requests go through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import msgspec
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from picket.gateway.errors import HANDLERS
from picket.gateway.request_body import Budget
from picket.gateway.routes.feedback import FeedbackBody
from picket.gateway.routes.keys import KeyCreate, KeyUpdate
from picket.gateway.routes.monitors import CheckInBody, MonitorBody
from picket.gateway.routes.projects import ProjectUpdate
from picket.gateway.validation import MAX_BODY, MAX_BODY_DEPTH, body

SHAPES = {"key": KeyUpdate, "new-key": KeyCreate, "project": ProjectUpdate, "monitor": MonitorBody,
          "checkin": CheckInBody, "feedback": FeedbackBody}


def make_app(budget: Budget) -> Starlette:
    async def decode(request: Request) -> JSONResponse:
        value = await body(request, SHAPES[request.path_params["shape"]])
        return JSONResponse(msgspec.to_builtins(value))

    app = Starlette(routes=[Route("/{shape}", decode, methods=["POST"])], exception_handlers=HANDLERS)  # type: ignore[arg-type]
    app.state.runtime = SimpleNamespace(body_budget=budget)
    return app


def post(shape: str, content: Any, headers: dict[str, str] | None = None, budget: Budget | None = None) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=make_app(budget or Budget(64 * 1024 * 1024)))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            return await http.post(f"/{shape}", content=content, headers=headers)

    return asyncio.run(run())


def detail(response: httpx.Response) -> str:
    return response.json()["detail"]


def test_a_valid_body_decodes_into_its_shape():
    response = post("key", json.dumps({"name": "ci", "rateLimit": {"window": 60, "count": 2**31 - 1}}))
    assert response.status_code == 200
    assert response.json()["rateLimit"] == {"window": 60, "count": 2**31 - 1}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"name": "\xff"}', "not valid UTF-8 (byte 10)"),
        (b'{"name": "ok", "x": "\xc3\x28"}', "not valid UTF-8"),
        (b'{"\xed\xa0\x80": 1}', "not valid UTF-8"),
    ],
)
def test_invalid_utf8_is_a_400_with_a_detail(content, fragment):
    response = post("key", content)
    assert response.status_code == 400
    assert detail(response).startswith("Invalid request body: ") and fragment in detail(response)


@pytest.mark.parametrize("depth", [MAX_BODY_DEPTH + 1, 1_000, 100_000])
@pytest.mark.parametrize("where", ["top", "monitor-config", "unknown-field"])
def test_nesting_deeper_than_the_limit_is_a_400_wherever_it_is(depth, where):
    deep = "[" * depth + "]" * depth
    content = {"top": deep,
               "monitor-config": '{"project": "p", "name": "m", "config": {"schedule": ' + deep + "}}",
               "unknown-field": '{"name": "k", "extra": ' + deep + "}"}[where]
    response = post("monitor" if where == "monitor-config" else "key", content)
    assert response.status_code == 400
    assert detail(response) == f"Invalid request body: nested more than {MAX_BODY_DEPTH} levels deep."


def test_nesting_at_the_limit_is_decoded():
    deep = "[" * (MAX_BODY_DEPTH - 2) + "]" * (MAX_BODY_DEPTH - 2)
    response = post("monitor", '{"project": "p", "name": "m", "config": {"extra": ' + deep + "}}")
    assert response.status_code == 200


@pytest.mark.parametrize("value", [2**31, 2**63, 2**64, 2**70, -1, -(2**70)])
@pytest.mark.parametrize(
    ("shape", "template", "where"),
    [
        ("key", '{{"rateLimit": {{"window": 60, "count": {v}}}}}', "$.rateLimit.count"),
        ("key", '{{"rateLimit": {{"window": {v}, "count": 5}}}}', "$.rateLimit.window"),
        ("new-key", '{{"rateLimit": {{"window": 60, "count": {v}}}}}', "$.rateLimit.count"),
        ("project", '{{"resolveAge": {v}}}', "$.resolveAge"),
        ("project", '{{"digestsMinDelay": {v}}}', "$.digestsMinDelay"),
        ("project", '{{"digestsMaxDelay": {v}}}', "$.digestsMaxDelay"),
    ],
)
def test_an_integer_outside_its_field_is_a_400_naming_the_field(shape, template, where, value):
    response = post(shape, template.format(v=value))
    assert response.status_code == 400
    assert detail(response).startswith("Invalid request body: Expected `int`") and where in detail(response)


@pytest.mark.parametrize("value", [2**53, 2**64, 2**70])
def test_a_monitor_project_id_past_picket_ids_is_a_400(value):
    response = post("monitor", '{"project": %d, "name": "m"}' % value)
    assert response.status_code == 400 and "$.project" in detail(response)


def test_a_body_whose_declared_length_is_over_the_limit_is_a_413_before_it_is_read():
    sent: list[int] = []

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(64):
            sent.append(1)
            yield b" " * 65536

    response = post("key", stream(), {"Content-Length": str(MAX_BODY + 1)})
    assert response.status_code == 413 and detail(response) == "Request body too large."
    assert response.headers["connection"] == "close"
    assert len(sent) <= 1  # the transport primes the first chunk; the app asked for none


def test_a_body_without_length_is_a_413_once_it_grows_past_the_limit():
    sent: list[int] = []

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(1000):  # 64 MiB if it were all read
            sent.append(1)
            yield b" " * 65536

    response = post("key", stream())
    assert response.status_code == 413 and detail(response) == "Request body too large."
    assert len(sent) <= MAX_BODY // 65536 + 2


def test_a_body_at_the_limit_is_read():
    content = b'{"name": "k"}' + b" " * (MAX_BODY - 13)
    assert len(content) == MAX_BODY
    assert post("key", content).status_code == 200


def test_a_body_the_budget_has_no_room_for_is_a_503_with_retry_after():
    budget = Budget(MAX_BODY)
    with budget.lease() as busy:
        busy.hold(MAX_BODY - 100)
        response = post("key", json.dumps({"name": "x" * 200}), budget=budget)
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert detail(response) == "The gateway is busy; try again."
    assert budget.used == 0


@pytest.mark.parametrize("content", [b"{", b"[1, 2]", b'{"name": 5}', b"null"])
def test_malformed_or_mistyped_json_is_still_a_400(content):
    response = post("key", content)
    assert response.status_code == 400 and detail(response)


def test_user_feedback_bodies_get_the_same_checks():
    assert post("feedback", b'{"event_id": "x", "name": "\xff", "email": "a@b", "comments": "c"}').status_code == 400
    deep = "[" * 5000 + "]" * 5000
    assert post("feedback", '{"event_id": "x", "name": "n", "email": "a@b", "comments": ' + deep + "}").status_code == 400
