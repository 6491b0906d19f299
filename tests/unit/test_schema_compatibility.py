"""The public topics' JSON Schemas stay compatible with their baseline, the last released contract
(`schemas/jsonschema/baseline/`): no change that would break a subscriber. The comparison
(`tests/support/schema_compatibility.py`) is shown rule by rule on tiny schemas first."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from picket.schemas.export import rendered
from picket.schemas.topics import PUBLIC_TOPICS
from tests.support.schema_compatibility import breaking_changes, removed_topics

BASELINE = Path(__file__).resolve().parents[2] / "schemas" / "jsonschema" / "baseline"


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


INT = {"type": "integer"}
STR = {"type": "string"}
NULLABLE_INT = {"anyOf": [INT, {"type": "null"}], "default": None}


def _event(tag: str, **properties: Any) -> dict[str, Any]:
    return _obj({"type": {"enum": [tag]}, **properties}, ("type",))


def _union(*events: dict[str, Any]) -> dict[str, Any]:
    """A tagged union as msgspec writes it: `anyOf` of `$defs` references, a discriminator."""
    defs = {e["properties"]["type"]["enum"][0]: e for e in events}
    return {"$defs": defs, "anyOf": [{"$ref": f"#/$defs/{name}"} for name in defs],
            "discriminator": {"propertyName": "type", "mapping": {n: f"#/$defs/{n}" for n in defs}}}


# --- the rules, each failing and passing ---

def test_a_removed_property_breaks_and_an_added_optional_one_does_not() -> None:
    old = _obj({"id": INT, "name": STR}, ("id",))
    assert breaking_changes(old, _obj({"id": INT}, ("id",))) == ["name: property removed"]
    assert breaking_changes(old, _obj({"id": INT, "name": STR, "extra": STR}, ("id",))) == []


def test_a_changed_or_narrowed_type_breaks_and_a_widened_one_does_not() -> None:
    old = _obj({"n": INT})
    assert breaking_changes(old, _obj({"n": STR})) == [
        "n: type changed from ['integer'] to ['string'] (no longer ['integer'])"]
    assert breaking_changes(_obj({"n": NULLABLE_INT}), old) == [
        "n: type changed from ['integer', 'null'] to ['integer'] (no longer ['null'])"]
    assert breaking_changes(old, _obj({"n": NULLABLE_INT})) == []
    assert breaking_changes(old, _obj({"n": {"type": "number"}})) == []
    assert breaking_changes(_obj({"n": STR}), _obj({"n": {"enum": ["a", "b"]}})) == [
        "n: string restricted to the values ['\"a\"', '\"b\"']"]


def test_a_newly_required_property_breaks_and_a_required_one_kept_does_not() -> None:
    old = _obj({"id": INT, "name": STR}, ("id",))
    assert breaking_changes(old, _obj({"id": INT, "name": STR}, ("id", "name"))) == ["name: property newly required"]
    assert breaking_changes(old, _obj({"id": INT, "name": STR, "new": STR}, ("id", "new"))) == [
        "new: property newly required"]
    assert breaking_changes(old, _obj({"id": INT, "name": STR}, ("id",))) == []
    assert breaking_changes(old, _obj({"id": INT, "name": STR}, ())) == []


def test_a_removed_enum_value_breaks_and_an_added_one_does_not() -> None:
    old = _obj({"status": {"enum": ["ok", "error"]}})
    assert breaking_changes(old, _obj({"status": {"enum": ["ok"]}})) == ['status: enum values removed: "error"']
    assert breaking_changes(old, _obj({"status": {"enum": ["ok", "error", "missed"]}})) == []
    assert breaking_changes(old, _obj({"status": STR})) == []


def test_a_removed_event_type_breaks_and_a_new_one_does_not() -> None:
    old = _union(_event("created", id=INT), _event("deleted", id=INT))
    assert breaking_changes(old, _union(_event("created", id=INT))) == ["(value): event type 'deleted' removed"]
    assert breaking_changes(old, _union(_event("created", id=INT), _event("deleted", id=INT),
                                        _event("renamed", id=INT, name=STR))) == []


def test_a_change_inside_an_event_type_is_found_there() -> None:
    old = _union(_event("created", id=INT, name=STR), _event("deleted", id=INT))
    new = _union(_event("created", id=STR), _event("deleted", id=INT))
    assert breaking_changes(old, new) == [
        "[created].id: type changed from ['integer'] to ['string'] (no longer ['integer'])",
        "[created].name: property removed"]


def test_a_removed_topic_breaks_and_a_new_one_does_not() -> None:
    baseline = {"a-events": _obj({}), "b-events": _obj({})}
    assert removed_topics(baseline, {"a-events": _obj({})}) == ["b-events: topic removed"]
    assert removed_topics(baseline, {**baseline, "c-events": _obj({})}) == []


def test_references_nested_objects_and_arrays_are_followed() -> None:
    def doc(item_type: dict[str, Any], tuple_items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"$ref": "#/$defs/Root",
                "$defs": {"Item": _obj({"size": item_type}),
                          "Root": _obj({"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
                                        "pair": {"type": "array", "prefixItems": tuple_items}})}}
    old = doc(INT, [INT, STR])
    assert breaking_changes(old, copy.deepcopy(old)) == []
    assert breaking_changes(old, doc(STR, [INT, STR])) == [
        "items[].size: type changed from ['integer'] to ['string'] (no longer ['integer'])"]
    assert breaking_changes(old, doc(INT, [INT])) == ["pair: tuple shape changed"]


def test_a_recursive_type_is_compared_once() -> None:
    tree = {"$defs": {"Node": _obj({"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                                    "name": STR})},
            "$ref": "#/$defs/Node"}
    assert breaking_changes(tree, copy.deepcopy(tree)) == []
    pruned = copy.deepcopy(tree)
    del pruned["$defs"]["Node"]["properties"]["name"]
    assert breaking_changes(tree, pruned) == ["name: property removed"]


# --- the public topics against their baseline ---

def _current() -> dict[str, dict[str, Any]]:
    files = rendered()
    return {t.name: json.loads(files[f"{t.name}.json"]) for t in PUBLIC_TOPICS}


def _baseline() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(BASELINE.glob("*.json"))}


def test_there_is_a_baseline() -> None:
    assert {"tenancy-events", "monitors-events", "outcomes"} <= _baseline().keys()


def test_no_public_topic_of_the_baseline_was_removed() -> None:
    assert removed_topics(_baseline(), _current()) == []


@pytest.mark.parametrize("name", sorted(p.stem for p in BASELINE.glob("*.json")))
def test_a_public_topic_stays_compatible_with_its_baseline(name: str) -> None:
    current = _current()
    if name not in current:
        pytest.fail(f"{name}: topic removed (or no longer public)")
    problems = breaking_changes(_baseline()[name], current[name])
    assert not problems, (f"{name} would break its subscribers: {problems}; if that is intended, announce "
                          f"it and copy schemas/jsonschema/{name}.json into schemas/jsonschema/baseline/")


def test_the_comparison_finds_a_break_in_a_real_schema() -> None:
    """On the real monitors-events: a check-in's status losing a value, and an event type gone."""
    old = _baseline()["monitors-events"]
    new = copy.deepcopy(old)
    new["$defs"]["CheckIn"]["properties"]["status"]["enum"].remove("missed")
    new["anyOf"] = [v for v in new["anyOf"] if v["$ref"] != "#/$defs/MonitorDeleted"]
    assert breaking_changes(old, new) == ["(value): event type 'monitor_deleted' removed",
                                          '[check_in_recorded].check_in.status: enum values removed: "missed"']
