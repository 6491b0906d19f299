-- Issue counters without reading every event per request: when a project's issues were first and
-- last seen (by environment: min and max are idempotent, so a materialized view keeps them), and
-- per sealed hour each issue's events and users (`group_hourly`, an exact rollup of `events`,
-- see `picket.store.rollup`), with the hours not sealed yet read from `events_recent`.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.group_seen
(
    project_id  UInt64,
    group_id    UInt64,
    environment String,
    first_seen  SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen   SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (project_id, group_id, environment);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.group_seen_mv TO {db}.group_seen AS
SELECT project_id, group_id, environment, min(timestamp) AS first_seen, max(timestamp) AS last_seen
FROM {db}.events GROUP BY project_id, group_id, environment;

INSERT INTO {db}.group_seen
SELECT project_id, group_id, environment, min(timestamp), max(timestamp)
FROM {db}.events GROUP BY project_id, group_id, environment;

-- The events of the last two days, by issue, for the hours not sealed yet. Deduplicated like
-- `events` (read with FINAL), small.
CREATE TABLE IF NOT EXISTS {db}.events_recent
(
    project_id  UInt64,
    group_id    UInt64,
    event_id    String,
    environment String,
    user_tag    String,
    timestamp   DateTime64(3, 'UTC'),
    received    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(received)
ORDER BY (project_id, group_id, event_id)
TTL toDateTime(timestamp) + INTERVAL 2 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_recent_mv TO {db}.events_recent AS
SELECT project_id, group_id, event_id, environment, user_tag, timestamp, received FROM {db}.events;

INSERT INTO {db}.events_recent
SELECT project_id, group_id, event_id, environment, user_tag, timestamp, received
FROM {db}.events WHERE timestamp >= now64(3) - INTERVAL 2 DAY;

-- One row per issue, environment and hour, per sealing `version`; the newest version of a row
-- is the hour's current rollup (reads take only hours below the horizon of `group_seals`).
CREATE TABLE IF NOT EXISTS {db}.group_hourly
(
    project_id  UInt64,
    group_id    UInt64,
    environment String,
    hour        DateTime('UTC'),
    times_seen  UInt64,
    users       AggregateFunction(uniqExact, String),
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, group_id, environment, hour);

CREATE TABLE IF NOT EXISTS {db}.group_seals
(
    hour    DateTime('UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY hour;

CREATE TABLE IF NOT EXISTS {db}.group_dirty_hours
(
    hour   DateTime('UTC'),
    marked UInt64
)
ENGINE = ReplacingMergeTree(marked)
ORDER BY hour;

-- migrate:down
DROP TABLE IF EXISTS {db}.group_dirty_hours;
DROP TABLE IF EXISTS {db}.group_seals;
DROP TABLE IF EXISTS {db}.group_hourly;
DROP TABLE IF EXISTS {db}.events_recent_mv;
DROP TABLE IF EXISTS {db}.events_recent;
DROP TABLE IF EXISTS {db}.group_seen_mv;
DROP TABLE IF EXISTS {db}.group_seen;
