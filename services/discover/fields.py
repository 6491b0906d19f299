"""The fields and functions Discover may select, filter and sort by, on the error events
dataset, and the SQL each stands for. Pure.

Only what this allow-list names reaches SQL: a column's expression is written here, a tag's
name and every value are bound parameters. A name that is not a column is a tag (`tags[name]`
or the bare name), as in Sentry. Types are Sentry's meta types (`string`, `integer`, `number`,
`date`, `rate`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from picket.stats.periods import InvalidParams


@dataclass(frozen=True)
class Column:
    sql: str
    type: str


# Error events (`events`). `project` is the slug: bound per request (`Binder.project_slugs`).
COLUMNS: dict[str, Column] = {
    "id": Column("event_id", "string"),
    "title": Column("title", "string"),
    "message": Column("if(message != '', message, title)", "string"),
    "culprit": Column("culprit", "string"),
    "event.type": Column("type", "string"),
    "platform": Column("platform", "string"),
    "level": Column("level", "string"),
    "release": Column("release", "string"),
    "environment": Column("environment", "string"),
    "transaction": Column("transaction", "string"),
    "timestamp": Column("timestamp", "date"),
    "project.id": Column("project_id", "integer"),
    "project_id": Column("project_id", "integer"),
    "issue.id": Column("group_id", "integer"),
    "user": Column("user_tag", "string"),
    "user.display": Column("if(user_email != '', user_email, user_tag)", "string"),
    "user.email": Column("user_email", "string"),
    "user.id": Column("JSONExtractString(body, 'user', 'id')", "string"),
    "user.username": Column("JSONExtractString(body, 'user', 'username')", "string"),
    "user.ip": Column("JSONExtractString(body, 'user', 'ip_address')", "string"),
    "trace": Column("JSONExtractString(body, 'contexts', 'trace', 'trace_id')", "string"),
}
# Sentry's own fields that error events here do not carry (yet): asking for one is a 400, not a
# tag of that name that is always empty.
_NOT_STORED = re.compile(r"(issue(\.short_id)?|transaction\.\w+|measurements\.[\w.]+|spans?\.[\w.]+|"
                         r"profile\.id|replay\.id|span_id|trace\.(span|parent_span)|error\.\w+|stack\.\w+)")
_TAG = re.compile(r"tags\[([^\[\]]{1,200})\]")
_TAG_NAME = re.compile(r"[A-Za-z0-9_.:\-]{1,200}")
_FUNCTION = re.compile(r"([a-z_0-9]+)\((.*)\)")
MAX_FIELDS = 20


@dataclass
class Binder:
    """Parameters of one query, each bound under a name of its own."""

    params: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any, type_: str) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"{{{name}:{type_}}}"


def column(name: str, binder: Binder) -> Column:
    """The column `name` stands for: a field of the catalog, `project`, or a tag."""
    if name in COLUMNS:
        return COLUMNS[name]
    if name == "project":  # the query binds every project's id and slug under these names
        return Column("transform(project_id, {project_ids:Array(UInt64)}, {project_slugs:Array(String)}, '')",
                      "string")
    if _NOT_STORED.fullmatch(name):
        raise InvalidParams(f"{name} is not available on error events yet.")
    tag = _TAG.fullmatch(name)
    tag_name = tag.group(1) if tag else name if _TAG_NAME.fullmatch(name) else None
    if tag_name is None:
        raise InvalidParams(f"Invalid field: {name!r} is neither a field nor a tag name.")
    return Column(f"tags_value[indexOf(tags_key, {binder.bind(tag_name, 'String')})]", "string")


@dataclass(frozen=True)
class Selected:
    """One requested field: its name as asked, its SQL, its type, whether it aggregates."""

    name: str
    sql: str
    type: str
    aggregate: bool
    unit: str | None = None


def function(name: str, args: str, binder: Binder, seconds: float) -> Selected:
    """`name(args)` as an aggregate (`seconds`: the query's time range, for rates)."""
    full = f"{name}({args})"
    arg = args.strip()
    if name == "count" and arg == "":
        return Selected(full, "count()", "integer", True)
    if name in ("eps", "epm") and arg == "":
        per = seconds if name == "eps" else seconds / 60
        return Selected(full, f"count() / {float(max(per, 1e-9))!r}", "rate", True,
                        "1/second" if name == "eps" else "1/minute")
    if name == "last_seen" and arg == "":
        return Selected(full, "max(timestamp)", "date", True)
    if name in ("count_unique", "min", "max", "sum", "avg") and arg:
        col = column(arg, binder)
        if name == "count_unique":  # an empty value is no value (Sentry's nulls)
            counted = f"uniqExactIf({col.sql}, {col.sql} != '')" if col.type == "string" else f"uniqExact({col.sql})"
            return Selected(full, counted, "integer", True)
        if name in ("min", "max"):
            if col.type == "string":
                raise InvalidParams(f"{full}: {arg} is not a number or a date.")
            return Selected(full, f"{name}({col.sql})", col.type, True)
        if col.type not in ("integer", "number"):
            raise InvalidParams(f"{full}: {arg} is not a number.")
        return Selected(full, f"{name}({col.sql})", "number" if name == "avg" else col.type, True)
    if name in ("p50", "p75", "p95", "p99", "percentile", "failure_rate", "failure_count", "apdex"):
        raise InvalidParams(f"{full} needs transactions, and this query reads error events.")
    raise InvalidParams(f"{full} is not a function Discover knows.")


def selected(name: str, binder: Binder, seconds: float) -> Selected:
    """A requested field (a column, a tag or a function call)."""
    call = _FUNCTION.fullmatch(name)
    if call and not name.startswith("tags["):
        return function(call.group(1), call.group(2), binder, seconds)
    col = column(name, binder)
    return Selected(name, col.sql, col.type, False)
