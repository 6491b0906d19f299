"""Projector of `tenancy-events` into ClickHouse: the `entities` rows and the archived log.

Per batch (see `BatchConsumer`): `project()` every event → archive the events → insert the
rows → answer the gateways waiting on commands whose last event is in the batch. A crash
replays the batch; rows are versioned and replayed replies find no waiter, so a replay changes
nothing. Undecodable events go to the dead-letter topic with the reason.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer

from schemas.replies import Reply
from schemas.topics import COMMAND_REPLIES, TENANCY_EVENTS, TENANCY_EVENTS_DLQ
from services.agents.batch import BatchConsumer
from services.agents.codec import decode_event, encode
from services.config import Settings, topic_name
from services.store import entities, event_log
from services.store.client import Store
from services.tenancy.project import project


def projector_group(settings: Settings) -> str:
    return f"{settings.app_id}-tenancy-projector"


class TenancyProjection:
    """The batch handler: writes one batch of tenancy events and answers the callers."""

    def __init__(self, settings: Settings, store: Store, producer: AIOKafkaProducer) -> None:
        self._store = store
        self._producer = producer
        self._replies = topic_name(settings, COMMAND_REPLIES)
        self._dead = topic_name(settings, TENANCY_EVENTS_DLQ)

    async def __call__(self, messages: list[Any]) -> None:
        rows = []
        log_rows = []
        waiting = []
        for msg in messages:
            try:
                event = decode_event(msg.value)
            except msgspec.DecodeError as exc:
                await self._producer.send_and_wait(
                    self._dead, msg.value, key=msg.key,
                    headers=[("reason", f"undecodable event: {exc}".encode()),
                             ("source", f"{msg.topic}/{msg.partition}/{msg.offset}".encode())],
                )
                continue
            rows.extend(project(event))
            log_rows.append(event_log.event_row(event, msg.value))
            if event.meta.reply_to:
                waiting.append(event.meta)
        await asyncio.to_thread(event_log.append, self._store, log_rows)
        await asyncio.to_thread(entities.write_rows, self._store, rows)
        sends = [
            await self._producer.send(
                self._replies,
                encode(Reply(command_id=m.command_id, outcome="accepted")),
                key=m.reply_to.encode(),
            )
            for m in waiting
        ]
        await asyncio.gather(*sends)


def tenancy_projector(settings: Settings, bootstrap: str, store: Store, producer: AIOKafkaProducer) -> BatchConsumer:
    return BatchConsumer(
        "tenancy-projector", bootstrap, topic_name(settings, TENANCY_EVENTS), projector_group(settings),
        TenancyProjection(settings, store, producer),
    )
