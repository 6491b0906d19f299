"""GET /organizations/{org}/sessions/: parameters → one ClickHouse query → Sentry's response. Pure.

Follows Sentry's release-health sessions API as served from its metrics backend
(`sentry.snuba.sessions_v2.QueryDefinition`, `get_constrained_date_range`,
`sentry.release_health.metrics_sessions_v2`, `OrganizationSessionsEndpoint`):

Data. `sessions` holds session *updates* (one row per sid and seq) and pre-aggregated
`sessions` items (`aggregate = 1`). A session counts once however many updates it had; its latest
update (highest seq, then timestamp) gives its status and duration, its highest `errors` whether
it errored. Each session falls in exactly one class, as Sentry's `session.status`:

- `crashed` / `abnormal`: its final status;
- `errored`: final status `errored`, or any errors while not crashed/abnormal;
- `healthy`: everything else (`ok` still running, or `exited` without errors).

Aggregate rows contribute `exited`/`errored`/`abnormal`/`crashed` counts the same way (their
`errored` is "errored, neither crashed nor abnormal", as Relay sends it). Users are distinct
non-empty, non-nil `distinct_id`s; a user is crashed/abnormal when one of their sessions is, errored
(in Sentry's "all errored" sense) when one is not healthy. `session.status` groups follow Sentry's
arithmetic: healthy users = users - all-errored users, errored users = all-errored users - users
that crashed or were abnormal (never below 0). Durations (milliseconds) come only from sessions
whose final update is `exited` and carries a duration, and appear in the `healthy` status group.

Fields: `sum(session)`, `count_unique(user)`, avg/p50/p75/p90/p95/p99/max of `session.duration`,
`crash_rate(session|user)` and `crash_free_rate(session|user)` (= 1 - crash rate; null where the
denominator is 0). groupBy: `project`, `release`, `environment`, `session.status`.

Query (`query=`): Sentry's search syntax restricted to `release`, `environment`, `project` (slug,
or id), `project_id`/`project.id` and `session.status`: `key:value`, `key:"quoted"`, `!key:value`,
`key:[a, "b"]`, implicit AND, `AND`/`OR` (any case; AND binds tighter) and parentheses. Anything
else is Sentry's 400: unknown key "Invalid search filter: <key>", free text "Invalid search filter:
message", a `*` "Invalid condition: wildcard search is not supported". `session.status` filters
must be top-level AND terms; they select status classes (see `_status_values`).

Range: `statsPeriod` (default 90d), `statsPeriodStart`/`statsPeriodEnd` or `start`/`end`; the
interval (default 1h; a non-period falls back to 1h as in Sentry) must be a multiple of ten
seconds (the metrics backend's resolution), at most a day and divide a day; a start in the future
is clamped to now, the start floored and the end ceiled to the interval, at most 1000 intervals.

Groups: ordered by `orderBy` (one requested field, `-` for descending; nulls last), else by the
primary field descending (`sum(session)` when requested, else the first field); ties by `by`.
Paginated by `per_page` and an offset `cursor` ("0:<offset>:<is_prev>"); at most
5000 // intervals groups per page. Grouping by `session.status` yields the four status groups of
each group. No data: no groups, except one empty `by` group (no groupBy) or the four status groups
(groupBy only `session.status`) filled with zeros / nulls.

Errors: `InvalidParams` with Sentry's message (answer 400); `PermissionError` when a requested
`project` is not accessible (answer 403, as stats_v2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Union

from picket.search import syntax as search
from picket.stats.periods import (
    accessible_projects,
    storable,
    requested_projects,
    MAX_POINTS,
    ONE_DAY,
    InvalidParams,
    date_range,
    interval_starts,
    isoformat_z,
    param,
    param_list,
    parse_interval,
    to_intervals,
)
from picket.store.session_rows import MERGES, NIL_USER, STATES, per_session
from picket.store.rollup import current_versions_sql, horizon_sql, hour_aligned
from picket.store.rollups import SESSIONS

SNUBA_LIMIT = 5000  # Sentry's cap on data points (groups x intervals) and on per_page
SMALLEST_INTERVAL = 10  # seconds: Sentry's metrics-backed sessions allow ten-second resolution

COUNT_FIELDS = ("sum(session)", "count_unique(user)")
DURATION_FIELDS = {
    "avg(session.duration)": "avg",
    "p50(session.duration)": 0,
    "p75(session.duration)": 1,
    "p90(session.duration)": 2,
    "p95(session.duration)": 3,
    "p99(session.duration)": 4,
    "max(session.duration)": "max",
}
RATE_FIELDS = ("crash_rate(session)", "crash_rate(user)", "crash_free_rate(session)", "crash_free_rate(user)")
FIELDS = (*COUNT_FIELDS, *DURATION_FIELDS, *RATE_FIELDS)
GROUP_BYS = ("project", "release", "environment", "session.status")
STATUSES = ("abnormal", "crashed", "errored", "healthy")  # Sentry's SessionStatus order
_UNSORTABLE = frozenset({"healthy", "errored"})
_DIM_COLUMN = {"project": "project_id", "release": "release", "environment": "environment"}
_FILTER_KEYS = {
    "release": "release", "environment": "environment", "project": "project",
    "project_id": "project_id", "project.id": "project_id", "session.status": "session.status",
}


# --- the query ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """One `key:value` term: `column` is `release`, `environment`, `project_id` or `session.status`."""

    column: str
    values: tuple[Any, ...]
    negated: bool = False
    is_list: bool = False


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    items: tuple[Node, ...]


Node = Union[Filter, BoolOp]


@dataclass(frozen=True)
class SessionsQuery:
    org_id: int
    project_ids: tuple[int, ...]
    fields: tuple[str, ...]
    group_by: tuple[str, ...]
    start: datetime
    end: datetime
    interval: int  # seconds
    query: str  # the `query` parameter as given
    condition: Node | None  # release/environment/project filters of `query`
    environments: tuple[str, ...]  # the `environment` parameter; empty: any
    status_filter: frozenset[str] | None  # session.status terms of `query`; None: no such term
    order_by: str | None  # a field of `fields`; None: Sentry's default (primary field, descending)
    descending: bool
    per_page: int | None
    offset: int
    include_totals: bool = True
    include_series: bool = True

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The stored columns grouped by (`session.status` is virtual)."""
        return tuple(_DIM_COLUMN[g] for g in self.group_by if g in _DIM_COLUMN)

    @property
    def by_status(self) -> bool:
        return "session.status" in self.group_by

    @property
    def needs_users(self) -> bool:
        return any(f in ("count_unique(user)", "crash_rate(user)", "crash_free_rate(user)") for f in self.fields)

    @property
    def duration_aggregates(self) -> tuple[str, ...]:
        """Which of `avg`, `quantiles`, `max` the duration fields need."""
        kinds = {DURATION_FIELDS[f] for f in self.fields if f in DURATION_FIELDS}
        out = []
        if "avg" in kinds:
            out.append("duration_avg")
        if any(isinstance(k, int) for k in kinds):
            out.append("duration_quantiles")
        if "max" in kinds:
            out.append("duration_max")
        return tuple(out)

    @property
    def columns(self) -> tuple[str, ...]:
        """The names of the columns `sql()` selects, in order. `bucket` is null on totals rows."""
        users = ("users", "users_crashed", "users_abnormal", "users_errored", "users_crashed_or_abnormal")
        return (
            *self.dimensions, "bucket", "sessions", "crashed", "abnormal", "errored",
            *(users if self.needs_users else ()), *self.duration_aggregates,
        )

    @property
    def num_intervals(self) -> int:
        return int((self.end - self.start).total_seconds()) // self.interval

    @property
    def max_groups(self) -> int:
        return SNUBA_LIMIT // max(self.num_intervals, 1)

    @property
    def page_size(self) -> int:
        return self.per_page if self.per_page is not None else SNUBA_LIMIT

    @property
    def empty(self) -> bool:
        """Sentry answers without looking at data: a `session.status` filter no status passes, or
        only duration fields while the filter excludes `healthy`."""
        if self.status_filter is None:
            return False
        if not self.status_filter:
            return True
        return "healthy" not in self.status_filter and all(f in DURATION_FIELDS for f in self.fields)


def parse(params: Mapping[str, Sequence[str]], *, org_id: int, accessible_project_ids: Sequence[int],
          now: datetime, project_slugs: Mapping[str, int] | None = None) -> SessionsQuery:
    """A SessionsQuery from query parameters, checked in Sentry's order.

    `project_slugs` (slug → id of the accessible projects) lets `project:<slug>` be used in `query`.
    Raises InvalidParams (400) or PermissionError (403: a requested project is not accessible).
    """
    project_ids = accessible_projects(requested_projects(params), accessible_project_ids)
    per_page = _per_page(param(params, "per_page"))
    offset = _cursor(param(params, "cursor"))

    fields = list(dict.fromkeys(param_list(params, "field")))
    if not fields:
        raise InvalidParams('Request is missing a "field"')
    for f in fields:
        if f not in FIELDS:
            raise InvalidParams(f'Invalid field: "{f}"')
    group_by = list(dict.fromkeys(param_list(params, "groupBy")))
    for g in group_by:
        if g not in GROUP_BYS:
            raise InvalidParams(f'Invalid groupBy: "{g}"')

    start, end, interval = _constrained_date_range(params, now)

    query = param(params, "query") or ""
    try:
        parsed = search.parse(query)
    except search.SearchError as exc:
        raise InvalidParams(str(exc)) from None
    tree = _resolve(parsed, project_ids, project_slugs or {})
    condition, status_filter = _split_status(tree)

    q = SessionsQuery(
        org_id=org_id, project_ids=project_ids, fields=tuple(fields), group_by=tuple(group_by),
        start=start, end=end, interval=interval, query=query, condition=condition,
        environments=tuple(dict.fromkeys(e for e in param_list(params, "environment"))),
        status_filter=status_filter, order_by=None, descending=True, per_page=per_page, offset=offset,
        include_totals=param(params, "includeTotals") != "0",
        include_series=param(params, "includeSeries") != "0",
    )
    if q.empty:
        return q
    _check_fields(q)
    order_by, descending = _order_by(q, param_list(params, "orderBy"))
    return replace(q, order_by=order_by, descending=descending)


def _per_page(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParams("Invalid per_page parameter.") from None
    if value > SNUBA_LIMIT:
        raise InvalidParams(f"Invalid per_page value. Cannot exceed {SNUBA_LIMIT}.")
    if value < 1:
        raise InvalidParams("Invalid per_page parameter.")
    return value


def _cursor(raw: str | None) -> int:
    """The offset of Sentry's cursor `<value>:<offset>:<is_prev>`."""
    if not raw:
        return 0
    parts = raw.split(":")
    try:
        if len(parts) != 3:
            raise ValueError(raw)
        float(parts[0])
        offset, is_prev = int(parts[1]), int(parts[2])
        if offset < 0 or is_prev not in (0, 1):
            raise ValueError(raw)
    except ValueError:
        raise InvalidParams("Invalid cursor parameter.") from None
    return offset


def _constrained_date_range(params: Mapping[str, Sequence[str]], now: datetime) -> tuple[datetime, datetime, int]:
    """Sentry's `get_constrained_date_range` with the metrics backend's ten-second resolution."""
    interval = int(parse_interval(param(params, "interval")).total_seconds())
    if interval % SMALLEST_INTERVAL != 0 or interval < SMALLEST_INTERVAL:
        raise InvalidParams("The interval has to be a multiple of the minimum interval of ten seconds.")
    if interval > ONE_DAY:
        raise InvalidParams("The interval has to be less than one day.")
    if ONE_DAY % interval != 0:
        raise InvalidParams("The interval should divide one day without a remainder.")
    now = now.astimezone(timezone.utc) if now.tzinfo else now.replace(tzinfo=timezone.utc)
    start, end = date_range(params, now, "90d")
    start = min(start, now)
    start, end, count = to_intervals(start, end, interval)
    if count > MAX_POINTS:
        raise InvalidParams(
            "Your interval and date range would create too many results. "
            "Use a larger interval, or a smaller date range."
        )
    return start, end, interval


def _check_fields(q: SessionsQuery) -> None:
    """Sentry's per-field refusals (in field order), given groupBy and the status filter."""
    for f in q.fields:
        if f in RATE_FIELDS:
            if q.by_status:
                raise InvalidParams(f"Cannot group field {f} by session.status")
            if q.status_filter is not None:
                raise InvalidParams(f"Cannot filter field {f} by session.status")
        if f == "count_unique(user)" and q.status_filter and len(q.status_filter) > 1 and not q.by_status:
            raise InvalidParams("Cannot filter count_unique by multiple session.status unless it is in groupBy")


def _order_by(q: SessionsQuery, raw: Sequence[str]) -> tuple[str | None, bool]:
    if not raw:
        return None, True
    if len(raw) > 1:
        raise InvalidParams("Cannot order by multiple fields")
    if q.by_status:
        raise InvalidParams("Cannot use 'orderBy' when grouping by sessions.status")
    name, descending = (raw[0][1:], True) if raw[0].startswith("-") else (raw[0], False)
    if name not in q.fields:
        raise InvalidParams("'orderBy' must be one of the provided 'fields'")
    if q.status_filter is not None:
        # Sentry orders in the database by one metric: a count filtered to one status it can
        # compute on its own (crashed or abnormal), or a duration it still queries.
        sortable = (
            (name in COUNT_FIELDS and len(q.status_filter) == 1 and not (q.status_filter & _UNSORTABLE))
            or (name in DURATION_FIELDS and "healthy" in q.status_filter)
        )
        if not sortable:
            raise InvalidParams(f"Cannot order by {name} with the current filters")
    return name, descending


# --- the search syntax (`picket.search.syntax`) ---------------------------------------------------


def _resolve(node: search.Node | None, project_ids: Sequence[int], slugs: Mapping[str, int]) -> Node | None:
    """The parsed query → Filters: unknown keys and free text first, then wildcards (Sentry's
    order); comparisons and `has:` are not conditions of this dataset."""
    if node is None:
        return None
    terms: list[search.Filter | search.Has | search.Text] = []

    def collect(n: search.Node) -> None:
        if isinstance(n, (search.And, search.Or)):
            for item in n.items:
                collect(item)
        else:
            terms.append(n)

    collect(node)
    for t in terms:
        if isinstance(t, search.Text):
            raise InvalidParams("Invalid search filter: message")
        if isinstance(t, search.Has) or t.key not in _FILTER_KEYS:
            raise InvalidParams(f"Invalid search filter: {'has' if isinstance(t, search.Has) else t.key}")
        if t.op not in ("=", "in"):
            raise InvalidParams(f"Invalid condition: {t.key} does not take '{t.op}'")
    for t in terms:
        assert isinstance(t, search.Filter)
        if _FILTER_KEYS[t.key] != "session.status" and any(v.wildcard for v in _values(t)):
            raise InvalidParams("Invalid condition: wildcard search is not supported")

    def build(n: search.Node) -> Node:
        if isinstance(n, (search.And, search.Or)):
            return BoolOp("and" if isinstance(n, search.And) else "or", tuple(build(item) for item in n.items))
        assert isinstance(n, search.Filter)
        column = _FILTER_KEYS[n.key]
        values: tuple[Any, ...] = tuple(v.text for v in _values(n))
        if column == "project":
            column, values = "project_id", tuple(_project_id(v, project_ids, slugs) for v in values)
        elif column == "project_id":
            values = tuple(_int_value(n.key, v) for v in values)
        return Filter(column, values, n.negated, n.op == "in")

    return build(node)


def _values(f: search.Filter) -> tuple[search.Value, ...]:
    return f.value if isinstance(f.value, tuple) else (f.value,)


def _project_id(value: str, project_ids: Sequence[int], slugs: Mapping[str, int]) -> int:
    if value in slugs and slugs[value] in project_ids:
        return slugs[value]
    if value.isdigit() and int(value) in project_ids:
        return int(value)
    raise InvalidParams(f"Invalid query. Project(s) {value} do not exist or are not actively selected.")


def _int_value(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidParams(f"Invalid value '{value}' for '{key}:' filter") from None


def _split_status(tree: Node | None) -> tuple[Node | None, frozenset[str] | None]:
    """Top-level AND terms on session.status → the statuses they let through (Sentry's
    `_extract_status_filter_from_conditions`); any other use of session.status is refused."""
    if tree is None:
        return None, None
    conjuncts: list[Node] = []

    def flatten(n: Node) -> None:
        if isinstance(n, BoolOp) and n.op == "and":
            for item in n.items:
                flatten(item)
        else:
            conjuncts.append(n)

    flatten(tree)
    kept: list[Node] = []
    status: frozenset[str] | None = None
    for n in conjuncts:
        if isinstance(n, Filter) and n.column == "session.status":
            allowed = _status_values(n)
            status = allowed if status is None else status & allowed
        elif _mentions_status(n):
            raise InvalidParams("Unable to parse condition with session.status")
        else:
            kept.append(n)
    condition = None if not kept else kept[0] if len(kept) == 1 else BoolOp("and", tuple(kept))
    return condition, status


def _status_values(f: Filter) -> frozenset[str]:
    named = frozenset(v for v in f.values if v in STATUSES)  # unknown statuses match nothing
    return frozenset(STATUSES) - named if f.negated else named


def _mentions_status(n: Node) -> bool:
    if isinstance(n, Filter):
        return n.column == "session.status"
    return any(_mentions_status(item) for item in n.items)


# --- SQL ----------------------------------------------------------------------------------------

_DIM_AS = {"project_id": "s_project AS project_id", "release": "s_release AS release",
           "environment": "s_environment AS environment"}
_USERS = ("users", "users_crashed", "users_abnormal", "users_errored", "users_crashed_or_abnormal")


def sql(q: SessionsQuery, *, horizon: datetime | None = None, now: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """One query: the sessions' mergeable aggregates per dimension and interval (`bucket` = index
    of the interval) — from the hourly rollup for sealed hours when the buckets are whole hours,
    from the sessions reduced one by one (`session_rows`) for the rest — merged per interval and
    over the whole range (`bucket` null). Its columns are `q.columns`.

    `horizon`: the rollup's horizon as read a moment ago (any past reading is a safe bound); when
    it is past `now` the rollup covers everything and the per-session part is left out. Without
    it the query reads the horizon itself."""
    params: dict[str, Any] = {
        "org_id": q.org_id,
        "project_ids": list(q.project_ids),
        "start_ms": _epoch_ms(q.start),
        "end_ms": _epoch_ms(q.end),
        "interval_ms": q.interval * 1000,
        "nil": NIL_USER,
    }
    # conditions on columns `sessions` and `sessions_hourly` share
    filters = ["org_id = {org_id:UInt64}", "project_id IN {project_ids:Array(UInt64)}"]
    if q.environments:
        filters.append("environment IN {environments:Array(String)}")
        params["environments"] = list(q.environments)
    if q.condition is not None:
        filters.append(_condition_sql(q.condition, params))

    dims = list(q.dimensions)
    measures = ["sessions", "crashed", "abnormal", "errored",
                *(_USERS if q.needs_users else ()), *q.duration_aggregates]
    hourly = hour_aligned(q.start, q.end, q.interval)
    bound = horizon_sql(SESSIONS)
    if horizon is not None:
        params["horizon"] = horizon.astimezone(timezone.utc).replace(tzinfo=None)
        bound = "{horizon:DateTime('UTC')}"
    in_range = ["started >= fromUnixTimestamp64Milli({start_ms:Int64}, 'UTC')",
                "started < fromUnixTimestamp64Milli({end_ms:Int64}, 'UTC')"]
    if hourly:
        in_range.append(f"started >= {bound}")
    per_session_where = "\n      AND ".join([*filters, *in_range])
    exact = (
        f"SELECT {_list([*(_DIM_AS[d] for d in dims), _bucket('toUnixTimestamp64Milli(s_started)')])},\n"
        f"    {', '.join(f'{STATES[m]} AS {m}' for m in measures)}\n"
        f"FROM (\n{per_session(per_session_where)}\n)\nGROUP BY {_list([*dims, 'bucket'])}"
    )
    covered = hourly and horizon is not None and now is not None and horizon > now
    parts = [] if covered else [exact]
    if hourly:
        params["start"] = storable(q.start)
        params["end"] = storable(q.end)
        sealed_where = "\n  AND ".join([
            *filters,
            "hour >= {start:DateTime('UTC')}", "hour < {end:DateTime('UTC')}",
            f"hour < {bound}",
            f"(hour, version) IN ({current_versions_sql(SESSIONS)})",
        ])
        parts.insert(0, (
            f"SELECT {_list([*dims, _bucket('toUnixTimestamp(hour) * 1000')])}, {', '.join(measures)}\n"
            f"FROM {{db}}.sessions_hourly\nWHERE {sealed_where}"
        ))

    select = [*dims, "bucket", *(f"{MERGES[m]} AS {m}" for m in measures)]
    sets = f"({_list([*dims, 'bucket'])}), ({', '.join(dims)})"
    text = (
        f"SELECT {', '.join(select)}\nFROM (\n" + "\nUNION ALL\n".join(parts)
        + f"\n)\nGROUP BY GROUPING SETS ({sets})\nSETTINGS group_by_use_nulls = 1"
    )
    return text, params


def _bucket(epoch_ms: str) -> str:
    return f"intDiv({epoch_ms} - {{start_ms:Int64}}, {{interval_ms:Int64}}) AS bucket"


def _list(items: Sequence[str]) -> str:
    return ", ".join(items)


_SQL_COLUMN = {"release": ("release", "String"), "environment": ("environment", "String"),
               "project_id": ("project_id", "UInt64")}


def _condition_sql(node: Node, params: dict[str, Any]) -> str:
    if isinstance(node, BoolOp):
        joiner = " AND " if node.op == "and" else " OR "
        return "(" + joiner.join(_condition_sql(item, params) for item in node.items) + ")"
    column, kind = _SQL_COLUMN[node.column]
    name = f"q{sum(1 for k in params if k[:1] == 'q' and k[1:].isdigit())}"
    if node.is_list:
        params[name] = list(node.values)
        return f"{column} {'NOT IN' if node.negated else 'IN'} {{{name}:Array({kind})}}"
    params[name] = node.values[0]
    return f"{column} {'!=' if node.negated else '='} {{{name}:{kind}}}"


def _epoch_ms(at: datetime) -> int:
    return int(round(at.astimezone(timezone.utc).timestamp() * 1000))


# --- the response -------------------------------------------------------------------------------

Stats = Mapping[str, Any]


@dataclass
class _Group:
    key: tuple[Any, ...]
    totals: Stats | None
    series: list[Stats | None]


def response(q: SessionsQuery, rows: Sequence[Sequence[Any] | Mapping[str, Any]]) -> dict[str, Any]:
    """Sentry's body from the rows of `sql(q)` (tuples in `q.columns` order, or mappings)."""
    starts = interval_starts(q.start, q.end, q.interval)
    body: dict[str, Any] = {
        "start": isoformat_z(q.start),
        "end": isoformat_z(q.end),
        "query": q.query,
        "intervals": [isoformat_z(at) for at in starts],
        "groups": [],
    }
    if q.empty:
        return body
    page = _ordered_groups(q, rows, len(starts))[q.offset:q.offset + min(q.page_size, q.max_groups)]

    out: list[dict[str, Any]] = []
    for group in page:
        by = {g: group.key[i] for i, g in enumerate(q.dimensions)}
        statuses: tuple[str | None, ...] = (
            tuple(s for s in STATUSES if q.status_filter is None or s in q.status_filter) if q.by_status else (None,)
        )
        for status in statuses:
            out.append(_render(q, by, status, group.totals, group.series))

    if not out and q.offset == 0:
        # Sentry answers an empty query with placeholder groups in these two cases
        if not q.group_by:
            out.append(_render(q, {}, None, None, [None] * len(starts)))
        elif q.group_by == ("session.status",):
            out.extend(_render(q, {}, s, None, [None] * len(starts)) for s in STATUSES)
    body["groups"] = out
    return body


def cursors(q: SessionsQuery, rows: Sequence[Sequence[Any] | Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Sentry's pagination cursors for the Link header: {"previous"|"next": {"cursor", "results"}}."""
    total = 0 if q.empty else len(_ordered_groups(q, rows, q.num_intervals))
    limit = q.page_size
    has_more = limit <= q.max_groups and total > q.offset + limit
    return {
        "previous": {"cursor": f"0:{max(0, q.offset - limit)}:1", "results": q.offset > 0},
        "next": {"cursor": f"0:{q.offset + limit}:0", "results": has_more},
    }


def totals(q: SessionsQuery, rows: Sequence[Sequence[Any] | Mapping[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every group's totals of `q.fields` (no page), keyed by the group's dimension values: for
    callers that order something else by them (the release list's health sorts)."""
    if q.empty:
        return {}
    return {g.key: {f: _value(f, g.totals, None, q.status_filter) for f in q.fields}
            for g in _ordered_groups(q, rows, q.num_intervals)}


def _ordered_groups(q: SessionsQuery, rows: Sequence[Any], count: int) -> list[_Group]:
    groups: dict[tuple[Any, ...], _Group] = {}
    dims = len(q.dimensions)
    for raw in rows:
        row = raw if isinstance(raw, Mapping) else dict(zip(q.columns, raw, strict=True))
        if not row["sessions"]:
            continue  # the empty grouping set of an empty range
        key = tuple(_dim_value(q.dimensions[i], row[q.dimensions[i]]) for i in range(dims))
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key, None, [None] * count)
        bucket = row["bucket"]
        if bucket is None:
            group.totals = row
        elif 0 <= int(bucket) < count:
            group.series[int(bucket)] = row

    order = q.order_by
    status_filter = q.status_filter
    if order is None:
        # Sentry's primary field: sum(session) when requested, else the first field; a count
        # filtered to healthy or errored (which it derives from the total) sorts by the total
        order = "sum(session)" if "sum(session)" in q.fields else q.fields[0]
        if order in COUNT_FIELDS and status_filter and status_filter & _UNSORTABLE:
            status_filter = None

    def value(group: _Group) -> Any:
        return _value(order, group.totals, None, status_filter)

    present = [g for g in groups.values() if value(g) is not None]
    missing = [g for g in groups.values() if value(g) is None]
    present.sort(key=lambda g: _key_order(g.key))
    present.sort(key=value, reverse=q.descending)
    missing.sort(key=lambda g: _key_order(g.key))
    return present + missing


def _dim_value(column: str, value: Any) -> Any:
    return int(value) if column == "project_id" else value


def _key_order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((0, v) if isinstance(v, int) else (1, str(v)) for v in key)


def _render(q: SessionsQuery, dims: Mapping[str, Any], status: str | None, totals: Stats | None,
            series: Sequence[Stats | None]) -> dict[str, Any]:
    by: dict[str, Any] = {}
    if dims.get("project_id"):
        by["project"] = dims["project_id"]
    if "release" in dims:
        by["release"] = dims["release"]
    if "environment" in dims:
        by["environment"] = dims["environment"]
    if status is not None:
        by["session.status"] = status
    filter_ = q.status_filter if status is None else None
    group: dict[str, Any] = {"by": by}
    if q.include_totals:
        group["totals"] = {f: _value(f, totals, status, filter_) for f in q.fields}
    if q.include_series:
        group["series"] = {f: [_value(f, s, status, filter_) for s in series] for f in q.fields}
    return group


def _value(field: str, stats: Stats | None, status: str | None, status_filter: frozenset[str] | None) -> Any:
    """One field of one group and interval: `status` is the group's session.status (grouping by it),
    `status_filter` the statuses a `session.status` filter lets through (not grouping by it)."""
    if field in COUNT_FIELDS:
        if stats is None:
            return 0
        per_status = _session_counts(stats) if field == "sum(session)" else _user_counts(stats)
        if status is not None:
            return per_status[status]
        if status_filter is not None:
            return sum(per_status[s] for s in status_filter)
        return int(stats["sessions" if field == "sum(session)" else "users"])
    if field in DURATION_FIELDS:
        if stats is None or (status is not None and status != "healthy"):
            return None
        if status_filter is not None and "healthy" not in status_filter:
            return None
        kind = DURATION_FIELDS[field]
        if kind == "avg":
            raw = stats["duration_avg"]
        elif kind == "max":
            raw = stats["duration_max"]
        else:
            quantiles = stats["duration_quantiles"]
            raw = quantiles[kind] if quantiles else None
        return _finite(raw, 1000.0)  # seconds → milliseconds, as Sentry reports them
    # crash rates
    if stats is None:
        return None
    total, crashed = (
        (int(stats["sessions"]), int(stats["crashed"])) if field.endswith("(session)")
        else (int(stats["users"]), int(stats["users_crashed"]))
    )
    if total == 0:
        return None
    rate = crashed / total
    return rate if field.startswith("crash_rate") else 1 - rate


def _session_counts(stats: Stats) -> dict[str, int]:
    crashed, abnormal, errored = int(stats["crashed"]), int(stats["abnormal"]), int(stats["errored"])
    return {
        "crashed": crashed,
        "abnormal": abnormal,
        "errored": errored,
        "healthy": max(0, int(stats["sessions"]) - crashed - abnormal - errored),
    }


def _user_counts(stats: Stats) -> dict[str, int]:
    errored_all = int(stats["users_errored"])
    return {
        "crashed": int(stats["users_crashed"]),
        "abnormal": int(stats["users_abnormal"]),
        "errored": max(0, errored_all - int(stats["users_crashed_or_abnormal"])),
        "healthy": max(0, int(stats["users"]) - errored_all),
    }


def _finite(value: Any, scale: float) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value * scale if math.isfinite(value) else None


__all__ = [
    "BoolOp", "Filter", "InvalidParams", "SessionsQuery", "cursors", "parse", "response", "sql",
]
