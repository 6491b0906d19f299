"""A parsed search (`picket.search.syntax`) as SQL conditions over Discover's fields. Pure.

Filters on fields go to WHERE, filters on functions (`count():>10`) to HAVING; an OR between
the two kinds is refused, as Sentry does. Strings: `=` (a `*` is a wildcard, a quoted value is
literal), lists, `!` negation, `has:`; no comparisons. Integers, numbers, durations, percentages
and dates compare with `=`, `>`, `>=`, `<`, `<=` (durations with a unit, like `500ms` or `1.5s`,
a bare number being milliseconds; percentages as `0.5` or `50%`; dates also relative, like
`-24h`). Free text matches the title or the message, case-insensitively. Every value is a bound
parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from picket.discover.datasets import ERRORS, Dataset
from picket.discover.fields import Binder, Selected, column, selected
from picket.search import syntax as search
from picket.search import values
from picket.stats.periods import InvalidParams


@dataclass(frozen=True)
class Conditions:
    where: str | None
    having: str | None


def conditions(tree: search.Node | None, binder: Binder, now: datetime, seconds: float,
               dataset: Dataset = ERRORS) -> Conditions:
    """The WHERE and HAVING conditions of `tree` on `dataset`'s fields."""
    if tree is None:
        return Conditions(None, None)
    kinds = _kinds(tree)
    if isinstance(tree, search.Or) and kinds == {"where", "having"}:
        raise InvalidParams("Having an OR between aggregate filters and normal filters is invalid.")
    if isinstance(tree, search.And):
        where = [_sql(t, binder, now, seconds, dataset) for t in tree.items if _kinds(t) == {"where"}]
        having = [_sql(t, binder, now, seconds, dataset) for t in tree.items if _kinds(t) == {"having"}]
        if any(_kinds(t) == {"where", "having"} for t in tree.items):
            raise InvalidParams("Having an OR between aggregate filters and normal filters is invalid.")
        return Conditions(" AND ".join(where) or None, " AND ".join(having) or None)
    sql = _sql(tree, binder, now, seconds, dataset)
    return Conditions(sql, None) if kinds == {"where"} else Conditions(None, sql)


def _kinds(node: search.Node) -> set[str]:
    if isinstance(node, (search.And, search.Or)):
        return set().union(*(_kinds(item) for item in node.items))
    if isinstance(node, search.Filter) and _is_function(node.key):
        return {"having"}
    return {"where"}


def _is_function(key: str) -> bool:
    return key.endswith(")") and "(" in key and not key.startswith("tags[")


def _sql(node: search.Node, binder: Binder, now: datetime, seconds: float, dataset: Dataset) -> str:
    if isinstance(node, search.And):
        return "(" + " AND ".join(_sql(i, binder, now, seconds, dataset) for i in node.items) + ")"
    if isinstance(node, search.Or):
        return "(" + " OR ".join(_sql(i, binder, now, seconds, dataset) for i in node.items) + ")"
    if isinstance(node, search.Text):
        text = binder.bind(node.text, "String")
        title, message = column("title", binder, dataset).sql, column("message", binder, dataset).sql
        return f"(positionCaseInsensitiveUTF8({title}, {text}) > 0 OR positionCaseInsensitiveUTF8({message}, {text}) > 0)"
    if isinstance(node, search.Has):
        col = column(node.key, binder, dataset)
        present = f"{col.sql} != ''" if col.type == "string" else f"isNotNull({col.sql})"
        return f"NOT ({present})" if node.negated else present
    assert isinstance(node, search.Filter)
    target = selected(node.key, binder, seconds, dataset) if _is_function(node.key) else None
    if target is None:
        col = column(node.key, binder, dataset)
        target = Selected(node.key, col.sql, col.type, False)
    sql = _compare(target, node, binder, now)
    return f"NOT ({sql})" if node.negated else sql


def _compare(target: Selected, node: search.Filter, binder: Binder, now: datetime) -> str:
    items = node.value if isinstance(node.value, tuple) else (node.value,)
    if target.type == "string":
        if node.op not in ("=", "in"):
            raise InvalidParams(f"Invalid query: {node.key} is text and cannot be compared with '{node.op}'.")
        exact = [v for v in items if not v.wildcard]
        parts = [f"{target.sql} LIKE {binder.bind(_like(v.text), 'String')}" for v in items if v.wildcard]
        if len(exact) == 1:
            parts.append(f"{target.sql} = {binder.bind(exact[0].text, 'String')}")
        elif exact:
            parts.append(f"{target.sql} IN {binder.bind([v.text for v in exact], 'Array(String)')}")
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    read: Callable[[search.Value], object]
    if target.type == "date":
        type_, read = "DateTime64(3, 'UTC')", lambda v: values.date(v, now).replace(tzinfo=None)
    else:
        type_ = "Float64"
        read = {"duration": values.duration_ms, "percentage": values.percentage}.get(target.type, values.number)
    if node.op == "in":
        return f"{target.sql} IN {binder.bind([read(v) for v in items], f'Array({type_})')}"
    return f"{target.sql} {node.op} {binder.bind(read(items[0]), type_)}"


def _like(glob: str) -> str:
    """A glob (`*` any run of characters) as a LIKE pattern, its own `%`, `_` and `\\` literal."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")
