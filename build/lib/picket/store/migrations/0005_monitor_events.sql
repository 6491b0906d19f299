-- The monitors event log, archived by the monitors projection (same shape as tenancy_events).
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.monitor_events
(
    aggregate  String,
    version    UInt64,
    event_id   String,
    type       LowCardinality(String),
    payload    String CODEC(ZSTD(1)),
    timestamp  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (aggregate, version);
-- migrate:down
DROP TABLE IF EXISTS {db}.monitor_events;
