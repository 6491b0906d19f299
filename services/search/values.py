"""The values of a search filter read as what its field holds. Pure.

- numbers: `10`, `-2.5`, `1e3`, with Sentry's suffixes `k` (thousand), `m` (million), `b`
  (billion); finite and within ±1e15 (larger ones are refused, not rounded);
- durations, in milliseconds: `500ms`, `1.5s`, `2m`/`2min`, `3h`/`3hr`, `1d`, `1w` (a bare
  number is milliseconds);
- dates: ISO 8601 (`2026-01-31`, `2026-01-31T12:00:00`, with `Z` or an offset; naive is UTC)
  or relative to now (`-24h`, `+1d`, `-30m`, `-2w`: `-24h` is 24 hours ago), years 1970–9999;
- percentages: `0.5` or `50%`.
Each raises `SearchError` ("Invalid query: … (column N)", at the value) saying what was expected.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

from picket.search.syntax import Value, invalid

_NUMBER = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?)([kKmMbB]?)")
_SCALE = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9}
_DURATION = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|s|sec|m|min|h|hr|d|w)?")
_MS = {None: 1, "ms": 1, "s": 1e3, "sec": 1e3, "m": 6e4, "min": 6e4, "h": 3.6e6, "hr": 3.6e6, "d": 8.64e7,
       "w": 6.048e8}
_RELATIVE = re.compile(r"([+-])(\d{1,6})(s|m|h|d|w)")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
LIMIT = 1e15


def _shown(text: str) -> str:
    """A value as an error message quotes it: a long one cut short."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


def number(value: Value) -> float:
    found = _NUMBER.fullmatch(value.text)
    if found is None:
        raise invalid(f"{_shown(value.text)} is not a number", value.position)
    result = float(found.group(1)) * _SCALE[found.group(2).lower()]
    if not math.isfinite(result) or abs(result) > LIMIT:
        raise invalid(f"{_shown(value.text)} is out of range", value.position)
    return result


def duration_ms(value: Value) -> float:
    found = _DURATION.fullmatch(value.text)
    if found is None:
        raise invalid(f"{_shown(value.text)} is not a duration (like 500ms, 2s, 1.5h)", value.position)
    result = float(found.group(1)) * _MS[found.group(2)]
    if not math.isfinite(result) or result > LIMIT:
        raise invalid(f"{_shown(value.text)} is out of range", value.position)
    return result


def percentage(value: Value) -> float:
    text = value.text
    if text.endswith("%"):
        return number(Value(text[:-1], value.quoted, value.position)) / 100
    return number(value)


def date(value: Value, now: datetime) -> datetime:
    """An aware UTC datetime (`now`: what relative dates count from)."""
    relative = _RELATIVE.fullmatch(value.text)
    if relative is not None:
        sign, amount, unit = relative.groups()
        delta = timedelta(**{_UNIT[unit]: int(amount)})
        try:
            return now - delta if sign == "-" else now + delta
        except OverflowError:
            raise invalid(f"{_shown(value.text)} is out of range", value.position) from None
    text = value.text[:-1] + "+00:00" if value.text.endswith(("Z", "z")) else value.text
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(f"{_shown(value.text)} is not a date (like 2026-01-31, 2026-01-31T12:00:00Z or -24h)",
                      value.position) from None
    try:
        parsed = parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    except OverflowError:
        raise invalid(f"{_shown(value.text)} is out of range", value.position) from None
    if parsed.year < 1970:
        raise invalid(f"{_shown(value.text)} is out of range", value.position)
    return parsed
