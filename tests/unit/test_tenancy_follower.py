"""What a tenancy event, or a command accepted here, makes stale in a gateway's caches.

The mapping is pure; the last scenarios apply it to real caches (over a store that counts its
reads), so a key disabled or deleted elsewhere, or a project deleted, is refused without the
gateway asking the projection, which may not have the change yet.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

import msgspec
import pytest

from picket.schemas import commands as c
from picket.schemas import events as e
from picket.schemas.entities import Member, Organization, Project, ProjectKey, Team, Token, User
from picket.schemas.topics import TENANCY_LOG
from picket.gateway.auth import Authenticator
from picket.gateway.keys import KeyCache
from picket.gateway.tenancy_follower import (
    ForgetAll,
    ForgetOrganizationSlug,
    ForgetProjectKeys,
    ForgetTenancy,
    ForgetToken,
    HoldKey,
    HoldMember,
    HoldOrganization,
    RetireProjectKeys,
    accepted,
    apply,
    changes,
    message_changes,
)

T0 = datetime(2026, 11, 27, tzinfo=timezone.utc)
ORG = Organization(id=1, slug="acme", name="Acme", date_created=T0)
TEAM = Team(id=20, org_id=1, slug="backend", name="Backend", date_created=T0)
PROJECT = Project(id=30, org_id=1, slug="web", name="Web", date_created=T0, team_ids=[20])
PUB40 = "0123456789abcdef0123456789abcd40"
KEY = ProjectKey(id=40, org_id=1, project_id=30, label="Default", public=PUB40, secret="sec40", date_created=T0)
MEMBER = Member(id=10, org_id=1, email="ada@acme.test", role="owner", date_created=T0, user_id=100)
USER = User(id=100, email="ada@acme.test", name="Ada", date_joined=T0)
TOKEN = Token(id=5, user_id=100, token_hash="abc123", scopes=["org:read"], date_created=T0)
META = e.EventMeta(event_id="cmd:0", aggregate="org:1", version=1, timestamp=T0, command_id="cmd")
CMD_META = c.CommandMeta(command_id="cmd", issued_at=T0)

EXPECTED = [
    (e.KeyCreated(meta=META, key=KEY), (HoldKey(KEY),)),
    (e.KeyUpdated(meta=META, key=KEY), (HoldKey(KEY),)),
    (e.KeyDeleted(meta=META, key=KEY), (HoldKey(KEY, deleted=True),)),
    (e.ProjectUpdated(meta=META, project=PROJECT), (ForgetProjectKeys(30),)),
    (e.ProjectDeletionScheduled(meta=META, project=PROJECT), (RetireProjectKeys(30),)),
    (e.ProjectCreated(meta=META, project=PROJECT), ()),
    (e.OrganizationCreated(meta=META, organization=ORG), (HoldOrganization(ORG),)),
    (e.OrganizationUpdated(meta=META, organization=ORG), (HoldOrganization(ORG),)),
    (e.OrganizationSlugClaimed(meta=META, slug="acme", org_id=1), (ForgetOrganizationSlug("acme"),)),
    (e.OrganizationSlugReleased(meta=META, slug="acme", org_id=1), (ForgetOrganizationSlug("acme"),)),
    (e.MemberAdded(meta=META, member=MEMBER), (HoldMember(MEMBER),)),
    (e.MemberUpdated(meta=META, member=MEMBER), (HoldMember(MEMBER),)),
    (e.MemberRemoved(meta=META, member=MEMBER), (HoldMember(MEMBER, removed=True),)),
    (e.TokenCreated(meta=META, token=TOKEN), (ForgetToken("abc123"),)),
    (e.UserCreated(meta=META, user=USER), ()),
    (e.TeamCreated(meta=META, team=TEAM), ()),
    (e.TeamUpdated(meta=META, team=TEAM), ()),
    (e.TeamDeletionScheduled(meta=META, team=TEAM), ()),
]


def test_every_event_type_is_covered_here() -> None:
    assert {type(event) for event, _ in EXPECTED} == set(e.TenancyEvent.__args__)


@pytest.mark.parametrize(("event", "expected"), EXPECTED, ids=lambda x: type(x).__name__)
def test_what_each_event_makes_stale(event: Any, expected: tuple[Any, ...]) -> None:
    assert changes(event) == expected


def test_an_event_of_an_unknown_kind_drops_everything() -> None:
    assert changes(object()) == (ForgetAll(),)


def test_messages_are_decoded_and_undecodable_ones_drop_everything() -> None:
    assert message_changes(TENANCY_LOG.encode(e.KeyUpdated(meta=META, key=KEY))) == (HoldKey(KEY),)
    assert message_changes(b"\xc1 not msgpack") == (ForgetAll(),)
    assert message_changes(None) == (ForgetAll(),)
    newer = msgspec.msgpack.encode({"type": "key_renamed_in_a_later_version", "meta": META})
    assert message_changes(newer) == (ForgetAll(),), "a kind a newer writer added"


@pytest.mark.parametrize("command", [
    c.CreateProject(meta=CMD_META, org_id=1, team_id=20, project_id=30, slug="web", name="Web", key_id=40,
                    key_public="p", key_secret="s"),
    c.UpdateProject(meta=CMD_META, org_id=1, project_id=30, changes={"name": "Web 2"}),
    c.DeleteProject(meta=CMD_META, org_id=1, project_id=30),
    c.CreateKey(meta=CMD_META, org_id=1, project_id=30, key_id=41, label="CI", public="p", secret="s"),
    c.UpdateKey(meta=CMD_META, org_id=1, project_id=30, key_id=40, is_active=False),
    c.DeleteKey(meta=CMD_META, org_id=1, project_id=30, key_id=40),
], ids=lambda x: type(x).__name__)
def test_an_accepted_project_or_key_command_drops_the_projects_keys(command: Any) -> None:
    assert accepted(command) == (ForgetTenancy(), ForgetProjectKeys(30))


def test_other_accepted_commands_drop_tokens_organizations_and_memberships() -> None:
    assert accepted(c.RemoveMember(meta=CMD_META, org_id=1, member_id=10)) == (ForgetTenancy(),)
    assert accepted(c.UpdateOrganization(meta=CMD_META, org_id=1, changes={})) == (ForgetTenancy(),)


class Store:
    """Answers the entities queries from `records` (kind → list), counting reads."""

    def __init__(self) -> None:
        self.records: dict[str, list[Any]] = {"key": [KEY], "organization": [ORG], "member": [MEMBER]}
        self.reads = 0

    def query(self, sql: str, parameters: dict[str, Any]) -> list[tuple[bytes]]:
        self.reads += 1
        return [(msgspec.json.encode(r),) for r in self.records[parameters["kind"]]]


def caches() -> tuple[Store, KeyCache, Authenticator]:
    store = Store()
    return store, KeyCache(store), Authenticator(store)  # type: ignore[arg-type]


def test_a_key_disabled_elsewhere_is_refused_without_asking_the_projection() -> None:
    store, keys, auth = caches()
    assert asyncio.run(keys.get(PUB40)) == KEY
    disabled = msgspec.structs.replace(KEY, is_active=False)
    apply(changes(e.KeyUpdated(meta=META, key=disabled)), keys, auth)
    assert asyncio.run(keys.get(PUB40)) == disabled
    assert store.reads == 1


def test_a_project_deleted_elsewhere_takes_its_keys_along() -> None:
    store, keys, auth = caches()
    assert asyncio.run(keys.get(PUB40)) == KEY
    apply(changes(e.ProjectDeletionScheduled(meta=META, project=PROJECT)), keys, auth)
    assert asyncio.run(keys.get(PUB40)) is None
    assert store.reads == 1


def test_dropping_everything_reads_everything_anew() -> None:
    store, keys, auth = caches()
    asyncio.run(keys.get(PUB40))
    asyncio.run(auth.organization_by_slug("acme"))
    apply((ForgetAll(),), keys, auth)
    asyncio.run(keys.get(PUB40))
    asyncio.run(auth.organization_by_slug("acme"))
    assert store.reads == 4
