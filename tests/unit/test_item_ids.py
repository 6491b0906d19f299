"""Every accepted item is named at the gateway: the same envelope sent again names its items the
same (so they count once), anything else names them anew; never by Kafka offsets."""

from __future__ import annotations

from picket.ingest.envelope import Item
from picket.ingest.item_ids import item_ids

EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"


def _items(*payloads: bytes, kind: str = "attachment") -> list[Item]:
    return [Item({"type": kind, "length": len(p)}, p) for p in payloads]


def test_ids_are_32_hex_digits_one_per_item() -> None:
    for event_id in (EVENT_ID, None):
        ids = item_ids(7, event_id, _items(b"a", b"b", b"c"))
        assert len(ids) == 3 and len(set(ids)) == 3
        assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_the_same_envelope_sent_again_names_its_items_the_same() -> None:
    assert item_ids(7, EVENT_ID, _items(b"a", b"b")) == item_ids(7, EVENT_ID, _items(b"a", b"b"))


def test_another_envelope_about_the_same_event_names_its_items_anew() -> None:
    first = item_ids(7, EVENT_ID, _items(b"first attachment"))
    later = item_ids(7, EVENT_ID, _items(b"later attachment"))
    assert first != later
    assert item_ids(7, EVENT_ID, _items(b"x")) != item_ids(8, EVENT_ID, _items(b"x")), "per project"
    assert item_ids(7, EVENT_ID, _items(b"x")) != item_ids(7, EVENT_ID, _items(b"x", kind="event"))


def test_envelopes_without_an_event_id_are_always_new() -> None:
    assert item_ids(7, None, _items(b"same")) != item_ids(7, None, _items(b"same"))


def test_items_that_count_once_by_their_own_identity_name_themselves() -> None:
    from picket.ingest.item_ids import names_itself

    for item_type in ("check_in", "session", "feedback", "user_report"):
        assert names_itself(item_type, None)
    for item_type in ("event", "security", "transaction"):
        assert names_itself(item_type, EVENT_ID) and not names_itself(item_type, None)
    for item_type in ("sessions", "attachment", "client_report", "profile"):
        assert not names_itself(item_type, EVENT_ID), "counted by item: only a transaction makes a retry safe"


def test_an_envelope_that_says_when_it_was_sent_to_the_millisecond_is_named_by_that_instant() -> None:
    sent = "2026-12-05T07:31:02.417Z"
    assert item_ids(7, None, _items(b"agg"), sent) == item_ids(7, None, _items(b"agg"), sent), "a resend"
    assert item_ids(7, None, _items(b"agg"), sent) != item_ids(7, None, _items(b"agg"), "2026-12-05T07:31:02.418Z")
    assert item_ids(7, None, _items(b"agg"), sent) != item_ids(7, None, _items(b"other"), sent)
    assert item_ids(7, None, _items(b"agg"), sent) != item_ids(8, None, _items(b"agg"), sent), "per project"
    assert item_ids(7, None, _items(b"agg"), "2026-12-05T07:31:02.417123+00:00") == \
        item_ids(7, None, _items(b"agg"), "2026-12-05T07:31:02.417123+00:00")


def test_a_coarse_or_odd_sent_at_names_nothing() -> None:
    for sent in ("2026-12-05T07:31:02Z", "2026-12-05", "yesterday", "", "2026-12-05T07:31:02.4Z",
                 "2026-12-05T07:31:02.417Z\n"):
        assert item_ids(7, None, _items(b"agg"), sent) != item_ids(7, None, _items(b"agg"), sent), sent
