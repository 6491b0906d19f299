-- Artifacts: the projection of the artifacts context (see services/artifacts/project.py) and its
-- event log: release files, artifact bundles and the index of their files, debug files, which
-- records hold which blob chunks, and where each upload's assembly stands.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.artifact_events
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

CREATE TABLE IF NOT EXISTS {db}.release_files
(
    org_id       UInt64,
    release      String,
    file_id      UInt64,
    agg_version  UInt64,
    deleted      UInt8,
    name         String,
    dist         String,
    sha1         String,
    size         UInt64,
    date_created DateTime64(3, 'UTC'),
    body         String CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree(agg_version)
ORDER BY (org_id, release, file_id);

CREATE TABLE IF NOT EXISTS {db}.artifact_bundles
(
    org_id       UInt64,
    checksum     String,
    bundle_id    UInt64,
    agg_version  UInt64,
    project_ids  Array(UInt64),
    release      String,
    dist         String,
    date_created DateTime64(3, 'UTC'),
    body         String CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree(agg_version)
ORDER BY (org_id, checksum);

-- Each file of each bundle; looked up by debug id, or by release, dist and URL.
CREATE TABLE IF NOT EXISTS {db}.artifact_index
(
    org_id       UInt64,
    bundle_id    UInt64,
    checksum     String,
    project_ids  Array(UInt64),
    release      String,
    dist         String,
    url          String,
    debug_id     String,
    type         LowCardinality(String),
    path         String,
    date_created DateTime64(3, 'UTC'),
    body         String CODEC(ZSTD(1)),
    INDEX by_debug_id debug_id TYPE bloom_filter GRANULARITY 4,
    INDEX by_url url TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, release, dist, checksum, path);

CREATE TABLE IF NOT EXISTS {db}.debug_files
(
    org_id       UInt64,
    project_id   UInt64,
    file_id      UInt64,
    agg_version  UInt64,
    deleted      UInt8,
    debug_id     String,
    code_id      String,
    object_name  String,
    cpu_name     LowCardinality(String),
    file_format  LowCardinality(String),
    checksum     String,
    sha1         String,
    size         UInt64,
    date_created DateTime64(3, 'UTC'),
    body         String CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree(agg_version)
ORDER BY (org_id, project_id, file_id);

CREATE TABLE IF NOT EXISTS {db}.blob_refs
(
    sha1    String,
    record  String,
    deleted UInt8,
    at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (sha1, record);

-- Chunks of deleted records, for the sweeper: removed once no record holds them.
CREATE TABLE IF NOT EXISTS {db}.blob_gc
(
    sha1 String,
    at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(at)
ORDER BY sha1;

CREATE TABLE IF NOT EXISTS {db}.assemble_status
(
    org_id   UInt64,
    scope    String,
    checksum String,
    state    LowCardinality(String),
    detail   String,
    at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (org_id, scope, checksum)
TTL toDateTime(at) + INTERVAL 30 DAY;
-- migrate:down
DROP TABLE IF EXISTS {db}.assemble_status;
DROP TABLE IF EXISTS {db}.blob_gc;
DROP TABLE IF EXISTS {db}.blob_refs;
DROP TABLE IF EXISTS {db}.debug_files;
DROP TABLE IF EXISTS {db}.artifact_index;
DROP TABLE IF EXISTS {db}.artifact_bundles;
DROP TABLE IF EXISTS {db}.release_files;
DROP TABLE IF EXISTS {db}.artifact_events;
