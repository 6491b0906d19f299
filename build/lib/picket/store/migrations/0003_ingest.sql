-- Ingested data. Every table is a ReplacingMergeTree keyed so that the same item processed
-- twice (a Kafka replay, an SDK retry of the same event id) is stored once.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.outcomes
(
    org_id     UInt64,
    project_id UInt64,
    key_id     UInt64,
    timestamp  DateTime('UTC'),
    outcome    UInt8,
    category   UInt8,
    reason     LowCardinality(String),
    quantity   UInt64,
    -- event id when the outcome is about one event (so it counts once), else the Kafka
    -- coordinates of the outcome message
    dedupe_id  String
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, project_id, category, outcome, reason, dedupe_id);

CREATE TABLE IF NOT EXISTS {db}.events
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
    body          String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree(received)
ORDER BY (project_id, event_id);

CREATE TABLE IF NOT EXISTS {db}.groups
(
    project_id   UInt64,
    group_id     UInt64,
    short_number UInt64,
    hash         String,
    type         LowCardinality(String),
    title        String,
    culprit      String,
    level        LowCardinality(String),
    logger       String,
    platform     LowCardinality(String),
    metadata     String,
    first_seen   DateTime64(3, 'UTC'),
    first_release String
)
ENGINE = ReplacingMergeTree
ORDER BY (project_id, group_id);

-- The status of a group over time; the newest version is the status now.
CREATE TABLE IF NOT EXISTS {db}.group_status
(
    project_id UInt64,
    group_id   UInt64,
    status     LowCardinality(String),
    substatus  LowCardinality(String),
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, group_id);

CREATE TABLE IF NOT EXISTS {db}.group_hashes
(
    project_id UInt64,
    hash       String,
    group_id   UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (project_id, hash);

CREATE TABLE IF NOT EXISTS {db}.sessions_raw
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
ORDER BY (project_id, session_id, seq);

CREATE TABLE IF NOT EXISTS {db}.checkins_raw
(
    org_id       UInt64,
    project_id   UInt64,
    check_in_id  String,
    monitor_slug String,
    status       LowCardinality(String),
    duration     Nullable(Float64),
    environment  String,
    payload      String,
    received     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(received)
ORDER BY (project_id, check_in_id, status);

CREATE TABLE IF NOT EXISTS {db}.feedback
(
    org_id       UInt64,
    project_id   UInt64,
    feedback_id  String,
    event_id     String,
    name         String,
    email        String,
    comments     String,
    date_created DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (project_id, feedback_id);

CREATE TABLE IF NOT EXISTS {db}.attachments
(
    project_id    UInt64,
    event_id      String,
    attachment_id String,
    name          String,
    content_type  String,
    attachment_type String,
    size          UInt64,
    data          String CODEC(ZSTD(3)),
    received      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (project_id, event_id, attachment_id);
-- migrate:down
DROP TABLE IF EXISTS {db}.attachments;
DROP TABLE IF EXISTS {db}.feedback;
DROP TABLE IF EXISTS {db}.checkins_raw;
DROP TABLE IF EXISTS {db}.sessions_raw;
DROP TABLE IF EXISTS {db}.group_status;
DROP TABLE IF EXISTS {db}.group_hashes;
DROP TABLE IF EXISTS {db}.groups;
DROP TABLE IF EXISTS {db}.events;
DROP TABLE IF EXISTS {db}.outcomes;
