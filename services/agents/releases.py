"""The releases context: one release per aggregate (`release:<org id>:<version>`), decided by a
Faust agent per command (release changes come from CI pipelines, not at ingestion volume).
Release events hold nothing a subscriber may not see: the public topic is the log itself."""

from __future__ import annotations

from typing import Any

from picket.application.aggregates import Context
from picket.releases.decide import decide
from picket.releases.evolve import fold
from picket.releases.project import COLUMNS, project
from picket.releases.state import initial_state
from picket.schemas.topics import RELEASES_COMMANDS, RELEASES_EVENTS


def _rows(event: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {table: list(rows) for table, rows in project(event).items()}


RELEASES = Context(
    name="releases",
    commands=RELEASES_COMMANDS,
    events=RELEASES_EVENTS,
    event_log_table="release_events",
    decide=decide,
    fold=fold,
    initial_state=initial_state,
    project=_rows,
    columns=COLUMNS,
)
