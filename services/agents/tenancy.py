"""The tenancy agent: the single writer of every organization, slug claim and user aggregate.

For each command on `tenancy-commands` (partitioned by aggregate key) it takes the aggregate's
state, calls the pure `decide`, and then:
- rejected: answers the waiting gateway with the verdict;
- accepted: publishes the events to `tenancy-events`, waits for the broker's ack, and keeps the
  folded state. The projector answers the gateway once the rows are written.

State is rebuilt from the log: an aggregate not held in memory (first touch since start, or
evicted) is folded from the archived event log in ClickHouse, after waiting until the projector
has archived everything on the aggregate's event partition. A crash after publishing but before
keeping the state is therefore harmless: the events are in the log, the rebuilt state has them,
and a redelivered command is recognised by its id and answered without new events.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

import faust
import msgspec

from schemas.commands import aggregate_key
from schemas.replies import Reply
from schemas.topics import COMMAND_REPLIES, TENANCY_COMMANDS, TENANCY_COMMANDS_DLQ, TENANCY_EVENTS
from services.agents.codec import decode_command, decode_event, encode
from services.bus.watermark import GroupWatermark
from services.config import Settings, topic_name
from services.store import event_log
from services.store.client import Store
from services.tenancy.decide import Rejected, decide
from services.tenancy.evolve import fold
from services.tenancy.state import AggregateState, initial_state

log = logging.getLogger(__name__)

_RAW = {"key_type": bytes, "value_type": bytes}


# Aggregates kept in memory per worker; evicted ones are rebuilt from the log when needed.
MAX_STATES = 10_000


class StateCache:
    """Aggregate states by key, least recently used evicted; misses rebuilt from the log."""

    def __init__(self, store: Store, watermark: GroupWatermark) -> None:
        self._store = store
        self._watermark = watermark
        self._states: OrderedDict[str, AggregateState] = OrderedDict()

    async def get(self, key: str, partition: int) -> AggregateState:
        state = self._states.get(key)
        if state is not None:
            self._states.move_to_end(key)
            return state
        await self._watermark.wait_caught_up(partition)
        raw_events = await asyncio.to_thread(event_log.read_aggregate, self._store, key)
        state = fold(initial_state(key), [decode_event(raw) for raw in raw_events])
        self.put(key, state)
        return state

    def put(self, key: str, state: AggregateState) -> None:
        self._states[key] = state
        self._states.move_to_end(key)
        while len(self._states) > MAX_STATES:
            self._states.popitem(last=False)


def install(app: faust.App, settings: Settings, states: StateCache) -> Any:
    """Declare the tenancy topics, state table and agent on `app`; returns the agent."""
    commands = app.topic(topic_name(settings, TENANCY_COMMANDS), partitions=TENANCY_COMMANDS.partitions, **_RAW)
    events = app.topic(topic_name(settings, TENANCY_EVENTS), partitions=TENANCY_EVENTS.partitions, **_RAW)
    replies = app.topic(topic_name(settings, COMMAND_REPLIES), partitions=COMMAND_REPLIES.partitions, **_RAW)
    dead = app.topic(topic_name(settings, TENANCY_COMMANDS_DLQ), partitions=1, **_RAW)

    async def answer(reply_to: str | None, command_id: str, outcome: str, detail: str | None = None,
                     entity_id: int | None = None) -> None:
        if reply_to:
            reply = Reply(command_id=command_id, outcome=outcome, detail=detail, entity_id=entity_id)  # type: ignore[arg-type]
            await replies.send(key=reply_to.encode(), value=encode(reply))

    async def dead_letter(message: Any, reason: str) -> None:
        log.error("tenancy command to dead letters: %s", reason)
        fut = await dead.send(
            key=message.key, value=message.value,
            headers=[("reason", reason.encode()), ("source", message.topic.encode())],
        )
        await fut

    @app.agent(commands, name="tenancy")
    async def tenancy(stream: Any) -> None:
        async for message in stream.events():
            raw_key = message.key or b""
            key = raw_key.decode(errors="replace")
            try:
                command = decode_command(message.value)
            except msgspec.DecodeError as exc:
                await dead_letter(message.message, f"undecodable command: {exc}")
                continue
            if aggregate_key(command) != key:
                await dead_letter(message.message, f"command keyed {key!r}, expected {aggregate_key(command)!r}")
                await answer(command.meta.reply_to, command.meta.command_id, "invalid", "Misrouted command.")
                continue
            state = await states.get(key, message.message.partition)
            try:
                decision = decide(key, state, command)
            except Exception as exc:  # a defect, not a verdict: keep the partition moving
                log.exception("deciding %s failed", type(command).__name__)
                await dead_letter(message.message, f"decide failed: {exc!r}")
                await answer(command.meta.reply_to, command.meta.command_id, "invalid", "The change could not be applied.")
                continue
            meta = command.meta
            if isinstance(decision, Rejected):
                await answer(meta.reply_to, meta.command_id, decision.outcome, decision.detail, decision.entity_id)
                continue
            if not decision.events:
                await answer(meta.reply_to, meta.command_id, "accepted")
                continue
            acks = [await events.send(key=raw_key, value=encode(ev)) for ev in decision.events]
            await asyncio.gather(*acks)
            states.put(key, fold(state, decision.events))

    return tenancy
