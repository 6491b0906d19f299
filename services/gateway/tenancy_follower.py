"""Every gateway follows the tenancy log, so a change made anywhere applies in it at once.

A gateway caches DSN keys, tokens, organizations and memberships (`keys.py`, `auth.py`). The
gateway that accepted a change drops what it made stale as soon as the verdict comes, but the
others (a deployment may run many; `picket admin` sends commands on the bus directly) would go
on with a disabled or deleted key, a removed membership or an organization's old record until
the entry's TTL ran out. So each gateway reads every tenancy event, with a consumer of its own
(no consumer group), assigned every partition and starting at the end of the topic when the
gateway starts: its caches are empty then.

`changes(event)` is the pure part: what an event makes stale, said as the new records the
caches are to answer (events carry whole records, and the projection a re-read would hit may
not have the event yet) or as what they are to read anew. `accepted(command)` says what a
command this gateway accepted makes stale: its projection has the change already, so reading
anew is safe, and the event may reach this follower only later. `apply` makes changes to a
gateway's caches. Where the follower cannot know what it missed (a message it cannot decode, an
event kind it does not know, a failed read or a position the broker no longer has), it drops
every cache: reading everything anew is always right.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import OffsetOutOfRangeError

from picket.schemas import commands as c
from picket.schemas import events as e
from picket.schemas.entities import Member, Organization, ProjectKey
from picket.schemas.topics import TENANCY_LOG
from picket.bus.connection import KafkaConnection
from picket.bus.kafka import consumer as make_consumer
from picket.gateway.auth import Authenticator
from picket.gateway.keys import KeyCache

log = logging.getLogger(__name__)

# An idle follower asks the broker again this often. Apache Kafka answers a long poll as soon
# as a record arrives; the embedded broker answers 10-20 ms late on 100 ms polls (see
# picket.runtime.source), well within the second a change may take to apply everywhere.
FETCH_MAX_WAIT_MS = 100
RETRY_SECONDS = 0.5
# A start that has not found the end of every partition by then is tried again afresh.
OPEN_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class HoldKey:
    """Answer this key's new record (absent once deleted)."""

    key: ProjectKey
    deleted: bool = False


@dataclass(frozen=True)
class RetireProjectKeys:
    """The project is deleted: its cached keys are absent."""

    project_id: int


@dataclass(frozen=True)
class ForgetProjectKeys:
    """Read the project's keys anew."""

    project_id: int


@dataclass(frozen=True)
class ForgetToken:
    token_hash: str


@dataclass(frozen=True)
class HoldOrganization:
    """Answer this organization's new record under its slug (its former slugs: absent)."""

    organization: Organization


@dataclass(frozen=True)
class ForgetOrganizationSlug:
    slug: str


@dataclass(frozen=True)
class HoldMember:
    """Answer this membership's new record (absent once removed)."""

    member: Member
    removed: bool = False


@dataclass(frozen=True)
class ForgetTenancy:
    """Read every token, organization and membership anew."""


@dataclass(frozen=True)
class ForgetAll:
    """Read everything anew: keys, tokens, organizations, memberships."""


Change = (
    HoldKey | RetireProjectKeys | ForgetProjectKeys | ForgetToken | HoldOrganization
    | ForgetOrganizationSlug | HoldMember | ForgetTenancy | ForgetAll
)


def changes(event: Any) -> tuple[Change, ...]:
    """What `event` makes stale in a gateway's caches. Pure."""
    match event:
        case e.KeyCreated() | e.KeyUpdated():
            return (HoldKey(event.key),)
        case e.KeyDeleted():
            return (HoldKey(event.key, deleted=True),)
        case e.ProjectDeletionScheduled():
            return (RetireProjectKeys(event.project.id),)
        case e.ProjectUpdated():
            return (ForgetProjectKeys(event.project.id),)
        case e.OrganizationCreated() | e.OrganizationUpdated():
            return (HoldOrganization(event.organization),)
        case e.OrganizationSlugClaimed() | e.OrganizationSlugReleased():
            return (ForgetOrganizationSlug(event.slug),)
        case e.MemberAdded() | e.MemberUpdated():
            return (HoldMember(event.member),)
        case e.MemberRemoved():
            return (HoldMember(event.member, removed=True),)
        case e.TokenCreated():
            return (ForgetToken(event.token.token_hash),)
        case e.UserCreated() | e.ProjectCreated() | e.TeamCreated() | e.TeamUpdated() | e.TeamDeletionScheduled():
            return ()  # nothing cached is made from these (a new project's keys come as KeyCreated)
    return (ForgetAll(),)  # a kind this gateway does not know: it cannot tell what changed


def accepted(command: Any) -> tuple[Change, ...]:
    """What a tenancy command accepted through this gateway makes stale here. Pure."""
    match command:
        case c.CreateProject() | c.UpdateProject() | c.DeleteProject() | c.CreateKey() | c.UpdateKey() | c.DeleteKey():
            return (ForgetTenancy(), ForgetProjectKeys(command.project_id))
    return (ForgetTenancy(),)


def apply(changes: Iterable[Change], keys: KeyCache, auth: Authenticator) -> None:
    """Make `changes` to one gateway's caches."""
    for change in changes:
        match change:
            case HoldKey(key=key, deleted=deleted):
                keys.hold(key, deleted=deleted)
            case RetireProjectKeys(project_id=project_id):
                keys.retire_project(project_id)
            case ForgetProjectKeys(project_id=project_id):
                keys.forget_project(project_id)
            case ForgetToken(token_hash=token_hash):
                auth.forget_token(token_hash)
            case HoldOrganization(organization=org):
                auth.hold_organization(org)
            case ForgetOrganizationSlug(slug=slug):
                auth.forget_organization_slug(slug)
            case HoldMember(member=member, removed=removed):
                auth.hold_member(member, removed=removed)
            case ForgetTenancy():
                auth.forget_tenancy()
            case ForgetAll():
                keys.clear()
                auth.forget_tenancy()


def message_changes(value: bytes | None) -> tuple[Change, ...]:
    """The changes of one raw message of the topic; everything, if it cannot be decoded."""
    try:
        event = TENANCY_LOG.decode(value or b"")
    except msgspec.DecodeError as exc:
        log.error("undecodable tenancy event, every cache dropped: %s", exc)
        return (ForgetAll(),)
    return changes(event)


class TenancyFollower:
    """Reads `topic` from its end and tells `on_changes` what each event makes stale.

    A failed read, or a position the broker no longer has (a broker that lost its data), starts
    over at the end of the topic with a fresh consumer and a `ForgetAll`: what was missed is
    unknown. The Kafka client reconnects by itself when the broker restarts; the position is
    kept, so no event is missed then.
    """

    def __init__(self, kafka: KafkaConnection, topic: str, partitions: int,
                 on_changes: Callable[[Sequence[Change]], None]) -> None:
        self._kafka = kafka
        self._topic = topic
        self._partitions = partitions
        self._on_changes = on_changes
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Return once the end of every partition is known: every event published after this
        call is read."""
        self._consumer = await self._open()
        self._task = asyncio.create_task(self._run(), name="tenancy-follower")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()

    async def _open(self) -> AIOKafkaConsumer:
        consumer = make_consumer(
            self._kafka, group_id=None,
            auto_offset_reset="none",  # a lost position is an error here, not a silent jump
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        try:
            async with asyncio.timeout(OPEN_TIMEOUT_SECONDS):
                await consumer.start()
                consumer.assign([TopicPartition(self._topic, p) for p in range(self._partitions)])
                await consumer.seek_to_end()
                for tp in consumer.assignment():
                    await consumer.position(tp)
        except BaseException:
            with contextlib.suppress(Exception):
                await consumer.stop()
            raise
        return consumer

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _run(self) -> None:
        while True:
            if self._consumer is None:
                try:
                    self._consumer = await self._open()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("following %s: could not start over; retrying", self._topic)
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                self._tell((ForgetAll(),))  # what happened before the new start is unknown
            try:
                batches = await self._consumer.getmany(timeout_ms=500)
            except asyncio.CancelledError:
                raise
            except OffsetOutOfRangeError as exc:
                log.warning("following %s: position gone (%s); starting over at its end", self._topic, exc)
                await self._close()
                continue
            except Exception:
                log.exception("following %s failed; starting over at its end", self._topic)
                await self._close()
                await asyncio.sleep(RETRY_SECONDS)
                continue
            for messages in batches.values():
                for message in messages:
                    self._tell(message_changes(message.value))

    def _tell(self, found: Sequence[Change]) -> None:
        if not found:
            return
        try:
            self._on_changes(found)
        except Exception:  # a fault in a cache must not stop the following
            log.exception("applying %s failed", found)
