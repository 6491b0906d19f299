"""Sentry's HTTP check-in endpoint, the one shell cron jobs call with curl. Pure.

`GET` or `POST /api/{project_id}/cron/{monitor_slug}/{sentry_key}/` with `status`, `check_in_id`,
`duration` (seconds) and `environment` in the query string, or a JSON body (`Content-Type:
application/json`) with the fields of an envelope's `check_in` item, `monitor_config` among them
(which creates or updates the monitor). As Relay: the slug comes from the path; a body's fields
win over the query's. Unlike Relay, a JSON body may leave `status` and `check_in_id` to the
query (jobs send `?status=ok` with only a `monitor_config` in the body). Without `check_in_id`
the nil id is sent, which finishes the newest in-progress check-in or starts a new one.

`cron_envelope` makes of a request the envelope an SDK would have sent (one `check_in` item),
so the check-in takes the envelope path from there: the same topic, processing and outcomes.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec

from picket.ingest.checkins import STATUSES
from picket.ingest.envelope import Envelope, EnvelopeError, Item, json_object
from picket.ingest.limits import DEFAULT_LIMITS, Limits
from picket.schemas.monitors import NIL_CHECK_IN_ID
from picket.tenancy.slugs import is_valid_slug

QUERY_FIELDS = ("status", "check_in_id", "environment", "duration")
MAX_ENVIRONMENT = 64
MAX_DURATION_SECONDS = 2**31  # 68 years: anything longer is a mistake, not a job


def is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


def cron_envelope(slug: str, query: Mapping[str, str], body: bytes, content_type: str | None,
                  limits: Limits = DEFAULT_LIMITS) -> Envelope:
    """The envelope of one check-in for monitor `slug`; `EnvelopeError` (400) for an invalid slug, a
    missing or unknown status, a malformed id, duration or environment, or a body that is not a JSON object;
    `PayloadTooLarge` (413) over `max_check_in_size`."""
    fields: dict[str, Any] = {name: query[name] for name in QUERY_FIELDS if name in query}
    if "duration" in fields:
        fields["duration"] = _seconds(fields["duration"])
    if body.strip() and is_json(content_type):
        fields.update(json_object(body, limits.max_check_in_size, "max_check_in_size", sized="check-in",
                                  what="check-in body"))
    if not is_valid_slug(slug):
        raise EnvelopeError("The monitor slug in the path is not a valid slug.")
    fields["monitor_slug"] = slug
    status = fields.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        raise EnvelopeError("`status` is required: in_progress, ok or error.")
    fields["check_in_id"] = _check_in_id(fields.get("check_in_id"))
    duration = fields.get("duration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))
                                 or not math.isfinite(duration) or not 0 <= duration <= MAX_DURATION_SECONDS):
        raise EnvelopeError("`duration` is a number of seconds.")
    environment = fields.get("environment")
    if environment is not None and (not isinstance(environment, str) or len(environment) > MAX_ENVIRONMENT):
        raise EnvelopeError(f"`environment` is a string of at most {MAX_ENVIRONMENT} characters.")
    payload = msgspec.json.encode(fields)
    return Envelope({}, [Item({"type": "check_in", "length": len(payload)}, payload)])


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise EnvelopeError("`duration` is a number of seconds.") from None


def _check_in_id(value: Any) -> str:
    """32 lowercase hex digits: a UUID as given, or the nil id when none is."""
    if value is None or value == "":
        return NIL_CHECK_IN_ID
    if not isinstance(value, str) or len(value) > 64:
        raise EnvelopeError("`check_in_id` is a UUID.")
    try:
        return uuid.UUID(value).hex
    except ValueError:
        raise EnvelopeError("`check_in_id` is a UUID.") from None
