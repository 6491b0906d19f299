"""The stats_v2 query on real chdb: buckets, FINAL de-duplication, filters and Sentry's numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from picket.stats.stats_v2 import parse, response, sql
from picket.store.client import Store
from picket.store.migrate import migrate
from picket.store.rollup import seal
from picket.store.rollups import OUTCOMES, write_outcomes

DAY = datetime(2024, 3, 9, tzinfo=timezone.utc)
NOW = datetime(2024, 3, 10, 15, 30, tzinfo=timezone.utc)


def at(hours: float) -> datetime:
    return (DAY + timedelta(hours=hours)).replace(tzinfo=None)


# org_id, project_id, key_id, timestamp, outcome, category, reason, quantity, dedupe_id
ROWS = [
    (1, 10, 5, at(0.5), 0, 1, "", 1, "event:a"),
    (1, 10, 5, at(0.5), 0, 1, "", 1, "event:a"),  # the same event again: counted once
    (1, 10, 5, at(1.2), 0, 0, "", 1, "event:b"),  # default → error
    (1, 11, 6, at(1.9), 0, 3, "", 1, "event:c"),  # security → error
    (1, 11, 6, at(3.0), 2, 1, "smart_rate_limit", 4, "outcomes:0:7"),
    (1, 10, 5, at(2.0), 0, 2, "", 1, "event:t1"),
    (1, 10, 5, at(2.5), 0, 4, "", 2048, "outcomes:0:8"),  # attachment bytes
    (1, 10, 5, at(2.6), 0, 4, "", 1024, "outcomes:0:9"),
    (1, 10, 5, at(4.0), 0, 1, "", 1, "event:late"),  # at the end: outside [start, end)
    (1, 10, 5, at(-0.1), 0, 1, "", 1, "event:early"),  # before the start
    (2, 20, 9, at(0.5), 0, 1, "", 50, "event:other-org"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    # chdb serves one data directory per process: every test in this module shares it.
    s = Store(f"chdb:///{tmp_path_factory.mktemp('chdb') / 'ch'}", "stats_test")
    migrate(s)
    write_outcomes(s, ROWS)
    seal(s, OUTCOMES)  # every hour is long past: all of them read from the hourly rollup
    yield s
    s.close()


def run(store: Store, **params: str | list[str]) -> dict:
    lists = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    query = parse(lists, org_id=1, accessible_project_ids=[10, 11], now=NOW)
    text, bound = sql(query)
    return response(query, store.query(text, bound))


WINDOW = {"start": "2024-03-09T00:00:00Z", "end": "2024-03-09T04:00:00Z", "interval": "1h"}


def test_errors_by_outcome(store: Store) -> None:
    body = run(store, field=["sum(quantity)", "sum(times_seen)"], groupBy="outcome", category="error", **WINDOW)
    assert body == {
        "start": "2024-03-09T00:00:00Z",
        "end": "2024-03-09T04:00:00Z",
        "intervals": ["2024-03-09T00:00:00Z", "2024-03-09T01:00:00Z", "2024-03-09T02:00:00Z", "2024-03-09T03:00:00Z"],
        "groups": [
            {"by": {"outcome": "accepted"}, "totals": {"sum(quantity)": 3, "sum(times_seen)": 3},
             "series": {"sum(quantity)": [1, 2, 0, 0], "sum(times_seen)": [1, 2, 0, 0]}},
            {"by": {"outcome": "rate_limited"}, "totals": {"sum(quantity)": 4, "sum(times_seen)": 1},
             "series": {"sum(quantity)": [0, 0, 0, 4], "sum(times_seen)": [0, 0, 0, 1]}},
        ],
    }


def test_by_category_in_two_hour_buckets(store: Store) -> None:
    body = run(store, field="sum(quantity)", groupBy="category", outcome="accepted",
               start="2024-03-09T00:00:00Z", end="2024-03-09T04:00:00Z", interval="2h")
    assert body["intervals"] == ["2024-03-09T00:00:00Z", "2024-03-09T02:00:00Z"]
    assert {g["by"]["category"]: g["series"]["sum(quantity)"] for g in body["groups"]} == {
        "attachment": [0, 3072], "error": [3, 0], "transaction": [0, 1]}


def test_attachments_count_bytes_and_items(store: Store) -> None:
    body = run(store, field=["sum(quantity)", "sum(times_seen)"], category="attachment", **WINDOW)
    assert body["groups"] == [{"by": {}, "totals": {"sum(quantity)": 3072, "sum(times_seen)": 2},
                               "series": {"sum(quantity)": [0, 0, 3072, 0], "sum(times_seen)": [0, 0, 2, 0]}}]


def test_by_project_and_reason_filter(store: Store) -> None:
    body = run(store, field="sum(quantity)", groupBy=["project", "reason"], category="error", **WINDOW)
    assert body["groups"] == [
        {"by": {"project": 10, "reason": "none"}, "totals": {"sum(quantity)": 2}},
        {"by": {"project": 11, "reason": "none"}, "totals": {"sum(quantity)": 1}},
        {"by": {"project": 11, "reason": "spike_protection"}, "totals": {"sum(quantity)": 4}},
    ]
    body = run(store, field="sum(quantity)", groupBy="reason", category="error", reason="spike_protection",
               project="11", key_id="6", **WINDOW)
    assert [(g["by"], g["totals"]) for g in body["groups"]] == [
        ({"reason": "spike_protection"}, {"sum(quantity)": 4})]
    body = run(store, field="sum(quantity)", groupBy="outcome", category="error", project="10", **WINDOW)
    assert [(g["by"], g["totals"]) for g in body["groups"]] == [({"outcome": "accepted"}, {"sum(quantity)": 2})]


@pytest.mark.parametrize("start, end", [("0999-01-01T00:00:00Z", "0999-01-01T00:00:01Z"),
                                        ("1969-12-31T00:00:00Z", "1970-01-01T02:00:00Z")])
def test_a_period_beyond_what_clickhouse_dates_hold_counts_nothing(store: Store, start: str, end: str) -> None:
    """Dates ClickHouse's DateTime cannot hold (found by the fuzz test: a 500) read as its edge:
    no outcome lies there, so the answer is the period's intervals, all zero."""
    body = run(store, field="sum(quantity)", groupBy="outcome", category="error", start=start, end=end, interval="1h")
    assert body["start"].startswith(start[:4])
    assert all(v == 0 for g in body["groups"] for v in g["series"]["sum(quantity)"])
    assert all(g["totals"]["sum(quantity)"] == 0 for g in body["groups"])
