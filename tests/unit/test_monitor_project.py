"""Scenarios for the monitors context's `project`: events become rows of `monitors`,
`monitor_checkins` and `monitor_deadlines`.

Every row carries the aggregate version of its event, so the ReplacingMergeTree keeps the newest
and a replayed event rewrites an identical row; deletions are rows with `deleted` = 1.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from picket.schemas.monitors import (
    CheckIn,
    CheckInRecorded,
    ClockTick,
    Monitor,
    MonitorCommandMeta,
    MonitorConfig,
    MonitorCreated,
    MonitorDeleted,
    MonitorEnvironment,
    MonitorEnvironmentDeleted,
    MonitorEnvironmentStatusChanged,
    MonitorEvent,
    MonitorEventMeta,
    MonitorUpdated,
    RecordCheckIn,
    UpsertMonitor,
    monitor_key,
)
from picket.monitors.decide import decide
from picket.monitors.evolve import fold
from picket.monitors.project import (
    CHECK_IN_COLUMNS,
    COLUMNS,
    DEADLINE_COLUMNS,
    MONITOR_COLUMNS,
    project,
)
from picket.monitors.state import initial_state
from picket.store.migrate import load_migrations

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
KEY = monitor_key(1, "nightly")
CONFIG = MonitorConfig(schedule_type="crontab", schedule="0 * * * *")
PRODUCTION = MonitorEnvironment(name="production", status="ok", date_created=T0, last_checkin=T0,
                                next_checkin=T0 + timedelta(hours=1),
                                next_checkin_latest=T0 + timedelta(hours=1, minutes=1))
STAGING = MonitorEnvironment(name="staging", status="active", date_created=T0)
MONITOR = Monitor(id=7, org_id=1, project_id=30, slug="nightly", name="Nightly", config=CONFIG,
                  date_created=T0, environments={"production": PRODUCTION, "staging": STAGING})
RUNNING = CheckIn(id="a" * 32, monitor_id=7, environment="production", status="in_progress",
                  date_created=T0, date_updated=T0, timeout_at=T0 + timedelta(minutes=30),
                  monitor_config=CONFIG)


def meta(version: int) -> MonitorEventMeta:
    return MonitorEventMeta(event_id=f"cmd-{version}:0", aggregate=KEY, version=version,
                            timestamp=T0 + timedelta(minutes=version), command_id=f"cmd-{version}")


def rows_of(rows: dict, table: str) -> list[dict]:
    return [dict(zip(COLUMNS[table], row, strict=True)) for row in rows.get(table, [])]


def declared_columns(table: str) -> tuple[str, ...]:
    (migration,) = [m for m in load_migrations() if m.name == "monitors"]
    (create,) = [s for s in migration.up if s.split("{db}.", 1)[1].split()[0] == table]
    assert "ReplacingMergeTree(version)" in create
    return tuple(re.findall(r"^\s+([a-z_]+)\s+\S", create.split("(", 1)[1], flags=re.M))


def test_every_event_type_is_projected():
    samples = [
        MonitorCreated(meta=meta(1), monitor=MONITOR),
        MonitorUpdated(meta=meta(2), monitor=MONITOR),
        MonitorDeleted(meta=meta(3), monitor=MONITOR),
        MonitorEnvironmentDeleted(meta=meta(4), monitor=MONITOR, environment="qa"),
        CheckInRecorded(meta=meta(5), check_in=RUNNING),
        MonitorEnvironmentStatusChanged(meta=meta(6), monitor_id=7, environment="production",
                                        old_status="ok", new_status="error", reason="failure_threshold"),
    ]
    assert {type(ev) for ev in samples} == set(MonitorEvent.__args__)
    for event in samples:
        rows = project(event)
        assert set(rows) <= set(COLUMNS)
        for table, table_rows in rows.items():
            assert all(len(row) == len(COLUMNS[table]) for row in table_rows)


@pytest.mark.parametrize("table", ["monitors", "monitor_checkins", "monitor_deadlines"])
def test_the_migration_declares_the_columns_the_projection_writes(table):
    assert declared_columns(table) == COLUMNS[table]


def test_the_column_tuples_are_the_tables():
    assert COLUMNS == {"monitors": MONITOR_COLUMNS, "monitor_checkins": CHECK_IN_COLUMNS,
                       "monitor_deadlines": DEADLINE_COLUMNS}


@pytest.mark.parametrize("event_type", [MonitorCreated, MonitorUpdated])
def test_a_monitor_version_is_a_monitor_row_and_a_schedule_row_per_environment(event_type):
    rows = project(event_type(meta=meta(4), monitor=MONITOR))

    (monitor_row,) = rows_of(rows, "monitors")
    assert monitor_row | {"body": None} == {
        "org_id": 1, "project_id": 30, "monitor_id": 7, "slug": "nightly", "version": 4,
        "deleted": 0, "body": None, "updated_at": T0 + timedelta(minutes=4),
    }
    assert msgspec.json.decode(monitor_row["body"], type=Monitor) == MONITOR

    schedules = rows_of(rows, "monitor_deadlines")
    assert [(r["environment"], r["check_in_id"], r["next_checkin_latest"], r["open_timeouts"])
            for r in schedules] == [
        ("production", "", PRODUCTION.next_checkin_latest, None),
        ("staging", "", None, None),
    ]
    assert {(r["org_id"], r["monitor_key"], r["slug"], r["version"], r["deleted"]) for r in schedules} \
        == {(1, KEY, "nightly", 4, 0)}


def test_a_disabled_monitor_has_no_deadline_to_miss():
    disabled = msgspec.structs.replace(MONITOR, status="disabled")
    rows = project(MonitorUpdated(meta=meta(5), monitor=disabled))
    assert {r["next_checkin_latest"] for r in rows_of(rows, "monitor_deadlines")} == {None}
    assert json.loads(rows_of(rows, "monitors")[0]["body"])["status"] == "disabled"


def test_a_deleted_monitor_is_a_deleted_row_with_deleted_schedules():
    rows = project(MonitorDeleted(meta=meta(6), monitor=MONITOR))
    (monitor_row,) = rows_of(rows, "monitors")
    assert (monitor_row["deleted"], monitor_row["version"]) == (1, 6)
    assert [(r["environment"], r["deleted"], r["version"]) for r in rows_of(rows, "monitor_deadlines")] \
        == [("production", 1, 6), ("staging", 1, 6)]


def test_a_deleted_environment_leaves_the_monitor_row_without_it_and_deletes_its_schedule():
    without = msgspec.structs.replace(MONITOR, environments={"production": PRODUCTION})
    rows = project(MonitorEnvironmentDeleted(meta=meta(7), monitor=without, environment="staging"))
    (monitor_row,) = rows_of(rows, "monitors")
    assert monitor_row["deleted"] == 0
    assert set(json.loads(monitor_row["body"])["environments"]) == {"production"}
    (schedule,) = rows_of(rows, "monitor_deadlines")
    assert (schedule["environment"], schedule["check_in_id"], schedule["deleted"]) == ("staging", "", 1)


def test_a_running_check_in_is_a_check_in_row_and_an_open_timeout():
    rows = project(CheckInRecorded(meta=meta(8), check_in=RUNNING))
    (row,) = rows_of(rows, "monitor_checkins")
    assert row | {"body": None} == {
        "org_id": 1, "monitor_id": 7, "check_in_id": "a" * 32, "environment": "production",
        "status": "in_progress", "duration": None, "date_created": T0, "date_updated": T0,
        "expected_time": None, "version": 8, "body": None,
    }
    assert msgspec.json.decode(row["body"], type=CheckIn) == RUNNING
    (deadline,) = rows_of(rows, "monitor_deadlines")
    assert deadline == {
        "org_id": 1, "monitor_key": KEY, "slug": "nightly", "environment": "production",
        "check_in_id": "a" * 32, "next_checkin_latest": None,
        "open_timeouts": T0 + timedelta(minutes=30), "version": 8, "deleted": 0,
    }


@pytest.mark.parametrize("status", ["ok", "error", "timeout"])
def test_a_finished_check_in_closes_its_open_timeout(status):
    done = msgspec.structs.replace(RUNNING, status=status, duration=60_000)
    rows = project(CheckInRecorded(meta=meta(9), check_in=done))
    (row,) = rows_of(rows, "monitor_checkins")
    assert (row["status"], row["duration"], row["version"]) == (status, 60_000, 9)
    (deadline,) = rows_of(rows, "monitor_deadlines")
    assert (deadline["check_in_id"], deadline["open_timeouts"], deadline["deleted"], deadline["version"]) \
        == ("a" * 32, None, 1, 9)


def test_a_check_in_that_never_ran_has_no_deadline_row():
    missed = CheckIn(id="b" * 32, monitor_id=7, environment="production", status="missed",
                     date_created=T0 + timedelta(minutes=1), date_updated=T0 + timedelta(minutes=1),
                     expected_time=T0)
    rows = project(CheckInRecorded(meta=meta(10), check_in=missed))
    assert rows_of(rows, "monitor_deadlines") == []
    assert rows_of(rows, "monitor_checkins")[0]["expected_time"] == T0


def test_a_status_change_has_no_rows_of_its_own():
    event = MonitorEnvironmentStatusChanged(meta=meta(11), monitor_id=7, environment="production",
                                            old_status="ok", new_status="error",
                                            reason="failure_threshold")
    assert project(event) == {}


def test_projecting_an_event_twice_gives_the_same_rows():
    for event in (MonitorUpdated(meta=meta(12), monitor=MONITOR),
                  CheckInRecorded(meta=meta(13), check_in=RUNNING)):
        assert project(event) == project(event)


def test_rows_of_a_decided_history_carry_increasing_versions():
    def m(n: int, minutes: int) -> MonitorCommandMeta:
        return MonitorCommandMeta(command_id=f"c{n}", at=T0 + timedelta(minutes=minutes))

    state, events = initial_state(KEY), []
    for command in (
        UpsertMonitor(meta=m(1, 0), org_id=1, slug="nightly", monitor_id=7, project_id=30,
                      name="Nightly", config=CONFIG),
        RecordCheckIn(meta=m(2, 1), org_id=1, slug="nightly", check_in_id="c" * 32),
        RecordCheckIn(meta=m(3, 5), org_id=1, slug="nightly", check_in_id="c" * 32, status="ok"),
        ClockTick(meta=m(4, 121), org_id=1, slug="nightly"),
    ):
        decision = decide(KEY, state, command)
        events.extend(decision.events)
        state = fold(state, decision.events)

    by_key: dict[tuple, list[int]] = {}
    for event in events:
        for table, rows in project(event).items():
            for row in rows:
                r = dict(zip(COLUMNS[table], row, strict=True))
                key = {"monitors": ("monitor_id",),
                       "monitor_checkins": ("monitor_id", "check_in_id"),
                       "monitor_deadlines": ("environment", "check_in_id")}[table]
                by_key.setdefault((table, *(r[k] for k in key)), []).append(r["version"])
    assert all(versions == sorted(versions) and len(set(versions)) == len(versions)
               for versions in by_key.values())
    # The run opened a timeout row and closed it; the schedule row ends at the newest deadline.
    assert by_key[("monitor_deadlines", "production", "c" * 32)] == [2, 4]
    final = [dict(zip(DEADLINE_COLUMNS, row, strict=True)) for ev in events
             for row in project(ev).get("monitor_deadlines", []) if row[4] == ""]
    assert final[-1]["next_checkin_latest"] == T0 + timedelta(hours=3, minutes=1)
