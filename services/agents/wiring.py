"""What a worker's consumers are built from, and the one way they are built.

Every consumer is a `BatchConsumer` (`picket.runtime`) on one registered topic, in one of the
consumer groups the registry declares for it, and its handler is a `Pipeline` of the runtime's
steps: most are `item_pipeline`s (per-item isolation, guarded writes, dead letters to the
topic's registered dead-letter topic). Topic names, group names, dead-letter topics and client
settings come from the registry through here, not from each consumer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from picket.bus.connection import KafkaConnection
from picket.bus.offsets import TakeOver
from picket.bus.publisher import Record
from picket.bus.topics import Topics
from picket.config import Settings
from picket.ingest.outcomes import refused_item_outcomes
from picket.runtime.consumer import BatchConsumer, Handler
from picket.runtime.source import KafkaSource
from picket.runtime.steps import Pipeline, Process, Table, item_pipeline
from picket.schemas import topics as t
from picket.schemas.ingest import IngestItem, Outcome
from picket.store.client import Store
from picket.store.guards import TableGuards


@dataclass(frozen=True)
class Wiring:
    settings: Settings
    kafka: KafkaConnection
    store: Store
    producer: AIOKafkaProducer
    guards: TableGuards

    @property
    def topics(self) -> Topics:
        return Topics(self.settings.topic_prefix, self.settings.app_id)

    def topic(self, topic: t.Topic) -> str:
        return self.topics.name(topic)

    def group(self, topic: t.Topic, group: str) -> str:
        return self.topics.group(topic, group)

    def source(self, topics: t.Topic | Sequence[t.Topic], group: str) -> KafkaSource:
        """`topics` (co-partitioned, if several) read in their registered group `group`, which
        starts where the group it took over from left off (`Topic.replaces`)."""
        read = [topics] if isinstance(topics, t.Topic) else list(topics)
        names = {self.group(topic, group) for topic in read}
        if len(names) != 1 or (len(read) > 1 and len({topic.partitions for topic in read}) != 1):
            raise ValueError(f"{[topic.name for topic in read]} cannot be read together in group {group!r}")
        takes_over = [TakeOver(self.topic(topic), topic.partitions, replaced) for topic in read
                      if (replaced := self.topics.replaced_group(topic, group)) is not None]
        return KafkaSource(self.kafka, [self.topic(topic) for topic in read], names.pop(),
                           fast_join=self.settings.fast_group_join, takes_over=takes_over)

    def consumer(self, name: str, topic: t.Topic, group: str, handler: Handler, **options: Any) -> BatchConsumer:
        """A batch consumer of `topic` in its registered group `group`."""
        return BatchConsumer(name, self.source(topic, group), handler, **options)

    def items(self, name: str, topic: t.Topic, process: Process, *, outcomes: bool = True,
              order: Sequence[Table] = (), after: Callable[[bool, list[Any]], None] | None = None,
              on_failure: Callable[[Any, str], list[Record]] | None = None) -> Pipeline:
        """The usual handler of a consumer of `topic` (`picket.runtime.steps.item_pipeline`): an
        ingest item that fails counts as an `invalid` outcome."""
        refused = _refused_outcomes if topic.value_type is IngestItem else None
        return item_pipeline(name, process, store=self.store, guards=self.guards, producer=self.producer,
                             topics=self.topics, topic=topic, outcomes=outcomes, order=order, after=after,
                             refused_outcomes=refused, on_failure=on_failure)


def _refused_outcomes(msg: Any, reason: str) -> list[Outcome]:
    return refused_item_outcomes(msg.value, reason)
