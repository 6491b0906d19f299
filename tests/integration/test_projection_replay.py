"""Replaying a projection whose shape a new version changed, while its live projector runs.

Real Apache Kafka, real chdb, the real projector (`picket.agents.aggregate.projector`) of the
tenancy context. Tenancy events are decided from commands (organizations, teams, projects, keys,
renames, deletions) and published on the log of two deployments:

- `upgraded` is projected live by the current version; then the "new version" arrives: its
  migration adds a column to `entities` and its projection fills it. The new version's projector
  goes on live while `picket.store.replay` rebuilds the table, and more events are published in
  every step of the replay, including between its last catch-up and the exchange.
- `fresh` is projected live by the new version from the first event.

Once both projectors have archived every event, every row of `upgraded`'s `entities` equals the
row of `fresh`'s (all columns, the new one included). A replay interrupted while copying, or
between the exchange and its last pass, and started again ends the same way.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest

from picket.agents.aggregate import projector
from picket.agents.tenancy import TENANCY
from picket.agents.wiring import Wiring
from picket.application.aggregates import Context
from picket.bus.connection import KafkaConnection
from picket.bus.kafka import ensure_topics, producer as make_producer
from picket.config import Settings, from_env
from picket.schemas import commands as c
from picket.schemas.rows import EntityRow
from picket.store.client import Store
from picket.store.guards import TableGuards
from picket.store.migrate import migrate
from picket.store.replay import COPY, EXCHANGE, FINISH, Progress, Replay
from tests.support.kafka import KafkaBroker

ORGS = 12
NEW_COLUMN = "ALTER TABLE {db}.entities ADD COLUMN IF NOT EXISTS name String DEFAULT ''"


# --- the new version: `entities` keeps each record's name in a column of its own ---

def _named(event: Any) -> dict[str, list[tuple[Any, ...]]]:
    rows = TENANCY.project(event)["entities"]
    return {"entities": [(*row, msgspec.json.decode(row[7]).get("name") or "") for row in rows]}


NEW_VERSION: Context = replace(TENANCY, project=_named, columns={"entities": (*EntityRow._fields, "name")})


# --- events, decided from commands ---

class History:
    """Tenancy commands decided in order, their events kept."""

    def __init__(self) -> None:
        self._states: dict[str, Any] = {}
        self._n = 0

    def decide(self, command_type: type, **fields: Any) -> list[Any]:
        self._n += 1
        meta = c.CommandMeta(command_id=f"cmd{self._n}", issued_at=datetime.now(timezone.utc))
        command = command_type(meta=meta, **fields)
        key = TENANCY.key_of(command)
        state = self._states.get(key) or TENANCY.initial_state(key)
        decision = TENANCY.decide(key, state, command)
        assert hasattr(decision, "events"), decision
        self._states[key] = TENANCY.fold(state, list(decision.events))
        return list(decision.events)

    def organization(self, n: int) -> list[Any]:
        """An organization with two teams, a project and a key; a team renamed, one deleted."""
        org, team, other, project = n * 100, n * 100 + 1, n * 100 + 2, n * 100 + 3
        return [
            *self.decide(c.CreateOrganization, org_id=org, slug=f"org-{n}", name=f"Org {n}", owner_user_id=1,
                         owner_email="owner@example.com", owner_member_id=org + 50),
            *self.decide(c.CreateTeam, org_id=org, team_id=team, slug=f"team-{n}", name=f"Team {n}"),
            *self.decide(c.CreateTeam, org_id=org, team_id=other, slug=f"gone-{n}", name=f"Gone {n}"),
            *self.decide(c.CreateProject, org_id=org, team_id=team, project_id=project, slug=f"app-{n}",
                         name=f"App {n}", key_id=org + 60, key_public=f"pub{n}", key_secret=f"sec{n}"),
            *self.decide(c.UpdateTeam, org_id=org, team_id=team, name=f"Team {n} renamed"),
            *self.decide(c.DeleteTeam, org_id=org, team_id=other),
        ]


@dataclass
class Deployment:
    """One database with its own topics, and its live projector of the tenancy log."""

    settings: Settings
    store: Store
    wiring: Wiring

    def archived(self) -> int:
        return int(self.store.query("SELECT count() FROM {db}.tenancy_events FINAL")[0][0])

    def entities(self) -> list[tuple[Any, ...]]:
        return self.store.query("SELECT * FROM {db}.entities FINAL ORDER BY kind, id, version")


def shadows(d: Deployment) -> list[str]:
    return [name for (name,) in d.store.query(
        "SELECT name FROM system.tables WHERE database = {d:String} AND endsWith(name, '__replay')",
        {"d": d.settings.database})]


class Publisher:
    """Publishes events on both deployments' logs; `archived_by` waits until a deployment's
    projector has archived all of them."""

    def __init__(self, producer: Any, deployments: list[Deployment]) -> None:
        self._producer = producer
        self._deployments = deployments
        self.sent = 0

    async def publish(self, events: list[Any]) -> None:
        for d in self._deployments:
            topics = d.wiring.topics
            for event in events:
                record = topics.record(TENANCY.events, event)
                await self._producer.send_and_wait(record.topic, record.value, key=record.key)
        self.sent += len(events)

    async def archived_by(self, d: Deployment, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (found := await asyncio.to_thread(d.archived)) < self.sent:
            assert time.monotonic() < deadline, f"{found} of {self.sent} events archived"
            await asyncio.sleep(0.1)


@asynccontextmanager
async def deployments(bootstrap: str, data_dir: Path) -> AsyncIterator[tuple[Deployment, Deployment, Publisher]]:
    kafka = KafkaConnection(bootstrap)
    base = from_env(str(data_dir)).with_(kafka=kafka)
    producer = make_producer(kafka)
    await producer.start()
    store = Store(base.clickhouse_url, "replay_upgraded")
    made = []
    for database in ("replay_upgraded", "replay_fresh"):
        settings = base.with_(topic_prefix=f"r{uuid.uuid4().hex[:8]}-", database=database)
        await ensure_topics(kafka, settings.topic_prefix, (TENANCY.events, TENANCY.public))
        db_store = store if database == "replay_upgraded" else Store(base.clickhouse_url, database)
        migrate(db_store)
        made.append(Deployment(settings, db_store, Wiring(settings, kafka, db_store, producer, TableGuards.load(db_store))))
    upgraded, fresh = made
    fresh.store.command(NEW_COLUMN)  # the new version from the start
    publisher = Publisher(producer, made)
    try:
        yield upgraded, fresh, publisher
    finally:
        await producer.stop()
        for d in made:
            d.store.close()


@asynccontextmanager
async def live(ctx: Context, d: Deployment) -> AsyncIterator[None]:
    consumer = projector(ctx, replace(d.wiring, guards=TableGuards.load(d.store)))
    await consumer.start()
    try:
        yield
    finally:
        await consumer.stop()


class Stepper(Progress):
    """Runs `on(phase, page)` on the test's loop at every step and page of the replay (the replay
    runs in a thread), waiting for it: events published then land mid-replay."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on: Callable[[str, int], Any]) -> None:
        self._loop = loop
        self._on = on
        self._phase = ""
        self._page = 0

    def phase(self, name: str, total: int) -> None:
        self._phase, self._page = name, 0
        self._run()

    def advance(self, events: int) -> None:
        self._page += 1
        self._run()

    def _run(self) -> None:
        assert threading.current_thread() is not threading.main_thread()
        asyncio.run_coroutine_threadsafe(self._on(self._phase, self._page), self._loop).result(timeout=120)


def _replay(store: Store, progress: Progress) -> Any:
    # No margin: the test waits for every insert it causes, so none is in flight at a pass's start.
    return Replay(store, NEW_VERSION, progress, page=7, margin=timedelta(0)).run()


async def _upgraded_while_events_keep_coming(bootstrap: str, data_dir: Path) -> None:
    history = History()
    async with deployments(bootstrap, data_dir) as (upgraded, fresh, publisher):
        async with live(NEW_VERSION, fresh):
            async with live(TENANCY, upgraded):  # the current version
                for n in range(ORGS // 2):
                    await publisher.publish(history.organization(n))
                await publisher.archived_by(upgraded)
            upgraded.store.command(NEW_COLUMN)  # the new version's migration; its projector starts
            assert {row[-1] for row in upgraded.entities()} == {""}, "rows made before it have no name yet"

            next_org = iter(range(ORGS // 2, ORGS))
            seen: list[tuple[str, int]] = []

            async def during(phase: str, page: int) -> None:
                seen.append((phase, page))
                if (phase == COPY and page in (1, 3)) or phase == EXCHANGE:
                    await publisher.publish(history.organization(next(next_org)))
                    await publisher.archived_by(upgraded)  # in the old table only, so far

            async with live(NEW_VERSION, upgraded):
                report = await asyncio.to_thread(_replay, upgraded.store, Stepper(asyncio.get_running_loop(), during))
                for n in next_org:  # after the replay
                    await publisher.publish(history.organization(n))
                await publisher.archived_by(upgraded)
            await publisher.archived_by(fresh)

        assert (EXCHANGE, 0) in seen and any(phase == COPY and page >= 3 for phase, page in seen)
        assert report.skipped == 0 and report.catch_ups >= 1
        rows = upgraded.entities()
        assert rows == fresh.entities()
        names = {row[-1] for row in rows if row[0] == "team"}
        assert {f"Team {n} renamed" for n in range(ORGS)} <= names, "every team, whenever it came, has its name"
        assert shadows(upgraded) == [], "no shadow is left"


def test_a_changed_shape_replayed_while_events_keep_coming_matches_the_live_projection(
        kafka: KafkaBroker, tmp_path: Path) -> None:
    asyncio.run(_upgraded_while_events_keep_coming(kafka.bootstrap, tmp_path))


class Interrupted(Exception):
    pass


async def _interrupted_then_started_again(bootstrap: str, data_dir: Path, where: tuple[str, int]) -> None:
    history = History()
    async with deployments(bootstrap, data_dir) as (upgraded, fresh, publisher):
        async with live(NEW_VERSION, fresh):
            async with live(TENANCY, upgraded):
                for n in range(ORGS):
                    await publisher.publish(history.organization(n))
                await publisher.archived_by(upgraded)
            upgraded.store.command(NEW_COLUMN)
            await publisher.archived_by(fresh)

        async def stop_at(phase: str, page: int) -> None:
            if (phase, page) == where:
                raise Interrupted(f"{phase} {page}")

        with pytest.raises(Interrupted):
            await asyncio.to_thread(_replay, upgraded.store, Stepper(asyncio.get_running_loop(), stop_at))
        assert shadows(upgraded) == ["entities__replay"], "the interrupted replay left its work unfinished"
        report = await asyncio.to_thread(_replay, upgraded.store, Progress())
        assert report.skipped == 0
        assert upgraded.entities() == fresh.entities()
        assert shadows(upgraded) == []


@pytest.mark.parametrize("where", [(COPY, 2), (FINISH, 0)], ids=["while copying", "after the exchange"])
def test_an_interrupted_replay_started_again_ends_as_the_live_projection(
        kafka: KafkaBroker, tmp_path: Path, where: tuple[str, int]) -> None:
    asyncio.run(_interrupted_then_started_again(kafka.bootstrap, tmp_path, where))
