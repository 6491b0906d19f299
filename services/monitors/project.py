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

MONITOR_COLUMNS = (
    "org_id",
    "project_id",
    "monitor_id",
    "slug",
    "version",
    "deleted",
    "body",
    "updated_at",
)
CHECK_IN_COLUMNS = (
    "org_id",
    "monitor_id",
    "check_in_id",
    "environment",
    "status",
    "duration",
    "date_created",
    "date_updated",
    "expected_time",
    "version",
    "body",
)
DEADLINE_COLUMNS = (
    "org_id",
    "monitor_key",
    "slug",
    "environment",
    "check_in_id",
    "next_checkin_latest",
    "open_timeouts",
    "version",
    "deleted",
)
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


def _monitor_row(event: Any, monitor: Monitor, *, deleted: bool = False) -> tuple[Any, ...]:
    return (
        monitor.org_id,
        monitor.project_id,
        monitor.id,
        monitor.slug,
        event.meta.version,
        int(deleted),
        _json.encode(monitor).decode(),
        event.meta.timestamp,
    )


def _schedule_row(event: Any, monitor: Monitor, environment: str, *,
                  deleted: bool = False) -> tuple[Any, ...]:
    env = monitor.environments.get(environment)
    latest = None
    if not deleted and env is not None and monitor.status == "active":
        latest = env.next_checkin_latest
    return (monitor.org_id, event.meta.aggregate, monitor.slug, environment, "", latest, None,
            event.meta.version, int(deleted))


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
                    (org_id, c.monitor_id, c.id, c.environment, c.status, c.duration,
                     c.date_created, c.date_updated, c.expected_time, event.meta.version,
                     _json.encode(c).decode())
                ]
            }
            if c.timeout_at is not None:  # it is or was in progress
                open_ = c.status == "in_progress"
                rows["monitor_deadlines"] = [
                    (org_id, event.meta.aggregate, slug, c.environment, c.id, None,
                     c.timeout_at if open_ else None, event.meta.version, int(not open_))
                ]
            return rows
        case MonitorEnvironmentStatusChanged():
            return {}  # the MonitorUpdated that follows carries the environment's new status
    raise TypeError(f"unknown event {type(event).__name__}")
