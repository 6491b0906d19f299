"""The command client as the gateway answers with it: a failed command is an HTTP error.

Kafka unreachable → 503 (with Retry-After); no verdict in time → 504; a rejection → the status of
its outcome (409, 404, 400, 403), each with a detail, never a hang.
"""

from __future__ import annotations

from typing import Any

from picket.bus.commands import BusUnavailable, CommandClient, CommandRejected as Rejected, VerdictTimeout
from picket.gateway.errors import ApiError
from picket.gateway.metrics import count_verdict
from picket.schemas.commands import CommandMeta
from picket.schemas.replies import Reply


class CommandRejected(ApiError):
    """The agent said no; `reply` is its verdict."""

    def __init__(self, status: int, reply: Reply) -> None:
        super().__init__(status, reply.detail or reply.outcome)
        self.reply = reply


_STATUS = {"conflict": 409, "not_found": 404, "invalid": 400, "forbidden": 403}


class CommandBus:
    def __init__(self, client: CommandClient) -> None:
        self.client = client

    def meta(self, actor_user_id: int | None = None) -> CommandMeta:
        return self.client.meta(actor_user_id)

    async def execute(self, command: Any, statuses: dict[str, int] | None = None) -> Reply:
        """Publish `command` and return the accepted verdict; raise ApiError for any other.

        `statuses` overrides the HTTP status of a rejection outcome for this operation
        (e.g. a slug conflict on update is a 400 in Sentry, on create a 409).
        """
        try:
            reply = await self.client.execute(command)
        except BusUnavailable as exc:
            count_verdict(command, "unavailable")
            raise ApiError(503, "The command bus is unavailable; try again.", {"Retry-After": "1"}) from exc
        except VerdictTimeout:
            count_verdict(command, "timeout")
            raise ApiError(504, "Timed out waiting for the change to be applied.") from None
        except Rejected as exc:
            outcome = exc.reply.outcome
            count_verdict(command, outcome)
            raise CommandRejected((statuses or {}).get(outcome) or _STATUS.get(outcome, 400), exc.reply) from None
        count_verdict(command, "accepted")
        return reply
