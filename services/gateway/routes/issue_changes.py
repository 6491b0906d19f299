"""The issue workflow over HTTP: update or delete one issue, or many of a project at once (by
`id=…&id=…`, or by `query` / `status` as sentry-cli sends them).

A change becomes one command of the issues context (keyed by project), answered once the
project's events consumer has decided it and written its rows, so the next read sees it.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from picket.gateway.render_issue_state import assigned_to, status_details
from picket.gateway.access import EVENT_ADMIN, EVENT_WRITE, project_access
from picket.gateway.errors import bad_request
from picket.gateway.routes.events import issue_access, issue_page, issue_statuses, people
from picket.gateway.runtime import Runtime
from picket.gateway.validation import Count, body
from picket.schemas.issues import Assignee, DeleteIssues, MergeIssues, StatusDetails, UpdateIssues
from picket.store import issues_read, releases_read

# At most this many issues change in one request chosen by a query (as Sentry).
BULK_LIMIT = 1000
# An ignore lasts at most a century; its windows are at most a week (as Sentry).
MAX_IGNORE_MINUTES = 100 * 365 * 24 * 60
MAX_WINDOW_MINUTES = 7 * 24 * 60
_STATUSES = {"resolved": "resolved", "resolvedInNextRelease": "resolved", "unresolved": "unresolved",
             "ignored": "ignored", "muted": "ignored"}  # muted: the old name of ignored, sentry-cli's


class _Details(msgspec.Struct, forbid_unknown_fields=True):
    inRelease: str | None = None
    inNextRelease: bool | None = None
    inCommit: str | dict[str, Any] | None = None
    ignoreDuration: Count | None = None
    ignoreCount: Count | None = None
    ignoreWindow: Count | None = None
    ignoreUserCount: Count | None = None
    ignoreUserWindow: Count | None = None


class IssueChange(msgspec.Struct):
    status: str | None = None
    statusDetails: dict[str, Any] | None = None
    substatus: str | None = None
    ignoreDuration: Count | None = None
    snoozeDuration: Count | None = None  # sentry-cli's name of ignoreDuration
    isPublic: bool | None = None
    merge: bool | int | None = None
    assignedTo: str | int | None | msgspec.UnsetType = msgspec.UNSET
    hasSeen: bool | None = None
    isBookmarked: bool | None = None
    isSubscribed: bool | None = None


def _details(change: IssueChange) -> StatusDetails:
    """The statusDetails asked for, checked; 400 for unknown keys or values out of bounds."""
    try:
        d = msgspec.convert(change.statusDetails or {}, _Details)
    except msgspec.ValidationError as exc:
        raise bad_request(f"Invalid statusDetails: {exc}") from None
    duration = d.ignoreDuration if d.ignoreDuration is not None else change.ignoreDuration or change.snoozeDuration
    if duration is not None and duration > MAX_IGNORE_MINUTES:
        raise bad_request(f"Invalid ignoreDuration: at most {MAX_IGNORE_MINUTES} minutes.")
    for name, window in (("ignoreWindow", d.ignoreWindow), ("ignoreUserWindow", d.ignoreUserWindow)):
        if window is not None and window > MAX_WINDOW_MINUTES:
            raise bad_request(f"Invalid {name}: at most {MAX_WINDOW_MINUTES} minutes.")
    commit = d.inCommit.get("commit") if isinstance(d.inCommit, dict) else d.inCommit
    if commit is not None and not isinstance(commit, str):
        raise bad_request("Invalid statusDetails: inCommit names a commit.")
    return StatusDetails(
        in_release=d.inRelease, in_next_release=d.inNextRelease or None, in_commit=commit,
        ignore_duration=duration or None, ignore_count=d.ignoreCount or None, ignore_window=d.ignoreWindow or None,
        ignore_user_count=d.ignoreUserCount or None, ignore_user_window=d.ignoreUserWindow or None,
    )


async def _assignee(rt: Runtime, org_id: int, value: str | int | None) -> Assignee | None:
    """Sentry's actor: `user:ID`, `team:ID`, a user id, or a member's username or email; a member or
    team of the organization, else 400. Empty or null: nobody."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    records = await rt.org_records(org_id, "member", "team")
    kind, _, ident = text.partition(":")
    if kind == "team" and ident.isdigit():
        if any(t.id == int(ident) for t in records["team"]):
            return Assignee(type="team", id=int(ident))
        raise bad_request(f"Unknown team: {text!r} is not a team of this organization.")
    if kind == "user" and ident.isdigit():
        text = ident
    for m in records["member"]:
        if m.user_id is not None and not m.pending and (str(m.user_id) == text or m.email.lower() == text.lower()):
            return Assignee(type="user", id=m.user_id)
    raise bad_request(f"Unknown actor: {text!r} is not a member of this organization.")


async def _current_releases(rt: Runtime, org_id: int, project_id: int, group_ids: list[int]) -> dict[int, str]:
    """The release current for each issue, as Sentry's: the project's most recent release;
    without one (none made yet, or not projected yet) the issue's last release seen."""
    latest = (await rt.read(releases_read.latest_releases, org_id, [project_id])).get(project_id)
    if latest is not None:
        return {g: latest.version for g in group_ids}
    return await rt.read(issues_read.latest_releases, project_id, group_ids)


async def _update(rt: Runtime, access: Any, project: Any, groups: list[Any], change: IssueChange) -> UpdateIssues:
    """The command a change asks for, for `groups` of `project`."""
    status = None
    details = None
    current: dict[int, str] = {}
    if change.status is not None:
        status = _STATUSES.get(change.status)
        if status is None:
            raise bad_request(f"Invalid status: {change.status!r}; use one of {', '.join(_STATUSES)}.")
        details = _details(change)
        if change.status == "resolvedInNextRelease":
            details = msgspec.structs.replace(details, in_next_release=True)
        if status == "resolved" and (details.in_release or details.in_next_release or details.in_commit):
            current = await _current_releases(rt, access.organization.id, project.id, [g.id for g in groups])
            if details.in_release == "latest":
                if not current:
                    raise bad_request("Invalid inRelease: the issue was not seen in any release.")
                details = msgspec.structs.replace(details, in_release=current[groups[0].id]
                                                  if groups[0].id in current else next(iter(current.values())))
    assign = change.assignedTo is not msgspec.UNSET
    assignee = await _assignee(rt, access.organization.id, change.assignedTo) if assign else None  # type: ignore[arg-type]
    return UpdateIssues(
        meta=rt.bus.meta(access.principal.user.id), project_id=project.id, group_ids=tuple(g.id for g in groups),
        status=status, status_details=details, assign=assign, assignee=assignee, has_seen=change.hasSeen,
        is_bookmarked=change.isBookmarked, is_subscribed=change.isSubscribed, is_public=change.isPublic,
        share_id=uuid.uuid4().hex if change.isPublic else None, current_releases=current,
    )


def _check_merge(change: IssueChange, groups: list[Any]) -> bool:
    if not change.merge:
        return False
    if len(groups) < 2:
        raise bad_request("Merging needs two or more issues.")
    return True


async def update_issue(request: Request) -> JSONResponse:
    rt, access, project, group = await issue_access(request, EVENT_WRITE)
    change = await body(request, IssueChange)
    if change.merge:
        raise bad_request("Merge issues through the project's issues endpoint, with their ids.")
    await rt.bus.execute(await _update(rt, access, project, [group], change))
    _, access, project, group = await issue_access(request, EVENT_WRITE)
    return JSONResponse(await issue_page(rt, access, project, group))


async def delete_issue(request: Request) -> Response:
    rt, access, project, group = await issue_access(request, EVENT_ADMIN)
    await rt.bus.execute(DeleteIssues(meta=rt.bus.meta(access.principal.user.id), project_id=project.id,
                                      group_ids=(group.id,)))
    return Response(status_code=202)


async def _selected(request: Request, rt: Runtime, project: Any) -> list[Any]:
    """The issues a bulk request names: by `id` (repeated), else by `query` (default
    `is:unresolved`) and `status`, at most `BULK_LIMIT`."""
    params = request.query_params
    ids = params.getlist("id")
    if ids:
        if not all(i.isdigit() and len(i) <= 20 for i in ids):
            raise bad_request("Invalid id: issue ids are integers.")
        return await rt.read(issues_read.groups, [project.id], group_ids=[int(i) for i in ids], limit=BULK_LIMIT)
    status = params.get("status")
    query = params.get("query", "" if status else "is:unresolved")
    if status:
        if _STATUSES.get(status) is None:
            raise bad_request(f"Invalid status: {status!r}.")
        query = f"{query} is:{_STATUSES[status]}"
    statuses, text = issue_statuses(query)
    return await rt.read(issues_read.groups, [project.id], statuses=statuses, text=text or None, limit=BULK_LIMIT)


async def update_project_issues(request: Request) -> Response:
    rt, access, project, _ = await project_access(request, EVENT_WRITE)
    change = await body(request, IssueChange)
    groups = await _selected(request, rt, project)
    if not groups:
        return Response(status_code=204)
    if _check_merge(change, groups):
        reply = await rt.bus.execute(MergeIssues(meta=rt.bus.meta(access.principal.user.id), project_id=project.id,
                                                 group_ids=tuple(g.id for g in groups)))
        parent = reply.entity_id or min(groups, key=lambda g: (g.first_seen, g.id)).id
        kept = next((g for g in groups if g.id == parent), groups[0])
        # The parent's status beside the merge: the reference answers every bulk change with one.
        return JSONResponse({"merge": {"parent": str(parent), "children": [str(g.id) for g in groups if g.id != parent]},
                             "status": kept.status, "statusDetails": {}, "isPublic": bool(kept.share_id)})
    command = await _update(rt, access, project, groups, change)
    await rt.bus.execute(command)
    return JSONResponse(await _bulk_result(rt, access, command))


async def _bulk_result(rt: Runtime, access: Any, command: UpdateIssues) -> dict[str, Any]:
    """What a bulk update answers: the state it set (Sentry's shape, the fields asked for)."""
    status = command.status or "unresolved"
    details = msgspec.to_builtins(command.status_details or StatusDetails())
    if command.status is not None:
        details["actor_user_id"] = access.principal.user.id
    a = command.assignee
    assignee = f"{a.type}:{a.id}" if a is not None else ""
    named = await people(rt, access.organization.id, [assignee], [details], {access.principal.user.id})
    out: dict[str, Any] = {
        "status": status,
        "statusDetails": status_details(status, details, named) if command.status is not None else {},
        "isPublic": bool(command.is_public),
    }
    if command.status is not None:
        waits = details.get("ignore_duration") or details.get("ignore_count") or details.get("ignore_user_count")
        out["substatus"] = {"resolved": None, "ignored": "archived_until_condition_met" if waits
                            else "archived_forever"}.get(status, "ongoing")
    if command.assign:
        out["assignedTo"] = assigned_to(assignee, named)
    for field, value in (("hasSeen", command.has_seen), ("isBookmarked", command.is_bookmarked),
                         ("isSubscribed", command.is_subscribed)):
        if value is not None:
            out[field] = value
    if command.is_public:
        out["shareId"] = command.share_id
    return out


async def delete_project_issues(request: Request) -> Response:
    rt, access, project, _ = await project_access(request, EVENT_ADMIN)
    groups = await _selected(request, rt, project)
    if groups:
        await rt.bus.execute(DeleteIssues(meta=rt.bus.meta(access.principal.user.id), project_id=project.id,
                                          group_ids=tuple(g.id for g in groups)))
    return Response(status_code=204)


routes = [
    Route("/api/0/projects/{organization_slug}/{project_slug}/issues/", update_project_issues, methods=["PUT"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/issues/", delete_project_issues, methods=["DELETE"]),
    Route("/api/0/issues/{issue_id}/", update_issue, methods=["PUT"]),
    Route("/api/0/issues/{issue_id}/", delete_issue, methods=["DELETE"]),
]
