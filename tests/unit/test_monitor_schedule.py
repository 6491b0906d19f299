"""Monitor schedules: config validation (REST and SDK shapes) and expected check-in times,
including time zones across daylight saving transitions."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec
import pytest

from picket.schemas.monitors import MonitorConfig
from picket.monitors import schedule
from picket.monitors.schedule import (
    ScheduleError,
    expected_between,
    margin,
    max_runtime,
    next_expected,
    to_api,
    validate_config,
)

UTC = timezone.utc
VIENNA = ZoneInfo("Europe/Vienna")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def crontab(expr: str, tz: str = "UTC", **kw) -> MonitorConfig:
    return MonitorConfig(schedule_type="crontab", schedule=expr, timezone=tz, **kw)


def interval(count: int, unit: str, tz: str = "UTC") -> MonitorConfig:
    return MonitorConfig(schedule_type="interval", schedule=(count, unit), timezone=tz)


def chain(config: MonitorConfig, after: datetime, n: int) -> list[datetime]:
    out = []
    for _ in range(n):
        after = next_expected(config, after)
        out.append(after)
    return out


def local(instant: datetime, tz: ZoneInfo = VIENNA) -> str:
    return instant.astimezone(tz).strftime("%H:%M%z")


# --- crontab across daylight saving time ---------------------------------------------------------

def test_every_five_minutes_in_vienna_steps_five_real_minutes_across_spring_forward():
    # 2026-03-29: at 02:00 CET (01:00 UTC) the clocks jump to 03:00 CEST
    config = crontab("*/5 * * * *", "Europe/Vienna")
    times = chain(config, utc(2026, 3, 29, 0, 40), 8)

    assert times == [utc(2026, 3, 29, 0, 45) + timedelta(minutes=5 * i) for i in range(8)]
    assert all(t.tzinfo is UTC for t in times)
    assert [local(t) for t in times[2:6]] == ["01:55+0100", "03:00+0200", "03:05+0200", "03:10+0200"]
    assert all(b - a == timedelta(minutes=5) for a, b in zip(times, times[1:]))


def test_every_five_minutes_in_vienna_runs_through_the_repeated_hour_at_fall_back():
    # 2026-10-25: at 03:00 CEST (01:00 UTC) the clocks go back to 02:00 CET
    config = crontab("*/5 * * * *", "Europe/Vienna")
    times = chain(config, utc(2026, 10, 24, 23, 55), 30)  # 01:55 CEST .. 03:25 CET

    assert times == [utc(2026, 10, 25, 0, 0) + timedelta(minutes=5 * i) for i in range(30)]
    assert len(set(times)) == 30
    walls = [local(t) for t in times]
    assert walls[0] == "02:00+0200" and walls[11] == "02:55+0200"
    assert walls[12] == "02:00+0100" and walls[23] == "02:55+0100"
    assert walls[24] == "03:00+0100"


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2026, 10, 25, 0, 58), utc(2026, 10, 25, 1, 0)),  # 02:58 CEST -> 02:00 CET
        (utc(2026, 10, 25, 1, 10), utc(2026, 10, 25, 1, 15)),  # inside the second 02:xx
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 0, 35)),  # inside the first 02:xx
        (utc(2026, 3, 29, 0, 59, 30), utc(2026, 3, 29, 1, 0)),  # 01:59:30 CET -> 03:00 CEST
    ],
)
def test_every_five_minutes_next_from_inside_a_transition(after, expected):
    assert next_expected(crontab("*/5 * * * *", "Europe/Vienna"), after) == expected


def test_hourly_runs_twice_in_the_repeated_hour_and_skips_the_missing_one():
    config = crontab("0 * * * *", "Europe/Vienna")
    fall = expected_between(config, utc(2026, 10, 24, 22, 30), utc(2026, 10, 25, 3, 0))
    assert fall == [utc(2026, 10, 24, 23), utc(2026, 10, 25, 0), utc(2026, 10, 25, 1),
                    utc(2026, 10, 25, 2), utc(2026, 10, 25, 3)]
    assert [local(t) for t in fall] == ["01:00+0200", "02:00+0200", "02:00+0100", "03:00+0100", "04:00+0100"]

    spring = expected_between(config, utc(2026, 3, 28, 23, 30), utc(2026, 3, 29, 2, 0))
    assert spring == [utc(2026, 3, 29, 0), utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)]
    assert [local(t) for t in spring] == ["01:00+0100", "03:00+0200", "04:00+0200"]


def test_fixed_time_in_the_skipped_hour_runs_right_after_the_jump():
    # 02:30 does not exist on 2026-03-29 in Vienna: the job is expected at 03:00 CEST (like
    # Debian's cron and Sentry), then at 02:30 CEST again the day after
    config = crontab("30 2 * * *", "Europe/Vienna")
    times = chain(config, utc(2026, 3, 28, 12, 0), 3)
    assert times == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)]
    assert local(times[0]) == "03:00+0200"


def test_fixed_time_in_the_repeated_hour_runs_once_at_its_first_occurrence():
    config = crontab("30 2 * * *", "Europe/Vienna")
    assert chain(config, utc(2026, 10, 24, 12, 0), 2) == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    # from inside the second 02:xx the repeated 02:30 is not expected again
    assert next_expected(config, utc(2026, 10, 25, 1, 10)) == utc(2026, 10, 26, 1, 30)


def test_weekday_mornings_in_new_york_follow_local_nine_across_dst():
    config = crontab("0 9 * * MON-FRI", "America/New_York")
    # Friday 2026-03-06 10:00 EST; DST starts Sunday 2026-03-08
    times = chain(config, datetime(2026, 3, 6, 10, 0, tzinfo=NEW_YORK), 3)
    assert times == [utc(2026, 3, 9, 13), utc(2026, 3, 10, 13), utc(2026, 3, 11, 13)]
    assert all(t.astimezone(NEW_YORK).strftime("%a %H:%M") in ("Mon 09:00", "Tue 09:00", "Wed 09:00")
               for t in times)
    # the week before, 09:00 EST is 14:00 UTC; Saturday moves to Monday
    assert next_expected(config, utc(2026, 3, 5, 14, 0)) == utc(2026, 3, 6, 14)
    assert next_expected(config, utc(2026, 2, 28, 12, 0)) == utc(2026, 3, 2, 14)


def test_naive_after_is_rejected_and_other_offsets_are_converted_to_utc():
    config = crontab("0 * * * *")
    with pytest.raises(ValueError):
        next_expected(config, datetime(2026, 1, 1, 10, 30))
    result = next_expected(config, datetime(2026, 1, 1, 10, 30, tzinfo=timezone(timedelta(hours=5))))
    assert result == utc(2026, 1, 1, 6, 0) and result.tzinfo is UTC


# --- crontab syntax ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("alias", "expr"),
    [("@hourly", "0 * * * *"), ("@daily", "0 0 * * *"), ("@weekly", "0 0 * * 0"),
     ("@monthly", "0 0 1 * *"), ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *")],
)
def test_crontab_aliases_are_stored_as_their_expression(alias, expr):
    config = validate_config({"schedule_type": "crontab", "schedule": alias})
    assert config.schedule == expr and config.schedule_type == "crontab"


def test_daily_alias_runs_at_local_midnight():
    config = validate_config({"schedule": "@daily", "timezone": "Asia/Tokyo"})
    assert next_expected(config, utc(2026, 5, 5, 13, 0)) == utc(2026, 5, 5, 15, 0)
    assert next_expected(config, utc(2026, 5, 5, 15, 0)) == utc(2026, 5, 6, 15, 0)


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("0 0 1 JAN/3 *", utc(2026, 1, 2), [utc(2026, 4, 1), utc(2026, 7, 1), utc(2026, 10, 1)]),
        ("15 10-14/2 * * *", utc(2026, 1, 1), [utc(2026, 1, 1, 10, 15), utc(2026, 1, 1, 12, 15),
                                               utc(2026, 1, 1, 14, 15)]),
        ("0 12 L * *", utc(2026, 1, 31, 13), [utc(2026, 2, 28, 12), utc(2026, 3, 31, 12), utc(2026, 4, 30, 12)]),
        ("0 12 * * 5L", utc(2026, 1, 1), [utc(2026, 1, 30, 12), utc(2026, 2, 27, 12), utc(2026, 3, 27, 12)]),
        ("0 12 * * mon#2", utc(2026, 1, 1), [utc(2026, 1, 12, 12), utc(2026, 2, 9, 12), utc(2026, 3, 9, 12)]),
        ("0 0 * * 7", utc(2026, 1, 1), [utc(2026, 1, 4), utc(2026, 1, 11), utc(2026, 1, 18)]),
        # day-of-month OR day-of-week when both are restricted: the 13th, and every Friday
        ("0 12 13 * FRI", utc(2026, 2, 1), [utc(2026, 2, 6, 12), utc(2026, 2, 13, 12), utc(2026, 2, 20, 12),
                                            utc(2026, 2, 27, 12), utc(2026, 3, 6, 12), utc(2026, 3, 13, 12)]),
        # AND when one of them starts with "*": odd days that are Mondays
        ("0 12 */2 * MON", utc(2026, 1, 1), [utc(2026, 1, 5, 12), utc(2026, 1, 19, 12), utc(2026, 2, 9, 12)]),
    ],
)
def test_crontab_syntax_ranges_steps_lists_names_and_specials(expr, after, expected):
    config = validate_config({"schedule": expr})
    assert chain(config, after, len(expected)) == expected


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("0 0 1,31 * *", utc(2026, 2, 27), [utc(2026, 3, 1), utc(2026, 3, 31), utc(2026, 4, 1)]),
        ("0 6 1-3,30 * *", utc(2026, 2, 27), [utc(2026, 3, 1, 6), utc(2026, 3, 2, 6), utc(2026, 3, 3, 6),
                                              utc(2026, 3, 30, 6)]),
        ("0 0 29,30,31 * *", utc(2026, 2, 1), [utc(2026, 3, 29), utc(2026, 3, 30), utc(2026, 3, 31)]),
        ("0 0 29 2 *", utc(2026, 1, 1), [utc(2028, 2, 29), utc(2032, 2, 29)]),
        ("0 0 1,31 * MON", utc(2026, 2, 27), [utc(2026, 3, 1), utc(2026, 3, 2), utc(2026, 3, 9)]),
    ],
)
def test_days_a_month_lacks_do_not_hide_the_next_months_early_days(expr, after, expected):
    assert chain(validate_config({"schedule": expr}), after, len(expected)) == expected


def test_crontab_whitespace_is_normalized():
    assert validate_config({"schedule": "  0   9\t* *  MON-FRI "}).schedule == "0 9 * * MON-FRI"


# --- intervals -----------------------------------------------------------------------------------

def test_two_hour_interval_is_real_time_truncated_to_the_minute():
    config = interval(2, "hour", "Europe/Vienna")
    assert next_expected(config, utc(2026, 5, 1, 10, 17, 42)) == utc(2026, 5, 1, 12, 17)
    # across the spring-forward jump: still two real hours
    assert next_expected(config, utc(2026, 3, 29, 0, 30)) == utc(2026, 3, 29, 2, 30)


def test_monthly_interval_from_january_31_clamps_to_the_end_of_february():
    config = interval(1, "month")
    assert next_expected(config, utc(2026, 1, 31, 10, 0)) == utc(2026, 2, 28, 10, 0)
    assert next_expected(config, utc(2028, 1, 31, 10, 0)) == utc(2028, 2, 29, 10, 0)  # leap year
    # chained, the day stays at the 28th
    assert chain(config, utc(2026, 1, 31, 10, 0), 3) == [utc(2026, 2, 28, 10), utc(2026, 3, 28, 10),
                                                        utc(2026, 4, 28, 10)]
    assert next_expected(interval(1, "year"), utc(2028, 2, 29, 6)) == utc(2029, 2, 28, 6)
    assert next_expected(interval(14, "month"), utc(2026, 12, 15)) == utc(2028, 2, 15)


def test_weekly_interval_is_seven_days():
    assert next_expected(interval(1, "week"), utc(2026, 5, 1, 8, 30)) == utc(2026, 5, 8, 8, 30)
    assert next_expected(interval(3, "week"), utc(2026, 5, 1, 8, 30)) == utc(2026, 5, 22, 8, 30)


def test_daily_interval_keeps_the_local_hour_across_dst():
    config = interval(1, "day", "Europe/Vienna")
    # 09:00 CET -> 09:00 CEST the next day (23 real hours)
    assert next_expected(config, utc(2026, 3, 28, 8, 0)) == utc(2026, 3, 29, 7, 0)
    # 02:30 CET -> 02:30 does not exist the next day: read with the old offset, 03:30 CEST
    assert next_expected(config, utc(2026, 3, 28, 1, 30)) == utc(2026, 3, 29, 1, 30)


# --- validation: shapes --------------------------------------------------------------------------

def test_validate_rest_crontab_config_with_all_fields():
    config = validate_config({
        "schedule_type": "crontab",
        "schedule": "*/10 * * * *",
        "checkin_margin": 5,
        "max_runtime": 45,
        "timezone": "Europe/Vienna",
        "failure_issue_threshold": 2,
        "recovery_threshold": 3,
        "alert_rule_id": 7,  # unknown keys are ignored
    })
    assert config == MonitorConfig(
        schedule_type="crontab", schedule="*/10 * * * *", checkin_margin=5, max_runtime=45,
        timezone="Europe/Vienna", failure_issue_threshold=2, recovery_threshold=3,
    )


def test_validate_rest_interval_and_inferred_schedule_types():
    assert validate_config({"schedule_type": "interval", "schedule": [3, "day"]}).schedule == (3, "day")
    inferred = validate_config({"schedule": [30, "minute"]})
    assert inferred.schedule_type == "interval" and inferred.schedule == (30, "minute")
    assert validate_config({"schedule": "0 * * * *"}).schedule_type == "crontab"


def test_validate_sdk_monitor_config_shapes():
    cron = validate_config({
        "schedule": {"type": "crontab", "value": "0 * * * *"},
        "checkin_margin": 2, "max_runtime": 20, "timezone": "America/New_York",
        "failure_issue_threshold": 1, "recovery_threshold": 1,
    })
    assert cron == MonitorConfig(schedule_type="crontab", schedule="0 * * * *", checkin_margin=2, max_runtime=20,
                                 timezone="America/New_York", failure_issue_threshold=1, recovery_threshold=1)
    every = validate_config({"schedule": {"type": "interval", "value": 2, "unit": "hour"}})
    assert every.schedule_type == "interval" and every.schedule == (2, "hour")


def test_validate_defaults_empty_values_and_lenient_numbers():
    config = validate_config({"schedule": "0 * * * *"})
    assert (config.checkin_margin, config.max_runtime, config.timezone) == (None, None, "UTC")
    assert (config.failure_issue_threshold, config.recovery_threshold) == (None, None)
    blank = validate_config({"schedule": "0 * * * *", "checkin_margin": "", "max_runtime": None, "timezone": ""})
    assert (blank.checkin_margin, blank.max_runtime, blank.timezone) == (None, None, "UTC")
    # numbers as strings (query strings); a margin of 0 is read as 1, as Sentry does
    loose = validate_config({"schedule": "0 * * * *", "checkin_margin": "0", "max_runtime": "15"})
    assert (loose.checkin_margin, loose.max_runtime) == (1, 15)
    camel = validate_config({"scheduleType": "interval", "schedule": [1, "day"], "checkinMargin": 4,
                             "maxRuntime": 9, "failureIssueThreshold": 2, "recoveryThreshold": 5})
    assert (camel.checkin_margin, camel.max_runtime, camel.failure_issue_threshold, camel.recovery_threshold) == (
        4, 9, 2, 5)


def test_margin_and_max_runtime_defaults():
    bare = crontab("0 * * * *")
    assert margin(bare) == timedelta(minutes=1)
    assert max_runtime(bare) == timedelta(minutes=30)
    set_ = crontab("0 * * * *", checkin_margin=10, max_runtime=120)
    assert margin(set_) == timedelta(minutes=10)
    assert max_runtime(set_) == timedelta(hours=2)


# --- validation: errors --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"schedule": "0 0 * * * *"}, "schedule"),  # 6 fields (seconds)
        ({"schedule": "0 0 * * * * 2026"}, "schedule"),  # 7 fields
        ({"schedule": "* * * *"}, "schedule"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"schedule": "0 24 * * *"}, "schedule"),
        ({"schedule": "0 0 0 * *"}, "schedule"),
        ({"schedule": "0 0 * 13 *"}, "schedule"),
        ({"schedule": "0 0 * * 8"}, "schedule"),
        ({"schedule": "every day at noon"}, "schedule"),
        ({"schedule": "garbage"}, "schedule"),
        ({"schedule": "*/0 * * * *"}, "schedule"),
        ({"schedule": "50-10 * * * *"}, "schedule"),
        ({"schedule": "1,,2 * * * *"}, "schedule"),
        ({"schedule": "0 0 30 2 *"}, "schedule"),  # never occurs
        ({"schedule": "0 0 * * MON#6"}, "schedule"),
        ({"schedule": "0 0 * * 1,2#1"}, "schedule"),
        ({"schedule": "H * * * *"}, "schedule"),
        ({"schedule": "R * * * *"}, "schedule"),
        ({"schedule": "0 0 ? * *"}, "schedule"),
        ({"schedule": "MON * * * *"}, "schedule"),
        ({"schedule": "@reboot"}, "schedule"),
        ({"schedule": "   "}, "schedule"),
        ({"schedule": 42}, "schedule"),
        ({}, "schedule"),
        ({"schedule_type": "crontab", "schedule": [1, "hour"]}, "schedule"),
        ({"schedule_type": "interval", "schedule": "0 * * * *"}, "schedule"),
        ({"schedule": [2, "fortnight"]}, "schedule"),
        ({"schedule": [2, "Hours"]}, "schedule"),
        ({"schedule": [0, "hour"]}, "schedule"),
        ({"schedule": [-3, "day"]}, "schedule"),
        ({"schedule": [1.5, "day"]}, "schedule"),
        ({"schedule": ["two", "day"]}, "schedule"),
        ({"schedule": [True, "day"]}, "schedule"),
        ({"schedule": [1]}, "schedule"),
        ({"schedule": [101, "year"]}, "schedule"),
        ({"schedule": {"type": "cron", "value": "0 * * * *"}}, "schedule"),
        ({"schedule": {"type": "interval", "value": 0, "unit": "hour"}}, "schedule"),
        ({"schedule_type": "weekly", "schedule": "0 * * * *"}, "schedule_type"),
        ({"schedule": "0 * * * *", "timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"schedule": "0 * * * *", "timezone": "europe/vienna"}, "timezone"),
        ({"schedule": "0 * * * *", "timezone": "../../etc/passwd"}, "timezone"),
        ({"schedule": "0 * * * *", "timezone": 3}, "timezone"),
        ({"schedule": "0 * * * *", "checkin_margin": -1}, "checkin_margin"),
        ({"schedule": "0 * * * *", "checkin_margin": 40_321}, "checkin_margin"),
        ({"schedule": "0 * * * *", "checkin_margin": "soon"}, "checkin_margin"),
        ({"schedule": "0 * * * *", "max_runtime": 0}, "max_runtime"),
        ({"schedule": "0 * * * *", "max_runtime": 40_321}, "max_runtime"),
        ({"schedule": "0 * * * *", "max_runtime": 2.5}, "max_runtime"),
        ({"schedule": "0 * * * *", "failure_issue_threshold": 0}, "failure_issue_threshold"),
        ({"schedule": "0 * * * *", "failure_issue_threshold": 721}, "failure_issue_threshold"),
        ({"schedule": "0 * * * *", "recovery_threshold": -2}, "recovery_threshold"),
        ({"schedule": "0 * * * *", "recovery_threshold": True}, "recovery_threshold"),
    ],
)
def test_invalid_config_names_the_field(raw, field):
    with pytest.raises(ScheduleError) as info:
        validate_config(raw)
    assert info.value.field == field
    assert info.value.detail.startswith(f"Invalid {field}: ")
    assert str(info.value) == info.value.detail
    assert isinstance(info.value, ValueError)


def test_invalid_crontab_details_say_what_is_wrong():
    def detail(expr: str) -> str:
        with pytest.raises(ScheduleError) as info:
            validate_config({"schedule": expr})
        return info.value.detail

    assert "exactly 5 fields" in detail("0 0 * * * *")
    assert "minute value 61 is out of range (0-59)" in detail("61 * * * *")
    assert "reversed" in detail("50-10 * * * *")
    assert "never occurs" in detail("0 0 31 4 *")
    assert "@reboot" in detail("@reboot")


def test_config_that_is_not_an_object_is_rejected():
    with pytest.raises(ScheduleError) as info:
        validate_config(["0 * * * *"])  # type: ignore[arg-type]
    assert info.value.field == "config"


# --- partial updates -----------------------------------------------------------------------------

BASE = MonitorConfig(schedule_type="crontab", schedule="0 * * * *", checkin_margin=5, max_runtime=60,
                     timezone="Europe/Vienna", failure_issue_threshold=3, recovery_threshold=2)


def test_partial_update_keeps_absent_fields_of_the_base():
    assert validate_config({"checkin_margin": 10}, partial_base=BASE) == msgspec.structs.replace(
        BASE, checkin_margin=10)
    assert validate_config({}, partial_base=BASE) == BASE
    assert validate_config({"schedule_type": "crontab"}, partial_base=BASE) == BASE
    # "" or null time zone keeps the base's; null numbers clear them
    updated = validate_config({"timezone": "", "max_runtime": None}, partial_base=BASE)
    assert updated.timezone == "Europe/Vienna" and updated.max_runtime is None
    assert updated.recovery_threshold == 2


def test_partial_update_can_switch_the_schedule_type():
    updated = validate_config({"schedule": [2, "hour"]}, partial_base=BASE)
    assert (updated.schedule_type, updated.schedule) == ("interval", (2, "hour"))
    assert updated.timezone == "Europe/Vienna" and updated.checkin_margin == 5
    with pytest.raises(ScheduleError) as info:
        validate_config({"schedule_type": "interval"}, partial_base=BASE)
    assert info.value.field == "schedule"


def test_partial_update_still_validates_what_it_changes():
    with pytest.raises(ScheduleError) as info:
        validate_config({"timezone": "Nowhere/Land"}, partial_base=BASE)
    assert info.value.field == "timezone"


# --- expected_between ----------------------------------------------------------------------------

def test_expected_between_excludes_start_and_includes_end():
    config = crontab("*/15 * * * *")
    assert expected_between(config, utc(2026, 1, 1, 10, 0), utc(2026, 1, 1, 11, 0)) == [
        utc(2026, 1, 1, 10, 15), utc(2026, 1, 1, 10, 30), utc(2026, 1, 1, 10, 45), utc(2026, 1, 1, 11, 0)]
    assert expected_between(config, utc(2026, 1, 1, 10, 0), utc(2026, 1, 1, 10, 14)) == []


def test_expected_between_limit_and_empty_windows():
    config = crontab("* * * * *")
    start = utc(2026, 1, 1)
    assert len(expected_between(config, start, start + timedelta(days=2))) == 1000
    assert expected_between(config, start, start + timedelta(days=2), limit=3) == [
        utc(2026, 1, 1, 0, 1), utc(2026, 1, 1, 0, 2), utc(2026, 1, 1, 0, 3)]
    assert expected_between(config, start, start, limit=10) == []
    assert expected_between(config, start, start - timedelta(hours=1)) == []
    assert expected_between(config, start, start + timedelta(hours=1), limit=0) == []


def test_expected_between_matches_chained_next_expected():
    for config in (crontab("*/5 * * * *", "Europe/Vienna"), crontab("30 2 * * *", "Europe/Vienna"),
                   interval(90, "minute"), interval(1, "day", "Europe/Vienna")):
        start, end = utc(2026, 10, 23, 12, 0), utc(2026, 10, 27, 12, 0)
        between = expected_between(config, start, end, limit=5000)
        assert between == [t for t in chain(config, start, len(between) + 1) if t <= end]
        assert between == sorted(set(between))


def test_expected_between_for_intervals():
    config = interval(2, "hour")
    assert expected_between(config, utc(2026, 1, 1, 9, 30), utc(2026, 1, 1, 15, 30)) == [
        utc(2026, 1, 1, 11, 30), utc(2026, 1, 1, 13, 30), utc(2026, 1, 1, 15, 30)]


# --- to_api --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "config",
    [
        BASE,
        MonitorConfig(schedule_type="interval", schedule=(2, "hour")),
        MonitorConfig(schedule_type="interval", schedule=(1, "month"), checkin_margin=30, timezone="Asia/Tokyo",
                      failure_issue_threshold=720, recovery_threshold=1),
        MonitorConfig(schedule_type="crontab", schedule="0 9 * * MON-FRI", max_runtime=40_320),
    ],
)
def test_to_api_round_trips_through_validate_config(config):
    api = to_api(config)
    assert set(api) == {"schedule_type", "schedule", "checkin_margin", "max_runtime", "timezone",
                        "failure_issue_threshold", "recovery_threshold"}
    # through JSON, as a client would send it back
    assert validate_config(msgspec.json.decode(msgspec.json.encode(api))) == config


def test_to_api_shape():
    assert to_api(MonitorConfig(schedule_type="interval", schedule=(2, "hour"))) == {
        "schedule_type": "interval", "schedule": [2, "hour"], "checkin_margin": None, "max_runtime": None,
        "timezone": "UTC", "failure_issue_threshold": None, "recovery_threshold": None,
    }
    assert to_api(validate_config({"schedule": "@hourly"}))["schedule"] == "0 * * * *"


@pytest.mark.parametrize(
    "config",
    [
        crontab("61 * * * *"),
        crontab("0 * * * *", "No/Where"),
        MonitorConfig(schedule_type="interval", schedule=(0, "hour")),
        MonitorConfig(schedule_type="interval", schedule="2 hours"),
    ],
)
def test_next_expected_raises_schedule_error_for_a_config_that_was_never_validated(config):
    with pytest.raises(ScheduleError):
        next_expected(config, utc(2026, 1, 1))


@pytest.mark.parametrize("expr, tz", [
    ("*/5 * * * *", "UTC"),
    ("30 2 * * *", "Europe/Berlin"),        # 02:30 is skipped and repeated once a year there
    ("0 */2 * * 1-5", "America/New_York"),
    ("15 1 29 2 *", "UTC"),
])
def test_remembered_answers_equal_fresh_ones_for_any_order_of_queries(
        expr: str, tz: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """next_expected reuses its last answer per schedule when `after` falls before it; in any
    order of queries (forwards, backwards, repeated, across DST changes) each answer equals the
    one computed from scratch."""
    config = crontab(expr, tz)
    rng = random.Random(7)
    base = datetime(2026, 3, 20, tzinfo=timezone.utc)
    afters = sorted(base + timedelta(seconds=rng.randrange(0, 400 * 86400)) for _ in range(200))
    afters = sorted(afters + [a + timedelta(seconds=rng.randrange(0, 300)) for a in afters])  # bursts
    afters += [afters[i] for i in rng.sample(range(len(afters)), 100)]  # and back in time
    fresh = [next(schedule._times(config, after)) for after in afters]  # croniter every time

    computed = []
    times = schedule._times
    monkeypatch.setattr(schedule, "_times", lambda *a: computed.append(a) or times(*a))
    schedule._NEXT_WINDOWS.clear()
    assert [next_expected(config, after) for after in afters] == fresh
    assert len(computed) < len(afters), "no answer was remembered: the test did not cover reuse"


def _nested(depth: int) -> object:
    value: object = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [schedule.MAX_CONFIG_DEPTH, 5_000])
@pytest.mark.parametrize("where", ["schedule", "unknown-key", "schedule-object"])
def test_a_config_nested_too_deep_is_refused_without_recursion(depth, where):
    # `depth` levels of lists inside the config object: deeper than MAX_CONFIG_DEPTH in total.
    raw = {"schedule": "0 * * * *", "owner": _nested(depth)} if where == "unknown-key" else \
        {"schedule": {"type": "interval", "value": _nested(depth), "unit": "hour"}} if where == "schedule-object" else \
        {"schedule": _nested(depth)}
    with pytest.raises(ScheduleError) as info:
        validate_config(raw)
    assert info.value.detail == f"Invalid config: nested more than {schedule.MAX_CONFIG_DEPTH} levels deep."


def test_a_config_at_the_depth_limit_is_validated_as_usual():
    raw = {"schedule": "0 * * * *", "owner": _nested(schedule.MAX_CONFIG_DEPTH - 1)}
    assert validate_config(raw).schedule == "0 * * * *"
