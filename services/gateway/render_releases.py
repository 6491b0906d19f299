"""Releases, commits, deploys and repositories as Sentry's API shows them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from picket.gateway.render import iso
from picket.releases.state import repository_id
from picket.releases.versions import parse_release
from picket.schemas.entities import Project
from picket.schemas.releases import Commit, Deploy, Release
from picket.store.releases_read import Repository, Seen

NO_PROVIDER = {"id": "unknown", "name": "Unknown Provider"}


def repository(repo: Repository) -> dict[str, Any]:
    return {
        "id": str(repo.id),
        "name": repo.name,
        "url": None,
        "provider": NO_PROVIDER,
        "status": "active",
        "dateCreated": iso(repo.date_created),
        "integrationId": None,
        "externalSlug": None,
    }


def commit(c: Commit, org_id: int, repos: Mapping[str, Repository], date_added: Any = None) -> dict[str, Any]:
    """A commit: `dateCreated` is its timestamp (when it was first named, without one)."""
    repo = repos.get(c.repository) or Repository(repository_id(org_id, c.repository), c.repository, date_added)
    out: dict[str, Any] = {
        "id": c.id,
        "message": c.message,
        "dateCreated": iso(c.timestamp or date_added),
        "pullRequest": None,
        "suspectCommitType": "",
        "repository": repository(repo),
    }
    if c.author_email:
        out["author"] = {"name": c.author_name or c.author_email.split("@")[0], "email": c.author_email}
    return out


def deploy(d: Deploy) -> dict[str, Any]:
    return {
        "id": str(d.id),
        "environment": d.environment,
        "dateStarted": iso(d.date_started),
        "dateFinished": iso(d.date_finished),
        "name": d.name,
        "url": d.url,
    }


def version_info(version: str) -> dict[str, Any]:
    parts = parse_release(version)
    return {
        "package": parts.package,
        "version": {"raw": parts.version_raw},
        "description": parts.description,
        "buildHash": None,
    }


def release(r: Release, projects: Mapping[int, Project], seen: Mapping[tuple[str, int], Seen],
            repos: Mapping[str, Repository], health: Iterable[int] = ()) -> dict[str, Any]:
    """A release; `seen`: what each of its projects' events say of it, `health`: its projects
    with sessions of it."""
    mine = [projects[p] for p in r.project_ids if p in projects]
    by_project = [seen.get((r.version, p.id), Seen()) for p in mine]
    firsts = [s.first_event for s in by_project if s.first_event]
    lasts = [s.last_event for s in by_project if s.last_event]
    with_health = set(health)
    return {
        "id": r.id,
        "version": r.version,
        "status": r.status,
        "shortVersion": parse_release(r.version).description,
        "versionInfo": version_info(r.version),
        "ref": r.ref,
        "url": r.url,
        "dateReleased": iso(r.date_released),
        "dateCreated": iso(r.date_created),
        "dateStarted": iso(r.date_started),
        "data": {},
        "newGroups": sum(s.new_groups for s in by_project),
        "owner": None,
        "commitCount": r.commit_count,
        "lastCommit": commit(r.last_commit, r.org_id, repos, r.date_created) if r.last_commit else None,
        "deployCount": r.deploy_count,
        "lastDeploy": deploy(r.last_deploy) if r.last_deploy else None,
        "authors": [{"name": a.name, "email": a.email} for a in r.authors],
        "projects": [
            {"id": p.id, "slug": p.slug, "name": p.name, "newGroups": s.new_groups, "platform": p.platform,
             "platforms": [p.platform] if p.platform else [], "hasHealthData": p.id in with_health}
            for p, s in zip(mine, by_project)
        ],
        "firstEvent": iso(min(firsts)) if firsts else None,
        "lastEvent": iso(max(lasts)) if lasts else None,
        "currentProjectMeta": {},
        "userAgent": None,
    }


def issue_release(version: str, r: Release | None, project: Project, seen: Seen, fallback: Any) -> dict[str, Any]:
    """An issue's `firstRelease` / `lastRelease`: the release as the issue's project knows it,
    in the reference's types (authors by email, the last commit and deploy by id). `r` is None
    for a release not (yet) in the releases projection; `fallback` dates what nothing else does."""
    first = seen.first_event or (r.date_created if r else fallback)
    return {
        "version": version,
        "shortVersion": parse_release(version).description,
        "ref": r.ref if r else None,
        "url": r.url if r else None,
        "dateCreated": iso(r.date_created if r else first),
        "dateReleased": iso(r.date_released) if r else None,
        "data": {},
        "owner": None,
        "commitCount": r.commit_count if r else 0,
        "lastCommit": r.last_commit.id if r and r.last_commit else None,
        "deployCount": r.deploy_count if r else 0,
        "lastDeploy": str(r.last_deploy.id) if r and r.last_deploy else None,
        "authors": [a.email for a in r.authors] if r else [],
        "newGroups": seen.new_groups,
        "firstEvent": iso(first),
        "lastEvent": iso(seen.last_event or first),
        "projects": [{"name": project.name, "slug": project.slug}],
    }
