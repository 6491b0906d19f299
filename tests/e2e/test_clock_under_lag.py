"""A check-in result still waiting in ingestion when the tick past its deadline comes is not
overtaken by the clock.

The lag is forced, on a real broker and a real `picket run`: another member joins the monitors
decider's consumer group on `ingest-monitors` alone, so it is given some of that topic's
partitions and reads nothing, while the decider keeps every partition of `monitors-commands`.
A job starts over REST (in_progress, max runtime 1 minute) on a monitor whose check-ins land on a
held partition; its SDK sends "ok" in time, which sits there. The tick past the job's timeout
comes meanwhile: the clock waits for the decider to catch up on `ingest-monitors` (the hold ends
after a few seconds), so the job is finished before the tick is taken, and nothing times out.
Without that wait the tick would reach the monitor first, through `monitors-commands`, time the
job out and the "ok" would be refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from sentry_sdk.envelope import Envelope, Item, PayloadRef

from picket.agents.monitors import tick
from picket.bus.kafka import partition_for
from picket.schemas.monitors import monitor_key
from picket.schemas.topics import INGEST_MONITORS, MONITORS_CLOCK_TICK
from tests.support.api import call
from tests.support.picket import PicketProcess
from tests.support.waiting import eventually

ORG = "lagging"
HOLD_SECONDS = 4.0


@pytest.fixture(scope="module")
def p(kafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PicketProcess]:  # type: ignore[no-untyped-def]
    proc = PicketProcess(kafka.bootstrap, tmp_path_factory.mktemp("lag"), org=ORG,
                         env={"PICKET_CLOCK": "manual"}).start()
    yield proc
    proc.stop()


def _check_ins(p: PicketProcess, slug: str) -> list[dict[str, Any]]:
    with p.client() as http:
        return call(http, "GET", f"/api/0/organization/{ORG}/monitors/{slug}/checkins/").json()


def _org_id(p: PicketProcess) -> int:
    with p.client() as http:
        return int(call(http, "GET", f"/api/0/organizations/{ORG}/").json()["id"])


def _slug_on(org_id: int, partition: int) -> str:
    """A monitor slug whose key lands on `partition` of `ingest-monitors`."""
    partitions = list(range(INGEST_MONITORS.partitions))
    for n in range(10_000):
        slug = f"held-{n}"
        if partition_for(monitor_key(org_id, slug).encode(), partitions, partitions) == partition:
            return slug
    raise AssertionError("no slug found")


def _sdk_check_in(p: PicketProcess, slug: str, check_in_id: str) -> None:
    project_id = p.dsn.rsplit("/", 1)[1]
    key = p.dsn.split("//")[1].split("@")[0]
    env = Envelope(headers={})
    env.add_item(Item(type="check_in", payload=PayloadRef(json={
        "check_in_id": check_in_id, "monitor_slug": slug, "status": "ok", "environment": "production"})))
    answer = httpx.post(f"{p.url}/api/{project_id}/envelope/?sentry_key={key}", content=env.serialize())
    assert answer.status_code == 200, answer.text


async def _scenario(p: PicketProcess) -> tuple[list[str], list[str], str]:
    """Hold part of `ingest-monitors`; a job of a monitor on a held partition starts, its result
    is sent, then the tick past its timeout; release. Statuses seen while held, statuses after,
    the slug."""
    holder = AIOKafkaConsumer(p.prefix + INGEST_MONITORS.name, bootstrap_servers=p.bootstrap,
                              group_id=f"{p.prefix}picket-monitors-decider", enable_auto_commit=False,
                              partition_assignment_strategy=(RangePartitionAssignor, RoundRobinPartitionAssignor),
                              session_timeout_ms=6000, heartbeat_interval_ms=1000)
    await holder.start()
    try:
        deadline = time.monotonic() + 30
        while not holder.assignment():
            assert time.monotonic() < deadline, "the holder was given no partition"
            await asyncio.sleep(0.2)
        held = min(tp.partition for tp in holder.assignment())
        slug = _slug_on(await asyncio.to_thread(_org_id, p), held)
        # The monitor and the job's start go through monitors-commands, which is not held.
        with p.client() as http:
            created = call(http, "POST", f"/api/0/organizations/{ORG}/monitors/", json={
                "project": "default", "name": slug, "slug": slug, "type": "cron_job",
                "config": {"schedule_type": "crontab", "schedule": "0 0 1 1 *", "max_runtime": 1}})
            assert created.status_code == 201, created.text
            started = call(http, "POST", f"/api/0/organization/{ORG}/monitors/{slug}/checkins/",
                           json={"status": "in_progress"})
            assert started.status_code == 201, started.text
        # The job's result, in time, into the held partition; then the tick past its timeout.
        await asyncio.to_thread(_sdk_check_in, p, slug, started.json()["id"])
        producer = AIOKafkaProducer(bootstrap_servers=p.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(p.prefix + MONITORS_CLOCK_TICK.name,
                                         MONITORS_CLOCK_TICK.encode(tick(datetime.now(timezone.utc) + timedelta(minutes=5))))
        finally:
            await producer.stop()
        await asyncio.sleep(HOLD_SECONDS)
        while_held = [c["status"] for c in await asyncio.to_thread(_check_ins, p, slug)]
    finally:
        await holder.stop()  # leaves the group: the decider takes the partition and reads on
    after = await asyncio.to_thread(eventually, lambda: _check_ins(p, slug),
                                    lambda v: [c["status"] for c in v] != ["in_progress"])
    return while_held, [c["status"] for c in after], slug


def test_a_result_held_up_in_ingestion_is_not_overtaken_by_the_tick_past_its_timeout(p: PicketProcess) -> None:
    while_held, after, slug = asyncio.run(_scenario(p))
    assert while_held == ["in_progress"], "while its partition was held, the result was not decided, nor timed out"
    assert after == ["ok"], f"the tick came before the held result was decided: {after}"
    p.wait_drained(groups=("monitors-decider", "monitors-clock", "monitors-projector"), timeout=60)
    assert [c["status"] for c in _check_ins(p, slug)] == ["ok"]
    assert "behind on partition" not in p.log_tail(400), "the clock waited for the decider, not for its cap"
