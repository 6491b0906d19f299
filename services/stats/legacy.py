"""The deprecated event-count endpoints: parameters → one ClickHouse query → `[[ts, count], ...]`. Pure.

`GET /api/0/organizations/{org}/stats/`, `/teams/{org}/{team}/stats/` and
`/projects/{org}/{project}/stats/`, as Sentry's `OrganizationStatsEndpoint`, `TeamStatsEndpoint` and
`ProjectStatsEndpoint` answer them over its outcomes-backed TSDB (`sentry.tsdb.snuba`).

Time range (`StatsMixin._parse_args`), checked in this order:

- `resolution`: `<int>h|d|m|s`, and only one of the TSDB rollups: 10 seconds, an hour, a day (so
  `60m` or `3600s` are an hour). Anything else is "Invalid resolution".
- `until`: epoch seconds (a float); absent or empty means now. `since`: epoch seconds; absent or
  empty means `until` less a day plus one second (so 24 hourly buckets). `since` after `until` is an
  error; equal is one bucket.
- Without `resolution` the finest rollup whose retention covers `int(until) - int(since)` seconds:
  10s up to an hour, an hour up to 7 days, else a day.
- Buckets (`BaseTSDB.get_optimal_rollup_series`): starting at `until` and stepping back by the
  resolution while at or after `since`, each instant floored to a multiple of the resolution since
  the epoch. The points are those bucket starts, oldest first, zero-filled; the query covers
  [first bucket, last bucket + resolution), so `until`'s bucket is whole and `since`'s may be absent.

Stats (`SnubaTSDB.outcomes_partial_query_settings`): `sum(quantity)` of error outcomes (categories
default, error and security) whose outcome is

- `received`: accepted, filtered or rate limited (not invalid, abuse or client discards);
- `rejected`: rate limited; `blacklisted`: filtered;
- a filter name (`ip-address`, `browser-extensions`, ..., project endpoint only): received with that
  reason (`project_filter_model_query_settings`);
- `generated` (`TSDBModel.project`): not outcomes but the stored events, a count of `error_events` rows,
  in `environment` when given.

Endpoints:

- Project: `stat` any of the above (default `received`), else "Invalid stat: <stat>".
- Team: `stat` is ignored — Sentry always answers `generated`, summed over the team's projects the
  caller may see; `environment` applies.
- Organization: `group` is `organization` (default: one series for the whole organization, keyed by
  `org_id`, projects the caller cannot see included) or `project` (`{project_id: series}` over the
  caller's projects, narrowed by `projectID`). `id` (repeatable) keeps only the keys listed — org
  ids or project ids. `generated` only with `group=project`. No keys at all answers `[]`.

Deliberate differences: what Sentry answers 500 for (an unknown `group`, a stat the organization
endpoint does not know, a non-numeric `id` or `projectID`, an infinite or out-of-range timestamp) is
InvalidParams here (400); the project endpoint's invalid stat is a 400 with Sentry's message but
rendered as `{"detail": ...}` rather than DRF's list; parameters are all checked before the keys
are known (Sentry answers `[]` for an organization with no keys before it looks at `stat`); more
than MAX_BUCKETS points are refused rather than computed; and no 10,000-row query limit truncates
long series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from picket.ingest.outcomes import Category, OutcomeKind
from picket.stats.outcome_source import outcome_rows
from picket.stats.periods import InvalidParams, param, param_list
from picket.store.rollup import hour_aligned

Scope = Literal["organization", "team", "project"]
SCOPES = ("organization", "team", "project")

TEN_SECONDS = 10
ONE_HOUR = 3600
ONE_DAY = 86400
# (resolution seconds, samples kept): Sentry's default SENTRY_TSDB_ROLLUPS, finest first
ROLLUPS = ((TEN_SECONDS, 360), (ONE_HOUR, 24 * 7), (ONE_DAY, 90))
RESOLUTIONS = tuple(r for r, _ in ROLLUPS)
DEFAULT_RANGE = timedelta(days=1, seconds=-1)
MAX_BUCKETS = 100_000

ERROR_CATEGORIES = (int(Category.DEFAULT), int(Category.ERROR), int(Category.SECURITY))
RECEIVED_OUTCOMES = (int(OutcomeKind.ACCEPTED), int(OutcomeKind.FILTERED), int(OutcomeKind.RATE_LIMITED))
OUTCOME_STATS: dict[str, tuple[int, ...]] = {
    "received": RECEIVED_OUTCOMES,
    "rejected": (int(OutcomeKind.RATE_LIMITED),),
    "blacklisted": (int(OutcomeKind.FILTERED),),
}
GENERATED = "generated"
# Sentry's FilterStatKeys with a TSDB model (`FILTER_STAT_KEYS_TO_VALUES`): a stat of the project
# endpoint each, counting received outcomes with that reason.
FILTER_STATS = (
    "ip-address", "release-version", "error-message", "browser-extensions", "legacy-browsers",
    "localhost", "web-crawlers", "invalid-csp", "cors", "discarded-hash", "filtered-transaction",
)
GROUPS = ("organization", "project")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class LegacyQuery:
    scope: Scope
    stat: str  # received | rejected | blacklisted | generated | a FILTER_STATS name
    group: str  # organization | project for the organization endpoint; else the scope
    since: datetime
    until: datetime
    resolution: int  # seconds: 10, 3600 or 86400
    buckets: tuple[int, ...]  # bucket starts, epoch seconds, oldest first
    environment: str | None = None  # `generated` only
    project_filter: tuple[int, ...] | None = None  # `projectID` (organization, group=project)
    id_filter: tuple[int, ...] | None = None  # `id` (organization)

    @property
    def start(self) -> int:
        """First second the query covers (epoch)."""
        return self.buckets[0]

    @property
    def end(self) -> int:
        """First second after the range the query covers (epoch)."""
        return self.buckets[-1] + self.resolution

    @property
    def by_project(self) -> bool:
        """Whether the body is `{project_id: series}` rather than one series."""
        return self.scope == "organization" and self.group == "project"

    @property
    def key_column(self) -> str:
        """What the keys of `sql()` are: the organization id, or project ids."""
        return "org_id" if self.scope == "organization" and self.group == "organization" else "project_id"


def parse(params: Mapping[str, Sequence[str]], *, scope: Scope, now: datetime) -> LegacyQuery:
    """A LegacyQuery from query parameters, in Sentry's order; InvalidParams (400) when invalid."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    group = scope
    project_filter = id_filter = None
    if scope == "organization":
        group = _param_or(params, "group", "organization")
        if group not in GROUPS:
            raise InvalidParams(f"Invalid group: {group}")
        if group == "project":
            project_filter = _ints(param_list(params, "projectID"), "projectID") or None
        if "id" in params:
            id_filter = _ints(param_list(params, "id"), "id")

    if scope == "team":
        stat = GENERATED  # Sentry's team endpoint reads no `stat`
    else:
        stat = _param_or(params, "stat", "received")
        if scope == "organization":
            if stat not in OUTCOME_STATS and not (stat == GENERATED and group == "project"):
                raise InvalidParams(f"Invalid group: {group}, stat: {stat}")
        elif stat not in OUTCOME_STATS and stat != GENERATED and stat not in FILTER_STATS:
            raise InvalidParams(f"Invalid stat: {stat}")
    environment = param(params, "environment") if stat == GENERATED else None

    resolution = _resolution(param(params, "resolution"))
    until = _timestamp(param(params, "until"), "until must be a numeric timestamp.") or _utc(now)
    since = _timestamp(param(params, "since"), "since must be a numeric timestamp")
    if since is None:
        try:
            since = until - DEFAULT_RANGE
        except OverflowError:
            raise InvalidParams("until must be a numeric timestamp.") from None
    elif since > until:
        raise InvalidParams("start must be before or equal to end")
    if resolution is None:
        resolution = optimal_resolution(since, until)

    return LegacyQuery(
        scope=scope, stat=stat, group=group, since=since, until=until, resolution=resolution,
        buckets=tuple(bucket_series(since, until, resolution)), environment=environment,
        project_filter=project_filter, id_filter=id_filter,
    )


def _param_or(params: Mapping[str, Sequence[str]], name: str, default: str) -> str:
    value = param(params, name)
    return default if value is None else value


def _ints(values: Sequence[str], name: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise InvalidParams(f"Invalid {name} parameter. Values must be numbers.") from None


def _resolution(raw: str | None) -> int | None:
    """`resolution` in seconds (None when absent or empty), as `StatsMixin._parse_resolution`."""
    if not raw:
        return None
    units = {"h": ONE_HOUR, "d": ONE_DAY, "m": 60, "s": 1}
    try:
        seconds = int(raw[:-1]) * units[raw[-1]]
    except (KeyError, ValueError):
        raise InvalidParams("Invalid resolution") from None
    if seconds not in RESOLUTIONS:
        raise InvalidParams("Invalid resolution")
    return seconds


def _timestamp(raw: str | None, error: str) -> datetime | None:
    """Epoch seconds (a float) as an aware datetime; None when absent or empty."""
    if not raw:
        return None
    try:
        seconds = float(raw)
        if not math.isfinite(seconds):
            raise ValueError(raw)
        return _EPOCH + timedelta(seconds=seconds)
    except (ValueError, OverflowError):
        raise InvalidParams(error) from None


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def _epoch_seconds(at: datetime) -> int:
    """Whole seconds since the epoch, truncated toward zero (Sentry's `int(to_timestamp(at))`)."""
    delta = at - _EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return -(-micros // 1_000_000) if micros < 0 else micros // 1_000_000


def optimal_resolution(since: datetime, until: datetime) -> int:
    """The finest rollup whose retention covers the range (`BaseTSDB.get_optimal_rollup`)."""
    seconds = _epoch_seconds(until) - _epoch_seconds(since)
    for resolution, samples in ROLLUPS:
        if resolution * samples >= seconds:
            return resolution
    return ROLLUPS[-1][0]


def bucket_series(since: datetime, until: datetime, resolution: int) -> list[int]:
    """Bucket starts from `until` back while at or after `since`, oldest first."""
    step = timedelta(seconds=resolution)
    count = (until - since) // step + 1
    if count > MAX_BUCKETS:
        raise InvalidParams(
            f"The range would create {count} data points, more than {MAX_BUCKETS}. "
            "Use a larger resolution or a shorter range."
        )
    out = []
    for k in range(count):
        epoch = _epoch_seconds(until - k * step)
        out.append(epoch - epoch % resolution)
    return out[::-1]


def select_keys(q: LegacyQuery, *, org_id: int, project_ids: Sequence[int]) -> list[int]:
    """The keys of the query: the organization's id or project ids, after `projectID` and `id`.

    `project_ids`: the projects of the scope the caller may see — the organization's projects in
    the caller's teams, the team's projects, or the one project. No keys: the body is `[]`.
    """
    if q.key_column == "org_id":
        chosen = [org_id]
    else:
        chosen = sorted(set(project_ids))
        if q.project_filter is not None:
            wanted = set(q.project_filter)
            chosen = [p for p in chosen if p in wanted]
    if q.id_filter is not None:
        kept = set(q.id_filter)
        chosen = [k for k in chosen if k in kept]
    return chosen


def sql(q: LegacyQuery, keys: Sequence[int]) -> tuple[str, dict[str, Any]]:
    """One query; rows are `(key, time, value)`, `key` in `q.key_column`, `time` a bucket start.

    `keys` are those of `select_keys()`: the organization's id when `q.key_column` is `org_id`, else
    project ids. Outcome stats read the deduplicated outcome rows (`outcome_source`), stored-event
    counts the `error_events` table.
    """
    time = "intDiv(toUnixTimestamp(timestamp), {resolution:UInt32}) * {resolution:UInt32}"
    params: dict[str, Any] = {"keys": [int(k) for k in keys], "resolution": q.resolution}
    where = [f"{q.key_column} IN {{keys:Array(UInt64)}}"]
    if q.stat == GENERATED:
        params.update(start=q.start, end=q.end)
        where += ["toUnixTimestamp(timestamp) >= {start:Int64}", "toUnixTimestamp(timestamp) < {end:Int64}",
                  "type != 'transaction'"]
        if q.environment is not None:
            where.append("environment = {environment:String}")
            params["environment"] = q.environment
        source = "{db}.error_events FINAL\nWHERE " + "\n  AND ".join(where)
        value = "count()"
    else:
        params["start"] = datetime.fromtimestamp(q.start, timezone.utc).replace(tzinfo=None)
        params["end"] = datetime.fromtimestamp(q.end, timezone.utc).replace(tzinfo=None)
        params["categories"] = list(ERROR_CATEGORIES)
        where.append("category IN {categories:Array(UInt8)}")
        params["outcomes"] = list(OUTCOME_STATS.get(q.stat, RECEIVED_OUTCOMES))
        where.append("outcome IN {outcomes:Array(UInt8)}")
        if q.stat in FILTER_STATS:
            params["reason"] = q.stat
            where.append("reason = {reason:String}")
        starts = datetime.fromtimestamp(q.start, timezone.utc)
        hourly = hour_aligned(starts, datetime.fromtimestamp(q.end, timezone.utc), q.resolution)
        source = f"(\n{outcome_rows(where, hourly=hourly)}\n)"
        value = "sum(quantity)"

    text = (
        f"SELECT {q.key_column} AS key, {time} AS time, {value} AS value\n"
        f"FROM {source}\nGROUP BY key, time\nORDER BY key, time"
    )
    return text, params


def environment_seen_sql(project_ids: Sequence[int], environment: str) -> tuple[str, dict[str, Any]]:
    """A query with a row when an event of these projects was stored in `environment`."""
    return (
        "SELECT 1 FROM {db}.error_events WHERE project_id IN {projects:Array(UInt64)}"
        " AND environment = {environment:String} LIMIT 1",
        {"projects": [int(p) for p in project_ids], "environment": environment},
    )


def response(q: LegacyQuery, rows: Sequence[Sequence[Any]],
             keys: Sequence[int]) -> list[list[int]] | dict[str, list[list[int]]]:
    """Sentry's body from the rows of `sql(q, keys)`.

    `[[bucket_start, count], ...]` zero-filled over `q.buckets`, summed over the keys; for the
    organization grouped by project `{"<project_id>": [[bucket_start, count], ...]}` with every key.
    No keys: `[]`.
    """
    if not keys:
        return []
    slot = {t: i for i, t in enumerate(q.buckets)}
    counts = {int(k): [0] * len(q.buckets) for k in keys}
    for key, time, value in rows:
        series = counts.get(int(key))
        i = slot.get(int(time))
        if series is not None and i is not None:
            series[i] += int(value)
    if q.by_project:
        return {str(k): [[t, n] for t, n in zip(q.buckets, counts[k])] for k in sorted(counts)}
    totals = [sum(column) for column in zip(*counts.values())]
    return [[t, n] for t, n in zip(q.buckets, totals)]
