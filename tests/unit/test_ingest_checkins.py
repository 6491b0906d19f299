"""Cron `check_in` items become `checkins_raw` rows (kept as received) and monitor outcomes."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
import pytest

from schemas.ingest import IngestItem
from services.ingest.checkins import COLUMNS, STATUSES, process_checkin_item
from services.ingest.outcomes import Category, OutcomeKind

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
CHECK_IN_ID = "83a7c0f9-1e3c-4b6c-9f8e-5c2a1d0b7e64"


def _item(body: object) -> IngestItem:
    payload = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return IngestItem(item_type="check_in", project_id=30, org_id=1, key_id=40, received=RECEIVED,
                      payload=payload)


def _row(out) -> dict[str, object]:
    [row] = out.rows
    return dict(zip(COLUMNS, row, strict=True))


def test_a_finished_check_in_is_stored_as_received_and_accepted_as_a_monitor():
    body = {"check_in_id": CHECK_IN_ID, "monitor_slug": "nightly-backup", "status": "ok",
            "duration": 12.5, "environment": "staging"}
    item = _item(body)
    out = process_checkin_item(item)

    row = _row(out)
    assert row["org_id"] == 1 and row["project_id"] == 30
    # Sentry's check-in ids are UUIDs; they are kept as 32 lowercase hex characters.
    assert row["check_in_id"] == "83a7c0f91e3c4b6c9f8e5c2a1d0b7e64"
    assert row["monitor_slug"] == "nightly-backup"
    assert row["status"] == "ok"
    assert row["duration"] == 12.5
    assert row["environment"] == "staging"
    assert msgspec.json.decode(row["payload"]) == body
    assert row["payload"] == item.payload.decode()
    assert row["received"] == RECEIVED

    [accepted] = out.outcomes
    assert accepted.outcome == OutcomeKind.ACCEPTED
    assert accepted.category == Category.MONITOR == 10
    assert accepted.quantity == 1


def test_an_in_progress_check_in_without_environment_or_duration_is_production():
    out = process_checkin_item(_item({"check_in_id": CHECK_IN_ID.upper(), "monitor_slug": "job",
                                      "status": "in_progress"}))
    row = _row(out)
    assert row["check_in_id"] == "83a7c0f91e3c4b6c9f8e5c2a1d0b7e64"
    assert row["environment"] == "production"
    assert row["duration"] is None
    assert row["status"] == "in_progress"


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_every_check_in_status_an_sdk_sends_is_accepted(status):
    out = process_checkin_item(_item({"check_in_id": CHECK_IN_ID, "monitor_slug": "job", "status": status}))
    assert _row(out)["status"] == status
    assert [o.outcome for o in out.outcomes] == [OutcomeKind.ACCEPTED]


@pytest.mark.parametrize("body", [
    {"monitor_slug": "job", "status": "ok"},
    {"check_in_id": "1234", "monitor_slug": "job", "status": "ok"},
    {"check_in_id": CHECK_IN_ID, "status": "ok"},
    {"check_in_id": CHECK_IN_ID, "monitor_slug": "", "status": "ok"},
    {"check_in_id": CHECK_IN_ID, "monitor_slug": "job"},
    {"check_in_id": CHECK_IN_ID, "monitor_slug": "job", "status": "missed"},
    {"check_in_id": CHECK_IN_ID, "monitor_slug": "job", "status": "OK"},
], ids=["no-id", "short-id", "no-slug", "empty-slug", "no-status", "server-side-status", "upper-status"])
def test_a_check_in_missing_its_id_slug_or_a_known_status_is_invalid(body):
    out = process_checkin_item(_item(body))

    assert out.rows == []
    [rejected] = out.outcomes
    assert rejected.outcome == OutcomeKind.INVALID
    assert rejected.category == Category.MONITOR
    assert rejected.reason == "invalid_checkin"


@pytest.mark.parametrize("payload", [b"{", b"[]", b"null"])
def test_a_check_in_that_is_not_a_json_object_is_invalid_json(payload):
    out = process_checkin_item(_item(payload))
    assert out.rows == []
    assert [(o.outcome, o.category, o.reason) for o in out.outcomes] == [
        (OutcomeKind.INVALID, Category.MONITOR, "invalid_json"),
    ]


def test_a_long_slug_is_cut_to_fifty_characters():
    out = process_checkin_item(_item({"check_in_id": CHECK_IN_ID, "monitor_slug": "x" * 80, "status": "ok"}))
    assert _row(out)["monitor_slug"] == "x" * 50


def test_processing_the_same_check_in_twice_yields_the_same_row():
    item = _item({"check_in_id": CHECK_IN_ID, "monitor_slug": "job", "status": "error"})
    assert process_checkin_item(item).rows == process_checkin_item(item).rows
