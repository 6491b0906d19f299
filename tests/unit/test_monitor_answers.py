"""Which monitor commands are answered at decision: a check-in, with the check-in as decided;
not a check-in that creates or reconfigures its monitor, nor any other command, nor one nobody
waits for (those keep read-your-writes, answered by the projection)."""

from __future__ import annotations

from datetime import datetime, timezone

from picket.monitors.answers import check_in_answer
from picket.monitors.decide import decide
from picket.monitors.evolve import fold
from picket.monitors.state import MonitorState, initial_state
from picket.schemas import monitors as m

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
KEY = m.monitor_key(1, "job")
CONFIG = m.MonitorConfig(schedule_type="crontab", schedule="0 3 * * *")


def meta(command_id: str, reply_to: str | None = "gw-1") -> m.MonitorCommandMeta:
    return m.MonitorCommandMeta(command_id=command_id, at=NOW, reply_to=reply_to)


def monitor_state() -> MonitorState:
    upsert = m.UpsertMonitor(meta=meta("c0"), org_id=1, slug="job", monitor_id=5, project_id=2, name="job",
                             config=CONFIG)
    state = initial_state(KEY)
    return fold(state, list(decide(KEY, state, upsert).events))


def check_in(command_id: str, **fields: object) -> m.RecordCheckIn:
    return m.RecordCheckIn(meta=meta(command_id, fields.pop("reply_to", "gw-1")), org_id=1, slug="job",  # type: ignore[arg-type]
                           check_in_id="a" * 32, **fields)


def test_a_check_in_is_answered_with_the_check_in_as_decided() -> None:
    command = check_in("c1", status="ok", duration=1500)
    events = tuple(decide(KEY, monitor_state(), command).events)
    reply = check_in_answer(command, events)
    assert reply is not None and (reply.command_id, reply.outcome, reply.reply_to) == ("c1", "accepted", "gw-1")
    assert reply.check_in is not None
    assert (reply.check_in.id, reply.check_in.status, reply.check_in.duration) == ("a" * 32, "ok", 1500)


def test_a_check_in_that_configures_its_monitor_is_left_to_the_projection() -> None:
    command = check_in("c1", status="ok", upsert_config=CONFIG, project_id=2)
    assert check_in_answer(command, tuple(decide(KEY, monitor_state(), command).events)) is None


def test_other_commands_and_unawaited_check_ins_are_not_answered_at_decision() -> None:
    upsert = m.UpsertMonitor(meta=meta("c2"), org_id=1, slug="job", monitor_id=5, project_id=2, name="renamed",
                             config=CONFIG)
    assert check_in_answer(upsert, tuple(decide(KEY, monitor_state(), upsert).events)) is None
    unawaited = check_in("c3", status="ok", reply_to=None)
    assert check_in_answer(unawaited, tuple(decide(KEY, monitor_state(), unawaited).events)) is None
