"""The OpenAPI 3.0 document of Picket's REST API (`GET /api/0/openapi.json`), built from the app's
routes.

An operation Sentry's reference declares (`schemas/reference/sentry-openapi-subset.json`, the
contract Picket follows) is the reference's operation as it stands: summary, parameters, request
body, responses. Picket's path parameters may be named otherwise than the reference's: they are
matched by position and the reference's path parameters take Picket's names. An operation only
Picket has (`PICKET_ONLY`) is described here: its path parameters from the template (with the
reference's description of a parameter of that name, if any), its request body from the msgspec
type the handler decodes, its answers with the `{"detail": ...}` error body of every refusal.
What `PICKET_ONLY` lacks still appears, with a generic object for a body.

`document(routes)` is pure (the packaged reference is read once, when first needed) and
deterministic: paths sorted, methods in a fixed order.
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import importlib.resources
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from picket.gateway.routes.artifacts import BundleAssembleBody, DifAssembleEntry
from picket.gateway.routes.integrations import AppBody
from picket.gateway.routes.organizations import OrganizationCreate
from picket.gateway.routes.releases import ReleaseBody

OPENAPI_VERSION = "3.0.3"
API_PREFIX = "/api/0/"
REFERENCE_FILE = "sentry-openapi-subset.json"
# OpenAPI's order of the operations of a path item.
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SECURITY_SCHEME = "auth_token"  # the reference's name for a bearer token
PICKET_TAG = "Picket"
ERROR_SCHEMA = "Error"

_PARAM = re.compile(r"\{([^}/:]+)(?::([^}/]+))?\}")
_REASONS = {
    200: "Success", 201: "Created", 202: "Accepted", 204: "No Content", 208: "Already Reported",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
}
_ERRORS = (400, 401, 403, 404)
_DEFAULT_SUCCESS = {"get": 200, "post": 201, "put": 200, "patch": 200, "delete": 204}


# --- operations only Picket has ---

@dataclass(frozen=True)
class Described:
    """How to describe an operation the reference does not declare.

    `body`: a msgspec type (its JSON Schema), or a dict (an OpenAPI request body as it stands).
    `response`: the schema of a success answer, else `like`'s, else a generic object.
    `like`: a reference operation (METHOD, template) whose query parameters, and whose success
    answer's content, this one shares.
    `public`: answered without a token."""

    summary: str
    body: Any = None
    success: tuple[int, ...] = ()
    response: dict[str, Any] | None = None
    like: tuple[str, str] | None = None
    public: bool = False


_ORG = "/api/0/organizations/{organization_slug}"
_PROJECT = "/api/0/projects/{organization_slug}/{project_slug}"

_ASSEMBLE_STATE: dict[str, Any] = {
    "type": "object",
    "required": ["state", "missingChunks"],
    "properties": {
        "state": {"type": "string", "enum": ["ok", "error", "not_found", "created", "assembling"]},
        "missingChunks": {"type": "array", "items": {"type": "string"}},
        "detail": {"type": "string", "nullable": True},
        "dif": {"type": "object"},
    },
}

_CHUNK_OPTIONS: dict[str, Any] = {
    "type": "object",
    "required": ["url", "chunkSize", "chunksPerRequest", "maxFileSize", "maxRequestSize", "concurrency",
                 "hashAlgorithm", "compression", "accept"],
    "properties": {
        "url": {"type": "string"},
        "chunkSize": {"type": "integer"},
        "chunksPerRequest": {"type": "integer"},
        "maxFileSize": {"type": "integer"},
        "maxRequestSize": {"type": "integer"},
        "maxWait": {"type": "integer"},
        "concurrency": {"type": "integer"},
        "hashAlgorithm": {"type": "string", "enum": ["sha1"]},
        "compression": {"type": "array", "items": {"type": "string"}},
        "accept": {"type": "array", "items": {"type": "string"}},
    },
}

_CHUNKS_BODY: dict[str, Any] = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object",
        "description": "Chunks, each a part named by the SHA-1 of its uncompressed bytes: `file` as they are, "
                       "`file_gzip` gzip-compressed.",
        "properties": {
            "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "file_gzip": {"type": "array", "items": {"type": "string", "format": "binary"}},
        },
    }}},
}

PICKET_ONLY: dict[tuple[str, str], Described] = {
    ("GET", "/api/0/asyncapi.json"): Described(
        "The AsyncAPI 3.0 document of Picket's public topics", response={"type": "object"}, public=True),
    ("GET", "/api/0/openapi.json"): Described(
        "This OpenAPI document of Picket's REST API", response={"type": "object"}, public=True),
    ("POST", "/api/0/organizations/"): Described(
        "Create an organization, owned by the token's user", body=OrganizationCreate, success=(201,),
        like=("GET", "/api/0/organizations/{organization_slug}/")),
    ("GET", f"{_ORG}/chunk-upload/"): Described(
        "The chunk-upload options (sentry-cli)", response=_CHUNK_OPTIONS),
    ("POST", f"{_ORG}/chunk-upload/"): Described(
        "Upload chunks (sentry-cli)", body=_CHUNKS_BODY, success=(200,)),
    ("POST", f"{_ORG}/artifactbundle/assemble/"): Described(
        "Assemble an artifact bundle from uploaded chunks", body=BundleAssembleBody, success=(200,),
        response=_ASSEMBLE_STATE),
    ("POST", f"{_PROJECT}/files/difs/assemble/"): Described(
        "Assemble debug files from uploaded chunks, by checksum", body=dict[str, DifAssembleEntry], success=(200,),
        response={"type": "object", "additionalProperties": _ASSEMBLE_STATE}),
    ("GET", f"{_ORG}/releases/{{version}}/previous-with-commits/"): Described(
        "The latest release before this one that has commits ({} if none)", response={"type": "object"}),
    ("GET", f"{_PROJECT}/releases/"): Described(
        "List a project's releases", like=("GET", "/api/0/organizations/{organization_slug}/releases/")),
    ("POST", f"{_PROJECT}/releases/"): Described(
        "Create a release of a project (208 when it exists and nothing changes)", body=ReleaseBody,
        success=(201, 208), like=("POST", "/api/0/organizations/{organization_slug}/releases/")),
    ("GET", f"{_PROJECT}/releases/{{version}}/"): Described(
        "Retrieve a project's release", like=("GET", "/api/0/organizations/{organization_slug}/releases/{version}/")),
    ("POST", "/api/0/sentry-apps/"): Described(
        "Create an internal integration, installed in its organization", body=AppBody, success=(201,)),
}


# --- the reference ---

@functools.cache
def reference() -> dict[str, Any]:
    """Sentry's OpenAPI reference subset, as packaged (do not mutate it)."""
    text = importlib.resources.files("picket.schemas.reference").joinpath(REFERENCE_FILE).read_text("utf-8")
    return json.loads(text)


def shape(template: str) -> str:
    """A path template with its parameters unnamed: the key matching Picket's to the reference's."""
    return _PARAM.sub("{}", template)


def parameter_names(template: str) -> list[str]:
    return [m.group(1) for m in _PARAM.finditer(template)]


def openapi_path(path: str) -> str:
    """A Starlette path in OpenAPI's syntax (without converters)."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


@functools.cache
def _reference_index() -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(METHOD, shape) -> (the reference's template, its operation)."""
    out: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for template, item in reference()["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                out[(method.upper(), shape(template))] = (template, operation)
    return out


def reference_operation(method: str, template: str) -> tuple[str, dict[str, Any]] | None:
    """The reference's (template, operation) for a Picket operation, if it declares one."""
    return _reference_index().get((method.upper(), shape(template)))


@functools.cache
def _reference_path_parameters() -> dict[str, dict[str, Any]]:
    """The first path parameter of each name in the reference, to describe Picket's."""
    out: dict[str, dict[str, Any]] = {}
    for item in reference()["paths"].values():
        for method in METHODS:
            for parameter in item.get(method, {}).get("parameters", []):
                if parameter.get("in") == "path":
                    out.setdefault(parameter["name"], parameter)
    return out


# --- operations ---

def operations(routes: Iterable[Any]) -> dict[tuple[str, str], Any]:
    """(METHOD, OpenAPI path) -> endpoint of every `/api/0/` route (HEAD is GET's, left out)."""
    out: dict[tuple[str, str], Any] = {}
    for route in routes:
        path = getattr(route, "path", None)
        methods = getattr(route, "methods", None)
        if not isinstance(path, str) or not path.startswith(API_PREFIX) or not methods:
            continue
        if ":path}" in path:  # a catch-all answering errors in a protocol's shape, no operation
            continue
        for method in methods:
            method = method.upper()
            if method == "HEAD" and "GET" in methods or method.lower() not in METHODS:
                continue
            out.setdefault((method, openapi_path(path)), getattr(route, "endpoint", None))
    return out


def _from_reference(template: str, ref_template: str, operation: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(operation)
    renamed = dict(zip(parameter_names(ref_template), parameter_names(template)))
    for parameter in out.get("parameters", []):
        if parameter.get("in") == "path" and parameter.get("name") in renamed:
            parameter["name"] = renamed[parameter["name"]]
    return out


def _path_parameters(path: str) -> list[dict[str, Any]]:
    known = _reference_path_parameters()
    out = []
    for match in _PARAM.finditer(path):
        name, converter = match.group(1), match.group(2)
        if name in known and converter is None:
            out.append(copy.deepcopy(known[name]))
            continue
        schema = {"type": "integer"} if converter == "int" else {"type": "string"}
        out.append({"name": name, "in": "path", "required": True, "schema": schema})
    return out


def _error(status: int) -> dict[str, Any]:
    return {"description": _REASONS[status],
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}}


def _generic_schema(method: str) -> dict[str, Any]:
    return {"type": "object"} if method != "GET" else {"oneOf": [{"type": "object"},
                                                                 {"type": "array", "items": {"type": "object"}}]}


def _picket_only(method: str, path: str, endpoint: Any, bodies: dict[Any, dict[str, Any]],
                 operation_ids: set[str]) -> dict[str, Any]:
    described = PICKET_ONLY.get((method, path))
    like = None
    if described is not None and described.like is not None:
        like = _resolve_like(described.like)
    name = getattr(endpoint, "__name__", None) or f"{method.lower()}_{shape(path)}"
    summary = described.summary if described else name.replace("_", " ").capitalize()
    operation_id = name
    n = 2
    while operation_id in operation_ids:
        operation_id, n = f"{name}_{n}", n + 1
    operation_ids.add(operation_id)

    parameters = _path_parameters(path)
    if like is not None:
        parameters += [copy.deepcopy(p) for p in like.get("parameters", []) if p.get("in") != "path"]
    op: dict[str, Any] = {"tags": [PICKET_TAG], "summary": summary, "operationId": operation_id}
    if parameters:
        op["parameters"] = parameters

    body = described.body if described else None
    if isinstance(body, dict):
        op["requestBody"] = copy.deepcopy(body)
    elif body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": bodies[body]}}}
    elif method in ("POST", "PUT", "PATCH"):
        op["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}

    success = (described.success if described and described.success else (_DEFAULT_SUCCESS.get(method.lower(), 200),))
    content = None
    if described is not None and described.response is not None:
        content = {"application/json": {"schema": copy.deepcopy(described.response)}}
    elif like is not None:
        content = next((copy.deepcopy(r["content"]) for s, r in sorted(like["responses"].items())
                        if s.startswith("2") and r.get("content")), None)
    if content is None:
        content = {"application/json": {"schema": _generic_schema(method)}}
    responses: dict[str, Any] = {}
    for status in success:
        reason = _REASONS.get(status, "Success")
        responses[str(status)] = ({"description": reason} if status == 204
                                  else {"description": reason, "content": copy.deepcopy(content)})
    if described is not None and described.public:
        op["security"] = []
    else:
        op["security"] = [{SECURITY_SCHEME: []}]
        for status in _ERRORS:
            responses[str(status)] = _error(status)
    op["responses"] = responses
    return op


def _resolve_like(like: tuple[str, str]) -> dict[str, Any]:
    method, template = like
    return reference()["paths"][template][method.lower()]


# --- msgspec types as OpenAPI 3.0 schemas ---

_SUBSCHEMA = ("items", "additionalProperties", "not")
_SUBSCHEMAS = ("allOf", "anyOf", "oneOf")


def openapi30(schema: Any) -> Any:
    """A JSON Schema of msgspec (2020-12) in OpenAPI 3.0's dialect: `null` branches as
    `nullable`, `prefixItems` as `items`, `const` as `enum`, numeric exclusive bounds as boolean
    ones, no empty `required`."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: openapi30(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA:
            if value is False:
                continue
            out[key] = openapi30(value) if isinstance(value, dict) else value
        elif key in _SUBSCHEMAS:
            out[key] = [openapi30(sub) for sub in value]
        elif key == "prefixItems":
            items = [openapi30(sub) for sub in value]
            out["items"] = items[0] if len(items) == 1 else {"anyOf": items}
        elif key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "required" and not value:
            continue
        elif key == "default":
            out[key] = json.loads(msgspec.json.encode(value))
        elif key == "type" and isinstance(value, list):
            kinds = [k for k in value if k != "null"]
            if len(kinds) < len(value):
                out["nullable"] = True
            if len(kinds) == 1:
                out[key] = kinds[0]
            else:
                out.setdefault("anyOf", []).extend({"type": k} for k in kinds)
        else:
            out[key] = value
    for key in ("anyOf", "oneOf"):
        branches = out.get(key)
        if not branches:
            continue
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) == len(branches):
            continue
        out["nullable"] = True
        if len(kept) == 1 and "$ref" not in kept[0]:
            del out[key]
            out = {**kept[0], **out}
        elif len(kept) == 1:
            del out[key]
            out["allOf"] = kept  # a $ref has no siblings in OpenAPI 3.0
        else:
            out[key] = kept
    return out


def _bodies() -> tuple[dict[Any, dict[str, Any]], dict[str, Any]]:
    """The schema of each msgspec body of `PICKET_ONLY`, and the components they refer to."""
    types = sorted({d.body for d in PICKET_ONLY.values() if d.body is not None and not isinstance(d.body, dict)},
                   key=repr)
    schemas, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    return ({t: openapi30(s) for t, s in zip(types, schemas)},
            {name: openapi30(components[name]) for name in sorted(components)})


# --- the document ---

def _version() -> str:
    try:
        return importlib.metadata.version("picket")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def document(routes: Iterable[Any]) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of every `/api/0/` route of `routes` (Starlette routes)."""
    ref = reference()
    found = operations(routes)
    bodies, components = _bodies()
    operation_ids = {op.get("operationId") for item in ref["paths"].values()
                     for m, op in item.items() if m in METHODS}
    paths: dict[str, dict[str, Any]] = {}
    tags: set[str] = set()
    for (method, path), endpoint in sorted(found.items(), key=lambda kv: (kv[0][1], METHODS.index(kv[0][0].lower()))):
        matched = reference_operation(method, path)
        if matched is not None:
            operation = _from_reference(path, *matched)
        else:
            operation = _picket_only(method, path, endpoint, bodies, operation_ids)
        tags.update(operation.get("tags", []))
        paths.setdefault(path, {})[method.lower()] = operation

    schemes = copy.deepcopy(ref["components"]["securitySchemes"])
    used = {name for item in paths.values() for op in item.values() for s in op.get("security", []) for name in s}
    security_schemes = {name: schemes.get(name, {"type": "http", "scheme": "bearer"})
                        for name in sorted(used | {SECURITY_SCHEME})}
    tag_list = [copy.deepcopy(t) for t in ref.get("tags", []) if t["name"] in tags]
    if PICKET_TAG in tags:
        tag_list.append({"name": PICKET_TAG,
                         "description": "Operations of Picket that Sentry's reference does not describe"})
    source = ref["info"].get("x-source", {}).get("repository", "getsentry/sentry-api-schema")
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Picket",
            "version": _version(),
            "description": ("Picket's REST API v0. Operations Sentry's public API describes are as its OpenAPI "
                            f"reference declares them ({source}, Apache License 2.0); the others are Picket's."),
        },
        "servers": [{"url": "/"}],
        "tags": tag_list,
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": {
            "schemas": {
                ERROR_SCHEMA: {"type": "object", "required": ["detail"],
                               "properties": {"detail": {"type": "string"}}},
                **components,
            },
            "securitySchemes": security_schemes,
        },
    }
