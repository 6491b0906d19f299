"""Which client key (DSN public key) an SDK request authenticates with.

Sentry SDKs identify themselves in one of these places, looked at in this order:

1. `X-Sentry-Auth: Sentry sentry_key=<public>, sentry_version=7, sentry_client=<sdk>/<ver>`
2. `Authorization: Sentry sentry_key=<public>, ...` (same syntax; some SDKs use this header),
   or `Authorization: DSN <dsn>`
3. the `sentry_key` query parameter (browsers, which cannot set headers on beacons)
4. the `dsn` in the envelope header (`https://<public>[:<secret>]@host[/path]/<project_id>`)

Pure functions; nothing here checks that a key exists or is active.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote, urlsplit


def parse_sentry_auth(header_value: str) -> dict[str, str]:
    """Parse `[Sentry ]k1=v1, k2=v2, ...` into a dict.

    Keys are lowercased and given their `sentry_` prefix when sent without it ("key=abc" ->
    "sentry_key"); values are stripped of whitespace and surrounding double quotes. Parts
    without "=" are ignored; the first occurrence of a key wins. Never raises for a string.
    """
    value = header_value.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "sentry":
        value = rest
    params: dict[str, str] = {}
    for part in value.split(","):
        key, sep, val = part.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            continue
        if not key.startswith("sentry_"):
            key = "sentry_" + key
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        params.setdefault(key, val)
    return params


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that also works for plain dicts."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
    return value


def _nonempty(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def dsn_public_key(dsn: str) -> str | None:
    """The public key (URL username) of a DSN, or None when there is none or it is malformed."""
    try:
        parts = urlsplit(dsn.strip())
        username = parts.username
    except (ValueError, AttributeError):
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return _nonempty(unquote(username)) if username else None


def dsn_project_id(dsn: str) -> int | None:
    """The project id (last path segment, a positive integer) of a DSN, else None."""
    try:
        parts = urlsplit(dsn.strip())
    except (ValueError, AttributeError):
        return None
    if not parts.scheme or not parts.hostname:
        return None
    last = parts.path.rstrip("/").rpartition("/")[2]
    if not last.isascii() or not last.isdigit():
        return None
    project_id = int(last)
    return project_id if project_id > 0 else None


def public_key_from_request(
    headers: Mapping[str, str],
    query: Mapping[str, str],
    envelope_dsn: str | None,
) -> str | None:
    """The client's public key from the first source that has one (see the module docstring).

    A source present but without a key (e.g. X-Sentry-Auth lacking sentry_key) falls through
    to the next one. Returns None when no source carries a key.
    """
    x_sentry_auth = _header(headers, "x-sentry-auth")
    if x_sentry_auth:
        key = _nonempty(parse_sentry_auth(x_sentry_auth).get("sentry_key"))
        if key:
            return key
    authorization = _header(headers, "authorization")
    if authorization:
        scheme, _, rest = authorization.strip().partition(" ")
        key = None
        if scheme.lower() == "sentry":
            key = _nonempty(parse_sentry_auth(rest).get("sentry_key"))
        elif scheme.lower() == "dsn":
            key = dsn_public_key(rest)
        if key:
            return key
    key = _nonempty(query.get("sentry_key"))
    if key:
        return key
    if envelope_dsn:
        return dsn_public_key(envelope_dsn)
    return None
