"""Webhook headers as Sentry sends them, and their signatures (`picket.hooks.signing`)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

import pytest

from picket.hooks.signing import USER_AGENT, headers, signature
from picket.schemas.integrations import Delivery

NOW = datetime(2026, 3, 1, 12, 0, 30, 900_000, tzinfo=timezone.utc)
BODY = b'{"action":"event.created","data":{"id":"x"}}'


def _delivery(kind: str, **changes: object) -> Delivery:
    fields: dict[str, object] = dict(id="d-1", kind=kind, target_id="a" * 32, org_id=3, url="https://example.com/h",
                                     secret="s3cr3t", event="event.created", resource="", body=BODY, created=NOW)
    fields.update(changes)
    return Delivery(**fields)  # type: ignore[arg-type]


def test_the_signature_is_the_hex_hmac_sha256_of_the_body_keyed_with_the_secret() -> None:
    expected = hmac.new(b"s3cr3t", BODY, hashlib.sha256).hexdigest()
    assert signature("s3cr3t", BODY) == expected
    assert len(expected) == 64 and expected == expected.lower()
    assert signature("other", BODY) != expected
    assert signature("s3cr3t", BODY + b" ") != expected


def test_a_non_ascii_secret_is_keyed_as_utf8() -> None:
    assert signature("clé", b"x") == hmac.new("clé".encode(), b"x", hashlib.sha256).hexdigest()


def test_service_hook_headers() -> None:
    sent = headers(_delivery("service_hook"), NOW)
    assert sent == {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-ServiceHook-Timestamp": str(int(NOW.timestamp())),
        "X-ServiceHook-GUID": "a" * 32,
        "X-ServiceHook-Signature": signature("s3cr3t", BODY),
    }
    assert sent["X-ServiceHook-Timestamp"] == "1772366430"  # unix seconds, a whole number


def test_sentry_app_headers() -> None:
    sent = headers(_delivery("sentry_app", resource="issue", event="issue.created", id="req-9"), NOW)
    assert sent == {
        "Content-Type": "application/json",
        "User-Agent": "picket-hooks",
        "Request-ID": "req-9",
        "Sentry-Hook-Resource": "issue",
        "Sentry-Hook-Timestamp": "1772366430",
        "Sentry-Hook-Signature": signature("s3cr3t", BODY),
    }


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown delivery kind"):
        headers(_delivery("carrier_pigeon"), NOW)
