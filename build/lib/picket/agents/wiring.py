"""What a worker's consumers are built from, and the one way they are built.

Every consumer is a `BatchConsumer` on one registered topic, in a group named after the app,
and most are an `ItemBatch` (per-item isolation, guarded writes, dead letters to the topic's
registered dead-letter topic). Topic names, group names, dead-letter topics and client settings
come from here, not from each consumer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from picket.schemas import topics as t
from picket.agents.batch import BatchConsumer, Handler
from picket.agents.items import ItemBatch, Process, Table
from picket.bus.publisher import Record
from picket.bus.connection import KafkaConnection
from picket.config import Settings, topic_name
from picket.store.client import Store
from picket.store.guards import TableGuards


@dataclass(frozen=True)
class Wiring:
    settings: Settings
    kafka: KafkaConnection
    store: Store
    producer: AIOKafkaProducer
    guards: TableGuards

    def topic(self, topic: t.Topic) -> str:
        return topic_name(self.settings, topic)

    def group(self, name: str) -> str:
        return f"{self.settings.app_id}-{name}"

    def dead_letters(self, topic: t.Topic) -> str:
        if topic.dead_letter is None:
            raise ValueError(f"{topic.name} has no dead-letter topic in the registry")
        return self.settings.topic_prefix + topic.dead_letter

    def consumer(self, name: str, topic: t.Topic, group: str, handler: Handler, **options: Any) -> BatchConsumer:
        """A batch consumer of `topic` in group `group` (a name made by `group`)."""
        return BatchConsumer(name, self.kafka, self.topic(topic), group, handler,
                             fast_join=self.settings.fast_group_join, **options)

    def items(self, name: str, topic: t.Topic, process: Process, *, outcomes: bool = True,
              order: Sequence[Table] = (), after: Callable[[bool, list[Any]], None] | None = None,
              on_failure: Callable[[Any, str], list[Record]] | None = None) -> ItemBatch:
        """The per-item batch handler of a consumer of `topic` (see `ItemBatch`)."""
        return ItemBatch(name, process, self.store, self.producer, self.guards, self.dead_letters(topic),
                         self.topic(t.OUTCOMES) if outcomes else None, order=order, after=after,
                         on_failure=on_failure)
