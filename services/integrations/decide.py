"""decide(key, state, command) -> Accepted(events) | Rejected(outcome, detail). Pure.

A project has at most MAX_HOOKS service hooks; an app's slug is unique in its organization; an
external issue is linked once per installation and identifier (linking it again is a conflict,
as Sentry's unique constraint answers).
"""

from __future__ import annotations

from typing import Any

import msgspec

from picket.decisions import Accepted, Decision, Emitter, Rejected
from picket.integrations.state import MAX_HOOKS, IntegrationState
from picket.schemas.integrations import (
    CreateHook,
    CreateSentryApp,
    DeleteHook,
    ExternalIssueLinked,
    ExternalIssueUnlinked,
    HookCreated,
    HookDeleted,
    HookUpdated,
    IntegrationEventMeta,
    LinkExternalIssue,
    SentryAppInstalled,
    UnlinkExternalIssue,
    UpdateHook,
)

NOT_FOUND = "The requested resource does not exist"


def decide(key: str, state: IntegrationState, command: Any) -> Decision:
    if command.meta.command_id in state.recent_commands:
        return Accepted([], duplicate=True)
    emit = Emitter(command, key, state.version, IntegrationEventMeta, command.meta.issued_at)
    match command:
        case CreateHook():
            if len(state.hooks) >= MAX_HOOKS:
                return Rejected("invalid", f"You have reached the maximum number of service hooks ({MAX_HOOKS}) "
                                           "for this project.")
            emit(HookCreated, hook=command.hook)
        case UpdateHook():
            hook = state.hooks.get(command.hook_id)
            if hook is None or hook.project_id != command.project_id:
                return Rejected("not_found", NOT_FOUND)
            changed = msgspec.structs.replace(hook, url=command.url or hook.url,
                                              events=command.events if command.events is not None else hook.events)
            if changed != hook:
                emit(HookUpdated, hook=changed)
        case DeleteHook():
            hook = state.hooks.get(command.hook_id)
            if hook is None or hook.project_id != command.project_id:
                return Rejected("not_found", NOT_FOUND)
            emit(HookDeleted, hook=hook)
        case CreateSentryApp():
            if any(a.slug == command.app.slug for a in state.apps.values()):
                return Rejected("conflict", f"An app with the slug {command.app.slug!r} exists already.")
            emit(SentryAppInstalled, app=command.app, installation=command.installation)
        case LinkExternalIssue():
            new = command.external_issue
            if new.installation_uuid not in state.installations:
                return Rejected("not_found", NOT_FOUND)
            if any(x.installation_uuid == new.installation_uuid and x.identifier == new.identifier
                   and x.group_id == new.group_id for x in state.external_issues.values()):
                return Rejected("conflict", "An external issue with this identifier is linked already.")
            emit(ExternalIssueLinked, external_issue=new)
        case UnlinkExternalIssue():
            found = state.external_issues.get(command.external_issue_id)
            if found is None or found.installation_uuid != command.installation_uuid:
                return Rejected("not_found", NOT_FOUND)
            emit(ExternalIssueUnlinked, external_issue=found)
        case _:
            return Rejected("invalid", f"{type(command).__name__} does not apply to integrations.")
    return emit.done()
