"""project(event) -> rows of the monitor tables, by table. Pure.

Every row carries the aggregate version its event has (the ReplacingMergeTree version), so
projecting an event twice, or an older event after a newer one, leaves the newest row.

- `monitors`: one row per monitor (keyed by org and monitor id), the whole record with its
  environments as JSON; a deleted monitor keeps a row with `deleted` = 1.
- `monitor_checkins`: one row per check-in (keyed by org, monitor and check-in id), rewritten
  when it changes (heartbeat, result, timeout).
- `monitor_deadlines`: what the clock dispatcher asks for a tick T, e.g.
  `SELECT DISTINCT org_id, slug FROM monitor_deadlines FINAL WHERE deleted = 0 AND
  (next_checkin_latest <= T OR open_timeouts <= T)`. Two kinds of row:
  - an environment's schedule (`check_in_id` = ''): `next_checkin_latest`, NULL while the
    monitor is disabled (no missed check-ins then); deleted with the environment or monitor;
  - an in_progress check-in (`check_in_id` = its id): its `timeout_at` in `open_timeouts`,
    deleted once it is finished or timed out. The earliest open timeout of an environment is
    the least `open_timeouts` of its rows.
  One event tells only one check-in's timeout, so check-ins have rows of their own rather
  than a column of the environment's row.
"""

from __future__ import annotations

from typing import Any

import msgspec

from picket.schemas.rows import MonitorCheckInRow, MonitorDeadlineRow, MonitorRow
from picket.schemas.monitors import (
    CheckInRecorded,
    Monitor,
    MonitorCreated,
    MonitorDeleted,
    MonitorEnvironmentDeleted,
    MonitorEnvironmentStatusChanged,
    MonitorUpdated,
)

_json = msgspec.json.Encoder()

MONITOR_COLUMNS = MonitorRow._fields
CHECK_IN_COLUMNS = MonitorCheckInRow._fields
DEADLINE_COLUMNS = MonitorDeadlineRow._fields
COLUMNS: dict[str, tuple[str, ...]] = {
    "monitors": MONITOR_COLUMNS,
    "monitor_checkins": CHECK_IN_COLUMNS,
    "monitor_deadlines": DEADLINE_COLUMNS,
}

Rows = dict[str, list[tuple[Any, ...]]]


def _org_and_slug(aggregate: str) -> tuple[int, str]:
    """The organization and slug of an aggregate key `monitor:<org id>:<slug>`."""
    _, org_id, slug = aggregate.split(":", 2)
    return int(org_id), slug


def _monitor_row(event: Any, monitor: Monitor, *, deleted: bool = False) -> MonitorRow:
    return MonitorRow(
        org_id=monitor.org_id,
        project_id=monitor.project_id,
        monitor_id=monitor.id,
        slug=monitor.slug,
        version=event.meta.version,
        deleted=int(deleted),
        body=_json.encode(monitor).decode(),
        updated_at=event.meta.timestamp,
    )


def _schedule_row(event: Any, monitor: Monitor, environment: str, *,
                  deleted: bool = False) -> MonitorDeadlineRow:
    env = monitor.environments.get(environment)
    latest = None
    if not deleted and env is not None and monitor.status == "active":
        latest = env.next_checkin_latest
    return MonitorDeadlineRow(org_id=monitor.org_id, monitor_key=event.meta.aggregate, slug=monitor.slug,
                              environment=environment, check_in_id="", next_checkin_latest=latest,
                              open_timeouts=None, version=event.meta.version, deleted=int(deleted))


def project(event: Any) -> Rows:
    match event:
        case MonitorCreated() | MonitorUpdated():
            m = event.monitor
            return {
                "monitors": [_monitor_row(event, m)],
                "monitor_deadlines": [_schedule_row(event, m, name) for name in sorted(m.environments)],
            }
        case MonitorDeleted():
            m = event.monitor
            return {
                "monitors": [_monitor_row(event, m, deleted=True)],
                "monitor_deadlines": [
                    _schedule_row(event, m, name, deleted=True) for name in sorted(m.environments)
                ],
            }
        case MonitorEnvironmentDeleted():
            m = event.monitor  # the monitor without the environment
            return {
                "monitors": [_monitor_row(event, m)],
                "monitor_deadlines": [_schedule_row(event, m, event.environment, deleted=True)],
            }
        case CheckInRecorded():
            c = event.check_in
            org_id, slug = _org_and_slug(event.meta.aggregate)
            rows: Rows = {
                "monitor_checkins": [
                    MonitorCheckInRow(org_id=org_id, monitor_id=c.monitor_id, check_in_id=c.id,
                                      environment=c.environment, status=c.status, duration=c.duration,
                                      date_created=c.date_created, date_updated=c.date_updated,
                                      expected_time=c.expected_time, version=event.meta.version,
                                      body=_json.encode(c).decode())
                ]
            }
            if c.timeout_at is not None:  # it is or was in progress
                open_ = c.status == "in_progress"
                rows["monitor_deadlines"] = [
                    MonitorDeadlineRow(org_id=org_id, monitor_key=event.meta.aggregate, slug=slug,
                                       environment=c.environment, check_in_id=c.id, next_checkin_latest=None,
                                       open_timeouts=c.timeout_at if open_ else None,
                                       version=event.meta.version, deleted=int(not open_))
                ]
            return rows
        case MonitorEnvironmentStatusChanged():
            return {}  # the MonitorUpdated that follows carries the environment's new status
    raise TypeError(f"unknown event {type(event).__name__}")
