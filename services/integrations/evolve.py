"""fold(state, events) -> state. Pure; an event not newer than the state changes nothing."""

from __future__ import annotations

from typing import Any

import msgspec

from picket.integrations.state import RECENT_COMMANDS, IntegrationState
from picket.schemas.integrations import (
    ExternalIssueLinked,
    ExternalIssueUnlinked,
    HookCreated,
    HookDeleted,
    HookUpdated,
    SentryAppInstalled,
)


def evolve(state: IntegrationState, event: Any) -> IntegrationState:
    if event.meta.version <= state.version:
        return state
    changes: dict[str, Any] = {
        "version": event.meta.version,
        "recent_commands": state.recent_commands.add(event.meta.command_id, RECENT_COMMANDS),
    }
    match event:
        case HookCreated() | HookUpdated():
            changes["hooks"] = {**state.hooks, event.hook.id: event.hook}
        case HookDeleted():
            changes["hooks"] = {k: h for k, h in state.hooks.items() if k != event.hook.id}
        case SentryAppInstalled():
            changes["apps"] = {**state.apps, event.app.uuid: event.app}
            changes["installations"] = {**state.installations, event.installation.uuid: event.installation}
        case ExternalIssueLinked():
            x = event.external_issue
            changes["external_issues"] = {**state.external_issues, x.id: x}
        case ExternalIssueUnlinked():
            changes["external_issues"] = {i: x for i, x in state.external_issues.items()
                                          if i != event.external_issue.id}
    return msgspec.structs.replace(state, **changes)


def fold(state: IntegrationState, events: list[Any]) -> IntegrationState:
    for event in events:
        state = evolve(state, event)
    return state
