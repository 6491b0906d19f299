"""The verdict on a command, sent to the gateway instance that waits for it.

An accepted command is answered only after its events are in the projection the next read
uses; a rejected one is answered by the deciding agent at once. A check-in is answered as soon
as it is decided, with the check-in as decided (`check_in`), not after its projection.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from picket.schemas.monitors import CheckIn

Outcome = Literal["accepted", "conflict", "not_found", "invalid", "forbidden"]


class Reply(msgspec.Struct, kw_only=True, frozen=True):
    command_id: str
    outcome: Outcome
    detail: str | None = None
    entity_id: int | None = None  # the existing record a conflict is about, where useful
    reply_to: str = ""  # the waiting gateway instance: the message key on command-replies
    check_in: CheckIn | None = None  # an accepted check-in, as decided
