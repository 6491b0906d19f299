-- Session rows ordered by organization and start hour, as every sessions query reads them.
-- Updates of one session share its `started`, so the key (…, session_id, seq) still stores a
-- replayed update once; `sessions` replaces `sessions_raw`.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.sessions
(
    org_id      UInt64,
    project_id  UInt64,
    -- a session update: its sid and seq; an aggregate row: its Kafka coordinates and index
    session_id  String,
    seq         UInt64,
    distinct_id String,
    init        UInt8,
    status      LowCardinality(String),
    errors      UInt32,
    started     DateTime64(3, 'UTC'),
    timestamp   DateTime64(3, 'UTC'),
    duration    Nullable(Float64),
    release     String,
    environment String,
    quantity    UInt32,
    exited      UInt32,
    errored     UInt32,
    abnormal    UInt32,
    crashed     UInt32,
    aggregate   UInt8,
    received    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started)
ORDER BY (org_id, toStartOfHour(started), project_id, session_id, seq);

-- Move the rows of `sessions_raw`; creating it first keeps a re-run after a crash past the DROP
-- harmless, and copying twice is absorbed by the deduplication.
CREATE TABLE IF NOT EXISTS {db}.sessions_raw AS {db}.sessions
ENGINE = ReplacingMergeTree
ORDER BY (project_id, session_id, seq);

INSERT INTO {db}.sessions SELECT * FROM {db}.sessions_raw;

DROP TABLE IF EXISTS {db}.sessions_raw;
-- migrate:down
CREATE TABLE IF NOT EXISTS {db}.sessions_raw AS {db}.sessions
ENGINE = ReplacingMergeTree
ORDER BY (project_id, session_id, seq);
INSERT INTO {db}.sessions_raw SELECT * FROM {db}.sessions;
DROP TABLE IF EXISTS {db}.sessions;
