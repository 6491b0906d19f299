"""The topic registry under one deployment's prefix: the one way to name topics and groups and to
make the messages sent to them.

Every send site makes its records here, so a message's codec and key are the registry's
(`picket.schemas.topics`), and every dead letter goes to the topic the registry names for the
topic it failed on, with the same headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from picket.bus.publisher import Record, records
from picket.schemas.topics import BY_NAME, Topic

# Bytes of a failure reason kept in a dead letter's headers.
MAX_REASON = 2000


def origin(msg: Any) -> str:
    """Where a consumed message came from: topic/partition/offset."""
    return f"{msg.topic}/{msg.partition}/{msg.offset}"


@dataclass(frozen=True)
class Topics:
    """`prefix`: the deployment's topic prefix; `app_id`: its consumer-group prefix."""

    prefix: str = ""
    app_id: str = "picket"

    def name(self, topic: Topic) -> str:
        return topic.full_name(self.prefix)

    def group(self, topic: Topic, group: str) -> str:
        """The full name of consumer group `group` of `topic` (one the registry declares)."""
        if group not in topic.groups:
            raise ValueError(f"{topic.name} has no consumer group {group!r} in the registry")
        return self._group_name(group)

    def replaced_group(self, topic: Topic, group: str) -> str | None:
        """The full name of the group that `group` took over `topic` from, if it did."""
        self.group(topic, group)  # raises if the registry declares no such group
        replaced = dict(topic.replaces).get(group)
        return None if replaced is None else self._group_name(replaced)

    def _group_name(self, group: str) -> str:
        return self.app_id if group == "" else f"{self.app_id}-{group}"

    def record(self, topic: Topic, value: Any, headers: Sequence[tuple[str, bytes]] = ()) -> Record:
        """`value` as a message of `topic`: the topic's codec, the key it derives."""
        return Record(self.name(topic), topic.encode(value), topic.key_for(value), headers)

    def chunked(self, topic: Topic, value: Any, chunk_id: str) -> list[Record]:
        """`value` as one message of `topic`, or its chunks if it is larger than a message may be."""
        return records(self.name(topic), topic.encode(value), topic.key_for(value), chunk_id)

    def dead_letter_topic(self, topic: Topic) -> str:
        if topic.dead_letter is None:
            raise ValueError(f"{topic.name} has no dead-letter topic in the registry")
        return self.prefix + BY_NAME[topic.dead_letter].name

    def dead_letters(self, topic: Topic, msg: Any, reason: str, consumer: str) -> list[Record]:
        """The dead letter of `msg`, consumed from `topic`: its original key and value (in chunks
        if it was reassembled from chunks), and in headers the reason, where it came from and which
        consumer gave up on it."""
        headers = [("reason", reason[:MAX_REASON].encode("utf-8", "replace")), ("source", origin(msg).encode()),
                   ("consumer", consumer.encode())]
        return records(self.dead_letter_topic(topic), msg.value, msg.key, origin(msg), headers)
