"""Bearer-token authentication and Sentry's scope and organization checks.

- no or malformed `Authorization` header, unknown token → 401;
- organization unknown → 404;
- token of a user who is not a member, token bound to another organization, or lacking every
  scope the operation accepts → 403.
Tokens are looked up by SHA-256 and cached briefly in process, and so are organizations and
memberships that were found: the hot path does no query. A tenancy change accepted through this
gateway drops these caches at once (read-your-writes); one made elsewhere shows here within
`TOKEN_CACHE_SECONDS` or `ORG_CACHE_SECONDS`. Absent tokens, organizations and memberships are
not cached, so a new one is usable at once.
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
ORG_CACHE_SECONDS = 10.0
MAX_CACHED = 10_000


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
        self._orgs: dict[str, tuple[float, Organization]] = {}
        self._members: dict[tuple[int, int], tuple[float, Member]] = {}

    def forget_tenancy(self) -> None:
        """Drop cached tokens, organizations and memberships (after a tenancy change was accepted
        here: a revoked token, a renamed organization or a removed member applies at once)."""
        self._cache.clear()
        self._orgs.clear()
        self._members.clear()

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
        _remember(self._cache, digest, now + TOKEN_CACHE_SECONDS, found)
        return found

    async def organization(self, request: Request, org_slug: str, any_of: tuple[str, ...]) -> OrgAccess:
        principal = await self.principal(request)
        org = await self.organization_by_slug(org_slug)
        if org is None:
            raise not_found()
        if principal.token.org_id is not None and principal.token.org_id != org.id:
            raise forbidden()
        member = await self._member(org.id, principal.user.id)
        if member is None:
            raise forbidden()
        scopes = principal.scopes & role_scopes(member.role)
        if any_of and not scopes.intersection(any_of):
            raise forbidden()
        return OrgAccess(principal, org, member, scopes)

    async def organization_by_slug(self, slug: str) -> Organization | None:
        """The organization, from the cache while it is fresh; None if there is none."""
        now = time.monotonic()
        cached = self._orgs.get(slug)
        if cached and cached[0] > now:
            return cached[1]
        org = await _run(self._store, entities.first, "organization", slug=slug)
        if org is not None:
            _remember(self._orgs, slug, now + ORG_CACHE_SECONDS, org)
        return org

    async def _member(self, org_id: int, user_id: int) -> Member | None:
        now = time.monotonic()
        cached = self._members.get((org_id, user_id))
        if cached and cached[0] > now:
            return cached[1]
        members = await _run(self._store, entities.select, "member", org_id=org_id, parent_id=user_id)
        if not members:
            return None
        _remember(self._members, (org_id, user_id), now + ORG_CACHE_SECONDS, members[0])
        return members[0]


def _remember(cache: dict[Any, tuple[float, Any]], key: Any, expires: float, value: Any) -> None:
    if len(cache) >= MAX_CACHED:  # bounded: a burst of distinct keys starts the cache afresh
        cache.clear()
    cache[key] = (expires, value)


async def _lookup(store: Store, digest: str) -> Principal | None:
    token = await _run(store, entities.first, "token", slug=digest)
    if token is None:
        return None
    user = await _run(store, entities.first, "user", id=token.user_id)
    return None if user is None else Principal(token, user)


async def _run(store: Store, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, store, *args, **kwargs)
