"""GET /organizations/{org}/stats_v2/: parameters → one ClickHouse query → Sentry's response. Pure.

Follows Sentry's `OrganizationStatsEndpointV2` and `sentry.snuba.outcomes`:

- `field` is `sum(quantity)` (events; bytes for attachments) and/or `sum(times_seen)` (outcome
  messages: each `outcomes` row is one message, so a count of rows — Sentry counts rows of the raw
  outcomes table and sums the hourly rollup's `count()` the same way).
- `groupBy` is any of `outcome`, `category`, `reason`, `project`; `category` must be grouped by or
  filtered on. Filters: `category` (`error` means default + error + security, and `attachment` stands
  alone), `outcome` (case-insensitive names), `reason` (`spike_protection` is `smart_rate_limit`),
  `key_id`, `project`.
- Projects: with no `project` (or `-1`) and no grouping by project the query is org-wide, with no
  project condition at all. Otherwise the projects are the requested ones (all accessible ones for
  none or `-1`); one the caller may not see raises PermissionError (the caller answers 403, as
  Sentry's `PermissionDenied`); none at all is "No projects available" (400).
- Grouped by project, Sentry runs only its totals query: the response has no `intervals` and no
  `series`. Here too (`StatsQuery.timeseries`).
- Rows of default and security are rendered, and summed, as `error`; `smart_rate_limit` as
  `spike_protection`; an empty reason as `none` (the hourly rollup's `ifNull(reason, 'none')`).

Every other parameter error is `InvalidParams` with Sentry's message (the caller answers 400).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from picket.ingest.outcomes import CATEGORY_NAMES, Category, OutcomeKind
from picket.stats.outcome_source import outcome_rows
from picket.stats.periods import (
    ALL_PROJECTS,
    storable,
    accessible_projects,
    requested_projects,
    InvalidParams,
    constrained_date_range,
    interval_starts,
    isoformat_z,
    param,
    param_list,
)
from picket.store.rollup import hour_aligned

FIELDS = ("sum(quantity)", "sum(times_seen)")
GROUP_BYS = ("outcome", "category", "reason", "project")

# Relay's names (`DataCategory::name`) for the categories the ingest vocabulary does not list.
_EXTRA_CATEGORIES = {
    "metric_bucket": 15, "span_indexed": 16, "profile_duration": 17, "profile_chunk": 18,
    "metric_second": 19, "replay_video": 20,
}
CATEGORY_BY_NAME: dict[str, int] = {**{k: int(v) for k, v in CATEGORY_NAMES.items()}, **_EXTRA_CATEGORIES}
ERROR_CATEGORIES = (int(Category.DEFAULT), int(Category.ERROR), int(Category.SECURITY))
_CATEGORY_NAME: dict[int, str] = {
    **{int(c): c.name.lower() for c in Category},
    int(Category.USER_REPORT_V2): "feedback",
    **{v: k for k, v in _EXTRA_CATEGORIES.items()},
}

CARDINALITY_LIMITED = 6
OUTCOME_BY_NAME: dict[str, int] = {
    **{k.name.lower(): int(k) for k in OutcomeKind}, "cardinality_limited": CARDINALITY_LIMITED,
}
_OUTCOME_NAME = {v: k for k, v in OUTCOME_BY_NAME.items()}

# Column of the `outcomes` table behind each groupBy.
_COLUMN = {"outcome": "outcome", "category": "category", "reason": "reason", "project": "project_id"}


@dataclass(frozen=True)
class StatsQuery:
    org_id: int
    fields: tuple[str, ...]
    group_by: tuple[str, ...]
    # None: org-wide, no project condition; else only these projects
    project_ids: tuple[int, ...] | None
    categories: tuple[int, ...]  # empty: any
    outcomes: tuple[int, ...]  # empty: any
    reasons: tuple[str, ...]  # stored values; empty: any
    key_ids: tuple[int, ...]  # empty: any
    start: datetime
    end: datetime
    interval: timedelta

    @property
    def timeseries(self) -> bool:
        """Whether the response has `intervals` and `series` (not when grouped by project)."""
        return "project" not in self.group_by

    @property
    def columns(self) -> tuple[str, ...]:
        """The names of the columns `sql()` selects, in order."""
        time = ("time",) if self.timeseries else ()
        return tuple(_COLUMN[g] for g in self.group_by) + time + ("quantity", "times_seen")


def parse(params: Mapping[str, Sequence[str]], *, org_id: int, accessible_project_ids: Sequence[int],
          now: datetime, minute_resolution: bool = True) -> StatsQuery:
    """A StatsQuery from query parameters, checked in Sentry's order.

    Raises InvalidParams (400) or PermissionError (403: a requested project is not accessible).
    `minute_resolution` is Sentry's default for stats_v2 (its UI asks for `5m` under six hours);
    False demands whole hours.
    """
    group_by = _unique(param_list(params, "groupBy"))
    project_ids = _projects(params, group_by, accessible_project_ids)

    fields = _unique(param_list(params, "field"))
    if not fields:
        raise InvalidParams('At least one "field" is required.')
    start, end, interval = constrained_date_range(
        {k: params[k] for k in ("start", "end", "statsPeriod", "interval") if k in params},
        now, minute_resolution=minute_resolution,
    )
    for f in fields:
        if f not in FIELDS:
            raise InvalidParams(f'Invalid field: "{f}"')
    for g in group_by:
        if g not in GROUP_BYS:
            raise InvalidParams(f'Invalid groupBy: "{g}"')
    raw_categories = param_list(params, "category")
    if not raw_categories and "category" not in group_by:
        raise InvalidParams("Query must have category as groupby or filter")

    return StatsQuery(
        org_id=org_id,
        fields=tuple(fields),
        group_by=tuple(group_by),
        project_ids=project_ids,
        outcomes=_outcomes(param_list(params, "outcome")),
        categories=_categories(raw_categories),
        reasons=_reasons(param_list(params, "reason")),
        key_ids=_key_ids(param(params, "key_id")),
        start=start,
        end=end,
        interval=timedelta(seconds=interval),
    )


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _projects(params: Mapping[str, Sequence[str]], group_by: Sequence[str],
              accessible: Sequence[int]) -> tuple[int, ...] | None:
    """None (no project condition, as Sentry's org-wide totals) when every project is asked for
    and the answer is not per project; else the projects to query."""
    requested = requested_projects(params)
    if (not requested or requested == {ALL_PROJECTS}) and "project" not in group_by:
        return None
    return accessible_projects(requested, accessible)


def _categories(raw: Sequence[str]) -> tuple[int, ...]:
    resolved: set[int] = set()
    for name in raw:
        number = CATEGORY_BY_NAME.get(name)
        if number is None:
            raise InvalidParams(f'Invalid category: "{name}"')
        if number == Category.ERROR:
            resolved.update(ERROR_CATEGORIES)
        else:
            resolved.add(number)
    if Category.ATTACHMENT in resolved and len(resolved) > 1:
        raise InvalidParams("if filtering by attachment no other category may be present")
    return tuple(sorted(resolved))


def _outcomes(raw: Sequence[str]) -> tuple[int, ...]:
    out = []
    for name in raw:
        number = OUTCOME_BY_NAME.get(name.lower())
        if number is None:
            raise InvalidParams(f'Invalid outcome: "{name}"')
        out.append(number)
    return tuple(sorted(set(out)))


def _reasons(raw: Sequence[str]) -> tuple[str, ...]:
    out: set[str] = set()
    for reason in raw:
        if not reason:
            continue
        if reason == "spike_protection":
            out.add("smart_rate_limit")
        elif reason == "none":
            out.update(("none", ""))  # no reason is stored as '' and rendered as "none"
        else:
            out.add(reason)
    return tuple(sorted(out))


def _key_ids(raw: str | None) -> tuple[int, ...]:
    if not raw:
        return ()
    try:
        return (int(raw),)
    except ValueError:
        raise InvalidParams(f'Invalid key: "{raw}"') from None


def sql(q: StatsQuery) -> tuple[str, dict[str, Any]]:
    """One query over the deduplicated outcome rows (`outcome_source`); its columns are
    `q.columns`."""
    dims = [_COLUMN[g] for g in q.group_by]
    keys = list(dims)
    select = list(dims)
    if q.timeseries:
        select.append("toUnixTimestamp(toStartOfInterval(timestamp, INTERVAL {interval:UInt32} SECOND)) AS time")
        keys.append("time")
    select += ["sum(quantity) AS quantity", "sum(times_seen) AS times_seen"]

    where = ["org_id = {org_id:UInt64}"]
    params: dict[str, Any] = {
        "org_id": q.org_id,
        "start": storable(q.start),
        "end": storable(q.end),
    }
    if q.timeseries:
        params["interval"] = int(q.interval.total_seconds())
    for column, name, kind, values in (
        ("project_id", "project_ids", "Array(UInt64)", q.project_ids),
        ("category", "categories", "Array(UInt8)", q.categories or None),
        ("outcome", "outcomes", "Array(UInt8)", q.outcomes or None),
        ("reason", "reasons", "Array(String)", q.reasons or None),
        ("key_id", "key_ids", "Array(UInt64)", q.key_ids or None),
    ):
        if values is not None:
            where.append(f"{column} IN {{{name}:{kind}}}")
            params[name] = list(values)

    bucket = int(q.interval.total_seconds()) if q.timeseries else 3600
    source = outcome_rows(where, hourly=hour_aligned(q.start, q.end, bucket))
    text = f"SELECT {', '.join(select)}\nFROM (\n{source}\n)"
    if keys:
        text += f"\nGROUP BY {', '.join(keys)}\nORDER BY {', '.join(keys)}"
    return text, params


def render_category(number: int) -> str:
    if number in ERROR_CATEGORIES:
        return "error"
    return _CATEGORY_NAME.get(number, "unknown")


def render_outcome(number: int) -> str:
    return _OUTCOME_NAME.get(number, "unknown")


def render_reason(reason: str | None) -> str:
    if not reason:
        return "none"
    return "spike_protection" if reason == "smart_rate_limit" else reason


_RENDER = {"outcome": render_outcome, "category": render_category, "reason": render_reason, "project": int}
_FIELD_COLUMN = {"sum(quantity)": "quantity", "sum(times_seen)": "times_seen"}


def response(q: StatsQuery, rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Sentry's body from the rows of `sql(q)` (tuples in `q.columns` order).

    Groups exist for the dimension values seen in `rows`, sorted by their `by` values in groupBy
    order; series are zero-filled over every interval of [start, end).
    """
    starts = interval_starts(q.start, q.end, int(q.interval.total_seconds())) if q.timeseries else []
    slot = {_epoch(at): i for i, at in enumerate(starts)}
    index = {name: i for i, name in enumerate(q.columns)}

    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(_RENDER[g](row[index[_COLUMN[g]]]) for g in q.group_by)
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "totals": dict.fromkeys(q.fields, 0),
                "series": {f: [0] * len(starts) for f in q.fields},
            }
        i = slot.get(_epoch(row[index["time"]])) if q.timeseries else None
        for f in q.fields:
            value = int(row[index[_FIELD_COLUMN[f]]])
            group["totals"][f] += value
            if i is not None:
                group["series"][f][i] += value

    out_groups = []
    for key in sorted(groups):
        entry: dict[str, Any] = {"by": dict(zip(q.group_by, key)), "totals": groups[key]["totals"]}
        if q.timeseries:
            entry["series"] = groups[key]["series"]
        out_groups.append(entry)

    body: dict[str, Any] = {"start": isoformat_z(q.start), "end": isoformat_z(q.end)}
    if q.timeseries:
        body["intervals"] = [isoformat_z(at) for at in starts]
    body["groups"] = out_groups
    return body


def _epoch(value: Any) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.timestamp())
    return int(value)
