"""The legacy `/stats/` endpoints: parameters, bucket series, the stat → outcome mapping and zero fill."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from picket.stats import legacy
from picket.stats.legacy import LegacyQuery, parse, response, select_keys, sql
from picket.stats.periods import InvalidParams

NOW = datetime(2024, 3, 10, 15, 30, 12, tzinfo=timezone.utc)
NOW_TS = int(NOW.timestamp())  # 1710084612
HOUR = 3600


def q(scope: legacy.Scope = "project", **params: str | list[str]) -> LegacyQuery:
    lists = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    return parse(lists, scope=scope, now=NOW)


def error(scope: legacy.Scope = "project", **params: str | list[str]) -> str:
    with pytest.raises(InvalidParams) as err:
        q(scope, **params)
    return err.value.detail


# --- time range ----------------------------------------------------------------------------------

def test_defaults_are_the_last_24_hours_in_hourly_buckets() -> None:
    query = q()
    assert query.stat == "received" and query.group == "project"
    assert query.until == NOW
    assert query.since == NOW - timedelta(days=1) + timedelta(seconds=1)
    assert query.resolution == HOUR
    # until's hour is the last bucket; since (15:30:13 yesterday) is after 15:00, so its hour is not in
    last = NOW_TS - NOW_TS % HOUR
    assert query.buckets == tuple(range(last - 23 * HOUR, last + HOUR, HOUR))
    assert (query.start, query.end) == (last - 23 * HOUR, last + HOUR)


def test_since_and_until_are_float_epoch_seconds() -> None:
    query = q(since="1710000000.5", until="1710000100.25")
    assert query.since == datetime(2024, 3, 9, 16, 0, 0, 500000, tzinfo=timezone.utc)
    assert query.resolution == 10  # 99.75 s: within the 10s rollup's hour
    # from until back by 10s while >= since: 1710000100.25, 090.25, ..., 1710000000.25 is < since
    assert query.buckets == tuple(range(1710000010, 1710000101, 10))
    assert q(since="1710000000", until="1710000000").buckets == (1710000000,)
    assert q(since="", until="").until == NOW  # empty is absent
    assert q(until="1710000000").since == datetime(2024, 3, 8, 16, 0, 1, tzinfo=timezone.utc)
    assert q(since="1e9", until="1.00001e9").since == datetime(2001, 9, 9, 1, 46, 40, tzinfo=timezone.utc)


@pytest.mark.parametrize(("seconds", "resolution"), [
    (0, 10), (3600, 10), (3601, HOUR), (7 * 86400, HOUR), (7 * 86400 + 1, 86400), (400 * 86400, 86400),
])
def test_optimal_resolution_is_the_finest_rollup_covering_the_range(seconds: int, resolution: int) -> None:
    until = 1710000000
    assert q(since=str(until - seconds), until=str(until)).resolution == resolution


def test_explicit_resolutions() -> None:
    for raw, seconds in [("10s", 10), ("1h", HOUR), ("60m", HOUR), ("3600s", HOUR), ("1d", 86400), ("24h", 86400)]:
        assert q(resolution=raw).resolution == seconds
    # a day back from until is one second before the default since: one point, today's UTC day
    assert q(resolution="1d").buckets == (1710028800,)
    assert q(resolution="1d", since=str(NOW_TS - 86400)).buckets == (1709942400, 1710028800)
    assert len(q(resolution="10s", since=str(NOW_TS - 60), until=str(NOW_TS)).buckets) == 7


@pytest.mark.parametrize("raw", ["5m", "2h", "1w", "h", "10", "1.5h", "-10s", "abc", "0s"])
def test_invalid_resolution(raw: str) -> None:
    assert error(resolution=raw) == "Invalid resolution"


def test_invalid_timestamps_and_order() -> None:
    assert error(until="yesterday") == "until must be a numeric timestamp."
    assert error(until="nan") == "until must be a numeric timestamp."
    assert error(until="1e300") == "until must be a numeric timestamp."
    assert error(since="soon") == "since must be a numeric timestamp"
    assert error(since="inf") == "since must be a numeric timestamp"
    assert error(since="1710000001", until="1710000000") == "start must be before or equal to end"
    # resolution is read first, then until, then since
    assert error(resolution="7m", until="x", since="y") == "Invalid resolution"
    assert error(until="x", since="y") == "until must be a numeric timestamp."


def test_too_many_buckets_are_refused() -> None:
    assert "more than 100000" in error(resolution="10s", since="0", until=str(NOW_TS))
    assert len(q(since="0", until=str(NOW_TS)).buckets) == 19793  # days since 1970, the default 1d


# --- stats and scopes ----------------------------------------------------------------------------

def test_project_stats() -> None:
    for stat in ("received", "rejected", "blacklisted", "generated", "browser-extensions", "filtered-transaction"):
        assert q(stat=stat).stat == stat
    assert error(stat="accepted") == "Invalid stat: accepted"
    assert error(stat="") == "Invalid stat: "
    assert error(stat="crash-report-limit") == "Invalid stat: crash-report-limit"
    assert q(stat="generated", environment="prod").environment == "prod"
    assert q(stat="received", environment="prod").environment is None  # only generated reads it


def test_team_always_counts_generated_events() -> None:
    query = q("team", stat="rejected", environment="prod")
    assert (query.stat, query.group, query.environment) == ("generated", "team", "prod")
    assert "{db}.error_events" in sql(query, [1])[0]
    assert q("team", stat="nonsense").stat == "generated"


def test_organization_groups_and_stats() -> None:
    query = q("organization")
    assert (query.group, query.stat, query.key_column, query.by_project) == (
        "organization", "received", "org_id", False)
    grouped = q("organization", group="project", stat="blacklisted", projectID=["3", "1"], id=["1"])
    assert (grouped.group, grouped.key_column, grouped.by_project) == ("project", "project_id", True)
    assert (grouped.project_filter, grouped.id_filter) == ((3, 1), (1,))
    assert "{db}.error_events" in sql(q("organization", group="project", stat="generated"), [1])[0]
    assert error("organization", group="team") == "Invalid group: team"
    assert error("organization", stat="generated") == "Invalid group: organization, stat: generated"
    assert error("organization", stat="localhost") == "Invalid group: organization, stat: localhost"
    assert error("organization", group="project", projectID="abc") == (
        "Invalid projectID parameter. Values must be numbers.")
    assert error("organization", id="") == "Invalid id parameter. Values must be numbers."
    assert q("organization", projectID="1").project_filter is None  # only with group=project


def test_select_keys() -> None:
    org = q("organization", id="7")
    assert select_keys(org, org_id=7, project_ids=[1, 2]) == [7]
    assert select_keys(q("organization", id="8"), org_id=7, project_ids=[1, 2]) == []
    grouped = q("organization", group="project", projectID=["2", "3", "9"])
    assert select_keys(grouped, org_id=7, project_ids=[3, 1, 2, 3]) == [2, 3]
    narrowed = q("organization", group="project", id=["1", "3"])
    assert select_keys(narrowed, org_id=7, project_ids=[1, 2, 3]) == [1, 3]
    assert select_keys(q("team", id="1"), org_id=7, project_ids=[5, 4]) == [4, 5]  # id is org-only
    assert select_keys(q(), org_id=7, project_ids=[5]) == [5]


# --- sql -----------------------------------------------------------------------------------------

def test_sql_maps_stats_to_error_outcomes() -> None:
    text, params = sql(q(), [5])
    assert "{db}.outcomes_hourly" in text and "{db}.outcomes_recent FINAL" in text  # hourly: the rollup
    assert "project_id IN {keys:Array(UInt64)}" in text
    assert params["categories"] == [0, 1, 3]  # default, error, security
    assert params["outcomes"] == [0, 1, 2]  # accepted, filtered, rate_limited
    assert "sum(quantity)" in text and "reason" not in params
    assert sql(q(stat="rejected"), [5])[1]["outcomes"] == [2]
    assert sql(q(stat="blacklisted"), [5])[1]["outcomes"] == [1]
    text, params = sql(q(stat="web-crawlers"), [5])
    assert params["reason"] == "web-crawlers" and params["outcomes"] == [0, 1, 2]
    assert "reason = {reason:String}" in text
    query = q()
    assert (params["start"].timestamp(), params["end"].timestamp(), params["resolution"]) == (
        query.start, query.end, 3600)
    assert "{db}.outcomes_raw FINAL" in sql(q(resolution="10s"), [5])[0]  # finer than hours: the exact store


def test_sql_for_the_organization_and_generated() -> None:
    text, params = sql(q("organization"), [7])
    assert "org_id IN {keys:Array(UInt64)}" in text and params["keys"] == [7]
    text, params = sql(q(stat="generated", environment="prod"), [5, 6])
    assert "FROM {db}.error_events FINAL" in text and "count()" in text
    assert params["environment"] == "prod" and "categories" not in params
    assert "environment" not in sql(q(stat="generated"), [5])[1]


# --- response ------------------------------------------------------------------------------------

def test_response_zero_fills_and_sums_keys() -> None:
    query = q(since="1709999000", until="1710010799", resolution="1h")  # until 18:59:59, since 15:43:20
    assert query.buckets == (1709996400, 1710000000, 1710003600, 1710007200)
    rows = [(5, 1710000000, 4), (6, 1710000000, 1), (6, 1710007200, 2), (9, 1710000000, 100),
            (5, 1600000000, 100)]  # an unasked key and an out-of-range bucket are dropped
    assert response(query, rows, [5, 6]) == [
        [1709996400, 0], [1710000000, 5], [1710003600, 0], [1710007200, 2]]
    assert response(query, [], [5]) == [[t, 0] for t in query.buckets]
    assert response(query, rows, []) == []


def test_response_by_project() -> None:
    query = q("organization", group="project", since="1709999999", until="1710003599", resolution="1h")
    rows = [(6, 1710000000, 3)]
    assert response(query, rows, [6, 5]) == {
        "5": [[1709996400, 0], [1710000000, 0]],
        "6": [[1709996400, 0], [1710000000, 3]],
    }
    assert response(query, rows, []) == []  # no keys: a list, as Sentry
