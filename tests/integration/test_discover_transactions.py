"""Discover's table query on real chdb over a known set of transactions (and a few error events
beside them): each transaction function with its exact value, the fields, types and units
Sentry gives, conditions on durations, percentages and aggregates, sort, pages, the `discover`
dataset mixing both kinds, and what is refused (400)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from picket.discover import table
from picket.discover.fields import MISERY_ALPHA, MISERY_BETA
from picket.ingest.transactions import COLUMNS
from picket.schemas.rows import TransactionRow
from picket.stats.periods import InvalidParams
from picket.store.client import Store
from picket.store.migrate import migrate

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
PROJECTS = {10: "api", 11: "web"}
EVENT_COLUMNS = ("project_id", "event_id", "group_id", "timestamp", "received", "type", "platform", "level",
                 "title", "message", "culprit", "release", "environment", "transaction", "user_tag", "user_email",
                 "tags_key", "tags_value", "hash", "size", "body")


def tx(n: int, project: int, name: str, op: str, status: str, ms: float, hours_ago: float, user: str = "",
       measurements: dict[str, float] | None = None, env: str = "prod") -> TransactionRow:
    end = NOW - timedelta(hours=hours_ago)
    m = measurements or {}
    return TransactionRow(
        project_id=project, event_id=f"{n:032x}", trace_id=f"{n:032x}".replace("0", "a"), span_id=f"{n:016x}",
        parent_span_id="", transaction=name, op=op, status=status, start_timestamp=end - timedelta(milliseconds=ms),
        timestamp=end, duration=ms, release="shop@1.0", environment=env, platform="python", user_id=user,
        user_email=f"{user}@x.io" if user else "", user_username="", user_ip="", user_tag=f"id:{user}" if user else "",
        tags_key=["browser"] if user else [], tags_value=["Chrome"] if user else [], measurements_key=list(m),
        measurements_value=list(m.values()), http_method="GET", http_url=f"https://shop.test/{n}", received=end)


TRANSACTIONS = [
    tx(1, 10, "GET /cart", "http.server", "ok", 100, 1, "ann", {"lcp": 1000.0, "cls": 0.1}),
    tx(2, 10, "GET /cart", "http.server", "ok", 200, 2, "bob", {"lcp": 2000.0}),
    tx(3, 10, "GET /cart", "http.server", "internal_error", 400, 3, "ann"),
    tx(4, 10, "GET /cart", "http.server", "cancelled", 1300, 4, env="staging"),
    tx(5, 10, "POST /pay", "http.server", "unknown", 50, 5, "cid"),
    tx(6, 10, "POST /pay", "http.server", "deadline_exceeded", 5000, 6, "cid"),
    tx(7, 11, "/home", "pageload", "ok", 300, 7, "dan", {"lcp": 2500.0, "fcp": 900.0}),
    tx(8, 11, "/home", "pageload", "ok", 30000, 20 * 24),  # outside the default 14 days
]


def error(n: int, transaction: str, hours_ago: float) -> tuple[Any, ...]:
    at = (NOW - timedelta(hours=hours_ago)).replace(tzinfo=None)
    return (10, f"{n:032x}", n, at, at, "error", "python", "error", "ValueError: bad cart", "", "app", "shop@1.0",
            "prod", transaction, "", "", [], [], f"h{n}", 100, "{}")


ERRORS = [error(21, "GET /cart", 1.5), error(22, "GET /cart", 2.5), error(23, "/only-errors", 3.5)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(f"chdb:///{tmp_path_factory.mktemp('chdb') / 'ch'}", "discover_tx_test")
    migrate(s)
    s.insert("transactions", TRANSACTIONS, COLUMNS)
    s.insert("transactions", TRANSACTIONS[:2], COLUMNS)  # redelivered: counted once
    s.insert("error_events", ERRORS, EVENT_COLUMNS)
    yield s
    s.close()


def run(store: Store, offset: int = 0, limit: int = 51, dataset: str | None = "transactions",
        **params: str | list[str]) -> dict[str, Any]:
    as_lists = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    if dataset is not None:
        as_lists["dataset"] = [dataset]
    q = table.parse(as_lists, accessible=PROJECTS, now=NOW, offset=offset, limit=limit)
    return table.response(q, store.query(q.sql, q.params))


def rows(store: Store, **params: Any) -> list[dict[str, Any]]:
    return run(store, **params)["data"]


def ids(store: Store, query: str, **params: Any) -> str:
    return "".join(r["id"][-1] for r in rows(store, field=["id"], query=query, sort="id", **params))


def test_every_function_by_transaction_with_exact_values(store: Store) -> None:
    functions = ["count()", "count_unique(user)", "min(transaction.duration)", "max(transaction.duration)",
                 "sum(transaction.duration)", "avg(transaction.duration)", "p50()", "p75(transaction.duration)",
                 "p95(transaction.duration)", "p99()", "percentile(transaction.duration, 0.25)",
                 "failure_rate()", "failure_count()", "apdex(300)", "last_seen()"]
    body = run(store, field=["transaction", *functions], sort="transaction")
    # ClickHouse's quantile, as Sentry's: linear between the sorted values, at level * (n - 1)
    # (approx: to the float rounding of that interpolation only).
    assert body["data"] == [pytest.approx(r) for r in [
        {"transaction": "/home", "count()": 1, "count_unique(user)": 1, "min(transaction.duration)": 300.0,
         "max(transaction.duration)": 300.0, "sum(transaction.duration)": 300.0,
         "avg(transaction.duration)": 300.0, "p50()": 300.0, "p75(transaction.duration)": 300.0,
         "p95(transaction.duration)": 300.0, "p99()": 300.0, "percentile(transaction.duration, 0.25)": 300.0,
         "failure_rate()": 0.0, "failure_count()": 0, "apdex(300)": 1.0, "last_seen()": "2026-12-05T05:00:00+00:00"},
        {"transaction": "GET /cart", "count()": 4, "count_unique(user)": 2, "min(transaction.duration)": 100.0,
         "max(transaction.duration)": 1300.0, "sum(transaction.duration)": 2000.0,
         "avg(transaction.duration)": 500.0, "p50()": 300.0, "p75(transaction.duration)": 625.0,
         "p95(transaction.duration)": 1165.0, "p99()": 1273.0, "percentile(transaction.duration, 0.25)": 175.0,
         # cancelled is no failure; internal_error is: 1 of 4. Apdex: (2 satisfied + 1 tolerable / 2) / 4.
         "failure_rate()": 0.25, "failure_count()": 1, "apdex(300)": 0.625, "last_seen()": "2026-12-05T11:00:00+00:00"},
        {"transaction": "POST /pay", "count()": 2, "count_unique(user)": 1, "min(transaction.duration)": 50.0,
         "max(transaction.duration)": 5000.0, "sum(transaction.duration)": 5050.0,
         "avg(transaction.duration)": 2525.0, "p50()": 2525.0, "p75(transaction.duration)": 3762.5,
         "p95(transaction.duration)": 4752.5, "p99()": 4950.5, "percentile(transaction.duration, 0.25)": 1287.5,
         # unknown is no failure, deadline_exceeded is; 5000ms is past 4 × 300: frustrated.
         "failure_rate()": 0.5, "failure_count()": 1, "apdex(300)": 0.5, "last_seen()": "2026-12-05T07:00:00+00:00"},
    ]]
    fields, units = body["meta"]["fields"], body["meta"]["units"]
    assert fields == {"transaction": "string", "count()": "integer", "count_unique(user)": "integer",
                      "min(transaction.duration)": "duration", "max(transaction.duration)": "duration",
                      "sum(transaction.duration)": "duration", "avg(transaction.duration)": "duration",
                      "p50()": "duration", "p75(transaction.duration)": "duration", "p95(transaction.duration)": "duration",
                      "p99()": "duration", "percentile(transaction.duration, 0.25)": "duration",
                      "failure_rate()": "percentage", "failure_count()": "integer", "apdex(300)": "number",
                      "last_seen()": "date"}
    assert {k for k, v in units.items() if v == "millisecond"} == {k for k, v in fields.items() if v == "duration"}
    assert {v for k, v in units.items() if fields[k] != "duration"} == {None}


def test_rates_apdex_default_and_measurements(store: Store) -> None:
    totals = run(store, field=["count()", "eps()", "epm()", "apdex()", "avg(measurements.lcp)",
                               "p50(measurements.lcp)", "max(measurements.cls)", "count_unique(transaction.op)"],
                 statsPeriod="1d")
    # apdex() uses Sentry's default threshold, 300ms: ≤300: 100, 200, 50, 300; ≤1200: 400.
    assert totals["data"] == [{"count()": 7, "eps()": 7 / 86400, "epm()": 7 / 1440, "apdex()": 4.5 / 7,
                               "avg(measurements.lcp)": 5500 / 3, "p50(measurements.lcp)": 2000.0,
                               "max(measurements.cls)": 0.1, "count_unique(transaction.op)": 2}]
    assert totals["meta"]["fields"]["avg(measurements.lcp)"] == "duration"
    assert totals["meta"]["units"]["p50(measurements.lcp)"] == "millisecond"
    assert totals["meta"]["fields"]["max(measurements.cls)"] == "number"


def test_user_misery_count_miserable_count_if_any_and_p100_with_exact_values(store: Store) -> None:
    functions = ["user_misery(300)", "user_misery()", "count_miserable(user, 300)", "count_miserable(user,50)",
                 "count_if(transaction.duration, greater, 300)", "count_if(transaction.status,notEquals,ok)",
                 "any(transaction.op)", "p100()", "p90(transaction.duration)"]
    body = run(store, field=["transaction", *functions], sort="transaction")
    a, b = MISERY_ALPHA, MISERY_ALPHA + MISERY_BETA
    # Miserable at 300: a user with a transaction over 1200ms. /cart's 1300ms one has no user;
    # /pay's cid waited 5000ms. At 50 (over 200ms): dan (300), ann (400), cid (5000).
    assert body["data"] == [pytest.approx(r) for r in [
        {"transaction": "/home", "user_misery(300)": a / (1 + b), "user_misery()": a / (1 + b),
         "count_miserable(user, 300)": 0, "count_miserable(user,50)": 1,
         "count_if(transaction.duration, greater, 300)": 0, "count_if(transaction.status,notEquals,ok)": 0,
         "any(transaction.op)": "pageload", "p100()": 300.0, "p90(transaction.duration)": 300.0},
        {"transaction": "GET /cart", "user_misery(300)": a / (2 + b), "user_misery()": a / (2 + b),
         "count_miserable(user, 300)": 0, "count_miserable(user,50)": 1,
         "count_if(transaction.duration, greater, 300)": 2, "count_if(transaction.status,notEquals,ok)": 2,
         "any(transaction.op)": "http.server", "p100()": 1300.0, "p90(transaction.duration)": 1030.0},
        {"transaction": "POST /pay", "user_misery(300)": (1 + a) / (1 + b), "user_misery()": (1 + a) / (1 + b),
         "count_miserable(user, 300)": 1, "count_miserable(user,50)": 1,
         "count_if(transaction.duration, greater, 300)": 1, "count_if(transaction.status,notEquals,ok)": 2,
         "any(transaction.op)": "http.server", "p100()": 5000.0, "p90(transaction.duration)": 4505.0},
    ]]
    fields = body["meta"]["fields"]
    assert [fields[f] for f in functions] == ["number", "number", "integer", "integer", "integer", "integer",
                                              "string", "duration", "duration"]
    by_misery = rows(store, field=["transaction", "user_misery(300)"], sort="-user_misery(300)",
                     query="user_misery(300):>0.05")
    assert [r["transaction"] for r in by_misery] == ["POST /pay"]


def test_plain_fields_of_a_transaction(store: Store) -> None:
    (row,) = rows(store, field=["id", "transaction", "transaction.duration", "transaction.op", "transaction.status",
                                "trace", "trace.span", "measurements.lcp", "measurements.fcp", "user", "user.email",
                                "user.id", "release", "environment", "project", "browser", "http.url", "title",
                                "event.type", "timestamp"],
                  query="id:" + f"{1:032x}")
    assert row == {"id": f"{1:032x}", "transaction": "GET /cart", "transaction.duration": 100.0,
                   "transaction.op": "http.server", "transaction.status": "ok", "trace": f"{1:032x}".replace("0", "a"),
                   "trace.span": f"{1:016x}", "measurements.lcp": 1000.0, "measurements.fcp": None, "user": "id:ann",
                   "user.email": "ann@x.io", "user.id": "ann", "release": "shop@1.0",
                   "environment": "prod", "project": "api", "browser": "Chrome", "http.url": "https://shop.test/1", "title": "GET /cart", "event.type": "transaction",
                   "timestamp": "2026-12-05T11:00:00+00:00"}


@pytest.mark.parametrize("query, expected", [
    ("transaction.duration:>500ms", "46"),
    ("transaction.duration:>1s", "46"),
    ("transaction.duration:>=1.3s", "46"),
    ("transaction.duration:<=0.3s", "1257"),
    ("transaction.duration:300", "7"),  # a bare number is milliseconds
    ("transaction.status:ok", "127"),
    ("!transaction.status:ok", "3456"),
    ("transaction.status:[internal_error, deadline_exceeded]", "36"),
    ("transaction.op:pageload", "7"),
    ("transaction:GET*", "1234"),
    ("measurements.lcp:>1.5s", "27"),
    ("has:measurements.lcp", "127"),
    ("!has:measurements.lcp", "3456"),
    ("user.email:ann@x.io", "13"),
    ("!has:user", "4"),
    ("trace:" + f"{3:032x}".replace("0", "a"), "3"),
    ("cart", "1234"),  # free text: the transaction's name is its title
    ("event.type:transaction environment:staging", "4"),
    ("timestamp:>-3h", "12"),
    ("http.method:GET project.id:11", "7"),
])
def test_conditions_on_transaction_fields(store: Store, query: str, expected: str) -> None:
    assert ids(store, query) == expected, query


def test_conditions_on_aggregates(store: Store) -> None:
    def names(query: str) -> list[str]:
        return [r["transaction"] for r in rows(store, field=["transaction", "p95()", "failure_rate()"], query=query,
                                               sort="transaction")]

    assert names("p95():>300") == ["GET /cart", "POST /pay"]
    assert names("p95(transaction.duration):>1.5s") == ["POST /pay"]
    assert names("failure_rate():>0.3") == ["POST /pay"]
    assert names("failure_rate():>=25%") == ["GET /cart", "POST /pay"]
    assert names("apdex(300):<0.6") == ["POST /pay"]
    assert names("transaction.op:http.server count():>2") == ["GET /cart"]


def test_sort_by_a_function_and_pages(store: Store) -> None:
    fields = ["transaction", "p95(transaction.duration)", "count()"]
    by_p95 = rows(store, field=fields, sort="-p95(transaction.duration)")
    assert [r["transaction"] for r in by_p95] == ["POST /pay", "GET /cart", "/home"]
    first = run(store, offset=0, limit=2, field=["id", "transaction.duration"], sort=["-transaction.duration", "id"])
    second = run(store, offset=2, limit=2, field=["id", "transaction.duration"], sort=["-transaction.duration", "id"])
    assert [r["transaction.duration"] for r in first["data"]] == [5000.0, 1300.0]
    assert [r["transaction.duration"] for r in second["data"]] == [400.0, 300.0]


def test_the_discover_dataset_holds_both_kinds(store: Store) -> None:
    by_type = rows(store, dataset=None, field=["event.type", "count()"], sort="event.type")
    assert by_type == [{"event.type": "error", "count()": 3}, {"event.type": "transaction", "count()": 7}]
    mixed = rows(store, dataset="discover", field=["transaction", "count()", "p95()", "failure_rate()", "apdex(300)"],
                 sort="transaction")
    # Errors count, but transaction functions read transactions only: a group of errors alone has none.
    assert mixed == [pytest.approx(r) for r in [
        {"transaction": "/home", "count()": 1, "p95()": 300.0, "failure_rate()": 0.0, "apdex(300)": 1.0},
        {"transaction": "/only-errors", "count()": 1, "p95()": None, "failure_rate()": None, "apdex(300)": None},
        {"transaction": "GET /cart", "count()": 6, "p95()": 1165.0, "failure_rate()": 0.25, "apdex(300)": 0.625},
        {"transaction": "POST /pay", "count()": 2, "p95()": 4752.5, "failure_rate()": 0.5, "apdex(300)": 0.5},
    ]]
    assert ids(store, "event.type:transaction", dataset=None) == "1234567"
    assert ids(store, "event.type:error", dataset=None) == "567"  # the error events 0x15, 0x16, 0x17
    assert ids(store, "transaction.duration:>1s", dataset=None) == "46"
    assert rows(store, dataset="errors", field=["count()"]) == [{"count()": 3}]
    assert rows(store, dataset="errors", field=["transaction", "count()"], query="transaction:GET*") == [
        {"transaction": "GET /cart", "count()": 2}]


@pytest.mark.parametrize("params, detail", [
    ({"field": ["transaction.duration"], "dataset": "errors"},
     "transaction.duration is not available on error events yet."),
    ({"field": ["apdex(300)"], "dataset": "errors"}, "apdex(300) needs transactions, and this query reads error events."),
    ({"field": ["p95(transaction.op)"]}, "p95(transaction.op): transaction.op is not a number."),
    ({"field": ["percentile(transaction.duration, 2)"]},
     "percentile(transaction.duration, 2): expected a field and a quantile between 0 and 1."),
    ({"field": ["percentile(transaction.duration, x)"]}, "percentile(transaction.duration, x): 'x' is not a number."),
    ({"field": ["apdex(-1)"]}, "apdex(-1): the threshold must be a positive number of milliseconds."),
    ({"field": ["apdex(nan)"]}, "apdex(nan): 'nan' is not a number."),
    ({"field": ["failure_rate(x)"]}, "failure_rate(x): failure_rate() takes no argument."),
    ({"field": ["issue.id"]}, "issue.id is not available on transactions yet."),
    ({"field": ["nope()"]}, "nope() is not a function Discover knows."),
    ({"field": ["id"], "query": "transaction.duration:>fast"},
     "Invalid query: 'fast' is not a duration (like 500ms, 2s, 1.5h) (column 23)"),
    ({"field": ["transaction", "failure_rate()"], "query": "failure_rate():>half"},
     "Invalid query: 'half' is not a number (column 17)"),
])
def test_what_is_refused(params: dict[str, Any], detail: str) -> None:
    as_lists = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    as_lists.setdefault("dataset", ["transactions"])
    with pytest.raises(InvalidParams) as caught:
        table.parse(as_lists, accessible=PROJECTS, now=NOW, offset=0, limit=51)
    assert caught.value.detail == detail
