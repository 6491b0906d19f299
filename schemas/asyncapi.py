"""An AsyncAPI 3.0 document of Picket's public topics, made from the topic registry.

Every public topic of `schemas/topics.py` is a channel (its address is the topic's name; a
deployment with `PICKET_TOPIC_PREFIX` prepends the prefix), with one message whose payload is the
topic's JSON Schema as `python -m picket.schemas.export` writes it, and an operation of action
`receive`: what a subscriber does. The schemas' definitions are moved into
`components.schemas` and written as the AsyncAPI Schema Object wants them (JSON Schema draft 07:
`prefixItems` becomes `items`, a discriminator names the property). The document is committed as
`schemas/asyncapi.json` (a test keeps it current) and served at `GET /api/0/asyncapi.json`.
Regenerate after changing a public topic:

    python -m picket.schemas.asyncapi
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from picket.schemas.export import rendered
from picket.schemas.topics import PUBLIC_TOPICS, Topic

OUT = Path(__file__).with_name("asyncapi.json")
# The version of the document: Picket's own (pyproject.toml; a test keeps them equal).
VERSION = "0.1.0"
SERVER = "kafka"
KAFKA_BINDING = "0.5.0"
_DEFS = "#/$defs/"
_COMPONENTS = "#/components/schemas/"

DESCRIPTION = """\
The public Kafka topics of a Picket deployment: the domain events of its contexts (one topic
each) and the outcomes of ingested items. Values are plain JSON (UTF-8), exactly as the payload
schemas say; a subscriber needs a Kafka client and a JSON parser. Internal topics (commands,
logs, ingest) are MessagePack and not described here.

- Topic names: a deployment started with `PICKET_TOPIC_PREFIX` prepends that prefix to every
  topic (`<prefix>monitors-events`); the default prefix is empty.
- Duplicates: each domain event carries `meta.event_id`, unique and stable when an event is
  published again after a crash; drop a repeat. Outcomes carry `id` instead, where there is one.
- Order: messages with the same key (each message says what its key is) are on one partition,
  in the order they were written.
- Transactions: read with `isolation.level=read_committed`.
- Large values: a value over about 1 MB is sent as several messages on the same partition, each
  with the header `picket-chunk: <id> <index> <count>`; join their values in index order.
- Evolution: fields are added with defaults and new event types may appear (skip a `type` you do
  not know); nothing is removed or changed (`tests/unit/test_schema_compatibility.py`).
"""

SERVER_DESCRIPTION = """\
The Kafka brokers of the deployment (`KAFKA_BOOTSTRAP`). `picket run` without `KAFKA_BOOTSTRAP`
starts an embedded broker on loopback and prints its address on the `Kafka:` line; that broker
requires SASL/PLAIN (user `picket`, the password in `<data dir>/kafka.json`) and keeps its port
across restarts while the port is free. Other brokers sign in as they are configured.
"""

CHUNK_HEADER = {
    "type": "string",
    "pattern": "^[^ ]+ [0-9]+ [0-9]+$",
    "description": "Only on a value sent in pieces: `<id> <index> <count>`. Join the values of the "
                   "messages with the same id in index order, then parse the JSON.",
}

# Keywords whose value is a schema, a list of schemas, or a map of names to schemas.
_SCHEMA = ("items", "additionalProperties", "additionalItems", "not", "contains", "propertyNames", "if", "then",
           "else")
_SCHEMAS = ("anyOf", "oneOf", "allOf", "prefixItems")
_NAMED = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def draft7(schema: Any) -> Any:
    """A JSON Schema as msgspec makes it (2020-12) as an AsyncAPI Schema Object (draft 07):
    references to `$defs` point into `components.schemas`, `prefixItems` are `items` (and
    `items` after them `additionalItems`), a discriminator object is its property name, and a
    `$ref` with other keywords beside it is wrapped in `allOf` (draft 07 ignores its siblings)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$defs":
            continue  # hoisted into components.schemas
        if key == "$ref" and isinstance(value, str) and value.startswith(_DEFS):
            out[key] = _COMPONENTS + value[len(_DEFS):]
        elif key == "discriminator" and isinstance(value, dict):
            out[key] = value["propertyName"]
        elif key in _NAMED and isinstance(value, dict):
            out[key] = {name: draft7(sub) for name, sub in value.items()}
        elif key in _SCHEMAS and isinstance(value, list):
            out[key] = [draft7(sub) for sub in value]
        elif key in _SCHEMA:
            out[key] = draft7(value)
        else:
            out[key] = value  # data (enum, const, default, examples) or an annotation
    if "prefixItems" in out:
        if "items" in out:
            out["additionalItems"] = out.pop("items")
        out["items"] = out.pop("prefixItems")
    if "$ref" in out and len(out) > 1:
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return out


def topic_schemas() -> dict[str, dict[str, Any]]:
    """Topic name → its JSON Schema, as exported, for every public topic."""
    files = rendered()
    return {topic.name: json.loads(files[f"{topic.name}.json"]) for topic in PUBLIC_TOPICS}


def event_types(schema: dict[str, Any]) -> list[str]:
    """The `type` values of a topic whose values are a tagged union of event types (empty if its
    values carry no `type`)."""
    mapping = schema.get("discriminator", {}).get("mapping", {})
    return sorted(mapping) if schema.get("discriminator", {}).get("propertyName") == "type" else []


def carries_event_id(schema: dict[str, Any]) -> bool:
    """Whether every value of the topic has `meta.event_id` (required at both levels)."""
    defs = schema.get("$defs", {})

    def resolved(node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref", "")
        return resolved(defs[ref[len(_DEFS):]]) if ref.startswith(_DEFS) else node

    variants = [resolved(v) for v in schema.get("anyOf", [schema])]
    for variant in variants:
        if "meta" not in variant.get("required", ()):
            return False
        meta = resolved(variant.get("properties", {}).get("meta", {}))
        if "event_id" not in meta.get("required", ()):
            return False
    return bool(variants)


def _message(topic: Topic, schema: dict[str, Any]) -> dict[str, Any]:
    types = event_types(schema)
    notes = [topic.doc]
    if types:
        notes.append("Event types (`type`): " + ", ".join(f"`{t}`" for t in types) + ".")
    if carries_event_id(schema):
        notes.append("Drop a repeat by `meta.event_id`.")
    notes.append(f"Message key: {topic.key}.")
    return {
        "name": topic.name,
        "title": topic.name,
        "summary": topic.doc,
        "description": "\n\n".join(notes),
        "contentType": "application/json",
        "headers": {"type": "object", "properties": {"picket-chunk": CHUNK_HEADER}},
        "payload": {"$ref": _COMPONENTS + topic.name},
        "bindings": {"kafka": {"key": {"type": "string", "description": topic.key}, "bindingVersion": KAFKA_BINDING}},
    }


def _channel(topic: Topic) -> dict[str, Any]:
    return {
        "address": topic.name,
        "title": topic.name,
        "summary": topic.doc,
        "description": f"{topic.doc}\n\nThe topic is named `{topic.name}`, after the deployment's "
                       f"`PICKET_TOPIC_PREFIX` if it has one (`<prefix>{topic.name}`).",
        "messages": {topic.name: {"$ref": f"#/components/messages/{topic.name}"}},
        "bindings": {"kafka": {"topic": topic.name, "partitions": topic.partitions,
                               "topicConfiguration": {"retention.ms": topic.retention_ms},
                               "bindingVersion": KAFKA_BINDING}},
    }


def _operation(topic: Topic) -> dict[str, Any]:
    return {
        "action": "receive",
        "title": f"Subscribe to {topic.name}",
        "summary": f"Read {topic.name} (read_committed), with a consumer group of your own.",
        "channel": {"$ref": f"#/channels/{topic.name}"},
        "messages": [{"$ref": f"#/channels/{topic.name}/messages/{topic.name}"}],
    }


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every public topic."""
    schemas: dict[str, Any] = {}
    by_topic = topic_schemas()
    for name, schema in by_topic.items():
        for def_name, definition in schema.get("$defs", {}).items():
            converted = draft7(definition)
            if schemas.setdefault(def_name, converted) != converted:
                raise ValueError(f"two public topics define {def_name!r} differently")
        if name in schemas:
            raise ValueError(f"topic {name!r} has the name of a definition")
        schemas[name] = draft7(schema)
    topics = {topic.name: topic for topic in PUBLIC_TOPICS}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Picket public topics", "version": VERSION, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {SERVER: {
            "host": "{bootstrap}",
            "protocol": "kafka",
            "title": "Kafka",
            "description": SERVER_DESCRIPTION,
            "variables": {"bootstrap": {
                "default": "127.0.0.1:9092",
                "description": "host:port of a broker of the deployment (KAFKA_BOOTSTRAP, or the address "
                               "`picket run` prints).",
            }},
            "security": [{"$ref": "#/components/securitySchemes/sasl-plain"}],
        }},
        "channels": {name: _channel(topic) for name, topic in topics.items()},
        "operations": {f"receive-{name}": _operation(topic) for name, topic in topics.items()},
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": {name: _message(topic, by_topic[name]) for name, topic in topics.items()},
            "securitySchemes": {"sasl-plain": {
                "type": "plain",
                "description": "SASL/PLAIN, as the embedded broker of `picket run` requires it (user `picket`, "
                               "password in `<data dir>/kafka.json`).",
            }},
        },
    }


def rendered_document() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    OUT.write_text(rendered_document())
    print(OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
