"""The integrations context: service hooks (one aggregate per project) and Sentry apps with their
installations and external issues (one per organization), decided by a Faust agent per command.
Hook secrets and app client secrets stay on the internal log; the projector republishes each
event on the public `integrations-events` without them."""

from __future__ import annotations

from picket.application.aggregates import Context
from picket.integrations.decide import decide
from picket.integrations.evolve import fold
from picket.integrations.project import COLUMNS, project
from picket.integrations.state import initial_state
from picket.schemas.topics import INTEGRATIONS_COMMANDS, INTEGRATIONS_EVENTS, INTEGRATIONS_LOG

INTEGRATIONS = Context(
    name="integrations",
    commands=INTEGRATIONS_COMMANDS,
    events=INTEGRATIONS_LOG,
    event_log_table="integration_events",
    decide=decide,
    fold=fold,
    initial_state=initial_state,
    project=lambda event: {table: list(rows) for table, rows in project(event).items()},
    columns=COLUMNS,
    public=INTEGRATIONS_EVENTS,
)
