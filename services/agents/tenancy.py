"""The tenancy context on the aggregate machinery: organizations, slug claims and users.

Aggregate keys: `org:<id>`, `orgslug:<slug>`, `user:<email>` (see `picket.schemas.commands`).
"""

from __future__ import annotations

from typing import Any

from picket.schemas.commands import aggregate_key
from picket.schemas.topics import TENANCY_COMMANDS, TENANCY_COMMANDS_DLQ, TENANCY_EVENTS
from picket.agents.aggregate import Context
from picket.agents.codec import decode_command, decode_event
from picket.tenancy.decide import decide
from picket.tenancy.evolve import fold
from picket.tenancy.project import ENTITY_COLUMNS, project
from picket.tenancy.state import initial_state


def _rows(event: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {"entities": list(project(event))}


TENANCY = Context(
    name="tenancy",
    commands=TENANCY_COMMANDS,
    events=TENANCY_EVENTS,
    dead_letters=TENANCY_COMMANDS_DLQ,
    event_log_table="tenancy_events",
    decode_command=decode_command,
    decode_event=decode_event,
    key_of=aggregate_key,
    decide=decide,
    fold=fold,
    initial_state=initial_state,
    project=_rows,
    columns={"entities": ENTITY_COLUMNS},
)
