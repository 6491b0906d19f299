"""Publishing what one request accepted: all of it, or none of it, within a deadline.

An envelope becomes several Kafka messages on several topics (an event, its attachments, its
outcomes). If the gateway answered 503 after some of them were written, the SDK's retry would
count those twice. So each call's records are written in one Kafka transaction, which
`read_committed` consumers (all of Picket's) see whole or not at all.

Transactions cost a few broker round trips, so concurrent requests share them (group commit):
a few transactional producers each take every request waiting when they are free, write all of
their records in one transaction and commit it. A request whose deadline passes before its
records were acknowledged fails (the caller answers 503) and its transaction is aborted, so
nothing of it is ever read. Only when the broker fails during the commit itself is the outcome
unknown; the caller then answers 503 too, and items named from their envelope's event id
(`services/ingest/item_ids.py`) still count once.

Transactional ids are stable per gateway (`<app>-gateway-<gateway id>-<n>`): a restarted
gateway takes its ids back, which aborts whatever its predecessor left open at once.

A request that publishes a single record whose item counts once by its own identity (an event
with its id, a check-in, a session update, a feedback) needs no transaction (`Publisher`).
Brokers without transactions (the Tansu fallback) get no all-or-nothing promise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any
from dataclasses import dataclass, field

import aiokafka.producer.sender as _sender
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from picket.bus.chunks import split
from picket.bus.connection import KafkaConnection
from picket.bus.kafka import producer as make_producer

log = logging.getLogger(__name__)

# aiokafka waits 20 ms before retrying when a new transaction finds the previous one's commit
# markers not yet written (KAFKA-5477), though they take 1-3 ms on one broker: each producer
# would then manage ~45 transactions a second instead of ~280. This sets that wait; a test
# checks that aiokafka still has it.
_sender.BACKOFF_OVERRIDE = 0.002
# An open transaction of a gateway that died (and never comes back under its id) holds
# read_committed consumers of its partitions at most this long.
TRANSACTION_TIMEOUT_MS = 10_000
PRODUCERS = 2
# How long past its deadline a caller waits for a commit already under way.
COMMIT_GRACE_SECONDS = 5.0
MAX_RECORDS_PER_TRANSACTION = 5_000


class PublishFailed(Exception):
    """Nothing of the call was published (or, rarely, whether it was is unknown)."""


@dataclass(frozen=True)
class Record:
    """A message to produce."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


def records(topic: str, value: bytes, key: bytes | None, chunk_id: str,
            headers: Sequence[tuple[str, bytes]] = ()) -> list[Record]:
    """The messages `value` is sent as: one, or its chunks if it is larger than a message may be
    (`services/bus/chunks.py`; `chunk_id` names the value among its topic's)."""
    return [Record(topic, piece, key, [*headers, *extra]) for piece, extra in split(value, chunk_id)]


@dataclass
class _Request:
    records: Sequence[Record]
    deadline: float
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class TransactionalPublisher:
    """`publish(records, timeout)` returns once every record is committed in one transaction
    shared with other calls; raises PublishFailed when it is not within `timeout` seconds."""

    def __init__(self, kafka: KafkaConnection, transactional_id: str, producers: int = PRODUCERS) -> None:
        self._kafka = kafka
        self._ids = [f"{transactional_id}-{n}" for n in range(producers)]
        self._queue: deque[_Request] = deque()
        self._waiting = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._producers: dict[str, AIOKafkaProducer] = {}

    async def start(self) -> None:
        for tid in self._ids:
            self._producers[tid] = await self._open(tid)
        self._tasks = [asyncio.create_task(self._run(tid), name=f"publisher-{tid}") for tid in self._ids]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for producer in self._producers.values():
            with contextlib.suppress(Exception):
                await producer.stop()
        for request in self._queue:
            if not request.done.done():
                request.done.set_exception(PublishFailed("the publisher stopped"))

    async def _open(self, tid: str) -> AIOKafkaProducer:
        producer = make_producer(self._kafka, transactional_id=tid, transaction_timeout_ms=TRANSACTION_TIMEOUT_MS)
        await producer.start()  # InitProducerId: aborts what a predecessor with this id left open
        return producer

    async def publish(self, records: Sequence[Record], timeout: float) -> None:
        if not records:
            return
        loop = asyncio.get_running_loop()
        request = _Request(records, loop.time() + timeout)
        # Whatever becomes of it after the caller stopped waiting is read here, not logged as lost.
        request.done.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.append(request)
        self._waiting.set()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(request.done)
                return
        except TimeoutError:
            if request in self._queue:  # never sent: nothing of it can be read
                self._queue.remove(request)
                raise PublishFailed("the broker did not take it in time") from None
        try:  # in a transaction: its send phase has ended by now; a commit under way gets longer
            async with asyncio.timeout(COMMIT_GRACE_SECONDS):
                await asyncio.shield(request.done)
        except TimeoutError:
            raise PublishFailed("the commit did not end in time") from None

    def _take(self) -> list[_Request]:
        """The requests waiting (up to a transaction's worth); those past their deadline fail
        here, never sent."""
        now = asyncio.get_running_loop().time()
        taken: list[_Request] = []
        count = 0
        while self._queue and count < MAX_RECORDS_PER_TRANSACTION:
            request = self._queue.popleft()
            if request.deadline <= now:
                request.done.set_exception(PublishFailed("the broker did not take it in time"))
                continue
            taken.append(request)
            count += len(request.records)
        if not self._queue:
            self._waiting.clear()
        return taken

    async def _run(self, tid: str) -> None:
        while True:
            await self._waiting.wait()
            batch = self._take()
            if not batch:
                continue
            try:
                await self._transaction(tid, batch)
            except asyncio.CancelledError:
                _fail(batch, "the publisher stopped")
                raise
            except Exception:
                _fail(batch, "the transaction failed")
                log.warning("transaction %s failed; reopening its producer", tid, exc_info=True)
                await self._reopen(tid)

    async def _transaction(self, tid: str, batch: list[_Request]) -> None:
        producer = self._producers[tid]
        loop = asyncio.get_running_loop()
        deadline = min(request.deadline for request in batch)
        await producer.begin_transaction()
        try:
            async with asyncio.timeout(max(deadline - loop.time(), 0.0)):
                await send_all(producer, [r for request in batch for r in request.records])
        except (KafkaError, TimeoutError) as exc:
            _fail(batch, "the broker did not take it in time")
            await producer.abort_transaction()
            log.info("transaction %s aborted: %r", tid, exc)
            return
        await producer.commit_transaction()
        for request in batch:
            if not request.done.done():
                request.done.set_result(None)

    async def _reopen(self, tid: str) -> None:
        old = self._producers.pop(tid, None)
        if old is not None:
            with contextlib.suppress(Exception):
                await old.stop()
        while True:
            try:
                self._producers[tid] = await self._open(tid)
                return
            except Exception:  # the broker is away: keep trying, the other producers serve
                log.warning("reopening producer %s failed; retrying", tid, exc_info=True)
                await asyncio.sleep(1.0)


def _fail(batch: list[_Request], reason: str) -> None:
    for request in batch:
        if not request.done.done():
            request.done.set_exception(PublishFailed(reason))


async def send(producer: AIOKafkaProducer, record: Record) -> asyncio.Future[Any]:
    """Hand `record` to `producer`; returns the future of the broker's ack."""
    return await producer.send(record.topic, record.value, key=record.key, headers=list(record.headers))


async def send_all(producer: AIOKafkaProducer, records: Sequence[Record]) -> None:
    """Send every record, then wait for every ack (raises if one fails)."""
    await asyncio.gather(*[await send(producer, r) for r in records])


class Publisher:
    """What the gateway publishes requests with.

    `publish(records, timeout)` writes the records all or nothing (one shared transaction);
    `publish(records, timeout, atomic=False)` produces them and awaits their acks, for a single
    record whose item counts once by its own identity: one record is written whole or not at
    all anyway, and if it was written after all once the caller answered 503, the client's
    retry collapses with it. That path costs one broker round trip instead of a transaction's
    three, which on a busy broker is most of a request's time. Without transactions (`None`
    transactional id: the Tansu fallback) every call takes the plain path."""

    def __init__(self, producer: AIOKafkaProducer, transactions: TransactionalPublisher | None) -> None:
        self._producer = producer
        self._transactions = transactions

    async def start(self) -> None:
        if self._transactions is not None:
            await self._transactions.start()

    async def stop(self) -> None:
        if self._transactions is not None:
            await self._transactions.stop()

    async def publish(self, records: Sequence[Record], timeout: float, *, atomic: bool = True) -> None:
        if atomic and self._transactions is not None:
            await self._transactions.publish(records, timeout)
            return
        try:
            async with asyncio.timeout(timeout):  # no task per request, unlike wait_for
                await send_all(self._producer, records)
        except (KafkaError, TimeoutError) as exc:
            raise PublishFailed(str(exc) or type(exc).__name__) from None


def publisher(kafka: KafkaConnection, producer: AIOKafkaProducer, transactional_id: str | None) -> Publisher:
    """The gateway's publisher: transactions under `transactional_id`, none if it is None."""
    return Publisher(producer, TransactionalPublisher(kafka, transactional_id) if transactional_id else None)
