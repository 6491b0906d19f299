"""Transactions the real sentry-sdk sends (`start_transaction`, exact start and end times) read back
through a real `picket run`'s `GET /organizations/{org}/events/`: percentiles and counts by
transaction, sort, a duration condition, an aggregate condition, pages, the `discover` default
mixing them with an error, and the outcomes still counted as accepted transactions."""

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

ORG = "perf"
EVENTS = f"/api/0/organizations/{ORG}/events/"
# (name, op, milliseconds, status, user)
SENT = [
    ("GET /cart", "http.server", 100, "ok", "u1"),
    ("GET /cart", "http.server", 200, "ok", "u2"),
    ("GET /cart", "http.server", 400, "internal_error", "u1"),
    ("GET /cart", "http.server", 1300, "cancelled", None),
    ("POST /pay", "http.server", 50, "ok", "u3"),
    ("POST /pay", "http.server", 5000, "deadline_exceeded", "u3"),
]


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("perf"), org=ORG).start()
    sentry_sdk.init(dsn=proc.dsn, default_integrations=False, traces_sample_rate=1.0, release="shop@4.0",
                    environment="prod")
    start = datetime.now(timezone.utc) - timedelta(minutes=2)
    try:
        for n, (name, op, ms, status, user) in enumerate(SENT):
            with sentry_sdk.new_scope() as scope:
                if user:
                    scope.set_user({"id": user})
                began = start + timedelta(seconds=n)
                transaction = sentry_sdk.start_transaction(name=name, op=op, start_timestamp=began)
                transaction.set_status(status)
                if n == 0:
                    transaction.set_measurement("lcp", 1.25, "second")
                transaction.finish(end_timestamp=began + timedelta(milliseconds=ms))
        try:
            raise ValueError("cart is empty")
        except ValueError:
            sentry_sdk.capture_exception()
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


def stored(p: PicketProcess) -> None:
    eventually(lambda: table(p, field=["count()"], dataset="transactions")["data"],
               lambda d: d == [{"count()": len(SENT)}])


def test_percentiles_and_counts_by_transaction_sorted(p: PicketProcess) -> None:
    stored(p)
    body = table(p, dataset="transactions", field=["transaction", "p95(transaction.duration)", "count()"],
                 sort="-p95(transaction.duration)")
    # p95 of [100, 200, 400, 1300]: 400 + 0.85 × 900; of [50, 5000]: 50 + 0.95 × 4950.
    assert body["data"] == [{"transaction": "POST /pay", "p95(transaction.duration)": pytest.approx(4752.5), "count()": 2},
                            {"transaction": "GET /cart", "p95(transaction.duration)": pytest.approx(1165.0), "count()": 4}]
    assert body["meta"]["fields"] == {"transaction": "string", "p95(transaction.duration)": "duration",
                                      "count()": "integer"}
    assert body["meta"]["units"]["p95(transaction.duration)"] == "millisecond"
    rates = table(p, dataset="transactions", field=["transaction", "failure_rate()", "apdex(300)", "count_unique(user)"],
                  query="failure_rate():>0.2", sort="transaction")["data"]
    assert rates == [{"transaction": "GET /cart", "failure_rate()": 0.25, "apdex(300)": 0.625, "count_unique(user)": 2},
                     {"transaction": "POST /pay", "failure_rate()": 0.5, "apdex(300)": 0.5, "count_unique(user)": 1}]


def test_what_the_sdk_sent_is_what_a_row_shows(p: PicketProcess) -> None:
    stored(p)
    (row,) = table(p, dataset="transactions", query="has:measurements.lcp",
                   field=["transaction", "transaction.op", "transaction.status", "transaction.duration",
                          "measurements.lcp", "user", "release", "environment", "trace"])["data"]
    assert {k: v for k, v in row.items() if k != "trace"} == {
        "transaction": "GET /cart", "transaction.op": "http.server", "transaction.status": "ok",
        "transaction.duration": 100.0, "measurements.lcp": 1250.0, "user": "id:u1", "release": "shop@4.0",
        "environment": "prod"}
    assert len(row["trace"]) == 32


def test_a_duration_condition_and_pages(p: PicketProcess) -> None:
    stored(p)
    slow = table(p, dataset="transactions", field=["transaction", "transaction.duration"],
                 query="transaction.duration:>1s", sort="-transaction.duration")["data"]
    assert slow == [{"transaction": "POST /pay", "transaction.duration": 5000.0},
                    {"transaction": "GET /cart", "transaction.duration": 1300.0}]
    params = {"dataset": "transactions", "field": ["id", "transaction.duration"], "sort": ["transaction.duration", "id"],
              "per_page": "4"}
    with p.client() as http:
        first = call(http, "GET", EVENTS, params=params)
        assert 'rel="next"; results="true"' in first.headers["link"]
        cursor = re.search(r'rel="next"; results="true"; cursor="([^"]+)"', first.headers["link"])
        assert cursor, first.headers["link"]
        second = call(http, "GET", EVENTS, params=params | {"cursor": cursor.group(1)})
        assert 'rel="next"; results="false"' in second.headers["link"]
    assert [r["transaction.duration"] for r in first.json()["data"]] == [50.0, 100.0, 200.0, 400.0]
    assert [r["transaction.duration"] for r in second.json()["data"]] == [1300.0, 5000.0]


def test_the_default_dataset_holds_errors_and_transactions(p: PicketProcess) -> None:
    stored(p)
    by_type = eventually(lambda: table(p, field=["event.type", "count()"], sort="event.type")["data"],
                         lambda d: len(d) == 2)
    assert by_type == [{"event.type": "error", "count()": 1}, {"event.type": "transaction", "count()": len(SENT)}]
    assert table(p, field=["count()"], query="event.type:transaction transaction.status:ok")["data"] == [
        {"count()": 3}]
    with p.client() as http:
        refused = call(http, "GET", EVENTS, params={"dataset": "errors", "field": "transaction.duration"})
    assert refused.status_code == 400
    assert refused.json() == {"detail": "transaction.duration is not available on error events yet."}


def test_transactions_are_still_counted_as_accepted(p: PicketProcess) -> None:
    stored(p)
    params = {"field": "sum(quantity)", "category": "transaction", "outcome": "accepted", "statsPeriod": "1h",
              "interval": "1h"}
    with p.client() as http:
        totals = eventually(lambda: call(http, "GET", f"/api/0/organizations/{ORG}/stats_v2/", params=params).json(),
                            lambda b: b["groups"] and b["groups"][0]["totals"]["sum(quantity)"] == len(SENT))
    assert totals["groups"][0]["totals"] == {"sum(quantity)": len(SENT)}
