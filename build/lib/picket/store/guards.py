"""Rows checked against the columns they land in, before any insert.

A value ClickHouse (or the client's serializer) would refuse makes the whole insert fail, and a
batch that cannot be written stalls its partition. So every row a consumer writes is checked
first, column by column, against the column's type as the store declares it
(`system.columns`): integers within their width, finite-size floats, dates within 1970–2100,
strings that encode as UTF-8 and are at most `MAX_STRING_BYTES`, arrays and nullables of those.
A row that fails names the column and the reason; its item goes to the dead letters instead.
Pure, except `TableGuards.load`, which reads the column types once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

Check = Callable[[Any], str | None]

MIN_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_TIME = datetime(2100, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
MAX_STRING_BYTES = 64 * 1024 * 1024
_INT = re.compile(r"(U?)Int(8|16|32|64|128|256)")
_WRAPPER = re.compile(r"(Nullable|LowCardinality|Array)\((.*)\)")


def _integer(unsigned: bool, bits: int) -> Check:
    low, high = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)

    def check(value: Any) -> str | None:
        if not isinstance(value, int):
            return f"{type(value).__name__} is not an integer"
        if not low <= value <= high:
            return f"{value} is outside {low}..{high}"
        return None

    return check


def _float(value: Any) -> str | None:
    if isinstance(value, float):
        return None
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            return "integer too large for a float"
        return None
    return f"{type(value).__name__} is not a number"


def _time(value: Any) -> str | None:
    if not isinstance(value, datetime):
        return f"{type(value).__name__} is not a datetime"
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not MIN_TIME <= aware <= MAX_TIME:
        return f"{value.isoformat()} is outside 1970..2100"
    return None


def _string(value: Any) -> str | None:
    if isinstance(value, bytes):
        size = len(value)
    elif isinstance(value, str):
        if value.isascii():
            size = len(value)
        else:
            try:
                size = len(value.encode("utf-8"))
            except UnicodeEncodeError:
                return "text is not valid UTF-8 (lone surrogate)"
    else:
        return f"{type(value).__name__} is not a string"
    return f"{size} bytes is over {MAX_STRING_BYTES}" if size > MAX_STRING_BYTES else None


def _nullable(inner: Check) -> Check:
    return lambda value: None if value is None else inner(value)


def _array(inner: Check) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, (list, tuple)):
            return f"{type(value).__name__} is not an array"
        for element in value:
            problem = inner(element)
            if problem:
                return f"element: {problem}"
        return None

    return check


def _anything(_: Any) -> str | None:
    return None


def checker(column_type: str) -> Check:
    """The check of one ClickHouse column type. Types it does not know (aggregate states, which
    no consumer writes) are let through: the insert is the judge there."""
    column_type = column_type.strip()
    wrapped = _WRAPPER.fullmatch(column_type)
    if wrapped:
        inner = checker(wrapped.group(2))
        return {"Nullable": _nullable, "Array": _array, "LowCardinality": lambda c: c}[wrapped.group(1)](inner)
    integer = _INT.fullmatch(column_type)
    if integer:
        return _integer(integer.group(1) == "U", int(integer.group(2)))
    if column_type in ("Float32", "Float64"):
        return _float
    if column_type.startswith(("DateTime", "Date")):
        return _time
    if column_type in ("String", "UUID") or column_type.startswith("FixedString"):
        return _string
    if column_type == "Bool":
        return lambda value: None if isinstance(value, bool) else f"{type(value).__name__} is not a boolean"
    return _anything


class RowGuard:
    """Checks rows of one table laid out as `columns`."""

    def __init__(self, table: str, columns: Sequence[str], types: dict[str, str]) -> None:
        missing = [c for c in columns if c not in types]
        if missing:
            raise ValueError(f"{table} has no columns {missing}")
        self.table = table
        self._checks = [(name, checker(types[name])) for name in columns]

    def problem(self, row: Sequence[Any]) -> str | None:
        """None for a row the table takes; else what is wrong, naming the column."""
        if len(row) != len(self._checks):
            return f"{self.table}: row has {len(row)} values for {len(self._checks)} columns"
        for (name, check), value in zip(self._checks, row):
            found = check(value)
            if found:
                return f"{self.table}.{name}: {found}"
        return None


class TableGuards:
    """Row guards for the tables of one database, from the column types the store declares."""

    def __init__(self, types: dict[str, dict[str, str]]) -> None:
        self._types = types
        self._guards: dict[tuple[str, tuple[str, ...]], RowGuard] = {}

    @classmethod
    def load(cls, store: Any) -> TableGuards:
        types: dict[str, dict[str, str]] = {}
        rows = store.query("SELECT table, name, type FROM system.columns WHERE database = {d:String}",
                           {"d": store.database})
        for table, name, column_type in rows:
            types.setdefault(table, {})[name] = column_type
        return cls(types)

    def guard(self, table: str, columns: Sequence[str]) -> RowGuard:
        key = (table, tuple(columns))
        found = self._guards.get(key)
        if found is None:
            found = self._guards[key] = RowGuard(table, columns, self._types.get(table, {}))
        return found
