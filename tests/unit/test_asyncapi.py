"""The AsyncAPI document of the public topics (`schemas/asyncapi.py`): committed as generated, valid
against the official AsyncAPI 3.0.0 JSON Schema, whole (every public topic a channel, every
reference resolves), its payload schemas as strict as the topics' JSON Schemas, and served by the
gateway without a token."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from picket.schemas import asyncapi
from picket.schemas.monitors import CheckIn, CheckInRecorded, MonitorEventMeta
from picket.schemas.topics import MONITORS_EVENTS, PUBLIC_TOPICS

REPO = Path(__file__).resolve().parents[2]
# The official schema of AsyncAPI 3.0.0 (npm @asyncapi/specs, schemas/3.0.0-without-$id.json).
OFFICIAL = REPO / "schemas" / "reference" / "asyncapi-3.0.0.json"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return asyncapi.document()


@pytest.fixture(scope="module")
def official() -> Any:
    return jsonschema_rs.validator_for(json.loads(OFFICIAL.read_text()))


def test_the_committed_document_is_current() -> None:
    assert asyncapi.OUT.read_text() == asyncapi.rendered_document(), "run python -m picket.schemas.asyncapi"


def test_its_version_is_picket_s() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert asyncapi.VERSION == project["version"]


def test_it_is_valid_against_the_official_asyncapi_3_schema(doc: dict[str, Any], official: Any) -> None:
    errors = [f"{list(e.instance_path)}: {e.message[:200]}" for e in official.iter_errors(doc)]
    assert not errors, errors


def test_the_official_schema_does_refuse_an_invalid_document(doc: dict[str, Any], official: Any) -> None:
    """The validator checks (a check that can fail): the spellings this module converts, and an
    operation's action, are refused when wrong."""
    wrong_action = json.loads(json.dumps(doc))
    wrong_action["operations"]["receive-monitors-events"]["action"] = "subscribe"  # AsyncAPI 2's word
    assert not official.is_valid(wrong_action)
    openapi_discriminator = json.loads(json.dumps(doc))
    openapi_discriminator["components"]["schemas"]["monitors-events"]["discriminator"] = {"propertyName": "type"}
    assert not official.is_valid(openapi_discriminator)


def test_every_public_topic_is_a_channel_received_by_subscribers(doc: dict[str, Any]) -> None:
    names = [topic.name for topic in PUBLIC_TOPICS]
    assert sorted(doc["channels"]) == sorted(names)
    for topic in PUBLIC_TOPICS:
        channel = doc["channels"][topic.name]
        assert channel["address"] == topic.name
        assert "PICKET_TOPIC_PREFIX" in channel["description"]
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions
        operation = doc["operations"][f"receive-{topic.name}"]
        assert operation["action"] == "receive"
        assert operation["channel"] == {"$ref": f"#/channels/{topic.name}"}
        message = doc["components"]["messages"][topic.name]
        assert message["payload"] == {"$ref": f"#/components/schemas/{topic.name}"}
        assert message["bindings"]["kafka"]["key"]["description"] == topic.key
        assert message["contentType"] == "application/json"
    assert len(doc["operations"]) == len(names)
    assert doc["servers"]["kafka"]["protocol"] == "kafka"


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*([value["$ref"]] if isinstance(value.get("$ref"), str) else []),
                *(r for v in value.values() for r in _refs(v))]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def _pointer(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_reference_resolves_inside_the_document(doc: dict[str, Any]) -> None:
    refs = _refs(doc)
    assert refs and not [r for r in refs if "$defs" in r]
    for ref in refs:
        _pointer(doc, ref)  # KeyError if it points nowhere
    for operation in doc["operations"].values():
        channel = operation["channel"]["$ref"]
        assert all(m["$ref"].startswith(f"{channel}/messages/") for m in operation["messages"])


def _payload_validator(doc: dict[str, Any], topic: str) -> Any:
    """A draft 07 validator of one message's payload, with the document's components around it."""
    return jsonschema_rs.Draft7Validator({"allOf": [doc["components"]["messages"][topic]["payload"]],
                                          "components": {"schemas": doc["components"]["schemas"]}})


def test_a_payload_schema_accepts_a_real_event_and_refuses_what_the_topic_s_schema_refuses(
        doc: dict[str, Any]) -> None:
    at = datetime(2026, 12, 4, tzinfo=timezone.utc)
    event = CheckInRecorded(
        meta=MonitorEventMeta(event_id="c1:0", aggregate="monitor:7:nightly", version=2, timestamp=at,
                              command_id="c1"),
        check_in=CheckIn(id="a" * 32, monitor_id=9, environment="production", status="ok", date_created=at,
                         date_updated=at))
    value = json.loads(MONITORS_EVENTS.encode(event))
    payload = _payload_validator(doc, "monitors-events")
    exported = jsonschema_rs.validator_for(asyncapi.topic_schemas()["monitors-events"])
    assert payload.is_valid(value) and exported.is_valid(value)
    for broken in ({**value, "check_in": {**value["check_in"], "status": "late"}},
                   {**value, "type": "check_in_lost"},
                   {k: v for k, v in value.items() if k != "meta"}):
        assert not payload.is_valid(broken) and not exported.is_valid(broken)


def test_a_tuple_keeps_its_items_in_draft_07() -> None:
    """msgspec writes a fixed-length tuple with `prefixItems` (2020-12), which draft 07 ignores."""
    converted = asyncapi.draft7({"type": "array", "prefixItems": [{"type": "integer"}, {"enum": ["day"]}],
                                 "minItems": 2, "maxItems": 2})
    assert converted["items"] == [{"type": "integer"}, {"enum": ["day"]}] and "prefixItems" not in converted
    validator = jsonschema_rs.Draft7Validator(converted)
    assert validator.is_valid([1, "day"]) and not validator.is_valid(["day", 1])


def test_names_of_properties_are_not_taken_for_keywords() -> None:
    converted = asyncapi.draft7({"type": "object", "properties": {"discriminator": {"type": "string"},
                                                                  "$ref": {"type": "integer"}}})
    assert converted["properties"] == {"discriminator": {"type": "string"}, "$ref": {"type": "integer"}}


def test_domain_event_topics_say_how_to_drop_repeats(doc: dict[str, Any]) -> None:
    for topic in PUBLIC_TOPICS:
        schema = asyncapi.topic_schemas()[topic.name]
        if asyncapi.carries_event_id(schema):
            assert "meta.event_id" in doc["components"]["messages"][topic.name]["description"]
    assert asyncapi.carries_event_id(asyncapi.topic_schemas()["monitors-events"])
    assert not asyncapi.carries_event_id(asyncapi.topic_schemas()["outcomes"])  # outcomes carry `id`


def test_the_gateway_serves_it_without_a_token() -> None:
    from tests.support.gateway_world import make_world  # the whole gateway: only this test needs it

    world = make_world()
    response = world.http.get("/api/0/asyncapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content == asyncapi.OUT.read_bytes()
    assert response.json()["asyncapi"] == "3.0.0"
