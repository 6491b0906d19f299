"""The pure parts of `picket replay`: which projections a command line names, the rows a page of
archived events gives (tables kept on replay left out, an event that cannot be projected or whose
rows a table refuses skipped with its reason, the others kept), and the line each replay ends
with."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from picket.agents.artifacts import ARTIFACTS
from picket.agents.tenancy import TENANCY
from picket.replay import chosen, contexts, summary
from picket.schemas import events as e
from picket.schemas.entities import Team
from picket.schemas.rows import EntityRow
from picket.store.guards import TableGuards
from picket.store.replay import ReplayReport, project_events, shadow

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
ENTITY_TYPES = {"entities": {"kind": "LowCardinality(String)", "org_id": "UInt64", "id": "UInt64",
                             "parent_id": "UInt64", "slug": "String", "version": "UInt64", "deleted": "UInt8",
                             "body": "String", "event_id": "String", "updated_at": "DateTime64(3, 'UTC')"}}


def _team(version: int, team_id: int, slug: str = "core") -> bytes:
    meta = e.EventMeta(event_id=f"c{version}:0", aggregate="org:1", version=version, timestamp=T0, command_id=f"c{version}")
    return TENANCY.events.encode(e.TeamCreated(meta=meta, team=Team(id=team_id, org_id=1, slug=slug, name=slug,
                                                                      date_created=T0)))


def _guards(prefix: str = "") -> TableGuards:
    return TableGuards({f"{prefix}{t}": cols for t, cols in ENTITY_TYPES.items()})


def test_the_command_line_names_projections_or_all_but_not_both_nor_unknown_ones() -> None:
    known = contexts()
    assert list(known) == ["tenancy", "monitors", "releases", "artifacts", "integrations"]
    assert chosen([], True, known) == list(known.values())
    assert chosen(["releases", "tenancy", "releases"], False, known) == [known["releases"], known["tenancy"]]
    assert chosen([], False, known) == "name projections to replay, or --all"
    assert chosen(["tenancy"], True, known) == "name projections to replay, or --all"
    assert chosen(["tenancy", "events"], False, known) == (
        "unknown projection events (known: tenancy, monitors, releases, artifacts, integrations)")


def test_tables_other_agents_write_are_not_replayed() -> None:
    assert set(ARTIFACTS.columns) - set(ARTIFACTS.replayed_tables) == {"assemble_status", "blob_gc"}
    assert TENANCY.replayed_tables == {"entities": EntityRow._fields}
    assert shadow("entities") == "entities__replay"


def test_a_page_gives_the_rows_of_its_events_into_the_shadow_tables() -> None:
    rows, skipped = project_events(TENANCY, TENANCY.replayed_tables, _guards("x_"), lambda t: f"x_{t}",
                                   [_team(1, 7), _team(2, 8, "web")])
    assert skipped == []
    assert [(r[0], r[2], r[4], r[5]) for r in rows["entities"]] == [("team", 7, "core", 1), ("team", 8, "web", 2)]


def test_an_event_that_cannot_be_read_or_whose_rows_a_table_refuses_is_skipped_alone() -> None:
    def project(event: Any) -> dict[str, list[tuple[Any, ...]]]:
        found = TENANCY.project(event)
        if event.team.id == 9:  # a new version's defect: an id out of the column's range
            found["entities"] = [tuple(-1 if i == 2 else v for i, v in enumerate(row)) for row in found["entities"]]
        return found

    ctx = replace(TENANCY, project=project)
    rows, skipped = project_events(ctx, ctx.replayed_tables, _guards(), lambda t: t,
                                   [_team(1, 7), b"{not an event", _team(3, 9), _team(4, 10)])
    assert [r[2] for r in rows["entities"]] == [7, 10]
    assert len(skipped) == 2
    assert skipped[0].startswith(("DecodeError: ", "ValidationError: "))  # msgpack bytes that are no event
    assert skipped[1] == "ValueError: entities.id: -1 is outside 0..18446744073709551615"


def test_the_line_a_replay_ends_with_says_what_it_did_and_what_it_skipped() -> None:
    report = ReplayReport("tenancy", ("entities",), projected=120, catch_ups=2)
    assert summary(report, 3.25) == "tenancy: 120 events projected into entities (2 catch-up passes, 3.2 s)"
    report = replace(report, skipped=1, reasons=["DecodeError: bad"])
    assert summary(report, 1.0).endswith("; 1 skipped, e.g. DecodeError: bad")
