"""The hourly rollups on real chdb. Outcomes: sealed hours and recent rows answer together, each
outcome counts once (also a retry received in a later hour), late rows reach sealed hours through
a reseal, and sealing twice changes nothing. Sessions: sealed hours and running sessions count
once, and a late update changes a sealed hour after its reseal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from picket.ingest.sessions import COLUMNS as SESSION_COLUMNS
from picket.stats import sessions as sessions_api
from picket.stats.stats_v2 import parse, response, sql
from picket.store.client import Store
from picket.store.migrate import migrate
from picket.store.rollup import GRACE, HOUR, horizon, seal
from picket.store.rollups import OUTCOMES, SESSIONS, write_outcomes, write_sessions



class Clock:
    """The time the module's data is placed around: set when the module's tests start (not at
    import, which can be many minutes earlier in a full run)."""

    now = datetime.now(timezone.utc)
    hour = now.replace(minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module", autouse=True)
def clock() -> None:
    Clock.now = datetime.now(timezone.utc)
    if Clock.now.minute == 59 and Clock.now.second > 30:  # the tests must not straddle an hour
        time.sleep(61 - Clock.now.second)
        Clock.now = datetime.now(timezone.utc)
    Clock.hour = Clock.now.replace(minute=0, second=0, microsecond=0)


def at(hours_ago: int, minute: int = 10) -> datetime:
    """A time in the hour that began `hours_ago` hours before the current one (naive UTC)."""
    return (Clock.hour - timedelta(hours=hours_ago) + timedelta(minutes=minute)).replace(tzinfo=None)


def row(when: datetime, dedupe: str, *, org: int = 1, category: int = 1, quantity: int = 1) -> tuple:
    # org_id, project_id, key_id, timestamp, outcome (accepted), category, reason, quantity, dedupe_id
    return (org, 10, 5, when, 0, category, "", quantity, dedupe)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(f"chdb:///{tmp_path_factory.mktemp('rollup') / 'ch'}", "rollup_test")
    migrate(s)
    yield s
    s.close()


def errors_per_hour(store: Store, **extra: str) -> dict[int, int]:
    """stats_v2 accepted errors of org 1 over the last day, hourly: {hours ago: count}."""
    params = {"field": ["sum(quantity)"], "category": ["error"], "statsPeriod": ["1d"], "interval": ["1h"],
              **{k: [v] for k, v in extra.items()}}
    q = parse(params, org_id=1, accessible_project_ids=[10], now=Clock.now)
    text, bound = sql(q)
    body = response(q, store.query(text, bound))
    series = body["groups"][0]["series"]["sum(quantity)"] if body["groups"] else []
    starts = [datetime.fromisoformat(i.replace("Z", "+00:00")) for i in body["intervals"]]
    return {int((Clock.hour - s) / timedelta(hours=1)): n for s, n in zip(starts, series) if n}


def sealed_hours(store: Store) -> set[int]:
    rows = store.query("SELECT DISTINCT hour FROM {db}.outcome_seals")
    return {int((Clock.hour - r[0].replace(tzinfo=timezone.utc)) / timedelta(hours=1)) for r in rows}


def test_sealed_and_recent_hours_count_each_outcome_once(store: Store) -> None:
    write_outcomes(store, [
        row(at(5), "event:a"),
        row(at(5, 40), "event:a"),  # a copy in the same hour
        row(at(4), "event:a"),  # a retry received an hour later: still counted in hour -5 only
        row(at(4), "event:b", quantity=1),
        row(at(3), "outcomes:0:1", quantity=7),
        row(at(3), "event:other-org", org=2),
        row(at(0, 0), "event:now"),  # the current hour: recent rows
        row(at(0, 0), "event:now"),
    ])
    sealed = seal(store, OUTCOMES)
    assert len(sealed) >= 4 and sealed_hours(store) >= {5, 4, 3, 2}  # hour -1 too after minute 5
    assert 0 not in sealed_hours(store)
    assert errors_per_hour(store) == {5: 1, 4: 1, 3: 7, 0: 1}
    # The rollup holds exactly the sealed hours' groups, once each.
    rollup = store.query("SELECT toStartOfHour(hour), sum(quantity), sum(times_seen) FROM {db}.outcomes_hourly"
                         " WHERE org_id = 1 GROUP BY 1 ORDER BY 1")
    assert [(q, n) for _, q, n in rollup] == [(1, 1), (1, 1), (7, 1)]


def test_a_second_seal_changes_nothing(store: Store) -> None:
    before = errors_per_hour(store)
    assert seal(store, OUTCOMES) == []  # nothing new is due, nothing dirty
    assert errors_per_hour(store) == before


def test_a_late_row_for_a_sealed_hour_is_counted_after_the_reseal(store: Store) -> None:
    write_outcomes(store, [row(at(3, 30), "outcomes:0:2", quantity=2), row(at(3, 31), "event:a")])
    # Until the reseal the hour answers from its sealed version (the late rows are not lost:
    # they are in the exact store and the hour is marked).
    assert errors_per_hour(store)[3] == 7
    assert store.query("SELECT count() FROM {db}.outcome_dirty_hours")[0][0] >= 1
    resealed = seal(store, OUTCOMES)
    assert [int((Clock.hour - h) / timedelta(hours=1)) for h in resealed] == [3]
    # +2 from the late message; the late copy of event:a stays counted in hour -5.
    assert errors_per_hour(store) == {5: 1, 4: 1, 3: 9, 0: 1}


def test_the_exact_store_agrees_with_the_rollup(store: Store) -> None:
    """A 5-minute interval (not whole hours) reads the exact store: same totals."""
    params = {"field": ["sum(quantity)"], "category": ["error"], "statsPeriod": ["6h"], "interval": ["5m"]}
    q = parse(params, org_id=1, accessible_project_ids=[10], now=Clock.now)
    text, bound = sql(q)
    assert "outcomes_raw" in text and "outcomes_hourly" not in text
    fine = response(q, store.query(text, bound))
    assert fine["groups"][0]["totals"]["sum(quantity)"] == 1 + 1 + 9 + 1


def test_grouped_by_project_reads_the_rollup_too(store: Store) -> None:
    params = {"field": ["sum(quantity)", "sum(times_seen)"], "category": ["error"], "groupBy": ["project"],
              "statsPeriod": ["1d"], "interval": ["1h"]}
    q = parse(params, org_id=1, accessible_project_ids=[10], now=Clock.now)
    text, bound = sql(q)
    assert "outcomes_hourly" in text
    body = response(q, store.query(text, bound))
    assert body["groups"] == [{"by": {"project": 10}, "totals": {"sum(quantity)": 12, "sum(times_seen)": 5}}]


# --- sessions -------------------------------------------------------------------------------------


def session(sid: str, seq: int, status: str, started: datetime, user: str) -> tuple:
    values = {
        "org_id": 1, "project_id": 10, "session_id": sid, "seq": seq, "distinct_id": user, "init": int(seq == 0),
        "status": status, "errors": 0, "started": started, "timestamp": started, "duration": None,
        "release": "app@1", "environment": "production", "quantity": 0, "exited": 0, "errored": 0,
        "abnormal": 0, "crashed": 0, "aggregate": 0, "received": started,
    }
    return tuple(values[c] for c in SESSION_COLUMNS)


def release_health(store: Store) -> dict[str, object]:
    """Totals of the last day, read both ways: the query finding the horizon itself (with the
    per-session part after it), and given a fresh horizon past now (the rollup alone)."""
    params = {"field": ["sum(session)", "count_unique(user)", "crash_free_rate(session)"],
              "statsPeriod": ["1d"], "interval": ["1h"]}
    q = sessions_api.parse(params, org_id=1, accessible_project_ids=[10], now=Clock.now)
    text, bound = sessions_api.sql(q)
    found = sessions_api.response(q, store.query(text, bound))["groups"][0]["totals"]
    fresh = horizon(store, SESSIONS)
    assert fresh > datetime.now(timezone.utc)  # live: sealed up to the current hour
    text, bound = sessions_api.sql(q, horizon=fresh, now=datetime.now(timezone.utc))
    assert "argMax(status" not in text  # no per-session reduction left
    assert sessions_api.response(q, store.query(text, bound))["groups"][0]["totals"] == found
    return found


def test_sessions_sealed_and_running_count_once_and_late_updates_reseal(store: Store) -> None:
    write_sessions(store, [
        session("s1", 0, "ok", at(3), "ann"),
        session("s1", 1, "exited", at(3), "ann"),
        session("s2", 0, "ok", at(3), "bob"),
        session("s3", 0, "ok", at(0, 0), "ann"),  # started this hour: the live rollup has it too
    ])
    assert {3, 2} <= {int((Clock.hour - h) / timedelta(hours=1)) for h in seal(store, SESSIONS)}
    assert release_health(store) == {"sum(session)": 3, "count_unique(user)": 2, "crash_free_rate(session)": 1.0}
    # s2 crashes hours after it started: its hour is sealed, so the update marks it dirty
    write_sessions(store, [session("s2", 1, "crashed", at(3), "bob")])
    assert release_health(store)["crash_free_rate(session)"] == 1.0  # the sealed version, until resealed
    resealed = {int((Clock.hour - h) / timedelta(hours=1)) for h in seal(store, SESSIONS)}
    # Besides it, only the hours still open: the current one and the last, or the one before
    # too while the last ended less than GRACE ago.
    oldest_open = (datetime.now(timezone.utc) - HOUR - GRACE).replace(minute=0, second=0, microsecond=0)
    assert 3 in resealed and resealed - {3} <= set(range(int((Clock.hour - oldest_open) / HOUR) + 1))
    assert release_health(store) == {"sum(session)": 3, "count_unique(user)": 2,
                                     "crash_free_rate(session)": 1 - 1 / 3}  # computed as 1 - crash rate
