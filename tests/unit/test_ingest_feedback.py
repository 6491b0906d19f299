"""User feedback, in both envelope shapes, becomes `feedback` rows keyed by the feedback's id."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
import pytest

from picket.schemas.ingest import IngestItem
from picket.ingest.feedback import COLUMNS, process_feedback_item
from picket.ingest.outcomes import Category, OutcomeKind

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"
FEEDBACK_ID = "1b5e2a2c0a8d4f6e9c3b7a1d2e4f6a8b"


def _item(item_type: str, body: object, event_id: str | None = None) -> IngestItem:
    payload = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return IngestItem(item_type=item_type, project_id=30, org_id=1, key_id=40, received=RECEIVED,
                      event_id=event_id, payload=payload)


def _row(out) -> dict[str, object]:
    [row] = out.rows
    return dict(zip(COLUMNS, row, strict=True))


def _invalid(out, reason: str) -> None:
    assert out.rows == []
    [rejected] = out.outcomes
    assert rejected.outcome == OutcomeKind.INVALID
    assert rejected.category == Category.USER_REPORT_V2 == 14
    assert rejected.reason == reason


# --- the legacy `user_report` item -----------------------------------------------------------


def test_a_user_report_is_stored_under_the_event_it_reports_on():
    body = {"event_id": "9EC79C33-EC99-42AB-8353-589FCB2E04DC", "name": "Jane Doe",
            "email": "jane@example.com", "comments": "It broke when I clicked save."}
    out = process_feedback_item(_item("user_report", body))

    row = _row(out)
    assert row["org_id"] == 1 and row["project_id"] == 30
    assert row["feedback_id"] == EVENT_ID
    assert row["event_id"] == EVENT_ID
    assert row["name"] == "Jane Doe"
    assert row["email"] == "jane@example.com"
    assert row["comments"] == "It broke when I clicked save."
    assert row["date_created"] == RECEIVED

    [accepted] = out.outcomes
    assert accepted.outcome == OutcomeKind.ACCEPTED
    assert accepted.category == Category.USER_REPORT_V2
    assert accepted.event_id == EVENT_ID


def test_a_user_report_without_name_or_email_is_still_kept():
    out = process_feedback_item(_item("user_report", {"event_id": EVENT_ID, "comments": "meh"}))
    row = _row(out)
    assert (row["name"], row["email"], row["comments"]) == ("", "", "meh")


@pytest.mark.parametrize("body", [
    {"name": "Jane", "comments": "no event"},
    {"event_id": "not-an-id", "comments": "bad event id"},
    {"event_id": "z" * 32, "comments": "not hex"},
    {"event_id": EVENT_ID, "comments": ""},
    {"event_id": EVENT_ID},
    {"event_id": EVENT_ID, "comments": ["a", "list"]},
], ids=["no-event", "short-id", "non-hex-id", "empty-comments", "no-comments", "comments-not-text"])
def test_a_user_report_without_a_valid_event_id_or_comments_is_invalid(body):
    _invalid(process_feedback_item(_item("user_report", body)), "invalid_feedback")


def test_a_user_report_that_is_not_json_is_invalid_json():
    _invalid(process_feedback_item(_item("user_report", b"comments=hi")), "invalid_json")


def test_long_user_report_fields_are_cut_to_their_column_limits():
    body = {"event_id": EVENT_ID, "name": "n" * 300, "email": "e" * 100, "comments": "c" * 5000}
    row = _row(process_feedback_item(_item("user_report", body)))
    assert (len(row["name"]), len(row["email"]), len(row["comments"])) == (128, 75, 4096)


# --- the `feedback` item (an event with a feedback context) ----------------------------------

FEEDBACK_EVENT = {
    "event_id": FEEDBACK_ID,
    "timestamp": "2024-05-01T11:59:00Z",
    "contexts": {"feedback": {
        "message": "The checkout button does nothing.",
        "contact_email": "sam@example.com",
        "name": "Sam",
        "associated_event_id": EVENT_ID,
    }},
}


def test_a_feedback_is_stored_under_its_own_id_and_points_at_its_event():
    out = process_feedback_item(_item("feedback", FEEDBACK_EVENT, event_id=FEEDBACK_ID))

    row = _row(out)
    assert row["feedback_id"] == FEEDBACK_ID
    assert row["event_id"] == EVENT_ID
    assert row["name"] == "Sam"
    assert row["email"] == "sam@example.com"
    assert row["comments"] == "The checkout button does nothing."
    assert row["date_created"] == datetime(2024, 5, 1, 11, 59, tzinfo=timezone.utc)

    [accepted] = out.outcomes
    assert accepted.outcome == OutcomeKind.ACCEPTED
    assert accepted.category == Category.USER_REPORT_V2
    assert accepted.event_id == FEEDBACK_ID


def test_a_feedback_without_its_own_event_id_takes_the_envelope_item_id():
    body = {k: v for k, v in FEEDBACK_EVENT.items() if k != "event_id"}
    out = process_feedback_item(_item("feedback", body, event_id=FEEDBACK_ID))
    assert _row(out)["feedback_id"] == FEEDBACK_ID
    assert out.outcomes[0].event_id == FEEDBACK_ID


def test_a_feedback_about_no_event_and_without_timestamp_is_dated_when_received():
    body = {"event_id": FEEDBACK_ID, "contexts": {"feedback": {"message": "Love it"}}}
    row = _row(process_feedback_item(_item("feedback", body)))
    assert row["event_id"] == ""
    assert (row["name"], row["email"]) == ("", "")
    assert row["date_created"] == RECEIVED


@pytest.mark.parametrize("body,event_id", [
    ({"event_id": FEEDBACK_ID, "contexts": {"feedback": {"name": "Sam"}}}, None),
    ({"event_id": FEEDBACK_ID, "contexts": {"feedback": "message"}}, None),
    ({"event_id": FEEDBACK_ID, "contexts": []}, None),
    ({"event_id": FEEDBACK_ID, "message": "top-level message is not a feedback"}, None),
    ({"contexts": {"feedback": {"message": "no id anywhere"}}}, None),
    ({"contexts": {"feedback": {"message": "bad ids"}}}, "not-hex"),
], ids=["no-message", "context-not-object", "contexts-not-object", "no-context", "no-id", "bad-item-id"])
def test_a_feedback_without_a_message_or_an_id_is_invalid(body, event_id):
    _invalid(process_feedback_item(_item("feedback", body, event_id=event_id)), "invalid_feedback")


def test_a_feedback_that_is_a_json_array_is_invalid_json():
    _invalid(process_feedback_item(_item("feedback", b"[]")), "invalid_json")


def test_a_replayed_feedback_yields_the_same_row():
    item = _item("feedback", FEEDBACK_EVENT, event_id=FEEDBACK_ID)
    assert process_feedback_item(item).rows == process_feedback_item(item).rows
