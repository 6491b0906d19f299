"""An HTTP client for tests that checks every answer against Sentry's reference schema.

`call()` validates the response of every operation the reference declares (status code and
body shape), except the documented deviations below, where Sentry's real answers differ
from its own schema and Picket answers as Sentry does.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tests.support.contract import ContractError, match_operation, validate_response

# (path template, JSON path) where the reference schema disagrees with Sentry's behaviour.
KNOWN_DEVIATIONS = {
    # Sentry answers `expired` of a member as a boolean; the reference types it as a string.
    ("/api/0/organizations/{organization_slug}/members/{member_id}/", "$.expired"),
    # Sentry answers `user` null for a member invited who has not signed in yet (SCIM makes them).
    ("/api/0/organizations/{organization_slug}/members/{member_id}/", "$.user"),
    # Sentry answers a key's rate limit as {"window", "count"}; the reference says string.
    ("/api/0/projects/{organization_slug}/{project_slug}/keys/", "$[*].rateLimit"),
    ("/api/0/projects/{organization_slug}/{project_slug}/keys/{key_id}/", "$.rateLimit"),
    # Sentry answers a monitor's environments as a list; the reference shows one object.
    ("/api/0/organizations/{organization_slug}/monitors/", "$[*].environments"),
    ("/api/0/organizations/{organization_slug}/monitors/", "$.environments"),
    ("/api/0/organizations/{organization_slug}/monitors/{monitor_slug}/", "$.environments"),
    # Sentry answers null where a check-in has no duration, attachment or expected time yet.
    ("/api/0/organization/{organization_slug}/monitors/{monitor_slug}/checkins/", "$[*].duration"),
    ("/api/0/organization/{organization_slug}/monitors/{monitor_slug}/checkins/", "$[*].attachmentId"),
    ("/api/0/organization/{organization_slug}/monitors/{monitor_slug}/checkins/", "$[*].expectedTime"),
    ("/api/0/organization/{organization_slug}/monitors/{monitor_slug}/checkins/", "$.duration"),
    ("/api/0/organization/{organization_slug}/monitors/{monitor_slug}/checkins/", "$.attachmentId"),
    ("/api/0/organization/{organization_slug}/monitors/{monitor_slug}/checkins/", "$.expectedTime"),
    ("/api/0/organization/{organization_slug}/monitors/{monitor_slug}/checkins/{checkin_id}/", "$.duration"),
    ("/api/0/organization/{organization_slug}/monitors/{monitor_slug}/checkins/{checkin_id}/", "$.attachmentId"),
    ("/api/0/organization/{organization_slug}/monitors/{monitor_slug}/checkins/{checkin_id}/", "$.expectedTime"),
}


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    response = client.request(method, path, **kwargs)
    check(method, path, response.status_code, response.content)
    return response


def check(method: str, path: str, status: int, content: bytes) -> None:
    """No 5xx; errors carry `{"detail": str}`; 2xx of reference operations match the reference."""
    assert status < 500, f"{method} {path} → {status}: {content[:500]!r}"
    if status >= 400:
        detail = json.loads(content).get("detail")
        assert isinstance(detail, str), f"error without detail: {content[:500]!r}"
        return
    matched = match_operation(method, path)
    if matched is None:
        return
    if (method.upper(), matched[0], status) in KNOWN_STATUS_DEVIATIONS and not content:
        return
    try:
        validate_response(method, path, status, content or None)
    except ContractError as exc:
        violations = [ln.strip()[2:] for ln in str(exc).splitlines() if ln.strip().startswith("- $")]
        if not violations or any(not _deviation(matched[0], v) for v in violations):
            raise


# Statuses Sentry answers (with no body) that the reference does not declare.
KNOWN_STATUS_DEVIATIONS = {
    # A bulk update whose selection matches no issue: Sentry answers 204.
    ("PUT", "/api/0/projects/{organization_slug}/{project_slug}/issues/", 204),
}


# Deviations that need a pattern: (path template, regular expression over the violation line).
KNOWN_DEVIATION_PATTERNS = {
    # Sentry answers rates and durations of sessions as floats, null where there are no
    # sessions; the reference types every series and total value as an integer.
    ("/api/0/organizations/{organization_slug}/sessions/",
     r'^\$\.groups\[\d+\]\.(series|totals)\["(crash_rate|crash_free_rate|avg|p50|p75|p90|p95|p99|max)\('),
    # Grouped by project, Sentry runs only the totals query of stats_v2: no `intervals` (nor
    # series); the reference requires them (the stats_v2 tests check them in every other case).
    ("/api/0/organizations/{organization_slug}/stats_v2/", r'^\$: "intervals" is a required property'),
}


def _deviation(template: str, line: str) -> bool:
    if any(tpl == template and re.match(pattern, line) for tpl, pattern in KNOWN_DEVIATION_PATTERNS):
        return True
    for tpl, jpath in KNOWN_DEVIATIONS:
        if tpl != template:
            continue
        prefix = jpath.replace("[*]", "[")
        if jpath.startswith("$[*]"):
            if line.startswith("$[") and line.split("]", 1)[1].startswith(jpath[4:]):
                return True
        elif line.startswith(prefix + ":") or line.startswith(prefix + " "):
            return True
    return False
