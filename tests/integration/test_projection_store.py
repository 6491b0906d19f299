"""The ClickHouse projection (real chdb): migrations, idempotent writes, versioned reads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from picket.schemas import events as e
from picket.schemas.entities import Team
from picket.schemas.topics import TENANCY_LOG
from picket.ingest import outcome_rows, sessions
from picket.ingest.issues import EVENT_COLUMNS
from picket.store import entities, event_log
from picket.store.client import Store
from picket.store.migrate import applied, load_migrations, migrate, rollback
from picket.tenancy.project import project

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    # chdb serves one data directory per process: every test in this module shares it.
    s = Store(f"chdb:///{tmp_path_factory.mktemp('chdb') / 'ch'}", "projection_test")
    migrate(s)
    yield s
    s.close()


def _team_event(kind: type, version: int, slug: str, team_id: int = 7) -> e.TeamCreated:
    meta = e.EventMeta(event_id=f"c{version}:0", aggregate="org:1", version=version, timestamp=T0, command_id=f"c{version}")
    return kind(meta=meta, team=Team(id=team_id, org_id=1, slug=slug, name=slug, date_created=T0))


def test_migrations_are_recorded_and_idempotent(store: Store) -> None:
    assert applied(store) == {m.number for m in load_migrations()}
    assert migrate(store) == [], "a second start applies nothing"


def test_projecting_an_event_twice_leaves_one_row(store: Store) -> None:
    created = _team_event(e.TeamCreated, 1, "twice", team_id=11)
    entities.write_rows(store, project(created))
    entities.write_rows(store, project(created))
    rows = store.query("SELECT count() FROM {db}.entities FINAL WHERE kind = 'team' AND id = 11")
    assert rows == [(1,)]
    assert [t.slug for t in entities.select(store, "team", org_id=1, id=11)] == ["twice"]


def test_newest_version_wins_whatever_the_arrival_order(store: Store) -> None:
    v2 = _team_event(e.TeamUpdated, 2, "renamed", team_id=12)
    v1 = _team_event(e.TeamCreated, 1, "original", team_id=12)
    entities.write_rows(store, project(v2))
    entities.write_rows(store, project(v1))  # a late replay of the older event
    assert [t.slug for t in entities.select(store, "team", org_id=1, id=12)] == ["renamed"]


def test_a_deletion_hides_the_record_at_once(store: Store) -> None:
    entities.write_rows(store, project(_team_event(e.TeamCreated, 1, "doomed", team_id=13)))
    entities.write_rows(store, project(_team_event(e.TeamDeletionScheduled, 2, "doomed", team_id=13)))
    assert entities.select(store, "team", org_id=1, id=13) == []
    assert entities.first(store, "team", org_id=1, slug="doomed") is None


def test_event_log_reads_each_version_once_in_order(store: Store) -> None:
    events = [_team_event(e.TeamCreated, 1, "a", 20), _team_event(e.TeamUpdated, 2, "b", 20)]
    rows = [event_log.event_row(ev, TENANCY_LOG.encode(ev)) for ev in events]
    event_log.append(store, rows)
    event_log.append(store, rows[1:])  # archived twice
    assert event_log.read_aggregate(store, "org:1") == [TENANCY_LOG.encode(ev) for ev in events]


def test_rollback_undoes_and_migrate_reapplies(store: Store) -> None:
    last = max(m.number for m in load_migrations())
    assert rollback(store, last - 1) == [last]
    assert last not in applied(store)
    assert migrate(store) == [last]


def test_migrations_that_replace_a_table_move_its_rows(store: Store) -> None:
    """6 and 7 replace `outcomes` and `sessions_raw` by tables ordered for the aggregate queries:
    the rows stored before survive the upgrade (and a downgrade moves them back)."""
    rollback(store, 5)
    at = datetime(2026, 1, 2, 3, 4, 5)
    store.insert("outcomes", [(1, 2, 3, at, 0, 1, "", 1, "event:kept")], outcome_rows.COLUMNS)
    session = dict.fromkeys(sessions.COLUMNS, 0) | {
        "session_id": "kept", "distinct_id": "", "status": "exited", "started": at, "timestamp": at,
        "duration": None, "release": "r", "environment": "e", "received": at}
    store.insert("sessions_raw", [tuple(session[c] for c in sessions.COLUMNS)], sessions.COLUMNS)
    assert migrate(store) == list(range(6, max(m.number for m in load_migrations()) + 1))
    assert store.query("SELECT dedupe_id FROM {db}.outcomes_raw WHERE dedupe_id = 'event:kept'") == [("event:kept",)]
    assert store.query("SELECT count() FROM {db}.sessions WHERE session_id = 'kept'") == [(1,)]
    # 9 fills what each project received from the rows already there (the kept session's project: 0).
    assert store.query("SELECT max(has_sessions) FROM {db}.project_activity WHERE project_id = 0") == [(1,)]
    tables = {r[0] for r in store.query("SELECT name FROM system.tables WHERE database = {d:String}",
                                        {"d": store.database})}
    assert not {"outcomes", "sessions_raw"} & tables


def _event(event_id: str, at: datetime, received: datetime, project_id: int = 3) -> tuple:
    row = dict.fromkeys(EVENT_COLUMNS, "") | {
        "project_id": project_id, "event_id": event_id, "group_id": 30, "timestamp": at, "received": received,
        "tags_key": [], "tags_value": [], "size": 1, "environment": "prod"}
    return tuple(row[c] for c in EVENT_COLUMNS)


def test_migration_13_moves_events_into_the_table_keyed_by_time_and_may_run_twice(store: Store) -> None:
    """The events stored before 13 are in `error_events` after it (a redelivered one still once),
    `events` is gone, the views over the new table keep first/last seen and recent events, and
    running its statements again (a start that died before recording it) loses nothing."""
    rollback(store, 12)
    at = datetime(2026, 1, 5, 6, 7, 8)
    store.insert("events", [_event("a" * 32, at, at), _event("b" * 32, at, at)], EVENT_COLUMNS)
    store.insert("events", [_event("a" * 32, at, datetime(2026, 1, 5, 6, 8))], EVENT_COLUMNS)  # redelivered
    assert migrate(store)[0] == 13  # and those after it
    ids = "SELECT event_id FROM {db}.error_events FINAL WHERE project_id = 3 ORDER BY event_id"
    assert store.query(ids) == [("a" * 32,), ("b" * 32,)]
    (m13,) = [m for m in load_migrations() if m.number == 13]
    for sql in m13.up:
        store.command(sql)
    assert store.query(ids) == [("a" * 32,), ("b" * 32,)]
    tables = {r[0] for r in store.query("SELECT name FROM system.tables WHERE database = {d:String}",
                                        {"d": store.database})}
    assert "events" not in tables and not {"group_seen_mv", "events_recent_mv", "project_activity_events"} & tables
    views = store.query("SELECT name, as_select FROM system.tables WHERE database = {d:String}"
                        " AND engine = 'MaterializedView'", {"d": store.database})
    assert not [name for name, select in views if re.search(r"\.events\b", select)], "no view reads `events`"
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    store.insert("error_events", [_event("c" * 32, now, now)], EVENT_COLUMNS)
    assert store.query("SELECT max(last_seen) FROM {db}.group_seen WHERE project_id = 3 AND group_id = 30") \
        == [(now,)]
    assert store.query("SELECT event_id FROM {db}.events_recent WHERE project_id = 3") == [("c" * 32,)]
    store.insert("error_events", [_event("d" * 32, now, now, project_id=5)], EVENT_COLUMNS)
    assert store.query("SELECT min(first_event) FROM {db}.project_activity WHERE project_id = 5") == [(now,)]
