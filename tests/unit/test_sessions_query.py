"""The release-health sessions query (GET /organizations/{org}/sessions/) without a database:
parameters → SessionsQuery (Sentry's validation and date rounding), the search syntax → SQL
conditions, and rows → Sentry's response (shape, zero-filled series, nulls, status groups, order,
pagination)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from picket.stats.periods import InvalidParams
from picket.stats.sessions import BoolOp, Filter, SessionsQuery, cursors, parse, response, sql

NOW = datetime(2024, 5, 2, 12, 27, 28, 303000, tzinfo=timezone.utc)
DAY1 = "2024-05-01T00:00:00Z"
DAY2 = "2024-05-02T00:00:00Z"


def q_(now: datetime = NOW, projects: tuple[int, ...] = (1, 2, 3), **params: Any) -> SessionsQuery:
    raw = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    return parse(raw, org_id=7, accessible_project_ids=list(projects), now=now)


def daily(**params: Any) -> SessionsQuery:
    """One day back, one-day interval: two intervals, [2024-05-01, 2024-05-03)."""
    return q_(statsPeriod="1d", interval="1d", **params)


def invalid(**params: Any) -> str:
    with pytest.raises(InvalidParams) as err:
        q_(**params)
    return err.value.detail


def row(q: SessionsQuery, bucket: int | None, **values: Any) -> tuple[Any, ...]:
    """A row of `sql(q)`: counts default to 0, durations to NULL (NaN quantiles, as ClickHouse)."""
    defaults: dict[str, Any] = {"duration_avg": None, "duration_max": None,
                                "duration_quantiles": [math.nan] * 5, "bucket": bucket}
    return tuple(values.get(c, defaults.get(c, 0)) for c in q.columns)


# --- parameters ---------------------------------------------------------------------------------


def test_fields_groupby_and_their_errors_in_sentrys_words():
    assert invalid() == 'Request is missing a "field"'
    assert invalid(field="summ(session)", statsPeriod="1d") == 'Invalid field: "summ(session)"'
    assert invalid(field="sum(session)", groupBy="environment_") == 'Invalid groupBy: "environment_"'
    assert invalid(field="sum(session)", groupBy="issue.id") == 'Invalid groupBy: "issue.id"'

    q = daily(field=["sum(session)", "p95(session.duration)", "sum(session)"], groupBy=["release", "project"])
    assert q.fields == ("sum(session)", "p95(session.duration)")
    assert q.group_by == ("release", "project")
    assert q.dimensions == ("release", "project_id")
    assert q.query == "" and q.condition is None and q.status_filter is None
    assert q.project_ids == (1, 2, 3) and q.org_id == 7


def test_rates_cannot_be_grouped_or_filtered_by_session_status():
    for field in ("crash_free_rate(session)", "crash_rate(user)"):
        assert invalid(field=["sum(session)", field], statsPeriod="1d", groupBy="session.status") == (
            f"Cannot group field {field} by session.status")
        assert invalid(field=field, statsPeriod="1d", query="session.status:crashed") == (
            f"Cannot filter field {field} by session.status")
    # counts and durations may be grouped by status
    assert daily(field=["count_unique(user)", "p50(session.duration)"], groupBy="session.status").by_status


def test_count_unique_takes_several_statuses_only_when_grouped_by_them():
    assert invalid(field="count_unique(user)", statsPeriod="1d", query="session.status:[healthy, errored]") == (
        "Cannot filter count_unique by multiple session.status unless it is in groupBy")
    q = daily(field="count_unique(user)", query="session.status:[healthy, errored]", groupBy="session.status")
    assert q.status_filter == {"healthy", "errored"}


def test_order_by_must_be_one_requested_field():
    assert invalid(field="sum(session)", statsPeriod="2d", orderBy="foobar") == (
        "'orderBy' must be one of the provided 'fields'")
    assert invalid(field="sum(session)", statsPeriod="2d", orderBy="count_unique(user)") == (
        "'orderBy' must be one of the provided 'fields'")
    assert invalid(field=["sum(session)", "count_unique(user)"], statsPeriod="2d",
                   orderBy=["sum(session)", "count_unique(user)"]) == "Cannot order by multiple fields"
    assert invalid(field="sum(session)", statsPeriod="2d", orderBy="sum(session)", groupBy="session.status") == (
        "Cannot use 'orderBy' when grouping by sessions.status")
    assert invalid(field="sum(session)", statsPeriod="1d", query="session.status:healthy",
                   orderBy="sum(session)") == "Cannot order by sum(session) with the current filters"
    assert invalid(field="sum(session)", statsPeriod="1d", query="session.status:[abnormal,crashed]",
                   orderBy="sum(session)") == "Cannot order by sum(session) with the current filters"

    q = daily(field=["sum(session)", "p95(session.duration)"], orderBy="-p95(session.duration)")
    assert (q.order_by, q.descending) == ("p95(session.duration)", True)
    q = daily(field="sum(session)", orderBy="sum(session)")
    assert (q.order_by, q.descending) == ("sum(session)", False)
    q = daily(field="sum(session)", query="session.status:crashed", orderBy="sum(session)")
    assert q.order_by == "sum(session)"
    assert daily(field="sum(session)").order_by is None


def test_projects_per_page_and_cursor():
    assert q_(field="sum(session)", statsPeriod="1d", project=["2", "3"]).project_ids == (2, 3)
    assert q_(field="sum(session)", statsPeriod="1d", project="-1").project_ids == (1, 2, 3)
    with pytest.raises(PermissionError):
        q_(field="sum(session)", statsPeriod="1d", project="9")
    assert invalid(field="sum(session)", statsPeriod="1d", project="x") == (
        "Invalid project parameter. Values must be numbers.")
    with pytest.raises(InvalidParams, match="No projects available"):
        q_(projects=(), field="sum(session)", statsPeriod="1d")

    q = daily(field="sum(session)", per_page="2", cursor="0:4:0")
    assert (q.per_page, q.offset) == (2, 4)
    assert invalid(field="sum(session)", per_page="x") == "Invalid per_page parameter."
    assert invalid(field="sum(session)", per_page="5001") == "Invalid per_page value. Cannot exceed 5000."
    assert invalid(field="sum(session)", cursor="nope") == "Invalid cursor parameter."


# --- date range and interval --------------------------------------------------------------------


def test_bad_intervals_and_ranges():
    assert invalid(field="sum(session)", statsPeriod="1d", interval="7m") == (
        "The interval should divide one day without a remainder.")
    assert invalid(field="sum(session)", statsPeriod="1d", interval="2d") == (
        "The interval has to be less than one day.")
    assert invalid(field="sum(session)", statsPeriod="1d", interval="15s") == (
        "The interval has to be a multiple of the minimum interval of ten seconds.")
    assert invalid(field="sum(session)", statsPeriod="1d", interval="0") == (
        "The interval has to be a multiple of the minimum interval of ten seconds.")
    # Sentry reads anything that is not a period as one hour
    assert q_(field="sum(session)", statsPeriod="1d", interval="soon").interval == 3600

    assert invalid(field="sum(session)", start="2024-05-02T00:00:00Z", end="2024-05-01T00:00:00Z") == (
        "start must be before end")
    assert invalid(field="sum(session)", start="2024-05-02T00:00:00Z") == "start and end are both required"
    assert invalid(field="sum(session)", statsPeriod="1x") == "Invalid statsPeriod: '1x'"
    # the default range is 90 days: hourly, that is more than 1000 intervals (Sentry's test_too_many_points)
    assert invalid(field="sum(session)", interval="1h") == (
        "Your interval and date range would create too many results. Use a larger interval, or a smaller date range.")
    q = q_(field="sum(session)", interval="1d")
    assert q.start == datetime(2024, 2, 2, tzinfo=timezone.utc) and q.end == datetime(2024, 5, 3, tzinfo=timezone.utc)


def test_the_range_is_floored_and_ceiled_to_the_interval():
    q = daily(field="sum(session)")
    assert (q.start, q.end, q.interval, q.num_intervals) == (
        datetime(2024, 5, 1, tzinfo=timezone.utc), datetime(2024, 5, 3, tzinfo=timezone.utc), 86400, 2)
    assert response(q, [])["intervals"] == [DAY1, DAY2]

    q = q_(field="sum(session)", statsPeriod="1d", interval="6h")
    assert response(q, [])["intervals"] == [
        "2024-05-01T12:00:00Z", "2024-05-01T18:00:00Z", "2024-05-02T00:00:00Z",
        "2024-05-02T06:00:00Z", "2024-05-02T12:00:00Z",
    ]
    assert response(q, [])["end"] == "2024-05-02T18:00:00Z"

    later = NOW + timedelta(minutes=10)  # 12:37:28
    q = q_(now=later, field="sum(session)", statsPeriod="30m", interval="10m")
    assert response(q, [])["intervals"] == [f"2024-05-02T12:{m}:00Z" for m in ("00", "10", "20", "30")]
    # one minute at ten seconds: the partial first and last intervals make seven
    assert q_(now=later, field="sum(session)", statsPeriod="1m", interval="10s").num_intervals == 7

    q = q_(field="sum(session)", interval="1h", start="2024-05-01T10:30:00", end="2024-05-01T12:00:01Z")
    assert (q.start.isoformat(), q.end.isoformat()) == ("2024-05-01T10:00:00+00:00", "2024-05-01T13:00:00+00:00")

    # a start in the future is clamped to now
    q = q_(field="sum(session)", interval="1h", start="2024-05-03T00:00:00Z", end="2024-05-04T00:00:00Z")
    assert q.start == datetime(2024, 5, 2, 12, tzinfo=timezone.utc)
    assert q.end == datetime(2024, 5, 4, tzinfo=timezone.utc)


# --- the search syntax --------------------------------------------------------------------------


def test_release_and_environment_filters_become_bound_conditions():
    q = daily(field="sum(session)", query='release:"1.1.0" OR release:"1.2.0"')
    assert q.condition == BoolOp("or", (Filter("release", ("1.1.0",)), Filter("release", ("1.2.0",))))
    text, params = sql(q)
    assert "(release = {q0:String} OR release = {q1:String})" in text
    assert (params["q0"], params["q1"]) == ("1.1.0", "1.2.0")

    q = daily(field="sum(session)", query='environment:production !release:[a, "b c"]', environment=["prod", "dev"])
    assert q.condition == BoolOp("and", (
        Filter("environment", ("production",)),
        Filter("release", ("a", "b c"), negated=True, is_list=True),
    ))
    assert q.environments == ("prod", "dev")
    text, params = sql(q)
    assert "(environment = {q0:String} AND release NOT IN {q1:Array(String)})" in text
    assert "environment IN {environments:Array(String)}" in text
    assert params["q1"] == ["a", "b c"] and params["environments"] == ["prod", "dev"]

    # AND binds tighter than OR, `and`/`or` in any case, parentheses regroup
    q = daily(field="sum(session)", query="release:a or release:b environment:e")
    assert q.condition == BoolOp("or", (
        Filter("release", ("a",)),
        BoolOp("and", (Filter("release", ("b",)), Filter("environment", ("e",)))),
    ))
    q = daily(field="sum(session)", query="(release:a OR release:b) AND environment:e")
    assert q.condition == BoolOp("and", (
        BoolOp("or", (Filter("release", ("a",)), Filter("release", ("b",)))),
        Filter("environment", ("e",)),
    ))
    q = daily(field="sum(session)", query='release:"" environment:""')
    assert q.condition == BoolOp("and", (Filter("release", ("",)), Filter("environment", ("",))))


def test_project_filters_take_ids_of_the_selected_projects():
    q = daily(field="sum(session)", query="project_id:2 OR project.id:3")
    _, params = sql(q)
    assert q.condition == BoolOp("or", (Filter("project_id", (2,)), Filter("project_id", (3,))))
    assert (params["q0"], params["q1"]) == (2, 3)
    q = parse({"field": ["sum(session)"], "statsPeriod": ["1d"], "query": ["project:web"]}, org_id=7,
              accessible_project_ids=[1, 2], now=NOW, project_slugs={"web": 2})
    assert q.condition == Filter("project_id", (2,))
    assert invalid(field="sum(session)", statsPeriod="1d", query="project:nope") == (
        "Invalid query. Project(s) nope do not exist or are not actively selected.")


def test_search_errors_in_sentrys_words():
    assert invalid(field="sum(session)", statsPeriod="1d", query="foo:bar") == "Invalid search filter: foo"
    assert invalid(field="sum(session)", statsPeriod="1d", query="issue.id:123") == "Invalid search filter: issue.id"
    assert invalid(field="sum(session)", statsPeriod="1d", query="release:foo-bar@1.2.3 (123)") == (
        "Invalid search filter: message")
    for query in ("release:foo@*", "release:foo@* AND release:bar@*", "(release:foo@* OR release:bar) OR project_id:1"):
        assert invalid(field="sum(session)", statsPeriod="1d", query=query) == (
            "Invalid condition: wildcard search is not supported")
    assert invalid(field="sum(session)", statsPeriod="1d", query="session.status:healthy OR release:foo@1.1.0") == (
        "Unable to parse condition with session.status")
    assert invalid(field="sum(session)", statsPeriod="1d", query="(release:a").startswith("Parse error at")
    assert invalid(field="sum(session)", statsPeriod="1d", query="release:a)").startswith("Parse error at")
    assert invalid(field="sum(session)", statsPeriod="1d", query='release:"a').startswith("Parse error at")
    assert invalid(field="sum(session)", statsPeriod="1d", query="release:a OR") == (
        "Condition is missing on the right side of 'OR' operator")
    assert invalid(field="sum(session)", statsPeriod="1d", query="AND release:a") == (
        "Condition is missing on the left side of 'AND' operator")


def test_session_status_terms_select_status_classes():
    q = daily(field="sum(session)", query="session.status:healthy release:foo@1.1.0")
    assert q.status_filter == {"healthy"} and q.condition == Filter("release", ("foo@1.1.0",))
    assert daily(field="sum(session)", query="!session.status:healthy").status_filter == {
        "abnormal", "crashed", "errored"}
    both = daily(field="sum(session)", query="session.status:[healthy, errored] session.status:errored")
    assert both.status_filter == {"errored"}
    q = daily(field="sum(session)", query="session.status:bogus")
    assert q.status_filter == frozenset() and q.empty
    # only durations while healthy is filtered out: nothing to answer
    assert daily(field="p95(session.duration)", query="session.status:abnormal").empty


# --- the SQL ------------------------------------------------------------------------------------


def test_sql_binds_every_value_and_selects_q_columns():
    q = daily(field=["sum(session)", "crash_free_rate(user)", "p50(session.duration)", "max(session.duration)"],
              groupBy=["project", "release"], query="release:x")
    text, params = sql(q)
    assert q.columns == (
        "project_id", "release", "bucket", "sessions", "crashed", "abnormal", "errored",
        "users", "users_crashed", "users_abnormal", "users_errored", "users_crashed_or_abnormal",
        "duration_quantiles", "duration_max",
    )
    assert params == {
        "org_id": 7, "project_ids": [1, 2, 3], "start_ms": 1714521600000, "end_ms": 1714694400000,
        "interval_ms": 86400000, "nil": "00000000-0000-0000-0000-000000000000", "q0": "x",
        "start": datetime(2024, 5, 1), "end": datetime(2024, 5, 3),
    }
    assert "FROM {db}.sessions\n" in text and "FINAL" not in text
    # whole-day buckets: sealed hours from the rollup, the rest reduced session by session
    assert "FROM {db}.sessions_hourly" in text and "started >= (SELECT max(hour)" in text
    assert text.count("GROUP BY project_id, session_id") == 2  # one row per session, per aggregate row
    assert "argMax(status, (seq, timestamp))" in text  # its latest update decides
    assert "GROUP BY GROUPING SETS ((project_id, release, bucket), (project_id, release))" in text
    assert "'x'" not in text and "1714521600000" not in text
    # users and durations are only computed when asked for
    assert daily(field="sum(session)").columns == ("bucket", "sessions", "crashed", "abnormal", "errored")
    five_minutes = q_(statsPeriod="1h", interval="5m", field="sum(session)")
    assert "sessions_hourly" not in sql(five_minutes)[0]  # buckets finer than hours: no rollup


# --- the response -------------------------------------------------------------------------------


def test_response_shape_zero_filled_series_and_nulls_where_there_is_nothing():
    q = q_(statsPeriod="1d", interval="6h", groupBy="release", field=[
        "sum(session)", "count_unique(user)", "crash_free_rate(session)", "crash_rate(user)",
        "avg(session.duration)", "p50(session.duration)", "max(session.duration)",
    ])
    rows = [
        row(q, None, release="r1", sessions=6, crashed=1, errored=2, users=3, users_crashed=1,
            users_errored=2, users_crashed_or_abnormal=1, duration_avg=2.5,
            duration_quantiles=[2.0, 3.0, 4.0, 4.0, 4.0], duration_max=4.0),
        row(q, 2, release="r1", sessions=2, users=2, duration_avg=1.5,
            duration_quantiles=[1.5, 1.75, 1.9, 1.95, 1.99], duration_max=2.0),
        row(q, 4, release="r1", sessions=4, crashed=1, errored=2, users=1, users_crashed=1,
            users_errored=1, users_crashed_or_abnormal=1),
        row(q, None, release="r2", sessions=1, users=0),
        row(q, 1, release="r2", sessions=1, users=0),
    ]
    body = response(q, rows)
    assert body == {
        "start": "2024-05-01T12:00:00Z",
        "end": "2024-05-02T18:00:00Z",
        "query": "",
        "intervals": ["2024-05-01T12:00:00Z", "2024-05-01T18:00:00Z", "2024-05-02T00:00:00Z",
                      "2024-05-02T06:00:00Z", "2024-05-02T12:00:00Z"],
        "groups": [
            {
                "by": {"release": "r1"},
                "totals": {
                    "sum(session)": 6, "count_unique(user)": 3, "crash_free_rate(session)": 1 - 1 / 6,
                    "crash_rate(user)": 1 / 3, "avg(session.duration)": 2500.0,
                    "p50(session.duration)": 2000.0, "max(session.duration)": 4000.0,
                },
                "series": {
                    "sum(session)": [0, 0, 2, 0, 4],
                    "count_unique(user)": [0, 0, 2, 0, 1],
                    "crash_free_rate(session)": [None, None, 1.0, None, 0.75],
                    "crash_rate(user)": [None, None, 0.0, None, 1.0],
                    "avg(session.duration)": [None, None, 1500.0, None, None],
                    "p50(session.duration)": [None, None, 1500.0, None, None],
                    "max(session.duration)": [None, None, 2000.0, None, None],
                },
            },
            {
                "by": {"release": "r2"},
                "totals": {
                    "sum(session)": 1, "count_unique(user)": 0, "crash_free_rate(session)": 1.0,
                    "crash_rate(user)": None, "avg(session.duration)": None,
                    "p50(session.duration)": None, "max(session.duration)": None,
                },
                "series": {
                    "sum(session)": [0, 1, 0, 0, 0],
                    "count_unique(user)": [0, 0, 0, 0, 0],
                    "crash_free_rate(session)": [None, 1.0, None, None, None],
                    "crash_rate(user)": [None, None, None, None, None],
                    "avg(session.duration)": [None] * 5,
                    "p50(session.duration)": [None] * 5,
                    "max(session.duration)": [None] * 5,
                },
            },
        ],
    }
    assert cursors(q, rows) == {"previous": {"cursor": "0:0:1", "results": False},
                                "next": {"cursor": "0:5000:0", "results": False}}


def test_grouping_by_status_yields_four_groups_with_sentrys_arithmetic():
    q = daily(field=["sum(session)", "count_unique(user)", "p50(session.duration)"],
              groupBy=["project", "session.status"])
    stats = dict(sessions=10, crashed=2, abnormal=1, errored=3, users=6, users_crashed=2, users_abnormal=2,
                 users_errored=5, users_crashed_or_abnormal=3, duration_quantiles=[30.0, 40.0, 50.0, 60.0, 70.0])
    rows = [row(q, None, project_id=3, **stats), row(q, 1, project_id=3, **stats)]
    body = response(q, rows)
    assert [(g["by"], g["totals"]) for g in body["groups"]] == [
        ({"project": 3, "session.status": "abnormal"},
         {"sum(session)": 1, "count_unique(user)": 2, "p50(session.duration)": None}),
        ({"project": 3, "session.status": "crashed"},
         {"sum(session)": 2, "count_unique(user)": 2, "p50(session.duration)": None}),
        # errored users: all errored (5) less those that crashed or were abnormal (3)
        ({"project": 3, "session.status": "errored"},
         {"sum(session)": 3, "count_unique(user)": 2, "p50(session.duration)": None}),
        # healthy users: all (6) less all errored (5); durations belong to the healthy group
        ({"project": 3, "session.status": "healthy"},
         {"sum(session)": 4, "count_unique(user)": 1, "p50(session.duration)": 30000.0}),
    ]
    assert body["groups"][1]["series"] == {"sum(session)": [0, 2], "count_unique(user)": [0, 2],
                                           "p50(session.duration)": [None, None]}
    assert body["groups"][3]["series"]["p50(session.duration)"] == [None, 30000.0]


def test_no_data_gives_sentrys_placeholder_groups():
    empty_series = {"sum(session)": [0, 0], "crash_free_rate(session)": [None, None]}
    q = daily(field=["sum(session)", "crash_free_rate(session)"])
    # ClickHouse answers an empty range with one all-zero row for the empty grouping set
    assert response(q, [row(q, None)])["groups"] == [
        {"by": {}, "totals": {"sum(session)": 0, "crash_free_rate(session)": None}, "series": empty_series}]
    q = daily(field="sum(session)", groupBy="session.status")
    assert [g["by"] for g in response(q, [])["groups"]] == [
        {"session.status": s} for s in ("abnormal", "crashed", "errored", "healthy")]
    assert response(q, [])["groups"][0]["totals"] == {"sum(session)": 0}
    assert response(daily(field="sum(session)", groupBy="release"), [])["groups"] == []


def test_status_filters_add_up_or_restrict_status_groups():
    stats = dict(sessions=9, crashed=1, abnormal=0, errored=2)
    q = daily(field="sum(session)", query="session.status:[healthy, errored]")
    assert response(q, [row(q, None, **stats), row(q, 1, **stats)])["groups"] == [
        {"by": {}, "totals": {"sum(session)": 8}, "series": {"sum(session)": [0, 8]}}]
    q = daily(field="sum(session)", query="!session.status:healthy")
    assert response(q, [row(q, None, **stats)])["groups"][0]["totals"] == {"sum(session)": 3}
    q = daily(field="sum(session)", query="session.status:[healthy, errored]", groupBy="session.status")
    body = response(q, [row(q, None, **stats), row(q, 1, **stats)])
    assert [(g["by"], g["totals"]) for g in body["groups"]] == [
        ({"session.status": "errored"}, {"sum(session)": 2}),
        ({"session.status": "healthy"}, {"sum(session)": 6}),
    ]
    q = daily(field="sum(session)", query="session.status:bogus")
    assert response(q, [row(q, None, **stats)])["groups"] == []
    # a group with no session of the status is still a group (Sentry's foo@1.2.0 with 0 healthy)
    q = daily(field="sum(session)", query="session.status:healthy", groupBy="release")
    body = response(q, [row(q, None, release="a", sessions=2, errored=2)])
    assert body["groups"] == [
        {"by": {"release": "a"}, "totals": {"sum(session)": 0}, "series": {"sum(session)": [0, 0]}}]


def test_groups_are_ordered_and_paginated():
    def rows_for(q: SessionsQuery) -> list[tuple[Any, ...]]:
        out = []
        groups = (("a", 3, 0, 25.0), ("b", 1, 1, 49.0), ("c", 2, 0, None), ("d", 3, 1, 37.0))
        for release, sessions, crashed, p95 in groups:
            quantiles = [math.nan] * 3 + [p95 if p95 is not None else math.nan, math.nan]  # p50..p99
            out.append(row(q, None, release=release, sessions=sessions, crashed=crashed, duration_quantiles=quantiles))
        return out

    def order(q: SessionsQuery) -> list[str]:
        return [g["by"]["release"] for g in response(q, rows_for(q))["groups"]]

    base = dict(field=["sum(session)", "p95(session.duration)", "crash_free_rate(session)"], groupBy="release")
    # default: sum(session) descending, ties by `by`
    assert order(daily(**base)) == ["a", "d", "c", "b"]
    assert order(daily(**base, orderBy="p95(session.duration)")) == ["a", "d", "b", "c"]  # nulls last
    assert order(daily(**base, orderBy="-p95(session.duration)")) == ["b", "d", "a", "c"]
    assert order(daily(**base, orderBy="crash_free_rate(session)")) == ["b", "d", "a", "c"]

    q = daily(**base, orderBy="sum(session)", per_page="1")
    assert order(q) == ["b"]
    assert cursors(q, rows_for(q)) == {"previous": {"cursor": "0:0:1", "results": False},
                                       "next": {"cursor": "0:1:0", "results": True}}
    q = daily(**base, orderBy="sum(session)", per_page="2", cursor="0:2:0")
    assert order(q) == ["a", "d"]
    assert cursors(q, rows_for(q)) == {"previous": {"cursor": "0:0:1", "results": True},
                                       "next": {"cursor": "0:4:0", "results": False}}
    # at most 5000 // intervals groups: 90 one-day intervals + the partial one → 54 per page
    assert q_(field="sum(session)", interval="1d").max_groups == 5000 // 91


def test_query_string_and_optional_parts_of_the_body():
    q = daily(field="sum(session)", query="release:x", includeTotals="0")
    body = response(q, [row(q, None, sessions=1), row(q, 1, sessions=1)])
    assert body["query"] == "release:x"
    assert body["groups"] == [{"by": {}, "series": {"sum(session)": [0, 1]}}]
    q = daily(field="sum(session)", includeSeries="0")
    assert response(q, [row(q, None, sessions=1)])["groups"] == [{"by": {}, "totals": {"sum(session)": 1}}]


def test_rows_may_be_mappings_and_out_of_range_buckets_are_ignored():
    q = daily(field="sum(session)", groupBy="environment")
    rows = [
        {"environment": "prod", "bucket": None, "sessions": 2, "crashed": 0, "abnormal": 0, "errored": 0},
        {"environment": "prod", "bucket": 1, "sessions": 2, "crashed": 0, "abnormal": 0, "errored": 0},
        {"environment": "prod", "bucket": 7, "sessions": 5, "crashed": 0, "abnormal": 0, "errored": 0},
    ]
    assert response(q, rows)["groups"] == [
        {"by": {"environment": "prod"}, "totals": {"sum(session)": 2}, "series": {"sum(session)": [0, 2]}}]
