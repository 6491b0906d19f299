"""Discover's table query on real chdb over a known set of error events: fields, tags, each
function, group-by, sort, pages, each query operator, and what is refused (400). No transactions
are stored here: the default dataset (`discover`, errors and transactions) answers as the errors
alone would (transactions: `test_discover_transactions.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest

from picket.discover import table
from picket.discover.event_filter import event_condition
from picket.stats.periods import InvalidParams
from picket.store.client import Store
from picket.store.migrate import migrate

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
PROJECTS = {10: "api", 11: "web"}
COLUMNS = ("project_id", "event_id", "group_id", "timestamp", "received", "type", "platform", "level", "title",
           "message", "culprit", "release", "environment", "transaction", "user_tag", "user_email", "tags_key",
           "tags_value", "hash", "size", "body")


def event(n: int, project: int, group: int, hours_ago: float, level: str, title: str, release: str, env: str,
          user: str, tags: dict[str, str], message: str = "") -> tuple[Any, ...]:
    at = (NOW - timedelta(hours=hours_ago)).replace(tzinfo=None)
    body = msgspec.json.encode({"user": {"id": user, "username": f"name-{user}"} if user else {}})
    return (project, f"{n:032x}", group, at, at, "error", "python", level, title, message, "app.views", release, env,
            "/checkout", f"id:{user}" if user else "", f"{user}@x.io" if user else "", list(tags), list(tags.values()),
            f"h{group}", 100, body.decode())


EVENTS = [
    event(1, 10, 1, 1, "error", "ValueError: bad cart", "shop@1.0", "prod", "ann", {"browser": "Chrome"}),
    event(2, 10, 1, 2, "error", "ValueError: bad cart", "shop@1.0", "prod", "bob", {"browser": "Firefox"}),
    event(3, 10, 1, 3, "error", "ValueError: bad cart", "shop@1.1", "staging", "ann", {"browser": "Chrome"}),
    event(4, 10, 2, 30, "warning", "TimeoutError: upstream_50%", "shop@1.1", "prod", "", {},
          message="upstream timed out after 30s"),
    event(5, 11, 3, 5, "fatal", "KeyError: 'sku'", "web@2.0", "prod", "cid", {"browser": "Safari"}),
    event(6, 11, 3, 20 * 24, "fatal", "KeyError: 'sku'", "web@2.0", "prod", "cid", {}),  # outside 14 days
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(f"chdb:///{tmp_path_factory.mktemp('chdb') / 'ch'}", "discover_test")
    migrate(s)
    s.insert("error_events", EVENTS, COLUMNS)
    s.insert("error_events", EVENTS[:1], COLUMNS)  # the same event again: counted once (FINAL)
    s.command("INSERT INTO {db}.groups (project_id, group_id, short_number) VALUES (10, 1, 1), (10, 2, 46), (11, 3, 1025)")
    yield s
    s.close()


def run(store: Store, offset: int = 0, limit: int = 51, **params: str | list[str]) -> dict[str, Any]:
    as_lists = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    q = table.parse(as_lists, accessible=PROJECTS, now=NOW, offset=offset, limit=limit)
    return table.response(q, store.query(q.sql, q.params))


def rows(store: Store, **params: str | list[str]) -> list[dict[str, Any]]:
    return run(store, **params)["data"]


def refused(**params: str | list[str]) -> str:
    as_lists = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    with pytest.raises(InvalidParams) as caught:
        table.parse(as_lists, accessible=PROJECTS, now=NOW, offset=0, limit=51)
    return caught.value.detail


def test_plain_fields_newest_first_with_their_types(store: Store) -> None:
    body = run(store, field=["timestamp", "id", "title", "project", "release", "user.email", "user.id"])
    assert [r["id"][-1] for r in body["data"]] == ["1", "2", "3", "5", "4"], "14 days by default; one copy of 1"
    assert body["data"][0] == {"timestamp": "2026-12-05T11:00:00+00:00", "id": f"{1:032x}",
                               "title": "ValueError: bad cart", "project": "api", "release": "shop@1.0",
                               "user.email": "ann@x.io", "user.id": "ann"}
    assert body["meta"]["fields"] == {"timestamp": "date", "id": "string", "title": "string", "project": "string",
                                      "release": "string", "user.email": "string", "user.id": "string"}


def test_functions_group_by_the_other_fields(store: Store) -> None:
    data = rows(store, field=["title", "count()", "count_unique(user)", "last_seen()"], sort=["-count()", "title"])
    assert data == [
        {"title": "ValueError: bad cart", "count()": 3, "count_unique(user)": 2, "last_seen()": "2026-12-05T11:00:00+00:00"},
        {"title": "KeyError: 'sku'", "count()": 1, "count_unique(user)": 1, "last_seen()": "2026-12-05T07:00:00+00:00"},
        {"title": "TimeoutError: upstream_50%", "count()": 1, "count_unique(user)": 0,
         "last_seen()": "2026-12-04T06:00:00+00:00"},
    ]  # an event without a user counts no user
    totals = run(store, field=["count()", "eps()", "epm()", "min(timestamp)", "max(project.id)"], statsPeriod="1d")
    assert totals["data"] == [{"count()": 4, "eps()": 4 / 86400, "epm()": 4 / 1440,
                               "min(timestamp)": "2026-12-05T07:00:00+00:00",
                               "max(project.id)": 11}]
    assert totals["meta"]["fields"]["eps()"] == "rate" and totals["meta"]["units"]["epm()"] == "1/minute"


def test_tags_by_name_and_in_brackets(store: Store) -> None:
    data = rows(store, field=["browser", "count()"], sort="browser")
    assert data == [{"browser": "", "count()": 1}, {"browser": "Chrome", "count()": 2},
                    {"browser": "Firefox", "count()": 1}, {"browser": "Safari", "count()": 1}]
    assert rows(store, field=["tags[browser]", "count()"], query="tags[browser]:Chrome") == [
        {"tags[browser]": "Chrome", "count()": 2}]


@pytest.mark.parametrize("query, ids", [
    ("level:error", "123"),
    ("!level:error", "45"),
    ("level:[warning, fatal]", "45"),
    ("release:shop@*", "1234"),
    ('title:"ValueError: bad cart"', "123"),
    ("title:*upstream_50%*", "4"),
    ('title:"*upstream*"', ""),  # quoted: a literal star
    ("has:user.email", "1235"),
    ("!has:user.email", "4"),
    ("bad cart", "123"),
    ("TIMED OUT", "4"),  # free text matches the message too, in any case
    ("browser:Chrome", "13"),
    ("timestamp:>-4h", "123"),
    ("timestamp:<=2026-12-05T09:00:00Z", "345"),
    ("project.id:11", "5"),
    ("project.id:>10", "5"),
    ("level:error AND (user:id:bob OR environment:staging)", "23"),
    ("user.username:name-ann", "13"),
])
def test_each_query_operator(store: Store, query: str, ids: str) -> None:
    for dataset in ("errors", "discover"):  # `events` alone, and within the union with transactions
        found = rows(store, field=["id"], query=query, sort="id", dataset=dataset)
        assert "".join(r["id"][-1] for r in found) == ids, (query, dataset)


def test_conditions_on_functions_filter_groups(store: Store) -> None:
    assert rows(store, field=["title", "count()"], query="count():>1") == [
        {"title": "ValueError: bad cart", "count()": 3}]
    assert rows(store, field=["title", "count()"], query="level:fatal count():>=1") == [
        {"title": "KeyError: 'sku'", "count()": 1}]


def test_project_environment_and_period_parameters(store: Store) -> None:
    assert [r["id"][-1] for r in rows(store, field=["id"], project="11", sort="id")] == ["5"]
    assert [r["id"][-1] for r in rows(store, field=["id"], project="-1", environment="staging")] == ["3"]
    assert [r["id"][-1] for r in rows(store, field=["id"], statsPeriod="30d", project="11", sort="id")] == ["5", "6"]
    with pytest.raises(PermissionError):
        table.parse({"field": ["id"], "project": ["99"]}, accessible=PROJECTS, now=NOW, offset=0, limit=51)


def test_pages_by_offset_and_limit(store: Store) -> None:
    first = run(store, offset=0, limit=3, field=["id"], sort="id")["data"]
    second = run(store, offset=2, limit=3, field=["id"], sort="id")["data"]
    assert [r["id"][-1] for r in first] == ["1", "2", "3"]
    assert [r["id"][-1] for r in second] == ["3", "4", "5"]


@pytest.mark.parametrize("dataset", ["errors", "discover"])
def test_issue_is_the_short_id_and_filters_and_groups(store: Store, dataset: str) -> None:
    """`issue`: the project's slug and the issue's number in base 32 (46 → 1E, 1025 → 101)."""
    counted = rows(store, field=["issue", "count()"], sort="issue", dataset=dataset)
    assert counted == [{"issue": "API-1", "count()": 3}, {"issue": "API-1E", "count()": 1},
                       {"issue": "WEB-101", "count()": 1}]
    assert rows(store, field=["id", "issue"], query="issue:API-1E", dataset=dataset) == [
        {"id": f"{4:032x}", "issue": "API-1E"}]
    assert rows(store, field=["count()"], query="!issue:API-1", dataset=dataset) == [{"count()": 2}]


def test_an_event_list_filters_on_issue_without_a_query_of_its_own(store: Store) -> None:
    """An event list's condition (`event_filter`) is one WHERE fragment: `issue` works inside it."""
    cond = event_condition({"query": ["issue:[API-1E, WEB-101]"]}, projects=PROJECTS, now=NOW)
    assert cond is not None
    found = store.query(f"SELECT event_id FROM {{db}}.error_events FINAL WHERE {cond.sql} ORDER BY event_id",
                        cond.params)
    assert found == [(f"{4:032x}",), (f"{5:032x}",), (f"{6:032x}",)]


@pytest.mark.parametrize("params, detail", [
    ({}, "No columns selected"),
    ({"field": [f"tags[t{i}]" for i in range(21)]},
     "You can view up to 20 fields at a time. Please delete some and try again."),
    ({"field": ["id"], "sort": "title"}, "Cannot sort by a field that is not selected: title"),
    ({"field": ["nope()"]}, "nope() is not a function Discover knows."),
    ({"field": ["p95(transaction.duration)"], "dataset": "errors"},
     "p95(transaction.duration) needs transactions, and this query reads error events."),
    ({"field": ["id"], "dataset": "spans"}, "dataset must be one of: errors, transactions, discover"),
    ({"field": ["avg(title)"]}, "avg(title): title is not a number."),
    ({"field": ["min(release)"]}, "min(release): release is not a number or a date."),
    ({"field": ["bad field!"]}, "Invalid field: 'bad field!' is neither a field nor a tag name."),
    ({"field": ["issue.short_id"], "dataset": "errors"}, "issue.short_id is not available on error events yet."),
    ({"field": ["issue"], "dataset": "transactions"}, "issue is not available on transactions yet."),
    ({"field": ["id"], "query": "transaction.duration:>1s", "dataset": "errors"},
     "transaction.duration is not available on error events yet."),
    ({"field": ["measurements.lcp"], "dataset": "errors"}, "measurements.lcp is not available on error events yet."),
    ({"field": ["id"], "query": "level:error count():>1"}, "A condition on a function needs a function among the fields."),
    ({"field": ["title", "count()"], "query": "level:error OR count():>1"},
     "Having an OR between aggregate filters and normal filters is invalid."),
    ({"field": ["id"], "query": "title:>a"}, "Invalid query: title is text and cannot be compared with '>'."),
    ({"field": ["id"], "query": "timestamp:>yesterday"},
     "Invalid query: 'yesterday' is not a date (like 2026-01-31, 2026-01-31T12:00:00Z or -24h) (column 12)"),
    ({"field": ["id"], "query": "(level:error"},
     "Parse error at '' (column 13). This is commonly caused by unmatched parentheses. Enclose any text in "
     "double quotes."),
    ({"field": ["id"], "statsPeriod": "forever"}, "Invalid statsPeriod: 'forever'"),
])
def test_what_is_refused(params: dict[str, Any], detail: str) -> None:
    assert refused(**params) == detail
