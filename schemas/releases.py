"""Releases: records, commands and domain events of the releases context.

Aggregate: one release of an organization (key `release:<org id>:<version>`), with its projects,
commits and deploys. Everything time-bound travels in the command (`meta.issued_at`), so
deciding is pure. Evolution rule for events: add fields with defaults; never change or remove one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from picket.schemas.commands import CommandMeta

ReleaseStatus = Literal["open", "archived"]
ChangeType = Literal["A", "M", "D"]


class FileChange(msgspec.Struct, kw_only=True, frozen=True):
    """A file a commit touched: added, modified or deleted."""

    path: str
    type: ChangeType


class Commit(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    id: str  # the commit SHA (or any id the VCS uses)
    repository: str
    message: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    timestamp: datetime | None = None
    patch_set: tuple[FileChange, ...] = ()


class Ref(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A release's head commit in a repository, and the previous release's (the range)."""

    repository: str
    commit: str
    previous_commit: str | None = None


class Author(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    email: str


class Deploy(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    environment: str
    date_finished: datetime
    name: str | None = None
    url: str | None = None
    date_started: datetime | None = None
    project_ids: tuple[int, ...] = ()


class Release(msgspec.Struct, kw_only=True, frozen=True):
    """What a release is, whole, as every event carries it."""

    id: int
    org_id: int
    version: str
    date_created: datetime
    project_ids: tuple[int, ...]
    ref: str | None = None
    url: str | None = None
    date_released: datetime | None = None
    date_started: datetime | None = None
    status: ReleaseStatus = "open"
    owner_user_id: int | None = None
    # Commits: the set given last (its event's aggregate version names its rows in the store).
    commit_count: int = 0
    commits_version: int = 0
    last_commit: Commit | None = None
    authors: tuple[Author, ...] = ()
    refs: tuple[Ref, ...] = ()
    deploy_count: int = 0
    last_deploy: Deploy | None = None


# --- commands (topic releases-commands, key = release:<org id>:<version>) ---

class _ReleaseCommand(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    meta: CommandMeta
    org_id: int
    version: str


class UpsertRelease(_ReleaseCommand, tag="upsert_release"):
    """POST of a release: create it, or add `project_ids` to it and apply `status`, `commits` and
    `refs` (a release that exists keeps its `ref`, `url` and dates, as Sentry)."""

    release_id: int  # used only when creating
    project_ids: tuple[int, ...] = ()
    ref: str | None = None
    url: str | None = None
    date_released: datetime | None = None
    date_started: datetime | None = None
    status: ReleaseStatus | None = None
    commits: tuple[Commit, ...] | None = None  # None: unchanged; () clears
    refs: tuple[Ref, ...] | None = None


class UpdateRelease(_ReleaseCommand, tag="update_release"):
    """PUT of a release: None leaves a field as it is (as Sentry, which ignores empty values)."""

    ref: str | None = None
    url: str | None = None
    date_released: datetime | None = None
    status: ReleaseStatus | None = None
    project_ids: tuple[int, ...] = ()  # projects to add
    commits: tuple[Commit, ...] | None = None
    refs: tuple[Ref, ...] | None = None


class DeleteRelease(_ReleaseCommand, tag="delete_release"):
    """Delete the release; refused while it has deploys. The gateway refuses first when issues
    were first seen in it or it has health data (read from the store, as Sentry checks them)."""


class CreateDeploy(_ReleaseCommand, tag="create_deploy"):
    """Record a deploy; one identical to a deploy the release has (a client's retry) is a
    conflict, answered 208 as Sentry does."""

    deploy: Deploy


ReleaseCommand = UpsertRelease | UpdateRelease | DeleteRelease | CreateDeploy


def release_key(org_id: int, version: str) -> str:
    return f"release:{org_id}:{version}"


# --- domain events (topic releases-events, public, key = release:<org id>:<version>) ---

class ReleaseEventMeta(msgspec.Struct, kw_only=True, frozen=True):
    event_id: str  # unique and stable: `<command id>:<n>`
    aggregate: str
    version: int
    timestamp: datetime
    command_id: str
    reply_to: str | None = None


class _ReleaseEvent(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    meta: ReleaseEventMeta
    release: Release  # as it is after the event


class ReleaseCreated(_ReleaseEvent, tag="release_created"):
    pass


class ReleaseUpdated(_ReleaseEvent, tag="release_updated"):
    """`changed`: the fields set (`ref`, `url`, `date_started`, `projects`)."""

    changed: tuple[str, ...] = ()


class ReleaseFinalized(_ReleaseEvent, tag="release_finalized"):
    """`date_released` was set."""


class ReleaseArchived(_ReleaseEvent, tag="release_archived"):
    pass


class ReleaseRestored(_ReleaseEvent, tag="release_restored"):
    pass


class ReleaseCommitsSet(_ReleaseEvent, tag="release_commits_set"):
    """The release's commits are now `commits` (newest first); `refs`: the ranges given, whose
    head commits these are when no commits were given."""

    commits: tuple[Commit, ...] = ()
    refs: tuple[Ref, ...] = ()


class ReleaseDeployed(_ReleaseEvent, tag="release_deployed"):
    deploy: Deploy


class ReleaseDeleted(_ReleaseEvent, tag="release_deleted"):
    pass


ReleaseEvent = (ReleaseCreated | ReleaseUpdated | ReleaseFinalized | ReleaseArchived | ReleaseRestored
                | ReleaseCommitsSet | ReleaseDeployed | ReleaseDeleted)
