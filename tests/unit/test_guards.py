"""Row guards refuse, before any insert, each value ClickHouse or its client would refuse, and
name the column; rows within range pass."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from picket.store.guards import RowGuard, TableGuards, checker

UTC = timezone.utc
TYPES = {
    "org_id": "UInt64", "errors": "UInt32", "init": "UInt8", "seq": "UInt64", "delta": "Int64",
    "started": "DateTime64(3, 'UTC')", "hour": "DateTime('UTC')", "status": "LowCardinality(String)",
    "payload": "String", "duration": "Nullable(Float64)", "tags": "Array(String)",
    "ended": "Nullable(DateTime64(3, 'UTC'))",
}
GOOD = {
    "org_id": 1, "errors": 0, "init": True, "seq": 2**64 - 1, "delta": -(2**63), "started": datetime(2026, 1, 1, tzinfo=UTC),
    "hour": datetime(1970, 1, 1, tzinfo=UTC), "status": "ok", "payload": "ünïcödé ✓", "duration": None,
    "tags": ["a", "b"], "ended": None,
}


def _row(**changes: object) -> tuple[object, ...]:
    return tuple({**GOOD, **changes}[name] for name in TYPES)


GUARD = RowGuard("t", list(TYPES), TYPES)


def test_a_row_within_every_range_passes() -> None:
    assert GUARD.problem(_row()) is None
    assert GUARD.problem(_row(duration=1.5, ended=datetime(2100, 12, 31, 23, 59, tzinfo=UTC), payload=b"\xff")) is None


@pytest.mark.parametrize(("changes", "column"), [
    ({"errors": 2**40}, "errors"),
    ({"seq": 2**70}, "seq"),
    ({"org_id": -1}, "org_id"),
    ({"delta": 2**63}, "delta"),
    ({"init": "yes"}, "init"),
    ({"started": datetime(9999, 12, 31, 23, tzinfo=UTC)}, "started"),
    ({"hour": datetime(1900, 1, 1, tzinfo=UTC)}, "hour"),
    ({"ended": datetime(2101, 1, 1, tzinfo=UTC)}, "ended"),
    ({"payload": "bad \ud800 surrogate"}, "payload"),
    ({"status": 7}, "status"),
    ({"duration": 10**400}, "duration"),
    ({"tags": ["ok", "\udfff"]}, "tags"),
    ({"tags": "not a list"}, "tags"),
])
def test_each_out_of_range_value_is_refused_naming_its_column(changes: dict[str, object], column: str) -> None:
    problem = GUARD.problem(_row(**changes))
    assert problem is not None and problem.startswith(f"t.{column}:"), problem


def test_a_row_of_the_wrong_length_is_refused() -> None:
    assert "values for" in (GUARD.problem(_row()[:-1]) or "")


def test_naive_datetimes_are_read_as_utc() -> None:
    assert GUARD.problem(_row(started=datetime(2026, 1, 1))) is None
    assert GUARD.problem(_row(started=datetime(2200, 1, 1))) is not None


def test_unknown_types_are_left_to_the_store() -> None:
    assert checker("AggregateFunction(uniqExact, Nullable(String))")(object()) is None


def test_guards_for_unknown_columns_fail_loudly() -> None:
    with pytest.raises(ValueError):
        TableGuards({"t": TYPES}).guard("t", ["org_id", "nope"])


def test_table_guards_are_made_once_per_layout() -> None:
    guards = TableGuards({"t": TYPES})
    assert guards.guard("t", ["org_id"]) is guards.guard("t", ["org_id"])
    assert guards.guard("t", ["org_id"]).problem((5,)) is None
