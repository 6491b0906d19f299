"""Consumer of `ingest-events`: normalize, group into issues, store events; count outcomes.

It is the single writer of its projects' issues (the topic is keyed by project id). What it
knows of a project (hash → group, next short-id number) is loaded from ClickHouse the first time
the project shows up after start or after a rebalance, and kept in memory after that.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer

from schemas import topics as t
from schemas.ingest import Outcome
from services.agents.batch import BatchConsumer
from services.agents.ingest import DeadLetters, decoded_items, publish_outcomes
from services.config import Settings, topic_name
from services.ingest import issues
from services.ingest.grouping import grouping_hash, metadata
from services.ingest.normalize import normalize_event
from services.ingest.outcomes import Category, OutcomeKind, outcome
from services.store.client import Store


def load_project(store: Store, project_id: int) -> issues.ProjectGroups:
    hashes = store.query(
        "SELECT hash, group_id FROM {db}.group_hashes FINAL WHERE project_id = {p:UInt64}", {"p": project_id}
    )
    statuses = dict(store.query(
        "SELECT group_id, argMax(status, version) FROM {db}.group_status WHERE project_id = {p:UInt64}"
        " GROUP BY group_id", {"p": project_id},
    ))
    (top,) = store.query(
        "SELECT max(short_number) FROM {db}.groups WHERE project_id = {p:UInt64}", {"p": project_id}
    )[0]
    state = issues.ProjectGroups(project_id, next_number=(top or 0) + 1)
    for hash_, group_id in hashes:
        state.by_hash[hash_] = issues.GroupState(group_id, statuses.get(group_id, "unresolved"))
    return state


class EventProjection:
    def __init__(self, settings: Settings, store: Store, producer: AIOKafkaProducer) -> None:
        self._store = store
        self._producer = producer
        self._outcomes = topic_name(settings, t.OUTCOMES)
        self._dead = DeadLetters(settings, producer)
        self._projects: dict[int, issues.ProjectGroups] = {}

    def forget(self) -> None:
        """Drop what is known of projects: after a rebalance another worker may have written."""
        self._projects.clear()

    async def _project(self, project_id: int) -> issues.ProjectGroups:
        state = self._projects.get(project_id)
        if state is None:
            state = await asyncio.to_thread(load_project, self._store, project_id)
            self._projects[project_id] = state
        return state

    async def __call__(self, messages: list[Any]) -> None:
        rows = issues.EventRows()
        outcomes: list[Outcome] = []
        # Work on copies: if the batch fails, the retry must start from the stored state.
        touched: dict[int, issues.ProjectGroups] = {}
        for _, item in await decoded_items(messages, self._dead):
            common = {"org_id": item.org_id, "project_id": item.project_id, "key_id": item.key_id}
            try:
                raw = msgspec.json.decode(item.payload)
                event = normalize_event(raw, project_id=item.project_id, received=item.received,
                                        event_id=item.event_id, client_ip=item.remote_addr, size=len(item.payload))
            except (ValueError, RecursionError):  # msgspec's DecodeError and UnicodeDecodeError are ValueErrors
                outcomes.append(outcome(timestamp=item.received, kind=OutcomeKind.INVALID, reason="invalid_json",
                                        category=Category.ERROR, event_id=item.event_id, **common))
                continue
            if item.project_id not in touched:
                base = await self._project(item.project_id)
                touched[item.project_id] = issues.ProjectGroups(
                    base.project_id, base.next_number,
                    {h: issues.GroupState(g.group_id, g.status) for h, g in base.by_hash.items()},
                )
            hash_ = grouping_hash(event)
            version = int(item.received.timestamp() * 1000)
            issues.add_event(touched[item.project_id], event, hash_, metadata(event), version, rows)
            # As Relay's data category of an event type: errors and default (message) events
            # count as error, security reports as security.
            category = Category.SECURITY if item.item_type == "security" else Category.ERROR
            outcomes.append(outcome(timestamp=item.received, kind=OutcomeKind.ACCEPTED, category=category,
                                    event_id=event.event_id, **common))
        await publish_outcomes(self._producer, self._outcomes, outcomes)
        # Hashes and groups before events: a reader never sees an event of an unknown group.
        await asyncio.to_thread(self._store.insert, "group_hashes", rows.hashes, issues.HASH_COLUMNS)
        await asyncio.to_thread(self._store.insert, "groups", rows.groups, issues.GROUP_COLUMNS)
        await asyncio.to_thread(self._store.insert, "group_status", rows.statuses, issues.STATUS_COLUMNS)
        await asyncio.to_thread(self._store.insert, "events", rows.events, issues.EVENT_COLUMNS)
        self._projects.update(touched)


def events_consumer(settings: Settings, bootstrap: str, store: Store, producer: AIOKafkaProducer) -> BatchConsumer:
    handler = EventProjection(settings, store, producer)
    return BatchConsumer("ingest-events-consumer", bootstrap, topic_name(settings, t.INGEST_EVENTS),
                         f"{settings.app_id}-ingest-events", handler, on_rebalance=handler.forget,
                         fast_join=settings.fast_group_join)
