"""The artifacts context: release files (one aggregate per release), artifact bundles (one per
checksum) and debug files (one per project), decided by a Faust agent per command (uploads come
from CI pipelines, not at ingestion volume). Artifact events carry checksums and chunk names,
nothing a subscriber may not see: the public topic is the log itself."""

from __future__ import annotations

from typing import Any

from picket.application.aggregates import Context
from picket.artifacts.decide import decide
from picket.artifacts.evolve import fold
from picket.artifacts.project import COLUMNS, project
from picket.artifacts.state import initial_state
from picket.schemas.topics import ARTIFACTS_COMMANDS, ARTIFACTS_EVENTS


def _rows(event: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {table: list(rows) for table, rows in project(event).items()}


ARTIFACTS = Context(
    name="artifacts",
    commands=ARTIFACTS_COMMANDS,
    events=ARTIFACTS_EVENTS,
    event_log_table="artifact_events",
    decide=decide,
    fold=fold,
    initial_state=initial_state,
    project=_rows,
    columns=COLUMNS,
    # The assembler writes job states too; the blob sweeper empties `blob_gc` as it deletes.
    kept_on_replay=frozenset({"assemble_status", "blob_gc"}),
)
