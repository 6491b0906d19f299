"""Key, project and membership changes apply within a second in a gateway that did not make them.

Each scenario runs against a real `picket run` on the real Apache Kafka broker. The gateway
under test first uses the key (or token), so it holds it in its cache for a TTL (keys 10 s,
memberships 10 s); then the change is sent as `picket admin` sends commands, straight on the
command bus from this test process, so the gateway never sees the command nor its verdict and
learns of the change only from the `tenancy-events` topic (the case a TTL alone would leave
stale for up to 10 s, and what any other gateway of a deployment sees). Each refusal must come
within 1 s of sending the command (its event is published after that) and before the cached
entry's TTL could have run out, which proves that the event, not the TTL, applied the change.

Changes made through the gateway's own REST API apply to the very next request
(read-your-writes: the answer comes once the projection has the change).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from picket.schemas import commands as c
from picket.schemas.topics import COMMAND_REPLIES
from picket.bus.commands import CommandClient as CommandBus
from picket.bus.kafka import producer as make_producer
from picket.bus.replies import ReplyWaiter
from picket.bus.topics import Topics
from picket.gateway import auth, keys
from picket.tenancy.credentials import hash_token
from picket.ids import new_id, new_key_pair, new_token
from tests.support.picket import PicketProcess

WITHIN = 1.0  # seconds from sending a change to the first refusal


@asynccontextmanager
async def command_bus(p: PicketProcess) -> AsyncIterator[CommandBus]:
    """A command client of this test process, as `picket admin` has (services/stack.py)."""
    assert p.bootstrap is not None
    producer = make_producer(p.kafka)
    waiter = ReplyWaiter(p.kafka, COMMAND_REPLIES.full_name(p.prefix), COMMAND_REPLIES.partitions,
                         instance_id=f"test-{uuid.uuid4().hex[:12]}")
    await producer.start()
    await waiter.start()
    try:
        yield CommandBus(producer, waiter, Topics(p.prefix, f"{p.prefix}picket"), timeout=30)
    finally:
        await waiter.stop()
        await producer.stop()


class Project:
    """A project of its own with its default key, made on the bus (so its key's id is known:
    the API shows only the public key), and used once through the gateway."""

    def __init__(self, http: httpx.AsyncClient, sdk: httpx.AsyncClient, bus: CommandBus, org: str) -> None:
        self.http = http
        self.sdk = sdk
        self.bus = bus
        self.org = org

    async def create(self) -> Project:
        self.created_at = time.monotonic()  # no key of this project can be cached before
        self.org_id = int((await self.http.get(f"/api/0/organizations/{self.org}/")).json()["id"])
        self.slug = f"inv-{uuid.uuid4().hex[:8]}"
        team_id, self.id, self.key_id = new_id(), new_id(), new_id()
        self.public, secret = new_key_pair()
        await self.bus.execute(c.CreateTeam(meta=self.bus.meta(), org_id=self.org_id, team_id=team_id,
                                            slug=self.slug, name=self.slug))
        await self.bus.execute(c.CreateProject(
            meta=self.bus.meta(), org_id=self.org_id, team_id=team_id, project_id=self.id, slug=self.slug,
            name=self.slug, key_id=self.key_id, key_public=self.public, key_secret=secret))
        assert await self.ingest() == 200
        return self

    async def ingest(self) -> int:
        r = await self.sdk.post(f"/api/{self.id}/store/", params={"sentry_key": self.public},
                                json={"message": "tenancy change test"})
        return r.status_code


async def first_other_than(status: int, attempt: Callable[[], Awaitable[int]], timeout: float = 15) -> tuple[int, float]:
    """The first status `attempt` gives other than `status`, and when (monotonic)."""
    deadline = time.monotonic() + timeout
    while True:
        got = await attempt()
        if got != status:
            return got, time.monotonic()
        assert time.monotonic() < deadline, f"still {status} after {timeout} s"
        await asyncio.sleep(0.01)


async def changed_in_time(bus: CommandBus, command: Any, attempt: Callable[[], Awaitable[int]], before: int,
                          after: int, cached_since: float, ttl: float) -> float:
    """Send `command` on the bus; `attempt` must turn from `before` to `after` within WITHIN
    seconds, while what the gateway cached no earlier than `cached_since` is still within its
    `ttl`. Returns when the command was sent."""
    sent = time.monotonic()
    await bus.execute(command)
    status, at = await first_other_than(before, attempt)
    assert status == after
    assert at - sent < WITHIN, f"applied {at - sent:.2f} s after the command was sent"
    assert at < cached_since + ttl, "the cached entry could have expired: this proves nothing"
    return sent


Scenario = Callable[[httpx.AsyncClient, httpx.AsyncClient, CommandBus], Awaitable[None]]


def run(p: PicketProcess, scenario: Scenario) -> None:
    """`scenario(api client, SDK client, command bus)`."""
    async def main() -> None:
        async with httpx.AsyncClient(base_url=p.url, headers={"Authorization": f"Bearer {p.token}"},
                                     timeout=30) as http, httpx.AsyncClient(base_url=p.url, timeout=30) as sdk, \
                command_bus(p) as bus:
            await scenario(http, sdk, bus)

    asyncio.run(main())


def test_a_key_disabled_elsewhere_is_refused_and_enabled_again_within_a_second(picket: PicketProcess) -> None:
    async def scenario(http: httpx.AsyncClient, sdk: httpx.AsyncClient, bus: CommandBus) -> None:
        project = await Project(http, sdk, bus, picket.org).create()

        def update(active: bool) -> c.UpdateKey:
            return c.UpdateKey(meta=bus.meta(), org_id=project.org_id, project_id=project.id,
                               key_id=project.key_id, is_active=active)

        disabled = await changed_in_time(bus, update(False), project.ingest, 200, 403, project.created_at,
                                         keys.TTL_SECONDS)
        # The disabled key is now cached (from no earlier than the command): enabling must apply too.
        await changed_in_time(bus, update(True), project.ingest, 403, 200, disabled, keys.TTL_SECONDS)

    run(picket, scenario)


def test_a_key_deleted_elsewhere_is_unknown_within_a_second(picket: PicketProcess) -> None:
    async def scenario(http: httpx.AsyncClient, sdk: httpx.AsyncClient, bus: CommandBus) -> None:
        project = await Project(http, sdk, bus, picket.org).create()
        delete = c.DeleteKey(meta=bus.meta(), org_id=project.org_id, project_id=project.id, key_id=project.key_id)
        await changed_in_time(bus, delete, project.ingest, 200, 401, project.created_at, keys.TTL_SECONDS)

    run(picket, scenario)


def test_a_project_deleted_elsewhere_stops_ingesting_within_a_second(picket: PicketProcess) -> None:
    async def scenario(http: httpx.AsyncClient, sdk: httpx.AsyncClient, bus: CommandBus) -> None:
        project = await Project(http, sdk, bus, picket.org).create()
        delete = c.DeleteProject(meta=bus.meta(), org_id=project.org_id, project_id=project.id)
        await changed_in_time(bus, delete, project.ingest, 200, 401, project.created_at, keys.TTL_SECONDS)

    run(picket, scenario)


def test_a_member_removed_elsewhere_is_forbidden_within_a_second(picket: PicketProcess) -> None:
    async def scenario(http: httpx.AsyncClient, sdk: httpx.AsyncClient, bus: CommandBus) -> None:
        org_id = int((await http.get(f"/api/0/organizations/{picket.org}/")).json()["id"])
        email = f"member-{uuid.uuid4().hex[:8]}@picket.test"
        user_id, member_id, token = new_id(), new_id(), new_token()
        await bus.execute(c.CreateUser(meta=bus.meta(), user_id=user_id, email=email, name=email))
        await bus.execute(c.CreateToken(meta=bus.meta(), email=email, token_id=new_id(), token_hash=hash_token(token),
                                        scopes=["org:read"]))
        added_at = time.monotonic()  # this gateway cannot hold the membership from before
        await bus.execute(c.AddMember(meta=bus.meta(), org_id=org_id, member_id=member_id, email=email,
                                      role="member", user_id=user_id))

        async def read_org() -> int:
            r = await http.get(f"/api/0/organizations/{picket.org}/", headers={"Authorization": f"Bearer {token}"})
            return r.status_code

        status, _ = await first_other_than(403, read_org, timeout=5)  # the membership, now cached
        assert status == 200
        remove = c.RemoveMember(meta=bus.meta(), org_id=org_id, member_id=member_id)
        await changed_in_time(bus, remove, read_org, 200, 403, added_at, auth.ORG_CACHE_SECONDS)

    run(picket, scenario)


def test_changes_made_through_the_api_apply_to_the_next_request(picket: PicketProcess) -> None:
    """Read-your-writes in the gateway that accepted the change, whatever its follower saw."""
    async def scenario(http: httpx.AsyncClient, sdk: httpx.AsyncClient, bus: CommandBus) -> None:
        project = await Project(http, sdk, bus, picket.org).create()
        key_path = f"/api/0/projects/{picket.org}/{project.slug}/keys/{project.public}/"
        assert (await http.put(key_path, json={"isActive": False})).status_code == 200
        assert await project.ingest() == 403
        assert (await http.put(key_path, json={"isActive": True})).status_code == 200
        assert await project.ingest() == 200
        assert (await http.delete(f"/api/0/projects/{picket.org}/{project.slug}/")).status_code == 204
        assert await project.ingest() == 401

    run(picket, scenario)
