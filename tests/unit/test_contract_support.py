"""Self-tests for the response-contract helper in tests/support/contract.py."""

from __future__ import annotations

import copy
import json

import pytest

from tests.support import contract
from tests.support.contract import ContractError, validate_response

ORG_DETAIL = "/api/0/organizations/{organization_slug}/"
ORG_PROJECTS = "/api/0/organizations/{organization_slug}/projects/"
PROJECT_KEY = "/api/0/projects/{organization_slug}/{project_slug}/keys/{key_id}/"


def _example(template: str, method: str = "get", status: str = "200"):
    """The first response example the reference declares for an operation."""
    media = contract.load_reference()["paths"][template][method]["responses"][status][
        "content"
    ]["application/json"]
    if "example" in media:
        return copy.deepcopy(media["example"])
    first = next(iter(media["examples"].values()))
    return copy.deepcopy(first["value"])


@pytest.fixture
def org():
    return _example(ORG_DETAIL)


@pytest.fixture
def projects():
    body = _example(ORG_PROJECTS)
    assert isinstance(body, list) and body, "expected a non-empty list example"
    return body


# -- reference loading --------------------------------------------------------


def test_reference_is_found_and_is_openapi_3_0():
    doc = contract.load_reference()
    assert doc["openapi"].startswith("3.0")
    assert contract.load_reference() is doc  # cached
    assert len(contract.reference_operations()) == 101


# -- path matching ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/api/0/organizations/acme/", ORG_DETAIL),
        ("GET", "/api/0/organizations/acme/projects/", ORG_PROJECTS),
        ("GET", "/api/0/organizations/acme/projects/?cursor=0:100:0", ORG_PROJECTS),
        ("PUT", "/api/0/projects/acme/web/keys/123/", PROJECT_KEY),
        ("delete", "/api/0/projects/acme/web/keys/123/", PROJECT_KEY),
        ("GET", "/api/0/organizations/", "/api/0/organizations/"),
        ("GET", "/api/0/teams/acme/backend/", "/api/0/teams/{organization_slug}/{team_slug}/"),
        (
            "GET",
            "/api/0/issues/42/events/latest/",
            "/api/0/issues/{issue_id}/events/latest/",
        ),
        (
            "GET",
            "/api/0/organizations/acme/scim/v2/Users/7",
            "/api/0/organizations/{organization_slug}/scim/v2/Users/{member_id}",
        ),
        ("GET", "http://localhost:8000/api/0/organizations/acme/?x=1", ORG_DETAIL),
    ],
)
def test_match_operation_picks_the_right_template(method, path, template):
    matched = contract.match_operation(method, path)
    assert matched is not None
    assert matched[0] == template
    assert matched[1] is contract.load_reference()["paths"][template][method.lower()]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/0/projects/acme/web/keys/123/"),  # only PUT/DELETE declared
        ("GET", "/api/0/organizations/acme"),  # trailing slash is part of the path
        ("GET", "/api/0/unknown/"),
        ("GET", "/api/0/organizations/acme/projects/extra/"),
    ],
)
def test_match_operation_returns_none_when_nothing_matches(method, path):
    assert contract.match_operation(method, path) is None


# -- valid bodies -------------------------------------------------------------


def test_object_example_validates(org):
    validate_response("GET", "/api/0/organizations/acme/", 200, org)


def test_list_example_validates(projects):
    validate_response("GET", "/api/0/organizations/acme/projects/", 200, projects)
    validate_response("GET", "/api/0/organizations/acme/projects/", 200, [])


def test_raw_bytes_body_is_decoded(org):
    validate_response(
        "GET", "/api/0/organizations/acme/", 200, json.dumps(org).encode()
    )
    with pytest.raises(ContractError, match="not valid JSON"):
        validate_response("GET", "/api/0/organizations/acme/", 200, b"{nope")


def test_every_reference_example_validates():
    doc = contract.load_reference()
    count = 0
    for template, item in doc["paths"].items():
        concrete = template.replace("{", "x").replace("}", "")
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                media = (response.get("content") or {}).get("application/json") or {}
                examples = [media["example"]] if "example" in media else []
                examples += [e["value"] for e in (media.get("examples") or {}).values()]
                for example in examples:
                    validate_response(method, concrete, int(status), example)
                    count += 1
    assert count == 70


# -- required fields ----------------------------------------------------------


def test_missing_required_field_fails(org):
    del org["slug"]
    with pytest.raises(ContractError) as info:
        validate_response("GET", "/api/0/organizations/acme/", 200, org)
    message = str(info.value)
    assert '"slug" is a required property' in message
    assert "1 violation" in message
    assert ORG_DETAIL in message


def test_missing_required_field_in_list_item_fails(projects):
    del projects[0]["id"]
    with pytest.raises(ContractError) as info:
        validate_response("GET", "/api/0/organizations/acme/projects/", 200, projects)
    assert '$[0]: "id" is a required property' in str(info.value)


def test_every_violation_is_listed_with_its_path(org):
    del org["slug"]
    org["name"] = 12
    org["avatar"]["avatarType"] = None
    with pytest.raises(ContractError) as info:
        validate_response("GET", "/api/0/organizations/acme/", 200, org)
    message = str(info.value)
    assert "3 violations" in message
    assert "$: " in message and '"slug"' in message
    assert "$.name: 12 is not of type" in message
    assert "$.avatar.avatarType: null is not of type" in message


# -- nullable -----------------------------------------------------------------


def test_null_in_nullable_field_passes(org, projects):
    org["avatar"]["avatarUuid"] = None  # nested nullable string
    validate_response("GET", "/api/0/organizations/acme/", 200, org)
    projects[0]["firstEvent"] = None  # nullable date-time
    projects[0]["latestRelease"] = None  # nullable object
    projects[0]["team"] = None
    validate_response("GET", "/api/0/organizations/acme/projects/", 200, projects)


def test_null_in_non_nullable_field_fails(org, projects):
    org["name"] = None
    with pytest.raises(ContractError, match=r"\$\.name: null is not of type"):
        validate_response("GET", "/api/0/organizations/acme/", 200, org)
    projects[0]["slug"] = None
    with pytest.raises(ContractError, match=r"\$\[0\]\.slug: null is not of type"):
        validate_response("GET", "/api/0/organizations/acme/projects/", 200, projects)


def test_nullable_conversion_handles_composites_and_enums():
    schema = contract.to_json_schema(
        {
            "type": "object",
            "properties": {
                "a": {"oneOf": [{"type": "integer"}, {"type": "string"}], "nullable": True},
                "b": {"allOf": [{"type": "object"}], "nullable": True},
                "c": {"type": "string", "enum": ["x", "y"], "nullable": True},
                "d": {"type": "string", "enum": ["x", "y"]},
            },
        },
        doc={},
    )
    check = contract._make_checker(schema)
    assert check({"a": None, "b": None, "c": None}) == []
    assert check({"a": 1, "b": {}, "c": "x", "d": "y"}) == []
    errors = check({"a": 1.5, "b": 3, "c": "z", "d": None})
    assert sorted({e.split(":")[0] for e in errors}) == ["$.a", "$.b", "$.c", "$.d"]


def test_local_refs_are_resolved():
    doc = {
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "child": {"$ref": "#/components/schemas/Node", "nullable": True},
                    },
                }
            }
        }
    }
    check = contract._make_checker(
        contract.to_json_schema({"$ref": "#/components/schemas/Node"}, doc=doc)
    )
    assert check({"name": "a", "child": {"name": "b", "child": None}}) == []
    errors = check({"name": "a", "child": {"child": None}})
    assert len(errors) == 1
    assert errors[0].startswith('$.child: "name" is a required property')


# -- formats ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2018-11-06T21:19:55.101Z", True),
        ("2018-11-06T21:19:55Z", True),
        ("2018-11-06T21:19:55.123456+00:00", True),
        ("2018-11-06t21:19:55-05:30", True),
        ("2018-11-06T21:19:55", False),  # no offset
        ("2018-11-06 21:19:55Z", False),
        ("2018-11-06", False),
        ("2018-02-30T00:00:00Z", False),
        ("yesterday", False),
    ],
)
def test_date_time_is_rfc3339(org, value, ok):
    org["dateCreated"] = value
    if ok:
        validate_response("GET", "/api/0/organizations/acme/", 200, org)
    else:
        with pytest.raises(ContractError, match=r"\$\.dateCreated: .* is not a \"date-time\""):
            validate_response("GET", "/api/0/organizations/acme/", 200, org)


def test_other_formats_are_not_enforced(org):
    # pendingAccessRequests is declared as integer/int64; huge ints are fine
    org["pendingAccessRequests"] = 2**70
    validate_response("GET", "/api/0/organizations/acme/", 200, org)


def test_additional_properties_are_allowed(org):
    org["somethingPicketSpecific"] = {"x": 1}
    validate_response("GET", "/api/0/organizations/acme/", 200, org)


# -- status codes and empty bodies ----------------------------------------------


def test_undeclared_status_fails(org):
    with pytest.raises(ContractError, match=r"status 500 is not declared \(declared: 200, 401, 403, 404\)"):
        validate_response("GET", "/api/0/organizations/acme/", 500, org)
    with pytest.raises(ContractError, match="status 201 is not declared"):
        validate_response("GET", "/api/0/organizations/acme/", 201, org)


def test_status_without_content_requires_empty_body():
    validate_response("DELETE", "/api/0/projects/acme/web/keys/123/", 204, None)
    validate_response("DELETE", "/api/0/projects/acme/web/keys/123/", 204, b"")
    validate_response("GET", "/api/0/organizations/acme/", 404, None)
    with pytest.raises(ContractError, match="declares no content"):
        validate_response("DELETE", "/api/0/projects/acme/web/keys/123/", 204, {"detail": "x"})
    with pytest.raises(ContractError, match="declares no content"):
        validate_response("GET", "/api/0/organizations/acme/", 404, {"detail": "Not found"})


def test_json_status_with_missing_body_fails():
    with pytest.raises(ContractError, match=r"\$: null is not of type"):
        validate_response("GET", "/api/0/organizations/acme/", 200, None)


def test_unknown_operation_fails():
    with pytest.raises(ContractError, match="no operation in the reference matches"):
        validate_response("GET", "/api/0/nothing-here/", 200, {})
    with pytest.raises(ContractError, match=r"method GET is not declared .*declared: DELETE, PUT"):
        validate_response("GET", "/api/0/projects/acme/web/keys/123/", 200, {})


def test_contract_error_is_an_assertion_error():
    assert issubclass(ContractError, AssertionError)


# -- subsets ------------------------------------------------------------------


def test_reference_subset_keeps_only_the_requested_operations():
    doc = contract.load_reference()
    before = json.dumps(doc, sort_keys=True)
    subset = contract.reference_subset([("GET", ORG_DETAIL), ("delete", PROJECT_KEY)])
    assert set(subset["paths"]) == {ORG_DETAIL, PROJECT_KEY}
    assert set(subset["paths"][ORG_DETAIL]) == {"get"}
    assert set(subset["paths"][PROJECT_KEY]) == {"delete"}
    assert subset["openapi"] == doc["openapi"]
    assert subset["components"] == doc["components"]
    subset["paths"][ORG_DETAIL]["get"]["responses"].clear()
    assert json.dumps(doc, sort_keys=True) == before  # deep copy


def test_reference_subset_rejects_unknown_operations():
    with pytest.raises(KeyError):
        contract.reference_subset([("POST", ORG_DETAIL)])
    with pytest.raises(KeyError):
        contract.reference_subset([("GET", "/api/0/nope/")])
