"""The steps of a batch pipeline that need neither broker nor store: each message stands alone
in processing, only what succeeded is delivered, every failure and refusal has one dead-letter
path (the consumed topic's registered dead-letter topic, with reason, source and consumer), and
`after` learns whether the batch is kept. (Writing and producing on a real store and broker:
`tests/integration/test_item_batch.py`.)"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest
from clickhouse_connect.driver.exceptions import OperationalError

from picket.bus.publisher import Record
from picket.bus.topics import Topics
from picket.ingest.outcomes import Category, OutcomeKind, outcome
from picket.runtime.steps import (Batch, DeadLetter, Deliver, Guard, Output, Pipeline, ProcessEach, Table)
from picket.schemas import topics as t
from picket.schemas.topics import Topic
from picket.store.guards import TableGuards

TOPICS = Topics(prefix="p-")
NUMBERS = Table("numbers", ("n",))
NUMBERS_IN = Topic("numbers-in", partitions=1, key="k", value_type=bytes, retention_ms=60_000, dead_letter="ingest-dlq")
NOWHERE = Topic("nowhere", partitions=1, key="k", value_type=bytes, retention_ms=60_000)


@dataclass(frozen=True)
class Msg:
    value: bytes
    offset: int
    topic: str = "p-numbers-in"
    partition: int = 0
    key: bytes | None = b"k"
    headers: tuple[tuple[str, bytes], ...] = ()


def accepted(n: int) -> Any:
    return outcome(timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc), org_id=1, project_id=n, key_id=None,
                   kind=OutcomeKind.ACCEPTED, category=Category.ERROR)


async def process(msg: Msg) -> Output:
    """`boom` breaks the processor, `bad` is undecodable, `no` is refused; numbers make a row,
    an outcome and a record."""
    text = msg.value.decode()
    if text == "boom":
        raise RuntimeError("a defect")
    if text == "bad":
        raise msgspec.DecodeError("not a number message")
    if text == "no":
        return Output(refused="refused by its processor")
    n = int(text)
    return Output(outcomes=[accepted(n)], records=[Record("p-out", text.encode())]).add_rows(NUMBERS, [(n,)])


def batch_of(*values: str) -> Batch:
    return Batch([Msg(v.encode(), i) for i, v in enumerate(values)])


def run(*steps: Any, values: tuple[str, ...]) -> Batch:
    batch = batch_of(*values)

    async def go() -> None:
        for step in steps:
            await step(batch)

    asyncio.run(go())
    return batch


def headers(record: Record) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


def test_each_message_is_processed_on_its_own() -> None:
    batch = run(ProcessEach("numbers", process), values=("1", "boom", "bad", "2"))
    assert [item.failed is None for item in batch.items] == [True, False, False, True]
    assert batch.items[1].failed == "processing failed: RuntimeError: a defect"
    assert batch.items[2].failed is not None and batch.items[2].failed.startswith("undecodable message")
    assert batch.items[3].out.rows == {NUMBERS: [(2,)]}


def test_a_processor_that_finds_the_store_failing_pauses_the_batch_instead_of_dead_lettering() -> None:
    async def reads(msg: Msg) -> Output:
        raise OperationalError("the store is away")

    with pytest.raises(OperationalError):
        run(ProcessEach("numbers", reads), values=("1",))


def test_only_what_succeeded_is_delivered_with_its_outcomes() -> None:
    batch = run(ProcessEach("n", process), Deliver(TOPICS), values=("1", "boom", "2"))
    assert [r.value for r in batch.outbox if r.topic == "p-out"] == [b"1", b"2"]
    outcomes = [t.OUTCOMES.decode(r.value) for r in batch.outbox if r.topic == TOPICS.name(t.OUTCOMES)]
    assert [o.project_id for o in outcomes] == [1, 2]


def test_a_consumer_without_outcomes_delivers_its_records_only() -> None:
    batch = run(ProcessEach("n", process), Deliver(TOPICS, outcomes=False), values=("1",))
    assert [r.topic for r in batch.outbox] == ["p-out"]


def test_failures_and_refusals_go_to_the_registered_dead_letter_topic_with_their_reason() -> None:
    failed_calls: list[tuple[bytes, str]] = []

    def on_failure(msg: Msg, reason: str) -> list[Record]:
        failed_calls.append((msg.value, reason))
        return [Record("p-replies", b"could not be stored")]

    def refused_outcomes(msg: Msg, reason: str) -> list[Any]:
        return [accepted(99)]

    step = DeadLetter("numbers-consumer", TOPICS, NUMBERS_IN, refused_outcomes=refused_outcomes, on_failure=on_failure)
    batch = run(ProcessEach("n", process), Deliver(TOPICS), step, values=("1", "boom", "no"))
    dead = [r for r in batch.outbox if r.topic == "p-ingest-dlq"]
    assert [(r.value, headers(r)["reason"]) for r in dead] == [
        (b"boom", "processing failed: RuntimeError: a defect"), (b"no", "refused by its processor")]
    assert headers(dead[0])["source"] == "p-numbers-in/0/1"
    assert headers(dead[0])["consumer"] == "numbers-consumer"
    assert failed_calls == [(b"boom", "processing failed: RuntimeError: a defect")]  # not for a refusal
    assert Record("p-replies", b"could not be stored") in batch.outbox
    outcomes = [t.OUTCOMES.decode(r.value).project_id for r in batch.outbox if r.topic == TOPICS.name(t.OUTCOMES)]
    assert outcomes == [1, 99]  # the success's own, then the failure's refused outcome


def test_an_item_with_an_invalid_outcome_is_dead_lettered_too() -> None:
    async def invalid(msg: Msg) -> Output:
        bad = outcome(timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc), org_id=1, project_id=1, key_id=None,
                      kind=OutcomeKind.INVALID, category=Category.ERROR, reason="payload")
        return Output(outcomes=[bad])

    batch = run(ProcessEach("n", invalid), DeadLetter("c", TOPICS, NUMBERS_IN), values=("1",))
    assert [headers(r)["reason"] for r in batch.outbox] == ["payload"]


def test_a_topic_without_a_dead_letter_topic_is_refused_at_wiring() -> None:
    with pytest.raises(Exception, match="nowhere"):
        DeadLetter("c", TOPICS, NOWHERE)


def test_the_guard_fails_a_message_whose_row_its_column_cannot_hold() -> None:
    guard = Guard(TableGuards({"numbers": {"n": "UInt8"}}))
    batch = run(ProcessEach("n", process), guard, values=("7", "300"))
    assert batch.items[0].failed is None
    assert batch.items[1].failed == "refused by the store's types: numbers.n: 300 is outside 0..255"


def test_after_learns_whether_the_batch_is_kept_and_which_messages_failed() -> None:
    calls: list[tuple[bool, list[bytes]]] = []

    def after(done: bool, failed: list[Msg]) -> None:
        calls.append((done, [m.value for m in failed]))

    async def broken(batch: Batch) -> None:
        raise ConnectionError("the broker is away")

    ok = Pipeline("p", [ProcessEach("n", process)], after=after)
    asyncio.run(ok([Msg(b"1", 0), Msg(b"boom", 1)]))
    failing = Pipeline("p", [ProcessEach("n", process), broken], after=after)
    with pytest.raises(ConnectionError):
        asyncio.run(failing([Msg(b"1", 0)]))
    assert calls == [(True, [b"boom"]), (False, [])]
