"""How a topic's values are written as bytes: JSON for public topics, MessagePack for internal ones.

Public topics carry JSON exactly as their published JSON Schema (`schemas/jsonschema/`) says, so
a subscriber needs nothing but a JSON parser. Internal topics may use MessagePack (smaller,
faster, never read by anyone else). A JSON codec still reads a value written as MessagePack by an
earlier version (a JSON object starts with `{`, a MessagePack map never does), so topics and event
logs written before a topic turned JSON replay unchanged.

A public codec may leave fields out (`redact`): what a subscriber must not see (key secrets,
token hashes) is dropped, wherever it is nested, before the value is written.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec


class Codec(Protocol):
    media_type: str

    def encode(self, value: Any) -> bytes: ...

    def decode(self, raw: bytes) -> Any: ...


class MsgPack:
    """MessagePack of a msgspec type (internal topics)."""

    media_type = "application/msgpack"

    def __init__(self, value_type: Any) -> None:
        self.encode = msgspec.msgpack.Encoder().encode
        self.decode = msgspec.msgpack.Decoder(value_type).decode


class Json:
    """JSON of a msgspec type (public topics), without the `redact`ed fields."""

    media_type = "application/json"

    def __init__(self, value_type: Any, redact: frozenset[str] = frozenset()) -> None:
        self.redact = redact
        self._encoder = msgspec.json.Encoder()
        self._json = msgspec.json.Decoder(value_type)
        self._msgpack = msgspec.msgpack.Decoder(value_type)
        if redact:
            self.encode = lambda value: self._encoder.encode(_without(msgspec.to_builtins(value), redact))
        else:
            self.encode = self._encoder.encode

    def decode(self, raw: bytes) -> Any:
        if raw[:1] == b"{":
            return self._json.decode(raw)
        return self._msgpack.decode(raw)  # written before the topic was JSON


class Raw:
    """Bytes as they are (dead-letter topics keep the message that failed, untouched)."""

    media_type = "application/octet-stream"

    @staticmethod
    def encode(value: bytes) -> bytes:
        return value

    @staticmethod
    def decode(raw: bytes) -> bytes:
        return raw


def _without(value: Any, names: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, names) for k, v in value.items() if k not in names}
    if isinstance(value, list):
        return [_without(v, names) for v in value]
    return value


def schema_without(schema: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """A JSON Schema (as msgspec makes them) of the values a redacting codec writes."""
    if isinstance(schema, dict):
        out = {}
        for k, v in schema.items():
            if k == "properties" and isinstance(v, dict):
                out[k] = {p: schema_without(s, names) for p, s in v.items() if p not in names}
            elif k == "required" and isinstance(v, list):
                out[k] = [p for p in v if p not in names]
            else:
                out[k] = schema_without(v, names)
        return out
    if isinstance(schema, list):
        return [schema_without(v, names) for v in schema]
    return schema
