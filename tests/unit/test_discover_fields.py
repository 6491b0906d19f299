"""Discover's fields and functions as SQL, per dataset (`picket.discover.fields`, `.datasets`):
the expression, type and unit each stands for, that names and values from the request are bound
parameters and never SQL text, and what each dataset refuses."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from picket.discover import table
from picket.discover.datasets import DISCOVER, ERRORS, TRANSACTIONS
from picket.discover.fields import Binder, selected
from picket.stats.periods import InvalidParams

NOW = datetime(2026, 12, 5, tzinfo=timezone.utc)


def sql(name: str, dataset=TRANSACTIONS) -> tuple[str, str, str | None, dict]:  # type: ignore[no-untyped-def]
    binder = Binder()
    s = selected(name, binder, 86400.0, dataset)
    return s.sql, s.type, s.unit, binder.params


@pytest.mark.parametrize("name, expected", [
    ("transaction.duration", ("duration", "duration", "millisecond")),
    ("transaction.op", ("op", "string", None)),
    ("transaction.status", ("status", "string", None)),
    ("trace", ("trace_id", "string", None)),
    ("user.id", ("user_id", "string", None)),
    ("title", ("transaction", "string", None)),
    ("event.type", ("'transaction'", "string", None)),
    ("p95()", ("quantile(0.95)(duration)", "duration", "millisecond")),
    ("p50(transaction.duration)", ("quantile(0.5)(duration)", "duration", "millisecond")),
    ("percentile(transaction.duration, 0.9)", ("quantile(0.9)(duration)", "duration", "millisecond")),
    ("avg(transaction.duration)", ("avg(duration)", "duration", "millisecond")),
    ("count_unique(transaction.op)", ("uniqExactIf(op, op != '')", "integer", None)),
    ("failure_count()", ("countIf(status NOT IN ('ok', 'cancelled', 'unknown') AND 1)", "integer", None)),
    ("failure_rate()", ("countIf(status NOT IN ('ok', 'cancelled', 'unknown') AND 1) / nullIf(countIf(1), 0)",
                        "percentage", None)),
])
def test_transaction_fields_and_functions(name: str, expected: tuple[str, str, str | None]) -> None:
    assert sql(name)[:3] == expected


def test_apdex_binds_its_threshold_and_follows_sentrys_formula() -> None:
    text, type_, _, params = sql("apdex(250)")
    assert params == {"p0": 250.0} and type_ == "number"
    assert text == ("(countIf(duration <= {p0:Float64} AND 1) + countIf(duration > {p0:Float64} AND "
                    "duration <= 4 * {p0:Float64} AND 1) / 2) / nullIf(countIf(1), 0)")
    assert sql("apdex()")[3] == {"p0": 300.0}, "Sentry's default threshold"


def test_on_discover_transaction_functions_count_transactions_only() -> None:
    text = sql("failure_rate()", DISCOVER)[0]
    assert text.endswith("/ nullIf(countIf(type = 'transaction'), 0)") and "AND type = 'transaction'" in text
    assert sql("title", DISCOVER)[0] == "title" and sql("event.type", DISCOVER)[0] == "type"


def test_measurement_names_are_bound_and_typed_as_sentry_types_them() -> None:
    text, type_, unit, params = sql("measurements.lcp")
    assert params == {"p0": "lcp"} and "lcp" not in text and (type_, unit) == ("duration", "millisecond")
    assert "NULL" in text, "a transaction without the measurement has none, not 0"
    assert sql("measurements.cls")[1:3] == ("number", None)
    assert sql("measurements.frames_slow_rate")[1] == "percentage"
    assert sql("p75(measurements.fcp)")[1:3] == ("duration", "millisecond")


def test_user_misery_follows_sentrys_formula_with_its_threshold_bound() -> None:
    text, type_, _, params = sql("user_misery(250)")
    assert params == {"p0": 250.0} and type_ == "number"
    miserable = "uniqExactIf(user_tag, duration > 4 * {p0:Float64} AND user_tag != '' AND 1)"
    assert text == f"({miserable} + 5.8875) / (uniqExactIf(user_tag, user_tag != '' AND 1) + 117.75)"
    assert sql("count_miserable(user, 250)")[:2] == (miserable, "integer")
    assert sql("user_misery()")[3] == {"p0": 300.0}, "Sentry's default threshold"
    assert "AND type = 'transaction'" in sql("user_misery(300)", DISCOVER)[0]


def test_count_if_binds_its_value_as_the_fields_type() -> None:
    text, type_, _, params = sql("count_if(transaction.duration, lessOrEquals, 300)")
    assert (text, type_, params) == ("countIf(duration <= {p0:Float64})", "integer", {"p0": 300.0})
    hostile = "ok') OR 1=1 --"
    text, _, _, params = sql(f"count_if(transaction.status, equals, {hostile})")
    assert text == "countIf(status = {p0:String})" and params == {"p0": hostile}
    assert sql("count_if(level, notEquals, error)", ERRORS)[0] == "countIf(level != {p0:String})"
    assert sql("any(user.email)", ERRORS)[:2] == ("any(user_email)", "string")


def test_hostile_names_never_reach_sql_as_text() -> None:
    tag = "x') OR 1=1 --"
    text, _, _, params = sql(f"tags[{tag}]")
    assert tag not in text and list(params.values()) == [tag]
    for name in ("measurements.lcp;DROP", "percentile(transaction.duration, 0.5); DROP TABLE x",
                 "apdex(1) OR 1", "p95(transaction.duration) --"):
        with pytest.raises(InvalidParams):
            sql(name)


@pytest.mark.parametrize("name, dataset, detail", [
    ("transaction.duration", ERRORS, "transaction.duration is not available on error events yet."),
    ("measurements.lcp", ERRORS, "measurements.lcp is not available on error events yet."),
    ("p95()", ERRORS, "p95() needs transactions, and this query reads error events."),
    ("failure_rate()", ERRORS, "failure_rate() needs transactions, and this query reads error events."),
    ("issue.id", TRANSACTIONS, "issue.id is not available on transactions yet."),
    ("issue.short_id", DISCOVER, "issue.short_id is not available on events yet."),
    ("percentile(transaction.duration, 1.5)", TRANSACTIONS,
     "percentile(transaction.duration, 1.5): expected a field and a quantile between 0 and 1."),
    ("percentile(0.5)", TRANSACTIONS, "percentile(0.5): expected a field and a quantile between 0 and 1."),
    ("p95(user.email)", TRANSACTIONS, "p95(user.email): user.email is not a number."),
    ("avg(transaction.status)", TRANSACTIONS, "avg(transaction.status): transaction.status is not a number."),
    ("apdex(0)", TRANSACTIONS, "apdex(0): the threshold must be a positive number of milliseconds."),
    ("apdex(inf)", TRANSACTIONS, "apdex(inf): 'inf' is not a number."),
    ("failure_count(transaction.duration)", TRANSACTIONS,
     "failure_count(transaction.duration): failure_count() takes no argument."),
    ("user_misery(300)", ERRORS, "user_misery(300) needs transactions, and this query reads error events."),
    ("user_misery(-1)", TRANSACTIONS, "user_misery(-1): the threshold must be a positive number of milliseconds."),
    ("count_miserable(transaction, 300)", TRANSACTIONS,
     "count_miserable(transaction, 300): it counts users: count_miserable(user, threshold)."),
    ("count_miserable(user, x)", TRANSACTIONS, "count_miserable(user, x): 'x' is not a number."),
    ("count_if(transaction.duration, over, 3)", TRANSACTIONS, "count_if(transaction.duration, over, 3): expected a "
     "field, one of equals, notEquals, less, greater, lessOrEquals, greaterOrEquals and a value."),
    ("count_if(transaction.duration, greater)", TRANSACTIONS, "count_if(transaction.duration, greater): expected a "
     "field, one of equals, notEquals, less, greater, lessOrEquals, greaterOrEquals and a value."),
    ("count_if(transaction.duration, greater, slow)", TRANSACTIONS,
     "count_if(transaction.duration, greater, slow): 'slow' is not a number."),
    ("count_if(timestamp, greater, 3)", ERRORS,
     "count_if(timestamp, greater, 3): timestamp is compared to neither a text nor a number."),
])
def test_what_each_dataset_refuses(name: str, dataset, detail: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParams) as caught:
        sql(name, dataset)
    assert caught.value.detail == detail


def test_each_table_of_the_union_is_read_within_the_period() -> None:
    source, rest = DISCOVER.source("project_id IN {project_ids:Array(UInt64)}")
    assert rest == [] and source.count("FINAL WHERE project_id IN {project_ids:Array(UInt64)}") == 2
    assert "UNION ALL" in source
    assert TRANSACTIONS.source("b") == ("{db}.transactions FINAL", ["b"])
    assert ERRORS.source("b") == ("{db}.error_events FINAL", ["b"])


@pytest.mark.parametrize("query, reads", [
    ("", {"error_events", "transactions"}),
    ("event.type:transaction", {"transactions"}),
    ("transaction.op:http.server event.type:transaction", {"transactions"}),
    ("event.type:error", {"error_events"}),
    ("event.type:[error, default]", {"error_events"}),
    ("event.type:[error, transaction]", {"error_events", "transactions"}),
    ("!event.type:transaction", {"error_events", "transactions"}),
    ("event.type:trans*", {"error_events", "transactions"}),
    ("event.type:transaction OR level:error", {"error_events", "transactions"}),
])
def test_discover_reads_only_the_tables_its_event_type_filter_lets_through(query: str, reads: set[str]) -> None:
    q = table.parse({"field": ["id"], "query": [query]}, accessible={1: "a"}, now=NOW, offset=0, limit=51)
    assert {t for t in ("error_events", "transactions") if f"{{db}}.{t} FINAL" in q.sql} == reads
    if query:
        assert "type" in q.sql.rsplit(") WHERE ", 1)[1], "the filter still applies"
