"""What the single writer of a release (`release:<org id>:<version>`) knows of it. Pure.

The release record is what every event carries. Besides it, the aggregate remembers the deploys
it has by what they say (to answer a client's retry with 208 instead of a second deploy) and
the commands it decided lately (a redelivered command is answered without new events).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import msgspec

from picket.monitors.state import RecentIds
from picket.schemas.releases import Deploy, Release

RECENT_COMMANDS = 256
KNOWN_DEPLOYS = 1000

DeployKey = tuple[str, str | None, str | None, datetime | None, datetime]


class ReleaseState(msgspec.Struct, kw_only=True, frozen=True):
    version: int = 0
    release: Release | None = None
    deploys: dict[str, int] = {}  # deploy_key -> deploy id, the latest KNOWN_DEPLOYS
    recent_commands: RecentIds = RecentIds()


def initial_state(key: str) -> ReleaseState:
    if not key.startswith("release:"):
        raise KeyError(key)
    return ReleaseState()


def deploy_key(deploy: Deploy) -> str:
    """What makes two deploys the same report: environment, name, url and both dates."""
    started = deploy.date_started.isoformat() if deploy.date_started else ""
    return "\x1f".join((deploy.environment, deploy.name or "", deploy.url or "", started,
                        deploy.date_finished.isoformat()))


def repository_id(org_id: int, name: str) -> int:
    """A stable 52-bit id of the organization's repository `name` (exact in JavaScript)."""
    digest = hashlib.blake2b(f"{org_id}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 12 or 1
