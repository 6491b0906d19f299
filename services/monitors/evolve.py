"""evolve(state, event) -> state. Pure; applying an event twice changes nothing.

An event whose version is not newer than the state's is one the state already holds (a
re-delivery after a crash), so it is ignored.
"""

from __future__ import annotations

from typing import Any

import msgspec

from picket.schemas.monitors import (
    CheckIn,
    CheckInRecorded,
    MonitorCreated,
    MonitorDeleted,
    MonitorEnvironmentDeleted,
    MonitorEnvironmentStatusChanged,
    MonitorUpdated,
)
from picket.monitors.state import FINISHED_IDS, RECENT_COMMANDS, MonitorState


def _without(d: dict[str, CheckIn], key: str) -> dict[str, CheckIn]:
    return {k: v for k, v in d.items() if k != key}


def evolve(state: MonitorState, event: Any) -> MonitorState:
    if event.meta.version <= state.version:
        return state
    recent = state.recent_commands.add(event.meta.command_id, RECENT_COMMANDS)
    base = {"version": event.meta.version, "recent_commands": recent}
    s = state
    match event:
        case MonitorCreated() | MonitorUpdated():
            return msgspec.structs.replace(s, monitor=event.monitor, **base)
        case MonitorDeleted():
            # Its in_progress check-ins stay only to be timed out (see MonitorState).
            return msgspec.structs.replace(
                s, monitor=None, open_check_ins={}, orphaned={**s.orphaned, **s.open_check_ins},
                **base,
            )
        case MonitorEnvironmentDeleted():
            gone = {k: c for k, c in s.open_check_ins.items() if c.environment == event.environment}
            return msgspec.structs.replace(
                s,
                monitor=event.monitor,
                open_check_ins={k: c for k, c in s.open_check_ins.items() if k not in gone},
                orphaned={**s.orphaned, **gone},
                **base,
            )
        case CheckInRecorded():
            check_in = event.check_in
            if check_in.status == "in_progress":
                if check_in.id in s.orphaned:
                    orphaned = {**s.orphaned, check_in.id: check_in}
                    return msgspec.structs.replace(s, orphaned=orphaned, **base)
                opened = {**s.open_check_ins, check_in.id: check_in}
                return msgspec.structs.replace(s, open_check_ins=opened, **base)
            finished = s.finished_ids.add(check_in.id, FINISHED_IDS)
            return msgspec.structs.replace(
                s,
                open_check_ins=_without(s.open_check_ins, check_in.id),
                orphaned=_without(s.orphaned, check_in.id),
                finished_ids=finished,
                **base,
            )
        case MonitorEnvironmentStatusChanged():
            # The environment's new status arrives with the MonitorUpdated that follows.
            return msgspec.structs.replace(s, **base)
    raise TypeError(f"unknown event {type(event).__name__}")


def fold(state: MonitorState, events: list[Any]) -> MonitorState:
    for event in events:
        state = evolve(state, event)
    return state
