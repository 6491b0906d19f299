"""The deciding agent of an event-sourced context, and the projection of its events.

Two agents share one verdict step (`read_command`, `judge`): a Faust agent per command
(`install`) and, for high-volume contexts, a batch consumer (`Decider`) that awaits the acks
of a whole batch at once.

For each command on the context's command topic (partitioned by aggregate key) the agent takes
the aggregate's state, calls the context's pure `decide`, and then:
- rejected: answers the waiting gateway with the verdict;
- accepted: publishes the events, waits for the broker's ack, and keeps the folded state. The
  projection answers the gateway once the rows are written.

State is rebuilt from the log: an aggregate not held in memory (first touch since start, or
evicted) is folded from the event log archived in ClickHouse, after waiting until the
projection has archived everything on the aggregate's event partition. A crash after
publishing but before keeping the state is therefore harmless: the events are in the log, the
rebuilt state has them, and a redelivered command is recognised by its id and answered
without new events.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust
import msgspec
from aiokafka import AIOKafkaProducer

from picket.schemas.replies import Reply
from picket.schemas.topics import COMMAND_REPLIES, Topic
from picket.agents.batch import BatchConsumer
from picket.agents.codec import encode
from picket.agents.items import Output, Table
from picket.bus.publisher import Record
from picket.agents.wiring import Wiring
from picket.bus.watermark import GroupWatermark
from picket.config import Settings, topic_name
from picket.store import event_log
from picket.store.client import Store

log = logging.getLogger(__name__)

_RAW = {"key_type": bytes, "value_type": bytes}
# Aggregates kept in memory per worker; evicted ones are rebuilt from the log when needed.
MAX_STATES = 10_000


@dataclass(frozen=True)
class Context:
    """What makes one bounded context: its topics, codecs and pure functions."""

    name: str
    commands: Topic
    events: Topic
    dead_letters: Topic
    event_log_table: str
    decode_command: Callable[[bytes], Any]
    decode_event: Callable[[bytes], Any]
    key_of: Callable[[Any], str]  # the aggregate key a command belongs to
    decide: Callable[[str, Any, Any], Any]  # (key, state, command) -> Accepted | Rejected
    fold: Callable[[Any, list[Any]], Any]
    initial_state: Callable[[str], Any]
    project: Callable[[Any], dict[str, list[tuple[Any, ...]]]]  # event -> table -> rows
    columns: dict[str, tuple[str, ...]]  # table -> column names

    def projector_group(self, settings: Settings) -> str:
        return f"{settings.app_id}-{self.name}-projector"


class StateCache:
    """Aggregate states by key, least recently used evicted; misses rebuilt from the log."""

    def __init__(self, ctx: Context, store: Store, watermark: GroupWatermark) -> None:
        self._ctx = ctx
        self._store = store
        self._watermark = watermark
        self._states: OrderedDict[str, Any] = OrderedDict()

    async def get(self, key: str, partition: int) -> Any:
        state = self._states.get(key)
        if state is not None:
            self._states.move_to_end(key)
            return state
        await self._watermark.wait_caught_up(partition)
        raw = await asyncio.to_thread(event_log.read_aggregate, self._store, key, self._ctx.event_log_table)
        state = self._ctx.fold(self._ctx.initial_state(key), [self._ctx.decode_event(r) for r in raw])
        self.put(key, state)
        return state

    def put(self, key: str, state: Any) -> None:
        self._states[key] = state
        self._states.move_to_end(key)
        while len(self._states) > MAX_STATES:
            self._states.popitem(last=False)

    def forget(self, key: str) -> None:
        """Drop a state that may be behind the log: the next `get` rebuilds it."""
        self._states.pop(key, None)

    def clear(self) -> None:
        self._states.clear()


@dataclass(frozen=True)
class Verdict:
    """What to do with one command: publish `events`, answer the caller, dead-letter it (any
    that apply)."""

    events: tuple[Any, ...] = ()
    reply: Reply | None = None
    reply_to: str | None = None
    dead_reason: str | None = None


def _answer(meta: Any, outcome: str, detail: str | None = None, entity_id: int | None = None) -> dict[str, Any]:
    reply = Reply(command_id=meta.command_id, outcome=outcome, detail=detail, entity_id=entity_id)  # type: ignore[arg-type]
    return {"reply": reply, "reply_to": meta.reply_to or None}


def read_command(ctx: Context, key: str, value: bytes) -> Any:
    """The command of a message, or the Verdict for one that cannot be decided (undecodable,
    keyed to another aggregate)."""
    try:
        command = ctx.decode_command(value)
    except msgspec.DecodeError as exc:
        return Verdict(dead_reason=f"undecodable command: {exc}")
    if ctx.key_of(command) != key:
        return Verdict(dead_reason=f"command keyed {key!r}, expected {ctx.key_of(command)!r}",
                       **_answer(command.meta, "invalid", "Misrouted command."))
    return command


def judge(ctx: Context, key: str, state: Any, command: Any) -> Verdict:
    """Decide `command` against `state`: events to publish, or the answer to give at once."""
    meta = command.meta
    try:
        decision = ctx.decide(key, state, command)
    except Exception as exc:  # a defect, not a verdict: keep the partition moving
        log.exception("deciding %s failed", type(command).__name__)
        return Verdict(dead_reason=f"decide failed: {exc!r}",
                       **_answer(meta, "invalid", "The change could not be applied."))
    if not hasattr(decision, "events"):  # a rejection: outcome and detail
        return Verdict(**_answer(meta, decision.outcome, decision.detail, getattr(decision, "entity_id", None)))
    if not decision.events:  # nothing to change (a duplicate, a no-op): accepted as is
        return Verdict(**_answer(meta, "accepted"))
    return Verdict(events=tuple(decision.events))


def install(app: faust.App, settings: Settings, ctx: Context, states: StateCache) -> Any:
    """Declare the context's topics and deciding agent on `app`; returns the agent."""
    commands = app.topic(topic_name(settings, ctx.commands), partitions=ctx.commands.partitions, **_RAW)
    events = app.topic(topic_name(settings, ctx.events), partitions=ctx.events.partitions, **_RAW)
    replies = app.topic(topic_name(settings, COMMAND_REPLIES), partitions=COMMAND_REPLIES.partitions, **_RAW)
    dead = app.topic(topic_name(settings, ctx.dead_letters), partitions=1, **_RAW)

    async def carry_out(message: Any, verdict: Verdict) -> None:
        if verdict.dead_reason is not None:
            log.error("%s command to dead letters: %s", ctx.name, verdict.dead_reason)
            fut = await dead.send(
                key=message.key, value=message.value,
                headers=[("reason", verdict.dead_reason.encode()), ("source", message.topic.encode())],
            )
            await fut
        if verdict.reply is not None and verdict.reply_to:
            await replies.send(key=verdict.reply_to.encode(), value=encode(verdict.reply))

    async def agent(stream: Any) -> None:
        async for message in stream.events():
            raw_key = message.key or b""
            key = raw_key.decode(errors="replace")
            command = read_command(ctx, key, message.value)
            if isinstance(command, Verdict):
                await carry_out(message.message, command)
                continue
            state = await states.get(key, message.message.partition)
            verdict = judge(ctx, key, state, command)
            await carry_out(message.message, verdict)
            if verdict.events:
                acks = [await events.send(key=raw_key, value=encode(ev)) for ev in verdict.events]
                await asyncio.gather(*acks)
                states.put(key, ctx.fold(state, list(verdict.events)))

    return app.agent(commands, name=ctx.name)(agent)


class Decider:
    """The deciding agent as a batch handler (for `BatchConsumer`), for high-volume contexts.

    Same verdicts as the Faust agent of `install`, but a batch of commands is decided in order
    (a key's later commands see the state its earlier ones left), all their events are published
    together and their acks awaited once, and only then are the new states kept and the offsets
    committed. If publishing fails, the states the batch touched are dropped and the batch is
    retried: each touched aggregate is rebuilt from the log, so commands whose events did reach
    the log are recognised by their ids, not decided twice.
    """

    def __init__(self, ctx: Context, settings: Settings, states: StateCache, producer: AIOKafkaProducer) -> None:
        self._ctx = ctx
        self._states = states
        self._producer = producer
        self._events = topic_name(settings, ctx.events)
        self._replies = topic_name(settings, COMMAND_REPLIES)
        self._dead = topic_name(settings, ctx.dead_letters)

    async def __call__(self, messages: list[Any]) -> None:
        touched: dict[str, Any] = {}
        try:
            await self._decide_all(messages, touched)
        except BaseException:
            for key in touched:
                self._states.forget(key)
            raise
        for key, state in touched.items():
            self._states.put(key, state)

    async def _decide_all(self, messages: list[Any], touched: dict[str, Any]) -> None:
        sends = []
        for message in messages:
            raw_key = message.key or b""
            key = raw_key.decode(errors="replace")
            command = read_command(self._ctx, key, message.value)
            if isinstance(command, Verdict):
                sends += await self._carry_out(message, command)
                continue
            state = touched[key] if key in touched else await self._states.get(key, message.partition)
            verdict = judge(self._ctx, key, state, command)
            sends += await self._carry_out(message, verdict)
            for event in verdict.events:
                sends.append(await self._producer.send(self._events, encode(event), key=raw_key))
            if verdict.events:
                touched[key] = self._ctx.fold(state, list(verdict.events))
        await asyncio.gather(*sends)

    async def _carry_out(self, message: Any, verdict: Verdict) -> list[Any]:
        """Dead-letters at once (waiting for the ack); returns the reply's send to await."""
        if verdict.dead_reason is not None:
            log.error("%s command to dead letters: %s", self._ctx.name, verdict.dead_reason)
            source = f"{message.topic}/{message.partition}/{message.offset}"
            await self._producer.send_and_wait(
                self._dead, message.value, key=message.key,
                headers=[("reason", verdict.dead_reason.encode()), ("source", source.encode())],
            )
        if verdict.reply is not None and verdict.reply_to:
            return [await self._producer.send(self._replies, encode(verdict.reply), key=verdict.reply_to.encode())]
        return []


def decider(ctx: Context, w: Wiring, states: StateCache) -> BatchConsumer:
    """The batch-consuming deciding agent of `ctx` (one consumer group: one writer per partition).
    After a rebalance it forgets every state: another worker may have decided meanwhile."""
    return w.consumer(f"{ctx.name}-decider", ctx.commands, w.group(f"{ctx.name}-decider"),
                      Decider(ctx, w.settings, states, w.producer), on_rebalance=states.clear)


class Projection:
    """Per message of a context's events: its archive row, its rows, the answer to its caller.

    A crash replays the batch; rows are versioned and replayed replies find no waiter, so a
    replay changes nothing. An event that cannot be decoded or projected goes to the dead
    letters with the reason (and its caller is told the change could not be stored); the
    others go on.
    """

    def __init__(self, ctx: Context, settings: Settings) -> None:
        self._ctx = ctx
        self._replies = topic_name(settings, COMMAND_REPLIES)
        self._log = Table(ctx.event_log_table, event_log.COLUMNS)
        self._tables = {name: Table(name, columns) for name, columns in ctx.columns.items()}
        self.order = (self._log, *self._tables.values())  # archived before projected

    async def process(self, msg: Any) -> Output:
        event = self._ctx.decode_event(msg.value)
        out = Output().add_rows(self._log, [event_log.event_row(event, msg.value)])
        for table, rows in self._ctx.project(event).items():
            out.add_rows(self._tables[table], rows)
        meta = event.meta
        if meta.reply_to:
            reply = Reply(command_id=meta.command_id, outcome="accepted")
            out.records.append(Record(self._replies, encode(reply), meta.reply_to.encode()))
        return out

    def failed(self, msg: Any, reason: str) -> list[Record]:
        """The answer to the caller of an event that could not be stored, if it can be read."""
        try:
            meta = self._ctx.decode_event(msg.value).meta
        except (msgspec.DecodeError, TypeError, ValueError):
            return []
        if not meta.reply_to:
            return []
        reply = Reply(command_id=meta.command_id, outcome="invalid", detail="The change could not be stored.")
        return [Record(self._replies, encode(reply), meta.reply_to.encode())]


def projector(ctx: Context, w: Wiring) -> BatchConsumer:
    projection = Projection(ctx, w.settings)
    name = f"{ctx.name}-projector"
    handler = w.items(name, ctx.events, projection.process, outcomes=False, order=projection.order,
                      on_failure=projection.failed)
    return w.consumer(name, ctx.events, ctx.projector_group(w.settings), handler)
