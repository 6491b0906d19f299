"""Records of the tenancy context: the state that domain events carry and projections store.

Events carry whole records (event-carried state transfer), so a subscriber never needs to fold a
history to know what an organization, team, project, key, member, user or token looks like now.
Field names are snake_case; the gateway renders Sentry's camelCase shapes from these.
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class Organization(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    slug: str
    name: str
    date_created: datetime
    status: str = "active"
    require_2fa: bool = False
    open_membership: bool = True
    default_role: str = "member"
    allow_shared_issues: bool = True
    enhanced_privacy: bool = False
    data_scrubber: bool = False
    data_scrubber_defaults: bool = False
    sensitive_fields: list[str] = []
    safe_fields: list[str] = []
    scrub_ip_addresses: bool = False
    scrape_javascript: bool = True
    store_crash_reports: int = 0
    is_early_adopter: bool = False


class Team(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    org_id: int
    slug: str
    name: str
    date_created: datetime


class Project(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    org_id: int
    slug: str
    name: str
    date_created: datetime
    team_ids: list[int] = []
    platform: str | None = None
    status: str = "active"
    is_bookmarked: bool = False
    subject_prefix: str = ""
    subject_template: str = "$shortID - $title"
    resolve_age: int = 0
    scrape_javascript: bool = True
    data_scrubber: bool = False
    scrub_ip_addresses: bool = False
    sensitive_fields: list[str] = []
    safe_fields: list[str] = []
    allowed_domains: list[str] = msgspec.field(default_factory=lambda: ["*"])


class RateLimit(msgspec.Struct, kw_only=True, frozen=True):
    """At most `count` events per `window` seconds for one client key."""

    window: int
    count: int


class ProjectKey(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    org_id: int
    project_id: int
    label: str
    public: str
    date_created: datetime
    secret: str = ""  # "" where it is left out: on the public tenancy-events topic
    is_active: bool = True
    rate_limit: RateLimit | None = None
    browser_sdk_version: str = "7.x"


class Member(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    org_id: int
    email: str
    role: str
    date_created: datetime
    user_id: int | None = None
    team_ids: list[int] = []
    pending: bool = False
    inviter_name: str | None = None


class User(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    email: str
    name: str
    date_joined: datetime
    is_superuser: bool = False


class Token(msgspec.Struct, kw_only=True, frozen=True):
    """An API token. Only the SHA-256 of the secret is ever stored; public events leave even that out."""

    id: int
    user_id: int
    scopes: list[str]
    date_created: datetime
    token_hash: str = ""  # "" where it is left out: on the public tenancy-events topic
    name: str = ""
    org_id: int | None = None
