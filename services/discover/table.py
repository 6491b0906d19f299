"""GET /organizations/{org}/events/ (Discover, table format): parameters → one ClickHouse query →
Sentry's `{"data": [...], "meta": {"fields": ..., "units": ...}}`. Pure.

- `field` (1 to 20): columns, tags and functions (`picket.discover.fields`); with a function
  present, the other fields are the group-by.
- `query`: Sentry's search syntax (`picket.discover.conditions`).
- `sort` (repeated; `-` for descending): each must be a requested field; by default the first
  field, descending when it is a function or the timestamp.
- `project` (repeated; none or `-1`: every project the caller may see), `environment`
  (repeated), `statsPeriod` or `start`/`end` (default 14 days).
- Pages: `per_page` ≤ 100 (default 50) from `cursor`'s offset; one row more than a page is read
  to tell whether a next page exists.
- `dataset`: `errors`, `transactions` or `discover` (the default, as in Sentry: both, told apart
  by `event.type`) (`picket.discover.datasets`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from picket.discover.conditions import conditions
from picket.discover.datasets import DATASETS
from picket.discover.fields import MAX_FIELDS, Binder, Selected, selected
from picket.search import syntax as search
from picket.stats.periods import (
    InvalidParams, accessible_projects, date_range, param, param_list, requested_projects, storable)

DEFAULT_PERIOD = "14d"


@dataclass(frozen=True)
class TableQuery:
    fields: tuple[Selected, ...]
    sql: str
    params: dict[str, Any]


def parse(params: Mapping[str, Sequence[str]], *, accessible: Mapping[int, str], now: datetime,
          offset: int, limit: int) -> TableQuery:
    """The query a request asks for (`accessible`: the caller's project ids and slugs; `limit`:
    rows to read, a page and one more). InvalidParams (400) or PermissionError (403)."""
    names = param_list(params, "field")
    if not names:
        raise InvalidParams("No columns selected")
    if len(names) > MAX_FIELDS:
        raise InvalidParams(f"You can view up to {MAX_FIELDS} fields at a time. Please delete some and try again.")
    start, end = date_range(params, now, DEFAULT_PERIOD)
    project_ids = accessible_projects(requested_projects(params), list(accessible))
    binder = Binder({"project_ids": list(project_ids), "project_slugs": [accessible[p] for p in project_ids],
                     "start": storable(start), "end": storable(end)})
    dataset = DATASETS.get(param(params, "dataset") or "discover")
    if dataset is None:
        raise InvalidParams(f"dataset must be one of: {', '.join(DATASETS)}")
    seconds = (end - start).total_seconds()
    fields = tuple(selected(name, binder, seconds, dataset) for name in dict.fromkeys(names))
    try:
        tree = search.parse(param(params, "query") or "")
    except search.SearchError as exc:
        raise InvalidParams(str(exc)) from None
    base = ["project_id IN {project_ids:Array(UInt64)}", "timestamp >= {start:DateTime64(3, 'UTC')}",
            "timestamp < {end:DateTime64(3, 'UTC')}"]
    environments = param_list(params, "environment")
    if environments:
        base.append(f"environment IN {binder.bind(environments, 'Array(String)')}")
    source, where = dataset.source(" AND ".join(base), _event_types(tree))
    try:
        found = conditions(tree, binder, now, seconds, dataset)
    except search.SearchError as exc:  # a value that is not what its field holds
        raise InvalidParams(str(exc)) from None
    if found.where:
        where.append(found.where)
    aggregated = any(f.aggregate for f in fields)
    group_by = [f"f{i}" for i, f in enumerate(fields) if not f.aggregate] if aggregated else []
    if found.having and not aggregated:
        raise InvalidParams("A condition on a function needs a function among the fields.")
    sql = (
        "SELECT " + ", ".join(f"{f.sql} AS f{i}" for i, f in enumerate(fields))
        + f" FROM {source}" + (" WHERE " + " AND ".join(where) if where else "")
        + (" GROUP BY " + ", ".join(group_by) if group_by else "")
        + (f" HAVING {found.having}" if found.having else "")
        + " ORDER BY " + ", ".join(_order(params, fields))
        + f" LIMIT {binder.bind(limit, 'UInt32')} OFFSET {binder.bind(offset, 'UInt64')}"
        # Both tables' partitions are functions of their keys (a row's copies share a partition),
        # so FINAL may deduplicate partition by partition, and skip those merged into one part.
        + " SETTINGS do_not_merge_across_partitions_select_final = 1"
    )
    return TableQuery(fields, sql, binder.params)


def _event_types(tree: search.Node | None) -> frozenset[str] | None:
    """The event types a query's top-level `event.type:…` filter lets through (None: any)."""
    for node in tree.items if isinstance(tree, search.And) else (tree,):
        if isinstance(node, search.Filter) and node.key == "event.type" and not node.negated and node.op in ("=", "in"):
            values = node.value if isinstance(node.value, tuple) else (node.value,)
            if not any(v.wildcard for v in values):
                return frozenset(v.text for v in values)
    return None


def _order(params: Mapping[str, Sequence[str]], fields: Sequence[Selected]) -> list[str]:
    index = {f.name: i for i, f in enumerate(fields)}
    sorts = param_list(params, "sort")
    if not sorts:
        first = fields[0]
        return [f"f0 {'DESC' if first.aggregate or first.type == 'date' else 'ASC'}"]
    out = []
    for sort in sorts:
        name = sort.removeprefix("-")
        if name not in index:
            raise InvalidParams(f"Cannot sort by a field that is not selected: {name}")
        out.append(f"f{index[name]} {'DESC' if sort.startswith('-') else 'ASC'}")
    return out


def response(q: TableQuery, rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Sentry's table body for `rows` (already cut to the page)."""
    return {
        "data": [{f.name: _value(f, v) for f, v in zip(q.fields, row)} for row in rows],
        "meta": {"fields": {f.name: f.type for f in q.fields},
                 "units": {f.name: f.unit for f in q.fields}},
    }


def _value(field: Selected, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    if value is None or field.type not in ("integer", "number", "rate", "duration", "percentage"):
        return value
    if isinstance(value, float) and not math.isfinite(value):  # no JSON for it: Sentry's null
        return None
    return int(value) if field.type == "integer" else float(value)
