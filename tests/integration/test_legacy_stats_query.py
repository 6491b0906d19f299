"""The legacy `/stats/` queries on real chdb: stat mapping, whole buckets, FINAL and exact series."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from picket.ingest.issues import EVENT_COLUMNS
from picket.stats.legacy import parse, response, select_keys, sql
from picket.store.client import Store
from picket.store.migrate import migrate
from picket.store.rollup import seal
from picket.store import rollups
from picket.store.rollups import write_outcomes

DAY = datetime(2024, 3, 9, tzinfo=timezone.utc)
DAY_TS = int(DAY.timestamp())
NOW = datetime(2024, 3, 10, 15, 30, tzinfo=timezone.utc)
H0, H1, H2 = DAY_TS, DAY_TS + 3600, DAY_TS + 7200


def at(hours: float) -> datetime:
    return (DAY + timedelta(hours=hours)).replace(tzinfo=None)


# org_id, project_id, key_id, timestamp, outcome, category, reason, quantity, dedupe_id
OUTCOMES = [
    (1, 10, 5, at(0.1), 0, 1, "", 1, "event:a"),  # before `since` but in its bucket: counted
    (1, 10, 5, at(0.1), 0, 1, "", 1, "event:a"),  # the same event again: counted once
    (1, 10, 5, at(1.2), 0, 0, "", 1, "event:b"),  # default is an error
    (1, 11, 6, at(1.9), 0, 3, "", 1, "event:c"),  # security is an error
    (1, 11, 6, at(2.5), 2, 1, "smart_rate_limit", 4, "outcomes:0:1"),
    (1, 10, 5, at(2.6), 1, 1, "browser-extensions", 2, "outcomes:0:2"),
    (1, 10, 5, at(1.5), 1, 0, "web-crawlers", 1, "outcomes:0:3"),
    (1, 10, 5, at(0.5), 3, 1, "project_id", 7, "outcomes:0:4"),  # invalid: never counted
    (1, 10, 5, at(0.6), 5, 1, "queue_overflow", 9, "outcomes:0:5"),  # client discard: never
    (1, 10, 5, at(0.7), 0, 2, "", 1, "event:t"),  # a transaction: not an event category
    (1, 10, 5, at(0.8), 0, 4, "", 100, "outcomes:0:6"),  # attachment bytes: neither
    (1, 10, 5, at(3.0), 0, 1, "", 1, "event:late"),  # the end of the last bucket: outside
    (1, 12, 7, at(1.0), 0, 1, "", 3, "outcomes:0:7"),  # a project the caller does not see
    (2, 20, 9, at(0.5), 0, 1, "", 50, "event:other-org"),
]


def event(project_id: int, event_id: str, hours: float, *, env: str = "prod", type_: str = "error",
          received_ms: int = 0) -> tuple[Any, ...]:
    ts = at(hours) + timedelta(milliseconds=123)
    return (project_id, event_id, 1, ts, ts + timedelta(milliseconds=received_ms), type_, "python", "error",
            "boom", "boom", "app", "", env, "", "", "", [], [], "h", 10, "{}")


EVENTS = [
    event(10, "e1", 0.2),
    event(10, "e2", 0.4),
    event(10, "e2", 0.4, received_ms=5),  # stored twice: one event
    event(10, "e3", 1.5, env="staging"),
    event(10, "t1", 1.0, type_="transaction"),
    event(11, "e4", 2.2),
    event(12, "e5", 2.2),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    # chdb serves one data directory per process: every test in this module shares it.
    s = Store(f"chdb:///{tmp_path_factory.mktemp('chdb') / 'ch'}", "legacy_test")
    migrate(s)
    write_outcomes(s, OUTCOMES)
    seal(s, rollups.OUTCOMES)  # every hour is long past: all of them read from the hourly rollup
    s.insert("error_events", EVENTS, EVENT_COLUMNS)
    yield s
    s.close()


# three hourly buckets: since 00:15 is inside the first, until 02:59:59 inside the last
WINDOW = {"since": str(DAY_TS + 900), "until": str(H2 + 3599)}


def run(store: Store, scope: str = "organization", projects: tuple[int, ...] = (10, 11),
        **params: str | list[str]) -> Any:
    lists = {k: v if isinstance(v, list) else [v] for k, v in {**WINDOW, **params}.items()}
    query = parse(lists, scope=scope, now=NOW)  # type: ignore[arg-type]
    keys = select_keys(query, org_id=1, project_ids=projects)
    text, bound = sql(query, keys)
    return response(query, store.query(text, bound), keys)


def test_organization_series(store: Store) -> None:
    assert run(store) == [[H0, 1], [H1, 6], [H2, 6]]  # project 12 included, org 2 not
    assert run(store, stat="rejected") == [[H0, 0], [H1, 0], [H2, 4]]
    assert run(store, stat="blacklisted") == [[H0, 0], [H1, 1], [H2, 2]]
    assert run(store, id="2") == []


def test_organization_by_project(store: Store) -> None:
    assert run(store, group="project") == {
        "10": [[H0, 1], [H1, 2], [H2, 2]],
        "11": [[H0, 0], [H1, 1], [H2, 4]],
    }
    assert run(store, group="project", projectID="11", stat="rejected") == {"11": [[H0, 0], [H1, 0], [H2, 4]]}
    assert run(store, group="project", id=["10", "12"], stat="generated") == {"10": [[H0, 2], [H1, 1], [H2, 0]]}
    assert run(store, group="project", projectID="99") == []


def test_project_stats(store: Store) -> None:
    assert run(store, "project", (10,)) == [[H0, 1], [H1, 2], [H2, 2]]
    assert run(store, "project", (10,), stat="browser-extensions") == [[H0, 0], [H1, 0], [H2, 2]]
    assert run(store, "project", (10,), stat="web-crawlers") == [[H0, 0], [H1, 1], [H2, 0]]
    assert run(store, "project", (10,), stat="generated") == [[H0, 2], [H1, 1], [H2, 0]]
    assert run(store, "project", (10,), stat="generated", environment="prod") == [[H0, 2], [H1, 0], [H2, 0]]


def test_team_counts_stored_events_whatever_the_stat(store: Store) -> None:
    assert run(store, "team", stat="rejected") == [[H0, 2], [H1, 1], [H2, 1]]
    assert run(store, "team", environment="prod") == [[H0, 2], [H1, 0], [H2, 1]]
    assert run(store, "team", projects=()) == []


def test_ten_second_and_daily_resolutions(store: Store) -> None:
    b = DAY_TS + 4320  # 01:12:00, event b
    assert run(store, "project", (10,), since=str(b - 20), until=str(b + 5)) == [
        [b - 20, 0], [b - 10, 0], [b, 1]]
    assert run(store, since=str(DAY_TS), until=str(DAY_TS + 86399), resolution="1d") == [[DAY_TS, 14]]
