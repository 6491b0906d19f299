"""Send a command and wait for its verdict (read-your-writes), with no HTTP in it.

The verdict comes only once the projection the next read uses has the change. Used by the
gateway (which maps the failures below to HTTP statuses) and by `picket admin` alike. Each
command goes to its context's command topic, keyed as the registry says.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from picket.bus.replies import ReplyWaiter
from picket.bus.topics import Topics
from picket.schemas import monitors
from picket.schemas.commands import CommandMeta
from picket.schemas.replies import Reply
from picket.schemas.issues import IssueCommand
from picket.schemas.artifacts import ArtifactCommand
from picket.schemas.integrations import IntegrationCommand
from picket.schemas.releases import ReleaseCommand
from picket.schemas.topics import ARTIFACTS_COMMANDS, INTEGRATIONS_COMMANDS, ISSUES_COMMANDS, MONITORS_COMMANDS, RELEASES_COMMANDS, TENANCY_COMMANDS, Topic

# Seconds to get the broker's ack of a command.
SEND_TIMEOUT = 10.0


class CommandFailed(Exception):
    """The command was not applied, for the reason the subclass names."""


class BusUnavailable(CommandFailed):
    """The broker did not take the command in time: it was not sent, or its fate is unknown."""


class VerdictTimeout(CommandFailed):
    """The command was sent, but no verdict came in time (it may still be applied)."""


class CommandRejected(CommandFailed):
    """The deciding agent said no; `reply` is its verdict (`outcome`, `detail`, `entity_id`)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.detail or reply.outcome)
        self.reply = reply


def is_monitor_command(command: Any) -> bool:
    """Whether `command` belongs to the monitors context (all others are tenancy commands)."""
    return isinstance(command, monitors.MonitorCommand.__args__)  # type: ignore[attr-defined]


def is_tenancy_command(command: Any) -> bool:
    return command_topic(command) is TENANCY_COMMANDS


def command_topic(command: Any) -> Topic:
    if is_monitor_command(command):
        return MONITORS_COMMANDS
    if isinstance(command, IssueCommand.__args__):  # type: ignore[attr-defined]
        return ISSUES_COMMANDS
    if isinstance(command, ReleaseCommand.__args__):  # type: ignore[attr-defined]
        return RELEASES_COMMANDS
    if isinstance(command, ArtifactCommand.__args__):  # type: ignore[attr-defined]
        return ARTIFACTS_COMMANDS
    if isinstance(command, IntegrationCommand.__args__):  # type: ignore[attr-defined]
        return INTEGRATIONS_COMMANDS
    return TENANCY_COMMANDS


class CommandClient:
    """`execute(command)` publishes it and returns the accepted verdict, or raises CommandFailed.

    `on_accepted(command)` is told of each accepted command (to drop what it made stale)."""

    def __init__(self, producer: AIOKafkaProducer, waiter: ReplyWaiter, topics: Topics, timeout: float,
                 on_accepted: Callable[[Any], None] | None = None) -> None:
        self._producer = producer
        self._waiter = waiter
        self._topics = topics
        self._timeout = timeout
        self._on_accepted = on_accepted

    def meta(self, actor_user_id: int | None = None) -> CommandMeta:
        return CommandMeta(
            command_id=uuid.uuid4().hex,
            issued_at=datetime.now(timezone.utc),
            reply_to=self._waiter.instance_id,
            actor_user_id=actor_user_id,
        )

    async def execute(self, command: Any) -> Reply:
        command_id = command.meta.command_id
        record = self._topics.record(command_topic(command), command)
        fut = self._waiter.expect(command_id)
        try:
            try:
                await asyncio.wait_for(
                    self._producer.send_and_wait(record.topic, record.value, key=record.key), timeout=SEND_TIMEOUT
                )
            except (KafkaError, asyncio.TimeoutError) as exc:
                raise BusUnavailable(f"the broker did not take the command: {exc!r}") from exc
            try:
                reply = await asyncio.wait_for(fut, timeout=self._timeout)
            except asyncio.TimeoutError:
                raise VerdictTimeout(f"no verdict on {command_id} within {self._timeout} s") from None
        finally:
            self._waiter.forget(command_id)
        if reply.outcome != "accepted":
            raise CommandRejected(reply)
        if self._on_accepted is not None:
            self._on_accepted(command)
        return reply
