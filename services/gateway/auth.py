"""Bearer-token authentication and Sentry's scope and organization checks.

- no or malformed `Authorization` header, unknown token → 401;
- organization unknown → 404;
- token of a user who is not a member, token bound to another organization, or lacking every
  scope the operation accepts → 403.
Tokens are looked up by SHA-256 and cached briefly in process: the hot path does no query.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from schemas.entities import Member, Organization, Token, User
from services.gateway.errors import ApiError, forbidden, not_found
from services.store import entities
from services.store.client import Store
from services.tenancy.roles import role_scopes

TOKEN_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Principal:
    token: Token
    user: User

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.token.scopes)


@dataclass(frozen=True)
class OrgAccess:
    """A principal's standing in one organization: its membership and effective scopes."""

    principal: Principal
    organization: Organization
    member: Member
    scopes: frozenset[str]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def principal(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise ApiError(401, "Authentication credentials were not provided.")
        if scheme.lower() not in ("bearer", "token") or not token.strip():
            raise ApiError(401, "Invalid token header. No credentials provided.")
        digest = hash_token(token.strip())
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        found = await _lookup(self._store, digest)
        if found is None:
            raise ApiError(401, "Invalid token")
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + TOKEN_CACHE_SECONDS, found)
        return found

    async def organization(self, request: Request, org_slug: str, any_of: tuple[str, ...]) -> OrgAccess:
        principal = await self.principal(request)
        org = await _run(self._store, entities.first, "organization", slug=org_slug)
        if org is None:
            raise not_found()
        if principal.token.org_id is not None and principal.token.org_id != org.id:
            raise forbidden()
        members = await _run(
            self._store, entities.select, "member", org_id=org.id, parent_id=principal.user.id
        )
        if not members:
            raise forbidden()
        member = members[0]
        scopes = principal.scopes & role_scopes(member.role)
        if any_of and not scopes.intersection(any_of):
            raise forbidden()
        return OrgAccess(principal, org, member, scopes)


async def _lookup(store: Store, digest: str) -> Principal | None:
    token = await _run(store, entities.first, "token", slug=digest)
    if token is None:
        return None
    user = await _run(store, entities.first, "user", id=token.user_id)
    return None if user is None else Principal(token, user)


async def _run(store: Store, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, store, *args, **kwargs)
