"""Administrative operations outside the REST API: users, tokens, organizations, bootstrap.

They go through the same command bus as the API (a running worker decides them), so the
same invariants hold: unique emails, unique organization slugs, one writer per aggregate.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from picket.schemas import commands as c
from picket.schemas import integrations as c_integrations
from picket.config import Settings
from picket.bus.commands import CommandClient, CommandRejected
from picket.ids import new_id, new_key_pair, new_token
from picket.integrations.apps import new_app
from picket.store import entities
from picket.store.client import Store
from picket.tenancy.credentials import dsn, hash_token
from picket.tenancy.roles import ALL_SCOPES
from picket.tenancy.slugs import is_valid_slug, slugify


class AdminError(RuntimeError):
    pass


@dataclass
class Admin:
    """Admin operations. Users and tokens need only the bus (they work while another process
    holds the embedded chdb); organizations and projects also read the store."""

    bus: CommandClient
    store: Store | None

    async def _find(self, kind: str, **filters: Any) -> Any:
        if self.store is None:
            raise AdminError("this operation reads ClickHouse: set CLICKHOUSE_URL to a server")
        return await asyncio.to_thread(entities.first, self.store, kind, **filters)

    async def ensure_user(self, email: str, name: str | None = None) -> int:
        """The id of the user with this email, created if missing."""
        email = email.strip().lower()
        if self.store is not None:  # a restart finds it: no command round trip
            known = await self._find("user", org_id=0, slug=email)
            if known is not None:
                return known.id
        user_id = new_id()
        try:
            await self.bus.execute(c.CreateUser(meta=self.bus.meta(), user_id=user_id, email=email, name=name or email))
        except CommandRejected as exc:
            if exc.reply.entity_id is None:
                raise
            return exc.reply.entity_id
        return user_id

    async def create_token(self, email: str, token: str | None = None, scopes: list[str] | None = None,
                           org_id: int | None = None, name: str = "") -> str:
        token = token or new_token()
        unknown = set(scopes or ()) - ALL_SCOPES
        if unknown:
            raise AdminError(f"unknown scopes: {sorted(unknown)}")
        if self.store is not None and await self._find("token", org_id=0, slug=hash_token(token)) is not None:
            return token  # this very token exists already (a restart)
        try:
            await self.bus.execute(
                c.CreateToken(meta=self.bus.meta(), email=email.strip().lower(), token_id=new_id(),
                              token_hash=hash_token(token), scopes=sorted(scopes or ALL_SCOPES),
                              org_id=org_id, name=name)
            )
        except CommandRejected as exc:
            if exc.reply.outcome != "conflict":  # a conflict: this very token exists already
                raise
        return token

    async def ensure_organization(self, slug: str, owner_email: str, name: str | None = None) -> Any:
        if not is_valid_slug(slug):
            raise AdminError(f"invalid organization slug {slug!r}")
        org = await self._find("organization", slug=slug)
        if org is not None:
            return org
        owner_id = await self.ensure_user(owner_email)
        org_id = new_id()
        await self.bus.execute(c.ClaimOrganizationSlug(meta=self.bus.meta(), slug=slug, org_id=org_id))
        await self.bus.execute(
            c.CreateOrganization(meta=self.bus.meta(), org_id=org_id, slug=slug, name=name or slug,
                                 owner_user_id=owner_id, owner_email=owner_email.strip().lower(),
                                 owner_member_id=new_id())
        )
        return await self._find("organization", slug=slug)

    async def ensure_project(self, org: Any, team_slug: str, project_slug: str) -> Any:
        records = await asyncio.to_thread(entities.select_many, self.store, ["team", "project", "member"], org.id)
        team = next((t for t in records["team"] if t.slug == team_slug), None)
        if team is None:
            owner = next((m for m in records["member"] if m.role == "owner"), None)
            team_id = new_id()
            await self.bus.execute(
                c.CreateTeam(meta=self.bus.meta(), org_id=org.id, team_id=team_id, slug=team_slug,
                             name=team_slug, creator_member_id=owner.id if owner else None)
            )
            team = await self._find("team", org_id=org.id, id=team_id)
        project = next((p for p in records["project"] if p.slug == project_slug), None)
        if project is None:
            public, secret = new_key_pair()
            project_id = new_id()
            await self.bus.execute(
                c.CreateProject(meta=self.bus.meta(), org_id=org.id, team_id=team.id, project_id=project_id,
                                slug=project_slug, name=project_slug, platform="python", key_id=new_id(),
                                key_public=public, key_secret=secret)
            )
            project = await self._find("project", org_id=org.id, id=project_id)
        return project


    async def create_app(self, org_slug: str, name: str, webhook_url: str, events: list[str]) -> tuple[Any, Any]:
        """An internal integration of the organization, installed there: (app, installation)."""
        org = await self._find("organization", slug=org_slug)
        if org is None:
            raise AdminError(f"no organization {org_slug!r}")
        made = new_app(org.id, name, webhook_url, events, allow_private=os.environ.get("PICKET_HOOKS_ALLOW_PRIVATE") == "1")
        if isinstance(made, str):
            raise AdminError(made)
        app, installation = made
        await self.bus.execute(c_integrations.CreateSentryApp(meta=self.bus.meta(), org_id=org.id, app=app,
                                                              installation=installation))
        return app, installation


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str
    organization: str
    project: str
    dsn: str


async def bootstrap(admin: Admin, settings: Settings) -> Credentials:
    """Make sure the first organization, user, token and a default project exist.

    `PICKET_ADMIN_TOKEN`, `PICKET_ORG` and `PICKET_ADMIN_EMAIL` fix their values in advance;
    otherwise a token is generated once and kept in `<data dir>/credentials.json` (mode 0600).
    """
    env = os.environ
    email = env.get("PICKET_ADMIN_EMAIL", "admin@picket.local")
    org_slug = env.get("PICKET_ORG") or "picket"
    saved_path = Path(settings.data_dir) / "credentials.json"
    saved = json.loads(saved_path.read_text()) if saved_path.exists() else {}
    token = env.get("PICKET_ADMIN_TOKEN") or saved.get("token") or new_token()
    await admin.ensure_user(email, "Admin")
    org = await admin.ensure_organization(org_slug, email, name=org_slug)
    token = await admin.create_token(email, token)
    project = await admin.ensure_project(org, slugify(org_slug) or "default", "default")
    keys = await asyncio.to_thread(entities.select, admin.store, "key", org_id=org.id, parent_id=project.id)
    active = next((k for k in keys if k.is_active), None)
    creds = Credentials(
        url=settings.public_url,
        token=token,
        organization=org.slug,
        project=project.slug,
        dsn=dsn(active, settings.public_url)["public"] if active else "",
    )
    if not env.get("PICKET_ADMIN_TOKEN"):
        saved_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(saved_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"token": token}, f)
    return creds
