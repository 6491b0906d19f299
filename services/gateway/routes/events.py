"""Events and issues: project events and issues, issue details, event-id and short-id lookups."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from picket.gateway import render_events, render_releases
from picket.gateway.access import EVENT_READ, project_access
from picket.search import syntax as search
from picket.gateway.errors import bad_request, not_found
from picket.discover.event_filter import event_condition
from picket.gateway.pagination import page_of, paginate, window
from picket.gateway.render import iso
from picket.gateway.render_issue_state import People, people_ids
from picket.gateway.runtime import path_int, runtime
from picket.gateway.validation import query_lists
from picket.ingest.grouping import parse_short_id
from picket.stats.periods import InvalidParams
from picket.store import entities, integrations_read, issues_read, releases_read

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def _event_id(raw: str) -> str:
    event_id = raw.replace("-", "").lower()
    if not _HEX32.match(event_id):
        raise not_found()
    return event_id


def _condition(request: Request, projects: dict[int, str]) -> issues_read.Condition | None:
    """An event list's `query`, `environment` and period (`picket.discover.event_filter`)."""
    try:
        return event_condition(query_lists(request), projects=projects, now=datetime.now(timezone.utc))
    except InvalidParams as exc:
        raise bad_request(exc.detail) from None


async def _event_list(request: Request, rt: Any, project: Any, group_id: int | None) -> JSONResponse:
    """A page of events, newest first, read a page (and one more) at a time."""
    condition = _condition(request, {project.id: project.slug})
    w = window(request)
    found = await rt.read(issues_read.events, [project.id], group_id=group_id, limit=w.per_page + 1,
                          offset=w.offset, condition=condition)
    page, link = page_of(request, w, found)
    full = request.query_params.get("full", "").lower() in ("1", "true", "yes")
    render = render_events.event_detail if full else render_events.event_summary
    return JSONResponse([render(s.event, s.group_id) for s in page], headers={"Link": link})


async def list_project_events(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, EVENT_READ)
    return await _event_list(request, rt, project, None)


async def get_project_event(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, EVENT_READ)
    event_id = _event_id(request.path_params["event_id"])
    found = await rt.read(issues_read.events, [project.id], event_id=event_id, limit=1)
    if not found:
        raise not_found()
    previous, next_ = await rt.read(issues_read.neighbours, project.id, found[0].event)
    report = await _user_report(rt, project.id, event_id)
    release = await _release(rt, project, found[0].event)
    return JSONResponse(render_events.event_detail(found[0].event, found[0].group_id, previous, next_, report, release))


async def _release(rt: Any, project: Any, event: Any) -> dict[str, Any] | None:
    seen = await rt.read(issues_read.release_seen, project.id, event.release) if event.release else None
    return None if seen is None else render_events.release_ref(seen, project)


async def _user_report(rt: Any, project_id: int, event_id: str) -> issues_read.Feedback | None:
    """The user feedback about an event, if there is some (the newest)."""
    reports = await rt.read(issues_read.feedback, project_id, event_id)
    return reports[0] if reports else None


_STATUSES = {"unresolved": "unresolved", "resolved": "resolved", "ignored": "ignored", "archived": "ignored"}


def issue_statuses(query: str) -> tuple[list[str] | None, str]:
    """Sentry's issue search, the parts supported: `is:<status>` (or a list of them) and free
    text, side by side. Anything else is answered 400, never ignored."""
    try:
        tree = search.parse(query)
    except search.SearchError as exc:
        raise bad_request(str(exc)) from None
    terms = tree.items if isinstance(tree, search.And) else () if tree is None else (tree,)
    statuses: list[str] = []
    words: list[str] = []
    for term in terms:
        if isinstance(term, search.Text):
            words.append(term.text)
        elif isinstance(term, search.Filter) and term.key == "is" and not term.negated and term.op in ("=", "in"):
            for value in term.value if isinstance(term.value, tuple) else (term.value,):
                if value.text not in _STATUSES:
                    raise bad_request(f"Invalid search: unknown status {value.text!r}.")
                statuses.append(_STATUSES[value.text])
        elif isinstance(term, (search.Filter, search.Has)):
            name = ("!" if term.negated else "") + ("has:" if isinstance(term, search.Has) else "") + term.key
            raise bad_request(f"Invalid search: {name!r} is not supported.")
        else:
            raise bad_request("Invalid search: OR is not supported in issue search.")
    return (statuses or None), " ".join(words)


async def list_project_issues(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, EVENT_READ)
    params = request.query_params
    query = params.get("query", "is:unresolved")
    short = params.get("shortIdLookup") in ("1", "true") and parse_short_id(query.strip())
    period = params.get("statsPeriod", "")
    span = render_events.since(period) if period else None
    if period and span is None:
        raise bad_request("Invalid statsPeriod.")
    w = window(request)
    now = datetime.now(timezone.utc)
    # The 24 hourly buckets of each issue's stats, read with its counters when its period holds them.
    series_from = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    since = now - span if span else None
    in_one_read = since is None or since <= series_from
    if short:
        slug, number = short
        groups = await rt.read(issues_read.groups, [project.id], short_number=number,
                               series_from=series_from) if slug == project.slug else []
    else:
        statuses, text = issue_statuses(query)
        groups = await rt.read(issues_read.groups, [project.id], statuses=statuses, since=since, text=text or None,
                               environments=params.getlist("environment") or None, limit=w.per_page + 1,
                               offset=w.offset, series_from=series_from if in_one_read else None)
    page, link = page_of(request, w, groups)
    ids = [g.id for g in page]
    if short or in_one_read:
        counts = {g.id: g.hourly for g in page}
    else:
        counts = await rt.read(issues_read.hourly_counts, [project.id], ids, now - timedelta(hours=24)) if page else {}
    flags = await rt.read(issues_read.user_flags, project.id, ids, access.principal.user.id) if page else {}
    named = await people(rt, access.organization.id, [g.assignee for g in page], [g.status_details for g in page])
    url = rt.settings.public_url
    return JSONResponse(
        [render_events.issue(g, project, access.organization, url, counts.get(g.id), now, flags.get(g.id), named)
         for g in page],
        headers={"Link": link},
    )


async def issue_access(request: Request, any_of: tuple[str, ...] = EVENT_READ) -> tuple[Any, ...]:
    """(runtime, org access, project, group) of the issue in the path (an issue merged into
    another stands for that one); 404 if it does not exist, 403 if the caller's scopes in its
    organization are not among `any_of`."""
    rt = runtime(request)
    await rt.auth.principal(request)  # 401 before anything about the issue is revealed
    group_id = path_int(request.path_params["issue_id"])
    project_id = await rt.read(issues_read.group_project, group_id) if group_id else None
    project = await rt.read(entities.first, "project", id=project_id) if project_id else None
    org = await rt.read(entities.first, "organization", id=project.org_id) if project else None
    if org is None:
        raise not_found()
    access = await rt.auth.organization(request, org.slug, any_of)
    groups = await rt.read(issues_read.groups, [project.id], group_ids=[group_id])
    if not groups:
        into = await rt.read(issues_read.group_redirect, group_id)
        groups = await rt.read(issues_read.groups, [project.id], group_ids=[into]) if into else []
    if not groups:
        raise not_found()
    return rt, access, project, groups[0]


async def people(rt: Any, org_id: int, assignees: list[str], details: list[dict[str, Any]],
                 more_users: set[int] | None = None) -> People:
    """The users and teams issues' assignees and status details name, and `more_users`."""
    user_ids, team_ids = people_ids(assignees, details)
    user_ids |= more_users or set()
    teams = (await rt.org_records(org_id, "team"))["team"] if team_ids else []
    users = [await rt.read(entities.first, "user", id=u) for u in sorted(user_ids)]
    return People(users={u.id: u for u in users if u is not None}, teams={t.id: t for t in teams if t.id in team_ids})


async def _issue_releases(rt: Any, org_id: int, project: Any, group: issues_read.Group,
                          last: str) -> dict[str, dict[str, Any]]:
    """The issue's first and last releases by version, as its detail shows them."""
    versions = sorted({v for v in (group.first_release, last) if v})
    if not versions:
        return {}
    seen = await rt.read(releases_read.seen, [project.id], versions)
    out = {}
    for v in versions:
        found = await rt.read(releases_read.release, org_id, v)
        out[v] = render_releases.issue_release(v, found, project, seen.get((v, project.id), releases_read.Seen()),
                                               group.first_seen)
    return out


async def issue_page(rt: Any, access: Any, project: Any, group: issues_read.Group) -> dict[str, Any]:
    """An issue's detail as its viewer sees it."""
    now = datetime.now(timezone.utc)
    counts = await rt.read(issues_read.hourly_counts, [project.id], [group.id], now - timedelta(days=30))
    tags = await rt.read(issues_read.group_tags, project.id, group.id)
    viewer = access.principal.user.id
    flags = await rt.read(issues_read.user_flags, project.id, [group.id], viewer)
    activity = await rt.read(issues_read.activity, project.id, group.id)
    seen_by = await rt.read(issues_read.flagged_users, project.id, group.id, "has_seen")
    participants = [u for u, _ in await rt.read(issues_read.flagged_users, project.id, group.id, "is_subscribed")]
    last = (await rt.read(issues_read.latest_releases, project.id, [group.id])).get(group.id, "")
    reports = await rt.read(issues_read.user_report_count, project.id, group.id)
    named = {a.user_id for a in activity if a.user_id} | {u for u, _ in seen_by} | set(participants)
    named |= {int(a.data["assignee"]) for a in activity
              if a.data.get("assigneeType") == "user" and str(a.data.get("assignee", "")).isdigit()}
    page = render_events.IssuePage(
        stats=counts.get(group.id, {}), tags=tags, user_reports=reports, flags=flags.get(group.id, {}),
        people=await people(rt, access.organization.id, [group.assignee], [group.status_details], named), activity=activity, seen_by=seen_by,
        participants=participants, last_release=last,
        external_issues=await rt.read(integrations_read.external_issues, access.organization.id, [group.id]),
        releases=await _issue_releases(rt, access.organization.id, project, group, last))
    return render_events.issue_detail(group, project, access.organization, rt.settings.public_url, page, now)


async def get_issue(request: Request) -> JSONResponse:
    rt, access, project, group = await issue_access(request)
    return JSONResponse(await issue_page(rt, access, project, group))


async def list_issue_events(request: Request) -> JSONResponse:
    rt, access, project, group = await issue_access(request)
    return await _event_list(request, rt, project, group.id)


async def _issue_event(request: Request, oldest: bool) -> JSONResponse:
    rt, access, project, group = await issue_access(request)
    found = await rt.read(issues_read.events, [project.id], group_id=group.id, limit=1, oldest_first=oldest)
    if not found:
        raise not_found()
    previous, next_ = await rt.read(issues_read.neighbours, project.id, found[0].event, group.id)
    report = await _user_report(rt, project.id, found[0].event.event_id)
    release = await _release(rt, project, found[0].event)
    return JSONResponse(render_events.event_detail(found[0].event, group.id, previous, next_, report, release))


async def latest_issue_event(request: Request) -> JSONResponse:
    return await _issue_event(request, oldest=False)


async def oldest_issue_event(request: Request) -> JSONResponse:
    return await _issue_event(request, oldest=True)


async def list_issue_hashes(request: Request) -> JSONResponse:
    rt, access, project, group = await issue_access(request)
    found = await rt.read(issues_read.hashes, project.id, group.id)
    page, link = paginate(request, found)
    return JSONResponse([
        {"id": hash_, "latestEvent": None if latest is None else render_events.event_detail(latest.event, group.id)}
        for hash_, latest in page
    ], headers={"Link": link})


MAX_TAG_KEY = 200


def _tag_value(key: str, v: issues_read.TagValue) -> dict[str, Any]:
    return {"key": key, "name": v.value, "value": v.value, "count": v.count, "firstSeen": iso(v.first_seen),
            "lastSeen": iso(v.last_seen)}


def _tag_key(request: Request) -> str:
    key = request.path_params["key"]
    if not key or len(key) > MAX_TAG_KEY:
        raise not_found()
    return key


def _tag_order(request: Request) -> str:
    order = request.query_params.get("sort", "-last_seen")
    if order not in issues_read.TAG_VALUE_ORDERS:
        raise bad_request(f"Invalid sort: use one of {', '.join(issues_read.TAG_VALUE_ORDERS)}.")
    return order


async def _tag_values_page(request: Request, rt: Any, project_id: int, key: str, **filters: Any) -> JSONResponse:
    """A page of a tag's values; 404 when the tag has none there (Sentry: the key is unknown)."""
    w = window(request)
    found = await rt.read(issues_read.tag_values, project_id, key, order=_tag_order(request), limit=w.per_page + 1,
                          offset=w.offset, **filters)
    if not found and w.offset == 0:
        raise not_found()
    page, link = page_of(request, w, found)
    return JSONResponse([_tag_value(key, v) for v in page], headers={"Link": link})


async def issue_tag_details(request: Request) -> JSONResponse:
    rt, access, project, group = await issue_access(request)
    key = _tag_key(request)
    total, unique = await rt.read(issues_read.tag_totals, project.id, group.id, key)
    if total == 0:
        raise not_found()
    top = await rt.read(issues_read.tag_values, project.id, key, group_id=group.id, order="-count", limit=9)
    return JSONResponse({"key": key, "name": key, "uniqueValues": unique, "totalValues": total,
                         "topValues": [_tag_value(key, v) for v in top]})


async def issue_tag_values(request: Request) -> JSONResponse:
    rt, access, project, group = await issue_access(request)
    return await _tag_values_page(request, rt, project.id, _tag_key(request), group_id=group.id,
                                  environments=request.query_params.getlist("environment") or None)


async def project_tag_values(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, EVENT_READ)
    return await _tag_values_page(request, rt, project.id, _tag_key(request),
                                  contains=request.query_params.get("query") or None,
                                  environments=request.query_params.getlist("environment") or None)


async def lookup_event_id(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], EVENT_READ)
    event_id = _event_id(request.path_params["event_id"])
    records = await rt.org_records(access.organization.id, "project")
    by_id = {p.id: p for p in records["project"]}
    found = await rt.read(issues_read.events, list(by_id), event_id=event_id, limit=1) if by_id else []
    if not found:
        raise not_found()
    project = by_id[found[0].event.project_id]
    return JSONResponse({
        "organizationSlug": access.organization.slug,
        "projectSlug": project.slug,
        "groupId": str(found[0].group_id),
        "eventId": event_id,
        "event": render_events.event_detail(found[0].event, found[0].group_id),
    })


async def lookup_short_id(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], EVENT_READ)
    parsed = parse_short_id(request.path_params["short_id"])
    if parsed is None:
        raise not_found()
    slug, number = parsed
    records = await rt.org_records(access.organization.id, "project")
    project = next((p for p in records["project"] if p.slug == slug), None)
    if project is None:
        raise not_found()
    groups = await rt.read(issues_read.groups, [project.id], short_number=number)
    if not groups:
        raise not_found()
    group = render_events.issue(groups[0], project, access.organization, rt.settings.public_url)
    group.pop("stats")
    return JSONResponse({
        "organizationSlug": access.organization.slug,
        "projectSlug": project.slug,
        "shortId": group["shortId"],
        "groupId": group["id"],
        "group": group,
    })


routes = [
    Route("/api/0/projects/{organization_slug}/{project_slug}/events/", list_project_events, methods=["GET"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/events/{event_id}/", get_project_event, methods=["GET"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/issues/", list_project_issues, methods=["GET"]),
    Route("/api/0/issues/{issue_id}/", get_issue, methods=["GET"]),
    Route("/api/0/issues/{issue_id}/events/", list_issue_events, methods=["GET"]),
    Route("/api/0/issues/{issue_id}/events/latest/", latest_issue_event, methods=["GET"]),
    Route("/api/0/issues/{issue_id}/events/oldest/", oldest_issue_event, methods=["GET"]),
    Route("/api/0/issues/{issue_id}/hashes/", list_issue_hashes, methods=["GET"]),
    Route("/api/0/issues/{issue_id}/tags/{key}/", issue_tag_details, methods=["GET"]),
    Route("/api/0/issues/{issue_id}/tags/{key}/values/", issue_tag_values, methods=["GET"]),
    Route("/api/0/projects/{organization_slug}/{project_slug}/tags/{key}/values/", project_tag_values,
          methods=["GET"]),
    Route("/api/0/organizations/{organization_slug}/eventids/{event_id}/", lookup_event_id, methods=["GET"]),
    Route("/api/0/organizations/{organization_slug}/shortids/{short_id}/", lookup_short_id, methods=["GET"]),
]
