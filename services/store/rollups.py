"""The hourly rollups: outcomes, sessions and issue counters (see `picket.store.rollup`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from picket.schemas.rows import EventRow, OutcomeRow, SessionRow
from picket.store.session_rows import NIL_USER, STATES, per_session
from picket.store.client import Store
from picket.store.rollup import Rollup, write

# `outcomes_raw FINAL` counts a retried outcome once, in the hour it was first seen.
OUTCOMES = Rollup(
    name="outcomes",
    source="outcomes_raw",
    time_column="timestamp",
    columns=OutcomeRow._fields,
    seals="outcome_seals",
    dirty="outcome_dirty_hours",
    build="""
INSERT INTO {db}.outcomes_hourly
    (org_id, hour, project_id, key_id, category, outcome, reason, quantity, times_seen, version)
SELECT org_id, toStartOfHour(timestamp) AS hour, project_id, key_id, category, outcome, reason,
       sum(quantity), count(), {version:UInt64}
FROM {db}.outcomes_raw FINAL
WHERE hour IN {hours:Array(DateTime('UTC'))}
GROUP BY org_id, hour, project_id, key_id, category, outcome, reason""",
)

# A session's updates share its `started`, so an hour holds whole sessions. Live: sealed up to
# the current hour, so a query needs no per-session reduction at all (sessions show one sealing
# pass after they arrive).
SESSIONS = Rollup(
    name="sessions",
    source="sessions",
    time_column="started",
    columns=SessionRow._fields,
    seals="session_seals",
    dirty="session_dirty_hours",
    build=f"""
INSERT INTO {{db}}.sessions_hourly
    (org_id, hour, project_id, release, environment, {', '.join(STATES)}, version)
SELECT s_org, toStartOfHour(s_started) AS hour, s_project, s_release, s_environment,
       {', '.join(STATES.values())}, {{version:UInt64}}
FROM (
{per_session("toStartOfHour(started) IN {hours:Array(DateTime('UTC'))}")}
)
GROUP BY s_org, hour, s_project, s_release, s_environment""",
    build_params=(("nil", NIL_USER),),
    live=True,
)

# `error_events FINAL` counts a redelivered event once; events moved by a merge mark their hours dirty
# (`picket.store.issue_changes`), so the issue they went to is recounted.
GROUPS = Rollup(
    name="groups",
    source="error_events",
    time_column="timestamp",
    columns=EventRow._fields,
    seals="group_seals",
    dirty="group_dirty_hours",
    build="""
INSERT INTO {db}.group_hourly (project_id, group_id, environment, hour, times_seen, users, version)
SELECT project_id, group_id, environment, toStartOfHour(timestamp) AS hour, count(),
       uniqExactStateIf(user_tag, user_tag != ''), {version:UInt64}
FROM {db}.error_events FINAL
WHERE timestamp >= {lo:DateTime('UTC')} AND timestamp < {hi:DateTime('UTC')} AND hour IN {hours:Array(DateTime('UTC'))}
GROUP BY project_id, group_id, environment, hour""",
)

ALL = (OUTCOMES, SESSIONS, GROUPS)


def write_outcomes(store: Store, rows: Sequence[Sequence[Any]], now: datetime | None = None) -> None:
    """Outcome rows (`OutcomeRow`) into `outcomes_raw`, marking late hours."""
    write(store, OUTCOMES, rows, now)


def write_sessions(store: Store, rows: Sequence[Sequence[Any]], now: datetime | None = None) -> None:
    """Session rows (`SessionRow`) into `sessions`, marking late hours."""
    write(store, SESSIONS, rows, now)


def write_events(store: Store, rows: Sequence[Sequence[Any]], now: datetime | None = None) -> None:
    """Event rows (`EventRow`) into `error_events`, marking late hours."""
    write(store, GROUPS, rows, now)
