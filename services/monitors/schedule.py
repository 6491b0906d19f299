"""Monitor schedules: validating a monitor's `config` and computing its expected check-in times.

Everything here is a pure function of its arguments; no clock is read.

Config shapes accepted by `validate_config` (Sentry's `ConfigValidator`):
- REST (`config` of POST/PUT .../monitors/): `schedule_type` + `schedule`, where `schedule` is a
  crontab string or `[count, unit]`; `schedule_type` may be left out when the form of `schedule`
  tells it (a string is a crontab, a list an interval).
- SDK (`monitor_config` of a check-in): `schedule` is `{"type": "crontab", "value": "0 * * * *"}`
  or `{"type": "interval", "value": 2, "unit": "hour"}`; the object's `type` wins over
  `schedule_type`.
Both carry `checkin_margin`, `max_runtime` (minutes), `timezone`, `failure_issue_threshold` and
`recovery_threshold`. Unknown keys are ignored; camelCase spellings of the keys are understood.
An empty or null value means "not set" (the default applies); for an update (`partial_base`) a key
that is absent keeps the base's value, while an explicit null clears it (timezone: "" or null
keeps the base's zone).

A config nested deeper than `MAX_CONFIG_DEPTH` levels (Sentry's deepest is 2: `schedule` as an
object) is refused before anything else is looked at, with a walk that does not recurse.

Limits (Sentry's): checkin_margin 1..40320 (0 is read as 1, as Sentry does for old SDK upserts),
max_runtime 1..40320, both thresholds 1..720, interval count >= 1 (and at most 100 years, so the
arithmetic cannot overflow), units minute/hour/day/week/month/year, time zones from the IANA
database. Defaults: margin 1 minute, max runtime 30 minutes, time zone UTC.

Crontab: exactly 5 fields (minute hour day-of-month month day-of-week); `*`, numbers, ranges
`a-b` (not reversed), steps `*/n`, `a-b/n`, `a/n` (= a to the field's end), lists, month names
JAN..DEC and day names SUN..SAT (any case; day 7 is Sunday too), `L` (last day) in the
day-of-month, and `NL` (last weekday N of the month) / `N#k` (k-th weekday N, k 1..5) in the
day-of-week (only with other such items). Aliases @yearly/@annually/@monthly/@weekly/@daily/
@hourly are stored as their expressions. Day-of-month and day-of-week combine as in Debian's cron
(what Sentry evaluates with): when either field starts with `*` both must match, otherwise either
may match.

Time zones and daylight saving time (crontab), as Debian's cron and Sentry's evaluator do:
- a job whose minute or hour field starts with `*` ("*/5 * * * *", "0 * * * *") runs on real
  time: every instant whose local wall-clock time matches. Across the spring-forward jump the
  skipped wall times simply do not occur; across the fall-back the repeated hour matches twice.
  "*/5" therefore steps exactly 5 real minutes through both transitions.
- any other job ("30 2 * * *", "0 9 * * MON-FRI") runs at a wall-clock time: a time that does not
  exist that day (02:30 on the spring-forward day in Europe/Vienna) runs at the first minute after
  the jump (03:00 local); a time that occurs twice (fall-back) runs once, at its first occurrence.
  (croniter on its own would give 03:30 for the skipped 02:30; Sentry, like Debian's cron, gives
  03:00, which is what is done here.)
croniter evaluates the expression on naive wall-clock times only; the mapping to instants is ours.

Intervals: `next_expected` is `after` + the interval. Minutes and hours are real elapsed time.
Days, weeks, months and years move the wall clock in the monitor's time zone (a daily job stays at
its local hour across DST; a wall time that does not exist is read with the offset before the
jump, i.e. moved forward by the gap; an ambiguous one is its first occurrence). Months and years
are calendar steps with the day clamped to the end of the target month: Jan 31 + 1 month is
Feb 28 (Feb 29 in a leap year), Feb 29 + 1 year is Feb 28. Chained, the day then stays at 28
(Sentry's rrule-based evaluation instead skips months that lack the day, Jan 31 -> Mar 31).
Like Sentry, expected times are truncated to the minute.
"""

from __future__ import annotations

import calendar
import heapq
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from croniter import CroniterBadDateError, croniter

from picket.schemas.monitors import IntervalUnit, MonitorConfig, ScheduleType

UTC = timezone.utc

DEFAULT_CHECKIN_MARGIN = 1  # minutes
DEFAULT_MAX_RUNTIME = 30  # minutes
MAX_CHECKIN_MARGIN = 40_320  # 28 days
MAX_MAX_RUNTIME = 40_320  # 28 days
MAX_THRESHOLD = 720
MAX_CONFIG_DEPTH = 16

SCHEDULE_TYPES: tuple[ScheduleType, ...] = ("crontab", "interval")
INTERVAL_UNITS: tuple[IntervalUnit, ...] = ("minute", "hour", "day", "week", "month", "year")
# the largest count per unit: 100 years
_MAX_INTERVAL: dict[str, int] = {
    "minute": 100 * 366 * 24 * 60,
    "hour": 100 * 366 * 24,
    "day": 100 * 366,
    "week": 100 * 53,
    "month": 100 * 12,
    "year": 100,
}

CRONTAB_ALIASES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_CAMEL_KEYS = {
    "scheduleType": "schedule_type",
    "checkinMargin": "checkin_margin",
    "maxRuntime": "max_runtime",
    "failureIssueThreshold": "failure_issue_threshold",
    "recoveryThreshold": "recovery_threshold",
}

_MISSING: Any = object()


class ScheduleError(ValueError):
    """An invalid monitor config; `detail` is meant for a 400 `{"detail": ...}`."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.detail = f"Invalid {field}: {message}"
        super().__init__(self.detail)


# --- validation ---------------------------------------------------------------------------------

def validate_config(raw: Mapping[str, Any], *, partial_base: MonitorConfig | None = None) -> MonitorConfig:
    """A validated `MonitorConfig` from a REST `config` or an SDK `monitor_config`.

    With `partial_base` (an update), keys absent from `raw` keep the base's values.
    Raises `ScheduleError` naming the offending field.
    """
    if not isinstance(raw, Mapping):
        raise ScheduleError("config", "expected an object.")
    if _deeper_than(raw, MAX_CONFIG_DEPTH):
        raise ScheduleError("config", f"nested more than {MAX_CONFIG_DEPTH} levels deep.")
    data = dict(raw)
    for camel, snake in _CAMEL_KEYS.items():
        if camel in data and snake not in data:
            data[snake] = data[camel]
    base = partial_base

    schedule_type, schedule = _validate_schedule(data, base)
    return MonitorConfig(
        schedule_type=schedule_type,
        schedule=schedule,
        checkin_margin=_int_field(
            data, "checkin_margin", base.checkin_margin if base else None, MAX_CHECKIN_MARGIN,
            zero_is_one=True,
        ),
        max_runtime=_int_field(data, "max_runtime", base.max_runtime if base else None, MAX_MAX_RUNTIME),
        timezone=_timezone_field(data, base.timezone if base else "UTC"),
        failure_issue_threshold=_int_field(
            data, "failure_issue_threshold", base.failure_issue_threshold if base else None, MAX_THRESHOLD
        ),
        recovery_threshold=_int_field(
            data, "recovery_threshold", base.recovery_threshold if base else None, MAX_THRESHOLD
        ),
    )


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and lists in `value` nest more than `limit` levels (`value` itself is 1)."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        children = current.values() if isinstance(current, Mapping) else current
        stack.extend((c, depth + 1) for c in children if isinstance(c, (Mapping, list, tuple)))
    return False


def _validate_schedule(
    data: dict[str, Any], base: MonitorConfig | None
) -> tuple[ScheduleType, str | tuple[int, IntervalUnit]]:
    raw_type = data.get("schedule_type", _MISSING)
    if raw_type is None or raw_type == "":
        raw_type = _MISSING
    if raw_type is not _MISSING and raw_type not in SCHEDULE_TYPES:
        raise ScheduleError("schedule_type", 'expected "crontab" or "interval".')

    value = data.get("schedule", _MISSING)
    if value is _MISSING or value is None or value == "":
        if base is None:
            raise ScheduleError("schedule", "a schedule is required.")
        if raw_type is not _MISSING and raw_type != base.schedule_type:
            raise ScheduleError("schedule", "a schedule is required when changing schedule_type.")
        return base.schedule_type, base.schedule

    schedule_type: str | Any = raw_type
    if isinstance(value, Mapping):
        object_type = value.get("type")
        if object_type not in (None, ""):
            if object_type not in SCHEDULE_TYPES:
                raise ScheduleError("schedule", 'its type must be "crontab" or "interval".')
            schedule_type = object_type
        elif schedule_type is _MISSING:
            schedule_type = "interval" if "unit" in value else "crontab"
        value = [value.get("value"), value.get("unit")] if schedule_type == "interval" else value.get("value")
    elif schedule_type is _MISSING:
        if isinstance(value, str):
            schedule_type = "crontab"
        elif isinstance(value, (list, tuple)):
            schedule_type = "interval"
        else:
            raise ScheduleError("schedule", "expected a crontab string or an interval [count, unit].")

    if schedule_type == "crontab":
        return "crontab", normalize_crontab(value)
    return "interval", _validate_interval(value)


def normalize_crontab(value: Any) -> str:
    """The stored form of a crontab: whitespace collapsed, an @alias replaced by its expression."""
    if not isinstance(value, str):
        raise ScheduleError("schedule", "a crontab schedule must be a string.")
    expr = " ".join(value.split())
    if not expr:
        raise ScheduleError("schedule", "a schedule is required.")
    if expr.startswith("@"):
        alias = CRONTAB_ALIASES.get(expr.lower())
        if alias is None:
            names = ", ".join(CRONTAB_ALIASES)
            raise ScheduleError("schedule", f"unsupported alias {expr!r} (use one of {names}).")
        expr = alias
    _crontab(expr)
    return expr


def _validate_interval(value: Any) -> tuple[int, IntervalUnit]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ScheduleError("schedule", 'an interval schedule must be [count, unit], e.g. [2, "hour"].')
    raw_count, unit = value
    count = _as_int(raw_count)
    if count is None:
        raise ScheduleError("schedule", "the interval count must be a whole number.")
    if count < 1:
        raise ScheduleError("schedule", "the interval count must be greater than zero.")
    if unit not in INTERVAL_UNITS:
        raise ScheduleError("schedule", f"the interval unit must be one of {', '.join(INTERVAL_UNITS)}.")
    if count > _MAX_INTERVAL[unit]:
        raise ScheduleError("schedule", "the interval may be at most 100 years.")
    return count, unit


def _as_int(value: Any) -> int | None:
    """An integer from an int, an integral float or a string of digits; None if it is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,12}\s*", value):
        return int(value)
    return None


def _int_field(
    data: dict[str, Any], field: str, base: int | None, maximum: int, *, zero_is_one: bool = False
) -> int | None:
    value = data.get(field, _MISSING)
    if value is _MISSING:
        return base
    if value is None or value == "":
        return None
    number = _as_int(value)
    if number is None:
        raise ScheduleError(field, "must be a whole number.")
    if number == 0 and zero_is_one:
        return 1
    if number < 1:
        raise ScheduleError(field, "must be at least 1.")
    if number > maximum:
        raise ScheduleError(field, f"must be at most {maximum}.")
    return number


def _timezone_field(data: dict[str, Any], base: str) -> str:
    value = data.get("timezone", _MISSING)
    if value is _MISSING or value is None or value == "":
        return base
    if not isinstance(value, str) or not _is_known_zone(value):
        raise ScheduleError("timezone", f'{value!r} is not an IANA time zone name (such as "Europe/Vienna").')
    return value


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _is_known_zone(name: str) -> bool:
    if name == "UTC":
        return True
    if name not in _known_zones():
        return False
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


def _zone(name: str) -> tzinfo:
    if not name or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise ScheduleError("timezone", f"{name!r} is not an IANA time zone name.") from None


# --- crontab parsing ----------------------------------------------------------------------------

_MONTHS = {name: i for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
_DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DAYS),
)
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_NTH_WEEKDAY = re.compile(r"([A-Za-z]{3}|\d+)#(\d+)")
_LAST_WEEKDAY = re.compile(r"([A-Za-z]{3}|\d+)[Ll]")


@dataclass(frozen=True, slots=True)
class _Crontab:
    # croniter expressions over naive wall-clock times, whose matches are merged
    wall_exprs: tuple[str, ...]
    # minute or hour field starts with "*": evaluated on real time (see the module docstring)
    real_time: bool


def _bad(message: str) -> ScheduleError:
    return ScheduleError("schedule", message)


def _field_value(index: int, token: str) -> int:
    name, low, high, names = _FIELDS[index]
    if token.upper() in names:
        return names[token.upper()]
    if not (token.isascii() and token.isdigit()):
        raise _bad(f"{token!r} is not a valid {name} value.")
    value = int(token)
    if not low <= value <= high:
        raise _bad(f"{name} value {value} is out of range ({low}-{high}).")
    return value


def _field_values(index: int, text: str) -> set[int]:
    """The values a plain field (no L/# items) selects; raises on any malformed term."""
    name, low, high, _ = _FIELDS[index]
    values: set[int] = set()
    for term in text.split(","):
        if not term:
            raise _bad(f"empty item in the {name} field {text!r}.")
        base, slash, step_text = term.partition("/")
        step = 1
        if slash:
            if not (step_text.isascii() and step_text.isdigit()) or int(step_text) < 1:
                raise _bad(f"the step in {term!r} ({name}) must be a positive number.")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _field_value(index, first), _field_value(index, last)
            if end < start:
                raise _bad(f"the range {base!r} in the {name} field is reversed.")
        else:
            start = _field_value(index, base)
            end = high if slash else start
        values.update(range(start, end + 1, step))
    return values


def _listing(index: int, values: set[int]) -> str:
    """A field for croniter: `*` for the whole range, else the explicit sorted values."""
    _, low, high, _ = _FIELDS[index]
    if values >= set(range(low, high + 1)):
        return "*"
    return ",".join(str(v) for v in sorted(values))


def _day_of_week(text: str) -> str:
    """Validate the day-of-week field; returns it as croniter is given it."""
    terms = text.split(",")
    special = [bool(_NTH_WEEKDAY.fullmatch(t) or _LAST_WEEKDAY.fullmatch(t)) for t in terms]
    if not any(special):
        days = {v % 7 for v in _field_values(4, text)}
        return "*" if len(days) == 7 else ",".join(str(v) for v in sorted(days))
    if not all(special):
        raise _bad("the day-of-week field cannot mix N#k / NL items with plain days.")
    out = []
    for term in terms:
        if nth := _NTH_WEEKDAY.fullmatch(term):
            day = _field_value(4, nth.group(1)) % 7
            k = int(nth.group(2))
            if not 1 <= k <= 5:
                raise _bad(f"{term!r}: the week in N#k must be 1 to 5.")
            out.append(f"{day}#{k}")
        else:
            last = _LAST_WEEKDAY.fullmatch(term)
            assert last is not None
            out.append(f"L{_field_value(4, last.group(1)) % 7}")
    return ",".join(out)


def _day_of_month(text: str, months: set[int]) -> tuple[str, ...]:
    """Validate the day-of-month field; returns it as croniter is given it, in pieces.

    Days 29-31 each get a piece of their own: croniter before 6.0 steps past the end of a short
    month when a list holds a day the month lacks ("1,31" from Feb 27 gives Mar 31, not Mar 1).
    """
    terms = text.split(",")
    last = any(t.upper() == "L" for t in terms)
    plain = [t for t in terms if t.upper() != "L"]
    days = _field_values(2, ",".join(plain)) if plain else set()
    if not last and min(days) > max(_DAYS_IN_MONTH[m] for m in months):
        raise _bad(f"day-of-month {min(days)} never occurs in the selected months.")
    if days >= set(range(1, 32)):
        return ("*",)
    low = [str(d) for d in sorted(days) if d <= 28] + (["L"] if last else [])
    pieces = [",".join(low)] if low else []
    return (*pieces, *(str(d) for d in sorted(days) if d > 28))


@lru_cache(maxsize=1024)
def _crontab(expr: str) -> _Crontab:
    fields = expr.split()
    if len(fields) != 5:
        raise _bad(
            "a crontab has exactly 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)} in {expr!r}."
        )
    minute, hour, dom, month, dow = fields
    months = _field_values(3, month)
    # croniter is handed the expanded values only: its own reading of steps on a single value
    # ("12/1", "SAT/2") differs from cron's; ours is `a/n` = from a to the field's end
    m = _listing(0, _field_values(0, minute))
    h = _listing(1, _field_values(1, hour))
    mo = _listing(3, months)
    days = _day_of_month(dom, months)
    w = _day_of_week(dow)
    if dom.startswith("*") or dow.startswith("*"):  # both must match
        exprs: tuple[str, ...] = tuple(f"{m} {h} {d} {mo} {w}" for d in days)
    elif days == ("*",) or w == "*":  # either may match, and one of them matches every day
        exprs = (f"{m} {h} * {mo} *",)
    else:  # either may match
        exprs = (*(f"{m} {h} {d} {mo} *" for d in days), f"{m} {h} * {mo} {w}")
    reference = datetime(2000, 1, 1)
    matching = 0
    for wall_expr in exprs:
        try:
            croniter(wall_expr, reference, day_or=False).get_next(datetime)
            matching += 1
        except CroniterBadDateError:
            pass
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise _bad(f"{expr!r} is not a valid crontab ({exc}).") from None
    if not matching:
        raise _bad(f"{expr!r} never matches.")
    return _Crontab(wall_exprs=exprs, real_time=minute.startswith("*") or hour.startswith("*"))


def _walls(spec: _Crontab, start: datetime) -> Iterator[datetime]:
    """Matching naive wall-clock minutes strictly after `start` (naive), ascending, no repeats."""
    def one(wall_expr: str) -> Iterator[datetime]:
        it = croniter(wall_expr, start, day_or=False)
        while True:
            try:
                yield it.get_next(datetime)
            except CroniterBadDateError:
                return

    if len(spec.wall_exprs) == 1:
        yield from one(spec.wall_exprs[0])
        return
    # several expressions (day-of-month OR day-of-week, days 29-31 apart): merged, without repeats
    previous = None
    for wall in heapq.merge(*(one(e) for e in spec.wall_exprs)):
        if wall != previous:
            yield wall
            previous = wall


# --- expected times -----------------------------------------------------------------------------

def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def _resolve(wall: datetime, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
    """The instants (UTC) of a naive wall time: (None, None) if it does not exist, (first, None)
    if unique, (first, second) if it occurs twice."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) != wall:
        return None, None
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return first, (second if second != first else None)


def _after_gap(wall: datetime, tz: tzinfo) -> datetime:
    """The instant of the first existing wall-clock minute after a non-existent `wall`."""
    probe = wall
    for _ in range(48 * 60):
        probe += timedelta(minutes=1)
        first, _second = _resolve(probe, tz)
        if first is not None:
            return first
    raise ValueError(f"no existing local time after {wall} in {tz}")  # pragma: no cover


def _crontab_times(spec: _Crontab, tz: tzinfo, after: datetime) -> Iterator[datetime]:
    """Expected instants (aware UTC) strictly after `after` (aware UTC), ascending."""
    if tz is UTC:
        for wall in _walls(spec, after.replace(tzinfo=None)):
            yield wall.replace(tzinfo=UTC)
        return

    local = after.astimezone(tz)
    start = local.replace(tzinfo=None)
    if spec.real_time and local.utcoffset() != (after + timedelta(hours=3)).astimezone(tz).utcoffset():
        # the clock falls back soon: the repeated wall times lie below after's own wall time
        start -= timedelta(hours=3)

    last = after
    pending: list[datetime] = []  # second occurrences of repeated wall times (real-time jobs)
    for wall in _walls(spec, start):
        first, second = _resolve(wall, tz)
        if first is None:  # the wall time does not exist (spring forward)
            if spec.real_time:
                continue
            first = _after_gap(wall, tz)
        while pending and pending[0] < first:
            instant = heapq.heappop(pending)
            if instant > last:
                yield instant
                last = instant
        if first > last:
            yield first
            last = first
        if second is not None and spec.real_time:
            heapq.heappush(pending, second)
    while pending:
        instant = heapq.heappop(pending)
        if instant > last:
            yield instant
            last = instant


def _add_months(wall: datetime, months: int) -> datetime:
    index = wall.year * 12 + (wall.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(wall.day, calendar.monthrange(year, month)[1])
    return wall.replace(year=year, month=month, day=day)


def _interval_next(config: MonitorConfig, after: datetime) -> datetime:
    count, unit = _interval(config)
    if unit in ("minute", "hour"):
        result = after + timedelta(minutes=count if unit == "minute" else 60 * count)
    else:
        tz = _zone(config.timezone)
        wall = after.astimezone(tz).replace(tzinfo=None)
        if unit == "day":
            wall += timedelta(days=count)
        elif unit == "week":
            wall += timedelta(weeks=count)
        else:
            wall = _add_months(wall, count if unit == "month" else 12 * count)
        result = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return result.replace(second=0, microsecond=0)


def _interval(config: MonitorConfig) -> tuple[int, IntervalUnit]:
    schedule = config.schedule
    if not isinstance(schedule, (list, tuple)) or len(schedule) != 2 or schedule[1] not in INTERVAL_UNITS:
        raise ScheduleError("schedule", "an interval schedule must be [count, unit].")
    count = schedule[0]
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ScheduleError("schedule", "the interval count must be greater than zero.")
    return count, schedule[1]


def _times(config: MonitorConfig, after: datetime) -> Iterator[datetime]:
    if config.schedule_type == "crontab":
        if not isinstance(config.schedule, str):
            raise ScheduleError("schedule", "a crontab schedule must be a string.")
        expr = config.schedule if not config.schedule.startswith("@") else normalize_crontab(config.schedule)
        # parse eagerly, so that an invalid schedule raises here and not on the first next()
        spec = _crontab(expr)
        return _crontab_times(spec, _zone(config.timezone), after)
    if config.schedule_type == "interval":
        _interval(config)
        return _interval_times(config, after)
    raise ScheduleError("schedule_type", 'expected "crontab" or "interval".')


def _interval_times(config: MonitorConfig, after: datetime) -> Iterator[datetime]:
    current = after
    while True:
        current = _interval_next(config, current)
        yield current


# Per crontab schedule and zone, the last answer of `next_expected` as (after, answer): there is
# no expected time in (after, answer), so any later `after` before the answer has the same one.
# Check-ins of a monitor arrive close together, so most are answered here without croniter.
_NEXT_WINDOWS: dict[tuple[str, str], tuple[datetime, datetime]] = {}
_NEXT_WINDOWS_MAX = 4096


def next_expected(config: MonitorConfig, after: datetime) -> datetime:
    """The first expected check-in time strictly after `after` (aware), as aware UTC."""
    after = _utc(after, "after")
    key = None
    if config.schedule_type == "crontab" and isinstance(config.schedule, str):
        key = (config.schedule, config.timezone)
        window = _NEXT_WINDOWS.get(key)
        if window is not None and window[0] <= after < window[1]:
            return window[1]
    for instant in _times(config, after):
        if key is not None:
            if len(_NEXT_WINDOWS) >= _NEXT_WINDOWS_MAX:
                _NEXT_WINDOWS.clear()
            _NEXT_WINDOWS[key] = (after, instant)
        return instant
    raise ScheduleError("schedule", "it has no further occurrence.")


def expected_between(
    config: MonitorConfig, start: datetime, end: datetime, limit: int = 1000
) -> list[datetime]:
    """The expected times in (start, end], ascending, at most `limit` (each as `next_expected`
    chained from `start`)."""
    start_utc, end_utc = _utc(start, "start"), _utc(end, "end")
    if limit <= 0 or end_utc <= start_utc:
        return []
    out: list[datetime] = []
    for instant in islice(_times(config, start_utc), limit):
        if instant > end_utc:
            break
        out.append(instant)
    return out


def margin(config: MonitorConfig) -> timedelta:
    """How long after an expected time a check-in may still arrive (default 1 minute)."""
    return timedelta(minutes=config.checkin_margin or DEFAULT_CHECKIN_MARGIN)


def max_runtime(config: MonitorConfig) -> timedelta:
    """How long a check-in may stay in_progress before it times out (default 30 minutes)."""
    return timedelta(minutes=config.max_runtime or DEFAULT_MAX_RUNTIME)


def to_api(config: MonitorConfig) -> dict[str, Any]:
    """The REST `config` shape (what `validate_config` reads back to the same config)."""
    schedule: Any = config.schedule
    if isinstance(schedule, (list, tuple)):
        schedule = [schedule[0], schedule[1]]
    return {
        "schedule_type": config.schedule_type,
        "schedule": schedule,
        "checkin_margin": config.checkin_margin,
        "max_runtime": config.max_runtime,
        "timezone": config.timezone,
        "failure_issue_threshold": config.failure_issue_threshold,
        "recovery_threshold": config.recovery_threshold,
    }
