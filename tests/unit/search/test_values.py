"""Filter values read as numbers, durations, percentages and dates, as Sentry writes them; out of
range and malformed values refused at their position."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from picket.search.syntax import SearchError, Value
from picket.search.values import date, duration_ms, number, percentage

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)


def v(text: str) -> Value:
    return Value(text, False, 7)


@pytest.mark.parametrize("text, expected", [
    ("10", 10.0), ("-2.5", -2.5), (".5", 0.5), ("1e3", 1000.0), ("1k", 1000.0), ("2.5M", 2.5e6), ("3b", 3e9),
])
def test_numbers(text: str, expected: float) -> None:
    assert number(v(text)) == expected


@pytest.mark.parametrize("text, expected", [
    ("500ms", 500.0), ("250", 250.0), ("1.5s", 1500.0), ("2sec", 2000.0), ("2m", 120_000.0), ("2min", 120_000.0),
    ("3h", 1.08e7), ("3hr", 1.08e7), ("1d", 8.64e7), ("1w", 6.048e8),
])
def test_durations_in_milliseconds(text: str, expected: float) -> None:
    assert duration_ms(v(text)) == expected


def test_percentages() -> None:
    assert percentage(v("0.25")) == 0.25
    assert percentage(v("50%")) == 0.5


@pytest.mark.parametrize("text, expected", [
    ("-24h", NOW - timedelta(hours=24)), ("+1d", NOW + timedelta(days=1)), ("-30m", NOW - timedelta(minutes=30)),
    ("-2w", NOW - timedelta(weeks=2)), ("-10s", NOW - timedelta(seconds=10)),
    ("2026-01-31", datetime(2026, 1, 31, tzinfo=timezone.utc)),
    ("2026-01-31T12:30:00", datetime(2026, 1, 31, 12, 30, tzinfo=timezone.utc)),
    ("2026-01-31T12:30:00Z", datetime(2026, 1, 31, 12, 30, tzinfo=timezone.utc)),
    ("2026-01-31T14:30:00+02:00", datetime(2026, 1, 31, 12, 30, tzinfo=timezone.utc)),
    ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)),
])
def test_dates_absolute_and_relative_to_now(text: str, expected: datetime) -> None:
    assert date(v(text), NOW) == expected


@pytest.mark.parametrize("reader, text, message", [
    (number, "ten", "'ten' is not a number"),
    (number, "1e400", "'1e400' is out of range"),
    (number, "9" * 400, "'" + "9" * 40 + "…' is out of range"),  # quoted cut short
    (number, "2e15", "'2e15' is out of range"),
    (number, "NaN", "'NaN' is not a number"),
    (number, "inf", "'inf' is not a number"),
    (duration_ms, "fast", "'fast' is not a duration"),
    (duration_ms, "5years", "'5years' is not a duration"),
    (duration_ms, "-5s", "'-5s' is not a duration"),
    (duration_ms, "99999999999d", "'99999999999d' is out of range"),
    (percentage, "half", "'half' is not a number"),
])
def test_malformed_and_out_of_range_values_are_refused_where_they_are(reader, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SearchError) as caught:
        reader(v(text))
    assert str(caught.value).startswith("Invalid query: ") and message in str(caught.value)
    assert str(caught.value).endswith("(column 8)") and caught.value.position == 7


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "-24y", "-9999999w", "1969-12-31",
                                  "9999-12-31T23:00:00-05:00", "+9999999d", ""])
def test_malformed_and_out_of_range_dates_are_refused(text: str) -> None:
    with pytest.raises(SearchError, match=r"\(column 8\)$"):
        date(v(text), NOW)
