-- Error events keyed by time as well. `events` was ordered by (project_id, event_id), so every
-- read over a period (Discover, the issue counters' sealing passes, an issue's events) read all of
-- a project's events. `error_events` is ordered by (project_id, day, event_id) and partitioned by
-- day: a period keeps only its days' granules. An event's day is a function of its payload, so a
-- redelivered event still replaces itself, in the same partition; lookups by event id or by issue
-- use bloom filters instead of the key.
--
-- Deduplicating reads (FINAL) cost a merge of the parts they read: a day's partition is merged
-- into one part once all its parts are an hour old (min_age_to_force_merge_*), so a read over past
-- days merges nothing and only today's rows are deduplicated as they are read (Discover reads
-- partition by partition: do_not_merge_across_partitions_select_final). `transactions` (weekly
-- partitions) gets the same forced merge of parts an hour old.
--
-- A new table rather than a swap: every statement here may run twice, or in two processes at once
-- (the gateway and the workers each migrate at start), and still leave every row in
-- `error_events` (the copy is deduplicated by its key; first and last seen are min and max).
-- Processes of the previous version must be stopped first: what they write to `events` after the
-- copy is not moved. The rows are copied before the views over the new table exist:
-- `group_seen`, `events_recent` and `project_activity` already hold them; every view that read
-- `events` reads `error_events` instead.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.error_events
(
    project_id    UInt64,
    event_id      String,
    group_id      UInt64,
    timestamp     DateTime64(3, 'UTC'),
    received      DateTime64(3, 'UTC'),
    type          LowCardinality(String),
    platform      LowCardinality(String),
    level         LowCardinality(String),
    title         String,
    message       String,
    culprit       String,
    release       String,
    environment   String,
    transaction   String,
    user_tag      String,
    user_email    String,
    tags_key      Array(String),
    tags_value    Array(String),
    hash          String,
    size          UInt32,
    body          String CODEC(ZSTD(3)),
    INDEX event_id_bloom event_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX group_id_bloom group_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(received)
PARTITION BY toDate(timestamp)
ORDER BY (project_id, toDate(timestamp), event_id)
SETTINGS min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1;

-- (an empty `events` when a run before this one dropped it: the copy below then has a source)
CREATE TABLE IF NOT EXISTS {db}.events AS {db}.error_events;

INSERT INTO {db}.error_events SELECT * FROM {db}.events SETTINGS max_partitions_per_insert_block = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.error_group_seen_mv TO {db}.group_seen AS
SELECT project_id, group_id, environment, min(timestamp) AS first_seen, max(timestamp) AS last_seen
FROM {db}.error_events GROUP BY project_id, group_id, environment;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.error_events_recent_mv TO {db}.events_recent AS
SELECT project_id, group_id, event_id, environment, user_tag, timestamp, received FROM {db}.error_events;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.error_project_activity_mv TO {db}.project_activity AS
SELECT project_id, min(timestamp) AS first_event, groupUniqArrayIf(environment, environment != '') AS environments,
       groupUniqArrayIf(platform, platform != '') AS platforms, toUInt8(0) AS has_sessions,
       toUInt8(0) AS has_user_reports, toUInt8(0) AS has_transactions
FROM {db}.error_events GROUP BY project_id;

DROP TABLE IF EXISTS {db}.group_seen_mv;
DROP TABLE IF EXISTS {db}.events_recent_mv;
DROP TABLE IF EXISTS {db}.project_activity_events;

DROP TABLE IF EXISTS {db}.events;

ALTER TABLE {db}.transactions MODIFY SETTING min_age_to_force_merge_seconds = 3600;
-- migrate:down
ALTER TABLE {db}.transactions RESET SETTING min_age_to_force_merge_seconds;
CREATE TABLE IF NOT EXISTS {db}.events AS {db}.error_events
ENGINE = ReplacingMergeTree(received)
ORDER BY (project_id, event_id);
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.group_seen_mv TO {db}.group_seen AS
SELECT project_id, group_id, environment, min(timestamp) AS first_seen, max(timestamp) AS last_seen
FROM {db}.events GROUP BY project_id, group_id, environment;
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_recent_mv TO {db}.events_recent AS
SELECT project_id, group_id, event_id, environment, user_tag, timestamp, received FROM {db}.events;
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.project_activity_events TO {db}.project_activity AS
SELECT project_id, min(timestamp) AS first_event, groupUniqArrayIf(environment, environment != '') AS environments,
       groupUniqArrayIf(platform, platform != '') AS platforms, toUInt8(0) AS has_sessions,
       toUInt8(0) AS has_user_reports, toUInt8(0) AS has_transactions
FROM {db}.events GROUP BY project_id;
DROP TABLE IF EXISTS {db}.error_group_seen_mv;
DROP TABLE IF EXISTS {db}.error_events_recent_mv;
DROP TABLE IF EXISTS {db}.error_project_activity_mv;
INSERT INTO {db}.events SELECT * FROM {db}.error_events SETTINGS max_partitions_per_insert_block = 0;
DROP TABLE IF EXISTS {db}.error_events
