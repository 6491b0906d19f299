"""The aggregate benchmark's pieces on a tiny data set: exact row counts, every query timed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from bench import aggregates
from picket.stats import stats_v2
from picket.store.client import Store
from picket.store import issues_read
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


# --- Discover and the issue list ---------------------------------------------------------------

EVENTS = 20_000
TRANSACTIONS = 20_000
ISSUES = 500


@pytest.fixture(scope="module")
def loaded_events(store: Store) -> aggregates.EventsLoadReport:
    return aggregates.load_events(store, events=EVENTS, transactions=TRANSACTIONS, issues=ISSUES, orgs=ORGS, now=NOW)


def test_the_event_loader_stores_events_issues_and_transactions(
        loaded_events: aggregates.EventsLoadReport, store: Store) -> None:
    rep = loaded_events
    assert (rep.events_final, rep.transactions_final) == (EVENTS, TRANSACTIONS)
    project = aggregates.issue_project()
    assert rep.project_id == project and rep.issues == ISSUES
    # a fifth of the events, and its share as one of the largest organization's projects
    assert round(EVENTS * aggregates.ISSUE_PROJECT_SHARE) < rep.project_events < 0.3 * EVENTS
    # One groups row, one hash and at least one status row per issue that has events, and no other.
    (issues, project_issues), = store.query(
        "SELECT uniqExact(project_id, group_id), uniqExactIf(group_id, project_id = {p:UInt64}) FROM {db}.error_events",
        {"p": project})
    assert project_issues == ISSUES
    assert rep.groups == rep.group_hashes == rep.status_groups == issues
    (mismatched,), = store.query(
        "SELECT count() FROM {db}.groups AS g INNER JOIN (SELECT project_id, group_id, min(timestamp) AS first,"
        " any(hash) AS h, count() AS n FROM {db}.error_events GROUP BY project_id, group_id) AS e"
        " ON e.project_id = g.project_id AND e.group_id = g.group_id"
        " WHERE g.first_seen != e.first OR g.hash != e.h")
    assert mismatched == 0
    (numbers,), = store.query(
        "SELECT groupArray(short_number) FROM (SELECT short_number FROM {db}.groups WHERE project_id = {p:UInt64}"
        " ORDER BY short_number)", {"p": project})
    assert numbers == list(range(1, ISSUES + 1))
    # Mostly unresolved, some resolved and ignored; skewed: the top issue has many events.
    assert sum(rep.statuses.values()) == ISSUES
    assert rep.statuses["unresolved"] > 0.7 * ISSUES and rep.statuses["resolved"] > 0 and rep.statuses["ignored"] > 0
    (top, median), = store.query(
        "SELECT max(n), median(n) FROM (SELECT count() AS n FROM {db}.error_events WHERE project_id = {p:UInt64}"
        " GROUP BY group_id)", {"p": project})
    assert top > 20 * median
    # Every organization's projects, 30 days before now; bodies are stored events.
    (orgs, oldest, newest), = store.query(
        "SELECT uniqExact(intDiv(project_id, 1000)), min(timestamp), max(timestamp) FROM {db}.error_events")
    assert orgs == ORGS
    assert (NOW - oldest.replace(tzinfo=timezone.utc)).days < aggregates.EVENT_DAYS < (NOW - oldest.replace(
        tzinfo=timezone.utc)).days + 2
    assert newest.replace(tzinfo=timezone.utc) < NOW
    stored = issues_read.events(store, [project], limit=5)
    assert len(stored) == 5 and all(e.event.project_id == project and e.event.title for e in stored)
    # Transactions: at most 200 names per project, mostly ok, positive durations.
    (names, ok, shortest), = store.query(
        "SELECT max(n), (SELECT countIf(status = 'ok') / count() FROM {db}.transactions),"
        " (SELECT min(duration) FROM {db}.transactions)"
        " FROM (SELECT uniqExact(transaction) AS n FROM {db}.transactions GROUP BY project_id)")
    assert 1 < names <= aggregates.TRANSACTION_NAMES and ok > 0.9 and shortest > 0


def test_discover_and_the_issue_list_are_timed_through_their_code(
        loaded_events: aggregates.EventsLoadReport, store: Store) -> None:
    timings = aggregates.run_event_queries(store, org=1, now=NOW, repeat=2)
    assert [(t.scope, t.name) for t in timings] == [
        ("one org", "discover errors 14d count() by title"), ("one org", "discover (default) 14d count() by title"),
        ("one org", "discover tx 14d p95(duration) by transaction"),
        ("one project", "issues is:unresolved, 25 + 24h stats")]
    for t in timings:
        assert len(t.ms) == 2 and 0 <= t.p50 <= t.p99 and t.target == aggregates.TARGET_EVENTS_MS
        assert t.rows > 0 and t.groups > 0, t.name
    assert all(name in aggregates.format_table(timings) for name in (t.name for t in timings))

    cases = aggregates.event_cases(org=1, now=NOW)
    # count() by title, on errors: a full page, biggest first, the counts of the stored events.
    _, body, _ = cases[0].run(store)
    data = body["data"]
    assert len(data) == aggregates.DISCOVER_PAGE
    assert [r["count()"] for r in data] == sorted((r["count()"] for r in data), reverse=True)
    (exact,), = store.query(
        "SELECT count() FROM {db}.error_events FINAL WHERE project_id IN {p:Array(UInt64)} AND title = {t:String}"
        " AND timestamp >= {s:DateTime64(3, 'UTC')}",
        {"p": aggregates._org_projects(1), "t": data[0]["title"], "s": cases[0].params["start"]})
    assert data[0]["count()"] == exact
    # The default dataset counts transactions by their name too; p95 by transaction, slowest first.
    assert len(cases[1].run(store)[1]["data"]) == aggregates.DISCOVER_PAGE
    tx = cases[2].run(store)[1]["data"]
    assert tx and all(r["p95(transaction.duration)"] > 0 and r["count()"] > 0 for r in tx)
    assert [r["p95(transaction.duration)"] for r in tx] == sorted(
        (r["p95(transaction.duration)"] for r in tx), reverse=True)


def test_the_issue_list_page_has_25_unresolved_issues_with_their_hourly_stats(
        loaded_events: aggregates.EventsLoadReport, store: Store) -> None:
    page = aggregates._issue_list_page(store, aggregates.issue_project())
    assert len(page) == aggregates.ISSUE_PAGE == 25
    assert all(g.status == "unresolved" and g.project_id == aggregates.issue_project() for g, _ in page)
    assert [g.last_seen for g, _ in page] == sorted((g.last_seen for g, _ in page), reverse=True)
    assert sum(sum(stats.values()) for _, stats in page) > 0  # the newest issues had events in the last 24 hours
    _, body, _ = aggregates.event_cases(org=1, now=NOW)[-1].run(store)
    assert len(body) == 25 and all(len(issue["stats"]["24h"]) == 24 and int(issue["count"]) >= 1 for issue in body)
