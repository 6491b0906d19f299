"""Date ranges and intervals as Sentry reads `statsPeriod`, `start`/`end` and `interval`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from picket.stats.periods import (
    InvalidParams,
    constrain_interval,
    constrained_date_range,
    date_range,
    interval_starts,
    isoformat_z,
    parse_interval,
    parse_stats_period,
    parse_timestamp,
    to_intervals,
)

NOW = datetime(2024, 3, 10, 15, 30, 12, 500000, tzinfo=timezone.utc)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, expected", [
    ("24h", timedelta(hours=24)),
    ("14d", timedelta(days=14)),
    ("30m", timedelta(minutes=30)),
    ("2w", timedelta(weeks=2)),
    ("90s", timedelta(seconds=90)),
    ("90", timedelta(seconds=90)),
    ("0h", timedelta(0)),
])
def test_stats_periods(text: str, expected: timedelta) -> None:
    assert parse_stats_period(text) == expected


@pytest.mark.parametrize("text", ["", "h", "1y", "1.5h", "-1h", " 1h", "1h ", "1H", "1hh", "99999999999999d"])
def test_not_stats_periods(text: str) -> None:
    assert parse_stats_period(text) is None


@pytest.mark.parametrize("text, expected", [
    ("2024-03-01T10:20:30", utc(2024, 3, 1, 10, 20, 30)),
    ("2024-03-01T10:20:30Z", utc(2024, 3, 1, 10, 20, 30)),
    ("2024-03-01T10:20:30.250Z", utc(2024, 3, 1, 10, 20, 30, 250000)),
    ("2024-03-01T10:20:30+02:00", utc(2024, 3, 1, 8, 20, 30)),
    ("2024-03-01T10:20:30-05:00", utc(2024, 3, 1, 15, 20, 30)),
    ("2024-03-01", utc(2024, 3, 1)),
    ("1709288430", utc(2024, 3, 1, 10, 20, 30)),
    ("1709288430.5", utc(2024, 3, 1, 10, 20, 30, 500000)),
])
def test_timestamps(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01", "2024-03-01T25:00:00", "nan", "1e400"])
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(InvalidParams) as err:
        parse_timestamp(text)
    assert err.value.detail == f"{text} is not a valid ISO8601 date query"
    assert isinstance(err.value, ValueError)


def test_interval_falls_back_to_an_hour_when_not_a_period() -> None:
    assert parse_interval("1d") == timedelta(days=1)
    assert parse_interval("5m") == timedelta(minutes=5)
    assert parse_interval("3600") == timedelta(hours=1)
    assert parse_interval(None) == timedelta(hours=1)
    assert parse_interval("") == timedelta(hours=1)
    assert parse_interval("abc") == timedelta(hours=1)


@pytest.mark.parametrize("interval, minute, expected", [
    (timedelta(hours=1), False, 3600),
    (timedelta(hours=4), False, 14400),
    (timedelta(days=1), False, 86400),
    (timedelta(minutes=5), True, 300),
    (timedelta(minutes=1), True, 60),
])
def test_accepted_intervals(interval: timedelta, minute: bool, expected: int) -> None:
    assert constrain_interval(interval, minute_resolution=minute) == expected


@pytest.mark.parametrize("interval, minute, detail", [
    (timedelta(minutes=7), True, "The interval should divide one day without a remainder."),
    (timedelta(minutes=7), False, "The interval has to be a multiple of the minimum interval of one hour."),
    (timedelta(minutes=5), False, "The interval has to be a multiple of the minimum interval of one hour."),
    (timedelta(seconds=90), True, "The interval has to be a multiple of the minimum interval of one minute."),
    (timedelta(0), True, "The interval has to be a multiple of the minimum interval of one minute."),
    (timedelta(days=2), True, "The interval has to be less than one day."),
    (timedelta(hours=5), False, "The interval should divide one day without a remainder."),
])
def test_refused_intervals(interval: timedelta, minute: bool, detail: str) -> None:
    with pytest.raises(InvalidParams) as err:
        constrain_interval(interval, minute_resolution=minute)
    assert err.value.detail == detail


def test_date_range_from_stats_period() -> None:
    assert date_range({"statsPeriod": "24h"}, NOW) == (NOW - timedelta(hours=24), NOW)
    assert date_range({"statsPeriod": ["1d", "2d"]}, NOW) == (NOW - timedelta(days=2), NOW), "the last value wins"


def test_date_range_defaults_to_ninety_days() -> None:
    assert date_range({}, NOW) == (NOW - timedelta(days=90), NOW)
    assert date_range({}, NOW, default_period="14d") == (NOW - timedelta(days=14), NOW)


def test_date_range_from_start_and_end() -> None:
    got = date_range({"start": ["2024-03-01T00:00:00"], "end": ["2024-03-02T12:00:00Z"]}, NOW)
    assert got == (utc(2024, 3, 1), utc(2024, 3, 2, 12))
    got = date_range({"start": "1709251200", "end": "1709337600"}, NOW)
    assert got == (utc(2024, 3, 1), utc(2024, 3, 2))


def test_stats_period_wins_over_start_and_end() -> None:
    got = date_range({"statsPeriod": "1h", "start": "2024-03-01", "end": "2024-03-02"}, NOW)
    assert got == (NOW - timedelta(hours=1), NOW)


def test_relative_start_and_end() -> None:
    got = date_range({"statsPeriodStart": "15d", "statsPeriodEnd": "8d"}, NOW)
    assert got == (NOW - timedelta(days=15), NOW - timedelta(days=8))


@pytest.mark.parametrize("params, detail", [
    ({"start": "2024-03-01"}, "start and end are both required"),
    ({"end": "2024-03-01"}, "start and end are both required"),
    ({"statsPeriodStart": "2d"}, "statsPeriodStart and statsPeriodEnd are both required"),
    ({"start": "2024-03-02", "end": "2024-03-01"}, "start must be before end"),
    ({"start": "2024-03-01", "end": "2024-03-01"}, "start must be before end"),
    ({"statsPeriodStart": "1d", "statsPeriodEnd": "2d"}, "start must be before end"),
    ({"statsPeriod": "2x"}, "Invalid statsPeriod: '2x'"),
    ({"statsPeriod": ""}, "Invalid statsPeriod: ''"),
    ({"statsPeriod": "999999999d"}, "Invalid statsPeriod: '999999999d'"),
    ({"start": "soon", "end": "2024-03-01"}, "soon is not a valid ISO8601 date query"),
])
def test_invalid_date_ranges(params: dict[str, str], detail: str) -> None:
    with pytest.raises(InvalidParams) as err:
        date_range(params, NOW)
    assert err.value.detail == detail


def test_to_intervals_floors_start_and_ceils_end() -> None:
    assert to_intervals(utc(2024, 3, 8, 15, 30), utc(2024, 3, 10, 15, 30), 86400) == (
        utc(2024, 3, 8), utc(2024, 3, 11), 3)
    assert to_intervals(utc(2024, 3, 8), utc(2024, 3, 9), 3600) == (utc(2024, 3, 8), utc(2024, 3, 9), 24)
    assert to_intervals(utc(2024, 3, 8), utc(2024, 3, 8, 0, 0, 0, 1), 3600) == (
        utc(2024, 3, 8), utc(2024, 3, 8, 1), 1)


def test_constrained_range_two_days_by_day() -> None:
    start, end, interval = constrained_date_range({"statsPeriod": "2d", "interval": "1d"}, NOW,
                                                  minute_resolution=True)
    assert (start, end, interval) == (utc(2024, 3, 8), utc(2024, 3, 11), 86400)


def test_constrained_range_explicit_start_end_by_hour() -> None:
    params = {"start": "2024-03-01T10:20:00Z", "end": "2024-03-01T13:05:00Z", "interval": "1h"}
    assert constrained_date_range(params, NOW, minute_resolution=False) == (
        utc(2024, 3, 1, 10), utc(2024, 3, 1, 14), 3600)


def test_constrained_range_from_epoch_seconds_by_five_minutes() -> None:
    params = {"start": str(int(utc(2024, 3, 1, 10, 2).timestamp())),
              "end": str(int(utc(2024, 3, 1, 10, 21).timestamp())), "interval": "5m"}
    assert constrained_date_range(params, NOW, minute_resolution=True) == (
        utc(2024, 3, 1, 10), utc(2024, 3, 1, 10, 25), 300)


def test_constrained_range_clamps_a_future_start_to_now() -> None:
    params = {"start": "2024-03-11T00:00:00", "end": "2024-03-12T00:00:00", "interval": "1h"}
    assert constrained_date_range(params, NOW, minute_resolution=False) == (
        utc(2024, 3, 10, 15), utc(2024, 3, 12), 3600)


def test_constrained_range_defaults_to_hourly_over_ninety_days_which_is_too_many_points() -> None:
    with pytest.raises(InvalidParams) as err:
        constrained_date_range({}, NOW, minute_resolution=True)
    assert err.value.detail.startswith("Your interval and date range would create too many results.")
    start, end, interval = constrained_date_range({"interval": "1d"}, NOW, minute_resolution=True)
    assert (start, end, interval) == (utc(2023, 12, 11), utc(2024, 3, 11), 86400)


def test_constrained_range_checks_the_interval_before_the_dates() -> None:
    with pytest.raises(InvalidParams) as err:
        constrained_date_range({"interval": "7m", "start": "x"}, NOW, minute_resolution=True)
    assert err.value.detail == "The interval should divide one day without a remainder."


def test_isoformat_and_interval_starts() -> None:
    assert isoformat_z(utc(2024, 3, 1, 10, 20, 30, 999)) == "2024-03-01T10:20:30Z"
    assert isoformat_z(datetime(2024, 3, 1, 12, tzinfo=timezone(timedelta(hours=2)))) == "2024-03-01T10:00:00Z"
    assert interval_starts(utc(2024, 3, 1), utc(2024, 3, 1, 3), 3600) == [
        utc(2024, 3, 1), utc(2024, 3, 1, 1), utc(2024, 3, 1, 2)]
