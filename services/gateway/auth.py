"""Bearer-token authentication and Sentry's scope and organization checks.

- no or malformed `Authorization` header, unknown token → 401;
- organization unknown → 404;
- token of a user who is not a member, token bound to another organization, or lacking every
  scope the operation accepts → 403.
Tokens are looked up by SHA-256 and cached briefly in process, and so are organizations and
memberships that were found: the hot path does no query. Absent tokens, organizations and
memberships are not cached, so a new one is usable at once.

Changes do not wait for the TTLs. A tenancy change accepted through this gateway drops these
caches once the projection has it (read-your-writes); one made anywhere else reaches them from
the tenancy log (`services/gateway/tenancy_follower.py`), as the new record: a changed
organization or membership is *held* (the event's record replaces the cached one, a removed
member or an organization's former slug is held as absent), since a re-read might still find
the old row in a projection that has not written the event yet. A read that was under way while
the caches were told of a change is answered but not kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from picket.schemas.entities import Member, Organization, Token, User
from picket.gateway.errors import ApiError, forbidden, not_found
from picket.store import entities
from picket.store.client import Store
from picket.tenancy.credentials import hash_token
from picket.tenancy.roles import role_scopes

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


def org_access(principal: Principal, org: Organization, member: Member | None,
               any_of: tuple[str, ...]) -> OrgAccess:
    """What `principal` may do in `org` as `member` (None: not a member). 403 when its token is
    bound to another organization, it is not a member, or its scopes (as its role limits them)
    include none of `any_of` (empty: any access will do)."""
    if principal.token.org_id is not None and principal.token.org_id != org.id:
        raise forbidden()
    if member is None:
        raise forbidden()
    scopes = principal.scopes & role_scopes(member.role)
    if any_of and not scopes.intersection(any_of):
        raise forbidden()
    return OrgAccess(principal, org, member, scopes)


class Authenticator:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[str, tuple[float, Principal]] = {}
        # Organizations by slug and memberships by (organization, user); None: held as absent.
        self._orgs: dict[str, tuple[float, Organization | None]] = {}
        self._members: dict[tuple[int, int], tuple[float, Member | None]] = {}
        self._changes = 0  # counts what the caches were told; a read spanning a change is not kept

    def forget_tenancy(self) -> None:
        """Drop cached tokens, organizations and memberships (after a tenancy change was accepted
        here: a revoked token, a renamed organization or a removed member applies at once)."""
        self._changes += 1
        self._cache.clear()
        self._orgs.clear()
        self._members.clear()

    def forget_token(self, token_hash: str) -> None:
        self._changes += 1
        self._cache.pop(token_hash, None)

    def forget_organization_slug(self, slug: str) -> None:
        """Drop what is cached under `slug` (claimed or released: read it anew)."""
        self._changes += 1
        self._orgs.pop(slug, None)

    def hold_organization(self, org: Organization) -> None:
        """Answer `org`'s new record under its slug; slugs it had before are held as absent."""
        self._changes += 1
        expires = time.monotonic() + ORG_CACHE_SECONDS
        for slug, (_, cached) in list(self._orgs.items()):
            if cached is not None and cached.id == org.id and slug != org.slug:
                self._orgs[slug] = (expires, None)
        _remember(self._orgs, org.slug, expires, org)

    def hold_member(self, member: Member, *, removed: bool = False) -> None:
        """Answer `member`'s new record (absent once `removed`) for its organization and user."""
        self._changes += 1
        if member.user_id is None:  # an invitation: nobody authenticates as it
            return
        _remember(self._members, (member.org_id, member.user_id), time.monotonic() + ORG_CACHE_SECONDS,
                  None if removed else member)

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
        changes = self._changes
        found = await _lookup(self._store, digest)
        if found is None:
            raise ApiError(401, "Invalid token")
        if changes == self._changes:
            _remember(self._cache, digest, now + TOKEN_CACHE_SECONDS, found)
        return found

    async def organization(self, request: Request, org_slug: str, any_of: tuple[str, ...]) -> OrgAccess:
        principal = await self.principal(request)
        org = await self.organization_by_slug(org_slug)
        if org is None:
            raise not_found()
        if principal.token.org_id is not None and principal.token.org_id != org.id:
            raise forbidden()
        return org_access(principal, org, await self._member(org.id, principal.user.id), any_of)

    async def organization_by_slug(self, slug: str) -> Organization | None:
        """The organization, from the cache while it is fresh; None if there is none."""
        now = time.monotonic()
        cached = self._orgs.get(slug)
        if cached and cached[0] > now:
            return cached[1]
        changes = self._changes
        org = await _run(self._store, entities.first, "organization", slug=slug)
        if changes != self._changes:
            return _fresh(self._orgs, slug, now, org)
        if org is not None:
            _remember(self._orgs, slug, now + ORG_CACHE_SECONDS, org)
        return org

    async def _member(self, org_id: int, user_id: int) -> Member | None:
        now = time.monotonic()
        cached = self._members.get((org_id, user_id))
        if cached and cached[0] > now:
            return cached[1]
        changes = self._changes
        members = await _run(self._store, entities.select, "member", org_id=org_id, parent_id=user_id)
        found = members[0] if members else None
        if changes != self._changes:
            return _fresh(self._members, (org_id, user_id), now, found)
        if found is not None:
            _remember(self._members, (org_id, user_id), now + ORG_CACHE_SECONDS, found)
        return found


def _remember(cache: dict[Any, tuple[float, Any]], key: Any, expires: float, value: Any) -> None:
    if len(cache) >= MAX_CACHED:  # bounded: a burst of distinct keys starts the cache afresh
        cache.clear()
    cache[key] = (expires, value)


def _fresh(cache: dict[Any, tuple[float, Any]], key: Any, now: float, read: Any) -> Any:
    """What to answer for a read that spanned a change: the entry the change left, if fresh,
    else the read itself (not kept)."""
    held = cache.get(key)
    return held[1] if held and held[0] > now else read


async def _lookup(store: Store, digest: str) -> Principal | None:
    token = await _run(store, entities.first, "token", slug=digest)
    if token is None:
        return None
    user = await _run(store, entities.first, "user", id=token.user_id)
    return None if user is None else Principal(token, user)


async def _run(store: Store, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, store, *args, **kwargs)
