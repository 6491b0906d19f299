"""The webhook deliverer: reads `hook-deliveries` (group `hooks-deliverer`) and makes each request.

Ordering and isolation. Deliveries are keyed by their target (a hook, an installation), so a
target's deliveries sit on one partition in order. Each (partition, target) with deliveries to
make has a task of its own that sends them one after another, in offset order, each to its end
(delivered, or given up on) before the next; targets are independent of each other, so a slow
or dead receiver delays only its own deliveries, also when it shares a partition with others. At
most `concurrency` requests are in flight at once (a target waiting out a backoff holds no slot).

One delivery. Right before each try its URL is checked again (`picket.hooks.urls`: a name may
resolve elsewhere by now); a refused URL is dead-lettered without a request. A try is one POST
of the body as it is, with Sentry's signed headers (`picket.hooks.signing`), no redirects
followed, within `timeout` seconds. A 2xx answer delivers it. No answer, a 5xx, 408 or 429 is
tried again after an exponential, jittered wait (`picket.hooks.backoff`), up to `attempts` tries;
any other answer (other 4xx, 3xx), or the last try failing, sends the message to
`hook-deliveries-dlq` with the last reason in its headers. Every try is written to
`hook_attempts` right after it (`ok`, and `gave_up` on the row of a try after which the delivery
was dead-lettered). The worker's `/metrics` counts them (`picket_hook_deliveries_total`:
delivered, retried, dead_lettered).

Offsets. A delivery is finished once delivered, dead-lettered, or found finished before. Per
partition the committed offset is the lowest one not finished yet; finished ones above it are
remembered in memory only. So after a crash, or when partitions move, messages from the committed
offset are read again: before anything of a fetched batch is sent, one query finds which of its
deliveries already have an `ok` or `gave_up` row, and those are not sent again. What may still
be sent twice: a delivery answered 2xx whose row was not written when the process died (a crash
between the answer and the insert, or a store still down when the deliverer was stopped),
and, likewise, a dead-lettered one may be dead-lettered again. A clean `stop()` (or a rebalance)
lets the tries under way end (at most `timeout` seconds), writes their rows, commits, and
abandons the rest: nothing answered 2xx is sent again, and a delivery waiting for its next try
starts over with its first try (its count of tries is not kept). A Sentry app that must see each
delivery at most once de-duplicates on `Request-ID` (the delivery's id); a service hook's headers
carry no such id (Sentry's do not either).

Memory. A partition with more than `max_pending` unfinished deliveries is paused (no more is
fetched from it) until it drops below again.

This module imports nothing of `picket.agents` (the agents import the integrations context, which
uses `picket.hooks.urls`): `deliverer(w)` takes anything shaped like their `Wiring`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import httpx
import msgspec
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

from picket import metrics
from picket.bus.connection import KafkaConnection
from picket.bus.kafka import consumer as make_consumer
from picket.bus.publisher import send_all
from picket.bus.tansu import CONSUMER_GROUP_TIMINGS
from picket.bus.topics import Topics, origin
from picket.config import Settings
from picket.hooks import backoff
from picket.hooks.guarded import guarded_transport
from picket.hooks.signing import headers
from picket.hooks.urls import check_url
from picket.schemas import topics as t
from picket.schemas.integrations import Delivery
from picket.store import hooks_read
from picket.store.client import Store

log = logging.getLogger(__name__)

NAME = "hooks-deliverer"
GROUP = "hooks-deliverer"
TABLE = "hook_attempts"
COLUMNS = ("id", "target_id", "org_id", "event", "attempt", "status", "ok", "gave_up", "error", "at")
RETRY_CAP = 300.0
CONCURRENCY = 64
MAX_PENDING = 1000
FETCH_TIMEOUT_MS = 200
MAX_FETCH = 500
# Waits between tries of what must not be skipped (writing a row, producing a dead letter, the
# batch's look-up) while the store or Kafka is down.
IO_RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
# Ids of deliveries finished lately, so that a message repeated on the topic is not sent twice.
REMEMBERED = 20_000
MAX_ERROR = 500
UNDECODABLE = "\x00undecodable"  # the queue of messages that are no Delivery (dead-lettered in order)


class Wires(Protocol):
    """What the deliverer takes from the worker's `picket.agents.wiring.Wiring`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def kafka(self) -> KafkaConnection: ...

    @property
    def store(self) -> Store: ...

    @property
    def producer(self) -> AIOKafkaProducer: ...

    @property
    def topics(self) -> Topics: ...


@dataclass
class _Item:
    msg: Any  # the consumed record
    delivery: Delivery | None  # None: the message could not be decoded


@dataclass
class _Target:
    queue: deque[_Item] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


@dataclass
class _Partition:
    tp: TopicPartition
    pending: set[int] = field(default_factory=set)  # offsets not finished
    next: int | None = None  # the offset after the last one taken
    committed: int | None = None
    targets: dict[str, _Target] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    paused: bool = False

    def commit_offset(self) -> int | None:
        return min(self.pending) if self.pending else self.next


class Deliverer:
    """Sends the webhook requests of `topic` (read in consumer group `group`); see the module."""

    def __init__(self, *, kafka: KafkaConnection, topic: str, group: str, topics: Topics, store: Store,
                 producer: AIOKafkaProducer, allow_private: bool = False, timeout: float = 10.0,
                 attempts: int = 8, retry_base: float = 1.0, retry_cap: float = RETRY_CAP,
                 concurrency: int = CONCURRENCY, max_pending: int = MAX_PENDING, fast_join: bool = False,
                 rng: random.Random | None = None, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._kafka = kafka
        self._topic = topic
        self._group = group
        self._topics = topics
        self._store = store
        self._producer = producer
        self._allow_private = allow_private
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._concurrency = concurrency
        self._max_pending = max_pending
        self._fast_join = fast_join
        self._rng = rng or random.Random()
        self._transport = transport
        self._slots = asyncio.Semaphore(concurrency)
        self._parts: dict[TopicPartition, _Partition] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._commit_lock = asyncio.Lock()
        self._generation = 0  # moves on when partitions are revoked
        self._stopping = False
        self._consumer: Any = None
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None

    # --- life cycle ---

    async def start(self) -> None:
        self._stopping = False
        limits = httpx.Limits(max_connections=self._concurrency, max_keepalive_connections=self._concurrency)
        transport = self._transport
        if transport is None and not self._allow_private:  # the address connected to is checked too
            transport = guarded_transport(limits)
        self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False, transport=transport,
                                         timeout=httpx.Timeout(self._timeout), limits=limits)
        timings = CONSUMER_GROUP_TIMINGS if self._fast_join else {"session_timeout_ms": 6000,
                                                                   "heartbeat_interval_ms": 1000}
        self._consumer = make_consumer(
            self._kafka, group_id=self._group, auto_offset_reset="earliest",
            partition_assignment_strategy=(RoundRobinPartitionAssignor,),
            fetch_max_wait_ms=50 if self._fast_join else 100,
            # Giving partitions up waits for the tries under way (at most the request timeout).
            rebalance_timeout_ms=int(max(30.0, self._timeout + 15.0) * 1000),
            **timings)
        await self._consumer.start()
        self._consumer.subscribe([self._topic], listener=_Rebalance(self))
        self._task = asyncio.create_task(self._run(), name=NAME)

    async def stop(self) -> None:
        """Stop fetching, let the tries under way end and record them, commit, leave the group."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._release(list(self._parts))
            await self._consumer.stop()
            self._consumer = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- fetching and committing ---

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                self._flow()
                generation = self._generation
                batches = await self._consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS, max_records=MAX_FETCH)
                taken = await self._take(batches, generation) if batches else True
                await self._commit(positions=taken)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                wait = IO_RETRY_DELAYS[min(failures, len(IO_RETRY_DELAYS) - 1)]
                failures += 1
                log.warning("%s: fetch loop failed; again in %.1fs", NAME, wait, exc_info=True)
                await asyncio.sleep(wait)

    def _flow(self) -> None:
        """Pause partitions holding too many unfinished deliveries; resume them once they drop."""
        assigned = self._consumer.assignment()
        for tp, part in self._parts.items():
            full = len(part.pending) > self._max_pending
            if full != part.paused and tp in assigned:
                (self._consumer.pause if full else self._consumer.resume)(tp)
                part.paused = full

    async def _take(self, batches: dict[TopicPartition, list[Any]], generation: int) -> bool:
        """Hand the fetched messages to their targets' tasks (those finished before: not); False
        when partitions moved meanwhile and the batch was put back."""
        items: list[tuple[TopicPartition, Any, Delivery | None]] = []
        for tp, messages in batches.items():
            for msg in messages:
                items.append((tp, msg, _decoded(msg.value)))
        ids = {d.id for _, _, d in items if d is not None and d.id not in self._finished}
        done = await self._io("look up finished deliveries", lambda: asyncio.to_thread(hooks_read.finished,
                                                                                       self._store, ids))
        if done is None or generation != self._generation or self._stopping:
            self._put_back(batches)
            return False
        for tp, msg, delivery in items:
            part = self._parts.get(tp)
            if part is None:
                part = self._parts[tp] = _Partition(tp)
            part.next = msg.offset + 1
            if msg.value is None:
                log.warning("%s: empty message %s skipped", NAME, origin(msg))
                continue
            if delivery is not None and (delivery.id in done or delivery.id in self._finished):
                self._remember(delivery.id)
                continue
            part.pending.add(msg.offset)
            key = UNDECODABLE if delivery is None else delivery.target_id
            target = part.targets.get(key)
            if target is None:
                target = part.targets[key] = _Target()
                target.queue.append(_Item(msg, delivery))
                target.task = asyncio.create_task(self._serve(part, key, target), name=f"{NAME}:{key}")
            else:
                target.queue.append(_Item(msg, delivery))
        return True

    def _put_back(self, batches: dict[TopicPartition, list[Any]]) -> None:
        """Read the batch again where this member still owns its partitions."""
        if self._consumer is None:
            return
        assigned = self._consumer.assignment()
        for tp, messages in batches.items():
            if messages and tp in assigned and not self._stopping:
                self._consumer.seek(tp, min(m.offset for m in messages))

    async def _commit(self, *, positions: bool = False, only: Iterable[TopicPartition] | None = None) -> None:
        """Commit each partition's lowest unfinished offset (with `positions`, the consumer's
        position where nothing is unfinished: past transaction markers too)."""
        async with self._commit_lock:
            assigned = self._consumer.assignment()
            offsets = {}
            for tp in list(self._parts if only is None else only):
                part = self._parts.get(tp)
                if part is None or tp not in assigned:
                    continue
                if positions and not part.pending:
                    with contextlib.suppress(Exception):
                        part.next = max(part.next or 0, await self._consumer.position(tp))
                offset = part.commit_offset()
                if offset is not None and offset != part.committed:
                    offsets[tp] = offset
            if not offsets:
                return
            try:
                await self._consumer.commit(offsets)
            except Exception:
                log.warning("%s: commit failed (partitions moving?); read again from the last commit",
                            NAME, exc_info=True)
                return
            for tp, offset in offsets.items():
                if tp in self._parts:
                    self._parts[tp].committed = offset
            metrics.LAST_COMMIT.labels(NAME, self._group).set_to_current_time()

    async def sample_lag(self) -> None:
        """Set the lag gauge: the assigned partitions' ends (asked of the broker) less the offsets
        committed (or the positions, where nothing was committed since they were assigned)."""
        if self._consumer is None:
            return
        assigned = list(self._consumer.assignment())
        ends = await self._consumer.end_offsets(assigned) if assigned else {}
        lag = 0
        for tp, end in ends.items():
            part = self._parts.get(tp)
            done = part.committed if part is not None else None
            if done is None:
                done = await self._consumer.position(tp)
            lag += max(end - done, 0)
        metrics.LAG.labels(NAME, self._group).set(lag)

    async def _release(self, tps: Iterable[TopicPartition]) -> None:
        """Give partitions up: stop their targets' tasks (tries under way end first), commit."""
        self._generation += 1  # a batch being taken meanwhile is put back
        parts = [self._parts[tp] for tp in tps if tp in self._parts]
        if not parts:
            return
        for part in parts:
            part.stop.set()
        tasks = [target.task for part in parts for target in part.targets.values() if target.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self._timeout + 5.0)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._commit(only=[part.tp for part in parts])
        for part in parts:
            self._parts.pop(part.tp, None)

    # --- delivering ---

    async def _serve(self, part: _Partition, target_id: str, target: _Target) -> None:
        """Deliver a target's deliveries one after another, until none is left or the partition
        is given up."""
        try:
            while target.queue and not part.stop.is_set():
                item = target.queue[0]
                try:
                    finished = await self._deliver(part, item)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s: delivering to %s failed; trying again", NAME, target_id)
                    if await _stopped_within(part.stop, IO_RETRY_DELAYS[-1]):
                        return
                    continue
                if not finished:
                    return  # the partition was given up: its owner reads the rest again
                target.queue.popleft()
                part.pending.discard(item.msg.offset)
        finally:
            if part.targets.get(target_id) is target and (not target.queue or part.stop.is_set()):
                del part.targets[target_id]

    async def _deliver(self, part: _Partition, item: _Item) -> bool:
        """Make the delivery's tries; True once it is finished (delivered or dead-lettered)."""
        delivery = item.delivery
        if delivery is None:
            return await self._give_up(part, item, 0, None, "undecodable delivery")
        attempt = 0
        while not part.stop.is_set():
            if delivery.id in self._finished:
                return True
            attempt += 1
            problem = (check_url(delivery.url, allow_private=True) if self._allow_private else
                       await asyncio.to_thread(check_url, delivery.url, allow_private=False))
            if problem is not None:
                return await self._give_up(part, item, attempt, None, f"URL refused: {problem}")
            status, error = await self._post(delivery)
            if backoff.succeeded(status):
                await self._record(part, delivery, attempt, status, ok=True, gave_up=False, error="")
                self._remember(delivery.id)
                metrics.HOOK_DELIVERIES.labels("delivered").inc()
                return True
            if not backoff.retryable(status) or attempt >= self._attempts:
                reason = (f"{error} (gave up after {attempt} tries)" if backoff.retryable(status)
                          else f"{error} (not retried)")
                return await self._give_up(part, item, attempt, status, reason)
            await self._record(part, delivery, attempt, status, ok=False, gave_up=False, error=error)
            metrics.HOOK_DELIVERIES.labels("retried").inc()
            wait = backoff.delay(attempt, base=self._retry_base, cap=self._retry_cap, rng=self._rng)
            if await _stopped_within(part.stop, wait):
                return False
        return False

    async def _post(self, delivery: Delivery) -> tuple[int | None, str]:
        """One try: (status, "") on an answer (the reason for a non-2xx one), (None, reason)
        when there was none."""
        assert self._client is not None
        try:
            sent = headers(delivery, datetime.now(timezone.utc))
        except ValueError as exc:
            return 0, str(exc)  # no HTTP status: not retried
        async with self._slots:
            try:
                async with asyncio.timeout(self._timeout + 1.0):
                    async with self._client.stream("POST", delivery.url, content=delivery.body,
                                                   headers=sent) as response:
                        status = response.status_code
            except (TimeoutError, httpx.TimeoutException):
                return None, f"no answer within {self._timeout:g}s"
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                return 0, f"invalid URL: {exc}"
            except httpx.HTTPError as exc:
                return None, _shortened(f"{type(exc).__name__}: {exc}")
            except OSError as exc:
                return None, _shortened(f"{type(exc).__name__}: {exc}")
        if backoff.succeeded(status):
            return status, ""
        if 300 <= status < 400:
            return status, f"HTTP {status} (redirects are not followed)"
        return status, f"HTTP {status}"

    async def _give_up(self, part: _Partition, item: _Item, attempt: int, status: int | None, reason: str) -> bool:
        """Dead-letter the delivery, then write its last try; False if stopped before the dead
        letter was produced (the delivery is then read again)."""
        records = self._topics.dead_letters(t.HOOK_DELIVERIES, item.msg, reason, NAME)
        sent = await self._io("produce a dead letter", lambda: send_all(self._producer, records), part.stop)
        if sent is None:
            return False
        metrics.DEAD_LETTERS.labels(NAME).inc()
        metrics.HOOK_DELIVERIES.labels("dead_lettered").inc()
        delivery = item.delivery
        if delivery is None:
            log.warning("%s: undecodable message %s dead-lettered", NAME, origin(item.msg))
            return True
        log.warning("%s: delivery %s to %s dead-lettered: %s", NAME, delivery.id, delivery.target_id, reason)
        await self._record(part, delivery, attempt, status or None, ok=False, gave_up=True, error=reason)
        self._remember(delivery.id)
        return True

    async def _record(self, part: _Partition, delivery: Delivery, attempt: int, status: int | None, *, ok: bool,
                      gave_up: bool, error: str) -> None:
        row = (delivery.id, delivery.target_id, delivery.org_id, delivery.event, min(attempt, 65535), status,
               int(ok), int(gave_up), _shortened(error), datetime.now(timezone.utc))
        written = await self._io(f"write a row of {TABLE}",
                                 lambda: asyncio.to_thread(self._store.insert, TABLE, [row], COLUMNS), part.stop)
        if written is not None:
            metrics.ROWS_WRITTEN.labels(TABLE).inc()

    async def _io(self, what: str, call: Any, stop: asyncio.Event | None = None) -> Any:
        """`await call()`, tried again while it fails; None once stopping (or `stop` is set)."""
        failures = 0
        while True:
            try:
                result = await call()
                return True if result is None else result
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._stopping or (stop is not None and stop.is_set()):
                    log.warning("%s: could not %s before stopping", NAME, what, exc_info=True)
                    return None
                wait = IO_RETRY_DELAYS[min(failures, len(IO_RETRY_DELAYS) - 1)]
                failures += 1
                log.warning("%s: could not %s; again in %.1fs", NAME, what, wait, exc_info=True)
                if stop is not None:
                    if await _stopped_within(stop, wait):
                        return None
                else:
                    await asyncio.sleep(wait)

    def _remember(self, delivery_id: str) -> None:
        self._finished[delivery_id] = None
        self._finished.move_to_end(delivery_id)
        while len(self._finished) > REMEMBERED:
            self._finished.popitem(last=False)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, deliverer: Deliverer) -> None:
        self._deliverer = deliverer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._deliverer._release(list(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        pass


def _decoded(raw: bytes | None) -> Delivery | None:
    if raw is None:
        return None
    try:
        delivery = t.HOOK_DELIVERIES.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
        return None
    return delivery if isinstance(delivery, Delivery) else None


def _shortened(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR - 1] + "…"


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`; True if `stop` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))
    except TimeoutError:
        return False
    return True


def deliverer(w: Wires) -> Deliverer:
    """The worker's deliverer of `hook-deliveries`, configured from its settings."""
    s = w.settings
    return Deliverer(kafka=w.kafka, topic=w.topics.name(t.HOOK_DELIVERIES),
                     group=w.topics.group(t.HOOK_DELIVERIES, GROUP), topics=w.topics, store=w.store,
                     producer=w.producer, allow_private=s.hooks_allow_private, timeout=s.hooks_timeout,
                     attempts=s.hooks_attempts, retry_base=s.hooks_retry_base, fast_join=s.fast_group_join)
