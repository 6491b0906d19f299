-- Records of the tenancy context (organizations, teams, projects, keys, members, users, tokens).
-- One row per record version; ReplacingMergeTree keeps the newest by aggregate version, so a
-- replayed event rewrites an identical row. Readers use FINAL and filter `deleted` after it.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.entities
(
    kind       LowCardinality(String),
    org_id     UInt64,
    id         UInt64,
    parent_id  UInt64,
    slug       String,
    version    UInt64,
    deleted    UInt8,
    body       String CODEC(ZSTD(1)),
    event_id   String,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (kind, org_id, id);
-- migrate:down
DROP TABLE IF EXISTS {db}.entities;
