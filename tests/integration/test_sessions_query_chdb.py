"""The sessions query on real ClickHouse (embedded chdb): rows written the way the sessions consumer
writes them (`process_session_item`), queried with `sql()` and rendered with `response()`.

A session sent as three updates (init ok → ok → crashed) counts once, as crashed; replayed updates
count once; users are distinct non-nil distinct ids; pre-aggregated `sessions` items add their
counts; durations come only from exited sessions. Every test runs twice: on the sessions reduced
one by one, and on the hourly rollup (every hour sealed) — both must give the same answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest

from picket.schemas.ingest import IngestItem
from picket.ingest.sessions import COLUMNS, process_session_item
from picket.stats.sessions import SessionsQuery, parse, response, sql
from picket.store.client import Store
from picket.store.migrate import migrate
from picket.store.rollup import seal
from picket.store.rollups import SESSIONS

NOW = datetime(2024, 5, 2, 12, 27, 28, tzinfo=timezone.utc)
RECEIVED = datetime(2024, 5, 2, 12, 0, tzinfo=timezone.utc)
ORG, PROJECT, OTHER_PROJECT = 1, 10, 99
NIL = "00000000-0000-0000-0000-000000000000"
HOUR_09, HOUR_10, HOUR_11 = 21, 22, 23  # interval indexes of 09:00, 10:00, 11:00 on 2024-05-02


def _item(item_type: str, body: dict[str, Any], project_id: int = PROJECT) -> IngestItem:
    return IngestItem(item_type=item_type, project_id=project_id, org_id=ORG, key_id=1, received=RECEIVED,
                      payload=msgspec.json.encode(body))


def _update(sid: str, seq: int, status: str, started: str, *, did: str | None = None, errors: int = 0,
            duration: float | None = None, release: str = "1.0", project_id: int = PROJECT) -> list[tuple]:
    body: dict[str, Any] = {
        "sid": sid, "seq": seq, "init": seq == 0, "status": status, "errors": errors,
        "started": started, "timestamp": started, "attrs": {"release": release, "environment": "production"},
    }
    if did is not None:
        body["did"] = did
    if duration is not None:
        body["duration"] = duration
    out = process_session_item(_item("session", body, project_id), "ingest-sessions/0/1")
    assert len(out.rows) == 1
    return out.rows


@pytest.fixture(scope="module", params=["per-session", "sealed"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    # chdb allows one data directory per process at a time: each parameter has its own in turn
    s = Store(f"chdb:///{tmp_path_factory.mktemp('sessions')}/ch", "sessions_test")
    migrate(s)
    # a: three updates, the last one crashed — one crashed session of user u1
    s.insert("sessions", _update("a", 0, "ok", "2024-05-02T10:05:00Z", did="u1"), COLUMNS)
    s.insert("sessions", _update("a", 1, "ok", "2024-05-02T10:05:00Z", did="u1"), COLUMNS)
    s.insert("sessions", _update("a", 2, "crashed", "2024-05-02T10:05:00Z", did="u1"), COLUMNS)
    s.insert("sessions", _update("a", 2, "crashed", "2024-05-02T10:05:00Z", did="u1"), COLUMNS)  # replayed
    # u2: a healthy exited session (10s) and one that exited with an error (30s)
    s.insert("sessions", _update("b", 0, "exited", "2024-05-02T10:20:00Z", did="u2", duration=10.0), COLUMNS)
    s.insert("sessions", _update("c", 0, "ok", "2024-05-02T11:00:00Z", did="u2"), COLUMNS)
    s.insert("sessions", _update("c", 1, "exited", "2024-05-02T11:00:00Z", did="u2", errors=1, duration=30.0),
             COLUMNS)
    # no user, and the nil user: sessions but not users
    s.insert("sessions", _update("d", 0, "exited", "2024-05-02T11:30:00Z", duration=20.0), COLUMNS)
    s.insert("sessions", _update("e", 0, "exited", "2024-05-02T09:15:00Z", did=NIL, duration=40.0,
                                     release="2.0"), COLUMNS)
    # outside the range, and in a project the caller does not see
    s.insert("sessions", _update("old", 0, "crashed", "2024-04-20T10:00:00Z", did="u9"), COLUMNS)
    s.insert("sessions", _update("x", 0, "crashed", "2024-05-02T10:00:00Z", did="u9",
                                     project_id=OTHER_PROJECT), COLUMNS)
    # pre-aggregated sessions: 3 at 10:00 (u3, one crashed), 5 at 11:00 (one errored)
    aggregates = process_session_item(_item("sessions", {
        "attrs": {"release": "1.0", "environment": "production"},
        "aggregates": [
            {"started": "2024-05-02T10:00:00Z", "did": "u3", "exited": 2, "crashed": 1},
            {"started": "2024-05-02T11:00:00Z", "exited": 4, "errored": 1},
        ],
    }), "ingest-sessions/0/2")
    s.insert("sessions", aggregates.rows, COLUMNS)
    s.insert("sessions", aggregates.rows, COLUMNS)  # the message replayed: its rows count once
    if request.param == "sealed":
        assert seal(s, SESSIONS)  # every hour is long past
        # the 13 sessions in range, 'old' and 'x' (another project)
        assert s.query("SELECT sum(sessions) FROM {db}.sessions_hourly")[0][0] == 15
    yield s
    s.close()


def _query(**params: Any) -> SessionsQuery:
    raw = {"statsPeriod": ["1d"], "interval": ["1h"]}
    raw.update({k: v if isinstance(v, list) else [v] for k, v in params.items()})
    return parse(raw, org_id=ORG, accessible_project_ids=[PROJECT], now=NOW)


def _run(store: Store, q: SessionsQuery) -> dict[str, Any]:
    text, params = sql(q)
    return response(q, store.query(text, params))


def test_totals_and_series_count_each_session_once(store: Store):
    q = _query(field=["sum(session)", "count_unique(user)", "crash_free_rate(session)", "crash_free_rate(user)",
                      "p50(session.duration)", "max(session.duration)"])
    body = _run(store, q)
    assert body["start"] == "2024-05-01T12:00:00Z" and body["end"] == "2024-05-02T13:00:00Z"
    assert len(body["intervals"]) == 25
    [group] = body["groups"]
    assert group["by"] == {}
    # a, b, c, d, e + 3 + 5 aggregated; crashed: a and one aggregated
    assert group["totals"] == {
        "sum(session)": 13,
        "count_unique(user)": 3,  # u1, u2, u3
        "crash_free_rate(session)": 1 - 2 / 13,
        "crash_free_rate(user)": 1 - 2 / 3,  # u1 and u3 crashed
        "p50(session.duration)": 25000.0,  # exited b, c, d, e: 10, 20, 30, 40 s
        "max(session.duration)": 40000.0,
    }
    series = group["series"]
    assert {i: v for i, v in enumerate(series["sum(session)"]) if v} == {HOUR_09: 1, HOUR_10: 5, HOUR_11: 7}
    assert {i: v for i, v in enumerate(series["count_unique(user)"]) if v} == {HOUR_10: 3, HOUR_11: 1}
    assert series["crash_free_rate(session)"][HOUR_10] == 1 - 2 / 5
    assert series["crash_free_rate(session)"][HOUR_11] == 1.0
    assert series["crash_free_rate(user)"][HOUR_09] is None  # sessions, but no user
    assert series["crash_free_rate(session)"][0] is None
    assert series["p50(session.duration)"][HOUR_10] == 10000.0  # a crashed: only b
    assert series["p50(session.duration)"][HOUR_11] == 25000.0


def test_grouped_by_release_and_status(store: Store):
    q = _query(field=["sum(session)", "p50(session.duration)"], groupBy="release")
    assert [(g["by"], g["totals"]) for g in _run(store, q)["groups"]] == [
        ({"release": "1.0"}, {"sum(session)": 12, "p50(session.duration)": 20000.0}),
        ({"release": "2.0"}, {"sum(session)": 1, "p50(session.duration)": 40000.0}),
    ]

    q = _query(field=["sum(session)", "count_unique(user)"], groupBy="session.status")
    assert [(g["by"]["session.status"], g["totals"]) for g in _run(store, q)["groups"]] == [
        ("abnormal", {"sum(session)": 0, "count_unique(user)": 0}),
        ("crashed", {"sum(session)": 2, "count_unique(user)": 2}),
        ("errored", {"sum(session)": 2, "count_unique(user)": 1}),  # c (u2) and one aggregated
        ("healthy", {"sum(session)": 9, "count_unique(user)": 0}),  # every user had a bad session
    ]


def test_filters_and_order(store: Store):
    q = _query(field="sum(session)", query='release:"2.0" OR release:"3.0"')
    assert _run(store, q)["groups"][0]["totals"] == {"sum(session)": 1}
    q = _query(field="sum(session)", query="!release:2.0", environment="production")
    assert _run(store, q)["groups"][0]["totals"] == {"sum(session)": 12}
    q = _query(field="sum(session)", environment="staging")
    assert _run(store, q)["groups"][0]["totals"] == {"sum(session)": 0}
    q = _query(field="sum(session)", query="session.status:crashed", groupBy="release", orderBy="sum(session)")
    assert [(g["by"], g["totals"]) for g in _run(store, q)["groups"]] == [
        ({"release": "2.0"}, {"sum(session)": 0}),
        ({"release": "1.0"}, {"sum(session)": 2}),
    ]
