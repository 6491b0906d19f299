"""The OpenAPI document of Picket's REST API (`services/gateway/openapi.py`, served at
`/api/0/openapi.json`): valid OpenAPI 3.0, whole (every `/api/0/` route of the app is an
operation, and nothing else is), and for every operation of Sentry's reference that Picket
implements, the reference's own: the same parameters (path parameters compared by position, as
Picket may name them otherwise), the same response status codes, the same request body.
Operations only Picket has say what they take: the body each write decodes, the `{"detail"}`
error body. Served without a token."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema_rs
import msgspec
import pytest
from openapi_spec_validator.validation.validators import OpenAPIV30SpecValidator
from starlette.routing import Route

from picket.gateway import openapi
from picket.gateway.app import ROUTES
from picket.gateway.routes.artifacts import BundleAssembleBody, DifAssembleEntry
from picket.gateway.routes.releases import ReleaseBody
from tests.support.contract import load_reference, reference_operations, to_json_schema
from tests.support.fake_runtime import FakeRuntime

REPO = Path(__file__).resolve().parents[2]
_PARAM = re.compile(r"\{([^}/:]+)(?::[^}/]+)?\}")
# Operations of the reference that Picket does not implement (none: all 101 are served).
NOT_IMPLEMENTED: tuple[tuple[str, str], ...] = ()


def _template(path: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _shape(template: str) -> str:
    return _PARAM.sub("{}", template)


def _names(template: str) -> list[str]:
    return [m.group(1) for m in _PARAM.finditer(template)]


def _app_operations() -> dict[tuple[str, str], str]:
    """(METHOD, shape) -> Picket's template, for every `/api/0/` route (HEAD left to GET) but
    catch-alls (`{…:path}`), which answer errors in a protocol's shape and are no operation."""
    out: dict[tuple[str, str], str] = {}
    for route in ROUTES:
        if isinstance(route, Route) and route.path.startswith("/api/0/") and ":path}" not in route.path:
            for method in route.methods or ():
                if method != "HEAD":
                    out[(method, _shape(route.path))] = _template(route.path)
    return out


APP = _app_operations()
REFERENCE = reference_operations()


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi.document(ROUTES)


def test_it_is_valid_openapi_3_0(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.0.")
    errors = [str(e)[:300] for e in OpenAPIV30SpecValidator(doc).iter_errors()]
    assert not errors, errors


def test_the_validator_does_refuse_an_invalid_document(doc: dict[str, Any]) -> None:
    """The validation can fail: a path parameter missing from its operation, a JSON Schema
    2020-12 `null` type (not OpenAPI 3.0's), an error schema that points nowhere."""
    path = "/api/0/projects/{organization_slug}/{project_slug}/releases/"
    no_parameter = copy.deepcopy(doc)
    no_parameter["paths"][path]["get"]["parameters"] = [
        p for p in no_parameter["paths"][path]["get"]["parameters"] if p["name"] != "project_slug"]
    null_type = copy.deepcopy(doc)
    null_type["components"]["schemas"]["ReleaseBody"]["properties"]["ref"] = {"type": "null"}
    dangling = copy.deepcopy(doc)
    del dangling["components"]["schemas"]["Error"]
    for broken in (no_parameter, null_type, dangling):
        assert _refused(broken)


def _refused(doc: dict[str, Any]) -> bool:
    try:
        return next(OpenAPIV30SpecValidator(doc).iter_errors(), None) is not None
    except Exception:  # a reference that points nowhere is raised, not yielded
        return True


def test_every_reference_operation_is_implemented() -> None:
    missing = tuple((m, t) for m, t in REFERENCE if (m, _shape(t)) not in APP)
    print(f"\nreference operations: {len(REFERENCE)}, not implemented by Picket: {list(missing) or 'none'}")
    assert missing == NOT_IMPLEMENTED


@pytest.mark.parametrize(("method", "template"), [op for op in REFERENCE if (op[0], _shape(op[1])) in APP],
                         ids=lambda v: v)
def test_an_implemented_reference_operation_is_the_reference_s(doc: dict[str, Any], method: str,
                                                                 template: str) -> None:
    ours = APP[(method, _shape(template))]
    theirs = load_reference()["paths"][template][method.lower()]
    operation = doc["paths"][ours][method.lower()]

    # Path parameters by position: Picket's name at that position, the rest as the reference says.
    renamed = dict(zip(_names(template), _names(ours)))
    in_path = [p for p in operation.get("parameters", []) if p["in"] == "path"]
    expected_path = sorted(({**p, "name": renamed[p["name"]]} for p in theirs.get("parameters", [])
                            if p["in"] == "path"), key=lambda p: _names(ours).index(p["name"]))
    assert sorted(in_path, key=lambda p: _names(ours).index(p["name"])) == expected_path
    assert [p["name"] for p in expected_path] == _names(ours)
    def others(parameters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted((p for p in parameters if p["in"] != "path"), key=lambda p: (p["in"], p["name"]))

    assert others(operation.get("parameters", [])) == others(theirs.get("parameters", []))

    assert set(operation["responses"]) == set(theirs["responses"])
    assert operation["responses"] == theirs["responses"]
    assert operation.get("requestBody") == theirs.get("requestBody")
    assert operation.get("security") == theirs.get("security")


def test_every_api_route_is_an_operation_and_nothing_else_is(doc: dict[str, Any]) -> None:
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert documented == {(method, template) for (method, _), template in APP.items()}
    assert ("GET", "/api/0/openapi.json") in documented and ("GET", "/api/0/asyncapi.json") in documented
    assert not [p for p in doc["paths"] if not p.startswith("/api/0/")]  # no ingestion, no health


def test_operations_only_picket_has_say_what_they_take(doc: dict[str, Any]) -> None:
    picket_only = {(m, t) for (m, s), t in APP.items() if openapi.reference_operation(m, t) is None}
    print(f"\noperations only Picket has: {sorted(picket_only, key=lambda o: (o[1], o[0]))}")
    # Every entry of PICKET_ONLY is such an operation, and every write among them is described.
    assert set(openapi.PICKET_ONLY) <= picket_only, set(openapi.PICKET_ONLY) - picket_only
    writes = {op for op in picket_only if op[0] in ("POST", "PUT", "PATCH")}
    assert writes <= {op for op, d in openapi.PICKET_ONLY.items() if d.body is not None}
    for method, path in picket_only:
        operation = doc["paths"][path][method.lower()]
        assert operation["tags"] == [openapi.PICKET_TAG]
        assert [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"] == _names(path)
        statuses = set(operation["responses"])
        assert statuses & {"200", "201", "204", "208"}, (method, path)
        public = openapi.PICKET_ONLY.get((method, path), openapi.Described("")).public
        if public:
            assert operation["security"] == []
        else:
            assert operation["security"] == [{"auth_token": []}]
            assert {"400", "401", "403", "404"} <= statuses
            for status in ("400", "401", "403", "404"):
                assert operation["responses"][status]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"}
    assert doc["components"]["schemas"]["Error"] == {
        "type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}


def _body_validator(doc: dict[str, Any], method: str, path: str) -> Any:
    schema = doc["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema_rs.Draft202012Validator(to_json_schema(schema, doc))


@pytest.mark.parametrize(("method", "path", "shape", "good", "bad"), [
    ("POST", "/api/0/projects/{organization_slug}/{project_slug}/releases/", ReleaseBody,
     {"version": "1.0", "ref": None, "commits": [{"id": "abc", "patch_set": [{"path": "a.py", "type": "M"}]}],
      "projects": ["api", 3]},
     {"version": "1.0", "commits": [{"message": "no id"}]}),
    ("POST", "/api/0/organizations/{organization_slug}/artifactbundle/assemble/", BundleAssembleBody,
     {"checksum": "a" * 40, "chunks": ["a" * 40], "projects": ["api"], "dist": None},
     {"checksum": "a" * 40}),
    ("POST", "/api/0/projects/{organization_slug}/{project_slug}/files/difs/assemble/", dict[str, DifAssembleEntry],
     {"a" * 40: {"name": "app.dSYM", "chunks": ["a" * 40], "debug_id": None}},
     {"a" * 40: {"name": "app.dSYM"}}),
])
def test_a_documented_body_is_the_one_the_handler_decodes(doc: dict[str, Any], method: str, path: str, shape: Any,
                                                          good: Any, bad: Any) -> None:
    validator = _body_validator(doc, method, path)
    msgspec.json.decode(json.dumps(good), type=shape)
    assert validator.is_valid(good)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(json.dumps(bad), type=shape)
    assert not validator.is_valid(bad)


def test_it_is_deterministic(doc: dict[str, Any]) -> None:
    assert list(doc["paths"]) == sorted(doc["paths"])
    again = openapi.document(list(reversed(ROUTES)))
    assert json.dumps(again) == json.dumps(doc)


def test_its_head(doc: dict[str, Any]) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert doc["info"]["title"] == "Picket"
    assert doc["info"]["version"] in (version, "0")
    assert doc["servers"] == [{"url": "/"}]
    assert doc["components"]["securitySchemes"]["auth_token"] == {"type": "http", "scheme": "bearer"}
    used = {t for item in doc["paths"].values() for op in item.values() for t in op.get("tags", [])}
    assert {t["name"] for t in doc["tags"]} == used


def test_the_gateway_serves_it_without_a_token(doc: dict[str, Any]) -> None:
    client = FakeRuntime().client()
    response = client.get("/api/0/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == json.loads(json.dumps(doc))
    assert client.get("/api/0/openapi.json").content == response.content  # as built the first time
