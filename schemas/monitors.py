"""Cron monitoring: records, commands and domain events of the monitors context.

Aggregate: one monitor (key `monitor:<org id>:<slug>`), with its environments and check-ins.
Everything time-bound travels in the command (`at`: when it happened), so deciding is pure.
Evolution rule for events: add fields with defaults; never change or remove one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

ScheduleType = Literal["crontab", "interval"]
IntervalUnit = Literal["minute", "hour", "day", "week", "month", "year"]
CheckInStatus = Literal["in_progress", "ok", "error", "missed", "timeout"]
EnvironmentStatus = Literal["active", "ok", "error"]
MonitorStatus = Literal["active", "disabled"]


class MonitorConfig(msgspec.Struct, kw_only=True, frozen=True):
    """A validated monitor configuration (as Sentry's `config`)."""

    schedule_type: ScheduleType
    # crontab: the 5-field expression (or @hourly-style alias); interval: [value, unit]
    schedule: str | tuple[int, IntervalUnit]
    checkin_margin: int | None = None  # minutes after the expected time a check-in may arrive
    max_runtime: int | None = None  # minutes an in_progress check-in may run before timing out
    timezone: str = "UTC"
    failure_issue_threshold: int | None = None  # consecutive failures before the env is in error
    recovery_threshold: int | None = None  # consecutive successes before it is ok again


class CheckIn(msgspec.Struct, kw_only=True, frozen=True):
    id: str  # 32 lowercase hex
    monitor_id: int
    environment: str
    status: CheckInStatus
    date_created: datetime  # when it started (or was marked missed)
    date_updated: datetime
    duration: int | None = None  # milliseconds
    expected_time: datetime | None = None
    timeout_at: datetime | None = None
    monitor_config: MonitorConfig | None = None
    trace_id: str | None = None


class MonitorEnvironment(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    status: EnvironmentStatus
    date_created: datetime
    last_checkin: datetime | None = None
    next_checkin: datetime | None = None  # the next expected check-in
    next_checkin_latest: datetime | None = None  # next_checkin + margin: later is missed
    failures: int = 0  # consecutive failed check-ins
    successes: int = 0  # consecutive ok check-ins


class Monitor(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    org_id: int
    project_id: int
    slug: str
    name: str
    config: MonitorConfig
    date_created: datetime
    status: MonitorStatus = "active"
    type: str = "cron_job"
    environments: dict[str, MonitorEnvironment] = {}


# --- commands (topic monitors-commands, key = aggregate key) ---

class MonitorCommandMeta(msgspec.Struct, kw_only=True, frozen=True):
    command_id: str
    at: datetime  # when it happened (check-in received, clock tick time, request time)
    reply_to: str | None = None


class _MonitorCommand(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    meta: MonitorCommandMeta
    org_id: int
    slug: str


class UpsertMonitor(_MonitorCommand, tag="upsert_monitor"):
    """Create the monitor, or (when `create_only` is false) replace its settings."""

    monitor_id: int  # used only when creating
    project_id: int
    name: str
    config: MonitorConfig
    status: MonitorStatus = "active"
    create_only: bool = False
    new_slug: str | None = None  # rename (PUT with a different slug)


class DeleteMonitor(_MonitorCommand, tag="delete_monitor"):
    environments: list[str] = []  # empty: the whole monitor


# The check-in id sent without one (Sentry's nil UUID): the newest open check-in, or a new one.
NIL_CHECK_IN_ID = "0" * 32


class RecordCheckIn(_MonitorCommand, tag="record_check_in"):
    """A check-in from the REST API or an envelope.

    New id (or none given) → a new check-in (`status` None means in_progress).
    Known id → an update of that check-in: a finished one cannot change (rejected); an update
    without status is a heartbeat that extends its timeout.
    `latest` targets the newest unfinished check-in of the environment.
    `upsert_config` (from an SDK's monitor_config) creates or updates the monitor first.
    """

    check_in_id: str
    environment: str = "production"
    status: Literal["in_progress", "ok", "error"] | None = None
    duration: int | None = None  # milliseconds
    latest: bool = False
    project_id: int | None = None  # required with upsert_config when the monitor is new
    upsert_config: MonitorConfig | None = None
    trace_id: str | None = None


class ClockTick(_MonitorCommand, tag="clock_tick"):
    """The clock reached `meta.at`: mark missed and timed-out check-ins due by then."""


MonitorCommand = UpsertMonitor | DeleteMonitor | RecordCheckIn | ClockTick


def monitor_key(org_id: int, slug: str) -> str:
    return f"monitor:{org_id}:{slug}"


# --- events (topic monitors-events, public) ---

class MonitorEventMeta(msgspec.Struct, kw_only=True, frozen=True):
    event_id: str
    aggregate: str
    version: int
    timestamp: datetime
    command_id: str
    reply_to: str | None = None


class _MonitorEvent(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    meta: MonitorEventMeta


class MonitorCreated(_MonitorEvent, tag="monitor_created"):
    monitor: Monitor


class MonitorUpdated(_MonitorEvent, tag="monitor_updated"):
    monitor: Monitor


class MonitorDeleted(_MonitorEvent, tag="monitor_deleted"):
    monitor: Monitor


class MonitorEnvironmentDeleted(_MonitorEvent, tag="monitor_environment_deleted"):
    monitor: Monitor
    environment: str


class CheckInRecorded(_MonitorEvent, tag="check_in_recorded"):
    """A check-in was created or changed (started, finished, heartbeat, missed, timed out)."""

    check_in: CheckIn


class MonitorEnvironmentStatusChanged(_MonitorEvent, tag="monitor_environment_status_changed"):
    monitor_id: int
    environment: str
    old_status: EnvironmentStatus
    new_status: EnvironmentStatus
    reason: str  # e.g. "failure_threshold", "recovery_threshold"


MonitorEvent = (
    MonitorCreated
    | MonitorUpdated
    | MonitorDeleted
    | MonitorEnvironmentDeleted
    | CheckInRecorded
    | MonitorEnvironmentStatusChanged
)
