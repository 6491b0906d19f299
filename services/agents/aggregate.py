"""The deciding agent of an event-sourced context, and the projection of its events.

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

from schemas.replies import Reply
from schemas.topics import COMMAND_REPLIES, Topic
from services.agents.batch import BatchConsumer
from services.agents.codec import encode
from services.bus.watermark import GroupWatermark
from services.config import Settings, topic_name
from services.store import event_log
from services.store.client import Store

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


def install(app: faust.App, settings: Settings, ctx: Context, states: StateCache) -> Any:
    """Declare the context's topics and deciding agent on `app`; returns the agent."""
    commands = app.topic(topic_name(settings, ctx.commands), partitions=ctx.commands.partitions, **_RAW)
    events = app.topic(topic_name(settings, ctx.events), partitions=ctx.events.partitions, **_RAW)
    replies = app.topic(topic_name(settings, COMMAND_REPLIES), partitions=COMMAND_REPLIES.partitions, **_RAW)
    dead = app.topic(topic_name(settings, ctx.dead_letters), partitions=1, **_RAW)

    async def answer(reply_to: str | None, command_id: str, outcome: str, detail: str | None = None,
                     entity_id: int | None = None) -> None:
        if reply_to:
            reply = Reply(command_id=command_id, outcome=outcome, detail=detail, entity_id=entity_id)  # type: ignore[arg-type]
            await replies.send(key=reply_to.encode(), value=encode(reply))

    async def dead_letter(message: Any, reason: str) -> None:
        log.error("%s command to dead letters: %s", ctx.name, reason)
        fut = await dead.send(
            key=message.key, value=message.value,
            headers=[("reason", reason.encode()), ("source", message.topic.encode())],
        )
        await fut

    async def agent(stream: Any) -> None:
        async for message in stream.events():
            raw_key = message.key or b""
            key = raw_key.decode(errors="replace")
            try:
                command = ctx.decode_command(message.value)
            except msgspec.DecodeError as exc:
                await dead_letter(message.message, f"undecodable command: {exc}")
                continue
            meta = command.meta
            if ctx.key_of(command) != key:
                await dead_letter(message.message, f"command keyed {key!r}, expected {ctx.key_of(command)!r}")
                await answer(meta.reply_to, meta.command_id, "invalid", "Misrouted command.")
                continue
            state = await states.get(key, message.message.partition)
            try:
                decision = ctx.decide(key, state, command)
            except Exception as exc:  # a defect, not a verdict: keep the partition moving
                log.exception("deciding %s failed", type(command).__name__)
                await dead_letter(message.message, f"decide failed: {exc!r}")
                await answer(meta.reply_to, meta.command_id, "invalid", "The change could not be applied.")
                continue
            if not hasattr(decision, "events"):  # a rejection: outcome and detail
                await answer(meta.reply_to, meta.command_id, decision.outcome, decision.detail,
                             getattr(decision, "entity_id", None))
                continue
            if not decision.events:
                await answer(meta.reply_to, meta.command_id, "accepted")
                continue
            acks = [await events.send(key=raw_key, value=encode(ev)) for ev in decision.events]
            await asyncio.gather(*acks)
            states.put(key, ctx.fold(state, decision.events))

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
            try:
                command = self._ctx.decode_command(message.value)
            except msgspec.DecodeError as exc:
                await self._dead_letter(message, f"undecodable command: {exc}")
                continue
            meta = command.meta
            if self._ctx.key_of(command) != key:
                await self._dead_letter(message, f"command keyed {key!r}, expected {self._ctx.key_of(command)!r}")
                sends.append(await self._answer(meta.reply_to, meta.command_id, "invalid", "Misrouted command."))
                continue
            state = touched[key] if key in touched else await self._states.get(key, message.partition)
            try:
                decision = self._ctx.decide(key, state, command)
            except Exception as exc:  # a defect, not a verdict: keep the partition moving
                log.exception("deciding %s failed", type(command).__name__)
                await self._dead_letter(message, f"decide failed: {exc!r}")
                sends.append(await self._answer(meta.reply_to, meta.command_id, "invalid",
                                                "The change could not be applied."))
                continue
            if not hasattr(decision, "events"):  # a rejection: outcome and detail
                sends.append(await self._answer(meta.reply_to, meta.command_id, decision.outcome, decision.detail,
                                                getattr(decision, "entity_id", None)))
                continue
            if not decision.events:
                sends.append(await self._answer(meta.reply_to, meta.command_id, "accepted"))
                continue
            for event in decision.events:
                sends.append(await self._producer.send(self._events, encode(event), key=raw_key))
            touched[key] = self._ctx.fold(state, decision.events)
        await asyncio.gather(*(s for s in sends if s is not None))

    async def _answer(self, reply_to: str | None, command_id: str, outcome: str, detail: str | None = None,
                      entity_id: int | None = None) -> Any:
        if not reply_to:
            return None
        reply = Reply(command_id=command_id, outcome=outcome, detail=detail, entity_id=entity_id)  # type: ignore[arg-type]
        return await self._producer.send(self._replies, encode(reply), key=reply_to.encode())

    async def _dead_letter(self, message: Any, reason: str) -> None:
        log.error("%s command to dead letters: %s", self._ctx.name, reason)
        await self._producer.send_and_wait(
            self._dead, message.value, key=message.key,
            headers=[("reason", reason.encode()), ("source", f"{message.topic}/{message.partition}/{message.offset}".encode())],
        )


def decider(ctx: Context, settings: Settings, bootstrap: str, states: StateCache,
            producer: AIOKafkaProducer) -> BatchConsumer:
    """The batch-consuming deciding agent of `ctx` (one consumer group: one writer per partition).
    After a rebalance it forgets every state: another worker may have decided meanwhile."""
    return BatchConsumer(
        f"{ctx.name}-decider", bootstrap, topic_name(settings, ctx.commands), f"{settings.app_id}-{ctx.name}-decider",
        Decider(ctx, settings, states, producer), on_rebalance=states.clear, fast_join=settings.fast_group_join,
    )


class Projection:
    """Batch handler: archive a batch of a context's events, write its rows, answer callers.

    A crash replays the batch; rows are versioned and replayed replies find no waiter, so a
    replay changes nothing. Undecodable events go to the dead-letter topic with the reason.
    """

    def __init__(self, ctx: Context, settings: Settings, store: Store, producer: AIOKafkaProducer) -> None:
        self._ctx = ctx
        self._store = store
        self._producer = producer
        self._replies = topic_name(settings, COMMAND_REPLIES)
        self._dead = topic_name(settings, ctx.dead_letters)

    async def __call__(self, messages: list[Any]) -> None:
        rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in self._ctx.columns}
        log_rows = []
        waiting = []
        for msg in messages:
            try:
                event = self._ctx.decode_event(msg.value)
            except msgspec.DecodeError as exc:
                await self._producer.send_and_wait(
                    self._dead, msg.value, key=msg.key,
                    headers=[("reason", f"undecodable event: {exc}".encode()),
                             ("source", f"{msg.topic}/{msg.partition}/{msg.offset}".encode())],
                )
                continue
            for table, table_rows in self._ctx.project(event).items():
                rows[table].extend(table_rows)
            log_rows.append(event_log.event_row(event, msg.value))
            if event.meta.reply_to:
                waiting.append(event.meta)
        await asyncio.to_thread(event_log.append, self._store, log_rows, self._ctx.event_log_table)
        for table, table_rows in rows.items():
            await asyncio.to_thread(self._store.insert, table, table_rows, self._ctx.columns[table])
        sends = [
            await self._producer.send(
                self._replies,
                encode(Reply(command_id=m.command_id, outcome="accepted")),
                key=m.reply_to.encode(),
            )
            for m in waiting
        ]
        await asyncio.gather(*sends)


def projector(ctx: Context, settings: Settings, bootstrap: str, store: Store, producer: AIOKafkaProducer) -> BatchConsumer:
    return BatchConsumer(
        f"{ctx.name}-projector", bootstrap, topic_name(settings, ctx.events), ctx.projector_group(settings),
        Projection(ctx, settings, store, producer), fast_join=settings.fast_group_join,
    )
