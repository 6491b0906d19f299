"""Members and teams as SCIM Users and Groups (Sentry's shapes), list responses and paging.

A User is an organization member: `id` the member id as a string, `userName` and the one
(primary, work) email the member's email, `name` "N/A" twice as Sentry answers (it keeps no
names), `active` always true (Sentry removes a member deactivated through SCIM), `sentryOrgRole`
the member's role. A Group is a team: `id` the team id as a string, `displayName` the team's
slug (what Sentry answers), `members` the team's members as `{value: member id, display:
email}`, left out when the caller excludes them (`excludedAttributes=members`, as Sentry does).
`meta.location` is the resource's path under Sentry's SCIM base (relative to the server), as
RFC 7643 §3.1 asks for, and a Group's members carry their User's as `$ref` (RFC 7643 §4.2);
Sentry itself answers only `meta.resourceType`, and members without `$ref`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from picket.schemas.entities import Member, Team
from picket.scim.errors import GROUP_SCHEMA, LIST_RESPONSE_SCHEMA, USER_SCHEMA, ScimError

DEFAULT_COUNT = 100
MAX_COUNT = 100  # Sentry's maximum page
NOT_AVAILABLE = "N/A"


def base_path(org_slug: str) -> str:
    """The path of an organization's SCIM API (`/api/0/organizations/{org}/scim/v2`)."""
    return f"/api/0/organizations/{org_slug}/scim/v2"


def user(member: Member, org_slug: str) -> dict[str, Any]:
    """A member as a SCIM User."""
    member_id = str(member.id)
    return {
        "schemas": [USER_SCHEMA],
        "id": member_id,
        "userName": member.email,
        "emails": [{"value": member.email, "primary": True, "type": "work"}],
        "name": {"givenName": NOT_AVAILABLE, "familyName": NOT_AVAILABLE},
        "active": True,
        "sentryOrgRole": member.role,
        "meta": {"resourceType": "User", "location": f"{base_path(org_slug)}/Users/{member_id}"},
    }


def group(team: Team, members: Iterable[Member], *, with_members: bool,
          org_slug: str | None = None) -> dict[str, Any]:
    """A team as a SCIM Group: `members` the given members (the caller picks the team's), left
    out without `with_members`. With `org_slug`, `meta.location` and each member's `$ref` (the
    User's location, RFC 7643 §4.2) too: clients that check what they PATCHed read `$ref` back."""
    team_id = str(team.id)
    out: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": team_id, "displayName": team.slug}
    if with_members:
        if org_slug is None:
            out["members"] = [{"value": str(m.id), "display": m.email} for m in members]
        else:
            users = f"{base_path(org_slug)}/Users"
            out["members"] = [{"value": str(m.id), "display": m.email, "$ref": f"{users}/{m.id}"} for m in members]
    meta: dict[str, Any] = {"resourceType": "Group"}
    if org_slug is not None:
        meta["location"] = f"{base_path(org_slug)}/Groups/{team_id}"
    out["meta"] = meta
    return out


def list_response(resources: list[dict[str, Any]], *, start_index: int, total: int) -> dict[str, Any]:
    """A ListResponse (RFC 7644 §3.4.2) holding one page: `itemsPerPage` is the page's size."""
    return {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def paging(params: Mapping[str, str]) -> tuple[int, int]:
    """`(startIndex, count)` from the query: 1-based `startIndex` (default 1; below 1 reads as 1,
    RFC 7644 §3.4.2.4), `count` (default and maximum 100 as Sentry; below 0 reads as 0).
    `ScimError(400, …, "invalidValue")` when one is not an integer."""
    start = _integer(params, "startIndex", 1)
    count = _integer(params, "count", DEFAULT_COUNT)
    return max(start, 1), min(max(count, 0), MAX_COUNT)


def _integer(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or not str(raw).strip():
        return default
    text = str(raw).strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):
        raise ScimError(400, f"{name} must be an integer.", "invalidValue")
    if len(digits) > 18:  # a huge integer is still an integer: it reads as a bound
        return -(10**18) if text[0] == "-" else 10**18
    return int(text)


def page(resources: list[dict[str, Any]], params: Mapping[str, str]) -> dict[str, Any]:
    """The ListResponse of the page of `resources` (all that match) the query asks for."""
    start, count = paging(params)
    return list_response(resources[start - 1:start - 1 + count], start_index=start, total=len(resources))
