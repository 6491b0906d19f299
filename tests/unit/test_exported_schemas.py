"""The JSON Schemas committed under `schemas/jsonschema/` are those the Structs give today: a
change to a topic's value type that was not exported again fails here."""

from __future__ import annotations

from pathlib import Path

from picket.schemas.export import OUT, rendered


def test_the_committed_json_schemas_are_current() -> None:
    files = rendered()
    committed = {p.name: p.read_text() for p in Path(OUT).glob("*.json")}
    assert set(committed) == set(files), "python -m picket.schemas.export"
    stale = [name for name, text in files.items() if committed[name] != text]
    assert not stale, f"stale: {stale}; run python -m picket.schemas.export"
