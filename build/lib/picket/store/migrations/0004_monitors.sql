-- Cron monitors: the projection of the monitors context (see services/monitors/project.py).
-- Every table is a ReplacingMergeTree on the aggregate version, so a replayed event rewrites an
-- identical row and the newest version wins. Readers use FINAL and filter `deleted` after it.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.monitors
(
    org_id     UInt64,
    project_id UInt64,
    monitor_id UInt64,
    slug       String,
    version    UInt64,
    deleted    UInt8,
    body       String CODEC(ZSTD(1)),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (org_id, monitor_id);

CREATE TABLE IF NOT EXISTS {db}.monitor_checkins
(
    org_id        UInt64,
    monitor_id    UInt64,
    check_in_id   String,
    environment   String,
    status        LowCardinality(String),
    duration      Nullable(Int64),
    date_created  DateTime64(3, 'UTC'),
    date_updated  DateTime64(3, 'UTC'),
    expected_time Nullable(DateTime64(3, 'UTC')),
    version       UInt64,
    body          String CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (org_id, monitor_id, check_in_id);

-- What the clock dispatcher reads to find the monitors due at a tick: one row per environment
-- schedule (check_in_id empty) and one per in_progress check-in (its timeout).
CREATE TABLE IF NOT EXISTS {db}.monitor_deadlines
(
    org_id              UInt64,
    monitor_key         String,
    slug                String,
    environment         String,
    check_in_id         String,
    next_checkin_latest Nullable(DateTime64(3, 'UTC')),
    open_timeouts       Nullable(DateTime64(3, 'UTC')),
    version             UInt64,
    deleted             UInt8
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (org_id, monitor_key, environment, check_in_id);

-- migrate:down
DROP TABLE IF EXISTS {db}.monitor_deadlines;
DROP TABLE IF EXISTS {db}.monitor_checkins;
DROP TABLE IF EXISTS {db}.monitors;
