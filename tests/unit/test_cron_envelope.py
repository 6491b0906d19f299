"""A cron job's HTTP check-in (query string and/or JSON body) becomes the envelope an SDK would
have sent: one `check_in` item. Hostile input gets a 400 (`EnvelopeError`) or 413
(`PayloadTooLarge`), never an exception of another kind."""

from __future__ import annotations

import json

import pytest

from picket.ingest.cron import cron_envelope
from picket.ingest.envelope import EnvelopeError, PayloadTooLarge

JSON = "application/json; charset=utf-8"
RUN = "83a7c0f9-1e3c-4b6c-9f8e-5c2a1d0b7e64"


def item(query: dict[str, str], body: bytes = b"", content_type: str | None = None, slug: str = "backup") -> dict:
    envelope = cron_envelope(slug, query, body, content_type)
    [only] = envelope.items
    assert only.type == "check_in" and only.headers["length"] == len(only.payload)
    return json.loads(only.payload)


def test_the_query_string_alone_is_a_check_in_with_the_nil_id_when_none_is_given() -> None:
    assert item({"status": "in_progress"}) == {"status": "in_progress", "check_in_id": "0" * 32, "monitor_slug": "backup"}


def test_a_uuid_in_any_spelling_becomes_32_hex_digits() -> None:
    assert item({"status": "ok", "check_in_id": RUN.upper()})["check_in_id"] == RUN.replace("-", "")


def test_a_json_body_wins_over_the_query_and_the_path_names_the_monitor() -> None:
    body = json.dumps({"status": "error", "monitor_slug": "other", "duration": 3, "release": "1.0"}).encode()
    got = item({"status": "ok", "environment": "prod"}, body, JSON)
    assert got == {"status": "error", "environment": "prod", "duration": 3, "release": "1.0",
                   "monitor_slug": "backup", "check_in_id": "0" * 32}


def test_a_body_that_is_not_declared_json_is_ignored_as_relay_does() -> None:
    assert item({"status": "ok"}, b'{"status": "error"}', "text/plain")["status"] == "ok"


@pytest.mark.parametrize("query", [
    {}, {"status": ""}, {"status": "missed"}, {"status": "OK"},
    {"status": "ok", "duration": "nan"}, {"status": "ok", "duration": "inf"}, {"status": "ok", "duration": "-1"},
    {"status": "ok", "duration": "1e400"}, {"status": "ok", "duration": str(2**70)}, {"status": "ok", "check_in_id": "x" * 10_000},
    {"status": "ok", "check_in_id": "1234"}, {"status": "ok", "environment": "e" * 65},
])
def test_a_bad_query_is_a_400(query: dict[str, str]) -> None:
    with pytest.raises(EnvelopeError) as raised:
        cron_envelope("backup", query, b"", None)
    assert not isinstance(raised.value, PayloadTooLarge)


@pytest.mark.parametrize("body", [
    b"\xff\xfe not utf-8", b"[" * 10_000 + b"]" * 10_000, b"123", b'"ok"', b"null",
    json.dumps({"status": "ok", "duration": True}).encode(),
    json.dumps({"status": "ok", "duration": 2**70}).encode(),
    json.dumps({"status": "ok", "duration": -0.5}).encode(),
    json.dumps({"status": "ok", "check_in_id": 12}).encode(),
    json.dumps({"status": "ok", "environment": ["prod"]}).encode(),
    json.dumps({"status": ["ok"]}).encode(),
])
def test_a_hostile_body_is_a_400(body: bytes) -> None:
    with pytest.raises(EnvelopeError):
        cron_envelope("backup", {}, body, JSON)


def test_a_body_over_the_check_in_limit_is_413() -> None:
    with pytest.raises(PayloadTooLarge):
        cron_envelope("backup", {"status": "ok"}, b'{"pad": "' + b"x" * 200_000 + b'"}', JSON)


@pytest.mark.parametrize("slug", ["", "Has Spaces", "a" * 51, "ünï"])
def test_an_invalid_slug_is_a_400(slug: str) -> None:
    with pytest.raises(EnvelopeError):
        cron_envelope(slug, {"status": "ok"}, b"", None)
