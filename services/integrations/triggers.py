"""What each hook and installation is sent, and when. Pure.

Service hooks subscribe to Sentry's `event.created` (every error event stored) and `event.alert`
(an event that made a new issue or brought one back: Picket's alert, as Sentry's default rule),
and to Picket's domain events by name (`HOOK_EVENTS`). Sentry apps subscribe to resources:
`issue` (created, resolved, ignored, unresolved, assigned) and `error` (created).

`Target`s come from the directory of hooks and installations; `deliveries` turns one trigger
into the `Delivery` of each target that wants it, with Sentry's bodies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from picket.schemas.integrations import Delivery

HOOK_EVENTS = (
    "event.created", "event.alert",
    "issue.created", "issue.resolved", "issue.ignored", "issue.unresolved", "issue.assigned", "issue.regressed",
    "monitor.check_in", "monitor.status_changed",
    "release.created", "release.finalized", "release.deployed",
)

_json = msgspec.json.Encoder()

# public domain event type → hook event name (and the app resource action, for issues)
_ISSUE_STATUS = {"resolved": "issue.resolved", "ignored": "issue.ignored", "unresolved": "issue.unresolved"}
_DOMAIN = {
    "issue_created": "issue.created",
    "issue_assigned": "issue.assigned",
    "issue_regressed": "issue.regressed",
    "check_in_recorded": "monitor.check_in",
    "monitor_environment_status_changed": "monitor.status_changed",
    "release_created": "release.created",
    "release_finalized": "release.finalized",
    "release_deployed": "release.deployed",
}


@dataclass(frozen=True)
class Target:
    """Where a trigger may go: a service hook (`kind` service_hook, events it wants) or an
    installation (`kind` sentry_app, resources it wants)."""

    kind: str
    id: str
    org_id: int
    project_id: int | None  # hooks: their project; installations: any project of the org
    url: str
    secret: str
    wants: frozenset[str]


@dataclass(frozen=True)
class Trigger:
    """Something happened in a project: `name` for hooks; `resource`/`action` for apps (empty:
    apps are not told); `hook_body` and `app_data` what each is sent."""

    id: str  # stable: the same trigger makes the same deliveries
    org_id: int
    project_id: int
    name: str
    hook_body: dict[str, Any]
    resource: str = ""
    action: str = ""
    app_data: dict[str, Any] = field(default_factory=dict)


def hook_name(event: dict[str, Any]) -> str | None:
    """The hook event name of a public domain event (JSON as on its topic), if any."""
    kind = event.get("type")
    if kind == "issue_status_changed":
        return _ISSUE_STATUS.get(event.get("status", ""))
    return _DOMAIN.get(kind) if isinstance(kind, str) else None


def app_action(name: str) -> tuple[str, str]:
    """(resource, action) an app is told of for a hook event name; ("", "") when none."""
    if name in ("issue.created", "issue.resolved", "issue.ignored", "issue.unresolved", "issue.assigned"):
        return "issue", name.split(".", 1)[1]
    if name == "event.created":
        return "error", "created"
    return "", ""


def deliveries(trigger: Trigger, targets: list[Target], project: dict[str, Any], now: datetime) -> list[Delivery]:
    """The deliveries of a trigger to the targets that want it (ids stable per trigger and target)."""
    out = []
    for target in targets:
        if target.org_id != trigger.org_id or (target.project_id is not None and target.project_id != trigger.project_id):
            continue
        if target.kind == "service_hook":
            if trigger.name not in target.wants:
                continue
            body = {**trigger.hook_body, "project": project}
            out.append(_delivery(trigger, target, trigger.name, "", body, now))
        elif trigger.resource and trigger.resource in target.wants:
            body = {"action": trigger.action, "installation": {"uuid": target.id},
                    "data": trigger.app_data, "actor": {"type": "application", "id": "sentry", "name": "Sentry"}}
            out.append(_delivery(trigger, target, f"{trigger.resource}.{trigger.action}", trigger.resource, body, now))
    return out


def _delivery(trigger: Trigger, target: Target, event: str, resource: str, body: dict[str, Any],
              now: datetime) -> Delivery:
    ident = hashlib.sha1(f"{trigger.id}\x1f{target.kind}\x1f{target.id}".encode()).hexdigest()
    return Delivery(id=ident, kind=target.kind, target_id=target.id, org_id=target.org_id, url=target.url,
                    secret=target.secret, event=event, resource=resource, body=_json.encode(body), created=now)
