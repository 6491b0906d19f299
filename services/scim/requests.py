"""SCIM request bodies (RFC 7644 §3.3 POST, §3.5.2 PATCH) read into small records.

Each function takes the raw body (bytes, decoded here as JSON: not UTF-8, nested deeper than
`MAX_DEPTH` or malformed is `invalidSyntax`) or an already decoded object, checks it and
returns a record; whatever it refuses is a `ScimError` with status 400:

- `invalidSyntax`: not a JSON object, `schemas` missing or without the resource's (or the
  PatchOp) URN, or naming a URN Picket does not know; `Operations` missing, empty, too long or
  not a list of objects; an `op` that is not add, remove or replace;
- `invalidValue`: a value of the wrong type or out of range (a userName that is not an email, an
  unknown role, a member id that is not a positive integer, a huge number);
- `invalidPath`: a PATCH path (or a key of a PATCH value object) Picket cannot change.

Sentry's semantics: a User PATCH changes `active` (false removes the member) and `sentryOrgRole`
only; a Group PATCH renames the team (`displayName`) and adds, removes or replaces members. The
shapes identity providers send are accepted: Okta's (`replace` with a value object, `remove`
with `members[value eq "12"]`) and Microsoft Entra ID's (capitalised ops, `remove` of `members`
with a value list, string booleans "False"). Member ids are decimal strings as SCIM sends them
(`"12"`), or JSON integers as in Sentry's own examples.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from picket import json_input
from picket.scim.errors import GROUP_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA, ScimError
from picket.scim.filters import patch_path

ROLES = ("member", "admin", "manager", "owner", "billing")
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# Microsoft Entra ID sends this beside the core Group schema when it creates a group.
ENTRA_GROUP_SCHEMA = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"

MAX_BODY = 1024 * 1024
MAX_DEPTH = 32
MAX_EMAIL = 254
MAX_DISPLAY_NAME = 255
MAX_USER_OPERATIONS = 100  # the reference's `maxItems`
MAX_GROUP_OPERATIONS = 1000
MAX_MEMBERS = 10_000
MAX_ID = 2**63 - 1

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}",
)
_DECIMAL = re.compile(r"[0-9]{1,19}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class NewUser(msgspec.Struct, frozen=True, kw_only=True):
    """A User to provision: `user_name` the member's email (lower-cased), `role` the
    `sentryOrgRole` asked for (None: the organization's default)."""

    user_name: str
    role: str | None = None


class NewGroup(msgspec.Struct, frozen=True, kw_only=True):
    """A Group to provision: `display_name` as sent (stripped; the caller derives the slug),
    `member_ids` the members it starts with (in order, without repeats)."""

    display_name: str
    member_ids: list[int] = []


class UserPatch(msgspec.Struct, frozen=True, kw_only=True):
    """What a User PATCH changes: `active` (False: remove the member), `role`."""

    active: bool | None = None
    role: str | None = None


class GroupPatch(msgspec.Struct, frozen=True, kw_only=True):
    """What a Group PATCH changes, its operations applied in order: `display_name` the new name;
    `replace_members` the whole new member set (then `add` and `remove` are empty), else the
    members to `add` and to `remove` (disjoint)."""

    display_name: str | None = None
    add: list[int] = []
    remove: list[int] = []
    replace_members: list[int] | None = None


def _syntax(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidSyntax")


def _value(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidValue")


def _path(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidPath")


# --- Decoding -------------------------------------------------------------------------------------

def _object(body: Any) -> Mapping[str, Any]:
    if isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
        if len(data) > MAX_BODY:
            raise _syntax(f"The request body is larger than {MAX_BODY} bytes.")
        try:
            body = json_input.decode(data, MAX_DEPTH)
        except json_input.JsonInputError as exc:
            raise _syntax(f"Invalid request body: {exc.detail}.") from None
    if not isinstance(body, Mapping):
        raise _syntax("The request body must be a JSON object.")
    return body


def _get(body: Mapping[str, Any], name: str) -> Any:
    """An attribute of a SCIM object: names are case-insensitive (RFC 7643 §2.1)."""
    if name in body:
        return body[name]
    lowered = name.lower()
    for key, value in body.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return None


def _schemas(body: Mapping[str, Any], required: str, extra: frozenset[str] = frozenset()) -> None:
    schemas = _get(body, "schemas")
    if not isinstance(schemas, list) or not schemas or not all(isinstance(s, str) for s in schemas):
        raise _syntax(f"The request must name its schemas ({required}).")
    named = {s.strip().lower() for s in schemas}
    if required.lower() not in named:
        raise _syntax(f"The request's schemas must include {required}.")
    unknown = named - {required.lower()} - {e.lower() for e in extra}
    if unknown:
        raise _syntax(f"Unknown schema {sorted(unknown)[0][:120]!r}.")


# --- Values --------------------------------------------------------------------------------------

def _email(value: Any) -> str:
    if not isinstance(value, str):
        raise _value("userName must be a string: the member's email.")
    email = value.strip().lower()
    if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email):
        raise _value("userName must be an email address.")
    return email


def _role(value: Any, *, optional: bool) -> str | None:
    if optional and (value is None or value == ""):
        return None
    if not isinstance(value, str) or value.strip().lower() not in ROLES:
        raise _value(f"sentryOrgRole must be one of {', '.join(ROLES)}.")
    return value.strip().lower()


def _boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):  # Entra ID sends "False"
        return value.strip().lower() == "true"
    raise _value(f"{name} must be a boolean.")


def _display_name(value: Any) -> str:
    if not isinstance(value, str):
        raise _value("displayName must be a string.")
    name = value.strip()
    if not name:
        raise _value("displayName must not be empty.")
    if len(name) > MAX_DISPLAY_NAME or _CONTROL.search(name):
        raise _value(f"displayName must be at most {MAX_DISPLAY_NAME} printable characters.")
    return name


def _member_id(value: Any) -> int:
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise _value("A member's value must be its id, a positive integer as a decimal string.")
    if not 1 <= number <= MAX_ID:
        raise _value("A member's value must be its id, a positive integer as a decimal string.")
    return number


def _member_ids(value: Any) -> list[int]:
    """Ids of a `members` value: a list of `{"value": "12", …}`."""
    if not isinstance(value, list):
        raise _value("members must be a list of {\"value\": member id}.")
    if len(value) > MAX_MEMBERS:
        raise _value(f"At most {MAX_MEMBERS} members at once.")
    ids: list[int] = []
    for item in value:
        if not isinstance(item, Mapping) or _get(item, "value") is None:
            raise _value("members must be a list of {\"value\": member id}.")
        ids.append(_member_id(_get(item, "value")))
    return list(dict.fromkeys(ids))


# --- Creation ------------------------------------------------------------------------------------

def new_user(body: Any) -> NewUser:
    """A User POST body: `userName` (an email), optional `sentryOrgRole`; other attributes (name,
    emails, active, externalId, the enterprise extension) are accepted and ignored."""
    data = _object(body)
    _schemas(data, USER_SCHEMA, frozenset({ENTERPRISE_USER_SCHEMA}))
    if _get(data, "userName") is None:
        raise _value("userName is required: the member's email.")
    return NewUser(user_name=_email(_get(data, "userName")), role=_role(_get(data, "sentryOrgRole"), optional=True))


def new_group(body: Any) -> NewGroup:
    """A Group POST body: `displayName`, optional `members`."""
    data = _object(body)
    _schemas(data, GROUP_SCHEMA, frozenset({ENTRA_GROUP_SCHEMA}))
    if _get(data, "displayName") is None:
        raise _value("displayName is required.")
    members = _get(data, "members")
    return NewGroup(display_name=_display_name(_get(data, "displayName")),
                    member_ids=[] if members is None else _member_ids(members))


# --- PATCH ---------------------------------------------------------------------------------------

def _operations(body: Any, limit: int) -> list[tuple[str, str | None, Any, bool]]:
    """`(op, path, value, has_value)` of each operation, `op` lower-cased."""
    data = _object(body)
    _schemas(data, PATCH_OP_SCHEMA)
    operations = _get(data, "Operations")
    if not isinstance(operations, list) or not operations:
        raise _syntax("Operations must be a list of one or more operations.")
    if len(operations) > limit:
        raise _syntax(f"At most {limit} operations at once.")
    out = []
    for operation in operations:
        if not isinstance(operation, Mapping):
            raise _syntax("Each operation must be an object.")
        op = _get(operation, "op")
        if not isinstance(op, str) or op.strip().lower() not in ("add", "remove", "replace"):
            raise _syntax("op must be add, remove or replace.")
        path = _get(operation, "path")
        if path is not None and not isinstance(path, str):
            raise _path("path must be a string.")
        has_value = any(isinstance(k, str) and k.lower() == "value" for k in operation)
        out.append((op.strip().lower(), path, _get(operation, "value"), has_value))
    return out


def user_patch(body: Any) -> UserPatch:
    """A User PATCH: `replace` (or `add`, the same for a single-valued attribute, RFC 7644
    §3.5.2.1) of `active` or `sentryOrgRole`, by path or as a value object."""
    active: bool | None = None
    role: str | None = None
    for op, path, value, _ in _operations(body, MAX_USER_OPERATIONS):
        if op == "remove":
            raise _value("A User's attributes cannot be removed; replace active or sentryOrgRole.")
        if path is None or not path.strip():
            if not isinstance(value, Mapping) or not value:
                raise _value("Without a path, value must be an object of the attributes to change.")
            changes = list(value.items())
        else:
            changes = [(path, value)]
        for name, new in changes:
            attribute = patch_path(name) if isinstance(name, str) else None
            if attribute is None or attribute.values is not None:
                raise _path("Only active and sentryOrgRole can be changed.")
            if attribute.attribute == "active":
                active = _boolean(new, "active")
            elif attribute.attribute == "sentryorgrole":
                role = _role(new, optional=False)
            elif attribute.attribute == "id" and path is None:
                continue  # Okta repeats the id in value objects
            else:
                raise _path(f"Only active and sentryOrgRole can be changed, not {name[:60]!r}.")
    return UserPatch(active=active, role=role)


class _Members:
    """Membership changes folded in order: a replacement, or additions and removals."""

    def __init__(self) -> None:
        self.replace: list[int] | None = None
        self.add: dict[int, None] = {}
        self.remove: dict[int, None] = {}

    def set(self, ids: list[int]) -> None:
        self.replace, self.add, self.remove = list(ids), {}, {}

    def added(self, ids: list[int]) -> None:
        if self.replace is not None:
            present = set(self.replace)
            self.replace.extend(i for i in ids if i not in present)
            return
        for i in ids:
            self.remove.pop(i, None)
            self.add[i] = None

    def removed(self, ids: list[int]) -> None:
        if self.replace is not None:
            gone = set(ids)
            self.replace = [i for i in self.replace if i not in gone]
            return
        for i in ids:
            self.add.pop(i, None)
            self.remove[i] = None

    def count(self) -> int:
        return len(self.replace or ()) + len(self.add) + len(self.remove)


def group_patch(body: Any) -> GroupPatch:
    """A Group PATCH: rename (`replace`/`add` of `displayName`, by path or in a value object) and
    membership (`add`/`remove`/`replace` of `members`; `remove` by `members[value eq "12"]`, or
    of `members` with a value list as Entra ID sends, or of all members without one)."""
    display_name: str | None = None
    members = _Members()
    for op, path, value, has_value in _operations(body, MAX_GROUP_OPERATIONS):
        if path is None or not path.strip():
            if op == "remove":
                raise _path("remove needs a path.")
            if not isinstance(value, Mapping) or not value:
                raise _value("Without a path, value must be an object of the attributes to change.")
            for name, new in value.items():
                attribute = patch_path(name) if isinstance(name, str) else None
                if attribute is None or attribute.values is not None:
                    raise _path("Only displayName and members can be changed.")
                if attribute.attribute == "displayname":
                    display_name = _display_name(new)
                elif attribute.attribute == "members":
                    (members.set if op == "replace" else members.added)(_member_ids(new))
                elif attribute.attribute in ("id", "externalid"):
                    continue  # Okta repeats the id; Picket keeps no externalId
                else:
                    raise _path(f"Only displayName and members can be changed, not {name[:60]!r}.")
        else:
            target = patch_path(path)
            if target.attribute == "displayname" and target.values is None:
                if op == "remove":
                    raise _value("displayName is required: it cannot be removed.")
                display_name = _display_name(value)
            elif target.attribute == "members" and target.values is not None:
                if op != "remove":
                    raise _path("Members are added or replaced by the members path, not a selection.")
                members.removed([_member_id(v) for v in target.values])
            elif target.attribute == "members":
                if op == "remove":
                    if has_value and value is not None:
                        members.removed(_member_ids(value))
                    else:
                        members.set([])
                elif op == "add":
                    members.added(_member_ids(value))
                else:
                    members.set(_member_ids(value))
            else:
                raise _path(f"Only displayName and members can be changed, not {path[:60]!r}.")
        if members.count() > MAX_MEMBERS:
            raise _value(f"At most {MAX_MEMBERS} members at once.")
    return GroupPatch(display_name=display_name, add=list(members.add), remove=list(members.remove),
                      replace_members=members.replace)
