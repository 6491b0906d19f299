"""The aggregate benchmark's pieces on a tiny data set: exact row counts, every query timed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from bench import aggregates
from picket.stats import stats_v2
from picket.store.client import Store
from picket.store.migrate import migrate

NOW = datetime.now(timezone.utc).replace(microsecond=0)
OUTCOMES = 20_000
SESSIONS = 20_000
ORGS = 5


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    # chdb serves one data directory per process: every test in this module shares it.
    s = Store(f"chdb:///{tmp_path_factory.mktemp('bench') / 'ch'}", aggregates.DATABASE)
    migrate(s)
    yield s
    s.close()


@pytest.fixture(scope="module")
def loaded(store: Store) -> aggregates.LoadReport:
    return aggregates.load(store, outcomes=OUTCOMES, sessions=SESSIONS, orgs=ORGS, now=NOW)


def test_the_loader_stores_exactly_the_rows_asked_for(loaded: aggregates.LoadReport, store: Store) -> None:
    assert (loaded.outcomes_final, loaded.sessions_final) == (OUTCOMES, SESSIONS)
    assert loaded.outcomes_seconds >= 0 and loaded.sessions_seconds >= 0
    # every org and project in range, timestamps within the 90 days before now
    (orgs, projects, oldest, newest), = store.query(
        "SELECT uniqExact(org_id), uniqExact(project_id), min(timestamp), max(timestamp) FROM {db}.outcomes_raw")
    assert (orgs, projects) == (ORGS, ORGS * aggregates.PROJECTS_PER_ORG)
    assert (NOW - oldest.replace(tzinfo=timezone.utc)).days < aggregates.DAYS
    assert newest.replace(tzinfo=timezone.utc) < NOW
    # sessions: 1 to 3 updates per session id, a tenth are aggregate rows
    (max_updates, aggregate_rows), = store.query(
        "SELECT (SELECT max(c) FROM (SELECT count() AS c FROM {db}.sessions WHERE aggregate = 0"
        " GROUP BY project_id, session_id)), countIf(aggregate = 1) FROM {db}.sessions")
    assert max_updates == 3 and aggregate_rows == SESSIONS // 10


def test_every_query_is_timed_through_the_builders(loaded: aggregates.LoadReport, store: Store) -> None:
    timings = aggregates.run_queries(store, org=1, orgs=ORGS, now=NOW, repeat=2)

    names = {(t.scope, t.name) for t in timings}
    expected = {(scope, name) for scope in ("one org", "all orgs") for name in (
        "stats_v2 14d 1h by category", "stats_v2 90d 1d error by project",
        "sessions 14d 1d crash_free by release")}
    assert names == expected
    for t in timings:
        assert len(t.ms) == len(t.query_ms) == 2
        assert all(ms >= 0 for ms in t.ms + t.query_ms)
        assert 0 <= t.p50 <= t.p99 <= max(t.ms)
        assert t.rows > 0 and t.groups > 0, t.name  # the queries see the generated data
    table = aggregates.format_table(timings)
    assert all(t.name in table for t in timings)


def test_all_orgs_sql_is_the_builder_sql_without_the_org_condition() -> None:
    one, every = aggregates.cases(org=1, orgs=ORGS, now=NOW)[:3], aggregates.cases(org=1, orgs=ORGS, now=NOW)[3:]
    for a, b in zip(one, every):
        assert aggregates.ORG_CONDITION in a.sql and aggregates.ORG_CONDITION not in b.sql


def test_the_loaded_rollup_answers_like_the_exact_store(loaded: aggregates.LoadReport, store: Store) -> None:
    """After the loader's sealing pass, stats_v2 (rollup + recent rows) gives the exact store's numbers."""
    assert loaded.sealed_hours >= 24 * (aggregates.DAYS - 1)
    q = stats_v2.parse(aggregates.STATS_HOURLY, org_id=1, accessible_project_ids=[], now=NOW)
    text, params = stats_v2.sql(q)
    body = stats_v2.response(q, store.query(text, params))
    served = {g["by"]["category"]: g["totals"]["sum(quantity)"] for g in body["groups"]}
    exact = store.query(
        "SELECT category, sum(quantity) FROM {db}.outcomes_raw FINAL WHERE org_id = 1"
        " AND timestamp >= {start:DateTime('UTC')} AND timestamp < {end:DateTime('UTC')} GROUP BY category",
        {"start": q.start.replace(tzinfo=None), "end": q.end.replace(tzinfo=None)})
    expected: dict[str, int] = {}
    for category, quantity in exact:
        name = stats_v2.render_category(category)
        expected[name] = expected.get(name, 0) + quantity
    assert served == expected and sum(served.values()) > 0
