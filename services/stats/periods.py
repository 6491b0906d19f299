"""Date ranges and intervals of the aggregate endpoints, as Sentry reads them. Pure.

Sentry's rules (`sentry.utils.dates.parse_stats_period`, `sentry.api.utils.get_date_range_from_params`,
`sentry.snuba.sessions_v2.get_constrained_date_range`, `sentry.snuba.metrics.utils.to_intervals`):

- A period is `<digits><unit>`, the unit one of `s m h d w` and seconds when absent ("90" is 90s).
- The range is `statsPeriod` back from now, else `statsPeriodStart`/`statsPeriodEnd` (both, each
  back from now), else `start` + `end` (both), else the default period back from now.
  `start >= end` is an error.
- An interval that is not a period falls back to one hour. It must be a multiple of the smallest
  resolution (a minute or an hour, per endpoint), at most a day, and divide a day.
- A start in the future is clamped to now; the start is then floored to the interval and the end
  ceiled to it, and at most `max_points` intervals may result.

One deliberate difference: a `start`/`end` with a UTC offset is converted to UTC, where Sentry drops
a `+hh:mm` suffix (reading the wall-clock time as UTC) and rejects a `-hh:mm` one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone

MAX_POINTS = 1000
ONE_MINUTE = 60
ONE_HOUR = 3600
ONE_DAY = 86400
DEFAULT_INTERVAL = timedelta(hours=1)

_PERIOD = re.compile(r"([0-9]+)([hdmsw]?)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_EPOCH = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?")

Params = Mapping[str, "str | list[str]"]


class InvalidParams(ValueError):
    """A request parameter Sentry would answer 400 for; `detail` is Sentry's message."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def param(params: Params, name: str) -> str | None:
    """The value of a query parameter; the last one when repeated (as Django's `QueryDict.get`)."""
    value = params.get(name)
    if isinstance(value, (list, tuple)):
        return value[-1] if value else None
    return value


def param_list(params: Params, name: str) -> list[str]:
    """Every value of a query parameter (as Django's `QueryDict.getlist`)."""
    value = params.get(name)
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def parse_stats_period(period: str) -> timedelta | None:
    """`"24h"` → 24 hours; `"90"` → 90 seconds; None when not a period or too large."""
    m = _PERIOD.fullmatch(period or "")
    if m is None:
        return None
    value, unit = m.groups()
    try:
        return timedelta(**{_UNITS[unit or "s"]: int(value)})
    except OverflowError:
        return None


def parse_timestamp(value: str) -> datetime:
    """An ISO 8601 date or date-time (naive means UTC) or epoch seconds, as an aware UTC datetime."""
    text = (value or "").strip()
    try:
        if _EPOCH.fullmatch(text):
            seconds = float(text)
            if not math.isfinite(seconds):
                raise ValueError(text)
            return datetime.fromtimestamp(seconds, timezone.utc)
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise InvalidParams(f"{value} is not a valid ISO8601 date query") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_interval(value: str | None, default: timedelta = DEFAULT_INTERVAL) -> timedelta:
    """An `interval` parameter; anything that is not a period (absent, empty, "abc") is `default`."""
    parsed = parse_stats_period(value) if value else None
    return default if parsed is None else parsed


def constrain_interval(interval: timedelta, *, minute_resolution: bool) -> int:
    """The interval in whole seconds, or InvalidParams when Sentry refuses it."""
    seconds = int(interval.total_seconds())
    smallest, name = (ONE_MINUTE, "one minute") if minute_resolution else (ONE_HOUR, "one hour")
    if seconds % smallest != 0 or seconds < smallest:
        raise InvalidParams(f"The interval has to be a multiple of the minimum interval of {name}.")
    if seconds > ONE_DAY:
        raise InvalidParams("The interval has to be less than one day.")
    if ONE_DAY % seconds != 0:
        raise InvalidParams("The interval should divide one day without a remainder.")
    return seconds


def _ago(period: str, now: datetime) -> datetime:
    parsed = parse_stats_period(period)
    if parsed is None:
        raise InvalidParams(f"Invalid statsPeriod: {period!r}")
    try:
        return now - parsed
    except OverflowError:
        raise InvalidParams(f"Invalid statsPeriod: {period!r}") from None


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def date_range(params: Params, now: datetime, default_period: str = "90d") -> tuple[datetime, datetime]:
    """(start, end) from `statsPeriod`, `statsPeriodStart`/`statsPeriodEnd` or `start`/`end`."""
    now = _utc(now)
    end = now
    start = _ago(default_period, now)

    stats_period = param(params, "statsPeriod")
    period_start = param(params, "statsPeriodStart")
    period_end = param(params, "statsPeriodEnd")
    if stats_period is not None:
        start = _ago(stats_period, now)
    elif period_start or period_end:
        if not (period_start and period_end):
            raise InvalidParams("statsPeriodStart and statsPeriodEnd are both required")
        start = _ago(period_start, now)
        end = _ago(period_end, now)
    elif param(params, "start") or param(params, "end"):
        raw_start, raw_end = param(params, "start"), param(params, "end")
        if not (raw_start and raw_end):
            raise InvalidParams("start and end are both required")
        start = parse_timestamp(raw_start)
        end = parse_timestamp(raw_end)

    if start >= end:
        raise InvalidParams("start must be before end")
    return start, end


def to_intervals(start: datetime, end: datetime, interval: int) -> tuple[datetime, datetime, int]:
    """`start` floored and `end` ceiled to whole `interval` seconds since the epoch; and their count."""
    start_us = _epoch_us(start)
    end_us = _epoch_us(end)
    step = interval * 1_000_000
    first = start_us // step * step
    count = -(-(end_us - first) // step)
    aligned = datetime.fromtimestamp(first // 1_000_000, timezone.utc)
    return aligned, aligned + timedelta(seconds=interval * count), count


def _epoch_us(at: datetime) -> int:
    delta = _utc(at) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def constrained_date_range(params: Params, now: datetime, *, minute_resolution: bool,
                           max_points: int = MAX_POINTS,
                           default_period: str = "90d") -> tuple[datetime, datetime, int]:
    """(start, end, interval seconds): the range of `params` aligned to its checked `interval`."""
    interval = constrain_interval(parse_interval(param(params, "interval")), minute_resolution=minute_resolution)
    start, end = date_range(params, now, default_period)
    now = _utc(now)
    if start > now:
        start = now
    start, end, count = to_intervals(start, end, interval)
    if count > max_points:
        raise InvalidParams(
            "Your interval and date range would create too many results. "
            "Use a larger interval, or a smaller date range."
        )
    return start, end, interval


# What ClickHouse's DateTime holds (1970 to 2106): a bound beyond is moved to the edge, where no
# row lies beyond either, so a period wholly outside reads nothing instead of failing.
_STORABLE_FIRST = datetime(1970, 1, 1, tzinfo=timezone.utc)
_STORABLE_LAST = datetime(2106, 1, 1, tzinfo=timezone.utc)


def storable(at: datetime) -> datetime:
    """`at` as a naive UTC datetime ClickHouse's DateTime and DateTime64 hold, for a bound of a
    time range (`[start, end)` keeps what it holds of stored rows)."""
    return min(max(_utc(at), _STORABLE_FIRST), _STORABLE_LAST).replace(tzinfo=None)


def isoformat_z(at: datetime) -> str:
    """`2024-01-01T00:00:00Z`: whole seconds, UTC."""
    return _utc(at).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def interval_starts(start: datetime, end: datetime, interval: int) -> list[datetime]:
    """The start of every interval in [start, end)."""
    step = timedelta(seconds=interval)
    out = []
    at = start
    while at < end:
        out.append(at)
        at += step
    return out


ALL_PROJECTS = -1  # `project=-1`: every project the caller may see


def requested_projects(params: Params) -> set[int]:
    """The `project` ids asked for (empty: none given); 400 when one is not a number."""
    try:
        return {int(p) for p in param_list(params, "project")}
    except ValueError:
        raise InvalidParams("Invalid project parameter. Values must be numbers.") from None


def accessible_projects(requested: set[int], accessible: Sequence[int]) -> tuple[int, ...]:
    """The projects to query: all accessible ones for none or `-1`, else the requested ones.

    Raises PermissionError (→ 403) for a requested project the caller may not see, and
    InvalidParams when no project is left.
    """
    if not requested or ALL_PROJECTS in requested:
        chosen = set(accessible)
    else:
        missing = requested - set(accessible)
        if missing:
            raise PermissionError(f"no access to projects {sorted(missing)}")
        chosen = requested
    if not chosen:
        raise InvalidParams("No projects available")
    return tuple(sorted(chosen))
