"""The state of one monitor aggregate (`monitor:<org id>:<slug>`), as the deciding agent keeps it.

The monitor record (with its environments) is what the public events carry. Check-ins are
events of their own; the aggregate remembers only what deciding needs of them:
- `open_check_ins`: the in_progress ones, by id (updated by heartbeats, closed by a result or a
  timeout);
- `orphaned`: in_progress ones whose monitor or environment was deleted. They cannot be
  changed any more; they are kept only so a clock tick times them out and their deadline rows
  close (see `picket.monitors.project`);
- `finished_ids`: the ids of the latest finished check-ins, to refuse changing them.
"""

from __future__ import annotations

import msgspec

from picket.schemas.monitors import CheckIn, Monitor

# How many command ids the aggregate remembers to answer a redelivered command idempotently.
RECENT_COMMANDS = 256
# How many finished check-in ids the aggregate remembers to refuse changing them.
FINISHED_IDS = 1000


# Ids are remembered in generations of this many (see RecentIds).
GENERATION = 100


class RecentIds(msgspec.Struct, frozen=True):
    """The latest ids of an endless stream: at least the last `keep`, at most `keep` + 2 ×
    GENERATION; immutable. Kept as generations, the newest a tuple and older ones frozensets,
    so that adding copies at most one generation and a lookup is a few hash probes: every
    check-in adds and looks up ids, which cost O(keep) each in a flat list."""

    newest: tuple[str, ...] = ()
    older: tuple[frozenset[str], ...] = ()

    def __contains__(self, item: object) -> bool:
        return item in self.newest or any(item in generation for generation in self.older)

    def __len__(self) -> int:
        return len(self.newest) + sum(len(generation) for generation in self.older)

    def add(self, item: str, keep: int) -> RecentIds:
        """These ids and `item`; generations past the `keep` newest ids are forgotten."""
        if item in self:
            return self
        if len(self.newest) < GENERATION:
            return RecentIds((*self.newest, item), self.older)
        older = (frozenset(self.newest), *self.older)[: -(-keep // GENERATION)]
        return RecentIds((item,), older)


class MonitorState(msgspec.Struct, kw_only=True, frozen=True):
    version: int = 0
    monitor: Monitor | None = None
    open_check_ins: dict[str, CheckIn] = {}
    orphaned: dict[str, CheckIn] = {}
    finished_ids: RecentIds = RecentIds()
    recent_commands: RecentIds = RecentIds()




def initial_state(key: str) -> MonitorState:
    if not key.startswith("monitor:"):
        raise KeyError(key)
    return MonitorState()

