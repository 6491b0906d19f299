"""The runtimes that drive an event-sourced context (`picket.application.aggregates`) on Kafka.

- `install`: a Faust agent per command, for the administrative contexts (tenancy): Faust hosts
  it with its consumer group and rebalancing; each command costs ~0.2-0.3 ms of CPU, nothing at
  the volume of administrative changes.
- `Decider`: the process step of a batch pipeline (`picket.runtime`), for high-volume contexts
  (monitors: every SDK check-in is a command). A batch of commands is decided in order, all
  their events published together and their acks awaited once. An `Intake` topic read beside
  the commands (monitors: `ingest-monitors`) has its messages decided where they arrive.
- `Projection`: per event of a context's log, its archive row, its rows, its republication on
  the context's public topic, the answer to its caller.

Both deciding runtimes take the same verdict from the application layer (`read_command`,
`judge`) and carry it out the same way: dead letters to the command topic's registered
dead-letter topic (the Faust agent through `verdict_records`, the batch decider through the
pipeline's one dead-letter step), answers on `command-replies`, events on the context's log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
import msgspec
from aiokafka import AIOKafkaProducer

from picket.application.aggregates import Context, StateCache, Verdict, answer, judge, read_command
from picket.schemas.replies import Reply
from picket.schemas.topics import BY_NAME, COMMAND_REPLIES, Topic
from picket.runtime.consumer import BatchConsumer
from picket.runtime.steps import Deliver, DeadLetter, Output, Pipeline, ProcessEach, Produce, Table
from picket.agents.wiring import Wiring
from picket.bus.publisher import Record
from picket.bus.topics import Topics
from picket.store import event_log

log = logging.getLogger(__name__)

_RAW = {"key_type": bytes, "value_type": bytes}


def verdict_records(ctx: Context, topics: Topics, message: Any, verdict: Verdict, consumer: str) -> list[Record]:
    """The dead letter and the answer a verdict sends (its events are the caller's to publish)."""
    out: list[Record] = []
    if verdict.dead_reason is not None:
        log.error("%s command to dead letters: %s", ctx.name, verdict.dead_reason)
        out += topics.dead_letters(ctx.commands, message, verdict.dead_reason, consumer)
    if verdict.reply is not None:
        out.append(topics.record(COMMAND_REPLIES, verdict.reply))
    return out


def install(app: faust.App, topics: Topics, ctx: Context, states: StateCache) -> Any:
    """Declare the context's topics and deciding agent on `app`; returns the agent."""
    dead_letters = BY_NAME[ctx.commands.dead_letter or ""]
    faust_topics = {
        topics.name(topic): app.topic(topics.name(topic), partitions=topic.partitions, **_RAW)
        for topic in (ctx.commands, ctx.events, COMMAND_REPLIES, dead_letters)
    }
    topics.group(ctx.commands, "")  # the agent reads in the app's own group: the registry says so

    async def send(records: list[Record]) -> list[Any]:
        return [await faust_topics[r.topic].send(key=r.key, value=r.value, headers=list(r.headers)) for r in records]

    async def agent(stream: Any) -> None:
        async for message in stream.events():
            raw_key = message.key or b""
            key = raw_key.decode(errors="replace")
            command = read_command(ctx, key, message.value)
            if isinstance(command, Verdict):
                await asyncio.gather(*await send(verdict_records(ctx, topics, message.message, command, ctx.name)))
                continue
            state = await states.get(key, message.message.partition)
            verdict = judge(ctx, key, state, command)
            await asyncio.gather(*await send(verdict_records(ctx, topics, message.message, verdict, ctx.name)))
            if verdict.events:
                await asyncio.gather(*await send([topics.record(ctx.events, ev) for ev in verdict.events]))
                states.put(key, ctx.fold(state, list(verdict.events)))

    return app.agent(faust_topics[topics.name(ctx.commands)], name=ctx.name)(agent)


class Decider:
    """The deciding agent as the process step of a batch pipeline, for high-volume contexts.

    Same verdicts as the Faust agent of `install`, but a batch of commands is decided in order
    (a key's later commands see the state its earlier ones left), all their events are published
    together and their acks awaited once (the pipeline's `Produce`), and only then are the new
    states kept and the offsets committed. If publishing fails, the states the batch touched are
    dropped and the batch is retried: each touched aggregate is rebuilt from the log, so commands
    whose events did reach the log are recognised by their ids, not decided twice.
    """

    def __init__(self, ctx: Context, topics: Topics, states: StateCache) -> None:
        self._ctx = ctx
        self._topics = topics
        self._states = states
        self._touched: dict[str, Any] = {}  # the batch's new states, by key
        self.name = decider_name(ctx)

    async def process(self, message: Any) -> Output:
        """One message of the command topic: its events and answer as records; a dead verdict
        refuses it."""
        key = (message.key or b"").decode(errors="replace")
        return await self.decide(key, message.partition, read_command(self._ctx, key, message.value))

    async def decide(self, key: str, partition: int, command: Any) -> Output:
        """`command` (or the verdict reading it came to) for the aggregate `key`, whose events are
        on `partition` of the context's log."""
        if isinstance(command, Verdict):
            verdict = command
        else:
            touched = self._touched
            state = touched[key] if key in touched else await self._states.get(key, partition)
            verdict = judge(self._ctx, key, state, command)
            if verdict.events:
                touched[key] = self._ctx.fold(state, list(verdict.events))
        if verdict.dead_reason is not None:
            log.error("%s command to dead letters: %s", self._ctx.name, verdict.dead_reason)
        out = Output(refused=verdict.dead_reason)
        if verdict.reply is not None:
            out.records.append(self._topics.record(COMMAND_REPLIES, verdict.reply))
        out.records += [self._topics.record(self._ctx.events, event) for event in verdict.events]
        return out

    def failed(self, message: Any, reason: str) -> list[Record]:
        """The answer to the caller of a command whose deciding failed, if it can be read."""
        command = read_command(self._ctx, (message.key or b"").decode(errors="replace"), message.value)
        reply = None if isinstance(command, Verdict) else answer(command.meta, "invalid", "The change could not be applied.")
        return [] if reply is None else [self._topics.record(COMMAND_REPLIES, reply)]

    def after(self, done: bool, failed: list[Any]) -> None:
        """Keep the batch's states once its events are acknowledged; drop them otherwise."""
        touched, self._touched = self._touched, {}
        for key, state in touched.items():
            if done:
                self._states.put(key, state)
            else:
                self._states.forget(key)


def decider_name(ctx: Context) -> str:
    """The batch decider's name, which is also its consumer group's."""
    return f"{ctx.name}-decider"


Owns = Callable[[str, int], bool]


@dataclass(frozen=True)
class Intake:
    """A topic a batch decider reads besides its commands, co-partitioned with them: each message
    is turned into its outcomes and a command, decided where it arrives (one hop less) when the
    decider owns the command's partition, else sent on to the command topic.

    `process(message, decider, owns)` → the message's output; `failed(message, reason)` → what a
    message whose processing failed sends (as `Decider.failed`)."""

    topic: Topic
    process: Callable[[Any, Decider, Owns], Awaitable[Output]]
    failed: Callable[[Any, str], list[Record]]


def decider_pipeline(ctx: Context, topics: Topics, states: StateCache, producer: AIOKafkaProducer,
                     intake: Intake | None = None, owns: Owns | None = None) -> Pipeline:
    """The batch deciding agent's steps: decide each command (or intake message) → deliver its
    events, answer and outcomes → dead-letter what failed or was refused → produce; then keep or
    drop the states. `owns(topic, partition)`: whether this member reads that partition now."""
    agent = Decider(ctx, topics, states)
    intake_name = None if intake is None else topics.name(intake.topic)
    member_owns = owns or (lambda topic, partition: False)

    async def process(message: Any) -> Output:
        if intake is not None and message.topic == intake_name:
            return await intake.process(message, agent, member_owns)
        return await agent.process(message)

    def failed(message: Any, reason: str) -> list[Record]:
        if intake is not None and message.topic == intake_name:
            return intake.failed(message, reason)
        return agent.failed(message, reason)

    read = [ctx.commands] if intake is None else [ctx.commands, intake.topic]
    return Pipeline(agent.name, [
        ProcessEach(agent.name, process),
        Deliver(topics, outcomes=intake is not None),
        DeadLetter(agent.name, topics, read, on_failure=failed),
        Produce(producer),
    ], after=agent.after)


def decider(ctx: Context, w: Wiring, states: StateCache, intake: Intake | None = None) -> BatchConsumer:
    """The batch-consuming deciding agent of `ctx` (one consumer group: one writer per partition),
    reading `intake`'s topic too if given. After a rebalance it forgets every state: another
    worker may have decided meanwhile."""
    name = decider_name(ctx)
    source = w.source([ctx.commands] if intake is None else [ctx.commands, intake.topic], name)
    pipeline = decider_pipeline(ctx, w.topics, states, w.producer, intake, source.owns)
    return BatchConsumer(name, source, pipeline, on_rebalance=states.clear)


class Projection:
    """Per message of a context's log: its archive row, its rows, its republication on the public
    topic (without what subscribers must not see), the answer to its caller.

    A crash replays the batch; rows are versioned, a republished event carries the same
    `meta.event_id` (subscribers drop the copy) and replayed replies find no waiter, so a replay
    changes nothing. An event that cannot be decoded or projected goes to the log's dead letters
    with the reason (and its caller is told the change could not be stored); the others go on.
    """

    def __init__(self, ctx: Context, topics: Topics) -> None:
        self._ctx = ctx
        self._topics = topics
        self._log = Table(ctx.event_log_table, event_log.COLUMNS)
        self._tables = {name: Table(name, columns) for name, columns in ctx.columns.items()}
        self.order = (self._log, *self._tables.values())  # archived before projected

    async def process(self, msg: Any) -> Output:
        event = self._ctx.decode_event(msg.value)
        out = Output().add_rows(self._log, [event_log.event_row(event, msg.value)])
        for table, rows in self._ctx.project(event).items():
            out.add_rows(self._tables[table], rows)
        if self._ctx.public is not None:
            out.records.append(self._topics.record(self._ctx.public, event))
        reply = answer(event.meta, "accepted")
        if reply is not None:
            out.records.append(self._topics.record(COMMAND_REPLIES, reply))
        return out

    def failed(self, msg: Any, reason: str) -> list[Record]:
        """The answer to the caller of an event that could not be stored, if it can be read."""
        try:
            meta = self._ctx.decode_event(msg.value).meta
        except (msgspec.DecodeError, TypeError, ValueError):
            return []
        reply: Reply | None = answer(meta, "invalid", "The change could not be stored.")
        return [] if reply is None else [self._topics.record(COMMAND_REPLIES, reply)]


def projector_name(ctx: Context) -> str:
    return f"{ctx.name}-projector"


def projector(ctx: Context, w: Wiring) -> BatchConsumer:
    projection = Projection(ctx, w.topics)
    name = projector_name(ctx)
    handler = w.items(name, ctx.events, projection.process, outcomes=False, order=projection.order,
                      on_failure=projection.failed)
    return w.consumer(name, ctx.events, name, handler, linger=ctx.projection_linger)
