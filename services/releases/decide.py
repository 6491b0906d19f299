"""decide(key, state, command) -> Accepted(events) | Rejected(outcome, detail). Pure.

A release's commands are decided by its single writer: whether it exists, whether a POST adds
anything (nothing new is a `conflict`, which the gateway answers 208 with the release, as
Sentry), whether a deploy was reported already, whether the release may be deleted.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import msgspec

from picket.decisions import Accepted, Decision, Emitter, Rejected
from picket.releases.state import ReleaseState, deploy_key
from picket.schemas.releases import (
    Author,
    Commit,
    CreateDeploy,
    DeleteRelease,
    Ref,
    Release,
    ReleaseArchived,
    ReleaseCommitsSet,
    ReleaseCreated,
    ReleaseDeleted,
    ReleaseDeployed,
    ReleaseEventMeta,
    ReleaseFinalized,
    ReleaseRestored,
    ReleaseUpdated,
    UpdateRelease,
    UpsertRelease,
)

NOT_FOUND = "The requested resource does not exist"
HAS_DEPLOYS = "This release has deploys and cannot be removed."
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def decide(key: str, state: ReleaseState, command: Any) -> Decision:
    if command.meta.command_id in state.recent_commands:
        return Accepted([], duplicate=True)
    emit = Emitter(command, key, state.version, ReleaseEventMeta, command.meta.issued_at)
    release = state.release
    match command:
        case UpsertRelease():
            if release is None:
                release = _new(command)
                emit(ReleaseCreated, release=release)
            else:
                release = _add_projects(release, command.project_ids, emit)
            release = _status(release, command.status, emit)
            _commits(release, command.commits, command.refs, emit)
            if not emit.events:
                return Rejected("conflict", "This release exists already.", release.id)
        case UpdateRelease():
            if release is None:
                return Rejected("not_found", NOT_FOUND)
            _update(release, command, emit)
        case DeleteRelease():
            if release is None:
                return Rejected("not_found", NOT_FOUND)
            if release.deploy_count:
                return Rejected("invalid", HAS_DEPLOYS)
            emit(ReleaseDeleted, release=release)
        case CreateDeploy():
            if release is None:
                return Rejected("not_found", NOT_FOUND)
            known = state.deploys.get(deploy_key(command.deploy))
            if known is not None:
                return Rejected("conflict", "This deploy was reported already.", known)
            _deploy(release, command, emit)
        case _:
            return Rejected("invalid", f"{type(command).__name__} does not apply to a release.")
    return emit.done()


def _new(command: UpsertRelease) -> Release:
    return Release(
        id=command.release_id, org_id=command.org_id, version=command.version,
        date_created=command.meta.issued_at, project_ids=tuple(sorted(set(command.project_ids))),
        ref=command.ref or None, url=command.url or None, date_released=command.date_released,
        date_started=command.date_started, owner_user_id=command.meta.actor_user_id,
    )


def _add_projects(release: Release, project_ids: tuple[int, ...], emit: Emitter) -> Release:
    added = set(project_ids) - set(release.project_ids)
    if not added:
        return release
    release = msgspec.structs.replace(release, project_ids=tuple(sorted({*release.project_ids, *added})))
    emit(ReleaseUpdated, release=release, changed=("projects",))
    return release


def _status(release: Release, status: str | None, emit: Emitter) -> Release:
    if status is None or status == release.status:
        return release
    release = msgspec.structs.replace(release, status=status)
    emit(ReleaseArchived if status == "archived" else ReleaseRestored, release=release)
    return release


def _update(release: Release, command: UpdateRelease, emit: Emitter) -> None:
    changes = {name: value for name, value in (("ref", command.ref), ("url", command.url))
               if value and value != getattr(release, name)}
    if changes:
        release = msgspec.structs.replace(release, **changes)
        emit(ReleaseUpdated, release=release, changed=tuple(changes))
    release = _add_projects(release, command.project_ids, emit)
    if command.date_released is not None and command.date_released != release.date_released:
        release = msgspec.structs.replace(release, date_released=command.date_released)
        emit(ReleaseFinalized, release=release)
    release = _status(release, command.status, emit)
    _commits(release, command.commits, command.refs, emit)


def _commits(release: Release, commits: tuple[Commit, ...] | None, refs: tuple[Ref, ...] | None,
             emit: Emitter) -> None:
    """Set the release's commits: those given (newest first, as Sentry orders them by timestamp,
    keeping the given order where there is none), else each ref's head commit (no provider here
    lists a range's commits: the range is recorded, its head commit stands for it)."""
    if commits is None and refs is None:
        return
    if commits is None:
        commits = tuple(Commit(id=ref.commit, repository=ref.repository) for ref in refs or ())
    unique: dict[tuple[str, str], Commit] = {}  # the first of each commit, newest first
    for commit in sorted(commits, key=lambda c: c.timestamp or _EPOCH, reverse=True):
        unique.setdefault((commit.repository, commit.id), commit)
    authors: dict[str, Author] = {}
    for commit in unique.values():
        if commit.author_email and commit.author_email not in authors:
            name = commit.author_name or commit.author_email.split("@")[0]
            authors[commit.author_email] = Author(name=name, email=commit.author_email)
    listed = tuple(unique.values())
    release = msgspec.structs.replace(
        release, commit_count=len(listed), commits_version=emit.version + len(emit.events) + 1,
        last_commit=listed[0] if listed else None, authors=tuple(authors.values()),
        refs=refs if refs is not None else release.refs,
    )
    emit(ReleaseCommitsSet, release=release, commits=listed, refs=refs or ())


def _deploy(release: Release, command: CreateDeploy, emit: Emitter) -> None:
    deploy = command.deploy
    if not deploy.project_ids:
        deploy = msgspec.structs.replace(deploy, project_ids=release.project_ids)
    last = release.last_deploy
    newest = deploy if last is None or deploy.date_finished >= last.date_finished else last
    release = msgspec.structs.replace(
        release, deploy_count=release.deploy_count + 1, last_deploy=newest,
        project_ids=tuple(sorted({*release.project_ids, *deploy.project_ids})),
    )
    emit(ReleaseDeployed, release=release, deploy=deploy)
