"""Rows of the store's tables that several packages share, each carrying its columns.

The pure core makes these rows (`picket.tenancy.project`, `picket.ingest`) and the store writes
them (`picket.store`); neither knows the other. A row's field names are its table's column
names, in the order the insert gives them (`Row._fields`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, NamedTuple

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class EntityRow(NamedTuple):
    """One version of a tenancy record in `entities` (a ReplacingMergeTree on `version`)."""

    kind: str
    org_id: int
    id: int
    parent_id: int
    slug: str
    version: int
    deleted: int
    body: str
    event_id: str
    updated_at: Any


class OutcomeRow(NamedTuple):
    """One outcome in `outcomes_raw`, named by `dedupe_id` so a retried outcome counts once."""

    org_id: int
    project_id: int
    key_id: int
    timestamp: datetime
    outcome: int
    category: int
    reason: str
    quantity: int
    dedupe_id: str


class SessionRow(NamedTuple):
    """One session update (`aggregate` 0: keyed by session id and seq) or one pre-aggregated
    count (`aggregate` 1: keyed by where it came from) in `sessions`."""

    org_id: int
    project_id: int
    session_id: str
    seq: int
    distinct_id: str
    init: int
    status: str
    errors: int
    started: datetime
    timestamp: datetime
    duration: float | None
    release: str
    environment: str
    quantity: int
    exited: int
    errored: int
    abnormal: int
    crashed: int
    aggregate: int
    received: datetime


class FeedbackRow(NamedTuple):
    """One user feedback in `feedback`."""

    org_id: int
    project_id: int
    feedback_id: str
    event_id: str
    name: str
    email: str
    comments: str
    date_created: datetime


class AttachmentRow(NamedTuple):
    """One event attachment in `attachments`, named by its item."""

    project_id: int
    event_id: str
    attachment_id: str
    name: str
    content_type: str
    attachment_type: str
    size: int
    data: bytes
    received: datetime


class CheckInRawRow(NamedTuple):
    """One check-in message as received, in `checkins_raw` (audit and counting)."""

    org_id: int
    project_id: int
    check_in_id: str
    monitor_slug: str
    status: str
    duration: float | None
    environment: str
    payload: str
    received: datetime


class EventRow(NamedTuple):
    """One stored error event in `events`."""

    project_id: int
    event_id: str
    group_id: int
    timestamp: datetime
    received: datetime
    type: str
    platform: str
    level: str
    title: str
    message: str
    culprit: str
    release: str
    environment: str
    transaction: str
    user_tag: str
    user_email: str
    tags_key: list[str]
    tags_value: list[str]
    hash: str
    size: int
    body: str


class TransactionRow(NamedTuple):
    """One transaction in `transactions`: times in UTC, `duration` in milliseconds, tags and
    measurements as parallel arrays (measurements in milliseconds when they are durations)."""

    project_id: int
    event_id: str
    trace_id: str
    span_id: str
    parent_span_id: str
    transaction: str
    op: str
    status: str
    start_timestamp: datetime
    timestamp: datetime
    duration: float
    release: str
    environment: str
    platform: str
    user_id: str
    user_email: str
    user_username: str
    user_ip: str
    user_tag: str
    tags_key: list[str]
    tags_value: list[str]
    measurements_key: list[str]
    measurements_value: list[float]
    http_method: str
    http_url: str
    received: datetime


class GroupRow(NamedTuple):
    """An issue (group) in `groups`, written once when its first event comes."""

    project_id: int
    group_id: int
    short_number: int
    hash: str
    type: str
    title: str
    culprit: str
    level: str
    logger: str
    platform: str
    metadata: str
    first_seen: datetime
    first_release: str


class GroupStatusRow(NamedTuple):
    """One status of an issue in `group_status` (the newest `version` holds)."""

    project_id: int
    group_id: int
    status: str  # unresolved, resolved, ignored; merged and deleted: gone from every list
    substatus: str
    version: int
    status_details: str = "{}"  # StatusDetails as JSON
    ignore_until: datetime = EPOCH  # EPOCH: no time limit; past it an ignored issue reads unresolved
    assignee: str = ""  # "user:<id>", "team:<id>" or ""
    share_id: str = ""  # non-empty while the issue is public
    merged_into: int = 0


class GroupActivityRow(NamedTuple):
    """One entry of an issue's activity (`group_activity`), keyed by the domain event's id."""

    project_id: int
    group_id: int
    id: str
    type: str
    user_id: int  # 0: no user (the system)
    data: str  # JSON
    at: datetime


class GroupUserFlagRow(NamedTuple):
    """One user's flag on an issue (`group_user_flags`: has_seen, bookmarked, subscribed)."""

    project_id: int
    group_id: int
    user_id: int
    flag: str
    value: int
    at: datetime
    version: int


class GroupHashRow(NamedTuple):
    """Which issue a grouping hash belongs to, in `group_hashes`."""

    project_id: int
    hash: str
    group_id: int


class MonitorRow(NamedTuple):
    """One version of a cron monitor in `monitors`."""

    org_id: int
    project_id: int
    monitor_id: int
    slug: str
    version: int
    deleted: int
    body: str
    updated_at: datetime


class MonitorCheckInRow(NamedTuple):
    """One version of a check-in in `monitor_checkins`."""

    org_id: int
    monitor_id: int
    check_in_id: str
    environment: str
    status: str
    duration: int | None
    date_created: datetime
    date_updated: datetime
    expected_time: datetime | None
    version: int
    body: str


class MonitorDeadlineRow(NamedTuple):
    """When a monitor's environment (`check_in_id` "") or an open check-in is next due, in
    `monitor_deadlines`; what the clock reads."""

    org_id: int
    monitor_key: str
    slug: str
    environment: str
    check_in_id: str
    next_checkin_latest: datetime | None
    open_timeouts: datetime | None
    version: int
    deleted: int


class ReleaseRow(NamedTuple):
    """One version of a release in `releases` (ReplacingMergeTree on `agg_version`)."""

    org_id: int
    version: str
    release_id: int
    agg_version: int
    deleted: int
    status: str
    date_created: datetime
    project_ids: list[int]
    body: str


class ReleaseCommitRow(NamedTuple):
    """A commit of a release's commit set `commits_version`, at `position` (0: newest)."""

    org_id: int
    version: str
    commits_version: int
    position: int
    repository: str
    commit_id: str
    body: str


class CommitRow(NamedTuple):
    """A commit of an organization's repository in `commits` (as a repository's commits list it)."""

    org_id: int
    repository: str
    commit_id: str
    date_added: datetime
    body: str


class RepositoryRow(NamedTuple):
    """A repository named by a release's commits; the first row of a name says when it came."""

    org_id: int
    name: str
    repository_id: int
    date_created: datetime


class DeployRow(NamedTuple):
    """A deploy of the release `release_id`."""

    org_id: int
    version: str
    release_id: int
    deploy_id: int
    environment: str
    date_finished: datetime
    body: str


class ReleaseFileRow(NamedTuple):
    """One version of a release file in `release_files` (ReplacingMergeTree on `agg_version`)."""

    org_id: int
    release: str
    file_id: int
    agg_version: int
    deleted: int
    name: str
    dist: str
    sha1: str
    size: int
    date_created: datetime
    body: str


class ArtifactBundleRow(NamedTuple):
    org_id: int
    checksum: str
    bundle_id: int
    agg_version: int
    project_ids: list[int]
    release: str
    dist: str
    date_created: datetime
    body: str


class ArtifactIndexRow(NamedTuple):
    """One file of a bundle, found by release/dist/URL or by debug id."""

    org_id: int
    bundle_id: int
    checksum: str
    project_ids: list[int]
    release: str
    dist: str
    url: str
    debug_id: str
    type: str
    path: str
    date_created: datetime
    body: str


class DebugFileRow(NamedTuple):
    org_id: int
    project_id: int
    file_id: int
    agg_version: int
    deleted: int
    debug_id: str
    code_id: str
    object_name: str
    cpu_name: str
    file_format: str
    checksum: str
    sha1: str
    size: int
    date_created: datetime
    body: str


class BlobRefRow(NamedTuple):
    """A chunk a record holds (`deleted` once the record is gone): a chunk no record holds may go."""

    sha1: str
    record: str  # `<kind>:<id>`
    deleted: int
    at: datetime


class AssembleStatusRow(NamedTuple):
    """Where the assembly of an upload stands (the latest row of org/scope/checksum wins)."""

    org_id: int
    scope: str  # `bundle` or `dif:<project id>`
    checksum: str
    state: str  # assembling, ok, error
    detail: str
    at: datetime


class BlobGcRow(NamedTuple):
    """A chunk a deleted record held: the sweeper removes it once no record holds it."""

    sha1: str
    at: datetime
