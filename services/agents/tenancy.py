"""The tenancy context: organizations, slug claims and users, with their topics and pure functions.

Aggregate keys: `org:<id>`, `orgslug:<slug>`, `user:<email>` (see `picket.schemas.commands`). The
log (`tenancy-log`) keeps whole events, key secrets and token hashes included, to rebuild state;
the projector republishes each event on the public `tenancy-events` without them.
"""

from __future__ import annotations

from typing import Any

from picket.application.aggregates import Context
from picket.schemas.rows import EntityRow
from picket.schemas.topics import TENANCY_COMMANDS, TENANCY_EVENTS, TENANCY_LOG
from picket.tenancy.decide import decide
from picket.tenancy.evolve import fold
from picket.tenancy.project import project
from picket.tenancy.state import initial_state


def _rows(event: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {"entities": list(project(event))}


TENANCY = Context(
    name="tenancy",
    commands=TENANCY_COMMANDS,
    events=TENANCY_LOG,
    public=TENANCY_EVENTS,
    event_log_table="tenancy_events",
    decide=decide,
    fold=fold,
    initial_state=initial_state,
    project=_rows,
    columns={"entities": EntityRow._fields},
)
