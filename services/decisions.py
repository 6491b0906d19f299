"""The vocabulary every context's pure `decide` speaks: verdicts, and the event stamper.

`Emitter` stamps each event with an id derived from the command (`<command id>:<n>`), the
aggregate key, the next aggregate version and the command's time, and puts the caller to
answer (`reply_to`) on the last event only — so re-deciding a command yields the same events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from picket.schemas.replies import Outcome


@dataclass(frozen=True)
class Accepted:
    events: list[Any]
    duplicate: bool = False  # the command was decided before; nothing new happens


@dataclass(frozen=True)
class Rejected:
    outcome: Outcome
    detail: str
    entity_id: int | None = None  # the existing record a conflict is about, where useful


Decision = Accepted | Rejected


@dataclass
class Emitter:
    command: Any
    key: str
    version: int
    meta_type: type  # the context's event meta Struct
    timestamp: datetime
    events: list[Any] = field(default_factory=list)

    def __call__(self, event_type: type, **payload: Any) -> None:
        command_id = self.command.meta.command_id
        n = len(self.events)
        meta = self.meta_type(
            event_id=f"{command_id}:{n}",
            aggregate=self.key,
            version=self.version + n + 1,
            timestamp=self.timestamp,
            command_id=command_id,
        )
        self.events.append(event_type(meta=meta, **payload))

    def done(self) -> Accepted:
        if self.events:
            last = self.events[-1]
            self.events[-1] = msgspec.structs.replace(
                last, meta=msgspec.structs.replace(last.meta, reply_to=self.command.meta.reply_to)
            )
        return Accepted(self.events)
