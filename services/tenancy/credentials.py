"""What a client signs in with: API tokens (only their SHA-256 is kept) and a key's DSNs. Pure."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from picket.schemas.entities import ProjectKey


def hash_token(token: str) -> str:
    """The token as stored and looked up: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def dsn(key: ProjectKey, public_url: str) -> dict[str, str]:
    """The DSNs of a client key, as Sentry lists them, for an instance served at `public_url`."""
    parts = urlsplit(public_url)
    host = parts.netloc
    base = f"{parts.scheme}://{host}"
    pid = key.project_id
    return {
        "public": f"{parts.scheme}://{key.public}@{host}/{pid}",
        "secret": f"{parts.scheme}://{key.public}:{key.secret}@{host}/{pid}",
        "csp": f"{base}/api/{pid}/csp-report/?sentry_key={key.public}",
        "security": f"{base}/api/{pid}/security/?sentry_key={key.public}",
        "minidump": f"{base}/api/{pid}/minidump/?sentry_key={key.public}",
        "unreal": f"{base}/api/{pid}/unreal/{key.public}/",
        "cdn": f"{base}/js-sdk-loader/{key.public}.min.js",
    }
