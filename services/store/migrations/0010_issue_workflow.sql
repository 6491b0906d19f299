-- The issue workflow: an issue's whole state in its status row (status details, assignee, share
-- id, merge), its activity, and each user's flags on it.
-- migrate:up
ALTER TABLE {db}.group_status
    ADD COLUMN IF NOT EXISTS status_details String DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS ignore_until DateTime64(3, 'UTC') DEFAULT toDateTime64(0, 3, 'UTC'),
    ADD COLUMN IF NOT EXISTS assignee String DEFAULT '',
    ADD COLUMN IF NOT EXISTS share_id String DEFAULT '',
    ADD COLUMN IF NOT EXISTS merged_into UInt64 DEFAULT 0;

CREATE TABLE IF NOT EXISTS {db}.group_activity
(
    project_id UInt64,
    group_id   UInt64,
    id         String,
    type       LowCardinality(String),
    user_id    UInt64,
    data       String,
    at         DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (project_id, group_id, id);

CREATE TABLE IF NOT EXISTS {db}.group_user_flags
(
    project_id UInt64,
    group_id   UInt64,
    user_id    UInt64,
    flag       LowCardinality(String),
    value      UInt8,
    at         DateTime64(3, 'UTC'),
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, group_id, user_id, flag);

-- migrate:down
DROP TABLE IF EXISTS {db}.group_user_flags;
DROP TABLE IF EXISTS {db}.group_activity;
ALTER TABLE {db}.group_status
    DROP COLUMN IF EXISTS merged_into,
    DROP COLUMN IF EXISTS share_id,
    DROP COLUMN IF EXISTS assignee,
    DROP COLUMN IF EXISTS ignore_until,
    DROP COLUMN IF EXISTS status_details;
