"""The authenticator's caches of tokens, organizations and memberships: found records are read
once per TTL, a tenancy change accepted here drops them, and absent ones are never cached."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest
from starlette.requests import Request

from picket.schemas.entities import Member, Organization, Token, User
from picket.gateway import auth
from picket.gateway.auth import Authenticator
from picket.tenancy.credentials import hash_token
from picket.gateway.errors import ApiError

T0 = datetime(2026, 11, 27, tzinfo=timezone.utc)
SECRET = "s3cret"
USER = User(id=7, email="ada@example.com", name="Ada", date_joined=T0)
TOKEN = Token(id=1, user_id=7, token_hash=hash_token(SECRET), scopes=["org:read"], date_created=T0)
ORG = Organization(id=2, slug="acme", name="Acme", date_created=T0)
MEMBER = Member(id=3, org_id=2, email="ada@example.com", role="member", date_created=T0, user_id=7)


class EntityStore:
    """Answers the entity queries the authenticator makes from `records`, counting reads by kind."""

    def __init__(self) -> None:
        self.records: dict[str, list[Any]] = {"token": [TOKEN], "user": [USER], "organization": [ORG],
                                              "member": [MEMBER]}
        self.reads: dict[str, int] = {}

    def query(self, sql: str, parameters: dict[str, Any]) -> list[tuple[bytes]]:
        kind = parameters["kind"]
        self.reads[kind] = self.reads.get(kind, 0) + 1
        return [(msgspec.json.encode(r),) for r in self.records[kind]]


def request() -> Request:
    return Request({"type": "http", "headers": [(b"authorization", f"Bearer {SECRET}".encode())]})


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: now[0])
    return now


def access(authenticator: Authenticator) -> Any:
    return asyncio.run(authenticator.organization(request(), "acme", ("org:read",)))


def test_organization_and_membership_are_read_once_per_ttl(clock: list[float]) -> None:
    store = EntityStore()
    authenticator = Authenticator(store)  # type: ignore[arg-type]
    first = access(authenticator)
    assert (first.organization, first.member) == (ORG, MEMBER)
    clock[0] += auth.ORG_CACHE_SECONDS - 1
    assert access(authenticator).organization == ORG
    assert (store.reads["organization"], store.reads["member"]) == (1, 1)
    clock[0] += 2
    access(authenticator)
    assert (store.reads["organization"], store.reads["member"]) == (2, 2)


def test_an_accepted_tenancy_change_is_seen_at_once(clock: list[float]) -> None:
    store = EntityStore()
    authenticator = Authenticator(store)  # type: ignore[arg-type]
    access(authenticator)
    renamed = msgspec.structs.replace(ORG, name="Acme Inc")
    store.records["organization"] = [renamed]
    authenticator.forget_tenancy()
    assert access(authenticator).organization == renamed


def test_a_removed_membership_is_forbidden_once_forgotten(clock: list[float]) -> None:
    store = EntityStore()
    authenticator = Authenticator(store)  # type: ignore[arg-type]
    access(authenticator)
    store.records["member"] = []
    authenticator.forget_tenancy()
    with pytest.raises(ApiError) as raised:
        access(authenticator)
    assert raised.value.status == 403


def test_absent_organizations_and_memberships_are_not_cached(clock: list[float]) -> None:
    store = EntityStore()
    authenticator = Authenticator(store)  # type: ignore[arg-type]
    store.records["organization"] = []
    with pytest.raises(ApiError) as raised:
        access(authenticator)
    assert raised.value.status == 404
    store.records["organization"] = [ORG]
    store.records["member"] = []
    with pytest.raises(ApiError) as raised:
        access(authenticator)
    assert raised.value.status == 403
    store.records["member"] = [MEMBER]
    assert access(authenticator).member == MEMBER  # at once, not after a TTL


def test_a_revoked_token_is_refused_once_forgotten(clock: list[float]) -> None:
    store = EntityStore()
    authenticator = Authenticator(store)  # type: ignore[arg-type]
    access(authenticator)
    store.records["token"] = []
    assert access(authenticator).principal.token == TOKEN, "cached until told"
    authenticator.forget_tenancy()
    with pytest.raises(ApiError) as raised:
        access(authenticator)
    assert raised.value.status == 401


def test_a_held_organization_is_answered_at_once_and_its_former_slug_is_gone(clock: list[float]) -> None:
    store = EntityStore()
    authenticator = Authenticator(store)  # type: ignore[arg-type]
    access(authenticator)
    renamed = msgspec.structs.replace(ORG, slug="acme-inc", name="Acme Inc")
    authenticator.hold_organization(renamed)  # the projection may still answer the old row
    assert asyncio.run(authenticator.organization_by_slug("acme-inc")) == renamed
    with pytest.raises(ApiError) as raised:
        access(authenticator)
    assert raised.value.status == 404
    assert store.reads["organization"] == 1
    authenticator.forget_organization_slug("acme")  # released: read anew
    access(authenticator)
    assert store.reads["organization"] == 2


def test_a_removed_member_is_held_as_absent_and_a_changed_one_as_changed(clock: list[float]) -> None:
    store = EntityStore()
    authenticator = Authenticator(store)  # type: ignore[arg-type]
    access(authenticator)
    admin = msgspec.structs.replace(MEMBER, role="admin")
    authenticator.hold_member(admin)
    assert access(authenticator).member == admin
    authenticator.hold_member(admin, removed=True)  # the projection may still list the member
    with pytest.raises(ApiError) as raised:
        access(authenticator)
    assert raised.value.status == 403
    assert store.reads["member"] == 1
    authenticator.hold_member(admin)  # added again
    assert access(authenticator).member == admin
    authenticator.hold_member(msgspec.structs.replace(admin, user_id=None))  # an invitation: nothing to hold
    assert access(authenticator).member == admin


def test_a_forgotten_token_is_read_anew(clock: list[float]) -> None:
    store = EntityStore()
    authenticator = Authenticator(store)  # type: ignore[arg-type]
    access(authenticator)
    authenticator.forget_token(hash_token("another"))
    access(authenticator)
    assert store.reads["token"] == 1
    authenticator.forget_token(TOKEN.token_hash)
    access(authenticator)
    assert store.reads["token"] == 2


def test_a_read_under_way_during_a_change_is_answered_but_not_kept(clock: list[float]) -> None:
    store = EntityStore()
    authenticator = Authenticator(store)  # type: ignore[arg-type]
    original = store.query

    def query_then_change(sql: str, parameters: dict[str, Any]) -> list[tuple[bytes]]:
        rows = original(sql, parameters)
        if parameters["kind"] == "member":
            authenticator.hold_member(MEMBER, removed=True)  # the read may predate the removal
        return rows

    store.query = query_then_change  # type: ignore[method-assign]
    with pytest.raises(ApiError) as raised:
        access(authenticator)
    assert raised.value.status == 403, "the change told meanwhile wins over the read"
    store.query = original  # type: ignore[method-assign]
    authenticator.forget_tenancy()
    access(authenticator)
    access(authenticator)
    assert store.reads["member"] == 2 and store.reads["organization"] == 2
