-- Outcomes for aggregate queries: an exact store, a short-lived copy of recent rows, and an hourly
-- rollup of sealed hours (see services/stats/sealing.py).
--
-- `outcomes_raw` replaces `outcomes`: the same key, but copies of one outcome (an SDK retry of an
-- event, received again later) keep the *earliest*, so an outcome counts in the hour it was first
-- seen, and a later hour's rollup never counts it again.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.outcomes_raw
(
    org_id     UInt64,
    project_id UInt64,
    key_id     UInt64,
    timestamp  DateTime('UTC'),
    outcome    UInt8,
    category   UInt8,
    reason     LowCardinality(String),
    quantity   UInt64,
    dedupe_id  String,
    earliest   UInt32 DEFAULT 4294967295 - toUnixTimestamp(timestamp)
)
ENGINE = ReplacingMergeTree(earliest)
ORDER BY (org_id, project_id, category, outcome, reason, dedupe_id);

-- The rows of the last two days, for the hours not sealed yet. Deduplicated like `outcomes_raw`,
-- small enough to read with FINAL.
CREATE TABLE IF NOT EXISTS {db}.outcomes_recent AS {db}.outcomes_raw
ENGINE = ReplacingMergeTree(earliest)
ORDER BY (org_id, project_id, category, outcome, reason, dedupe_id)
TTL timestamp + INTERVAL 2 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.outcomes_recent_mv TO {db}.outcomes_recent
AS SELECT org_id, project_id, key_id, timestamp, outcome, category, reason, quantity, dedupe_id, earliest
FROM {db}.outcomes_raw;

-- One row per group and hour, per sealing `version`; the hour's current version is the newest in
-- `outcome_seals`, so a reseal replaces an hour at once.
CREATE TABLE IF NOT EXISTS {db}.outcomes_hourly
(
    org_id     UInt64,
    hour       DateTime('UTC'),
    project_id UInt64,
    key_id     UInt64,
    category   UInt8,
    outcome    UInt8,
    reason     LowCardinality(String),
    quantity   UInt64,
    times_seen UInt64,
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (org_id, hour, project_id, key_id, category, outcome, reason);

-- Written after an hour's rollup rows: the hour is sealed at `version` (ClickHouse's clock, ns).
CREATE TABLE IF NOT EXISTS {db}.outcome_seals
(
    hour    DateTime('UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY hour;

-- Rows arrived for an hour that may already be sealed: it is resealed when `marked` (ClickHouse's
-- clock, ns) is newer than its seal.
CREATE TABLE IF NOT EXISTS {db}.outcome_dirty_hours
(
    hour   DateTime('UTC'),
    marked UInt64
)
ENGINE = ReplacingMergeTree(marked)
ORDER BY hour;

-- Move the rows of `outcomes`. Creating it first keeps a re-run after a crash past the DROP
-- harmless (an empty table to copy); copying twice is absorbed by the deduplication.
CREATE TABLE IF NOT EXISTS {db}.outcomes
(
    org_id UInt64, project_id UInt64, key_id UInt64, timestamp DateTime('UTC'), outcome UInt8,
    category UInt8, reason LowCardinality(String), quantity UInt64, dedupe_id String
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, project_id, category, outcome, reason, dedupe_id);

INSERT INTO {db}.outcomes_raw (org_id, project_id, key_id, timestamp, outcome, category, reason, quantity, dedupe_id)
SELECT org_id, project_id, key_id, timestamp, outcome, category, reason, quantity, dedupe_id
FROM {db}.outcomes;

DROP TABLE IF EXISTS {db}.outcomes;
-- migrate:down
CREATE TABLE IF NOT EXISTS {db}.outcomes
(
    org_id UInt64, project_id UInt64, key_id UInt64, timestamp DateTime('UTC'), outcome UInt8,
    category UInt8, reason LowCardinality(String), quantity UInt64, dedupe_id String
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, project_id, category, outcome, reason, dedupe_id);
INSERT INTO {db}.outcomes
SELECT org_id, project_id, key_id, timestamp, outcome, category, reason, quantity, dedupe_id
FROM {db}.outcomes_raw;
DROP TABLE IF EXISTS {db}.outcome_dirty_hours;
DROP TABLE IF EXISTS {db}.outcome_seals;
DROP TABLE IF EXISTS {db}.outcomes_hourly;
DROP TABLE IF EXISTS {db}.outcomes_recent_mv;
DROP TABLE IF EXISTS {db}.outcomes_recent;
DROP TABLE IF EXISTS {db}.outcomes_raw;
