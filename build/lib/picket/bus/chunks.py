"""Values larger than a Kafka message may be, sent as chunks and put together again.

Brokers refuse messages over about 1 MB unless told otherwise (`message.max.bytes`), but Relay's
limits let an attachment, a sessions item or an event be larger. So a value over
`MAX_MESSAGE_BYTES` is split into chunk messages on the same topic and key (so the same
partition), each with the header `picket-chunk: <id> <index> <count>`. The gateway writes all
chunks of an item in the transaction of its request, so a `read_committed` consumer sees all
of them or none.

`Reassembler` is the consumer side: messages without the header pass through; chunks are held
until their item is whole, then handed on as one message (at the offset of its last chunk). So
that a crash loses no held chunk, offsets are committed no further than the first chunk of an
item still incomplete on that partition; replaying from there rebuilds it, and items are keyed
by their ids, so the items after it that are processed again change nothing. An item left
incomplete for `STALE_SECONDS` (its producer died mid-way on a broker without transactions) is
handed on as it is, and fails to decode into the dead letters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

log = logging.getLogger(__name__)

HEADER = "picket-chunk"
# Under the brokers' default limit of 1 MiB a message, with room for the record's overhead.
MAX_MESSAGE_BYTES = 900_000
STALE_SECONDS = 300.0


def split(value: bytes, chunk_id: str, limit: int = MAX_MESSAGE_BYTES) -> list[tuple[bytes, list[tuple[str, bytes]]]]:
    """(value, headers) of each message `value` is sent as: itself, or its chunks."""
    if len(value) <= limit:
        return [(value, [])]
    pieces = [value[at:at + limit] for at in range(0, len(value), limit)]
    return [(piece, [(HEADER, f"{chunk_id} {n} {len(pieces)}".encode())]) for n, piece in enumerate(pieces)]


def chunk_of(msg: Any) -> tuple[str, int, int] | None:
    """(id, index, count) of a chunk message, None for a whole one (or a malformed header)."""
    for name, raw in msg.headers or ():
        if name == HEADER:
            try:
                chunk_id, index, count = raw.decode().split(" ")
                n, total = int(index), int(count)
            except (UnicodeDecodeError, ValueError):
                return None
            return (chunk_id, n, total) if 0 <= n < total else None
    return None


@dataclass
class _Pending:
    first_offset: int
    key: bytes | None
    count: int
    since: float
    pieces: dict[int, bytes] = field(default_factory=dict)


class Reassembler:
    def __init__(self, stale_seconds: float = STALE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._stale = stale_seconds
        self._clock = clock
        self._pending: dict[tuple[str, int], dict[str, _Pending]] = {}  # (topic, partition) -> id -> item

    def feed(self, messages: Iterable[Any]) -> list[Any]:
        """The batch's whole messages, in order: whole ones as they came, chunked ones when their
        last chunk arrives; then items gone stale, as they are."""
        out = []
        now = self._clock()
        for msg in messages:
            found = chunk_of(msg)
            if found is None:
                out.append(msg)
                continue
            chunk_id, index, count = found
            partition = self._pending.setdefault((msg.topic, msg.partition), {})
            item = partition.get(chunk_id)
            if item is None:
                item = partition[chunk_id] = _Pending(msg.offset, msg.key, count, now)
            item.pieces[index] = msg.value
            if len(item.pieces) == item.count:
                del partition[chunk_id]
                out.append(_whole(msg, item))
        for (topic, number), partition in self._pending.items():
            for chunk_id, item in list(partition.items()):
                if now - item.since >= self._stale:
                    log.error("%s/%d: item %s incomplete after %.0fs (%d of %d chunks); handing it on",
                              topic, number, chunk_id, now - item.since, len(item.pieces), item.count)
                    del partition[chunk_id]
                    out.append(_Stale(topic, number, item.first_offset, item.key,
                                      b"".join(item.pieces[n] for n in sorted(item.pieces)), ()))
        return out

    def holds(self, topic: str, partition: int) -> int | None:
        """The offset of the first chunk held on a partition (commit no further), or None."""
        items = self._pending.get((topic, partition))
        return min(item.first_offset for item in items.values()) if items else None

    @property
    def holding(self) -> bool:
        return any(self._pending.values())

    def forget(self) -> None:
        """Drop every held chunk (partitions moved: they will be read again from the commit)."""
        self._pending.clear()


@dataclass(frozen=True)
class _Stale:
    """An incomplete item handed on (the fields of a consumer record that handlers read)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def _whole(last: Any, item: _Pending) -> Any:
    value = b"".join(item.pieces[n] for n in range(item.count))
    headers = tuple((k, v) for k, v in (last.headers or ()) if k != HEADER)
    return replace(last, value=value, headers=headers)
