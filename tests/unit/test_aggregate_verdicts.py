"""What a deciding agent does with one command (`read_command`, `judge` of the application layer),
for both the Faust agent and the batch Decider: dead letters with a reason, answers to the waiting
caller (addressed to it), events."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import msgspec
from picket.schemas import topics as t
from tests.support.rename_context import Meta, Rename
from picket.application.aggregates import Context, Verdict, answer, judge, read_command
from picket.decisions import Accepted, Rejected


@dataclass(frozen=True)
class Renamed:
    name: str


def _decide(key: str, state: Any, command: Rename) -> Any:
    if command.name == "boom":
        raise RuntimeError("a defect")
    if not command.name:
        return Rejected("invalid", "A name is required.")
    if command.name == state:
        return Accepted([])
    return Accepted([Renamed(command.name)])


COMMANDS = t.Topic("test-commands", partitions=1, key="k", value_type=Rename, retention_ms=1000,
                   dead_letter="monitors-commands-dlq", key_of=lambda c: c.key)
CTX = Context(
    name="test", commands=COMMANDS, events=t.MONITORS_EVENTS, event_log_table="test_events",
    decide=_decide, fold=lambda s, evs: evs[-1].name, initial_state=lambda key: None,
    project=lambda ev: {}, columns={},
)


def _raw(name: str, key: str = "k1", reply_to: str | None = "gw-1") -> bytes:
    return msgspec.msgpack.encode(Rename(meta=Meta("c1", reply_to), key=key, name=name))


def test_an_undecodable_command_is_dead_lettered_with_the_reason() -> None:
    verdict = read_command(CTX, "k1", b"\x00 not msgpack")
    assert isinstance(verdict, Verdict) and verdict.dead_reason.startswith("undecodable command")
    assert verdict.reply is None and verdict.events == ()


def test_a_command_on_another_aggregates_key_is_dead_lettered_and_refused() -> None:
    verdict = read_command(CTX, "k2", _raw("x", key="k1"))
    assert isinstance(verdict, Verdict)
    assert verdict.dead_reason == "command keyed 'k2', expected 'k1'"
    assert (verdict.reply.outcome, verdict.reply.detail, verdict.reply.reply_to) == ("invalid", "Misrouted command.", "gw-1")


def test_a_rejection_is_answered_at_once_without_events() -> None:
    verdict = judge(CTX, "k1", None, read_command(CTX, "k1", _raw("")))
    assert verdict.events == () and verdict.dead_reason is None
    assert (verdict.reply.outcome, verdict.reply.detail, verdict.reply.command_id) == ("invalid", "A name is required.", "c1")


def test_an_accepted_change_publishes_events_and_leaves_the_answer_to_the_projection() -> None:
    verdict = judge(CTX, "k1", None, read_command(CTX, "k1", _raw("new")))
    assert verdict.events == (Renamed("new"),) and verdict.reply is None


def test_nothing_to_change_is_accepted_at_once() -> None:
    verdict = judge(CTX, "k1", "same", read_command(CTX, "k1", _raw("same")))
    assert verdict.events == () and verdict.reply.outcome == "accepted"


def test_a_failing_decide_is_dead_lettered_and_refused_not_raised() -> None:
    verdict = judge(CTX, "k1", None, read_command(CTX, "k1", _raw("boom")))
    assert verdict.dead_reason == "decide failed: RuntimeError('a defect')"
    assert (verdict.reply.outcome, verdict.reply.detail) == ("invalid", "The change could not be applied.")


def test_without_a_waiting_caller_there_is_no_one_to_answer() -> None:
    verdict = judge(CTX, "k1", None, read_command(CTX, "k1", _raw("", reply_to=None)))
    assert verdict.reply is None and verdict.dead_reason is None and verdict.events == ()


def test_a_context_that_answers_at_decision_answers_with_the_events_and_unaddresses_them() -> None:
    class EventMeta(msgspec.Struct, frozen=True):
        command_id: str
        reply_to: str | None

    class Named(msgspec.Struct, frozen=True):
        meta: EventMeta
        name: str

    def decide(key: str, state: Any, command: Rename) -> Any:
        return Accepted([Named(EventMeta(command.meta.command_id, command.meta.reply_to), command.name)])

    def answered(command: Rename, events: tuple[Any, ...]) -> Any:
        return answer(command.meta, "accepted", f"named {events[-1].name}")

    ctx = dataclasses.replace(CTX, decide=decide, answer_decided=answered)
    verdict = judge(ctx, "k1", None, read_command(ctx, "k1", _raw("new")))
    assert verdict.reply is not None and (verdict.reply.outcome, verdict.reply.detail) == ("accepted", "named new")
    assert [(e.name, e.meta.reply_to) for e in verdict.events] == [("new", None)]  # the projection answers no one
    silent = dataclasses.replace(ctx, answer_decided=lambda command, events: None)
    left = judge(silent, "k1", None, read_command(silent, "k1", _raw("new")))
    assert left.reply is None and left.events[0].meta.reply_to == "gw-1"
