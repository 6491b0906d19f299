"""Reads of the integrations projection: service hooks, Sentry apps and their installations,
external issues."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from picket.schemas.integrations import ExternalIssue, Installation, SentryApp, ServiceHook
from picket.store.client import Store

_hook = msgspec.json.Decoder(ServiceHook)
_app = msgspec.json.Decoder(SentryApp)
_installation = msgspec.json.Decoder(Installation)
_external = msgspec.json.Decoder(ExternalIssue)


def hooks(store: Store, org_id: int, project_id: int) -> list[ServiceHook]:
    """The project's service hooks, oldest first."""
    rows = store.query("SELECT body FROM {db}.service_hooks FINAL WHERE org_id = {o:UInt64} AND project_id = {p:UInt64}"
                       " AND deleted = 0 ORDER BY date_created, hook_id", {"o": org_id, "p": project_id})
    return [_hook.decode(b) for (b,) in rows]


def all_hooks(store: Store) -> list[ServiceHook]:
    """Every service hook (the deliveries' directory)."""
    return [_hook.decode(b) for (b,) in store.query(
        "SELECT body FROM {db}.service_hooks FINAL WHERE deleted = 0", {})]


def installations(store: Store, org_id: int) -> list[tuple[Installation, SentryApp]]:
    """The organization's installations with their apps, oldest first."""
    apps = {a.uuid: a for a in (_app.decode(b) for (b,) in store.query(
        "SELECT body FROM {db}.sentry_apps FINAL WHERE org_id = {o:UInt64}", {"o": org_id}))}
    found = [_installation.decode(b) for (b,) in store.query(
        "SELECT body FROM {db}.sentry_app_installations FINAL WHERE org_id = {o:UInt64} AND deleted = 0", {"o": org_id})]
    return [(i, apps[i.app_uuid]) for i in sorted(found, key=lambda i: (i.date_created, i.uuid)) if i.app_uuid in apps]


def all_installations(store: Store) -> list[tuple[Installation, SentryApp]]:
    """Every installation with its app (the deliveries' directory)."""
    apps = {a.uuid: a for a in (_app.decode(b) for (b,) in store.query("SELECT body FROM {db}.sentry_apps FINAL", {}))}
    found = [_installation.decode(b) for (b,) in store.query(
        "SELECT body FROM {db}.sentry_app_installations FINAL WHERE deleted = 0", {})]
    return [(i, apps[i.app_uuid]) for i in found if i.app_uuid in apps]


def installation(store: Store, uuid: str) -> Installation | None:
    rows = store.query("SELECT body FROM {db}.sentry_app_installations FINAL WHERE installation_uuid = {u:String}"
                       " AND deleted = 0", {"u": uuid})
    return _installation.decode(rows[0][0]) if rows else None


def external_issues(store: Store, org_id: int, group_ids: Sequence[int]) -> list[ExternalIssue]:
    if not group_ids:
        return []
    rows = store.query("SELECT body FROM {db}.external_issues FINAL WHERE org_id = {o:UInt64}"
                       " AND group_id IN {g:Array(UInt64)} AND deleted = 0 ORDER BY external_issue_id",
                       {"o": org_id, "g": list(group_ids)})
    return [_external.decode(b) for (b,) in rows]
