"""Values over a Kafka message's size go as chunks and come back whole; offsets are committed no
further than a chunk still held; an item that never completes is handed on, not held forever."""

from __future__ import annotations

from aiokafka.structs import ConsumerRecord

from picket.bus.chunks import HEADER, MAX_MESSAGE_BYTES, Reassembler, chunk_of, split


def _msg(offset: int, value: bytes, headers: list[tuple[str, bytes]] = (), partition: int = 0) -> ConsumerRecord:  # type: ignore[assignment]
    return ConsumerRecord(topic="t", partition=partition, offset=offset, timestamp=0, timestamp_type=0, key=b"k",
                          value=value, checksum=None, serialized_key_size=1, serialized_value_size=len(value),
                          headers=tuple(headers))


def test_a_value_within_a_message_goes_as_it_is() -> None:
    assert split(b"x" * 10, "id") == [(b"x" * 10, [])]
    assert split(b"x" * MAX_MESSAGE_BYTES, "id") == [(b"x" * MAX_MESSAGE_BYTES, [])]


def test_a_larger_value_goes_in_chunks_no_larger_than_a_message() -> None:
    value = bytes(range(256)) * 10_000  # 2.56 MB
    parts = split(value, "item-1")
    assert len(parts) == 3
    assert all(len(piece) <= MAX_MESSAGE_BYTES for piece, _ in parts)
    assert b"".join(piece for piece, _ in parts) == value
    assert [headers for _, headers in parts] == [[(HEADER, f"item-1 {n} 3".encode())] for n in range(3)]


def test_chunks_interleaved_with_other_messages_come_back_whole_in_order_of_completion() -> None:
    value = b"a" * 25 + b"b" * 25
    (first, h0), (second, h1) = split(value, "big", limit=25)
    r = Reassembler()
    out = r.feed([_msg(10, first, h0), _msg(11, b"small one")])
    assert [m.value for m in out] == [b"small one"]
    assert r.holding and r.holds("t", 0) == 10 and r.holds("t", 1) is None
    out = r.feed([_msg(12, b"small two"), _msg(13, second, h1)])
    assert [m.value for m in out] == [b"small two", value]
    whole = out[1]
    assert whole.offset == 13 and whole.headers == () and whole.key == b"k"
    assert not r.holding and r.holds("t", 0) is None


def test_chunks_may_come_in_any_order_and_on_several_partitions() -> None:
    parts = split(b"0123456789", "x", limit=4)
    r = Reassembler()
    assert r.feed([_msg(5, parts[2][0], parts[2][1], partition=1), _msg(6, parts[0][0], parts[0][1], partition=1)]) == []
    assert r.holds("t", 1) == 5
    [whole] = r.feed([_msg(7, parts[1][0], parts[1][1], partition=1)])
    assert whole.value == b"0123456789"


def test_a_rebalance_drops_what_is_held_it_is_read_again_from_the_commit() -> None:
    (first, headers), _ = split(b"ab" * 10, "y", limit=10)
    r = Reassembler()
    r.feed([_msg(3, first, headers)])
    r.forget()
    assert not r.holding


def test_an_item_that_never_completes_is_handed_on_as_it_is() -> None:
    (first, headers), _ = split(b"ab" * 10, "lost", limit=10)
    now = [100.0]
    r = Reassembler(stale_seconds=300.0, clock=lambda: now[0])
    assert r.feed([_msg(3, first, headers)]) == []
    now[0] += 299.0
    assert r.feed([]) == [] and r.holding
    now[0] += 1.0
    [stale] = r.feed([])
    assert (stale.value, stale.offset, stale.key) == (first, 3, b"k") and not r.holding


def test_malformed_chunk_headers_are_whole_messages() -> None:
    for raw in (b"nonsense", b"id 3 2", b"id -1 2", b"\xff\xfe 0 1"):
        assert chunk_of(_msg(0, b"v", [(HEADER, raw)])) is None
