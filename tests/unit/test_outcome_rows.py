"""Outcome messages become `outcomes` rows whose dedupe id makes a retried event count once;
Sentry's outcome and data-category numbers; attachments, whose rows and outcomes are keyed by
where they came from."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
import pytest

from picket.schemas.ingest import IngestItem, Outcome
from picket.ingest.attachments import COLUMNS as ATTACHMENT_COLUMNS
from picket.ingest.attachments import process_attachment_item
from picket.ingest.outcome_rows import COLUMNS, outcome_row
from picket.ingest.outcomes import CATEGORY_NAMES, ITEM_CATEGORY, Category, OutcomeKind, outcome

AT = datetime(2024, 5, 1, 12, 0, 7, 654321, tzinfo=timezone.utc)
EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"


def _outcome(category: Category, *, kind: OutcomeKind = OutcomeKind.ACCEPTED, event_id: str | None = EVENT_ID,
             key_id: int | None = 40, reason: str | None = None, quantity: int = 1) -> Outcome:
    return outcome(timestamp=AT, org_id=1, project_id=30, key_id=key_id, kind=kind, category=category,
                   quantity=quantity, reason=reason, event_id=event_id)


def _row(o: Outcome, origin: str) -> dict[str, object]:
    return dict(zip(COLUMNS, outcome_row(o, origin), strict=True))


# --- Sentry's vocabulary ---------------------------------------------------------------------


def test_outcome_numbers_are_sentrys():
    assert [(k.name, int(k)) for k in OutcomeKind] == [
        ("ACCEPTED", 0), ("FILTERED", 1), ("RATE_LIMITED", 2), ("INVALID", 3), ("ABUSE", 4),
        ("CLIENT_DISCARD", 5),
    ]


@pytest.mark.parametrize("name,number", [
    ("default", 0), ("error", 1), ("transaction", 2), ("security", 3), ("attachment", 4), ("session", 5),
    ("profile", 6), ("replay", 7), ("transaction_processed", 8), ("transaction_indexed", 9), ("monitor", 10),
    ("profile_indexed", 11), ("span", 12), ("monitor_seat", 13), ("user_report_v2", 14), ("feedback", 14),
])
def test_category_names_map_to_sentrys_data_category_numbers(name, number):
    assert int(CATEGORY_NAMES[name]) == number


@pytest.mark.parametrize("item_type,number", [
    ("event", 1), ("transaction", 2), ("security", 3), ("attachment", 4), ("session", 5), ("sessions", 5),
    ("check_in", 10), ("feedback", 14), ("user_report", 14), ("profile", 6), ("replay_event", 7),
    ("replay_recording", 7), ("span", 12),
])
def test_envelope_items_count_in_their_data_category(item_type, number):
    assert int(ITEM_CATEGORY[item_type]) == number


def test_an_outcome_carries_plain_numbers():
    o = _outcome(Category.MONITOR, kind=OutcomeKind.RATE_LIMITED, reason="key_quota", quantity=3)
    assert (o.outcome, o.category, o.reason, o.quantity) == (2, 10, "key_quota", 3)
    assert type(o.outcome) is int and type(o.category) is int
    assert (o.org_id, o.project_id, o.key_id, o.event_id, o.timestamp) == (1, 30, 40, EVENT_ID, AT)


# --- outcome rows ----------------------------------------------------------------------------


def test_an_outcome_row_has_whole_second_time_and_plain_defaults():
    row = _row(_outcome(Category.ERROR, key_id=None, reason=None, quantity=1), "outcomes/0/5")
    assert row["timestamp"] == datetime(2024, 5, 1, 12, 0, 7, tzinfo=timezone.utc)
    assert row["key_id"] == 0
    assert row["reason"] == ""
    assert (row["org_id"], row["project_id"], row["outcome"], row["category"], row["quantity"]) == (1, 30, 0, 1, 1)


@pytest.mark.parametrize("category", [Category.DEFAULT, Category.ERROR, Category.TRANSACTION, Category.SECURITY,
                                      Category.USER_REPORT_V2])
def test_two_outcomes_for_the_same_event_share_a_dedupe_id(category):
    # An SDK retry: the same event accepted twice, published as two outcome messages.
    first = _row(_outcome(category), "outcomes/0/10")
    retry = _row(_outcome(category), "outcomes/3/977")
    assert first["dedupe_id"] == retry["dedupe_id"] == f"event:{EVENT_ID}"


def test_outcomes_for_different_events_have_different_dedupe_ids():
    a = _row(_outcome(Category.ERROR, event_id="a" * 32), "outcomes/0/1")
    b = _row(_outcome(Category.ERROR, event_id="b" * 32), "outcomes/0/1")
    assert a["dedupe_id"] != b["dedupe_id"]


@pytest.mark.parametrize("category", [Category.ATTACHMENT, Category.SESSION, Category.PROFILE,
                                      Category.REPLAY, Category.SPAN])
def test_outcomes_of_other_categories_are_keyed_by_their_message(category):
    # Two attachments of one event are two quantities, not a retry: they must not collapse.
    first = _row(_outcome(category), "outcomes/0/10")
    second = _row(_outcome(category), "outcomes/0/11")
    assert first["dedupe_id"] == "outcomes/0/10"
    assert second["dedupe_id"] == "outcomes/0/11"


def test_an_accepted_check_in_is_keyed_by_its_message_id_a_refused_one_by_its_message():
    accepted = _outcome(Category.MONITOR, event_id="c" * 32)
    assert _row(accepted, "outcomes/0/1")["dedupe_id"] == _row(accepted, "outcomes/2/9")["dedupe_id"] == f"event:{'c' * 32}"
    refused = _outcome(Category.MONITOR, kind=OutcomeKind.RATE_LIMITED, reason="key_quota")
    assert _row(refused, "outcomes/0/1")["dedupe_id"] == "outcomes/0/1"


@pytest.mark.parametrize("category", [Category.ATTACHMENT, Category.SESSION, Category.ERROR])
def test_an_outcome_with_an_id_is_keyed_by_it_wherever_its_message_lands(category):
    # Offsets are not identities: after a topic reset a new outcome can land on an old offset.
    o = msgspec.structs.replace(_outcome(category, event_id=None, kind=OutcomeKind.CLIENT_DISCARD), id="f" * 32 + ":0")
    assert _row(o, "outcomes/0/10")["dedupe_id"] == _row(o, "outcomes/3/99")["dedupe_id"] == f"id:{'f' * 32}:0"
    other = msgspec.structs.replace(o, id="e" * 32 + ":0")
    assert _row(other, "outcomes/0/10")["dedupe_id"] != _row(o, "outcomes/0/10")["dedupe_id"]


def test_a_replayed_outcome_message_keeps_its_dedupe_id():
    o = _outcome(Category.SESSION, event_id=None, quantity=16)
    assert outcome_row(o, "outcomes/2/40") == outcome_row(o, "outcomes/2/40")


def test_a_per_event_outcome_without_an_event_id_is_keyed_by_its_message():
    row = _row(_outcome(Category.ERROR, kind=OutcomeKind.CLIENT_DISCARD, event_id=None, reason="queue_overflow"),
               "outcomes/1/7")
    assert row["dedupe_id"] == "outcomes/1/7"


# --- attachments -----------------------------------------------------------------------------


def _attachment(payload: bytes, headers: dict[str, object], event_id: str | None = EVENT_ID) -> IngestItem:
    return IngestItem(item_type="attachment", project_id=30, org_id=1, key_id=40, received=AT,
                      event_id=event_id, payload=payload, headers=headers)


def test_an_attachment_is_stored_with_its_bytes_and_counted_in_bytes():
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    item = _attachment(data, {"filename": "screenshot.png", "content_type": "image/png",
                              "attachment_type": "event.attachment"})
    out = process_attachment_item(item, "ingest-attachments/0/12")

    [raw] = out.rows
    row = dict(zip(ATTACHMENT_COLUMNS, raw, strict=True))
    assert row["project_id"] == 30
    assert row["event_id"] == EVENT_ID
    assert row["attachment_id"] == "ingest-attachments/0/12"
    assert row["name"] == "screenshot.png"
    assert row["content_type"] == "image/png"
    assert row["attachment_type"] == "event.attachment"
    assert row["size"] == len(data) == 264
    assert row["data"] == data
    assert row["received"] == AT

    [accepted] = out.outcomes
    assert accepted.outcome == OutcomeKind.ACCEPTED
    assert accepted.category == Category.ATTACHMENT == 4
    assert accepted.quantity == 264
    assert accepted.event_id == EVENT_ID


def test_an_attachment_without_headers_gets_sentrys_defaults():
    out = process_attachment_item(_attachment(b"log line\n", {}, event_id=None), "ingest-attachments/0/13")
    row = dict(zip(ATTACHMENT_COLUMNS, out.rows[0], strict=True))
    assert row["event_id"] == ""
    assert row["name"] == "attachment"
    assert row["content_type"] == "application/octet-stream"
    assert row["attachment_type"] == "event.attachment"


def test_replaying_an_attachment_message_yields_the_same_row_and_another_message_another():
    item = _attachment(b"dump", {"filename": "core.dmp", "attachment_type": "event.minidump"})
    first = process_attachment_item(item, "ingest-attachments/1/5")
    assert first.rows == process_attachment_item(item, "ingest-attachments/1/5").rows
    other = process_attachment_item(item, "ingest-attachments/1/6")
    assert other.rows[0][2] != first.rows[0][2]


def test_the_accepted_outcomes_of_two_attachments_of_one_event_do_not_collapse():
    a = process_attachment_item(_attachment(b"aa", {"filename": "a.txt"}), "ingest-attachments/0/1").outcomes[0]
    b = process_attachment_item(_attachment(b"bbb", {"filename": "b.txt"}), "ingest-attachments/0/2").outcomes[0]
    assert a.event_id == b.event_id == EVENT_ID
    assert _row(a, "outcomes/0/100")["dedupe_id"] != _row(b, "outcomes/0/101")["dedupe_id"]
