"""Client reports (what an SDK dropped itself) become `client_discard` outcomes, one per entry."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
import pytest

from picket.schemas.ingest import Outcome
from picket.ingest.client_reports import client_report_outcomes
from picket.ingest.outcomes import Category, OutcomeKind

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=timezone.utc)


def _outcomes(report: object, key_id: int | None = 40) -> list[Outcome]:
    payload = report if isinstance(report, bytes) else msgspec.json.encode(report)
    return client_report_outcomes(payload, received=RECEIVED, org_id=1, project_id=30, key_id=key_id)


def test_every_discarded_entry_becomes_a_client_discard_outcome_at_the_report_time():
    report = {
        "timestamp": "2024-05-01T11:58:00Z",
        "discarded_events": [
            {"reason": "queue_overflow", "category": "error", "quantity": 23},
            {"reason": "network_error", "category": "transaction", "quantity": 2},
            {"reason": "before_send", "category": "attachment", "quantity": 4096},
        ],
    }
    out = _outcomes(report)

    assert [(o.outcome, o.category, o.reason, o.quantity) for o in out] == [
        (OutcomeKind.CLIENT_DISCARD, Category.ERROR, "queue_overflow", 23),
        (OutcomeKind.CLIENT_DISCARD, Category.TRANSACTION, "network_error", 2),
        (OutcomeKind.CLIENT_DISCARD, Category.ATTACHMENT, "before_send", 4096),
    ]
    assert all(o.outcome == 5 for o in out)
    at = datetime(2024, 5, 1, 11, 58, tzinfo=timezone.utc)
    assert all(o.timestamp == at for o in out)
    assert all((o.org_id, o.project_id, o.key_id) == (1, 30, 40) for o in out)
    assert all(o.event_id is None for o in out)


def test_the_other_lists_of_a_report_become_rate_limited_and_filtered_outcomes():
    """As Relay does: what a relay in front rate limited or filtered keeps that outcome."""
    report = {
        "rate_limited_events": [{"reason": "ratelimit_backoff", "category": "session", "quantity": 1}],
        "filtered_events": [{"reason": "event_processor", "category": "feedback", "quantity": 2}],
        "filtered_sampling_events": [{"reason": "sample_rate", "category": "transaction", "quantity": 7}],
    }
    out = _outcomes(report)
    assert sorted((o.category, o.reason, o.quantity, o.outcome) for o in out) == sorted([
        (Category.SESSION, "ratelimit_backoff", 1, OutcomeKind.RATE_LIMITED),
        (Category.USER_REPORT_V2, "event_processor", 2, OutcomeKind.FILTERED),
        (Category.TRANSACTION, "sample_rate", 7, OutcomeKind.FILTERED),
    ])


def test_a_report_without_timestamp_is_dated_when_received():
    out = _outcomes({"discarded_events": [{"reason": "x", "category": "error", "quantity": 1}]})
    assert out[0].timestamp == RECEIVED


def test_a_report_with_an_epoch_timestamp_is_dated_accordingly():
    at = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
    out = _outcomes({"timestamp": at.timestamp(),
                     "discarded_events": [{"reason": "x", "category": "error", "quantity": 1}]})
    assert out[0].timestamp == at


def test_an_unreadable_timestamp_falls_back_to_the_reception_time():
    out = _outcomes({"timestamp": "soon",
                     "discarded_events": [{"reason": "x", "category": "error", "quantity": 1}]})
    assert out[0].timestamp == RECEIVED


def test_a_report_from_a_key_less_client_has_no_key():
    out = _outcomes({"discarded_events": [{"reason": "x", "category": "error", "quantity": 1}]}, key_id=None)
    assert out[0].key_id is None


def test_malformed_entries_are_skipped_and_the_rest_are_kept():
    report = {
        "discarded_events": [
            "queue_overflow",
            {"reason": "unknown_category", "category": "bogus", "quantity": 1},
            {"reason": "zero", "category": "error", "quantity": 0},
            {"reason": "negative", "category": "error", "quantity": -3},
            {"reason": "fraction", "category": "error", "quantity": 1.5},
            {"reason": "text", "category": "error", "quantity": "3"},
            {"category": "error", "quantity": 3},
            {"reason": 7, "category": "error", "quantity": 3},
            {"reason": "no_category", "quantity": 3},
            {"reason": "kept", "category": "error", "quantity": 3},
        ],
        "rate_limited_events": {"not": "a list"},
        "unknown_list": [{"reason": "x", "category": "error", "quantity": 1}],
    }
    out = _outcomes(report)
    assert [(o.reason, o.quantity) for o in out] == [("kept", 3)]


def test_a_boolean_quantity_is_malformed_and_skipped():
    # A JSON `true` is not a count; kept, it would make an outcome whose quantity does not
    # decode as an integer on the outcomes topic.
    out = _outcomes({"discarded_events": [{"reason": "flag", "category": "error", "quantity": True}]})
    assert out == []


def test_a_very_long_reason_is_cut_to_two_hundred_characters():
    out = _outcomes({"discarded_events": [{"reason": "r" * 500, "category": "error", "quantity": 1}]})
    assert out[0].reason == "r" * 200


def test_an_empty_report_yields_no_outcomes():
    assert _outcomes({}) == []
    assert _outcomes({"discarded_events": []}) == []


@pytest.mark.parametrize("payload", [b"not json", b"{", b""])
def test_a_report_that_is_not_json_is_a_value_error(payload):
    with pytest.raises(ValueError, match="not JSON"):
        _outcomes(payload)


@pytest.mark.parametrize("payload", [b"[]", b"42", b'"report"', b"null"])
def test_a_report_that_is_json_but_not_an_object_is_a_value_error(payload):
    with pytest.raises(ValueError, match="not a JSON object"):
        _outcomes(payload)


def test_client_discard_outcomes_survive_the_outcomes_topic_encoding():
    out = _outcomes({"discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 2}]})
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(out[0]), type=Outcome)
    assert decoded == out[0]


@pytest.mark.parametrize("quantity", [2**32, 2**63, 2**64, 2**70, -(2**70)])
def test_a_quantity_no_u32_holds_is_skipped_and_the_rest_kept(quantity):
    out = _outcomes({"discarded_events": [{"reason": "huge", "category": "error", "quantity": quantity},
                                          {"reason": "kept", "category": "error", "quantity": 2**32 - 1}]})
    assert [(o.reason, o.quantity) for o in out] == [("kept", 2**32 - 1)]
    # What is kept goes through the outcomes topic's encoding.
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(out[0]), type=Outcome) == out[0]


@pytest.mark.parametrize("timestamp", [-1, 4102444800, 1e12, 1e300, "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z",
                                       "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_report_dated_outside_1970_to_2100_gives_no_outcomes(timestamp):
    assert _outcomes({"timestamp": timestamp,
                      "discarded_events": [{"reason": "x", "category": "error", "quantity": 1}]}) == []


def test_a_report_dated_at_the_edges_of_the_range_is_kept():
    for timestamp, at in [(0, datetime(1970, 1, 1, tzinfo=timezone.utc)),
                          ("2099-12-31T23:59:59Z", datetime(2099, 12, 31, 23, 59, 59, tzinfo=timezone.utc))]:
        out = _outcomes({"timestamp": timestamp, "discarded_events": [{"reason": "x", "category": "error", "quantity": 1}]})
        assert [o.timestamp for o in out] == [at]


@pytest.mark.parametrize(("payload", "detail"), [
    (b'{"discarded_events": [{"reason": "\xff", "category": "error", "quantity": 1}]}', "not valid UTF-8"),
    (b'{"discarded_events": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested more than"),
])
def test_a_report_that_is_not_utf8_or_nests_too_deep_is_a_value_error(payload, detail):
    with pytest.raises(ValueError, match=detail):
        _outcomes(payload)
