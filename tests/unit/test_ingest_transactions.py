"""Transaction items → `transactions` rows (`picket.ingest.transactions`): what a row holds, that
the same item makes the same row, and that hostile items end in an `invalid` outcome and no
row, never an exception."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from picket.schemas.ingest import IngestItem
from picket.ingest.outcomes import Category, OutcomeKind
from picket.ingest.transactions import process_transaction_item

RECEIVED = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
TRACE = "ab" * 16


def payload(**over: Any) -> dict[str, Any]:
    end = RECEIVED.timestamp() - 10
    body = {
        "event_id": "cd" * 16, "type": "transaction", "transaction": "GET /cart", "platform": "python",
        "start_timestamp": end - 0.25, "timestamp": end, "release": "shop@1.0", "environment": "prod",
        "contexts": {"trace": {"trace_id": TRACE, "span_id": "1" * 16, "parent_span_id": "2" * 16,
                               "op": "http.server", "status": "internal_error"}},
        "user": {"id": "42", "email": "ann@x.io", "username": "ann", "ip_address": "10.0.0.1"},
        "tags": {"browser": "Chrome"},
        "measurements": {"lcp": {"value": 1.5, "unit": "second"}, "fcp": {"value": 800, "unit": "millisecond"},
                         "cls": {"value": 0.1, "unit": ""}, "BAD NAME": {"value": 1}, "nan": {"value": "x"}},
        "request": {"method": "get", "url": "https://shop.test/cart?x=1"},
        "spans": [],
    }
    return body | over


def item(body: Any, raw: bytes | None = None, **over: Any) -> IngestItem:
    return IngestItem(item_type="transaction", project_id=7, org_id=1, key_id=3, received=RECEIVED,
                      payload=raw if raw is not None else json.dumps(body).encode(), item_id="ef" * 16,
                      **({"event_id": None} | over))


def test_a_transaction_becomes_one_row_and_one_accepted_transaction() -> None:
    done = process_transaction_item(item(payload()))
    (row,) = done.rows
    assert (row.project_id, row.event_id, row.trace_id, row.span_id, row.parent_span_id) == (
        7, "cd" * 16, TRACE, "1" * 16, "2" * 16)
    assert (row.transaction, row.op, row.status, row.duration) == ("GET /cart", "http.server", "internal_error", 250.0)
    assert row.timestamp - row.start_timestamp == timedelta(milliseconds=250)
    assert (row.release, row.environment, row.platform) == ("shop@1.0", "prod", "python")
    assert (row.user_id, row.user_email, row.user_username, row.user_ip, row.user_tag) == (
        "42", "ann@x.io", "ann", "10.0.0.1", "id:42")
    tags = dict(zip(row.tags_key, row.tags_value))
    assert tags["browser"] == "Chrome" and tags["transaction"] == "GET /cart" and tags["user"] == "id:42"
    assert "level" not in tags, "an event's default level says nothing of a transaction"
    assert dict(zip(row.measurements_key, row.measurements_value)) == {"lcp": 1500.0, "fcp": 800.0, "cls": 0.1}
    assert (row.http_method, row.http_url) == ("GET", "https://shop.test/cart?x=1")
    (accepted,) = done.outcomes
    assert (accepted.outcome, accepted.category, accepted.quantity) == (OutcomeKind.ACCEPTED, Category.TRANSACTION, 1)
    assert done.refused is None


def test_the_same_item_makes_the_same_row_even_without_an_event_id() -> None:
    body = payload()
    del body["event_id"]
    first, again = process_transaction_item(item(body)), process_transaction_item(item(body))
    assert first.rows == again.rows and first.rows[0].event_id == "ef" * 16
    assert first.outcomes == again.outcomes


def test_defaults_status_unknown_and_an_unknown_status_is_unknown() -> None:
    trace = {"trace_id": TRACE, "span_id": "1" * 16}
    assert process_transaction_item(item(payload(contexts={"trace": trace}))).rows[0].status == "unknown"
    odd = {**trace, "status": "exploded"}
    assert process_transaction_item(item(payload(contexts={"trace": odd}))).rows[0].status == "unknown"


def test_huge_strings_are_cut_not_refused() -> None:
    (row,) = process_transaction_item(item(payload(transaction="t" * 1_000_000, release="r" * 10_000,
                                                   user={"id": "u" * 100_000}))).rows
    assert len(row.transaction) <= 200 and len(row.user_id) <= 128 and len(row.user_tag) <= 200


NOW = RECEIVED.timestamp()


@pytest.mark.parametrize("body, raw, reason", [
    (None, b"{not json", "invalid_json"),
    (None, b"\xff\xfe", "invalid_json"),
    ([1, 2], None, "invalid_json"),
    ("a string", None, "invalid_json"),
    (None, b"[" * 10_000 + b"]" * 10_000, "invalid_json"),
    (None, b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "invalid_json"),
    (payload(timestamp=None), None, "invalid_transaction"),
    (payload(start_timestamp="yesterday"), None, "invalid_transaction"),
    (payload(timestamp=True), None, "invalid_transaction"),
    (payload(timestamp={"nested": 1}), None, "invalid_transaction"),
    (payload(timestamp="9999-12-31T23:59:59Z"), None, "invalid_transaction"),
    (payload(start_timestamp="9999-12-31T23:59:59Z"), None, "invalid_transaction"),
    (payload(timestamp=2 ** 70), None, "invalid_transaction"),
    (payload(start_timestamp=-(2 ** 70)), None, "invalid_transaction"),
    (payload(timestamp=NOW - 40 * 86400, start_timestamp=NOW - 40 * 86400 - 1), None, "invalid_transaction"),
    (payload(start_timestamp=NOW - 5, timestamp=NOW - 6), None, "invalid_transaction"),
    (payload(contexts={}), None, "invalid_transaction"),
    (payload(contexts={"trace": {"trace_id": "not-hex"}}), None, "invalid_transaction"),
    (payload(contexts={"trace": "a string"}), None, "invalid_transaction"),
])
def test_hostile_items_are_invalid_with_no_row(body: Any, raw: bytes | None, reason: str) -> None:
    done = process_transaction_item(item(body, raw))
    assert done.rows == []
    (refused,) = done.outcomes
    assert (refused.outcome, refused.category, refused.reason) == (OutcomeKind.INVALID, Category.TRANSACTION, reason)
    assert done.refused and done.refused.startswith(reason)


@pytest.mark.parametrize("over", [
    {"measurements": {"lcp": {"value": 2 ** 70}, "fcp": {"value": -1e300}, "x": [1]}},
    {"measurements": "lcp"},
    {"tags": [[1, 2], "x", None], "user": "ann", "request": [1]},
    {"extra": json.loads("[" * 500 + "]" * 500)},
    {"contexts": {"trace": {"trace_id": TRACE, "op": {"x": 1}, "span_id": 12, "status": ["ok"]}}},
])
def test_garbage_beside_a_valid_transaction_is_dropped_not_fatal(over: dict[str, Any]) -> None:
    done = process_transaction_item(item(payload(**over)))
    (row,) = done.rows
    assert row.duration == 250.0 and done.outcomes[0].outcome == OutcomeKind.ACCEPTED
    assert all(abs(v) <= 1e15 for v in row.measurements_value)
