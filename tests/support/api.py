"""An HTTP client for tests that checks every answer against Sentry's reference schema.

`call()` validates the response of every operation the reference declares (status code and
body shape), except the documented deviations below, where Sentry's real answers differ
from its own schema and Picket answers as Sentry does.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.contract import ContractError, match_operation, validate_response

# (path template, JSON path) where the reference schema disagrees with Sentry's behaviour.
KNOWN_DEVIATIONS = {
    # Sentry answers `expired` of a member as a boolean; the reference types it as a string.
    ("/api/0/organizations/{organization_slug}/members/{member_id}/", "$.expired"),
    # Sentry answers a key's rate limit as {"window", "count"}; the reference says string.
    ("/api/0/projects/{organization_slug}/{project_slug}/keys/", "$[*].rateLimit"),
    ("/api/0/projects/{organization_slug}/{project_slug}/keys/{key_id}/", "$.rateLimit"),
}


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    response = client.request(method, path, **kwargs)
    assert response.status_code < 500, f"{method} {path} → {response.status_code}: {response.text}"
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("detail"), str), f"error without detail: {response.text}"
        return response
    if match_operation(method, path) is None:
        return response
    try:
        validate_response(method, path, response.status_code, response.content or None)
    except ContractError as exc:
        template = match_operation(method, path)[0]  # type: ignore[index]
        violations = [ln.strip()[2:] for ln in str(exc).splitlines() if ln.strip().startswith("- $")]
        if not violations or any(not _deviation(template, v) for v in violations):
            raise
    return response


def _deviation(template: str, line: str) -> bool:
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
