"""Which monitor commands are answered as soon as they are decided. Pure.

A check-in's caller (a cron job, a REST client) needs the check-in as decided, not
read-your-writes: it is answered with the broker's ack of its events, and lists show it once the
projection wrote it. A check-in that creates or reconfigures its monitor (`monitor_config`) and
every administrative command keep read-your-writes: the projection answers them.
"""

from __future__ import annotations

from typing import Any

from picket.schemas.monitors import CheckInRecorded, RecordCheckIn
from picket.schemas.replies import Reply


def check_in_answer(command: Any, events: tuple[Any, ...]) -> Reply | None:
    """The answer to `command` at decision, or None when the projection answers."""
    if not isinstance(command, RecordCheckIn) or not command.meta.reply_to or command.upsert_config is not None:
        return None
    recorded = [event.check_in for event in events if isinstance(event, CheckInRecorded)]
    if not recorded:
        return None
    return Reply(command_id=command.meta.command_id, outcome="accepted", reply_to=command.meta.reply_to,
                 check_in=recorded[-1])
