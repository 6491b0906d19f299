"""stats_v2 parameters, its one query and Sentry's response shape, without a database."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from picket.stats import stats_v2
from picket.stats.periods import InvalidParams
from picket.stats.stats_v2 import StatsQuery, parse, response, sql

NOW = datetime(2024, 3, 10, 15, 30, tzinfo=timezone.utc)
DAY = datetime(2024, 3, 9, tzinfo=timezone.utc)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def q(**params: str | list[str]) -> StatsQuery:
    lists = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    return parse(lists, org_id=1, accessible_project_ids=[10, 11, 12], now=NOW)


def error(**params: str | list[str]) -> str:
    with pytest.raises(InvalidParams) as err:
        q(**params)
    return err.value.detail


ATTACHMENT_ALONE = "if filtering by attachment no other category may be present"
BASE = {"field": "sum(quantity)", "groupBy": "category", "statsPeriod": "1d", "interval": "1h"}


# --- parse ---------------------------------------------------------------------------------------

def test_parse_a_full_query() -> None:
    query = q(field=["sum(quantity)", "sum(times_seen)", "sum(quantity)"], groupBy=["outcome", "category"],
              category=["error", "transaction"], outcome=["accepted", "RATE_LIMITED"],
              reason=["spike_protection", "usage_exceeded"], key_id="7", statsPeriod="2d", interval="1d",
              unknown="ignored", project=["10", "11"])
    assert query == StatsQuery(
        org_id=1, fields=("sum(quantity)", "sum(times_seen)"), group_by=("outcome", "category"),
        project_ids=(10, 11), categories=(0, 1, 2, 3), outcomes=(0, 2),
        reasons=("smart_rate_limit", "usage_exceeded"), key_ids=(7,),
        start=utc(2024, 3, 8), end=utc(2024, 3, 11), interval=timedelta(days=1),
    )
    assert query.timeseries and query.columns == ("outcome", "category", "time", "quantity", "times_seen")


def test_error_means_default_error_and_security() -> None:
    assert q(**{**BASE, "category": "error"}).categories == (0, 1, 3)
    assert q(**{**BASE, "category": "feedback"}).categories == (14,)
    assert q(**{**BASE, "category": "attachment"}).categories == (4,)


def test_range_is_rounded_to_the_interval() -> None:
    query = q(**{**BASE, "statsPeriod": "2d", "interval": "1d"})
    assert (query.start, query.end, query.interval) == (utc(2024, 3, 8), utc(2024, 3, 11), timedelta(days=1))
    query = q(field="sum(quantity)", groupBy="category", start="2024-03-01T10:20:00Z", end="2024-03-01T13:05:00")
    assert (query.start, query.end, query.interval) == (utc(2024, 3, 1, 10), utc(2024, 3, 1, 14), timedelta(hours=1))
    query = q(field="sum(quantity)", groupBy="category", start="1709287320", end="1709289480", interval="5m")
    assert (query.start, query.end, query.interval) == (
        utc(2024, 3, 1, 10), utc(2024, 3, 1, 10, 40), timedelta(minutes=5))


def test_an_interval_that_is_not_a_period_is_an_hour() -> None:
    assert q(**{**BASE, "interval": "soon"}).interval == timedelta(hours=1)


def test_statsperiodstart_is_not_read_by_stats_v2() -> None:
    query = q(field="sum(quantity)", groupBy="category", statsPeriodStart="3d", statsPeriodEnd="2d", interval="1d")
    assert (query.start, query.end) == (utc(2023, 12, 11), utc(2024, 3, 11)), "the default 90 days"


def test_minute_resolution_can_be_refused() -> None:
    lists = {k: [v] for k, v in {**BASE, "interval": "5m"}.items()}
    with pytest.raises(InvalidParams) as err:
        parse(lists, org_id=1, accessible_project_ids=[10], now=NOW, minute_resolution=False)
    assert err.value.detail == "The interval has to be a multiple of the minimum interval of one hour."


@pytest.mark.parametrize("params, detail", [
    ({**BASE, "category": ["attachment", "error"]}, ATTACHMENT_ALONE),
    ({**BASE, "category": ["attachment", "transaction"]}, ATTACHMENT_ALONE),
    ({**BASE, "interval": "7m"}, "The interval should divide one day without a remainder."),
    ({**BASE, "interval": "2d"}, "The interval has to be less than one day."),
    ({**BASE, "interval": "90s"}, "The interval has to be a multiple of the minimum interval of one minute."),
    ({**BASE, "statsPeriod": "90d"}, "Your interval and date range would create too many results. "
                                     "Use a larger interval, or a smaller date range."),
    ({"field": "sum(quantity)", "groupBy": "category", "start": "2024-03-02", "end": "2024-03-01"},
     "start must be before end"),
    ({"field": "sum(quantity)", "groupBy": "category", "start": "2024-03-02"}, "start and end are both required"),
    ({**BASE, "field": "count()"}, 'Invalid field: "count()"'),
    ({**BASE, "field": ["sum(quantity)", "sum(session)"]}, 'Invalid field: "sum(session)"'),
    ({**BASE, "groupBy": ["category", "release"]}, 'Invalid groupBy: "release"'),
    ({**BASE, "groupBy": "key_id"}, 'Invalid groupBy: "key_id"'),
    ({k: v for k, v in BASE.items() if k != "field"}, 'At least one "field" is required.'),
    ({**BASE, "groupBy": "outcome"}, "Query must have category as groupby or filter"),
    ({**BASE, "category": "errors"}, 'Invalid category: "errors"'),
    ({**BASE, "outcome": "dropped"}, 'Invalid outcome: "dropped"'),
    ({**BASE, "key_id": "abc"}, 'Invalid key: "abc"'),
    ({**BASE, "project": "abc"}, "Invalid project parameter. Values must be numbers."),
])
def test_invalid_queries(params: dict[str, str | list[str]], detail: str) -> None:
    assert error(**params) == detail


def test_field_is_checked_before_the_dates_and_the_dates_before_the_rest() -> None:
    assert error(groupBy="nope", interval="7m") == 'At least one "field" is required.'
    divides = "The interval should divide one day without a remainder."
    assert error(field="nope", groupBy="nope", interval="7m") == divides
    assert error(field="nope", groupBy="nope", statsPeriod="1d") == 'Invalid field: "nope"'


def test_org_wide_without_projects_or_all_projects() -> None:
    assert q(**BASE).project_ids is None
    assert q(**BASE, project="-1").project_ids is None


def test_grouping_by_project_uses_accessible_projects() -> None:
    assert q(**{**BASE, "groupBy": ["category", "project"]}).project_ids == (10, 11, 12)
    assert q(**{**BASE, "groupBy": ["category", "project"]}, project="-1").project_ids == (10, 11, 12)
    assert q(**BASE, project=["12", "10"]).project_ids == (10, 12)


def test_an_inaccessible_project_is_forbidden() -> None:
    with pytest.raises(PermissionError):
        q(**BASE, project=["10", "99"])


def test_no_accessible_projects() -> None:
    lists = {k: [v] for k, v in {**BASE, "groupBy": "project", "category": "error"}.items()}
    with pytest.raises(InvalidParams) as err:
        parse(lists, org_id=1, accessible_project_ids=[], now=NOW)
    assert err.value.detail == "No projects available"


def test_reason_none_matches_rows_without_a_reason() -> None:
    assert q(**BASE, reason=["none", ""]).reasons == ("", "none")


# --- sql -----------------------------------------------------------------------------------------

def test_sql_binds_every_value() -> None:
    query = q(field="sum(times_seen)", groupBy=["outcome", "category"], category="error", outcome="filtered",
              reason="x'; DROP TABLE outcomes; --", key_id="7", project=["10"], statsPeriod="1d", interval="4h")
    text, params = sql(query)
    assert "FROM {db}.outcomes_hourly" in text and "FROM {db}.outcomes_recent FINAL" in text
    assert "toStartOfInterval(timestamp, INTERVAL {interval:UInt32} SECOND)" in text
    assert "DROP" not in text and "'" not in text.replace("'UTC'", "")
    assert not re.search(r"\b(10|7|14400)\b", text), "no value is interpolated"
    assert params == {
        "org_id": 1, "start": datetime(2024, 3, 9, 12), "end": datetime(2024, 3, 10, 16), "interval": 14400,
        "project_ids": [10], "categories": [0, 1, 3], "outcomes": [1],
        "reasons": ["x'; DROP TABLE outcomes; --"], "key_ids": [7],
    }
    assert "GROUP BY outcome, category, time" in text


def test_sql_without_filters_or_grouping_by_project() -> None:
    text, params = sql(q(**{**BASE, "groupBy": ["project", "category"]}, project="-1"))
    assert set(params) == {"org_id", "start", "end", "project_ids"}
    assert "AS time," not in text and "GROUP BY project_id, category" in text


# --- response ------------------------------------------------------------------------------------

def ts(hour: int) -> int:
    return int((DAY + timedelta(hours=hour)).timestamp())


def test_response_zero_fills_sums_error_categories_and_sorts_groups() -> None:
    query = q(field=["sum(quantity)", "sum(times_seen)"], groupBy=["category", "outcome"],
              start="2024-03-09T00:00:00", end="2024-03-09T04:00:00", interval="1h")
    rows = [  # category, outcome, time, quantity, times_seen
        (2, 0, ts(1), 5, 2),
        (1, 0, ts(0), 3, 3),
        (0, 0, ts(0), 1, 1),  # default: counted as error
        (3, 0, ts(2), 2, 1),  # security: counted as error
        (4, 2, ts(3), 4096, 2),
        (1, 1, DAY + timedelta(hours=3), 7, 7),  # a datetime bucket works too
    ]
    assert response(query, rows) == {
        "start": "2024-03-09T00:00:00Z",
        "end": "2024-03-09T04:00:00Z",
        "intervals": ["2024-03-09T00:00:00Z", "2024-03-09T01:00:00Z", "2024-03-09T02:00:00Z", "2024-03-09T03:00:00Z"],
        "groups": [
            {"by": {"category": "attachment", "outcome": "rate_limited"},
             "totals": {"sum(quantity)": 4096, "sum(times_seen)": 2},
             "series": {"sum(quantity)": [0, 0, 0, 4096], "sum(times_seen)": [0, 0, 0, 2]}},
            {"by": {"category": "error", "outcome": "accepted"},
             "totals": {"sum(quantity)": 6, "sum(times_seen)": 5},
             "series": {"sum(quantity)": [4, 0, 2, 0], "sum(times_seen)": [4, 0, 1, 0]}},
            {"by": {"category": "error", "outcome": "filtered"},
             "totals": {"sum(quantity)": 7, "sum(times_seen)": 7},
             "series": {"sum(quantity)": [0, 0, 0, 7], "sum(times_seen)": [0, 0, 0, 7]}},
            {"by": {"category": "transaction", "outcome": "accepted"},
             "totals": {"sum(quantity)": 5, "sum(times_seen)": 2},
             "series": {"sum(quantity)": [0, 5, 0, 0], "sum(times_seen)": [0, 2, 0, 0]}},
        ],
    }


def test_response_renders_reasons_like_sentry() -> None:
    query = q(field="sum(quantity)", groupBy=["reason"], category="error", start="2024-03-09T00:00:00",
              end="2024-03-09T02:00:00")
    rows = [("smart_rate_limit", ts(0), 2, 2), ("", ts(1), 1, 1), ("usage_exceeded", ts(1), 3, 1)]
    groups = response(query, rows)["groups"]
    assert [g["by"] for g in groups] == [{"reason": "none"}, {"reason": "spike_protection"},
                                         {"reason": "usage_exceeded"}]
    assert [g["series"]["sum(quantity)"] for g in groups] == [[0, 1], [2, 0], [0, 3]]


def test_response_without_groupby_and_without_rows() -> None:
    query = q(field="sum(quantity)", category="transaction", start="2024-03-09T00:00:00", end="2024-03-09T02:00:00")
    assert query.columns == ("time", "quantity", "times_seen")
    assert response(query, [(ts(1), 9, 3)])["groups"] == [
        {"by": {}, "totals": {"sum(quantity)": 9}, "series": {"sum(quantity)": [0, 9]}}]
    assert response(query, []) == {
        "start": "2024-03-09T00:00:00Z", "end": "2024-03-09T02:00:00Z",
        "intervals": ["2024-03-09T00:00:00Z", "2024-03-09T01:00:00Z"], "groups": [],
    }


def test_response_grouped_by_project_has_totals_only() -> None:
    query = q(field="sum(quantity)", groupBy=["project", "outcome"], category="error",
              start="2024-03-09T00:00:00", end="2024-03-09T02:00:00")
    rows = [(11, 0, 4, 4), (10, 3, 1, 1), (10, 0, 2, 2)]
    assert response(query, rows) == {
        "start": "2024-03-09T00:00:00Z", "end": "2024-03-09T02:00:00Z",
        "groups": [
            {"by": {"project": 10, "outcome": "accepted"}, "totals": {"sum(quantity)": 2}},
            {"by": {"project": 10, "outcome": "invalid"}, "totals": {"sum(quantity)": 1}},
            {"by": {"project": 11, "outcome": "accepted"}, "totals": {"sum(quantity)": 4}},
        ],
    }


def test_category_and_outcome_names() -> None:
    assert [stats_v2.render_category(n) for n in (0, 1, 2, 3, 4, 5, 14, 16, 99)] == [
        "error", "error", "transaction", "error", "attachment", "session", "feedback", "span_indexed", "unknown"]
    assert [stats_v2.render_outcome(n) for n in range(7)] == [
        "accepted", "filtered", "rate_limited", "invalid", "abuse", "client_discard", "cardinality_limited"]
