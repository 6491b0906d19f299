"""Golden answers of `GET /organizations/{org}/events/` over a known dataset the real sentry-sdk
sent to a real `picket run`: six error events (their time, release and environment set by
`before_send`, one outside the default 14 days) and six transactions of known durations and
statuses. Every function, every query operator, group-by, sort and pages, each against the
answer worked out by hand from the dataset below (and every body checked against the reference
schema by `call`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sentry_sdk

from tests.support.api import call
from tests.support.picket import PicketProcess
from tests.support.waiting import eventually

ORG = "golden"
EVENTS = f"/api/0/organizations/{ORG}/events/"
NOW = datetime.now(timezone.utc).replace(microsecond=0)

# Errors: (kind, text, level, hours ago, release, environment, browser tag, user)
ERRORS = [
    ("ValueError", "cart is empty", "error", 1, "shop@1.0", "prod", "Chrome", "u1"),
    ("ValueError", "cart is empty", "error", 2, "shop@1.0", "prod", "Firefox", "u2"),
    ("ValueError", "cart is empty", "error", 3, "shop@1.1", "staging", "Chrome", "u1"),
    ("KeyError", "sku", "fatal", 30, "shop@1.1", "prod", "Safari", "u3"),
    ("message", "checkout slow", "warning", 50, "shop@1.1", "prod", None, None),
    ("message", "disk 95% full", "info", 20 * 24, "shop@1.0", "prod", "Chrome", None),  # outside 14 days
]
# Transactions: (name, op, milliseconds, status, user), ending 1 to 6 minutes ago
TRANSACTIONS = [
    ("GET /cart", "http.server", 100, "ok", "u1"),
    ("GET /cart", "http.server", 200, "ok", "u2"),
    ("GET /cart", "http.server", 400, "internal_error", "u1"),
    ("GET /cart", "http.server", 1300, "cancelled", None),
    ("POST /pay", "http.server", 50, "ok", "u3"),
    ("POST /pay", "celery.task", 5000, "deadline_exceeded", "u3"),
]


def _at(hours_ago: float) -> datetime:
    return NOW - timedelta(hours=hours_ago)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _shape(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    """The error's time, release and environment from its row of ERRORS (its `n` tag)."""
    n = event.get("tags", {}).get("n")
    if n is not None and event.get("type") != "transaction":
        _, _, _, hours, release, environment, _, _ = ERRORS[int(n)]
        event["timestamp"] = _at(hours).strftime("%Y-%m-%dT%H:%M:%SZ")
        event["release"], event["environment"] = release, environment
    return event


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("golden"), org=ORG).start()
    sentry_sdk.init(dsn=proc.dsn, default_integrations=False, traces_sample_rate=1.0, release="shop@1.0",
                    environment="prod", before_send=_shape)
    try:
        for n, (kind, text, level, _, _, _, browser, user) in enumerate(ERRORS):
            with sentry_sdk.new_scope() as scope:
                scope.set_tag("n", str(n))
                if browser:
                    scope.set_tag("browser", browser)
                if user:
                    scope.set_user({"id": user, "email": f"{user}@shop.test"})
                scope.level = level
                if kind == "message":
                    sentry_sdk.capture_message(text, level=level)
                else:
                    try:
                        raise (ValueError(text) if kind == "ValueError" else KeyError(text))
                    except Exception:
                        sentry_sdk.capture_exception()
        for n, (name, op, ms, status, user) in enumerate(TRANSACTIONS):
            with sentry_sdk.new_scope() as scope:
                if user:
                    scope.set_user({"id": user})
                began = NOW - timedelta(minutes=6 - n)
                transaction = sentry_sdk.start_transaction(name=name, op=op, start_timestamp=began)
                transaction.set_status(status)
                transaction.finish(end_timestamp=began + timedelta(milliseconds=ms))
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
    with proc.client() as http:
        eventually(lambda: call(http, "GET", EVENTS, params={"field": "count()", "statsPeriod": "30d"}).json(),
                   lambda b: b.get("data") == [{"count()": len(ERRORS) + len(TRANSACTIONS)}], timeout=60)
    yield proc
    proc.stop()


def table(p: PicketProcess, params: dict[str, Any]) -> dict[str, Any]:
    with p.client() as http:
        answer = call(http, "GET", EVENTS, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


E, T = {"dataset": "errors"}, {"dataset": "transactions"}

FUNCTIONS = [
    (E | {"field": "count()"}, {"count()": 5}),
    (E | {"field": "count()", "statsPeriod": "30d"}, {"count()": 6}),
    (E | {"field": ["count_unique(user)", "count_unique(user.email)", "count_unique(release)"]},
     {"count_unique(user)": 3, "count_unique(user.email)": 3, "count_unique(release)": 2}),
    (E | {"field": ["min(timestamp)", "max(timestamp)", "last_seen()"]},
     {"min(timestamp)": _iso(_at(50)), "max(timestamp)": _iso(_at(1)), "last_seen()": _iso(_at(1))}),
    (T | {"field": ["min(transaction.duration)", "max(transaction.duration)", "sum(transaction.duration)",
                    "avg(transaction.duration)"]},
     {"min(transaction.duration)": 50.0, "max(transaction.duration)": 5000.0, "sum(transaction.duration)": 7050.0,
      "avg(transaction.duration)": 1175.0}),
    # Over [50, 100, 200, 400, 1300, 5000], linearly interpolated: p50 at 2.5 → 300, p75 at 3.75
    # → 1075, p95 at 4.75 → 4075, p99 at 4.95 → 4815, the 0.25 quantile at 1.25 → 125.
    (T | {"field": ["p50(transaction.duration)", "p75(transaction.duration)", "p95(transaction.duration)",
                    "p99(transaction.duration)", "percentile(transaction.duration, 0.25)"]},
     {"p50(transaction.duration)": 300.0, "p75(transaction.duration)": 1075.0, "p95(transaction.duration)": 4075.0,
      "p99(transaction.duration)": 4815.0, "percentile(transaction.duration, 0.25)": 125.0}),
    # Failures: internal_error and deadline_exceeded (ok and cancelled are not).
    (T | {"field": ["failure_count()", "failure_rate()"]}, {"failure_count()": 2, "failure_rate()": 2 / 6}),
    # apdex(300): 50, 100, 200 satisfied, 400 tolerated (≤ 1200), 1300 and 5000 frustrated.
    (T | {"field": ["apdex(300)", "apdex()"]}, {"apdex(300)": 3.5 / 6, "apdex()": 3.5 / 6}),
    (E | {"field": ["eps()", "epm()"], "statsPeriod": "24h"}, {"eps()": 3 / 86400, "epm()": 3 / 1440}),
    ({"field": ["count()", "count_unique(user)"]}, {"count()": 11, "count_unique(user)": 3}),
]


@pytest.mark.parametrize("params, row", FUNCTIONS, ids=[str(c[0]["field"]) for c in FUNCTIONS])
def test_each_function(p: PicketProcess, params: dict[str, Any], row: dict[str, Any]) -> None:
    (got,) = table(p, params)["data"]
    assert got == {k: pytest.approx(v) if isinstance(v, float) else v for k, v in row.items()}


OPERATORS = [
    (E, "level:fatal", 1),
    (E, "!level:error", 2),
    (E, "level:[fatal, warning]", 2),
    (E, "!level:[error, fatal]", 1),
    (E, "release:shop@1.*", 5),
    (E, "title:*empty", 3),
    (E, 'message:"checkout slow"', 1),
    (E, '"cart is empty"', 3),
    (E, "cart", 3),
    (E, "has:browser", 4),
    (E, "!has:user", 1),
    (E, "browser:Chrome", 2),
    (E, "tags[browser]:Chrome environment:prod", 1),
    (E, "user.email:u1@shop.test", 2),
    (E, "level:fatal OR browser:Firefox", 2),
    (E, "(level:fatal OR level:warning) AND release:shop@1.1", 2),
    (E, "level:error (browser:Firefox OR environment:staging)", 2),
    (E, "timestamp:>-24h", 3),
    (E, "timestamp:<=-24h", 2),
    (E, f"timestamp:>={_iso(_at(2)).replace('+00:00', 'Z')}", 2),
    (E, f"timestamp:<{_at(30).strftime('%Y-%m-%dT%H:%M:%S')}", 1),
    (T, "transaction.duration:>=400", 3),
    (T, "transaction.duration:<100", 1),
    (T, "transaction.duration:<=100", 2),
    (T, "transaction.duration:>1s", 2),
    (T, "transaction.duration:>0.5s transaction.duration:<2000ms", 1),
    (T, "transaction.status:ok", 3),
    (T, "transaction.op:celery.task", 1),
    (T, "transaction:GET*", 4),
    (T, "!transaction:\"GET /cart\"", 2),
    ({}, "event.type:transaction", 6),
    ({}, "event.type:error", 4),
    ({}, "event.type:default", 1),
]


@pytest.mark.parametrize("dataset, query, count", OPERATORS, ids=[c[1] for c in OPERATORS])
def test_each_query_operator(p: PicketProcess, dataset: dict[str, str], query: str, count: int) -> None:
    assert table(p, dataset | {"field": "count()", "query": query})["data"] == [{"count()": count}]


def test_group_by_with_a_condition_on_a_function_and_sorts(p: PicketProcess) -> None:
    by_title = table(p, E | {"field": ["title", "count()", "count_unique(user)"], "sort": ["-count()", "title"]})
    assert by_title["data"] == [{"title": "ValueError: cart is empty", "count()": 3, "count_unique(user)": 2},
                                {"title": "KeyError: 'sku'", "count()": 1, "count_unique(user)": 1},
                                {"title": "checkout slow", "count()": 1, "count_unique(user)": 0}]
    frequent = table(p, E | {"field": ["title", "count()"], "query": "count():>1"})["data"]
    assert frequent == [{"title": "ValueError: cart is empty", "count()": 3}]
    by_release = table(p, E | {"field": ["release", "environment", "count()"], "sort": ["release", "-environment"]})
    assert by_release["data"] == [
        {"release": "shop@1.0", "environment": "prod", "count()": 2},
        {"release": "shop@1.1", "environment": "staging", "count()": 1},
        {"release": "shop@1.1", "environment": "prod", "count()": 2}]
    slowest = table(p, T | {"field": ["transaction", "p95(transaction.duration)", "failure_rate()"],
                            "query": "p95(transaction.duration):>1s", "sort": "-p95(transaction.duration)"})["data"]
    # GET /cart: [100, 200, 400, 1300] → p95 at 2.85 → 1165; POST /pay: [50, 5000] → 4752.5.
    assert slowest == [
        {"transaction": "POST /pay", "p95(transaction.duration)": pytest.approx(4752.5), "failure_rate()": 0.5},
        {"transaction": "GET /cart", "p95(transaction.duration)": pytest.approx(1165.0), "failure_rate()": 0.25}]
    by_type = table(p, {"field": ["event.type", "count()"], "sort": "event.type"})["data"]
    assert by_type == [{"event.type": "default", "count()": 1}, {"event.type": "error", "count()": 4},
                       {"event.type": "transaction", "count()": 6}]


def test_rows_page_by_cursor_in_the_order_asked(p: PicketProcess) -> None:
    params = T | {"field": ["transaction.duration", "transaction.status"], "sort": "-transaction.duration",
                  "per_page": "4"}
    with p.client() as http:
        first = call(http, "GET", EVENTS, params=params)
        cursor = re.search(r'rel="next"; results="true"; cursor="([^"]+)"', first.headers["link"])
        assert cursor, first.headers["link"]
        second = call(http, "GET", EVENTS, params=params | {"cursor": cursor.group(1)})
    assert 'rel="next"; results="false"' in second.headers["link"]
    assert [r["transaction.duration"] for r in first.json()["data"]] == [5000.0, 1300.0, 400.0, 200.0]
    assert second.json()["data"] == [{"transaction.duration": 100.0, "transaction.status": "ok"},
                                     {"transaction.duration": 50.0, "transaction.status": "ok"}]
    newest = table(p, E | {"field": ["timestamp", "level"], "per_page": "2"})["data"]
    assert newest == [{"timestamp": _iso(_at(1)), "level": "error"}, {"timestamp": _iso(_at(2)), "level": "error"}]


@pytest.mark.parametrize("query, detail", [
    ("level:", "Invalid query: 'level:' needs a value (column 7)"),
    ("(level:error", "Parse error at '' (column 13). This is commonly caused by unmatched parentheses."
                     " Enclose any text in double quotes."),
    ("transaction.duration:>fast", "Invalid query: 'fast' is not a duration (like 500ms, 2s, 1.5h) (column 23)"),
    ("timestamp:>yesterday",
     "Invalid query: 'yesterday' is not a date (like 2026-01-31, 2026-01-31T12:00:00Z or -24h) (column 12)"),
    ("level:error OR", "Condition is missing on the right side of 'OR' operator"),
    ("count():>x", "Invalid query: 'x' is not a number (column 10)"),
])
def test_malformed_queries_are_400_saying_what_and_where(p: PicketProcess, query: str, detail: str) -> None:
    with p.client() as http:
        answer = call(http, "GET", EVENTS, params={"field": ["title", "count()"], "query": query})
    assert answer.status_code == 400
    assert answer.json() == {"detail": detail}
