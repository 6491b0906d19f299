-- Transactions (performance events), for Discover. A ReplacingMergeTree keyed by the event id
-- (after the project and the day its time range queries read), versioned by the time of receipt:
-- a redelivered item, received once, is stored once. Partitioned by week, so a period drops
-- whole parts from a read.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.transactions
(
    project_id         UInt64,
    event_id           String,
    trace_id           String,
    span_id            String,
    parent_span_id     String,
    transaction        String,
    op                 LowCardinality(String),
    status             LowCardinality(String),
    start_timestamp    DateTime64(6, 'UTC'),
    timestamp          DateTime64(6, 'UTC'),
    duration           Float64,
    release            String,
    environment        String,
    platform           LowCardinality(String),
    user_id            String,
    user_email         String,
    user_username      String,
    user_ip            String,
    user_tag           String,
    tags_key           Array(String),
    tags_value         Array(String),
    measurements_key   Array(String),
    measurements_value Array(Float64),
    http_method        LowCardinality(String),
    http_url           String,
    received           DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(received)
PARTITION BY toMonday(timestamp)
ORDER BY (project_id, toDate(timestamp), event_id);
-- migrate:down
DROP TABLE IF EXISTS {db}.transactions;
