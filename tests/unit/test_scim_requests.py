"""SCIM request bodies read into records: Users and Groups to create, User and Group PATCHes in
the shapes Okta, Microsoft Entra ID and Sentry's own documentation send; and everything else
refused with the RFC 7644 §3.12 error type, hostile bodies included."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from picket.scim import requests
from picket.scim.errors import GROUP_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA, ScimError
from picket.scim.requests import GroupPatch, NewGroup, NewUser, UserPatch

ENTRA_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def refused(reader: Any, body: Any, scim_type: str) -> ScimError:
    with pytest.raises(ScimError) as caught:
        reader(body)
    assert (caught.value.status, caught.value.scim_type) == (400, scim_type), caught.value
    return caught.value


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP_SCHEMA], "Operations": list(operations)}


def as_bytes(body: Any) -> bytes:
    return json.dumps(body).encode()


def test_roles() -> None:
    assert requests.ROLES == ("member", "admin", "manager", "owner", "billing")


# --- Users to create ---

def test_a_new_user_okta() -> None:
    body = {
        "schemas": [USER_SCHEMA], "userName": "Test.User@Okta.Local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User", "locale": "en-US", "externalId": "00u1", "groups": [], "password": "x",
        "active": True,
    }
    assert requests.new_user(body) == NewUser(user_name="test.user@okta.local", role=None)
    assert requests.new_user(as_bytes(body)) == NewUser(user_name="test.user@okta.local", role=None)


def test_a_new_user_entra_id_with_a_role() -> None:
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE], "externalId": "0a21f0f2", "userName": "Test_User@Contoso.com",
        "active": True, "emails": [{"primary": True, "type": "work", "value": "Test_User@contoso.com"}],
        "meta": {"resourceType": "User"}, "name": {"formatted": "given family", "familyName": "f", "givenName": "g"},
        "roles": [], ENTERPRISE: {"department": "x"}, "sentryOrgRole": " Admin ",
    }
    assert requests.new_user(body) == NewUser(user_name="test_user@contoso.com", role="admin")


@pytest.mark.parametrize("role", ["member", "admin", "manager", "owner", "billing", "MANAGER"])
def test_every_role_can_be_asked_for(role: str) -> None:
    body = {"schemas": [USER_SCHEMA], "userName": "a@example.com", "sentryOrgRole": role}
    assert requests.new_user(body).role == role.lower()


@pytest.mark.parametrize("role", [None, ""])
def test_no_role_is_the_default(role: str | None) -> None:
    assert requests.new_user({"schemas": [USER_SCHEMA], "userName": "a@example.com", "sentryOrgRole": role}).role is None


@pytest.mark.parametrize("role", ["superuser", "Owner!", 1, True, ["admin"], {"value": "admin"}])
def test_unknown_roles_are_refused(role: object) -> None:
    refused(requests.new_user, {"schemas": [USER_SCHEMA], "userName": "a@example.com", "sentryOrgRole": role},
            "invalidValue")


@pytest.mark.parametrize("user_name", [
    "a@example.com", "first.last+tag@sub.example.co.uk", "o'brien@example.ie", "x@xn--bcher-kva.example",
    "a" * 64 + "@example.com", "u@" + ".".join(["a" * 60] * 3) + ".com",
])
def test_plausible_emails(user_name: str) -> None:
    assert requests.new_user({"schemas": [USER_SCHEMA], "userName": user_name}).user_name == user_name.lower()


@pytest.mark.parametrize("user_name", [
    "", "   ", "jane", "jane@", "@example.com", "jane@example", "jane@@example.com", "jane doe@example.com",
    "jane@exa mple.com", "<jane@example.com>", "jane@exa\nmple.com", "jane@example.com\x00", "jane@-example.com",
    "a" * 65 + "@example.com", "u@" + "a" * 250 + ".com", "jane@example.c", '"a"@example.com',
    "jane@example.com, joe@example.com", "jane@éxample.com", 12, None, True, ["a@example.com"],
    {"value": "a@example.com"},
])
def test_implausible_emails_are_refused(user_name: object) -> None:
    refused(requests.new_user, {"schemas": [USER_SCHEMA], "userName": user_name}, "invalidValue")


def test_surrounding_blanks_are_dropped() -> None:
    assert requests.new_user({"schemas": [USER_SCHEMA], "userName": " Jane@Example.com\n"}).user_name \
        == "jane@example.com"


def test_the_email_is_at_most_254_characters() -> None:
    longest = "a" * 64 + "@" + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + "." + "com"
    assert len(longest) <= 254
    assert requests.new_user({"schemas": [USER_SCHEMA], "userName": longest}).user_name == longest
    refused(requests.new_user, {"schemas": [USER_SCHEMA], "userName": "a" + longest[-253:]}, "invalidValue")


def test_a_user_without_userName_is_refused() -> None:
    refused(requests.new_user, {"schemas": [USER_SCHEMA], "emails": [{"value": "a@example.com"}]}, "invalidValue")


@pytest.mark.parametrize("schemas", [
    None, [], "urn:ietf:params:scim:schemas:core:2.0:User", [GROUP_SCHEMA], [PATCH_OP_SCHEMA], [1],
    [USER_SCHEMA, "urn:example:unknown"], [USER_SCHEMA, ENTRA_GROUP],
])
def test_a_user_needs_the_user_schema_and_no_unknown_one(schemas: object) -> None:
    body: dict[str, Any] = {"userName": "a@example.com"}
    if schemas is not None:
        body["schemas"] = schemas
    refused(requests.new_user, body, "invalidSyntax")


def test_attribute_names_and_schema_urns_are_case_insensitive() -> None:
    body = {"Schemas": [USER_SCHEMA.upper()], "USERNAME": "a@example.com", "sentryorgrole": "admin"}
    assert requests.new_user(body) == NewUser(user_name="a@example.com", role="admin")


# --- Groups to create ---

def test_a_new_group() -> None:
    assert requests.new_group({"schemas": [GROUP_SCHEMA], "displayName": " Test SCIMv2 ", "members": []}) \
        == NewGroup(display_name="Test SCIMv2", member_ids=[])
    body = {"schemas": [GROUP_SCHEMA, ENTRA_GROUP], "externalId": "8aa1a0c0", "displayName": "Group1DisplayName",
            "meta": {"resourceType": "Group"},
            "members": [{"value": "12", "display": "a@example.com"}, {"value": 13}, {"value": "12"}]}
    assert requests.new_group(as_bytes(body)) == NewGroup(display_name="Group1DisplayName", member_ids=[12, 13])
    assert requests.new_group({"schemas": [GROUP_SCHEMA], "displayName": "x"}).member_ids == []


@pytest.mark.parametrize("display_name", [None, "", "   ", 12, ["x"], "a" * 256, "line\nbreak", "nul\x00"])
def test_bad_display_names_are_refused(display_name: object) -> None:
    refused(requests.new_group, {"schemas": [GROUP_SCHEMA], "displayName": display_name}, "invalidValue")


@pytest.mark.parametrize("members", [
    "12", [12, 13], ["12"], [{"display": "x"}], [{"value": "abc"}], [{"value": "-1"}], [{"value": "0"}],
    [{"value": "1.0"}], [{"value": 1.5}], [{"value": True}], [{"value": "12 "}], [{"value": "+12"}],
    [{"value": "9" * 20}], [{"value": 2**63}], [{"value": "٣"}], [{"value": ["12"]}], [{"value": {"value": "1"}}],
    [None], {"value": "12"},
])
def test_bad_member_ids_are_refused(members: object) -> None:
    refused(requests.new_group, {"schemas": [GROUP_SCHEMA], "displayName": "x", "members": members}, "invalidValue")


def test_the_largest_member_id() -> None:
    body = {"schemas": [GROUP_SCHEMA], "displayName": "x", "members": [{"value": str(2**63 - 1)}]}
    assert requests.new_group(body).member_ids == [2**63 - 1]


def test_a_group_needs_the_group_schema() -> None:
    refused(requests.new_group, {"schemas": [USER_SCHEMA], "displayName": "x"}, "invalidSyntax")
    refused(requests.new_group, {"displayName": "x"}, "invalidSyntax")


def test_too_many_members_at_once_are_refused() -> None:
    members = [{"value": str(i)} for i in range(1, requests.MAX_MEMBERS + 2)]
    refused(requests.new_group, {"schemas": [GROUP_SCHEMA], "displayName": "x", "members": members}, "invalidValue")


# --- User PATCH ---

@pytest.mark.parametrize(("operations", "expected"), [
    # Okta deactivates with a value object.
    ([{"op": "replace", "value": {"active": False}}], UserPatch(active=False)),
    ([{"op": "replace", "value": {"id": "102", "active": False}}], UserPatch(active=False)),
    # Sentry's reference and Entra ID, by path; Entra ID capitalises and may send a string.
    ([{"op": "replace", "path": "active", "value": False}], UserPatch(active=False)),
    ([{"op": "Replace", "path": "active", "value": "False"}], UserPatch(active=False)),
    ([{"op": "Replace", "path": "active", "value": "true"}], UserPatch(active=True)),
    ([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:active", "value": False}],
     UserPatch(active=False)),
    ([{"op": "replace", "path": "sentryOrgRole", "value": "Manager"}], UserPatch(role="manager")),
    ([{"op": "replace", "value": {"sentryOrgRole": "billing", "active": True}}], UserPatch(active=True, role="billing")),
    # add on a single-valued attribute replaces it (RFC 7644 §3.5.2.1).
    ([{"op": "add", "path": "sentryOrgRole", "value": "admin"}], UserPatch(role="admin")),
    # in order: the last wins
    ([{"op": "replace", "path": "sentryOrgRole", "value": "admin"},
      {"op": "replace", "path": "sentryOrgRole", "value": "member"}], UserPatch(role="member")),
])
def test_user_patches(operations: list[dict[str, Any]], expected: UserPatch) -> None:
    assert requests.user_patch(patch(*operations)) == expected
    assert requests.user_patch(as_bytes(patch(*operations))) == expected


@pytest.mark.parametrize(("operations", "scim_type"), [
    ([{"op": "replace", "path": "userName", "value": "b@example.com"}], "invalidPath"),
    ([{"op": "replace", "path": "name.givenName", "value": "x"}], "invalidPath"),
    ([{"op": "replace", "path": 'emails[type eq "work"].value', "value": "x"}], "invalidPath"),
    ([{"op": "replace", "path": 'members[value eq "1"]', "value": "x"}], "invalidPath"),
    ([{"op": "Add", "path": "displayName", "value": "x"}], "invalidPath"),
    ([{"op": "replace", "value": {"userName": "x"}}], "invalidPath"),
    ([{"op": "replace", "value": {"active": False, "externalId": "x"}}], "invalidPath"),
    ([{"op": "replace", "path": "id", "value": "5"}], "invalidPath"),
    ([{"op": "replace", "path": "urn:example:ext:User:active", "value": False}], "invalidPath"),
    ([{"op": "replace", "path": 12, "value": False}], "invalidPath"),
    ([{"op": "remove", "path": "active"}], "invalidValue"),
    ([{"op": "remove", "path": "sentryOrgRole"}], "invalidValue"),
    ([{"op": "replace", "path": "active", "value": "no"}], "invalidValue"),
    ([{"op": "replace", "path": "active", "value": 0}], "invalidValue"),
    ([{"op": "replace", "path": "active", "value": None}], "invalidValue"),
    ([{"op": "replace", "path": "active"}], "invalidValue"),
    ([{"op": "replace", "path": "sentryOrgRole", "value": "god"}], "invalidValue"),
    ([{"op": "replace", "path": "sentryOrgRole", "value": None}], "invalidValue"),
    ([{"op": "replace", "value": False}], "invalidValue"),
    ([{"op": "replace", "value": {}}], "invalidValue"),
    ([{"op": "replace"}], "invalidValue"),
    ([{"op": "move", "path": "active", "value": False}], "invalidSyntax"),
    ([{"op": None, "path": "active", "value": False}], "invalidSyntax"),
    ([{"path": "active", "value": False}], "invalidSyntax"),
    (["replace active"], "invalidSyntax"),
    ([], "invalidSyntax"),
])
def test_refused_user_patches(operations: list[Any], scim_type: str) -> None:
    refused(requests.user_patch, patch(*operations), scim_type)


def test_too_many_user_operations() -> None:
    operations = [{"op": "replace", "path": "active", "value": True}] * (requests.MAX_USER_OPERATIONS + 1)
    refused(requests.user_patch, patch(*operations), "invalidSyntax")
    assert requests.user_patch(patch(*operations[:-1])) == UserPatch(active=True)


@pytest.mark.parametrize("body", [
    {"Operations": [{"op": "replace", "path": "active", "value": False}]},  # no schemas (the reference allows it)
    {"schemas": [USER_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": False}]},
    {"schemas": [PATCH_OP_SCHEMA, "urn:example:x"], "Operations": [{"op": "replace", "path": "active", "value": False}]},
    {"schemas": [PATCH_OP_SCHEMA]},
    {"schemas": [PATCH_OP_SCHEMA], "Operations": {"op": "replace", "path": "active", "value": False}},
    {"schemas": [PATCH_OP_SCHEMA], "Operations": "replace"},
])
def test_patch_bodies_need_the_patch_op_schema_and_operations(body: dict[str, Any]) -> None:
    refused(requests.user_patch, body, "invalidSyntax")
    refused(requests.group_patch, body, "invalidSyntax")


# --- Group PATCH ---

@pytest.mark.parametrize(("operations", "expected"), [
    # Okta: rename with a value object that repeats the id.
    ([{"op": "replace", "value": {"id": "23", "displayName": "newName"}}], GroupPatch(display_name="newName")),
    # Sentry's documentation: the id as a number, members with numbers.
    ([{"op": "replace", "value": {"id": 23, "displayName": "newName"}}], GroupPatch(display_name="newName")),
    ([{"op": "add", "path": "members", "value": [{"value": 23, "display": "testexample@example.com"}]}],
     GroupPatch(add=[23])),
    ([{"op": "add", "path": "members", "value": [{"value": "12"}, {"value": "13"}]}], GroupPatch(add=[12, 13])),
    ([{"op": "remove", "path": 'members[value eq "12"]'}], GroupPatch(remove=[12])),
    ([{"op": "remove", "path": 'members[value eq "12" or value eq "14"]'}], GroupPatch(remove=[12, 14])),
    ([{"op": "replace", "path": "members", "value": [{"value": 23}, {"value": "24"}]}],
     GroupPatch(replace_members=[23, 24])),
    ([{"op": "replace", "path": "members", "value": []}], GroupPatch(replace_members=[])),
    # Entra ID: capitalised ops, remove with a value list, rename by path.
    ([{"op": "Add", "path": "members", "value": [{"value": "12"}]}], GroupPatch(add=[12])),
    ([{"op": "Remove", "path": "members", "value": [{"value": "12"}]}], GroupPatch(remove=[12])),
    ([{"op": "Replace", "path": "displayName", "value": "New"}], GroupPatch(display_name="New")),
    ([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "value": "N"}],
     GroupPatch(display_name="N")),
    # add without a path; remove of all members (RFC 7644 §3.5.2.2).
    ([{"op": "add", "value": {"members": [{"value": "5"}], "displayName": "x"}}],
     GroupPatch(display_name="x", add=[5])),
    ([{"op": "replace", "value": {"members": [{"value": "5"}]}}], GroupPatch(replace_members=[5])),
    ([{"op": "remove", "path": "members"}], GroupPatch(replace_members=[])),
    # In order: additions and removals cancel; a replacement absorbs what follows.
    ([{"op": "add", "path": "members", "value": [{"value": "1"}, {"value": "2"}]},
      {"op": "remove", "path": 'members[value eq "1"]'},
      {"op": "remove", "path": 'members[value eq "3"]'},
      {"op": "add", "path": "members", "value": [{"value": "3"}]}], GroupPatch(add=[2, 3], remove=[1])),
    ([{"op": "add", "path": "members", "value": [{"value": "9"}]},
      {"op": "replace", "path": "members", "value": [{"value": "1"}, {"value": "2"}]},
      {"op": "add", "path": "members", "value": [{"value": "3"}, {"value": "1"}]},
      {"op": "remove", "path": 'members[value eq "2"]'},
      {"op": "replace", "path": "displayName", "value": "renamed"}],
     GroupPatch(display_name="renamed", replace_members=[1, 3])),
])
def test_group_patches(operations: list[dict[str, Any]], expected: GroupPatch) -> None:
    assert requests.group_patch(patch(*operations)) == expected
    assert requests.group_patch(as_bytes(patch(*operations))) == expected


@pytest.mark.parametrize(("operations", "scim_type"), [
    ([{"op": "replace", "path": "externalId", "value": "x"}], "invalidPath"),
    ([{"op": "replace", "path": "members.display", "value": "x"}], "invalidPath"),
    ([{"op": "replace", "path": 'members[value eq "12"]', "value": {"value": "13"}}], "invalidPath"),
    ([{"op": "add", "path": 'members[value eq "12"]', "value": [{"value": "12"}]}], "invalidPath"),
    ([{"op": "remove", "path": 'members[display eq "x"]'}], "invalidPath"),
    ([{"op": "remove", "path": 'members[value eq "12"'}], "invalidPath"),
    ([{"op": "remove", "path": "members[value eq \"1\\\" or value pr\"]"}], "invalidPath"),
    ([{"op": "remove"}], "invalidPath"),
    ([{"op": "remove", "value": {"members": [{"value": "1"}]}}], "invalidPath"),
    ([{"op": "replace", "value": {"owner": "x"}}], "invalidPath"),
    ([{"op": "remove", "path": 'members[value eq "abc"]'}], "invalidValue"),
    ([{"op": "remove", "path": 'members[value eq "0"]'}], "invalidValue"),
    ([{"op": "remove", "path": "displayName"}], "invalidValue"),
    ([{"op": "replace", "path": "displayName", "value": ""}], "invalidValue"),
    ([{"op": "replace", "path": "displayName", "value": ["x"]}], "invalidValue"),
    ([{"op": "add", "path": "members", "value": {"value": "12"}}], "invalidValue"),
    ([{"op": "add", "path": "members"}], "invalidValue"),
    ([{"op": "add", "path": "members", "value": [{"value": "x"}]}], "invalidValue"),
    ([{"op": "add", "path": "members", "value": [{"value": 1e20}]}], "invalidValue"),
    ([{"op": "replace", "path": "members", "value": "12"}], "invalidValue"),
    ([{"op": "replace", "value": "x"}], "invalidValue"),
    ([{"op": "copy", "path": "members", "value": []}], "invalidSyntax"),
])
def test_refused_group_patches(operations: list[Any], scim_type: str) -> None:
    refused(requests.group_patch, patch(*operations), scim_type)


def test_group_patches_are_bounded() -> None:
    many = [{"op": "add", "path": "members", "value": [{"value": str(i)}]} for i in range(1, 1002)]
    refused(requests.group_patch, patch(*many), "invalidSyntax")
    chunks = [{"op": "add", "path": "members", "value": [{"value": str(i)} for i in range(k, k + 5000)]}
              for k in (1, 5001, 10001)]
    refused(requests.group_patch, patch(*chunks), "invalidValue")


# --- Hostile bodies ---

@pytest.mark.parametrize("body", [
    b"", b"   ", b"null", b"[]", b'"text"', b"12", b"{", b'{"schemas": [', b"{'single': 1}", b"\xff\xfe{}",
    b'{"a": 1,}', b"NaN", b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"\x00", "{}", ["schemas"], None, 12,
])
@pytest.mark.parametrize("reader", [requests.new_user, requests.new_group, requests.user_patch,
                                    requests.group_patch])
def test_malformed_bodies_are_invalid_syntax(reader: Any, body: Any) -> None:
    started = time.monotonic()
    error = refused(reader, body, "invalidSyntax")
    assert time.monotonic() - started < 1
    assert len(error.detail) < 300


def test_a_body_over_a_mebibyte_is_refused() -> None:
    body = json.dumps({"schemas": [USER_SCHEMA], "userName": "a@example.com", "pad": "x" * (1024 * 1024)}).encode()
    refused(requests.new_user, body, "invalidSyntax")


def test_huge_numbers_and_odd_values_are_invalid_values() -> None:
    huge = b'{"schemas": ["' + GROUP_SCHEMA.encode() + b'"], "displayName": "x", "members": [{"value": ' \
        + b"9" * 4000 + b"}]}"
    refused(requests.new_group, huge, "invalidValue")
    refused(requests.new_user, {"schemas": [USER_SCHEMA], "userName": "a@example.com", "sentryOrgRole": 10**400},
            "invalidValue")
    refused(requests.group_patch, patch({"op": "replace", "path": "displayName", "value": float("inf")}),
            "invalidValue")


def test_deep_values_are_never_walked() -> None:
    """A deep value where Picket expects a string is refused by type, not by recursion."""
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    refused(requests.new_user, {"schemas": [USER_SCHEMA], "userName": deep}, "invalidValue")
    refused(requests.group_patch, patch({"op": "replace", "value": {"displayName": deep}}), "invalidValue")


def test_injection_looking_values_are_just_values() -> None:
    assert requests.new_group({"schemas": [GROUP_SCHEMA], "displayName": "x'; DROP TABLE teams; --"}).display_name \
        == "x'; DROP TABLE teams; --"
    refused(requests.new_user, {"schemas": [USER_SCHEMA], "userName": "a@example.com' OR '1'='1"}, "invalidValue")
    refused(requests.group_patch, patch({"op": "remove", "path": 'members[value eq "1"] or 1 eq 1'}), "invalidPath")


def _random_value(rng: Any, depth: int = 0) -> Any:
    choices: list[Any] = [None, True, False, 0, -1, 12, 2**64, 1.5, "", "12", "x", "members", "active", "False",
                          'members[value eq "12"]', "displayName", "sentryOrgRole", "admin", "\ud800", "\x00"]
    if depth < 3:
        choices += [[_random_value(rng, depth + 1)], {"value": _random_value(rng, depth + 1)},
                    {rng.choice(["displayName", "members", "active", "id", "x"]): _random_value(rng, depth + 1)}]
    return rng.choice(choices)


def test_random_patches_never_raise_anything_but_scim_errors() -> None:
    import random

    rng = random.Random(11)
    accepted = 0
    for _ in range(3_000):
        operations = []
        for _ in range(rng.randint(1, 3)):
            operation: dict[str, Any] = {"op": rng.choice(["add", "Remove", "replace", "x", 1])}
            if rng.random() < 0.8:
                operation["path"] = _random_value(rng, 3)
            if rng.random() < 0.8:
                operation["value"] = _random_value(rng)
            operations.append(operation)
        for reader in (requests.user_patch, requests.group_patch):
            try:
                reader(patch(*operations))
                accepted += 1
            except ScimError as exc:
                assert exc.status == 400 and exc.scim_type in {"invalidSyntax", "invalidValue", "invalidPath"}
    assert accepted > 20
