"""Releases with their commits and deploys, and the repositories their commits name.

Writes go through the releases agent and answer once the projection has the change. A POST of a
release that exists and adds nothing is answered 208 with the release (sentry-cli accepts both),
a deploy reported twice 208 without a body, as Sentry does.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from picket.gateway import render_events, render_releases
from picket.gateway.access import project_access
from picket.gateway.commands import CommandRejected
from picket.gateway.errors import bad_request, not_found
from picket.gateway.pagination import page_of, paginate, window
from picket.gateway.runtime import Runtime, runtime
from picket.gateway.validation import body
from picket.ids import new_id
from picket.releases.versions import sorted_versions, validate_version
from picket.schemas import releases as r
from picket.schemas.entities import Project
from picket.stats import release_sorts, sessions
from picket.stats.periods import InvalidParams
from picket.store import issues_read, releases_read
from picket.store.rollups import SESSIONS

READ = ("project:read", "project:write", "project:admin", "project:releases", "org:ci")
WRITE = ("project:write", "project:admin", "project:releases", "org:ci")
REPOS_READ = ("org:read", "org:write", "org:admin", "org:integrations")
# A command travels as one Kafka message: commits beyond this size are refused, not truncated.
MAX_COMMAND_BYTES = 900_000
MAX_COMMITS = 10_000
_EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(2105, 12, 31, tzinfo=timezone.utc)
_msgpack = msgspec.msgpack.Encoder()


# --- request bodies ---

class PatchBody(msgspec.Struct):
    path: str
    type: str


class CommitBody(msgspec.Struct):
    id: str
    repository: str | None = None
    message: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    timestamp: str | None = None
    patch_set: list[PatchBody] | None = None


class RefBody(msgspec.Struct):
    repository: str
    commit: str
    previousCommit: str | None = None


class ReleaseBody(msgspec.Struct):
    """POST and PUT of a release (`version` and `projects` required on POST only)."""

    version: str | None = None
    projects: list[str | int] | None = None
    ref: str | None = None
    url: str | None = None
    dateReleased: str | None = None
    dateStarted: str | None = None
    status: str | None = None
    commits: list[CommitBody] | None = None
    refs: list[RefBody] | None = None


class DeployBody(msgspec.Struct):
    environment: str
    name: str | None = None
    url: str | None = None
    dateStarted: str | None = None
    dateFinished: str | None = None
    projects: list[str | int] | None = None


# --- checks ---

def _date(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(f"Invalid {name}: not an ISO 8601 date.") from None
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    if not _EARLIEST <= at <= _LATEST:
        raise bad_request(f"Invalid {name}: the date must be between 1970 and 2105.")
    return at.astimezone(timezone.utc)


def _text(value: str | None, name: str, limit: int, *, required: bool = False) -> str | None:
    """`value` unless it is too long, holds control characters (tabs and newlines aside), or is
    missing when required."""
    if value is None or value == "":
        if required:
            raise bad_request(f"{name} is required.")
        return None
    if len(value) > limit:
        raise bad_request(f"Invalid {name}: at most {limit} characters.")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value) or "\x7f" in value:
        raise bad_request(f"Invalid {name}: it holds control characters.")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise bad_request(f"Invalid {name}: not valid Unicode.") from None
    return value


def _version(value: str) -> str:
    reason = validate_version(value)
    if reason is not None:
        raise bad_request(reason)
    return value


def _url(value: str | None, name: str = "url") -> str | None:
    url = _text(value, name, 1000)
    if url is not None and "\n" in url:
        raise bad_request(f"Invalid {name}.")
    return url


def _commits(items: list[CommitBody] | None, org_id: int) -> tuple[r.Commit, ...] | None:
    if items is None:
        return None
    if len(items) > MAX_COMMITS:
        raise bad_request(f"Too many commits: at most {MAX_COMMITS}.")
    out = []
    for c in items:
        email = _text(c.author_email, "commit author_email", 75)
        if email is not None and ("@" not in email or any(ch.isspace() for ch in email)):
            raise bad_request("Invalid commit author_email: not an email address.")
        patches = []
        for p in c.patch_set or ():
            if p.type not in ("A", "M", "D"):
                raise bad_request('Invalid patch_set type: "A", "M" or "D".')
            patches.append(r.FileChange(path=_text(p.path, "patch_set path", 1000, required=True) or "",
                                        type=p.type))  # type: ignore[arg-type]
        out.append(r.Commit(
            id=_text(c.id, "commit id", 64, required=True) or "",
            repository=_text(c.repository, "commit repository", 200) or f"organization-{org_id}",
            message=_text(c.message, "commit message", 10_000),
            author_name=_text(c.author_name, "commit author_name", 128), author_email=email,
            timestamp=_date(c.timestamp, "commit timestamp"), patch_set=tuple(patches),
        ))
    return tuple(out)


def _refs(items: list[RefBody] | None) -> tuple[r.Ref, ...] | None:
    if items is None:
        return None
    if len(items) > 100:
        raise bad_request("Too many refs: at most 100.")
    return tuple(r.Ref(repository=_text(x.repository, "ref repository", 200, required=True) or "",
                       commit=_text(x.commit, "ref commit", 64, required=True) or "",
                       previous_commit=_text(x.previousCommit, "ref previousCommit", 64)) for x in items)


def _status(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if value not in ("open", "archived"):
        raise bad_request('Invalid status: "open" or "archived".')
    return value


async def _projects(rt: Runtime, org_id: int, refs: list[str | int] | None) -> tuple[int, ...]:
    """The projects named by slug or id; 400 for one the organization does not have."""
    if not refs:
        return ()
    records = await rt.org_records(org_id, "project")
    by_ref = {p.slug: p.id for p in records["project"]} | {str(p.id): p.id for p in records["project"]}
    ids = []
    for ref in refs:
        found = by_ref.get(str(ref))
        if found is None:
            raise bad_request("Invalid project ids or slugs.")
        ids.append(found)
    return tuple(sorted(set(ids)))


async def _execute(rt: Runtime, command: Any) -> bool:
    """Run `command`; False when it was a conflict (nothing new: 208)."""
    if len(_msgpack.encode(command)) > MAX_COMMAND_BYTES:
        raise bad_request("The commits given are too large for one request; give fewer.")
    try:
        await rt.bus.execute(command)
    except CommandRejected as exc:
        if exc.reply.outcome == "conflict":
            return False
        raise
    return True


# --- rendering ---

async def rendered(rt: Runtime, org_id: int, releases: list[r.Release]) -> list[dict[str, Any]]:
    """`releases` as the API shows them, with what their projects' events say of them."""
    records = await rt.org_records(org_id, "project")
    projects = {p.id: p for p in records["project"]}
    seen = await rt.read(releases_read.seen, list(projects), [x.version for x in releases]) if releases else {}
    repos = {x.name: x for x in await rt.read(releases_read.repositories, org_id)} if any(
        x.last_commit for x in releases) else {}
    health = await rt.read(releases_read.with_health, org_id, list(projects), [x.version for x in releases]) \
        if releases else set()
    return [render_releases.release(x, projects, seen, repos, [p for v, p in health if v == x.version])
            for x in releases]


async def _one(rt: Runtime, org_id: int, version: str) -> r.Release:
    found = await rt.read(releases_read.release, org_id, version)
    if found is None:
        raise not_found()
    return found


async def _by_health(request: Request, rt: Runtime, org_id: int, versions: list[str],
                     project_ids: tuple[int, ...], environments: tuple[str, ...]) -> list[str]:
    """The versions with sessions in the summary period, by the health figure `sort` names."""
    params = request.query_params
    sort = params["sort"]
    if params.get("flatten") != "1":
        raise bad_request("sorting by crash statistics requires flattening (flatten=1)")
    if not project_ids:
        return []
    now = datetime.now(timezone.utc)
    try:
        q = release_sorts.health_query(sort, org_id=org_id, project_ids=project_ids, environments=environments,
                                       period=params.get("summaryStatsPeriod"), now=now)
    except InvalidParams as exc:
        raise bad_request(exc.detail) from None
    sql, sql_params = sessions.sql(q, horizon=await rt.horizons.get(SESSIONS), now=now)
    return release_sorts.rank(sort, versions, q, await rt.query(sql, sql_params), version_of=lambda v: v)


async def _list(request: Request, rt: Runtime, access: Any, project_ids: tuple[int, ...]) -> JSONResponse:
    params = request.query_params
    org_id = access.organization.id
    status = params.get("status", "open")
    if status not in ("open", "archived", "any"):
        raise bad_request('Invalid status: "open", "archived" or "any".')
    sort = params.get("sort", "date")
    if sort not in ("date", "semver", "build", *release_sorts.HEALTH_SORTS):
        raise bad_request(f"Invalid sort: {sort[:50]!r} (date, semver, build, sessions, users, "
                          "crash_free_sessions or crash_free_users).")
    w = window(request, default_per_page=25)
    records = await rt.org_records(org_id, "project")
    # (ids of at most 19 digits: longer ones name no project, and int() of thousands of digits fails)
    chosen = project_ids or tuple(int(v) for v in params.getlist("project") if v.isascii() and v.isdigit()
                                  and len(v) <= 19 and int(v) < 2**63)
    f = releases_read.ReleaseFilter(
        query=_text(params.get("query", "").strip(), "query", 200) or "", status=None if status == "any" else status,
        project_ids=chosen, environments=tuple(params.getlist("environment")),
        org_project_ids=tuple(p.id for p in records["project"]))
    if sort == "date":  # the store's order: it reads the page only
        fetched = await rt.read(releases_read.releases, org_id, f, limit=w.per_page + 1, offset=w.offset)
        page, link = page_of(request, w, fetched)
    else:  # ordered here, by version: only the page's releases are read whole
        every = await rt.read(releases_read.versions, org_id, f)
        if sort in release_sorts.HEALTH_SORTS:
            mine = tuple(p for p in chosen if p in f.org_project_ids) if chosen else f.org_project_ids
            ordered = await _by_health(request, rt, org_id, every, mine, f.environments)
        else:
            ordered = sorted_versions(sort, every)
        versions, link = paginate(request, ordered, default_per_page=25)
        page = await rt.read(releases_read.by_versions, org_id, versions)
    return JSONResponse(await rendered(rt, org_id, page), headers={"Link": link})


async def _write_response(rt: Runtime, org_id: int, version: str, changed: bool) -> JSONResponse:
    found = await _one(rt, org_id, version)
    return JSONResponse((await rendered(rt, org_id, [found]))[0], status_code=201 if changed else 208)


async def _create(request: Request, rt: Runtime, access: Any, project: Project | None) -> JSONResponse:
    data = await body(request, ReleaseBody)
    org_id = access.organization.id
    if data.version is None:
        raise bad_request("version is required.")
    if data.projects is None and project is None:
        raise bad_request("projects is required.")
    version = _version(data.version)
    project_ids = (project.id,) if project is not None else await _projects(rt, org_id, data.projects)
    command = r.UpsertRelease(
        meta=rt.bus.meta(access.principal.user.id), org_id=org_id, version=version, release_id=new_id(),
        project_ids=project_ids, ref=_text(data.ref, "ref", 1000), url=_url(data.url),
        date_released=_date(data.dateReleased, "dateReleased"), date_started=_date(data.dateStarted, "dateStarted"),
        status=_status(data.status), commits=_commits(data.commits, org_id), refs=_refs(data.refs),  # type: ignore[arg-type]
    )
    return await _write_response(rt, org_id, version, await _execute(rt, command))


# --- organization releases ---

async def list_releases(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], READ)
    return await _list(request, rt, access, ())


async def create_release(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], WRITE)
    return await _create(request, rt, access, None)


async def get_release(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], READ)
    found = await _one(rt, access.organization.id, request.path_params["version"])
    return JSONResponse((await rendered(rt, access.organization.id, [found]))[0])


async def update_release(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], WRITE)
    org_id = access.organization.id
    version = request.path_params["version"]
    await _one(rt, org_id, version)
    data = await body(request, ReleaseBody)
    await _execute(rt, r.UpdateRelease(
        meta=rt.bus.meta(access.principal.user.id), org_id=org_id, version=version,
        ref=_text(data.ref, "ref", 1000), url=_url(data.url), date_released=_date(data.dateReleased, "dateReleased"),
        status=_status(data.status), project_ids=await _projects(rt, org_id, data.projects),  # type: ignore[arg-type]
        commits=_commits(data.commits, org_id), refs=_refs(data.refs),
    ))
    found = await _one(rt, org_id, version)
    return JSONResponse((await rendered(rt, org_id, [found]))[0])


async def delete_release(request: Request) -> Response:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], WRITE)
    org_id = access.organization.id
    found = await _one(rt, org_id, request.path_params["version"])
    # As Sentry: a release that issues were first seen in, or that has health data, stays.
    if await rt.read(releases_read.has_new_groups, found.project_ids, found.version):
        raise bad_request("This release is referenced by active issues and cannot be removed.")
    if await rt.read(releases_read.has_health_data, org_id, found.project_ids, found.version):
        raise bad_request("This release has health data and cannot be removed.")
    await rt.bus.execute(r.DeleteRelease(meta=rt.bus.meta(access.principal.user.id), org_id=org_id,
                                         version=found.version))
    return Response(status_code=204)


async def previous_with_commits(request: Request) -> JSONResponse:
    """The release made before this one that has commits (`{}` if none), as sentry-cli asks for
    before `set-commits --local`."""
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], READ)
    org_id = access.organization.id
    current = await _one(rt, org_id, request.path_params["version"])
    every = await rt.read(releases_read.releases, org_id, releases_read.ReleaseFilter(status=None))
    earlier = [x for x in every if x.commit_count and (x.date_created, x.version) < (current.date_created, current.version)]
    return JSONResponse((await rendered(rt, org_id, earlier[:1]))[0] if earlier else {})


# --- commits ---

async def _commit_list(request: Request, rt: Runtime, org_id: int, release: r.Release) -> JSONResponse:
    commits = await rt.read(releases_read.commits, org_id, release.version, release.commits_version)
    repos = {x.name: x for x in await rt.read(releases_read.repositories, org_id)}
    page, link = paginate(request, commits)
    return JSONResponse([render_releases.commit(c, org_id, repos, release.date_created) for c in page],
                        headers={"Link": link})


async def list_release_commits(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], READ)
    found = await _one(rt, access.organization.id, request.path_params["version"])
    return await _commit_list(request, rt, access.organization.id, found)


async def _project_release(request: Request) -> tuple[Runtime, Any, Project, r.Release]:
    """(runtime, access, project, release) of a project-level release path; 404 unless the
    release is the project's."""
    rt, access, project, _ = await project_access(request, READ)
    found = await _one(rt, access.organization.id, request.path_params["version"])
    if project.id not in found.project_ids:
        raise not_found()
    return rt, access, project, found


async def list_project_release_commits(request: Request) -> JSONResponse:
    rt, access, _, found = await _project_release(request)
    return await _commit_list(request, rt, access.organization.id, found)


async def list_commit_files(request: Request) -> JSONResponse:
    """The files the release's commits touched, one entry per commit and file (Sentry's
    `CommitFileChange`)."""
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], READ)
    org_id = access.organization.id
    found = await _one(rt, org_id, request.path_params["version"])
    commits = await rt.read(releases_read.commits, org_id, found.version, found.commits_version)
    files = [
        {"id": f"{c.id}:{n}", "orgId": org_id, "author": {"name": c.author_name, "email": c.author_email}
         if c.author_email else None, "commitMessage": c.message, "filename": f.path, "type": f.type,
         "repoName": c.repository}
        for c in commits for n, f in enumerate(c.patch_set)
    ]
    page, link = paginate(request, files)
    return JSONResponse(page, headers={"Link": link})


async def list_resolved(request: Request) -> JSONResponse:
    """The project's issues resolved in this release: `inRelease` it, or `inNextRelease` when it
    is the first release of the project after the one current at resolution."""
    rt, access, project, found = await _project_release(request)
    every = await rt.read(releases_read.releases, access.organization.id,
                          releases_read.ReleaseFilter(status=None, project_ids=(project.id,)))
    ordered = sorted(every, key=lambda x: (x.date_created, x.version))
    after = {a.version: b.version for a, b in zip(ordered, ordered[1:])}
    ids = await rt.read(issues_read.resolved_in, project.id, found.version,
                        [v for v, nxt in after.items() if nxt == found.version])
    groups = await rt.read(issues_read.groups, [project.id], group_ids=ids) if ids else []
    now = datetime.now(timezone.utc)
    url = rt.settings.public_url
    return JSONResponse([render_events.issue(g, project, access.organization, url, None, now) for g in groups])


# --- deploys ---

async def list_deploys(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], READ)
    org_id = access.organization.id
    found = await _one(rt, org_id, request.path_params["version"])
    deploys = await rt.read(releases_read.deploys, org_id, found.version, found.id)
    page, link = paginate(request, deploys)
    return JSONResponse([render_releases.deploy(d) for d in page], headers={"Link": link})


def _environment(value: str) -> str:
    """Sentry's environment names: 1 to 64 characters, no slash or line breaks."""
    name = _text(value, "environment", 64, required=True) or ""
    if any(ch in name for ch in "/\n\r\f\t") or name.strip() != name:
        raise bad_request("Invalid environment: 1 to 64 characters, without slashes, line breaks or surrounding spaces.")
    return name


async def create_deploy(request: Request) -> Response:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], WRITE)
    org_id = access.organization.id
    found = await _one(rt, org_id, request.path_params["version"])
    data = await body(request, DeployBody)
    issued = rt.bus.meta(access.principal.user.id)
    deploy = r.Deploy(
        id=new_id(), environment=_environment(data.environment), name=_text(data.name, "name", 64),
        url=_url(data.url), date_started=_date(data.dateStarted, "dateStarted"),
        # Never null: sentry-cli cannot read a deploy without it.
        date_finished=_date(data.dateFinished, "dateFinished") or issued.issued_at,
        project_ids=await _projects(rt, org_id, data.projects),
    )
    if not await _execute(rt, r.CreateDeploy(meta=issued, org_id=org_id, version=found.version, deploy=deploy)):
        return Response(status_code=208)
    return JSONResponse(render_releases.deploy(deploy), status_code=201)


# --- repositories ---

async def list_repositories(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], REPOS_READ)
    repos = await rt.read(releases_read.repositories, access.organization.id)
    status = request.query_params.get("status", "active")
    if status not in ("active", ""):
        repos = []
    page, link = paginate(request, repos)
    return JSONResponse([render_releases.repository(x) for x in page], headers={"Link": link})


async def list_repository_commits(request: Request) -> JSONResponse:
    rt = runtime(request)
    access = await rt.auth.organization(request, request.path_params["organization_slug"], REPOS_READ)
    org_id = access.organization.id
    repos = await rt.read(releases_read.repositories, org_id)
    repo = next((x for x in repos if str(x.id) == request.path_params["repo_id"]), None)
    if repo is None:
        raise not_found()
    w = window(request)
    rows = await rt.read(releases_read.repository_commits, org_id, repo.name, w.offset, w.per_page + 1)
    page, link = page_of(request, w, rows)
    by_name = {x.name: x for x in repos}
    return JSONResponse([render_releases.commit(c, org_id, by_name, added) for c, added in page],
                        headers={"Link": link})


# --- project releases ---

async def list_project_releases(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, READ)
    return await _list(request, rt, access, (project.id,))


async def create_project_release(request: Request) -> JSONResponse:
    rt, access, project, _ = await project_access(request, WRITE)
    return await _create(request, rt, access, project)


async def get_project_release(request: Request) -> JSONResponse:
    rt, access, _, found = await _project_release(request)
    return JSONResponse((await rendered(rt, access.organization.id, [found]))[0])


_ORG = "/api/0/organizations/{organization_slug}"
_PROJECT = "/api/0/projects/{organization_slug}/{project_slug}"
routes = [
    Route(f"{_ORG}/releases/", list_releases, methods=["GET"]),
    Route(f"{_ORG}/releases/", create_release, methods=["POST"]),
    Route(f"{_ORG}/releases/{{version}}/", get_release, methods=["GET"]),
    Route(f"{_ORG}/releases/{{version}}/", update_release, methods=["PUT"]),
    Route(f"{_ORG}/releases/{{version}}/", delete_release, methods=["DELETE"]),
    Route(f"{_ORG}/releases/{{version}}/commits/", list_release_commits, methods=["GET"]),
    Route(f"{_ORG}/releases/{{version}}/commitfiles/", list_commit_files, methods=["GET"]),
    Route(f"{_ORG}/releases/{{version}}/deploys/", list_deploys, methods=["GET"]),
    Route(f"{_ORG}/releases/{{version}}/deploys/", create_deploy, methods=["POST"]),
    Route(f"{_ORG}/releases/{{version}}/previous-with-commits/", previous_with_commits, methods=["GET"]),
    Route(f"{_ORG}/repos/", list_repositories, methods=["GET"]),
    Route(f"{_ORG}/repos/{{repo_id}}/commits/", list_repository_commits, methods=["GET"]),
    Route(f"{_PROJECT}/releases/", list_project_releases, methods=["GET"]),
    Route(f"{_PROJECT}/releases/", create_project_release, methods=["POST"]),
    Route(f"{_PROJECT}/releases/{{version}}/", get_project_release, methods=["GET"]),
    Route(f"{_PROJECT}/releases/{{version}}/commits/", list_project_release_commits, methods=["GET"]),
    Route(f"{_PROJECT}/releases/{{version}}/resolved/", list_resolved, methods=["GET"]),
]
