"""Endpoints served ahead of Starlette's router answer exactly as through it: path parameters,
`ApiError`s with their headers, a store outage as 503, a defect as 500 with a detail; a method
or path the fast routes do not name goes through the router (405, 404, preflights)."""

from __future__ import annotations

from clickhouse_connect.driver.exceptions import OperationalError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from picket.gateway.errors import HANDLERS, ApiError
from picket.gateway.fast_path import FastRoute, Gateway


async def item(request: Request) -> Response:
    name = request.path_params["name"]
    if name == "refused":
        raise ApiError(429, "Slow down.", {"Retry-After": "3"})
    if name == "store-down":
        raise OperationalError("no answer")
    if name == "defect":
        raise RuntimeError("a bug")
    return JSONResponse({"project": request.path_params["project_id"], "name": name, "via": "fast"})


async def preflight(request: Request) -> Response:
    return Response(status_code=200, headers={"Access-Control-Allow-Origin": "*"})


def client() -> TestClient:
    app = Gateway(fast=[FastRoute("/api/{project_id}/items/{name}/", item, ("POST",))],
                  routes=[Route("/api/{project_id}/items/{name}/", preflight, methods=["OPTIONS"])],
                  exception_handlers=HANDLERS)  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False)


def test_a_fast_route_gets_its_path_parameters() -> None:
    assert client().post("/api/42/items/thing/").json() == {"project": "42", "name": "thing", "via": "fast"}


def test_errors_are_answered_as_the_apps_handlers_answer_them() -> None:
    http = client()
    refused = http.post("/api/1/items/refused/")
    assert (refused.status_code, refused.json(), refused.headers["Retry-After"]) == (429, {"detail": "Slow down."}, "3")
    down = http.post("/api/1/items/store-down/")
    assert (down.status_code, down.json()["detail"], down.headers["Retry-After"]) == (
        503, "The store is unavailable; try again.", "1")
    defect = http.post("/api/1/items/defect/")
    assert (defect.status_code, defect.json()) == (500, {"detail": "Internal Error"})


def test_what_the_fast_routes_do_not_name_goes_through_the_router() -> None:
    http = client()
    assert http.options("/api/1/items/thing/").status_code == 200  # the router's preflight
    assert http.get("/api/1/items/thing/").status_code == 405
    assert http.post("/api/1/items/thing/extra/").json() == {"detail": "The requested resource does not exist"}
