"""What the single writer of an integrations aggregate knows. Pure.

- `hooks:<org>:<project>`: the project's service hooks (at most MAX_HOOKS);
- `apps:<org>`: the organization's Sentry apps, their installations and the external issues
  linked through them.
Each remembers the commands it decided lately (a redelivered command makes no new events).
"""

from __future__ import annotations

import msgspec

from picket.monitors.state import RecentIds
from picket.schemas.integrations import ExternalIssue, Installation, SentryApp, ServiceHook

RECENT_COMMANDS = 256
# Sentry's limit of service hooks per project.
MAX_HOOKS = 10


class IntegrationState(msgspec.Struct, kw_only=True, frozen=True):
    version: int = 0
    hooks: dict[str, ServiceHook] = {}
    apps: dict[str, SentryApp] = {}  # by uuid
    installations: dict[str, Installation] = {}  # by uuid
    external_issues: dict[int, ExternalIssue] = {}
    recent_commands: RecentIds = RecentIds()


def initial_state(key: str) -> IntegrationState:
    if not key.startswith(("hooks:", "apps:")):
        raise KeyError(key)
    return IntegrationState()
