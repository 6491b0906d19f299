"""GET /organizations/{org}/events/ through a real `picket run`, over events the real sentry-sdk
sent: counts by title and tag, filters, sort and pages in Sentry's table shape (checked against
the reference schema by `call`), and 400/401/403 for what Sentry refuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk

from tests.support.api import call
from tests.support.picket import PicketProcess
from tests.support.waiting import eventually

ORG = "discover"
EVENTS = f"/api/0/organizations/{ORG}/events/"


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("discover"), org=ORG).start()
    sentry_sdk.init(dsn=proc.dsn, default_integrations=False, release="shop@3.1", environment="prod")
    try:
        for n, (browser, level) in enumerate([("Chrome", "error"), ("Chrome", "error"), ("Firefox", "warning")]):
            with sentry_sdk.new_scope() as scope:
                scope.set_tag("browser", browser)
                scope.set_user({"id": f"u{n % 2}", "email": f"u{n % 2}@shop.test"})
                scope.level = level
                try:
                    raise ValueError("cart is empty")
                except ValueError:
                    sentry_sdk.capture_exception()
        sentry_sdk.capture_message("checkout slow", level="info")
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
    yield proc
    proc.stop()


def table(p: PicketProcess, **params: Any) -> dict[str, Any]:
    with p.client() as http:
        answer = call(http, "GET", EVENTS, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_counts_by_title_and_by_tag(p: PicketProcess) -> None:
    body = eventually(lambda: table(p, field=["title", "count()", "count_unique(user)"], sort="-count()"),
                      lambda b: sum(r["count()"] for r in b["data"]) == 4)
    assert body["data"] == [{"title": "ValueError: cart is empty", "count()": 3, "count_unique(user)": 2},
                            {"title": "checkout slow", "count()": 1, "count_unique(user)": 0}]
    assert body["meta"]["fields"] == {"title": "string", "count()": "integer", "count_unique(user)": "integer"}
    by_browser = table(p, field=["browser", "count()"], query="has:browser", sort="browser")["data"]
    assert by_browser == [{"browser": "Chrome", "count()": 2}, {"browser": "Firefox", "count()": 1}]


def test_rows_filtered_sorted_and_paged(p: PicketProcess) -> None:
    eventually(lambda: table(p, field=["id"])["data"], lambda d: len(d) == 4)
    # (Events sent together may share a millisecond: sorts end with the id, to be one order.)
    first = table(p, field=["id", "level", "release", "environment", "project", "timestamp"],
                  query="level:[error, warning] release:shop@*", sort=["-level", "id"], per_page="2")
    assert [r["level"] for r in first["data"]] == ["warning", "error"]
    assert {(r["release"], r["environment"], r["project"]) for r in first["data"]} == {("shop@3.1", "prod", "default")}
    with p.client() as http:
        page = http.get(EVENTS, params={"field": ["id", "timestamp"], "query": "level:[error, warning]",
                                        "sort": ["-timestamp", "id"], "per_page": "2"})
        assert 'rel="next"; results="true"' in page.headers["link"]
        following = http.get(EVENTS, params={"field": ["id", "timestamp"], "query": "level:[error, warning]",
                                             "sort": ["-timestamp", "id"], "per_page": "2",
                                             "cursor": "0:1:0"}).json()
    assert len(following["data"]) == 1
    assert not {r["id"] for r in following["data"]} & {r["id"] for r in page.json()["data"]}
    assert table(p, field=["message", "count()"], query='"checkout slow"')["data"] == [
        {"message": "checkout slow", "count()": 1}]


@pytest.mark.parametrize("params, status, detail", [
    ({"field": "title", "query": "level:error OR"}, 400, "Condition is missing on the right side of 'OR' operator"),
    ({"field": "nope()"}, 400, "nope() is not a function Discover knows."),
    ({"field": "id", "sort": "-count()"}, 400, "Cannot sort by a field that is not selected: count()"),
    ({"field": "id", "project": "999999"}, 403, None),
    ({"field": "id", "per_page": "101"}, 400, "Invalid per_page: must be between 1 and 100"),
])
def test_what_sentry_refuses(p: PicketProcess, params: dict[str, str], status: int, detail: str | None) -> None:
    with p.client() as http:
        answer = call(http, "GET", EVENTS, params=params)
    assert answer.status_code == status
    if detail is not None:
        assert answer.json()["detail"] == detail


def test_a_token_is_needed(p: PicketProcess) -> None:
    assert httpx.get(p.url + EVENTS, params={"field": "id"}).status_code == 401
