"""project(event) -> rows of the integration tables, by table. Pure.

`service_hooks`, `sentry_apps`, `sentry_app_installations` and `external_issues` hold each
record after each event (ReplacingMergeTree on the aggregate version; a deleted one keeps a row
with `deleted` = 1). Projecting an event twice writes the same rows.
"""

from __future__ import annotations

from typing import Any

import msgspec

from picket.schemas.integrations import (
    ExternalIssueLinked,
    ExternalIssueUnlinked,
    HookCreated,
    HookDeleted,
    HookUpdated,
    SentryAppInstalled,
)

_json = msgspec.json.Encoder()

COLUMNS: dict[str, tuple[str, ...]] = {
    "service_hooks": ("org_id", "project_id", "hook_id", "agg_version", "deleted", "date_created", "body"),
    "sentry_apps": ("org_id", "app_uuid", "agg_version", "slug", "body"),
    "sentry_app_installations": ("org_id", "installation_uuid", "app_uuid", "agg_version", "deleted", "body"),
    "external_issues": ("org_id", "group_id", "external_issue_id", "installation_uuid", "agg_version", "deleted",
                        "body"),
}

Rows = dict[str, list[tuple[Any, ...]]]


def _body(record: Any) -> str:
    return _json.encode(record).decode()


def project(event: Any) -> Rows:
    v = event.meta.version
    match event:
        case HookCreated() | HookUpdated() | HookDeleted():
            h = event.hook
            return {"service_hooks": [(h.org_id, h.project_id, h.id, v, int(isinstance(event, HookDeleted)),
                                       h.date_created, _body(h))]}
        case SentryAppInstalled():
            a, i = event.app, event.installation
            return {"sentry_apps": [(a.org_id, a.uuid, v, a.slug, _body(a))],
                    "sentry_app_installations": [(i.org_id, i.uuid, i.app_uuid, v, 0, _body(i))]}
        case ExternalIssueLinked() | ExternalIssueUnlinked():
            x = event.external_issue
            return {"external_issues": [(x.org_id, x.group_id, x.id, x.installation_uuid, v,
                                         int(isinstance(event, ExternalIssueUnlinked)), _body(x))]}
    return {}
