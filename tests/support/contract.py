"""Response-contract checks against Sentry's OpenAPI 3.0 reference subset.

The reference document is vendored at
``schemas/reference/sentry-openapi-subset.json`` (its origin is in the README
beside it); the environment variable ``PICKET_REFERENCE_SCHEMA`` points
elsewhere when set.

Public helpers:

* :func:`load_reference` - the parsed document (cached).
* :func:`match_operation` - concrete request path -> ``(template, operation)``.
* :func:`validate_response` - raise :class:`ContractError` when a response
  does not honour the declared status codes / JSON schema.
* :func:`reference_subset` - a copy of the document restricted to some
  operations (handy for ``schemathesis.openapi.from_dict``).
* :func:`reference_operations` - every ``(METHOD, template)`` pair declared.

OpenAPI 3.0 schemas are converted to JSON Schema 2020-12 and checked with
``jsonschema_rs`` (installed with schemathesis):
``nullable: true`` admits ``null`` (also for schemas built only from
``allOf``/``oneOf``/``anyOf``), ``format`` is ignored except ``date-time``
which must be RFC 3339, ``additionalProperties`` keeps its JSON Schema
default (allowed) and local ``$ref`` pointers are resolved.
"""

from __future__ import annotations

import copy
import datetime as _dt
import functools
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

import jsonschema_rs

__all__ = [
    "REFERENCE_PATH",
    "ContractError",
    "is_rfc3339_datetime",
    "load_reference",
    "match_operation",
    "reference_operations",
    "reference_subset",
    "to_json_schema",
    "validate_response",
]

_REPO_ROOT = Path(__file__).resolve().parents[2]
_DEFAULT_REFERENCE = _REPO_ROOT / "schemas" / "reference" / "sentry-openapi-subset.json"

REFERENCE_PATH: Path = Path(
    os.environ.get("PICKET_REFERENCE_SCHEMA") or _DEFAULT_REFERENCE
)

HTTP_METHODS = frozenset(
    {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
)

# OpenAPI 3.0 schema keywords with no JSON Schema counterpart (or whose
# JSON Schema meaning differs); they are dropped during conversion.
_OPENAPI_ONLY_KEYWORDS = frozenset(
    {
        "nullable",
        "discriminator",
        "readOnly",
        "writeOnly",
        "xml",
        "externalDocs",
        "example",
        "deprecated",
    }
)
_ENFORCED_FORMATS = frozenset({"date-time"})
_MAX_MESSAGE_CHARS = 400


class ContractError(AssertionError):
    """A response does not match the reference contract."""


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_reference() -> dict:
    """Return the parsed reference document (cached; do not mutate it)."""
    if not REFERENCE_PATH.is_file():
        raise FileNotFoundError(
            f"reference OpenAPI document not found at {REFERENCE_PATH} "
            "(set PICKET_REFERENCE_SCHEMA to override)"
        )
    return _load(str(REFERENCE_PATH))


def reference_operations() -> list[tuple[str, str]]:
    """Every ``(METHOD, path template)`` declared in the reference."""
    doc = load_reference()
    return [
        (method.upper(), template)
        for template, item in doc.get("paths", {}).items()
        for method in _resolve(doc, item)
        if method in HTTP_METHODS
    ]


# --------------------------------------------------------------------------
# $ref handling
# --------------------------------------------------------------------------


def _pointer_get(doc: dict, ref: str) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $refs are supported, got {ref!r}")
    node: Any = doc
    for raw in ref[1:].split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(token)]
        else:
            node = node[token]
    return node


def _resolve(doc: dict, node: Any) -> Any:
    """Follow ``$ref`` chains on a non-schema object (response, media type)."""
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise ValueError(f"circular $ref {ref!r}")
        seen.add(ref)
        node = _pointer_get(doc, ref)
    return node


# --------------------------------------------------------------------------
# Path matching
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _compiled_templates(path: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    doc = _load(path)
    compiled = []
    for template in doc.get("paths", {}):
        pattern = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}/]+\})", template)
            if part
        )
        compiled.append((template, re.compile(pattern)))

    def specificity(item: tuple[str, re.Pattern[str]]) -> tuple[int, int]:
        literal = re.sub(r"\{[^}/]+\}", "", item[0])
        literal_segments = sum(
            1 for seg in item[0].split("/") if seg and not seg.startswith("{")
        )
        return (-literal_segments, -len(literal))

    return tuple(sorted(compiled, key=specificity))


def _strip_query(path: str) -> str:
    if "://" in path:  # a full URL: keep only its path
        return urlsplit(path).path
    return path.split("?", 1)[0].split("#", 1)[0]


def _matching_templates(path: str) -> list[str]:
    load_reference()
    concrete = _strip_query(path)
    return [
        template
        for template, regex in _compiled_templates(str(REFERENCE_PATH))
        if regex.fullmatch(concrete)
    ]


def match_operation(method: str, path: str) -> tuple[str, dict] | None:
    """Map a concrete request path to ``(path template, operation object)``.

    The query string (and a scheme/host, if given) is ignored. Among several
    matching templates the one with the most literal segments that declares
    ``method`` wins. Returns ``None`` when nothing matches.
    """
    doc = load_reference()
    wanted = method.lower()
    for template in _matching_templates(path):
        item = _resolve(doc, doc["paths"][template])
        if wanted in item:
            return template, _resolve(doc, item[wanted])
    return None


# --------------------------------------------------------------------------
# OpenAPI 3.0 schema -> JSON Schema 2020-12
# --------------------------------------------------------------------------


def _rewrite_ref(ref: str) -> str:
    prefix = "#/components/schemas/"
    if ref.startswith(prefix):
        return "#/$defs/" + ref[len(prefix):]
    raise ValueError(f"unsupported schema $ref {ref!r}")


def _convert(schema: Any, refs: set[str]) -> Any:
    """Convert one OpenAPI 3.0 schema object (recursively)."""
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        # OpenAPI 3.0: siblings of $ref are ignored, but a sibling
        # ``nullable`` is common enough to honour.
        refs.add(schema["$ref"])
        out: dict[str, Any] = {"$ref": _rewrite_ref(schema["$ref"])}
        if schema.get("nullable") is True:
            out = {"anyOf": [out, {"type": "null"}]}
        return out

    out = {}
    for key, value in schema.items():
        if key in _OPENAPI_ONLY_KEYWORDS:
            continue
        if key == "format":
            if value in _ENFORCED_FORMATS:
                out[key] = value
        elif key in ("properties", "patternProperties"):
            out[key] = {name: _convert(sub, refs) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            if isinstance(value, list):  # tuple-style items (not OpenAPI 3.0)
                out["prefixItems"] = [_convert(sub, refs) for sub in value]
            else:
                out[key] = _convert(value, refs)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [_convert(sub, refs) for sub in value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(
            value, bool
        ):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if value and bound in schema:
                out[key] = schema[bound]
        else:
            out[key] = value
    # Draft-4 style exclusive bounds replace the inclusive ones.
    for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if schema.get(key) is True:
            out.pop(bound, None)

    if schema.get("nullable") is True:
        composite = any(k in out for k in ("allOf", "anyOf", "oneOf", "not"))
        if "type" in out and not composite:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            if "null" not in types:
                out["type"] = [*types, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def to_json_schema(schema: Any, doc: dict | None = None) -> dict:
    """Convert an OpenAPI 3.0 schema into a self-contained JSON Schema."""
    doc = load_reference() if doc is None else doc
    refs: set[str] = set()
    converted = _convert(schema, refs)
    if not isinstance(converted, dict):
        converted = {}
    defs: dict[str, Any] = {}
    pending = list(refs)
    while pending:
        ref = pending.pop()
        name = _rewrite_ref(ref)[len("#/$defs/"):]
        if name in defs:
            continue
        nested: set[str] = set()
        defs[name] = _convert(_pointer_get(doc, ref), nested)
        pending.extend(nested - refs)
        refs |= nested
    result = {"$schema": "https://json-schema.org/draft/2020-12/schema", **converted}
    if defs:
        result["$defs"] = defs
    return result


# --------------------------------------------------------------------------
# Format checking
# --------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"([Zz]|[+-](\d{2}):(\d{2}))$"
)


def is_rfc3339_datetime(value: Any) -> bool:
    """True if ``value`` is an RFC 3339 ``date-time`` (non-strings pass)."""
    if not isinstance(value, str):
        return True
    m = _RFC3339.match(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        _dt.date(year, month, day)
    except ValueError:
        return False
    if hour > 23 or minute > 59 or second > 60:  # 60: leap second
        return False
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


# --------------------------------------------------------------------------
# Validation (jsonschema_rs, a dependency of schemathesis)
# --------------------------------------------------------------------------


def _json_path(parts: Iterable[Any]) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += "[" + json.dumps(str(part)) + "]"
    return out


def _shorten(message: str) -> str:
    message = " ".join(message.split())
    if len(message) > _MAX_MESSAGE_CHARS:
        return message[: _MAX_MESSAGE_CHARS - 3] + "..."
    return message


def _is_null_branch_failure(errors: list[Any]) -> bool:
    return bool(errors) and all(
        list(e.schema_path[-2:]) == [1, "type"] and e.message.endswith('"null"')
        for e in errors
    )


def _unwrap_nullable(errors: Iterable[Any]) -> Iterable[Any]:
    """Report the real errors behind a ``nullable`` wrapper.

    A nullable composite becomes ``anyOf: [<schema>, {type: null}]``; when a
    non-null value fails it, list the failures of ``<schema>`` instead of the
    opaque "not valid under any of the schemas" message.
    """
    for error in errors:
        context = getattr(error.kind, "context", None)
        if (
            type(error.kind).__name__ == "AnyOf"
            and context
            and len(context) == 2
            and list(error.schema_path[-1:]) == ["anyOf"]
            and _is_null_branch_failure(context[1])
            and context[0]
        ):
            yield from _unwrap_nullable(context[0])
        else:
            yield error


def _make_checker(schema: dict) -> Callable[[Any], list[str]]:
    """Compile ``schema``; the checker returns one line per violation."""
    validator = jsonschema_rs.Draft202012Validator(
        schema,
        validate_formats=True,
        formats={"date-time": is_rfc3339_datetime},
    )

    def check(instance: Any) -> list[str]:
        errors = sorted(
            _unwrap_nullable(validator.iter_errors(instance)),
            key=lambda e: [(isinstance(p, str), p) for p in e.instance_path],
        )
        return [
            f"{_json_path(e.instance_path)}: {_shorten(e.message)}"
            f" (schema: {'/'.join(str(p) for p in e.schema_path)})"
            for e in errors
        ]

    return check


# --------------------------------------------------------------------------
# Response validation
# --------------------------------------------------------------------------

_NO_CONTENT = object()
# Operations whose success the reference declares without content although Sentry answers with
# a JSON body (its serializer's shape): the body is not checked (README, "API coverage").
UNDECLARED_BODIES = frozenset({
    ("POST", "/api/0/organizations/{organization_slug}/releases/{version}/files/"),
    ("GET", "/api/0/organizations/{organization_slug}/releases/{version}/commitfiles/"),
    ("GET", "/api/0/projects/{organization_slug}/{project_slug}/releases/{version}/resolved/"),
})


def _response_key(responses: dict, status: int) -> str | None:
    for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
        if key in responses:
            return key
    return None


def _json_media(content: dict) -> dict | None:
    if "application/json" in content:
        return content["application/json"]
    for media_type, media in content.items():
        base = media_type.split(";", 1)[0].strip().lower()
        if base.endswith("+json") or base.startswith("application/json"):
            return media
    return None


@functools.lru_cache(maxsize=None)
def _checker_for(
    reference: str, template: str, method: str, response_key: str
) -> Callable[[Any], list[str]] | object | None:
    """Cached checker for one declared response.

    Returns ``_NO_CONTENT`` when the response declares no content, ``None``
    when it declares content but no JSON media type, else a checker.
    """
    doc = _load(reference)
    operation = _resolve(doc, _resolve(doc, doc["paths"][template])[method])
    response = _resolve(doc, operation["responses"][response_key])
    content = response.get("content") or {}
    if not content:
        return _NO_CONTENT
    media = _json_media(content)
    if media is None:
        return None
    media = _resolve(doc, media)
    return _make_checker(to_json_schema(media.get("schema") or {}, doc))


def _is_empty(body: Any) -> bool:
    return body is None or (isinstance(body, (bytes, bytearray, str)) and not body)


def validate_response(method: str, path: str, status: int, body: Any) -> None:
    """Check one response against the reference contract.

    ``body`` is the decoded JSON value (``response.json()``), ``None`` for an
    empty body, or the raw ``bytes`` (decoded here; empty bytes = no body).
    Raises :class:`ContractError` listing every violation.
    """
    label = f"{method.upper()} {path} -> {status}"
    matched = match_operation(method, path)
    if matched is None:
        templates = _matching_templates(path)
        if templates:
            doc = load_reference()
            declared = sorted(
                m.upper()
                for t in templates
                for m in _resolve(doc, doc["paths"][t])
                if m in HTTP_METHODS
            )
            raise ContractError(
                f"{label}: method {method.upper()} is not declared for "
                f"{templates[0]} (declared: {', '.join(declared)})"
            )
        raise ContractError(f"{label}: no operation in the reference matches this path")
    template, operation = matched

    responses = operation.get("responses") or {}
    key = _response_key(responses, int(status))
    if key is None:
        raise ContractError(
            f"{label} [{template}]: status {status} is not declared "
            f"(declared: {', '.join(sorted(responses))})"
        )

    if isinstance(body, (bytes, bytearray)) and body:
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise ContractError(f"{label} [{template}]: body is not valid JSON: {exc}") from None

    checker = _checker_for(str(REFERENCE_PATH), template, method.lower(), key)
    if checker is _NO_CONTENT:
        if (method.upper(), template) in UNDECLARED_BODIES:
            return  # Sentry answers with a body the reference does not describe
        if not _is_empty(body):
            raise ContractError(
                f"{label} [{template}]: status {status} declares no content, "
                f"but the body is {_shorten(repr(body))}"
            )
        return
    if checker is None:  # declared content is not JSON: nothing to check here
        return
    if isinstance(body, (bytes, bytearray)):  # empty bytes
        body = None
    violations = checker(body)  # type: ignore[operator]
    if violations:
        listing = "\n".join(f"  - {v}" for v in violations)
        raise ContractError(
            f"{label} [{template}]: body violates the declared schema "
            f"({len(violations)} violation{'s' if len(violations) != 1 else ''}):\n"
            f"{listing}"
        )


# --------------------------------------------------------------------------
# Subsets for schemathesis
# --------------------------------------------------------------------------


def reference_subset(operations: list[tuple[str, str]]) -> dict:
    """Deep copy of the reference restricted to ``(METHOD, template)`` pairs.

    Path-level fields (shared ``parameters`` etc.) of the kept paths are kept;
    ``components`` and the rest of the document are copied unchanged. Raises
    ``KeyError`` for an operation the reference does not declare.
    """
    doc = load_reference()
    wanted: dict[str, set[str]] = {}
    for method, template in operations:
        item = _resolve(doc, doc.get("paths", {}).get(template))
        if not isinstance(item, dict) or method.lower() not in item:
            raise KeyError(f"{method.upper()} {template} is not in the reference")
        wanted.setdefault(template, set()).add(method.lower())

    subset = {key: copy.deepcopy(value) for key, value in doc.items() if key != "paths"}
    subset["paths"] = {}
    for template in doc["paths"]:  # keep the reference's ordering
        if template not in wanted:
            continue
        item = copy.deepcopy(_resolve(doc, doc["paths"][template]))
        subset["paths"][template] = {
            key: value
            for key, value in item.items()
            if key not in HTTP_METHODS or key in wanted[template]
        }
    return subset
