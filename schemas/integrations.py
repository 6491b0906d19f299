"""Integrations: service hooks (a project's webhooks, Sentry's shape), Sentry apps installed in
an organization (internal integrations with a webhook) and the external issues they link;
the commands that change them, the events they cause, and the deliveries of webhooks."""

from __future__ import annotations

from datetime import datetime

import msgspec

from picket.schemas.commands import CommandMeta

# --- records ---


class ServiceHook(msgspec.Struct, kw_only=True, frozen=True):
    id: str  # 32 hex characters, as Sentry's guid
    org_id: int
    project_id: int
    url: str
    events: tuple[str, ...]
    secret: str = ""  # "" where it is left out: on the public integrations-events topic
    date_created: datetime


class SentryApp(msgspec.Struct, kw_only=True, frozen=True):
    """An internal integration of an organization: installed there when it is made."""

    uuid: str
    slug: str
    name: str
    org_id: int
    webhook_url: str
    events: tuple[str, ...]  # resources: issue, error
    client_id: str
    client_secret: str = ""  # "" where it is left out: on the public topic
    date_created: datetime


class Installation(msgspec.Struct, kw_only=True, frozen=True):
    uuid: str
    app_uuid: str
    app_slug: str
    org_id: int
    status: str = "installed"
    date_created: datetime


class ExternalIssue(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    org_id: int
    installation_uuid: str
    service_type: str  # the app's slug
    group_id: int
    project_id: int
    web_url: str
    project: str  # the external tool's project
    identifier: str
    date_created: datetime

    @property
    def display_name(self) -> str:
        return f"{self.project}#{self.identifier}"


# --- commands (topic integrations-commands, key = hooks:<org>:<project> or apps:<org>) ---


class _IntegrationCommand(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    meta: CommandMeta
    org_id: int


class CreateHook(_IntegrationCommand, tag="create_hook"):
    hook: ServiceHook


class UpdateHook(_IntegrationCommand, tag="update_hook"):
    project_id: int
    hook_id: str
    url: str | None = None
    events: tuple[str, ...] | None = None


class DeleteHook(_IntegrationCommand, tag="delete_hook"):
    project_id: int
    hook_id: str


class CreateSentryApp(_IntegrationCommand, tag="create_sentry_app"):
    """Make an internal integration and install it in its organization."""

    app: SentryApp
    installation: Installation


class LinkExternalIssue(_IntegrationCommand, tag="link_external_issue"):
    external_issue: ExternalIssue


class UnlinkExternalIssue(_IntegrationCommand, tag="unlink_external_issue"):
    installation_uuid: str
    external_issue_id: int


IntegrationCommand = (CreateHook | UpdateHook | DeleteHook | CreateSentryApp | LinkExternalIssue
                      | UnlinkExternalIssue)


def hooks_key(org_id: int, project_id: int) -> str:
    return f"hooks:{org_id}:{project_id}"


def apps_key(org_id: int) -> str:
    return f"apps:{org_id}"


def command_key(command: IntegrationCommand) -> str:
    match command:
        case CreateHook():
            return hooks_key(command.org_id, command.hook.project_id)
        case UpdateHook() | DeleteHook():
            return hooks_key(command.org_id, command.project_id)
        case _:
            return apps_key(command.org_id)


# --- domain events (topic integrations-log; integrations-events without secrets) ---


class IntegrationEventMeta(msgspec.Struct, kw_only=True, frozen=True):
    event_id: str  # unique and stable: `<command id>:<n>`
    aggregate: str
    version: int
    timestamp: datetime
    command_id: str
    reply_to: str | None = None


class _IntegrationEvent(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    meta: IntegrationEventMeta


class HookCreated(_IntegrationEvent, tag="hook_created"):
    hook: ServiceHook


class HookUpdated(_IntegrationEvent, tag="hook_updated"):
    hook: ServiceHook


class HookDeleted(_IntegrationEvent, tag="hook_deleted"):
    hook: ServiceHook


class SentryAppInstalled(_IntegrationEvent, tag="sentry_app_installed"):
    app: SentryApp
    installation: Installation


class ExternalIssueLinked(_IntegrationEvent, tag="external_issue_linked"):
    external_issue: ExternalIssue


class ExternalIssueUnlinked(_IntegrationEvent, tag="external_issue_unlinked"):
    external_issue: ExternalIssue


IntegrationEvent = (HookCreated | HookUpdated | HookDeleted | SentryAppInstalled | ExternalIssueLinked
                    | ExternalIssueUnlinked)

# Fields subscribers of the public topic never see.
SECRET_FIELDS = frozenset({"secret", "client_secret"})


# --- webhook deliveries (topic hook-deliveries, internal, key = the target's id) ---


class Delivery(msgspec.Struct, kw_only=True, frozen=True):
    """One webhook request to make: `body` is sent as is (JSON), signed with `secret`.

    `kind` says whose headers it carries: `service_hook` (`X-ServiceHook-Signature`: HMAC-SHA256
    of the body with the hook's secret, hex; `X-ServiceHook-GUID`: the hook's id;
    `X-ServiceHook-Timestamp`) or `sentry_app` (`Sentry-Hook-Resource`, `Sentry-Hook-Timestamp`,
    `Sentry-Hook-Signature` with the app's client secret). `id` is unique per delivery and stable
    across redeliveries of the message (receivers and the deliverer de-duplicate on it)."""

    id: str
    kind: str  # service_hook, sentry_app
    target_id: str  # the hook's id or the installation's uuid: deliveries to it keep their order
    org_id: int
    url: str
    secret: str
    event: str  # e.g. event.created, issue.created; for sentry apps the resource.action
    resource: str = ""  # sentry apps: issue, error
    body: bytes
    created: datetime
