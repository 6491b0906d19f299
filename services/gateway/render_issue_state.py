"""Render what the issue workflow keeps on an issue in Sentry's shapes: `statusDetails`,
`assignedTo`, a viewer's flags, activity. Pure: the people named come in a `People`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from picket.gateway.render import iso
from picket.schemas.entities import Team, User
from picket.store.issues_read import Activity


@dataclass(frozen=True)
class People:
    """The users and teams an issue's state names, by id."""

    users: dict[int, User] = field(default_factory=dict)
    teams: dict[int, Team] = field(default_factory=dict)


def user_ref(user_id: int, people: People) -> dict[str, Any]:
    u = people.users.get(user_id)
    if u is None:
        return {"id": str(user_id), "name": "", "username": "", "email": ""}
    return {"id": str(u.id), "name": u.name or u.email, "username": u.email, "email": u.email}


def assigned_to(assignee: str, people: People) -> dict[str, Any] | None:
    """`assignedTo`: the user or team (`"user:1"`, `"team:2"`), or None."""
    kind, _, ident = assignee.partition(":")
    if not ident.isdigit():
        return None
    if kind == "team":
        team = people.teams.get(int(ident))
        return {"type": "team", "id": ident, "name": team.slug if team else ""}
    ref = user_ref(int(ident), people)
    return {"type": "user", "id": ident, "name": ref["name"], "email": ref["email"]}


def status_details(status: str, details: dict[str, Any], people: People) -> dict[str, Any]:
    """Sentry's `statusDetails` of a stored `StatusDetails` (snake-cased JSON)."""
    out: dict[str, Any] = {}
    if status == "resolved":
        if details.get("in_next_release"):
            out["inNextRelease"] = True
        elif details.get("in_release"):
            out["inRelease"] = details["in_release"]
        elif details.get("in_commit"):
            out["inCommit"] = {"id": details["in_commit"]}
    elif status == "ignored":
        out = {
            "ignoreCount": details.get("ignore_count"),
            "ignoreUntil": details.get("ignore_until"),
            "ignoreUserCount": details.get("ignore_user_count"),
            "ignoreUserWindow": details.get("ignore_user_window"),
            "ignoreWindow": details.get("ignore_window"),
        }
    else:
        return out
    actor = details.get("actor_user_id")
    if actor:
        out["actor"] = user_ref(actor, people)
    return out


def people_ids(assignees: list[str], details: list[dict[str, Any]]) -> tuple[set[int], set[int]]:
    """(user ids, team ids) that rendering these assignees and details needs."""
    users: set[int] = set()
    teams: set[int] = set()
    for assignee in assignees:
        kind, _, ident = assignee.partition(":")
        if ident.isdigit():
            (teams if kind == "team" else users).add(int(ident))
    users |= {d["actor_user_id"] for d in details if d.get("actor_user_id")}
    return users, teams


def activity_item(a: Activity, people: People) -> dict[str, Any]:
    data = dict(a.data)
    if a.type == "assigned" and data.get("assigneeType") == "user" and str(data.get("assignee", "")).isdigit():
        data["assigneeEmail"] = user_ref(int(data["assignee"]), people)["email"]
    return {"id": a.id, "type": a.type, "data": data, "dateCreated": iso(a.at),
            "user": user_ref(a.user_id, people) if a.user_id else None}
