"""Sessions reduced for aggregation, as SQL text shared by queries and the hourly rollup. Pure.

`per_session(where)` reduces the rows of `sessions` to one row per session (its latest update
decides; see `picket.stats.sessions` for the classes) plus one per aggregate row. Both parts
group by the row key instead of reading with FINAL: copies of one update or of one aggregate row
(a replay not merged yet) collapse there, and `sessions` is ordered by start hour, so a range
condition on `started` bounds what is read. Inner names are prefixed (`s_`) so that no alias
shadows a column of `sessions` in WHERE.

`STATES` are the mergeable aggregates of such rows — what `sessions_hourly` stores per hour and
what a query computes over the hours not sealed yet — and `MERGES` finish them.
"""

from __future__ import annotations

QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99)
# The distinct id SDKs send for "no user" (bound as {nil:String}).
NIL_USER = "00000000-0000-0000-0000-000000000000"
_LEVELS = ", ".join(map(str, QUANTILES))

_SESSIONS = """\
    SELECT
        any(org_id) AS s_org,
        project_id AS s_project,
        any(release) AS s_release,
        any(environment) AS s_environment,
        min(started) AS s_started,
        toUInt64(1) AS s_quantity,
        argMax(status, (seq, timestamp)) AS s_last_status,
        multiIf(s_last_status = 'crashed', 'crashed', s_last_status = 'abnormal', 'abnormal',
                s_last_status = 'errored' OR max(errors) > 0, 'errored', 'healthy') AS s_outcome,
        toUInt64(s_outcome = 'crashed') AS s_crashed,
        toUInt64(s_outcome = 'abnormal') AS s_abnormal,
        toUInt64(s_outcome = 'errored') AS s_errored,
        argMaxIf(distinct_id, (seq, timestamp), distinct_id NOT IN ('', {nil:String})) AS s_user,
        s_outcome = 'crashed' AS s_user_crashed,
        s_outcome = 'abnormal' AS s_user_abnormal,
        s_outcome != 'healthy' AS s_user_errored,
        if(s_last_status = 'exited', argMax(tuple(duration), (seq, timestamp)).1, NULL) AS s_duration
    FROM {db}.sessions
    WHERE aggregate = 0 AND %(where)s
    GROUP BY project_id, session_id"""

_AGGREGATES = """\
    SELECT
        any(org_id) AS s_org,
        project_id AS s_project,
        any(release) AS s_release,
        any(environment) AS s_environment,
        any(started) AS s_started,
        toUInt64(any(quantity)) AS s_quantity,
        'aggregate' AS s_last_status,
        'aggregate' AS s_outcome,
        toUInt64(any(crashed)) AS s_crashed,
        toUInt64(any(abnormal)) AS s_abnormal,
        toUInt64(any(errored)) AS s_errored,
        if(any(distinct_id) IN ('', {nil:String}), '', any(distinct_id)) AS s_user,
        s_crashed > 0 AS s_user_crashed,
        s_abnormal > 0 AS s_user_abnormal,
        s_errored + s_abnormal + s_crashed > 0 AS s_user_errored,
        CAST(NULL AS Nullable(Float64)) AS s_duration
    FROM {db}.sessions
    WHERE aggregate = 1 AND %(where)s
    GROUP BY project_id, session_id"""


def per_session(where: str) -> str:
    """One row per session and per aggregate row of `sessions` matching `where`."""
    return _SESSIONS % {"where": where} + "\n    UNION ALL\n" + _AGGREGATES % {"where": where}


def _user_state(condition: str) -> str:
    # Nullable so that "no user" (NULL) is not counted, and every state has one type.
    return f"uniqExactState(if(s_user != ''{condition}, s_user, NULL))"


# name → mergeable aggregate over per-session rows
STATES: dict[str, str] = {
    "sessions": "sum(s_quantity)",
    "crashed": "sum(s_crashed)",
    "abnormal": "sum(s_abnormal)",
    "errored": "sum(s_errored)",
    "users": _user_state(""),
    "users_crashed": _user_state(" AND s_user_crashed"),
    "users_abnormal": _user_state(" AND s_user_abnormal"),
    "users_errored": _user_state(" AND s_user_errored"),
    "users_crashed_or_abnormal": _user_state(" AND (s_user_crashed OR s_user_abnormal)"),
    "duration_avg": "avgState(s_duration)",
    "duration_quantiles": f"quantilesExactInclusiveState({_LEVELS})(s_duration)",
    "duration_max": "maxState(s_duration)",
}

# name → the final value from the states of STATES
MERGES: dict[str, str] = {
    "sessions": "sum(sessions)",
    "crashed": "sum(crashed)",
    "abnormal": "sum(abnormal)",
    "errored": "sum(errored)",
    **{u: f"uniqExactMerge({u})" for u in (
        "users", "users_crashed", "users_abnormal", "users_errored", "users_crashed_or_abnormal")},
    "duration_avg": "avgMerge(duration_avg)",
    "duration_quantiles": f"quantilesExactInclusiveMerge({_LEVELS})(duration_quantiles)",
    "duration_max": "maxMerge(duration_max)",
}
