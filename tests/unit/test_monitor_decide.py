"""Scenarios for the monitors context's `decide` (with `evolve` folding what it accepts).

Commands carry their own time (`meta.at`), so every scenario runs on fixed instants: the monitor
is created at T0 (2024-05-01 12:00 UTC) with an hourly crontab (`0 * * * *`), the default margin
(1 minute) and the default maximum runtime (30 minutes). No Kafka, no clock, no randomness.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from itertools import count

import msgspec
import pytest

from picket.schemas.monitors import (
    CheckInRecorded,
    ClockTick,
    DeleteMonitor,
    MonitorCommandMeta,
    MonitorConfig,
    MonitorCreated,
    MonitorDeleted,
    MonitorEnvironmentDeleted,
    MonitorEnvironmentStatusChanged,
    MonitorUpdated,
    RecordCheckIn,
    UpsertMonitor,
    monitor_key,
)
from picket.monitors.decide import MAX_MISSED_PER_TICK, Accepted, Rejected, decide
from picket.monitors.evolve import evolve, fold
from picket.monitors.state import MonitorState, initial_state

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
ORG = 1
SLUG = "nightly"
KEY = monitor_key(ORG, SLUG)
MONITOR_ID = 7
PROJECT = 30
HOURLY = MonitorConfig(schedule_type="crontab", schedule="0 * * * *")

_ids = count(1)


def at(hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes, seconds=seconds)


def meta(when: datetime, command_id: str | None = None) -> MonitorCommandMeta:
    return MonitorCommandMeta(command_id=command_id or f"cmd-{next(_ids)}", at=when, reply_to="gw-1")


def cid(n: int) -> str:
    return f"{n:032x}"


def upsert(when: datetime = T0, config: MonitorConfig = HOURLY, **kw) -> UpsertMonitor:
    args = dict(org_id=ORG, slug=SLUG, monitor_id=MONITOR_ID, project_id=PROJECT, name="Nightly",
                config=config)
    args.update(kw)
    return UpsertMonitor(meta=meta(when), **args)


def check_in(when: datetime, n: int = 1, status=None, environment: str = "production",
             **kw) -> RecordCheckIn:
    return RecordCheckIn(meta=meta(when, kw.pop("command_id", None)), org_id=ORG, slug=SLUG,
                         check_in_id=cid(n), status=status, environment=environment, **kw)


def tick(when: datetime, command_id: str | None = None) -> ClockTick:
    return ClockTick(meta=meta(when, command_id), org_id=ORG, slug=SLUG)


def accept(state: MonitorState, command) -> tuple[MonitorState, list]:
    """Decide `command`, insist it is accepted, and return the folded state and the events."""
    decision = decide(KEY, state, command)
    assert isinstance(decision, Accepted), decision
    return fold(state, decision.events), decision.events


def reject(state: MonitorState, command) -> Rejected:
    decision = decide(KEY, state, command)
    assert isinstance(decision, Rejected), decision
    return decision


def kinds(events: list) -> list[type]:
    return [type(ev) for ev in events]


def of(events: list, kind: type) -> list:
    return [ev for ev in events if isinstance(ev, kind)]


def created(config: MonitorConfig = HOURLY) -> MonitorState:
    state, _ = accept(initial_state(KEY), upsert(config=config))
    return state


@pytest.fixture
def monitor() -> MonitorState:
    """`nightly`, hourly, no environment yet."""
    return created()


@pytest.fixture
def checked_in(monitor) -> MonitorState:
    """`nightly` after an ok check-in at T0 in production: expecting 13:00, missed after 13:01."""
    state, _ = accept(monitor, check_in(T0, 1, "ok"))
    return state


# --- monitors ----------------------------------------------------------------------------------


def test_creating_updating_and_deleting_a_monitor():
    state, events = accept(initial_state(KEY), upsert())
    (made,) = events
    assert isinstance(made, MonitorCreated)
    m = made.monitor
    assert (m.id, m.org_id, m.project_id, m.slug, m.name) == (MONITOR_ID, ORG, PROJECT, SLUG, "Nightly")
    assert (m.date_created, m.status, m.environments) == (T0, "active", {})
    assert state.monitor == m

    state, events = accept(state, upsert(at(1), name="Nightly job", monitor_id=999))
    (updated,) = events
    assert isinstance(updated, MonitorUpdated)
    assert updated.monitor.name == "Nightly job"
    assert updated.monitor.id == MONITOR_ID  # the id is the creation's
    assert updated.monitor.date_created == T0

    _, unchanged = accept(state, upsert(at(2), name="Nightly job"))
    assert unchanged == []

    state, events = accept(state, DeleteMonitor(meta=meta(at(3)), org_id=ORG, slug=SLUG))
    (deleted,) = events
    assert isinstance(deleted, MonitorDeleted)
    assert deleted.monitor == updated.monitor
    assert state.monitor is None

    assert reject(state, DeleteMonitor(meta=meta(at(4)), org_id=ORG, slug=SLUG)).outcome == "not_found"
    assert reject(state, check_in(at(4))).outcome == "not_found"


def test_creating_only_a_monitor_whose_slug_is_taken_is_a_conflict(monitor):
    decision = reject(monitor, upsert(at(1), create_only=True, monitor_id=8))
    assert decision.outcome == "conflict"
    assert decision.entity_id == MONITOR_ID


def test_a_schedule_that_cannot_be_followed_is_invalid():
    bad = MonitorConfig(schedule_type="crontab", schedule="not a crontab")
    decision = reject(initial_state(KEY), upsert(config=bad))
    assert decision.outcome == "invalid"
    assert decision.detail


def test_a_monitor_keeps_its_slug():
    assert reject(created(), upsert(at(1), new_slug="renamed")).outcome == "invalid"
    _, events = accept(created(), upsert(at(1), new_slug=SLUG, name="Same slug"))
    assert kinds(events) == [MonitorUpdated]


def test_deleting_environments_deletes_those_that_exist_and_refuses_when_none_does(monitor):
    state, _ = accept(monitor, check_in(T0, 1, "ok"))
    state, _ = accept(state, check_in(T0, 2, "ok", environment="staging"))

    missing = reject(state, DeleteMonitor(meta=meta(at(1)), org_id=ORG, slug=SLUG, environments=["dev"]))
    assert missing.outcome == "not_found"

    state, events = accept(state, DeleteMonitor(meta=meta(at(1)), org_id=ORG, slug=SLUG,
                                                environments=["staging", "dev"]))
    (gone,) = events
    assert isinstance(gone, MonitorEnvironmentDeleted)
    assert gone.environment == "staging"
    assert set(gone.monitor.environments) == {"production"}
    assert set(state.monitor.environments) == {"production"}


# --- check-ins ---------------------------------------------------------------------------------


def test_a_check_in_starts_beats_and_finishes(monitor):
    started_at, beat_at, done_at = at(seconds=5), at(minutes=10), at(minutes=12)

    state, events = accept(monitor, check_in(started_at, 1))
    assert kinds(events) == [CheckInRecorded, MonitorUpdated]
    started = events[0].check_in
    assert (started.id, started.status, started.environment) == (cid(1), "in_progress", "production")
    assert started.date_created == started.date_updated == started_at
    assert started.timeout_at == started_at + timedelta(minutes=30)
    assert started.expected_time is None  # the environment had no schedule yet
    assert started.monitor_config == HOURLY
    env = events[1].monitor.environments["production"]
    assert (env.status, env.date_created, env.last_checkin) == ("active", started_at, started_at)
    assert env.next_checkin == at(1)
    assert env.next_checkin_latest == at(1, 1)
    assert state.open_check_ins == {cid(1): started}

    state, events = accept(state, check_in(beat_at, 1))  # no status: a heartbeat
    (beat,) = events
    assert isinstance(beat, CheckInRecorded)
    assert beat.check_in.status == "in_progress"
    assert beat.check_in.date_updated == beat_at
    assert beat.check_in.timeout_at == beat_at + timedelta(minutes=30)
    assert beat.check_in.date_created == started_at

    state, events = accept(state, check_in(done_at, 1, "ok"))
    assert kinds(events) == [CheckInRecorded, MonitorEnvironmentStatusChanged, MonitorUpdated]
    done = events[0].check_in
    assert done.status == "ok"
    assert done.duration == (done_at - started_at) // timedelta(milliseconds=1)
    change = events[1]
    assert (change.monitor_id, change.environment) == (MONITOR_ID, "production")
    assert (change.old_status, change.new_status) == ("active", "ok")
    env = events[2].monitor.environments["production"]
    assert (env.status, env.last_checkin, env.successes, env.failures) == ("ok", done_at, 1, 0)
    assert env.next_checkin == at(1)
    assert state.open_check_ins == {}
    assert cid(1) in state.finished_ids

    for late in (check_in(at(minutes=13), 1, "error"), check_in(at(minutes=13), 1, "ok"),
                 check_in(at(minutes=13), 1)):
        decision = reject(state, late)
        assert decision.outcome == "invalid"
        assert decision.detail == "A finished check-in cannot be changed."


def test_a_given_duration_is_kept_and_dates_a_new_check_in_back(monitor):
    _, events = accept(monitor, check_in(at(minutes=2), 1, "ok", duration=90_000))
    recorded = events[0].check_in
    assert recorded.duration == 90_000
    assert recorded.date_created == at(minutes=0.5)
    assert recorded.date_updated == at(minutes=2)
    assert recorded.timeout_at is None


def test_latest_targets_the_newest_open_check_in_of_the_environment(monitor):
    state, _ = accept(monitor, check_in(at(minutes=1), 1))
    state, _ = accept(state, check_in(at(minutes=2), 2))
    state, _ = accept(state, check_in(at(minutes=3), 3, environment="staging"))

    state, events = accept(state, check_in(at(minutes=4), 99, "ok", latest=True))
    assert events[0].check_in.id == cid(2)
    assert set(state.open_check_ins) == {cid(1), cid(3)}

    _, events = accept(state, check_in(at(minutes=5), 99, "error", latest=True))
    assert events[0].check_in.id == cid(1)

    assert reject(state, check_in(at(minutes=5), 99, "ok", latest=True, environment="dev")).outcome \
        == "not_found"


def test_a_nil_check_in_id_finishes_the_newest_open_check_in_or_starts_a_new_one(monitor):
    nil = 0  # cid(0): 32 zeros, as sent without an id
    state, events = accept(monitor, check_in(at(minutes=1), nil, "ok", command_id="cron-1"))
    first = events[0].check_in
    assert first.id != cid(nil) and first.status == "ok"
    assert accept(monitor, check_in(at(minutes=1), nil, "ok", command_id="cron-1"))[1][0].check_in.id == first.id

    state, events = accept(state, check_in(at(minutes=2), nil, "ok", command_id="cron-2"))
    assert events[0].check_in.id not in (first.id, cid(nil))  # a second finished run, not a refusal

    state, events = accept(state, check_in(at(minutes=3), nil, "in_progress", command_id="cron-3"))
    started = events[0].check_in
    state, events = accept(state, check_in(at(minutes=4), nil, "error", command_id="cron-4"))
    assert (events[0].check_in.id, events[0].check_in.status) == (started.id, "error")
    assert state.open_check_ins == {}


def test_a_check_in_cannot_move_to_another_environment(monitor):
    state, _ = accept(monitor, check_in(T0, 1))
    assert reject(state, check_in(at(minutes=1), 1, "ok", environment="staging")).outcome == "invalid"


def test_malformed_check_ins_are_invalid(monitor):
    assert reject(monitor, check_in(T0, 1, "ok", duration=-1)).outcome == "invalid"
    bad_id = RecordCheckIn(meta=meta(T0), org_id=ORG, slug=SLUG, check_in_id="not-hex")
    assert reject(monitor, bad_id).outcome == "invalid"


def test_a_first_check_in_with_a_monitor_config_creates_the_monitor():
    first = check_in(T0, 1, "ok", upsert_config=HOURLY, project_id=PROJECT)
    state, events = accept(initial_state(KEY), first)
    assert kinds(events) == [MonitorCreated, CheckInRecorded, MonitorEnvironmentStatusChanged,
                             MonitorUpdated]
    made = events[0].monitor
    assert (made.slug, made.name, made.project_id, made.config) == (SLUG, SLUG, PROJECT, HOURLY)
    assert made.environments == {}
    assert events[1].check_in.monitor_id == made.id
    assert state.monitor.environments["production"].status == "ok"
    # The id is derived from the command: deciding it again gives the same monitor.
    assert decide(KEY, initial_state(KEY), first).events[0].monitor.id == made.id

    no_project = check_in(T0, 1, "ok", upsert_config=HOURLY)
    assert reject(initial_state(KEY), no_project).outcome == "invalid"
    unknown = check_in(T0, 1, "ok")
    assert reject(initial_state(KEY), unknown).outcome == "not_found"


def test_a_check_in_with_a_changed_monitor_config_updates_the_monitor_first(checked_in):
    every_two_hours = MonitorConfig(schedule_type="crontab", schedule="0 */2 * * *")
    state, events = accept(checked_in, check_in(at(minutes=30), 2, upsert_config=every_two_hours,
                                                project_id=PROJECT))
    assert kinds(events) == [MonitorUpdated, CheckInRecorded, MonitorUpdated]
    assert events[0].monitor.config == every_two_hours
    assert state.monitor.config == every_two_hours
    assert state.monitor.environments["production"].next_checkin == at(2)

    other_project = check_in(at(minutes=31), 3, project_id=PROJECT + 1)
    assert reject(state, other_project).outcome == "not_found"


def test_a_crontab_monitor_expects_its_next_check_in_at_the_next_scheduled_time():
    daily = MonitorConfig(schedule_type="crontab", schedule="30 2 * * *", checkin_margin=10)
    state, _ = accept(created(daily), check_in(T0, 1, "ok"))
    env = state.monitor.environments["production"]
    assert env.next_checkin == datetime(2024, 5, 2, 2, 30, tzinfo=UTC)
    assert env.next_checkin_latest == datetime(2024, 5, 2, 2, 40, tzinfo=UTC)

    _, events = accept(state, check_in(datetime(2024, 5, 2, 2, 31, tzinfo=UTC), 2, "ok"))
    assert events[0].check_in.expected_time == datetime(2024, 5, 2, 2, 30, tzinfo=UTC)


def test_a_changed_schedule_moves_the_next_check_in_from_the_last_one(checked_in):
    quarterly = MonitorConfig(schedule_type="crontab", schedule="*/15 * * * *")
    state, events = accept(checked_in, upsert(at(minutes=40), config=quarterly))
    (updated,) = events
    env = updated.monitor.environments["production"]
    assert env.last_checkin == T0
    assert env.next_checkin == at(minutes=15)
    assert env.next_checkin_latest == at(minutes=16)


def test_a_disabled_monitor_refuses_check_ins_and_misses_nothing(checked_in):
    state, _ = accept(checked_in, upsert(at(minutes=10), status="disabled"))
    assert reject(state, check_in(at(minutes=20), 2, "ok")).outcome == "invalid"
    _, events = accept(state, tick(at(5)))
    assert events == []

    # Enabled again, it expects the next scheduled time after now, not the ones it skipped.
    state, events = accept(state, upsert(at(5, 30)))
    env = events[0].monitor.environments["production"]
    assert env.next_checkin == at(6)
    _, events = accept(state, tick(at(5, 31)))
    assert events == []


# --- the clock: missed check-ins ---------------------------------------------------------------


def test_a_tick_before_the_latest_check_in_time_changes_nothing(checked_in):
    for when in (at(1), at(1, 0, 59)):
        _, events = accept(checked_in, tick(when))
        assert events == []


def test_a_tick_past_the_latest_check_in_time_records_exactly_one_missed_check_in(checked_in):
    state, events = accept(checked_in, tick(at(1, 1)))
    assert kinds(events) == [CheckInRecorded, MonitorEnvironmentStatusChanged, MonitorUpdated]
    missed = events[0].check_in
    assert missed.status == "missed"
    assert (missed.expected_time, missed.date_created, missed.date_updated) == (at(1), at(1, 1), at(1, 1))
    assert missed.monitor_id == MONITOR_ID and missed.environment == "production"
    assert re.fullmatch(r"[0-9a-f]{32}", missed.id)
    change = events[1]
    assert (change.old_status, change.new_status, change.reason) == ("ok", "error", "failure_threshold")
    env = events[2].monitor.environments["production"]
    assert (env.status, env.failures, env.successes) == ("error", 1, 0)
    assert env.last_checkin == T0  # a missed check-in is not a check-in
    assert (env.next_checkin, env.next_checkin_latest) == (at(2), at(2, 1))

    _, again = accept(state, tick(at(1, 2)))
    assert again == []


def test_skipped_ticks_still_give_one_missed_check_in_per_expected_time(checked_in):
    state, events = accept(checked_in, tick(at(3, 30)))
    missed = [ev.check_in for ev in of(events, CheckInRecorded)]
    assert [m.expected_time for m in missed] == [at(1), at(2), at(3)]
    assert len({m.id for m in missed}) == 3
    assert len(of(events, MonitorEnvironmentStatusChanged)) == 1
    assert len(of(events, MonitorUpdated)) == 1
    env = state.monitor.environments["production"]
    assert (env.failures, env.next_checkin) == (3, at(4))


def test_missed_check_ins_per_tick_are_bounded_and_the_schedule_catches_up():
    minutely = MonitorConfig(schedule_type="crontab", schedule="* * * * *")
    state, _ = accept(created(minutely), check_in(T0, 1, "ok"))
    state, events = accept(state, tick(at(24)))
    assert len(of(events, CheckInRecorded)) == MAX_MISSED_PER_TICK
    env = state.monitor.environments["production"]
    assert env.next_checkin_latest > at(24)
    assert env.next_checkin == at(24)  # the first expected time not yet due


def test_the_environment_fails_after_the_failure_threshold_and_recovers_after_the_recovery_one():
    config = MonitorConfig(schedule_type="crontab", schedule="0 * * * *", failure_issue_threshold=3,
                           recovery_threshold=2)
    state, _ = accept(created(config), check_in(T0, 1, "ok"))

    state, events = accept(state, tick(at(1, 1)))
    state, more = accept(state, tick(at(2, 1)))
    assert of(events + more, MonitorEnvironmentStatusChanged) == []
    assert state.monitor.environments["production"].failures == 2

    state, events = accept(state, tick(at(3, 1)))
    (change,) = of(events, MonitorEnvironmentStatusChanged)
    assert (change.old_status, change.new_status, change.reason) == ("ok", "error", "failure_threshold")

    state, events = accept(state, check_in(at(4), 2, "ok"))
    assert of(events, MonitorEnvironmentStatusChanged) == []
    env = state.monitor.environments["production"]
    assert (env.status, env.successes, env.failures) == ("error", 1, 0)

    state, events = accept(state, check_in(at(5), 3, "ok"))
    (change,) = of(events, MonitorEnvironmentStatusChanged)
    assert (change.old_status, change.new_status, change.reason) == ("error", "ok", "recovery_threshold")
    assert state.monitor.environments["production"].status == "ok"


def test_an_error_check_in_is_a_failure(monitor):
    state, events = accept(monitor, check_in(T0, 1, "error"))
    (change,) = of(events, MonitorEnvironmentStatusChanged)
    assert (change.old_status, change.new_status) == ("active", "error")
    env = state.monitor.environments["production"]
    assert (env.failures, env.next_checkin) == (1, at(1))


# --- the clock: timeouts -----------------------------------------------------------------------


def test_a_check_in_past_its_maximum_runtime_times_out_and_cannot_finish_later(monitor):
    state, _ = accept(monitor, check_in(T0, 1))
    _, events = accept(state, tick(at(minutes=29)))
    assert events == []

    state, events = accept(state, tick(at(minutes=30)))
    assert kinds(events) == [CheckInRecorded, MonitorEnvironmentStatusChanged, MonitorUpdated]
    timed_out = events[0].check_in
    assert (timed_out.id, timed_out.status, timed_out.date_updated) == (cid(1), "timeout", at(minutes=30))
    assert (events[1].old_status, events[1].new_status) == ("active", "error")
    assert state.open_check_ins == {}
    assert state.monitor.environments["production"].failures == 1

    late = reject(state, check_in(at(minutes=31), 1, "ok"))
    assert late.outcome == "invalid"
    assert late.detail == "A finished check-in cannot be changed."


def test_heartbeats_keep_a_long_check_in_from_timing_out():
    config = MonitorConfig(schedule_type="crontab", schedule="0 * * * *", max_runtime=10)
    state, _ = accept(created(config), check_in(T0, 1))
    state, _ = accept(state, check_in(at(minutes=8), 1))
    _, events = accept(state, tick(at(minutes=10)))
    assert events == []
    _, events = accept(state, tick(at(minutes=18)))
    assert [ev.check_in.status for ev in of(events, CheckInRecorded)] == ["timeout"]


def test_open_check_ins_of_a_deleted_environment_time_out_without_counting(monitor):
    state, _ = accept(monitor, check_in(T0, 1, "ok"))
    state, _ = accept(state, check_in(at(minutes=1), 2, environment="staging"))
    state, _ = accept(state, DeleteMonitor(meta=meta(at(minutes=2)), org_id=ORG, slug=SLUG,
                                           environments=["staging"]))
    assert reject(state, check_in(at(minutes=3), 2, "ok", environment="staging")).outcome == "not_found"

    state, events = accept(state, tick(at(minutes=31)))
    assert kinds(events) == [CheckInRecorded]
    assert events[0].check_in.status == "timeout"
    assert state.orphaned == {} and state.open_check_ins == {}


def test_open_check_ins_of_a_deleted_monitor_time_out_without_touching_a_new_one(monitor):
    state, _ = accept(monitor, check_in(T0, 1))
    state, _ = accept(state, DeleteMonitor(meta=meta(at(minutes=1)), org_id=ORG, slug=SLUG))
    state, _ = accept(state, upsert(at(minutes=2), monitor_id=8))
    state, _ = accept(state, check_in(at(minutes=3), 2, "ok"))

    state, events = accept(state, tick(at(minutes=30)))
    assert kinds(events) == [CheckInRecorded]
    assert (events[0].check_in.id, events[0].check_in.monitor_id) == (cid(1), MONITOR_ID)
    assert state.monitor.environments["production"].status == "ok"


# --- determinism and replays -------------------------------------------------------------------


def test_events_are_stamped_from_the_command(checked_in):
    command = tick(at(3, 30), command_id="tick-1")
    events = decide(KEY, checked_in, command).events
    assert [ev.meta.version for ev in events] == list(
        range(checked_in.version + 1, checked_in.version + 1 + len(events)))
    assert [ev.meta.event_id for ev in events] == [f"tick-1:{n}" for n in range(len(events))]
    assert {ev.meta.timestamp for ev in events} == {at(3, 30)}
    assert {ev.meta.aggregate for ev in events} == {KEY}
    assert [ev.meta.reply_to for ev in events] == [None] * (len(events) - 1) + ["gw-1"]


def test_the_same_command_on_the_same_state_gives_the_same_events(checked_in):
    state, _ = accept(checked_in, check_in(at(1, 30), 2))
    for command in (tick(at(5), "tick-2"), check_in(at(1, 40), 2, "ok", command_id="c-9"),
                    check_in(at(1, 40), 3, upsert_config=HOURLY, project_id=PROJECT,
                             command_id="c-10")):
        first = decide(KEY, state, command)
        second = decide(KEY, msgspec.structs.replace(state), command)
        assert msgspec.msgpack.encode(first.events) == msgspec.msgpack.encode(second.events)


def test_a_redelivered_command_is_a_duplicate(monitor):
    command = check_in(T0, 1, "ok")
    state, _ = accept(monitor, command)
    decision = decide(KEY, state, command)
    assert isinstance(decision, Accepted)
    assert decision.duplicate and decision.events == []


def test_replaying_events_changes_nothing():
    state, history = initial_state(KEY), []
    for command in (upsert(), check_in(T0, 1), check_in(at(minutes=5), 1, "ok"), tick(at(3, 30)),
                    check_in(at(4), 2), tick(at(5))):
        decision = decide(KEY, state, command)
        history.extend(decision.events)
        state = fold(state, decision.events)

    assert fold(state, history) == state
    assert evolve(state, history[0]) == state
    half = len(history) // 2
    assert fold(fold(initial_state(KEY), history[: half + 2]), history[half:]) == state
