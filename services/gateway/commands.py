"""Send an administrative command and wait for the agent's verdict (read-your-writes).

The caller gets the verdict only once the projection the next GET reads has the change. Kafka
unreachable → 503; no verdict in time → 504; both with a detail, never a hang.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from picket.schemas.commands import CommandMeta
from picket.schemas.replies import Reply
from picket.agents.codec import encode
from picket.bus.replies import ReplyWaiter
from picket.gateway.errors import ApiError

# Seconds to get the broker's ack of a command before answering 503.
SEND_TIMEOUT = 10.0


class CommandRejected(ApiError):
    """The agent said no; `reply` is its verdict."""

    def __init__(self, status: int, reply: Reply) -> None:
        super().__init__(status, reply.detail or reply.outcome)
        self.reply = reply


_STATUS = {"conflict": 409, "not_found": 404, "invalid": 400, "forbidden": 403}


class CommandBus:
    def __init__(self, producer: AIOKafkaProducer, waiter: ReplyWaiter, route: Callable[[Any], tuple[str, str]],
                 timeout: float, on_accepted: Callable[[Any], None] | None = None) -> None:
        """`route(command)` names the topic and the aggregate key a command is sent with;
        `on_accepted(command)` is told of each accepted command (to drop what it made stale)."""
        self._on_accepted = on_accepted
        self._producer = producer
        self._waiter = waiter
        self._route = route
        self._timeout = timeout

    def meta(self, actor_user_id: int | None = None) -> CommandMeta:
        return CommandMeta(
            command_id=uuid.uuid4().hex,
            issued_at=datetime.now(timezone.utc),
            reply_to=self._waiter.instance_id,
            actor_user_id=actor_user_id,
        )

    async def execute(self, command: Any, statuses: dict[str, int] | None = None) -> Reply:
        """Publish `command` and return the accepted verdict; raise ApiError for any other.

        `statuses` overrides the HTTP status of a rejection outcome for this operation
        (e.g. a slug conflict on update is a 400 in Sentry, on create a 409).
        """
        command_id = command.meta.command_id
        topic, key = self._route(command)
        fut = self._waiter.expect(command_id)
        try:
            try:
                await asyncio.wait_for(
                    self._producer.send_and_wait(topic, encode(command), key=key.encode()),
                    timeout=SEND_TIMEOUT,
                )
            except (KafkaError, asyncio.TimeoutError) as exc:
                raise ApiError(
                    503, "The command bus is unavailable; try again.", {"Retry-After": "1"}
                ) from exc
            try:
                reply = await asyncio.wait_for(fut, timeout=self._timeout)
            except asyncio.TimeoutError:
                raise ApiError(504, "Timed out waiting for the change to be applied.") from None
        finally:
            self._waiter.forget(command_id)
        if reply.outcome != "accepted":
            status = (statuses or {}).get(reply.outcome) or _STATUS.get(reply.outcome, 400)
            raise CommandRejected(status, reply)
        if self._on_accepted is not None:
            self._on_accepted(command)
        return reply
