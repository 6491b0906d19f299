"""Whether a topic's new JSON Schema would break a subscriber of its old one.

Public topics keep their history (domain events forever), so a subscriber reads old and new
messages alike, with code written against the old schema. Hence a change breaks it when:

- a property is removed (code reading it finds nothing),
- a type changes or narrows (`integer` to `string`, `integer | null` to `integer`, a string to an
  enum): messages already on the topic no longer match,
- a property becomes required (old messages lack it),
- an enum value is removed, or an event type of a tagged union (object variants told apart by a
  `type` const) disappears, or an untagged variant does,
- a topic is removed.

Adding an optional property, widening a type, adding an enum value or a new event type does not
break (subscribers skip event types they do not know). Schemas are as msgspec writes them:
`$defs` with `#/$defs/...` references, `anyOf` unions, `prefixItems` for tuples.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]


def removed_topics(baseline: Mapping[str, Schema], current: Mapping[str, Schema]) -> list[str]:
    return [f"{name}: topic removed" for name in sorted(set(baseline) - set(current))]


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """What in `new` breaks a subscriber of `old`, one line each; empty when nothing does."""
    return _Comparison(old, new).run()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "any")


def _types(node: Schema) -> set[str]:
    if "type" in node:
        kind = node["type"]
        return set(kind) if isinstance(kind, list) else {kind}
    if "enum" in node:
        return {_json_type(v) for v in node["enum"]}
    if "const" in node:
        return {_json_type(node["const"])}
    if "properties" in node:
        return {"object"}
    if "items" in node or "prefixItems" in node:
        return {"array"}
    return {"any"}


def _values(node: Schema) -> list[Any] | None:
    """The values an enum or const allows; None when the node is not restricted to a list."""
    if "enum" in node:
        return list(node["enum"])
    if "const" in node:
        return [node["const"]]
    return None


def _allowed(variants: list[Schema]) -> dict[str, set[str] | None]:
    """Scalar type → the values allowed of it (JSON text), None where any value of it is."""
    out: dict[str, set[str] | None] = {}
    for variant in variants:
        values = _values(variant)
        if values is None:
            for kind in _types(variant) & {"string", "integer", "number", "boolean"}:
                out[kind] = None
            continue
        for value in values:
            kind = _json_type(value)
            if kind in ("string", "integer", "number", "boolean") and out.get(kind, set()) is not None:
                out.setdefault(kind, set()).add(json.dumps(value))  # type: ignore[union-attr]
    return out


def _covered(kind: str, kinds: set[str]) -> bool:
    return kind in kinds or "any" in kinds or (kind == "integer" and "number" in kinds)


class _Comparison:
    def __init__(self, old: Schema, new: Schema) -> None:
        self.old_root, self.new_root = old, new
        self.problems: list[str] = []
        self.seen: set[tuple[int, int]] = set()

    def run(self) -> list[str]:
        self.compare(self.old_root, self.new_root, "")
        return self.problems

    def report(self, path: str, what: str) -> None:
        self.problems.append(f"{path or '(value)'}: {what}")

    @staticmethod
    def resolve(node: Any, root: Schema) -> tuple[Schema, str | None]:
        """The node a `$ref` chain ends at, and the name of the last definition on the way."""
        name = None
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"only local references are supported: {ref}")
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node, name = target, ref.rsplit("/", 1)[-1]
        return (node if isinstance(node, Mapping) else {}), name

    def variants(self, node: Any, root: Schema) -> list[tuple[Schema, str | None]]:
        """The alternatives a node allows: its `anyOf`/`oneOf` branches, flattened, references followed."""
        resolved, name = self.resolve(node, root)
        branches = resolved.get("anyOf") or resolved.get("oneOf")
        if branches and not ({"type", "properties", "enum", "const"} & resolved.keys()):
            return [v for branch in branches for v in self.variants(branch, root)]
        return [(resolved, name or resolved.get("title"))]

    def compare(self, old: Any, new: Any, path: str) -> None:
        olds = self.variants(old, self.old_root)
        news = self.variants(new, self.new_root)
        old_types = set().union(*(_types(v) for v, _ in olds))
        new_types = set().union(*(_types(v) for v, _ in news))
        lost = sorted(t for t in old_types if not _covered(t, new_types))
        if lost:
            self.report(path, f"type changed from {sorted(old_types)} to {sorted(new_types)} (no longer {lost})")
        self.compare_scalars([v for v, _ in olds], [v for v, _ in news], path)
        self.compare_objects([o for o in olds if "object" in _types(o[0])],
                             [n for n in news if "object" in _types(n[0])], path)
        old_arrays = [v for v, _ in olds if "array" in _types(v)]
        new_arrays = [v for v, _ in news if "array" in _types(v)]
        if len(old_arrays) == 1 and len(new_arrays) == 1:
            self.compare_arrays(old_arrays[0], new_arrays[0], path)

    def compare_scalars(self, olds: list[Schema], news: list[Schema], path: str) -> None:
        """Per scalar type: the values allowed before must all be allowed still."""
        old_allowed, new_allowed = _allowed(olds), _allowed(news)
        for kind, before in sorted(old_allowed.items()):
            after = new_allowed.get(kind, new_allowed.get("number") if kind == "integer" else None)
            if kind not in new_allowed and not (kind == "integer" and "number" in new_allowed):
                continue  # a lost type is reported with the types
            if after is None:
                continue  # unrestricted now
            if before is None:
                self.report(path, f"{kind} restricted to the values {sorted(after)}")
            elif before - after:
                self.report(path, f"enum values removed: {', '.join(sorted(before - after))}")

    def tag(self, variant: Schema, root: Schema) -> str | None:
        """The event type of an object variant of a tagged union: its `type` property's one value."""
        prop = variant.get("properties", {}).get("type")
        if prop is None:
            return None
        values = _values(self.resolve(prop, root)[0])
        return values[0] if values and len(values) == 1 and isinstance(values[0], str) else None

    def compare_objects(self, olds: list[tuple[Schema, str | None]], news: list[tuple[Schema, str | None]],
                        path: str) -> None:
        if not olds or not news:
            return  # a lost object type is reported with the types
        old_tags = [self.tag(v, self.old_root) for v, _ in olds]
        if len(olds) > 1 and all(old_tags):
            new_by_tag = {self.tag(v, self.new_root): v for v, _ in news}
            for (variant, _), tag in zip(olds, old_tags):
                if tag not in new_by_tag:
                    self.report(path, f"event type {tag!r} removed")
                else:
                    self.compare_object(variant, new_by_tag[tag], f"{path}[{tag}]")
            return
        if len(olds) == 1 and len(news) == 1:
            self.compare_object(olds[0][0], news[0][0], path)
            return
        new_by_name = {name: v for v, name in news if name}
        for variant, name in olds:
            if name not in new_by_name:
                self.report(path, f"variant {name or '(unnamed)'} removed")
            else:
                self.compare_object(variant, new_by_name[name], f"{path}[{name}]")

    def compare_object(self, old: Schema, new: Schema, path: str) -> None:
        if (id(old), id(new)) in self.seen:
            return  # a recursive type, compared already
        self.seen.add((id(old), id(new)))
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        for name, schema in old_props.items():
            where = f"{path}.{name}" if path else name
            if name not in new_props:
                self.report(where, "property removed")
            else:
                self.compare(schema, new_props[name], where)
        for name in new.get("required", ()):
            if name not in old.get("required", ()):
                self.report(f"{path}.{name}" if path else name, "property newly required")
        old_more, new_more = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if new_more is False and old_more is not False:
            self.report(path, "additional properties no longer allowed")
        elif isinstance(old_more, Mapping) and isinstance(new_more, Mapping):
            self.compare(old_more, new_more, f"{path}.*" if path else "*")

    def compare_arrays(self, old: Schema, new: Schema, path: str) -> None:
        old_tuple, new_tuple = old.get("prefixItems"), new.get("prefixItems")
        if old_tuple is not None or new_tuple is not None:
            if old_tuple is None or new_tuple is None or len(old_tuple) != len(new_tuple):
                self.report(path, "tuple shape changed")
                return
            for n, (o, nw) in enumerate(zip(old_tuple, new_tuple)):
                self.compare(o, nw, f"{path}[{n}]")
            return
        if isinstance(old.get("items"), Mapping) and isinstance(new.get("items"), Mapping):
            self.compare(old["items"], new["items"], f"{path}[]")
