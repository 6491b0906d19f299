"""Discover's datasets (`dataset=`): `errors` (the `error_events` table), `transactions` (the
`transactions` table) and `discover` (Sentry's default: both, as one UNION ALL of the columns
they share). Each names the fields it holds and the SQL each stands for, and the rows it reads
for a request's projects, period and environments. Pure.

Types are Sentry's meta types (`string`, `integer`, `number`, `date`, `duration`, `percentage`);
a duration is in milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    sql: str
    type: str
    unit: str | None = None


def _duration(sql: str) -> Column:
    return Column(sql, "duration", "millisecond")


# An issue's short id (`PROJECT-1A`: the project's slug and the issue's number in Crockford's base
# 32, as `picket.ingest.grouping.short_id` writes it), its group id mapped through the short ids of
# every issue of the query's projects: a scalar subquery, run once per query however often the
# field is named (ClickHouse evaluates identical scalar subqueries once).
_BASE32 = ("arrayStringConcat(arrayMap(k -> substring('0123456789ABCDEFGHJKMNPQRSTVWXYZ', "
           "1 + bitAnd(bitShiftRight(short_number, 5 * k), 31), 1), "
           "arrayFilter(k -> k = 0 OR bitShiftRight(short_number, 5 * k) > 0, arrayReverse(range(13)))))")
_SHORT_IDS = (
    "(SELECT (groupArray(group_id), groupArray(concat(upper(transform(project_id, {project_ids:Array(UInt64)}, "
    f"{{project_slugs:Array(String)}}, '')), '-', {_BASE32}))) FROM {{db}}.groups FINAL "
    "WHERE project_id IN {project_ids:Array(UInt64)})")
_ISSUE = f"transform(ifNull(group_id, 0), tupleElement({_SHORT_IDS}, 1), tupleElement({_SHORT_IDS}, 2), '')"


# Error events, over `error_events`. Also what an event list filters on (`picket.discover.event_filter`).
ERROR_COLUMNS: dict[str, Column] = {
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
    "issue": Column(_ISSUE, "string"),
    "user": Column("user_tag", "string"),
    "user.display": Column("if(user_email != '', user_email, user_tag)", "string"),
    "user.email": Column("user_email", "string"),
    "user.id": Column("JSONExtractString(body, 'user', 'id')", "string"),
    "user.username": Column("JSONExtractString(body, 'user', 'username')", "string"),
    "user.ip": Column("JSONExtractString(body, 'user', 'ip_address')", "string"),
    "trace": Column("JSONExtractString(body, 'contexts', 'trace', 'trace_id')", "string"),
}

# Over `transactions`, and over the discover union, whose columns are named as the table's.
_TRANSACTION_FIELDS: dict[str, Column] = {
    "id": Column("event_id", "string"),
    "platform": Column("platform", "string"),
    "release": Column("release", "string"),
    "environment": Column("environment", "string"),
    "transaction": Column("transaction", "string"),
    "timestamp": Column("timestamp", "date"),
    "project.id": Column("project_id", "integer"),
    "project_id": Column("project_id", "integer"),
    "user": Column("user_tag", "string"),
    "user.display": Column("if(user_email != '', user_email, user_tag)", "string"),
    "user.email": Column("user_email", "string"),
    "user.id": Column("user_id", "string"),
    "user.username": Column("user_username", "string"),
    "user.ip": Column("user_ip", "string"),
    "trace": Column("trace_id", "string"),
    "trace.span": Column("span_id", "string"),
    "trace.parent_span": Column("parent_span_id", "string"),
    "transaction.duration": _duration("duration"),
    "transaction.op": Column("op", "string"),
    "transaction.status": Column("status", "string"),
    "http.method": Column("http_method", "string"),
    "http.url": Column("http_url", "string"),
}
TRANSACTION_COLUMNS = _TRANSACTION_FIELDS | {
    # A transaction's title (and message, and culprit) is its name, as in Sentry.
    "title": Column("transaction", "string"),
    "message": Column("transaction", "string"),
    "culprit": Column("transaction", "string"),
    "event.type": Column("'transaction'", "string"),
}
DISCOVER_COLUMNS = _TRANSACTION_FIELDS | {
    "title": Column("title", "string"),
    "message": Column("message", "string"),
    "culprit": Column("culprit", "string"),
    "event.type": Column("type", "string"),
    "level": Column("level", "string"),
    "issue.id": Column("group_id", "integer"),
    "issue": Column(_ISSUE, "string"),
}

# The union's columns: (name, from `error_events`, from `transactions`). A field one kind does not
# hold is empty there (NULL for a number), as Sentry shows it.
_UNION: tuple[tuple[str, str, str], ...] = (
    ("project_id", "project_id", "project_id"),
    ("event_id", "event_id", "event_id"),
    ("type", "toString(type)", "'transaction'"),
    ("timestamp", "timestamp", "toDateTime64(timestamp, 3, 'UTC')"),
    ("platform", "toString(platform)", "toString(platform)"),
    ("release", "release", "release"),
    ("environment", "environment", "environment"),
    ("transaction", "transaction", "transaction"),
    ("title", "title", "transaction"),
    ("message", "if(message != '', message, title)", "transaction"),
    ("culprit", "culprit", "transaction"),
    ("level", "toString(level)", "''"),
    ("group_id", "toNullable(group_id)", "CAST(NULL, 'Nullable(UInt64)')"),
    ("user_tag", "user_tag", "user_tag"),
    ("user_email", "user_email", "user_email"),
    ("user_id", "JSONExtractString(body, 'user', 'id')", "user_id"),
    ("user_username", "JSONExtractString(body, 'user', 'username')", "user_username"),
    ("user_ip", "JSONExtractString(body, 'user', 'ip_address')", "user_ip"),
    ("trace_id", "JSONExtractString(body, 'contexts', 'trace', 'trace_id')", "trace_id"),
    ("span_id", "JSONExtractString(body, 'contexts', 'trace', 'span_id')", "span_id"),
    ("parent_span_id", "JSONExtractString(body, 'contexts', 'trace', 'parent_span_id')", "parent_span_id"),
    ("tags_key", "tags_key", "tags_key"),
    ("tags_value", "tags_value", "tags_value"),
    ("duration", "CAST(NULL, 'Nullable(Float64)')", "toNullable(duration)"),
    ("op", "''", "toString(op)"),
    ("status", "''", "toString(status)"),
    ("measurements_key", "CAST([], 'Array(String)')", "measurements_key"),
    ("measurements_value", "CAST([], 'Array(Float64)')", "measurements_value"),
    ("http_method", "JSONExtractString(body, 'request', 'method')", "toString(http_method)"),
    ("http_url", "JSONExtractString(body, 'request', 'url')", "http_url"),
)

# Sentry's fields a dataset does not hold: asking for one is a 400, not a tag of that name that
# is always empty.
_NOT_ON_ERRORS = re.compile(r"(issue\.short_id|transaction\.\w+|measurements\.[\w.]+|spans?\.[\w.]+|"
                            r"profile\.id|replay\.id|span_id|trace\.(span|parent_span)|error\.\w+|stack\.\w+)")
_NOT_ON_TRANSACTIONS = re.compile(r"(issue(\.short_id|\.id)?|spans?\.[\w.]+|profile\.id|replay\.id|span_id|"
                                  r"error\.\w+|stack\.\w+)")
_NOT_ON_DISCOVER = re.compile(r"(issue\.short_id|spans?\.[\w.]+|profile\.id|replay\.id|span_id|error\.\w+|"
                              r"stack\.\w+)")


@dataclass(frozen=True)
class Dataset:
    """`columns`: its fields; `not_stored`: Sentry's fields it refuses; `transactions`: SQL true
    on a transaction's row (None: it holds none), what transaction functions count over."""

    name: str
    columns: Mapping[str, Column]
    not_stored: re.Pattern[str]
    transactions: str | None

    def source(self, base: str, event_types: frozenset[str] | None = None) -> tuple[str, list[str]]:
        """Its FROM clause over the rows that meet `base` (projects, period, environments), and
        what is left of `base` for the WHERE clause after it. `event_types`: the only types the
        query lets through (its `event.type` filter), if it says: a table holding none of them is
        not read (the filter itself still applies)."""
        if self.name != "discover":
            return f"{{db}}.{'error_events' if self.name == 'errors' else 'transactions'} FINAL", [base]
        # `base` inside each branch: each table is read by its own key.
        branches = []
        if event_types is None or event_types - {"transaction"}:
            branches.append(f"SELECT {', '.join(f'{e} AS {n}' for n, e, _ in _UNION)} FROM {{db}}.error_events FINAL "
                            f"WHERE {base}")
        if event_types is None or "transaction" in event_types:
            branches.append(f"SELECT {', '.join(f'{t} AS {n}' for n, _, t in _UNION)} FROM {{db}}.transactions FINAL "
                            f"WHERE {base}")
        return f"({' UNION ALL '.join(branches)})", []


ERRORS = Dataset("errors", ERROR_COLUMNS, _NOT_ON_ERRORS, None)
TRANSACTIONS = Dataset("transactions", TRANSACTION_COLUMNS, _NOT_ON_TRANSACTIONS, "1")
DISCOVER = Dataset("discover", DISCOVER_COLUMNS, _NOT_ON_DISCOVER, "type = 'transaction'")
DATASETS = {d.name: d for d in (ERRORS, TRANSACTIONS, DISCOVER)}
