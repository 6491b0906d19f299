"""The filters of an event list (a project's events, an issue's events) as one condition on
`error_events`: `query` in Sentry's search syntax (the fields of `picket.discover.fields`),
`environment` (repeated) and, when given, `statsPeriod` or `start`/`end`. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from picket.discover.conditions import conditions
from picket.discover.fields import Binder
from picket.search import syntax as search
from picket.stats.periods import InvalidParams, date_range, param, param_list, storable
from picket.store.issues_read import Condition


def event_condition(params: Mapping[str, Sequence[str]], *, projects: Mapping[int, str],
                    now: datetime) -> Condition | None:
    """None when nothing filters; InvalidParams (400) for a malformed or unsupported filter.
    `projects`: the ids and slugs the `project` field may name."""
    binder = Binder({"project_ids": list(projects), "project_slugs": list(projects.values())})
    parts = []
    if any(param(params, name) for name in ("statsPeriod", "start", "end", "statsPeriodStart", "statsPeriodEnd")):
        start, end = date_range(params, now)
        utc = "DateTime64(3, 'UTC')"
        parts.append(f"timestamp >= {binder.bind(storable(start), utc)}"
                     f" AND timestamp < {binder.bind(storable(end), utc)}")
    environments = param_list(params, "environment")
    if environments:
        parts.append(f"environment IN {binder.bind(environments, 'Array(String)')}")
    try:
        found = conditions(search.parse(param(params, "query") or ""), binder, now, seconds=1.0)
    except search.SearchError as exc:
        raise InvalidParams(str(exc)) from None
    if found.having:
        raise InvalidParams("An event list takes no conditions on functions.")
    if found.where:
        parts.append(found.where)
    return Condition(" AND ".join(parts), binder.params) if parts else None
