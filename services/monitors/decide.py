"""decide(key, state, command) -> Accepted(events) | Rejected(outcome, detail). Pure, deterministic.

Cron-monitor semantics as Sentry's. Everything time-bound comes in the command (`meta.at`: when
the check-in was received, the clock tick time, the request time) and every id made here derives
from the command id, so deciding the same command on the same state gives the same events.

Events:
- every change of the monitor record (settings, environments with their schedule, counters and
  status) is one `MonitorCreated` / `MonitorUpdated` carrying the whole new `Monitor`. A decision
  emits the record once, after the check-in events it follows from; only an upsert from a
  check-in's `monitor_config` comes first, as the monitor exists before its check-in;
- every created or changed check-in is a `CheckInRecorded` carrying the whole `CheckIn`;
- an environment changing status adds `MonitorEnvironmentStatusChanged` right after the
  check-in that caused it.

Check-ins:
- a new check-in (unknown id): status None or in_progress starts it (`timeout_at` = at +
  max_runtime); ok / error record a finished one (started at `at - duration` when a duration is
  given). Its environment is created on first use (status "active"). `expected_time` is the
  environment's `next_checkin` before it;
- the nil id (32 zeros, what an SDK or the HTTP check-in endpoint sends without an id) means, as
  in Sentry, the newest in_progress check-in of the environment, or a new check-in (its id
  derived from the command id) when there is none;
- a known in_progress check-in (by id, or the newest in_progress one of the environment with
  `latest`): no status / in_progress is a heartbeat (`timeout_at` and `date_updated` move on);
  ok / error finish it, the duration being the given one or the time since it started;
- a finished (ok, error, missed, timed out) check-in cannot be changed: rejected "invalid";
- creating a check-in and finishing one move the environment's schedule: `last_checkin` = at,
  `next_checkin` = the next expected time after `at`, `next_checkin_latest` = that + margin
  (a check-in older than `last_checkin` does not move it back);
- check-ins of a disabled monitor are refused ("invalid"), as Sentry drops them.

Thresholds: error, missed and timeout are failures, ok a success; the environment counts
consecutive ones (`failures`, `successes`). It goes to "error" when `failures` reaches
`failure_issue_threshold` (default 1), back to "ok" when `successes` reaches `recovery_threshold`
(default 1), and from "active" (no result yet) to "ok" at its first ok. in_progress check-ins and
heartbeats count neither way.

Clock ticks (`ClockTick` at T), for monitors that are not disabled:
- missed: while an environment's `next_checkin_latest` <= T, one "missed" check-in for its
  `next_checkin` (`expected_time` = next_checkin, `date_created` = next_checkin_latest), then the
  schedule moves to the next expected time after that one. So every expected time whose latest
  time has passed gets exactly one missed check-in, however many ticks were skipped, up to
  MAX_MISSED_PER_TICK per environment and tick; beyond that the schedule jumps to the first
  expected time not yet due (its latest time after T). `last_checkin` does not move;
- timeouts: every in_progress check-in with `timeout_at` <= T becomes "timeout" (a failure of
  its environment), also for a disabled monitor. A late result for it is then refused.
In_progress check-ins of a deleted monitor or environment are timed out the same way, without
counting anywhere (so nothing of them stays open).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

import msgspec

from picket.schemas.monitors import (
    NIL_CHECK_IN_ID,
    CheckIn,
    CheckInRecorded,
    ClockTick,
    DeleteMonitor,
    EnvironmentStatus,
    Monitor,
    MonitorConfig,
    MonitorCreated,
    MonitorDeleted,
    MonitorEnvironment,
    MonitorEnvironmentDeleted,
    MonitorEnvironmentStatusChanged,
    MonitorEventMeta,
    MonitorStatus,
    MonitorUpdated,
    RecordCheckIn,
    UpsertMonitor,
)
from picket.monitors import schedule
from picket.monitors.state import MonitorState
from picket.decisions import Accepted, Decision, Emitter, Rejected

__all__ = ["Accepted", "Decision", "Rejected", "decide"]

# At most this many missed check-ins per environment and clock tick.
MAX_MISSED_PER_TICK = 100

NO_MONITOR = "The monitor does not exist."
NO_CHECK_IN = "The check-in does not exist."
FINISHED = "A finished check-in cannot be changed."

_FAILURES = frozenset({"error", "missed", "timeout"})
_CHECK_IN_ID = re.compile(r"[0-9a-f]{32}")
_SCHEDULE_FIELDS = ("schedule_type", "schedule", "checkin_margin", "timezone")
# Monitor ids made here have the layout of `picket.ids.new_id`: milliseconds since
# 2024-01-01 above 12 bits, here taken from the command id instead of random ones.
_EPOCH_MS = 1_704_067_200_000
_replace = msgspec.structs.replace


class _Emitter(Emitter):
    """Also tracks `monitor`: the record as the events emitted so far leave it, so that `sync`
    emits a `MonitorUpdated` only when the decision changed it since."""

    def __init__(self, command: Any, key: str, version: int, monitor: Monitor | None) -> None:
        super().__init__(command, key, version, MonitorEventMeta, command.meta.at)
        self.monitor = monitor

    def __call__(self, event_type: type, **payload: Any) -> None:
        super().__call__(event_type, **payload)
        if "monitor" in payload:
            self.monitor = None if event_type is MonitorDeleted else payload["monitor"]

    def sync(self, monitor: Monitor | None) -> None:
        if monitor is not None and monitor != self.monitor:
            self(MonitorUpdated, monitor=monitor)


def decide(key: str, state: MonitorState, command: Any) -> Decision:
    """Decide `command` against the state of the monitor aggregate `key`."""
    if command.meta.command_id in state.recent_commands:
        return Accepted([], duplicate=True)
    emit = _Emitter(command, key, state.version, state.monitor)
    match command:
        case UpsertMonitor():
            result = _upsert(state, command, emit)
        case DeleteMonitor():
            result = _delete(state, command, emit)
        case RecordCheckIn():
            result = _record_check_in(state, command, emit)
        case ClockTick():
            result = _tick(state, command, emit)
        case _:
            result = Rejected("invalid", f"{type(command).__name__} does not apply to a monitor.")
    return result if isinstance(result, Rejected) else emit.done()


# --- monitor settings ---

def _schedule_error(config: MonitorConfig, at: datetime) -> str | None:
    """Why the schedule of `config` cannot be followed, or None when it can."""
    try:
        schedule.next_expected(config, at)
    except schedule.ScheduleError as exc:
        return exc.detail
    return None


def _reconfigured(monitor: Monitor, at: datetime, *, config: MonitorConfig,
                  project_id: int | None = None, name: str | None = None,
                  status: MonitorStatus | None = None) -> Monitor:
    """`monitor` with new settings; a changed schedule moves every environment's next expected
    check-in (from its last check-in), and re-enabling restarts it from `at` (so the time it was
    disabled is not reported as missed)."""
    status = monitor.status if status is None else status
    reenabled = monitor.status == "disabled" and status == "active"
    rescheduled = any(getattr(monitor.config, f) != getattr(config, f) for f in _SCHEDULE_FIELDS)
    environments = monitor.environments
    if reenabled or rescheduled:
        environments = {
            name_: _expecting(env, config, at if reenabled else (env.last_checkin or at))
            for name_, env in monitor.environments.items()
        }
    return _replace(
        monitor,
        project_id=monitor.project_id if project_id is None else project_id,
        name=monitor.name if name is None else name,
        config=config,
        status=status,
        environments=environments,
    )


def _upsert(state: MonitorState, cmd: UpsertMonitor, emit: _Emitter) -> Rejected | None:
    if cmd.new_slug is not None and cmd.new_slug != cmd.slug:
        # The aggregate is keyed by the slug: a rename would have to move it to another key.
        return Rejected("invalid", "A monitor's slug cannot be changed.")
    at = cmd.meta.at
    error = _schedule_error(cmd.config, at)
    if error is not None:
        return Rejected("invalid", error)
    monitor = state.monitor
    if monitor is None:
        emit(
            MonitorCreated,
            monitor=Monitor(
                id=cmd.monitor_id,
                org_id=cmd.org_id,
                project_id=cmd.project_id,
                slug=cmd.slug,
                name=cmd.name,
                config=cmd.config,
                date_created=at,
                status=cmd.status,
            ),
        )
        return None
    if cmd.create_only:
        return Rejected("conflict", "A monitor with this slug already exists.", monitor.id)
    emit.sync(
        _reconfigured(monitor, at, config=cmd.config, project_id=cmd.project_id, name=cmd.name,
                      status=cmd.status)
    )
    return None


def _delete(state: MonitorState, cmd: DeleteMonitor, emit: _Emitter) -> Rejected | None:
    monitor = state.monitor
    if monitor is None:
        return Rejected("not_found", NO_MONITOR)
    if not cmd.environments:
        emit(MonitorDeleted, monitor=monitor)
        return None
    names = [n for n in dict.fromkeys(cmd.environments) if n in monitor.environments]
    if not names:
        return Rejected("not_found", "The environment does not exist.")
    for name in names:
        monitor = _replace(
            monitor, environments={k: v for k, v in monitor.environments.items() if k != name}
        )
        emit(MonitorEnvironmentDeleted, monitor=monitor, environment=name)
    return None


# --- environments: schedule and thresholds ---

def _expecting(env: MonitorEnvironment, config: MonitorConfig, after: datetime) -> MonitorEnvironment:
    """`env` expecting its next check-in at the first expected time after `after`."""
    expected = schedule.next_expected(config, after)
    return _replace(env, next_checkin=expected, next_checkin_latest=expected + schedule.margin(config))


def _checked_in(env: MonitorEnvironment, config: MonitorConfig, at: datetime) -> MonitorEnvironment:
    """`env` after a check-in at `at` (created or finished); an older one changes nothing."""
    if env.last_checkin is not None and at < env.last_checkin:
        return env
    return _replace(_expecting(env, config, at), last_checkin=at)


def _counted(env: MonitorEnvironment, status: str, monitor: Monitor,
             emit: _Emitter) -> MonitorEnvironment:
    """`env` after a check-in result `status`, with the status change the thresholds make."""
    config = monitor.config
    new_status: EnvironmentStatus | None = None
    if status in _FAILURES:
        env = _replace(env, failures=env.failures + 1, successes=0)
        if env.status != "error" and env.failures >= (config.failure_issue_threshold or 1):
            new_status, reason = "error", "failure_threshold"
    elif status == "ok":
        env = _replace(env, successes=env.successes + 1, failures=0)
        if env.status == "active":
            new_status, reason = "ok", "first_ok"
        elif env.status == "error" and env.successes >= (config.recovery_threshold or 1):
            new_status, reason = "ok", "recovery_threshold"
    if new_status is None:
        return env
    emit(
        MonitorEnvironmentStatusChanged,
        monitor_id=monitor.id,
        environment=env.name,
        old_status=env.status,
        new_status=new_status,
        reason=reason,
    )
    return _replace(env, status=new_status)


def _with_env(monitor: Monitor, env: MonitorEnvironment) -> Monitor:
    return _replace(monitor, environments={**monitor.environments, env.name: env})


# --- check-ins ---

def _derived_id(*parts: str) -> str:
    return hashlib.md5("\x1f".join(parts).encode()).hexdigest()


def _derived_monitor_id(command_id: str, at: datetime) -> int:
    ms = max(int(at.timestamp() * 1000) - _EPOCH_MS, 0)
    return (ms << 12) | int(_derived_id(command_id, "monitor")[:3], 16)


def _record_check_in(state: MonitorState, cmd: RecordCheckIn, emit: _Emitter) -> Rejected | None:
    at = cmd.meta.at
    if cmd.duration is not None and cmd.duration < 0:
        return Rejected("invalid", "The duration cannot be negative.")
    monitor = state.monitor
    if monitor is not None and cmd.project_id is not None and cmd.project_id != monitor.project_id:
        return Rejected("not_found", "The monitor does not exist in this project.")

    if cmd.upsert_config is not None:
        error = _schedule_error(cmd.upsert_config, at)
        if monitor is None:
            if error is not None:
                return Rejected("invalid", error)
            if cmd.project_id is None:
                return Rejected("invalid", "A project is required to create a monitor.")
            monitor = Monitor(
                id=_derived_monitor_id(cmd.meta.command_id, at),
                org_id=cmd.org_id,
                project_id=cmd.project_id,
                slug=cmd.slug,
                name=cmd.slug,
                config=cmd.upsert_config,
                date_created=at,
            )
            emit(MonitorCreated, monitor=monitor)
        elif error is None and cmd.upsert_config != monitor.config:
            # As Sentry: an invalid config from a check-in leaves an existing monitor as it is.
            monitor = _reconfigured(monitor, at, config=cmd.upsert_config)
            emit.sync(monitor)

    if monitor is None:
        return Rejected("not_found", NO_MONITOR)
    if monitor.status == "disabled":
        return Rejected("invalid", "The monitor is disabled.")

    target: CheckIn | None = None
    if cmd.latest or cmd.check_in_id == NIL_CHECK_IN_ID:
        candidates = [c for c in state.open_check_ins.values() if c.environment == cmd.environment]
        if candidates:
            target = max(candidates, key=lambda c: (c.date_created, c.id))
        elif cmd.latest:
            return Rejected("not_found", "There is no in-progress check-in to update.")
        else:
            cmd = _replace(cmd, check_in_id=_derived_id("check-in", cmd.meta.command_id))
    elif cmd.check_in_id in state.open_check_ins:
        target = state.open_check_ins[cmd.check_in_id]
        if target.environment != cmd.environment:
            return Rejected("invalid", "The check-in belongs to another environment.")
    elif cmd.check_in_id in state.orphaned:
        return Rejected("not_found", NO_CHECK_IN)
    elif cmd.check_in_id in state.finished_ids:
        return Rejected("invalid", FINISHED)
    elif not _CHECK_IN_ID.fullmatch(cmd.check_in_id):
        return Rejected("invalid", "A check-in id is 32 hexadecimal digits.")

    if target is None:
        monitor = _new_check_in(monitor, cmd, emit)
    else:
        monitor = _update_check_in(monitor, target, cmd, emit)
    emit.sync(monitor)
    return None


def _new_check_in(monitor: Monitor, cmd: RecordCheckIn, emit: _Emitter) -> Monitor:
    at = cmd.meta.at
    config = monitor.config
    env = monitor.environments.get(cmd.environment) or MonitorEnvironment(
        name=cmd.environment, status="active", date_created=at
    )
    status = cmd.status or "in_progress"
    check_in = CheckIn(
        id=cmd.check_in_id,
        monitor_id=monitor.id,
        environment=env.name,
        status=status,
        date_created=at if cmd.duration is None else at - timedelta(milliseconds=cmd.duration),
        date_updated=at,
        duration=cmd.duration,
        expected_time=env.next_checkin,
        timeout_at=at + schedule.max_runtime(config) if status == "in_progress" else None,
        monitor_config=config,
        trace_id=cmd.trace_id,
    )
    emit(CheckInRecorded, check_in=check_in)
    env = _checked_in(env, config, at)
    if status != "in_progress":
        env = _counted(env, status, monitor, emit)
    return _with_env(monitor, env)


def _update_check_in(monitor: Monitor, target: CheckIn, cmd: RecordCheckIn,
                     emit: _Emitter) -> Monitor:
    at = cmd.meta.at
    config = monitor.config
    trace_id = cmd.trace_id or target.trace_id
    if cmd.status is None or cmd.status == "in_progress":  # a heartbeat
        emit(
            CheckInRecorded,
            check_in=_replace(target, date_updated=at, timeout_at=at + schedule.max_runtime(config),
                              trace_id=trace_id),
        )
        return monitor
    duration = cmd.duration
    if duration is None:
        duration = abs(int((at - target.date_created) / timedelta(milliseconds=1)))
    emit(
        CheckInRecorded,
        check_in=_replace(target, status=cmd.status, duration=duration, date_updated=at,
                          trace_id=trace_id),
    )
    env = _checked_in(monitor.environments[target.environment], config, at)
    return _with_env(monitor, _counted(env, cmd.status, monitor, emit))


# --- clock ---

def _tick(state: MonitorState, cmd: ClockTick, emit: _Emitter) -> None:
    at = cmd.meta.at
    monitor = state.monitor
    if monitor is not None and monitor.status != "disabled":
        for name in sorted(monitor.environments):
            monitor = _with_env(monitor, _mark_missed(monitor, monitor.environments[name], cmd, emit))
    due = sorted(
        (c for c in (*state.open_check_ins.values(), *state.orphaned.values())
         if c.timeout_at is not None and c.timeout_at <= at),
        key=lambda c: (c.timeout_at, c.id),
    )
    for check_in in due:
        emit(CheckInRecorded, check_in=_replace(check_in, status="timeout", date_updated=at))
        if monitor is not None and check_in.id in state.open_check_ins:
            env = monitor.environments[check_in.environment]
            monitor = _with_env(monitor, _counted(env, "timeout", monitor, emit))
    emit.sync(monitor)


def _mark_missed(monitor: Monitor, env: MonitorEnvironment, cmd: ClockTick,
                 emit: _Emitter) -> MonitorEnvironment:
    at = cmd.meta.at
    config = monitor.config
    made = 0
    while env.next_checkin is not None and env.next_checkin_latest is not None \
            and env.next_checkin_latest <= at:
        if made == MAX_MISSED_PER_TICK:
            return _expecting(env, config, at - schedule.margin(config))
        expected = env.next_checkin
        emit(
            CheckInRecorded,
            check_in=CheckIn(
                id=_derived_id(cmd.meta.command_id, "missed", env.name, expected.isoformat()),
                monitor_id=monitor.id,
                environment=env.name,
                status="missed",
                date_created=env.next_checkin_latest,
                date_updated=at,
                expected_time=expected,
                monitor_config=config,
            ),
        )
        env = _counted(_expecting(env, config, expected), "missed", monitor, emit)
        made += 1
    return env
