"""Cron `check_in` items become `checkins_raw` rows (kept as received), monitor outcomes, and
`RecordCheckIn` commands for the monitor they name."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
import pytest

from picket.schemas.ingest import IngestItem
from picket.ingest.checkins import COLUMNS, STATUSES, message_id, process_checkin_item
from picket.ingest.outcomes import Category, OutcomeKind

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
CHECK_IN_ID = "83a7c0f9-1e3c-4b6c-9f8e-5c2a1d0b7e64"


def _item(body: object) -> IngestItem:
    payload = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return IngestItem(item_type="check_in", project_id=30, org_id=1, key_id=40, received=RECEIVED,
                      payload=payload)


ORIGIN = "ingest-monitors/0/7"


def _process(item: IngestItem):  # type: ignore[no-untyped-def]
    return process_checkin_item(item, ORIGIN).processed


def _row(out) -> dict[str, object]:
    [row] = out.rows
    return dict(zip(COLUMNS, row, strict=True))


def test_a_finished_check_in_is_stored_as_received_and_accepted_as_a_monitor():
    body = {"check_in_id": CHECK_IN_ID, "monitor_slug": "nightly-backup", "status": "ok",
            "duration": 12.5, "environment": "staging"}
    item = _item(body)
    out = _process(item)

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
    # named by (check-in id, status): a retry of this message counts once, its other status apart
    assert accepted.event_id == message_id(row["check_in_id"], "ok") != message_id(row["check_in_id"], "in_progress")


def test_an_in_progress_check_in_without_environment_or_duration_is_production():
    out = _process(_item({"check_in_id": CHECK_IN_ID.upper(), "monitor_slug": "job",
                                      "status": "in_progress"}))
    row = _row(out)
    assert row["check_in_id"] == "83a7c0f91e3c4b6c9f8e5c2a1d0b7e64"
    assert row["environment"] == "production"
    assert row["duration"] is None
    assert row["status"] == "in_progress"


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_every_check_in_status_an_sdk_sends_is_accepted(status):
    out = _process(_item({"check_in_id": CHECK_IN_ID, "monitor_slug": "job", "status": status}))
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
    out = _process(_item(body))

    assert out.rows == []
    [rejected] = out.outcomes
    assert rejected.outcome == OutcomeKind.INVALID
    assert rejected.category == Category.MONITOR
    assert rejected.reason == "invalid_checkin"


@pytest.mark.parametrize("payload", [b"{", b"[]", b"null"])
def test_a_check_in_that_is_not_a_json_object_is_invalid_json(payload):
    out = _process(_item(payload))
    assert out.rows == []
    assert [(o.outcome, o.category, o.reason) for o in out.outcomes] == [
        (OutcomeKind.INVALID, Category.MONITOR, "invalid_json"),
    ]


def test_a_long_slug_is_cut_to_fifty_characters():
    out = _process(_item({"check_in_id": CHECK_IN_ID, "monitor_slug": "x" * 80, "status": "ok"}))
    assert _row(out)["monitor_slug"] == "x" * 50


def test_processing_the_same_check_in_twice_yields_the_same_row():
    item = _item({"check_in_id": CHECK_IN_ID, "monitor_slug": "job", "status": "error"})
    assert process_checkin_item(item, ORIGIN) == process_checkin_item(item, ORIGIN)


def test_a_check_in_becomes_a_command_for_its_monitor_in_milliseconds():
    body = {"check_in_id": CHECK_IN_ID, "monitor_slug": "nightly", "status": "ok", "duration": 2.5,
            "environment": "staging",
            "monitor_config": {"schedule": {"type": "crontab", "value": "0 * * * *"}, "timezone": "Europe/Vienna"}}
    command = process_checkin_item(_item(body), ORIGIN).command
    assert command is not None
    assert (command.org_id, command.slug, command.environment) == (1, "nightly", "staging")
    assert command.check_in_id == "83a7c0f91e3c4b6c9f8e5c2a1d0b7e64"
    assert command.status == "ok" and command.duration == 2500
    assert command.upsert_config is not None and command.upsert_config.timezone == "Europe/Vienna"
    assert command.project_id == 30 and command.meta.at == RECEIVED
    # The command id comes from where the item was read: a replay is recognised as a duplicate.
    assert command.meta.command_id == f"checkin:{ORIGIN}"


def test_an_in_progress_check_in_is_a_command_without_status():
    body = {"check_in_id": CHECK_IN_ID, "monitor_slug": "job", "status": "in_progress"}
    command = process_checkin_item(_item(body), ORIGIN).command
    assert command is not None and command.status is None


def test_a_bad_monitor_config_makes_the_check_in_invalid_and_sends_nothing():
    body = {"check_in_id": CHECK_IN_ID, "monitor_slug": "job", "status": "ok",
            "monitor_config": {"schedule": {"type": "crontab", "value": "not cron"}}}
    result = process_checkin_item(_item(body), ORIGIN)
    assert result.command is None and result.processed.rows == []
    assert [o.reason for o in result.processed.outcomes] == ["invalid_monitor_config"]


def test_check_ins_without_an_id_count_as_the_items_they_are_not_as_one_check_in():
    body = {"check_in_id": "0" * 32, "monitor_slug": "job", "status": "ok"}
    first = msgspec.structs.replace(_item(body), item_id="item-1")
    retried = msgspec.structs.replace(_item(body), item_id="item-1")
    second = msgspec.structs.replace(_item(body), item_id="item-2")
    [a], [b], [c] = (_process(i).outcomes for i in (first, retried, second))
    assert a.event_id == b.event_id  # a retry of the same item counts once
    assert a.event_id != c.event_id  # another run of the job counts again
