"""The headers of a webhook request, as Sentry sends them (pure).

Service hooks (`kind == "service_hook"`) carry `X-ServiceHook-Timestamp` (unix seconds),
`X-ServiceHook-GUID` (the hook's id) and `X-ServiceHook-Signature`; Sentry apps
(`kind == "sentry_app"`) carry `Request-ID` (the delivery's id), `Sentry-Hook-Resource`,
`Sentry-Hook-Timestamp` and `Sentry-Hook-Signature`. Both signatures are the HMAC-SHA256 of the
body as sent, keyed with the hook's secret or the app's client secret, in lowercase hex: a
receiver recomputes it over the raw body it got and compares.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from picket.schemas.integrations import Delivery

USER_AGENT = "picket-hooks"
KINDS = ("service_hook", "sentry_app")


def signature(secret: str, body: bytes) -> str:
    """HMAC-SHA256 of `body` keyed with `secret` (UTF-8), hex."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def headers(delivery: Delivery, now: datetime) -> dict[str, str]:
    """The request headers of `delivery` sent at `now` (an aware datetime); ValueError for a kind
    that is neither a service hook nor a Sentry app."""
    timestamp = str(int(now.timestamp()))
    signed = signature(delivery.secret, delivery.body)
    common = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if delivery.kind == "service_hook":
        return {**common, "X-ServiceHook-Timestamp": timestamp, "X-ServiceHook-GUID": delivery.target_id,
                "X-ServiceHook-Signature": signed}
    if delivery.kind == "sentry_app":
        return {**common, "Request-ID": delivery.id, "Sentry-Hook-Resource": delivery.resource,
                "Sentry-Hook-Timestamp": timestamp, "Sentry-Hook-Signature": signed}
    raise ValueError(f"unknown delivery kind {delivery.kind!r} (expected one of {', '.join(KINDS)})")
