"""The batch deciding agent's steps, without a broker: commands of one key are decided in order
against the state the earlier ones left; a refused command is answered and dead-lettered; a
command whose deciding breaks is dead-lettered and its caller told, while the rest of the batch
goes on; the batch's states are kept only once it is produced, and dropped if it is not. (The
producer is a stand-in: on a real broker, `tests/integration/test_checkin_crash.py`.)"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from aiokafka.errors import KafkaConnectionError

from picket.agents.aggregate import decider_pipeline
from picket.application.aggregates import Context, StateCache
from picket.bus.topics import Topics
from picket.decisions import Accepted, Rejected
from picket.bus.publisher import Record
from picket.schemas import topics as t
from tests.support.rename_context import Meta, Rename

TOPICS = Topics(prefix="p-")


class Renamed(msgspec.Struct):
    name: str


def decide(key: str, state: Any, command: Rename) -> Any:
    if not command.name:
        return Rejected("invalid", "A name is required.")
    return Accepted([] if command.name == state else [Renamed(command.name)])


def fold(state: Any, events: list[Renamed]) -> Any:
    if any(e.name == "unfoldable" for e in events):
        raise RuntimeError("a defect in fold")
    return events[-1].name if events else state


COMMANDS = t.Topic("test-commands", partitions=1, key="k", value_type=Rename, retention_ms=1000,
                   dead_letter="monitors-commands-dlq", key_of=lambda c: c.key)
EVENTS = t.Topic("test-events", partitions=1, key="k", value_type=Renamed, retention_ms=1000,
                 key_of=lambda e: "k1")
CTX = Context(name="test", commands=COMMANDS, events=EVENTS, event_log_table="test_events", decide=decide,
              fold=fold, initial_state=lambda key: None, project=lambda ev: {}, columns={})


@dataclass(frozen=True)
class Msg:
    value: bytes
    offset: int
    key: bytes = b"k1"
    topic: str = "p-test-commands"
    partition: int = 0
    headers: tuple[tuple[str, bytes], ...] = ()


def command(offset: int, name: str) -> Msg:
    return Msg(msgspec.msgpack.encode(Rename(Meta(f"c{offset}", "gw-1"), "k1", name)), offset)


async def no_history(key: str, partition: int) -> list[bytes]:
    return []


class Producer:
    """Takes what the pipeline sends (the broker is out of this test), or fails every send."""

    def __init__(self, fails: bool = False) -> None:
        self.fails = fails
        self.sent: list[Record] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = ()) -> Any:
        if self.fails:
            raise KafkaConnectionError("the broker is away")
        self.sent.append(Record(topic, value, key, tuple(headers)))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def decide_batch(states: StateCache, *msgs: Msg, fails: bool = False) -> list[Record]:
    """Run the decider's pipeline over one batch; what it sent."""
    producer = Producer(fails)
    asyncio.run(decider_pipeline(CTX, TOPICS, states, producer)(list(msgs)))  # type: ignore[arg-type]
    return producer.sent


def sent(records: list[Record], topic: str) -> list[Record]:
    return [r for r in records if r.topic == topic]


def test_later_commands_see_the_state_earlier_ones_left() -> None:
    states = StateCache(CTX, no_history)
    batch = decide_batch(states, command(0, "a"), command(1, "a"), command(2, "b"))
    assert [EVENTS.decode(r.value).name for r in sent(batch, "p-test-events")] == ["a", "b"]
    replies = [t.COMMAND_REPLIES.decode(r.value) for r in sent(batch, TOPICS.name(t.COMMAND_REPLIES))]
    assert [(r.command_id, r.outcome) for r in replies] == [("c1", "accepted")]  # the no-op, at once
    assert asyncio.run(states.get("k1", 0)) == "b"


def test_refused_and_broken_commands_are_dead_lettered_and_answered_while_the_rest_goes_on() -> None:
    states = StateCache(CTX, no_history)
    batch = decide_batch(states, command(0, ""), command(1, "unfoldable"), command(2, "c"))
    replies = {r.command_id: (r.outcome, r.detail) for r in
               (t.COMMAND_REPLIES.decode(x.value) for x in sent(batch, TOPICS.name(t.COMMAND_REPLIES)))}
    assert replies == {"c0": ("invalid", "A name is required."),
                       "c1": ("invalid", "The change could not be applied.")}
    dead = sent(batch, "p-monitors-commands-dlq")
    assert [(r.value, dict(r.headers)["reason"].decode()) for r in dead] == [
        (command(1, "unfoldable").value, "processing failed: RuntimeError: a defect in fold")]
    assert [EVENTS.decode(r.value).name for r in sent(batch, "p-test-events")] == ["c"]


def test_a_batch_that_was_not_produced_leaves_no_state_behind() -> None:
    loads: list[str] = []

    async def history(key: str, partition: int) -> list[bytes]:
        loads.append(key)
        return []

    states = StateCache(CTX, history)
    with pytest.raises(KafkaConnectionError):
        decide_batch(states, command(0, "a"), fails=True)
    assert asyncio.run(states.get("k1", 0)) is None  # rebuilt from the (empty) log, not "a"
    assert loads == ["k1", "k1"]
