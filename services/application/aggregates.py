"""Event-sourced contexts as an application layer: what a context is, the states of its
aggregates, and the verdict on one command. No Kafka and no store here: the runtimes that drive
it (`picket.agents.aggregate`: a Faust agent, a batch consumer) bring the messages and carry the
verdicts out, and the worker gives `StateCache` the way to read an aggregate's history.

For each command (partitioned by aggregate key) a runtime takes the aggregate's state, calls the
context's pure `decide`, and then:
- rejected: answers the waiting caller with the verdict;
- accepted: publishes the events, waits for the broker's ack, and keeps the folded state. The
  projection answers the caller once the rows are written (read-your-writes), unless the
  context answers some commands at decision (`answer_decided`): then the answer goes out with
  the events, carries what was decided, and the events no longer name the caller.

State is rebuilt from the log: an aggregate not held in memory (first touch since start, or
evicted) is folded from its archived history. A crash after publishing but before keeping the
state is therefore harmless: the events are in the log, the rebuilt state has them, and a
redelivered command is recognised by its id and answered without new events.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from picket.schemas.replies import Reply
from picket.schemas.topics import Topic

log = logging.getLogger(__name__)

# Aggregates kept in memory per worker; evicted ones are rebuilt from the log when needed.
MAX_STATES = 10_000


@dataclass(frozen=True)
class Context:
    """What makes one bounded context: its topics and pure functions.

    `events` is the context's event log (the source of truth, read by its projector); `public`,
    when set, is the topic the projector republishes each event on for subscribers (the log keeps
    what they must not see)."""

    name: str
    commands: Topic
    events: Topic
    event_log_table: str
    decide: Callable[[str, Any, Any], Any]  # (key, state, command) -> Accepted | Rejected
    fold: Callable[[Any, list[Any]], Any]
    initial_state: Callable[[str], Any]
    project: Callable[[Any], dict[str, list[tuple[Any, ...]]]]  # event -> table -> rows
    columns: dict[str, tuple[str, ...]]  # table -> column names
    public: Topic | None = None
    # (command, its events) -> the answer to give at once, for commands whose caller needs what
    # was decided rather than read-your-writes; None: the projection answers.
    answer_decided: Callable[[Any, tuple[Any, ...]], Reply | None] | None = None
    # The least time between two batches of the projector: fewer, larger inserts for a context
    # whose callers do not wait for its projection (see `answer_decided`).
    projection_linger: float = 0.0
    # Tables the projection shares with other writers (a job's status, a work queue another agent
    # empties): rebuilt from the log alone they would lose what the others wrote, so a replay
    # (`picket.store.replay`) leaves them as they are.
    kept_on_replay: frozenset[str] = frozenset()

    @property
    def replayed_tables(self) -> dict[str, tuple[str, ...]]:
        """The tables a replay rebuilds, with their columns."""
        return {t: c for t, c in self.columns.items() if t not in self.kept_on_replay}

    def key_of(self, command: Any) -> str:
        """The aggregate key a command belongs to."""
        assert self.commands.key_of is not None
        return self.commands.key_of(command)

    def decode_command(self, raw: bytes) -> Any:
        return self.commands.decode(raw)

    def decode_event(self, raw: bytes) -> Any:
        return self.events.decode(raw)


# (aggregate key, partition of its events) -> the raw events of its history, oldest first, once
# everything published on that partition is archived.
LoadHistory = Callable[[str, int], Awaitable[list[bytes]]]


class StateCache:
    """Aggregate states by key, least recently used evicted; misses rebuilt from the history."""

    def __init__(self, ctx: Context, load: LoadHistory, capacity: int = MAX_STATES) -> None:
        self._ctx = ctx
        self._load = load
        self._capacity = capacity
        self._states: OrderedDict[str, Any] = OrderedDict()

    async def get(self, key: str, partition: int) -> Any:
        state = self._states.get(key)
        if state is not None:
            self._states.move_to_end(key)
            return state
        raw = await self._load(key, partition)
        state = self._ctx.fold(self._ctx.initial_state(key), [self._ctx.decode_event(r) for r in raw])
        self.put(key, state)
        return state

    def put(self, key: str, state: Any) -> None:
        self._states[key] = state
        self._states.move_to_end(key)
        while len(self._states) > self._capacity:
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
    dead_reason: str | None = None


def answer(meta: Any, outcome: str, detail: str | None = None, entity_id: int | None = None) -> Reply | None:
    """The reply to the caller of a command (None when nobody waits)."""
    if not getattr(meta, "reply_to", None):
        return None
    return Reply(command_id=meta.command_id, outcome=outcome, detail=detail,  # type: ignore[arg-type]
                 entity_id=entity_id, reply_to=meta.reply_to)


def read_command(ctx: Context, key: str, value: bytes) -> Any:
    """The command of a message, or the Verdict for one that cannot be decided (undecodable,
    keyed to another aggregate)."""
    try:
        command = ctx.decode_command(value)
    except msgspec.DecodeError as exc:
        return Verdict(dead_reason=f"undecodable command: {exc}")
    if ctx.key_of(command) != key:
        return Verdict(dead_reason=f"command keyed {key!r}, expected {ctx.key_of(command)!r}",
                       reply=answer(command.meta, "invalid", "Misrouted command."))
    return command


def judge(ctx: Context, key: str, state: Any, command: Any) -> Verdict:
    """Decide `command` against `state`: events to publish, or the answer to give at once."""
    meta = command.meta
    try:
        decision = ctx.decide(key, state, command)
    except Exception as exc:  # a defect, not a verdict: keep the partition moving
        log.exception("deciding %s failed", type(command).__name__)
        return Verdict(dead_reason=f"decide failed: {exc!r}",
                       reply=answer(meta, "invalid", "The change could not be applied."))
    if not hasattr(decision, "events"):  # a rejection: outcome and detail
        return Verdict(reply=answer(meta, decision.outcome, decision.detail, getattr(decision, "entity_id", None)))
    if not decision.events:  # nothing to change (a duplicate, a no-op): accepted as is
        return Verdict(reply=answer(meta, "accepted"))
    events = tuple(decision.events)
    reply = ctx.answer_decided(command, events) if ctx.answer_decided is not None else None
    if reply is None:
        return Verdict(events=events)
    return Verdict(events=tuple(_unaddressed(event) for event in events), reply=reply)


def _unaddressed(event: Any) -> Any:
    """`event` without the caller's address: the caller was answered at decision, so the
    projection has no one to answer."""
    if getattr(event.meta, "reply_to", None) is None:
        return event
    return msgspec.structs.replace(event, meta=msgspec.structs.replace(event.meta, reply_to=None))
