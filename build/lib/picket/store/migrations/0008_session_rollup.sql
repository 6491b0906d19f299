-- The hourly rollup of sessions (see services/store/rollup.py): per sealed hour of `started`,
-- the sessions reduced to their final state and summed by project, release and environment,
-- with the mergeable states of their distinct users and durations.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.sessions_hourly
(
    org_id      UInt64,
    hour        DateTime('UTC'),
    project_id  UInt64,
    release     String,
    environment String,
    sessions    UInt64,
    crashed     UInt64,
    abnormal    UInt64,
    errored     UInt64,
    users                     AggregateFunction(uniqExact, Nullable(String)),
    users_crashed             AggregateFunction(uniqExact, Nullable(String)),
    users_abnormal            AggregateFunction(uniqExact, Nullable(String)),
    users_errored             AggregateFunction(uniqExact, Nullable(String)),
    users_crashed_or_abnormal AggregateFunction(uniqExact, Nullable(String)),
    duration_avg       AggregateFunction(avg, Nullable(Float64)),
    duration_quantiles AggregateFunction(quantilesExactInclusive(0.5, 0.75, 0.9, 0.95, 0.99), Nullable(Float64)),
    duration_max       AggregateFunction(max, Nullable(Float64)),
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (org_id, hour, project_id, release, environment);

CREATE TABLE IF NOT EXISTS {db}.session_seals
(
    hour    DateTime('UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY hour;

CREATE TABLE IF NOT EXISTS {db}.session_dirty_hours
(
    hour   DateTime('UTC'),
    marked UInt64
)
ENGINE = ReplacingMergeTree(marked)
ORDER BY hour;
-- migrate:down
DROP TABLE IF EXISTS {db}.session_dirty_hours;
DROP TABLE IF EXISTS {db}.session_seals;
DROP TABLE IF EXISTS {db}.sessions_hourly;
