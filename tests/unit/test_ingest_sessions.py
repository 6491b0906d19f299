"""Release-health items (`session` updates and pre-aggregated `sessions`) become `sessions`
rows and outcomes, as the sessions consumer stores them. Also the pure helpers they share
(picket.ingest.processed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from picket.schemas.ingest import IngestItem
from picket.ingest import sessions
from picket.ingest.outcomes import Category, OutcomeKind
from picket.ingest.processed import Processed, as_datetime, json_object, number, text
from picket.ingest.sessions import COLUMNS, process_session_item

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)
ORIGIN = "ingest-sessions/0/41"


def _item(item_type: str, body: object, *, event_id: str | None = None) -> IngestItem:
    payload = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return IngestItem(item_type=item_type, project_id=30, org_id=1, key_id=40, received=RECEIVED,
                      event_id=event_id, payload=payload)


def _row(processed: Processed, index: int = 0) -> dict[str, object]:
    return dict(zip(COLUMNS, processed.rows[index], strict=True))


SESSION_UPDATE = {
    "sid": "7c7b6585f8d74c6dbe7e4a9a7bf2c1b0",
    "did": "user-42",
    "seq": 3,
    "init": True,
    "status": "exited",
    "errors": 2,
    "started": "2024-05-01T11:58:00Z",
    "timestamp": "2024-05-01T11:59:30.500Z",
    "duration": 90.5,
    "attrs": {"release": "web@1.2.3", "environment": "production"},
}


# --- one session update ----------------------------------------------------------------------


def test_a_session_update_becomes_one_row_keyed_by_sid_and_seq_and_is_accepted():
    out = process_session_item(_item("session", SESSION_UPDATE), ORIGIN)

    assert len(out.rows) == 1
    row = _row(out)
    assert row["org_id"] == 1 and row["project_id"] == 30
    assert row["session_id"] == "7c7b6585f8d74c6dbe7e4a9a7bf2c1b0"
    assert row["seq"] == 3
    assert row["distinct_id"] == "user-42"
    assert row["init"] == 1
    assert row["status"] == "exited"
    assert row["errors"] == 2
    assert row["started"] == datetime(2024, 5, 1, 11, 58, tzinfo=timezone.utc)
    assert row["timestamp"] == datetime(2024, 5, 1, 11, 59, 30, 500000, tzinfo=timezone.utc)
    assert row["duration"] == 90.5
    assert row["release"] == "web@1.2.3"
    assert row["environment"] == "production"
    # A single update counts as one session and is not an aggregate.
    assert (row["quantity"], row["aggregate"]) == (1, 0)
    assert (row["exited"], row["errored"], row["abnormal"], row["crashed"]) == (0, 0, 0, 0)
    assert row["received"] == RECEIVED

    [accepted] = out.outcomes
    assert accepted.outcome == OutcomeKind.ACCEPTED == 0
    assert accepted.category == Category.SESSION == 5
    assert accepted.quantity == 1
    assert (accepted.org_id, accepted.project_id, accepted.key_id) == (1, 30, 40)
    assert accepted.timestamp == RECEIVED
    assert accepted.reason is None


def test_a_minimal_update_defaults_to_an_ok_session_that_started_when_it_was_received():
    body = {"sid": "abc", "attrs": {"release": "web@1"}}
    out = process_session_item(_item("session", body), ORIGIN)

    row = _row(out)
    assert row["status"] == "ok"
    assert row["seq"] == 0
    assert row["init"] == 0
    assert row["errors"] == 0
    assert row["distinct_id"] == ""
    assert row["environment"] == ""
    assert row["duration"] is None
    assert row["started"] == RECEIVED
    assert row["timestamp"] == RECEIVED
    assert [o.outcome for o in out.outcomes] == [OutcomeKind.ACCEPTED]


def test_nonsense_counters_in_an_update_are_clamped_rather_than_stored():
    body = {**SESSION_UPDATE, "seq": -4, "errors": -1, "init": "yes", "duration": "long"}
    row = _row(process_session_item(_item("session", body), ORIGIN))

    assert row["seq"] == 0
    assert row["errors"] == 0
    assert row["init"] == 0  # only a literal `true` marks the first update
    assert row["duration"] is None


def test_epoch_seconds_are_accepted_for_started_and_timestamp():
    started = datetime(2024, 5, 1, 11, 0, tzinfo=timezone.utc)
    body = {**SESSION_UPDATE, "started": started.timestamp(), "timestamp": started.timestamp() + 60}
    row = _row(process_session_item(_item("session", body), ORIGIN))

    assert row["started"] == started
    assert row["timestamp"] == started + timedelta(seconds=60)


@pytest.mark.parametrize("status", sorted(sessions.STATUSES))
def test_every_sentry_session_status_is_stored(status):
    out = process_session_item(_item("session", {**SESSION_UPDATE, "status": status}), ORIGIN)
    assert _row(out)["status"] == status
    assert out.outcomes[0].outcome == OutcomeKind.ACCEPTED


def test_a_replayed_update_yields_the_identical_row():
    item = _item("session", SESSION_UPDATE)
    first = process_session_item(item, "ingest-sessions/0/41")
    # The row is keyed by (sid, seq), not by where the message came from.
    replay = process_session_item(item, "ingest-sessions/0/99")
    assert first.rows == replay.rows


# --- rejected items --------------------------------------------------------------------------


def _only_invalid(out: Processed, reason: str) -> None:
    assert out.rows == []
    [rejected] = out.outcomes
    assert rejected.outcome == OutcomeKind.INVALID == 3
    assert rejected.category == Category.SESSION
    assert rejected.reason == reason
    assert rejected.quantity == 1
    assert (rejected.org_id, rejected.project_id, rejected.key_id) == (1, 30, 40)


@pytest.mark.parametrize("item_type", ["session", "sessions"])
def test_an_item_without_a_release_is_invalid(item_type):
    body = {**SESSION_UPDATE, "attrs": {"environment": "production"}, "aggregates": []}
    _only_invalid(process_session_item(_item(item_type, body), ORIGIN), "missing_release")


@pytest.mark.parametrize("attrs", [None, "web@1", {"release": ""}, {"release": 12}])
def test_attrs_that_carry_no_release_string_are_a_missing_release(attrs):
    body = {**SESSION_UPDATE, "attrs": attrs}
    _only_invalid(process_session_item(_item("session", body), ORIGIN), "missing_release")


@pytest.mark.parametrize("status", ["OK", "unknown", "", None, 1])
def test_an_update_with_a_status_sentry_does_not_know_is_invalid(status):
    body = {**SESSION_UPDATE, "status": status}
    _only_invalid(process_session_item(_item("session", body), ORIGIN), "invalid_session")


@pytest.mark.parametrize("sid", [None, "", 42])
def test_an_update_without_a_session_id_is_invalid(sid):
    body = {**SESSION_UPDATE, "sid": sid}
    _only_invalid(process_session_item(_item("session", body), ORIGIN), "invalid_session")


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'"session"', b""])
def test_a_payload_that_is_not_a_json_object_is_invalid_json(payload):
    _only_invalid(process_session_item(_item("session", payload), ORIGIN), "invalid_json")


def test_sessions_without_an_aggregates_list_are_invalid():
    body = {"attrs": {"release": "web@1"}, "aggregates": {"exited": 3}}
    _only_invalid(process_session_item(_item("sessions", body), ORIGIN), "invalid_session")


# --- pre-aggregated sessions -----------------------------------------------------------------

AGGREGATES = {
    "aggregates": [
        {"started": "2024-05-01T11:00:00Z", "did": "user-1", "exited": 10, "errored": 2},
        {"started": "2024-05-01T11:01:00Z", "abnormal": 1, "crashed": 3},
    ],
    "attrs": {"release": "web@1.2.3", "environment": "staging"},
}


def test_each_aggregate_becomes_one_row_and_the_item_is_accepted_with_the_total():
    out = process_session_item(_item("sessions", AGGREGATES), ORIGIN)

    assert len(out.rows) == 2
    first, second = _row(out, 0), _row(out, 1)
    assert first["session_id"] == f"{ORIGIN}/0"
    assert second["session_id"] == f"{ORIGIN}/1"
    assert first["status"] == second["status"] == "aggregate"
    assert first["aggregate"] == second["aggregate"] == 1
    assert first["distinct_id"] == "user-1"
    assert first["started"] == first["timestamp"] == datetime(2024, 5, 1, 11, 0, tzinfo=timezone.utc)
    assert (first["exited"], first["errored"], first["abnormal"], first["crashed"]) == (10, 2, 0, 0)
    assert first["quantity"] == 12
    assert (second["exited"], second["errored"], second["abnormal"], second["crashed"]) == (0, 0, 1, 3)
    assert second["quantity"] == 4
    assert first["release"] == "web@1.2.3" and first["environment"] == "staging"

    [accepted] = out.outcomes
    assert accepted.outcome == OutcomeKind.ACCEPTED
    assert accepted.category == Category.SESSION
    assert accepted.quantity == 16


def test_aggregates_that_count_nothing_or_are_not_objects_are_skipped_but_keep_their_index():
    body = {
        "aggregates": [
            "garbage",
            {"started": "2024-05-01T11:00:00Z", "exited": 0},
            {"started": "2024-05-01T11:00:00Z", "exited": -5, "crashed": True},
            {"started": "2024-05-01T11:02:00Z", "errored": 5},
        ],
        "attrs": {"release": "web@1"},
    }
    out = process_session_item(_item("sessions", body), ORIGIN)

    assert [_row(out, i)["session_id"] for i in range(len(out.rows))] == [f"{ORIGIN}/3"]
    assert [o.quantity for o in out.outcomes] == [5]


def test_sessions_that_count_nothing_yield_neither_rows_nor_outcomes():
    body = {"aggregates": [{"started": "2024-05-01T11:00:00Z"}], "attrs": {"release": "web@1"}}
    out = process_session_item(_item("sessions", body), ORIGIN)
    assert out.rows == [] and out.outcomes == []


def test_replaying_an_aggregate_message_yields_identical_rows():
    item = _item("sessions", AGGREGATES)
    assert process_session_item(item, ORIGIN).rows == process_session_item(item, ORIGIN).rows


def test_the_same_aggregates_from_another_message_are_other_rows():
    item = _item("sessions", AGGREGATES)
    here = {r[2] for r in process_session_item(item, "ingest-sessions/0/41").rows}
    there = {r[2] for r in process_session_item(item, "ingest-sessions/1/41").rows}
    assert here.isdisjoint(there)


# --- the shared pure helpers -----------------------------------------------------------------


def test_json_object_accepts_only_objects():
    assert json_object(b'{"a": 1}') == ({"a": 1}, None)
    assert json_object(b"[1]") == (None, "expected a JSON object, got list")
    assert json_object(b"nope")[0] is None


def test_json_object_says_why_hostile_payloads_are_refused():
    assert "not UTF-8" in (json_object(b'{"a": "\xff"}')[1] or "")
    assert json_object(b"[" * 5000 + b"]" * 5000) == (None, "nested too deep")
    assert "not JSON" in (json_object(b'{"a": 1e999}')[1] or "")


def test_items_are_named_by_their_id_when_they_have_one():
    item = msgspec.structs.replace(_item("sessions", AGGREGATES), item_id="ab" * 16)
    keys = {r[2] for r in process_session_item(item, "ingest-sessions/0/41").rows}
    assert keys and all(k.startswith("ab" * 16 + "/") for k in keys), "offsets are not identities"
    assert {o.id for o in process_session_item(item, "x").outcomes} == {"ab" * 16 + ":0"}


def test_as_datetime_reads_rfc3339_and_epoch_and_falls_back_otherwise():
    fallback = RECEIVED
    assert as_datetime("2024-05-01T10:00:00+02:00", fallback) == datetime(2024, 5, 1, 8, tzinfo=timezone.utc)
    assert as_datetime("2024-05-01T10:00:00", fallback) == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    assert as_datetime(0, fallback) == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert as_datetime(True, fallback) is fallback
    assert as_datetime("yesterday", fallback) is fallback
    assert as_datetime(1e20, fallback) is fallback
    assert as_datetime(None, fallback) is fallback


def test_text_and_number_keep_only_values_of_the_right_type():
    assert text("abcdef", 3) == "abc"
    assert text(5) == ""
    assert number(2) == 2.0 and number(2.5) == 2.5
    assert number(True) is None and number("2") is None


def test_a_session_update_stored_twice_counts_once_whatever_item_carried_it():
    # An update is named by (project, sid, seq), not by the item that carried it: an SDK's retry
    # of it in a new envelope (another item id) collapses with the first.
    first = msgspec.structs.replace(_item("session", SESSION_UPDATE), item_id="a" * 32)
    again = msgspec.structs.replace(_item("session", SESSION_UPDATE), item_id="b" * 32)
    [one] = process_session_item(first, ORIGIN).outcomes
    [two] = process_session_item(again, "ingest-sessions/3/9").outcomes
    assert one.id == two.id == f"session:{first.project_id}:{SESSION_UPDATE['sid']}:{SESSION_UPDATE['seq']}"
