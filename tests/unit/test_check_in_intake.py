"""Check-in items are decided where they arrive: the monitors decider reads `ingest-monitors`
beside `monitors-commands` and decides a check-in without a hop through the command topic when
it owns the monitor's partition, with the item's outcome; anything else (not its partition, an
item keyed by project as before an upgrade) goes on to `monitors-commands`, and a bad item
counts as invalid and goes to the ingest dead letters while the batch goes on. Without a broker
(the producer is a stand-in; on a real one: `tests/integration/test_checkin_crash.py` and the
check-in tests of `tests/e2e/test_monitors.py`)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import msgspec

from picket.agents.aggregate import decider_pipeline
from picket.agents.monitors import MONITORS, check_in_intake
from picket.application.aggregates import StateCache
from picket.bus.kafka import partition_for
from picket.bus.publisher import Record
from picket.bus.topics import Topics
from picket.ingest.outcomes import OutcomeKind
from picket.schemas import monitors as m
from picket.schemas import topics as t
from picket.schemas.ingest import IngestItem
from tests.unit.test_batch_decider import Producer

TOPICS = Topics(prefix="p-")
INGEST, COMMANDS = TOPICS.name(t.INGEST_MONITORS), TOPICS.name(t.MONITORS_COMMANDS)
# A first check-in upserting its monitor: created, recorded, its environment now ok.
CREATED_AND_RECORDED = ["MonitorCreated", "CheckInRecorded", "MonitorEnvironmentStatusChanged", "MonitorUpdated"]
CONFIG = {"schedule": {"type": "interval", "value": 5, "unit": "minute"}}


@dataclass(frozen=True)
class Msg:
    value: bytes
    offset: int
    key: bytes
    partition: int
    topic: str = INGEST
    headers: tuple[tuple[str, bytes], ...] = ()


def item(offset: int, slug: str = "nightly", payload: bytes | None = None, keyed_by_project: bool = False) -> Msg:
    body = payload if payload is not None else msgspec.json.encode(
        {"check_in_id": uuid.uuid4().hex, "monitor_slug": slug, "status": "ok", "monitor_config": CONFIG})
    value = IngestItem(item_type="check_in", project_id=7, org_id=3, key_id=1, payload=body,
                       received=datetime.now(timezone.utc), item_id=uuid.uuid4().hex)
    key = t.INGEST_MONITORS.key_for(value) if not keyed_by_project else b"7"
    return Msg(t.INGEST_MONITORS.encode(value), offset, key, partition_for(key, [0, 1, 2, 3], [0, 1, 2, 3]))


async def no_history(key: str, partition: int) -> list[bytes]:
    return []


def decide_batch(*msgs: Msg, owned: set[int] = {0, 1, 2, 3}, states: StateCache | None = None) -> list[Record]:
    producer = Producer()
    pipeline = decider_pipeline(MONITORS, TOPICS, states or StateCache(MONITORS, no_history), producer,
                                check_in_intake(TOPICS), lambda topic, p: topic == COMMANDS and p in owned)
    asyncio.run(pipeline(list(msgs)))  # type: ignore[arg-type]
    return producer.sent


def kinds(records: list[Record], topic: t.Topic) -> list[str]:
    return [type(topic.decode(r.value)).__name__ for r in records if r.topic == TOPICS.name(topic)]


def outcomes(records: list[Record]) -> list[str]:
    return [OutcomeKind(t.OUTCOMES.decode(r.value).outcome).name for r in records if r.topic == TOPICS.name(t.OUTCOMES)]


def test_a_check_in_on_the_monitors_own_partition_is_decided_where_it_arrives() -> None:
    msg = item(0)
    assert msg.key == b"monitor:3:nightly", "the gateway keys a check-in by its monitor"
    sent = decide_batch(msg)
    assert kinds(sent, t.MONITORS_EVENTS) == CREATED_AND_RECORDED  # upserted, then recorded
    assert kinds(sent, t.MONITORS_COMMANDS) == []
    assert outcomes(sent) == ["ACCEPTED"]
    events = [r for r in sent if r.topic == TOPICS.name(t.MONITORS_EVENTS)]
    assert {r.key for r in events} == {msg.key}, "events keyed by the monitor, on the log's partition"


def test_the_same_item_read_again_is_not_decided_twice() -> None:
    states = StateCache(MONITORS, no_history)
    msg = item(0)
    first = decide_batch(msg, states=states)
    again = decide_batch(msg, states=states)  # a replay after a crash before the commit
    assert kinds(first, t.MONITORS_EVENTS) == CREATED_AND_RECORDED
    assert kinds(again, t.MONITORS_EVENTS) == []


def test_a_check_in_for_a_partition_this_member_does_not_own_goes_on_to_the_command_topic() -> None:
    msg = item(0)
    sent = decide_batch(msg, owned={0, 1, 2, 3} - {msg.partition})
    assert kinds(sent, t.MONITORS_EVENTS) == []
    forwarded = [r for r in sent if r.topic == COMMANDS]
    assert [type(t.MONITORS_COMMANDS.decode(r.value)) for r in forwarded] == [m.RecordCheckIn]
    assert forwarded[0].key == msg.key
    assert outcomes(sent) == ["ACCEPTED"]


def test_an_item_keyed_by_its_project_as_before_an_upgrade_goes_on_to_the_command_topic() -> None:
    sent = decide_batch(item(0, keyed_by_project=True))
    assert kinds(sent, t.MONITORS_EVENTS) == [] and kinds(sent, t.MONITORS_COMMANDS) == ["RecordCheckIn"]


def test_a_bad_item_counts_as_invalid_and_goes_to_the_ingest_dead_letters_while_the_rest_goes_on() -> None:
    bad = item(0, payload=b'{"monitor_slug": "nightly", "status": "ok"')  # cut short
    undecodable = Msg(b"\xc1 not msgpack", 1, b"monitor:3:nightly", bad.partition)
    good, command = item(2, slug="hourly"), Msg(
        t.MONITORS_COMMANDS.encode(m.DeleteMonitor(meta=m.MonitorCommandMeta(command_id="d1", at=datetime.now(timezone.utc)), org_id=3,
                                                   slug="absent")), 3, b"monitor:3:absent", 0, topic=COMMANDS)
    sent = decide_batch(bad, undecodable, good, command)
    dead = [r for r in sent if r.topic == TOPICS.name(t.INGEST_DLQ)]
    assert [r.value for r in dead] == [bad.value, undecodable.value]
    assert all(dict(r.headers)["consumer"] == b"monitors-decider" for r in dead)
    assert sorted(outcomes(sent)) == ["ACCEPTED", "INVALID"], "the undecodable item names no outcome"
    assert kinds(sent, t.MONITORS_EVENTS) == CREATED_AND_RECORDED  # the good one, decided
    assert [r for r in sent if r.topic == TOPICS.name(t.MONITORS_COMMANDS_DLQ)] == []
