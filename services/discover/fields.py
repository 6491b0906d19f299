"""The fields and functions Discover may select, filter and sort by, on a dataset
(`picket.discover.datasets`), and the SQL each stands for. Pure.

Only what this allow-list names reaches SQL: a column's expression is written here, a tag's or a
measurement's name and every value are bound parameters, a function's numeric argument is read
as a number first. A name that is not a column is a tag (`tags[name]` or the bare name), as in
Sentry. Types are Sentry's meta types (`string`, `integer`, `number`, `date`, `duration`,
`percentage`, `rate`); durations are in milliseconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from picket.discover.datasets import ERRORS, Column, Dataset
from picket.stats.periods import InvalidParams

_TAG = re.compile(r"tags\[([^\[\]]{1,200})\]")
_TAG_NAME = re.compile(r"[A-Za-z0-9_.:\-]{1,200}")
_MEASUREMENT = re.compile(r"measurements\.([a-z0-9_.\-]{1,64})")
_FUNCTION = re.compile(r"([a-z_0-9]+)\((.*)\)")
MAX_FIELDS = 20
# How an error message names what a dataset holds.
_HOLDING = {"errors": "error events", "transactions": "transactions", "discover": "events"}
# Sentry's types of its own measurements; any other is a number.
_DURATION_MEASUREMENTS = frozenset({
    "fp", "fcp", "lcp", "fid", "inp", "ttfb", "ttfb.requesttime", "app_start_cold", "app_start_warm",
    "time_to_initial_display", "time_to_full_display", "stall_total_time", "stall_longest_time"})
_MEASUREMENT_TYPES = {"frames_total": "integer", "frames_slow": "integer", "frames_frozen": "integer",
                      "stall_count": "integer", "frames_slow_rate": "percentage", "frames_frozen_rate": "percentage",
                      "stall_percentage": "percentage"}
_NUMERIC = ("integer", "number", "duration", "percentage")
_PERCENTILES = {"p50": 0.5, "p75": 0.75, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p100": 1.0}
TRANSACTION_FUNCTIONS = frozenset({*_PERCENTILES, "percentile", "failure_rate", "failure_count", "apdex",
                                   "count_miserable", "user_misery"})
# Sentry's statuses that are not failures (failure_rate, failure_count).
_NOT_FAILURES = "('ok', 'cancelled', 'unknown')"
# Sentry's default apdex threshold (milliseconds), for `apdex()` without one.
DEFAULT_APDEX = 300.0
# Sentry's user misery: (miserable users + α) / (users + α + β), a prior that keeps a handful of
# users from reading as 0 or 1.
MISERY_ALPHA, MISERY_BETA = 5.8875, 111.8625
# count_if's comparisons, by Sentry's names.
_COMPARISONS = {"equals": "=", "notEquals": "!=", "less": "<", "greater": ">", "lessOrEquals": "<=",
                "greaterOrEquals": ">="}


@dataclass
class Binder:
    """Parameters of one query, each bound under a name of its own."""

    params: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any, type_: str) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"{{{name}:{type_}}}"


def column(name: str, binder: Binder, dataset: Dataset = ERRORS) -> Column:
    """The column `name` stands for in `dataset`: a field, `project`, a measurement or a tag."""
    if name in dataset.columns:
        return dataset.columns[name]
    if name == "project":  # the query binds every project's id and slug under these names
        return Column("transform(project_id, {project_ids:Array(UInt64)}, {project_slugs:Array(String)}, '')",
                      "string")
    measurement = _MEASUREMENT.fullmatch(name)
    if measurement and dataset.transactions is not None:
        key = binder.bind(measurement.group(1), "String")
        type_ = "duration" if measurement.group(1) in _DURATION_MEASUREMENTS else \
            _MEASUREMENT_TYPES.get(measurement.group(1), "number")
        return Column(f"if(has(measurements_key, {key}), measurements_value[indexOf(measurements_key, {key})], NULL)",
                      type_, "millisecond" if type_ == "duration" else None)
    if dataset.not_stored.fullmatch(name):
        raise InvalidParams(f"{name} is not available on {_HOLDING[dataset.name]} yet.")
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


def function(name: str, args: str, binder: Binder, seconds: float, dataset: Dataset = ERRORS) -> Selected:
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
    if name == "any" and arg:
        col = column(arg, binder, dataset)
        return Selected(full, f"any({col.sql})", col.type, True, col.unit)
    if name == "count_if":
        return _count_if(arg, full, binder, dataset)
    if name in ("count_unique", "min", "max", "sum", "avg") and arg:
        col = column(arg, binder, dataset)
        if name == "count_unique":  # an empty value is no value (Sentry's nulls)
            counted = f"uniqExactIf({col.sql}, {col.sql} != '')" if col.type == "string" else f"uniqExact({col.sql})"
            return Selected(full, counted, "integer", True)
        if name in ("min", "max"):
            if col.type == "string":
                raise InvalidParams(f"{full}: {arg} is not a number or a date.")
            return Selected(full, f"{name}({col.sql})", col.type, True, col.unit)
        if col.type not in _NUMERIC:
            raise InvalidParams(f"{full}: {arg} is not a number.")
        type_ = "number" if name == "avg" and col.type == "integer" else col.type
        return Selected(full, f"{name}({col.sql})", type_, True, col.unit)
    if name in TRANSACTION_FUNCTIONS:
        if dataset.transactions is None:
            raise InvalidParams(f"{full} needs transactions, and this query reads error events.")
        return _transaction_function(name, arg, full, binder, dataset)
    raise InvalidParams(f"{full} is not a function Discover knows.")


def _transaction_function(name: str, arg: str, full: str, binder: Binder, dataset: Dataset) -> Selected:
    """Sentry's performance functions; on `discover`, over its transactions only."""
    tx = dataset.transactions
    total = f"nullIf(countIf({tx}), 0)"  # NULL, not a division by zero, for a group of errors only
    if name in _PERCENTILES or name == "percentile":
        if name == "percentile":
            target, _, level = arg.rpartition(",")
            quantile = _number(level, full)
            if not target.strip() or not 0 <= quantile <= 1:
                raise InvalidParams(f"{full}: expected a field and a quantile between 0 and 1.")
        else:
            target, quantile = arg, _PERCENTILES[name]
        col = column(target.strip() or "transaction.duration", binder, dataset)
        if col.type not in _NUMERIC:
            raise InvalidParams(f"{full}: {target.strip()} is not a number.")
        type_ = col.type if col.type in ("duration", "percentage") else "number"
        return Selected(full, f"quantile({quantile!r})({col.sql})", type_, True, col.unit)
    d = dataset.columns["transaction.duration"].sql
    if name == "apdex":
        t = binder.bind(_threshold(arg, full), "Float64")
        return Selected(full, f"(countIf({d} <= {t} AND {tx}) + countIf({d} > {t} AND {d} <= 4 * {t} AND {tx}) / 2)"
                              f" / {total}", "number", True)
    if name in ("count_miserable", "user_misery"):
        level = arg
        if name == "count_miserable":
            target, _, level = arg.partition(",")
            if target.strip() != "user":
                raise InvalidParams(f"{full}: it counts users: count_miserable(user, threshold).")
        # Miserable: a user with a transaction slower than 4 × the threshold (apdex's frustrated).
        t = binder.bind(_threshold(level.strip(), full), "Float64")
        user = dataset.columns["user"].sql
        miserable = f"uniqExactIf({user}, {d} > 4 * {t} AND {user} != '' AND {tx})"
        if name == "count_miserable":
            return Selected(full, miserable, "integer", True)
        users = f"uniqExactIf({user}, {user} != '' AND {tx})"
        return Selected(full, f"({miserable} + {MISERY_ALPHA!r}) / ({users} + {MISERY_ALPHA + MISERY_BETA!r})",
                        "number", True)
    if arg:
        raise InvalidParams(f"{full}: {name}() takes no argument.")
    failures = f"countIf(status NOT IN {_NOT_FAILURES} AND {tx})"
    if name == "failure_count":
        return Selected(full, failures, "integer", True)
    return Selected(full, f"{failures} / {total}", "percentage", True)


def _count_if(arg: str, full: str, binder: Binder, dataset: Dataset) -> Selected:
    """`count_if(field, comparison, value)`: the events whose field compares so with the value."""
    parts = [part.strip() for part in arg.split(",", 2)]
    if len(parts) != 3 or not parts[0] or parts[1] not in _COMPARISONS:
        raise InvalidParams(f"{full}: expected a field, one of {', '.join(_COMPARISONS)} and a value.")
    target, comparison, text = parts
    col = column(target, binder, dataset)
    if col.type == "string":
        value = binder.bind(text, "String")
    elif col.type in _NUMERIC:
        value = binder.bind(_number(text, full), "Float64")
    else:
        raise InvalidParams(f"{full}: {target} is compared to neither a text nor a number.")
    return Selected(full, f"countIf({col.sql} {_COMPARISONS[comparison]} {value})", "integer", True)


def _threshold(text: str, full: str) -> float:
    """A satisfaction threshold in milliseconds: `text`, or Sentry's default when none is given."""
    threshold = _number(text, full) if text else DEFAULT_APDEX
    if threshold <= 0:
        raise InvalidParams(f"{full}: the threshold must be a positive number of milliseconds.")
    return threshold


def _number(text: str, full: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidParams(f"{full}: {text.strip()!r} is not a number.") from None
    if not math.isfinite(value):
        raise InvalidParams(f"{full}: {text.strip()!r} is not a number.")
    return value


def selected(name: str, binder: Binder, seconds: float, dataset: Dataset = ERRORS) -> Selected:
    """A requested field (a column, a tag or a function call) of `dataset`."""
    call = _FUNCTION.fullmatch(name)
    if call and not name.startswith("tags["):
        return function(call.group(1), call.group(2), binder, seconds, dataset)
    col = column(name, binder, dataset)
    return Selected(name, col.sql, col.type, False, col.unit)
