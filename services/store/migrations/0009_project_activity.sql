-- What a project has seen, for its `firstEvent`, `environments`, `platforms`, `hasSessions`,
-- `hasUserReports` and `firstTransactionEvent`: one row per project, merged as parts merge,
-- fed by materialized views on the tables ingestion writes (every aggregate here is idempotent,
-- so an item written twice changes nothing) and filled once from what is already stored.
-- A flag, once set, stays set, as Sentry's project flags do.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.project_activity
(
    project_id       UInt64,
    first_event      SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    environments     SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    platforms        SimpleAggregateFunction(groupUniqArrayArray, Array(String)),
    has_sessions     SimpleAggregateFunction(max, UInt8),
    has_user_reports SimpleAggregateFunction(max, UInt8),
    has_transactions SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY project_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.project_activity_events TO {db}.project_activity AS
SELECT project_id, min(timestamp) AS first_event, groupUniqArrayIf(environment, environment != '') AS environments,
       groupUniqArrayIf(platform, platform != '') AS platforms, toUInt8(0) AS has_sessions,
       toUInt8(0) AS has_user_reports, toUInt8(0) AS has_transactions
FROM {db}.events GROUP BY project_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.project_activity_sessions TO {db}.project_activity AS
SELECT project_id, toDateTime64('2299-12-31 00:00:00', 3, 'UTC') AS first_event, emptyArrayString() AS environments,
       emptyArrayString() AS platforms, toUInt8(1) AS has_sessions, toUInt8(0) AS has_user_reports,
       toUInt8(0) AS has_transactions
FROM {db}.sessions GROUP BY project_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.project_activity_feedback TO {db}.project_activity AS
SELECT project_id, toDateTime64('2299-12-31 00:00:00', 3, 'UTC') AS first_event, emptyArrayString() AS environments,
       emptyArrayString() AS platforms, toUInt8(0) AS has_sessions, toUInt8(1) AS has_user_reports,
       toUInt8(0) AS has_transactions
FROM {db}.feedback GROUP BY project_id;

-- An accepted transaction outcome says a transaction arrived (0011 stores them since).
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.project_activity_transactions TO {db}.project_activity AS
SELECT project_id, toDateTime64('2299-12-31 00:00:00', 3, 'UTC') AS first_event, emptyArrayString() AS environments,
       emptyArrayString() AS platforms, toUInt8(0) AS has_sessions, toUInt8(0) AS has_user_reports,
       toUInt8(1) AS has_transactions
FROM {db}.outcomes_raw WHERE outcome = 0 AND category = 2 GROUP BY project_id;

INSERT INTO {db}.project_activity
SELECT project_id, min(timestamp), groupUniqArrayIf(environment, environment != ''),
       groupUniqArrayIf(platform, platform != ''), 0, 0, 0
FROM {db}.events GROUP BY project_id;

INSERT INTO {db}.project_activity
SELECT project_id, toDateTime64('2299-12-31 00:00:00', 3, 'UTC'), [], [], 1, 0, 0 FROM {db}.sessions GROUP BY project_id;

INSERT INTO {db}.project_activity
SELECT project_id, toDateTime64('2299-12-31 00:00:00', 3, 'UTC'), [], [], 0, 1, 0 FROM {db}.feedback GROUP BY project_id;

INSERT INTO {db}.project_activity
SELECT project_id, toDateTime64('2299-12-31 00:00:00', 3, 'UTC'), [], [], 0, 0, 1
FROM {db}.outcomes_raw WHERE outcome = 0 AND category = 2 GROUP BY project_id;

-- migrate:down
DROP TABLE IF EXISTS {db}.project_activity_transactions;
DROP TABLE IF EXISTS {db}.project_activity_feedback;
DROP TABLE IF EXISTS {db}.project_activity_sessions;
DROP TABLE IF EXISTS {db}.project_activity_events;
DROP TABLE IF EXISTS {db}.project_activity;
