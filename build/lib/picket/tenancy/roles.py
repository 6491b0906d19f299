"""Sentry's organization roles and the scopes each grants; a token acts with the scopes it has
that its user's role in the organization also grants."""

from __future__ import annotations

ALL_SCOPES = frozenset(
    {
        "org:read", "org:write", "org:admin", "org:integrations",
        "team:read", "team:write", "team:admin",
        "project:read", "project:write", "project:admin", "project:releases",
        "member:read", "member:write", "member:admin", "member:invite",
        "event:read", "event:write", "event:admin",
        "alerts:read", "alerts:write",
    }
)

_MEMBER = {
    "event:read", "event:write", "event:admin", "project:releases", "project:read",
    "org:read", "member:read", "team:read", "alerts:read", "alerts:write",
}
_ADMIN = _MEMBER | {
    "org:integrations", "project:write", "project:admin", "team:write", "team:admin",
    "alerts:write",
}
_MANAGER = _ADMIN | {"member:write", "member:admin", "member:invite", "org:write"}

ROLES: dict[str, tuple[str, str, frozenset[str]]] = {
    # id: (name, description, scopes)
    "member": ("Member", "Members can view and act on events, as well as view most other data within the organization.", frozenset(_MEMBER)),
    "admin": ("Admin", "Admin privileges on any teams of which they're a member.", frozenset(_ADMIN)),
    "manager": ("Manager", "Gains admin access on all teams as well as the ability to add and remove members.", frozenset(_MANAGER)),
    "owner": ("Owner", "Unrestricted access to the organization, its data, and its settings.", ALL_SCOPES),
    "billing": ("Billing", "Can manage subscription and billing details.", frozenset({"org:billing"})),
}
ROLE_ORDER = ["member", "admin", "manager", "owner", "billing"]


def role_scopes(role: str) -> frozenset[str]:
    return ROLES.get(role, ROLES["member"])[2]
