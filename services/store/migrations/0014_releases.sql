-- Releases: the projection of the releases context (see services/releases/project.py), its event
-- log, and what the event stream says of each release (first and last event, issues first seen
-- in it), kept by views as events and issues are written rather than computed per request.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.release_events
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

CREATE TABLE IF NOT EXISTS {db}.releases
(
    org_id       UInt64,
    version      String,
    release_id   UInt64,
    agg_version  UInt64,
    deleted      UInt8,
    status       LowCardinality(String),
    date_created DateTime64(3, 'UTC'),
    project_ids  Array(UInt64),
    body         String CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree(agg_version)
ORDER BY (org_id, version);

CREATE TABLE IF NOT EXISTS {db}.release_commits
(
    org_id          UInt64,
    version         String,
    commits_version UInt64,
    position        UInt32,
    repository      String,
    commit_id       String,
    body            String CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, version, commits_version, position);

CREATE TABLE IF NOT EXISTS {db}.commits
(
    org_id     UInt64,
    repository String,
    commit_id  String,
    date_added DateTime64(3, 'UTC'),
    body       String CODEC(ZSTD(1))
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, repository, commit_id);

-- A repository's rows differ only in `date_created`: reads take the least.
CREATE TABLE IF NOT EXISTS {db}.repositories
(
    org_id        UInt64,
    name          String,
    repository_id UInt64,
    date_created  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, name, date_created);

CREATE TABLE IF NOT EXISTS {db}.deploys
(
    org_id        UInt64,
    version       String,
    release_id    UInt64,
    deploy_id     UInt64,
    environment   String,
    date_finished DateTime64(3, 'UTC'),
    body          String
)
ENGINE = ReplacingMergeTree
ORDER BY (org_id, version, release_id, deploy_id);

-- First and last event of each release, per project and environment. min and max: an event
-- written twice (a redelivery) changes nothing.
CREATE TABLE IF NOT EXISTS {db}.release_seen
(
    project_id  UInt64,
    release     String,
    environment String,
    first_event SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_event  SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (project_id, release, environment);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.release_seen_mv TO {db}.release_seen AS
SELECT project_id, release, environment, min(timestamp) AS first_event, max(timestamp) AS last_event
FROM {db}.error_events WHERE release != '' GROUP BY project_id, release, environment;

-- Issues first seen in each release (`newGroups`), as a set: an issue's row written twice
-- counts once.
CREATE TABLE IF NOT EXISTS {db}.release_groups
(
    project_id UInt64,
    release    String,
    groups     AggregateFunction(uniqExact, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (project_id, release);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.release_groups_mv TO {db}.release_groups AS
SELECT project_id, first_release AS release, uniqExactState(group_id) AS groups
FROM {db}.groups WHERE first_release != '' GROUP BY project_id, first_release;

-- What was stored before the views existed (safe to run twice: min, max and sets).
INSERT INTO {db}.release_seen
SELECT project_id, release, environment, min(timestamp), max(timestamp)
FROM {db}.error_events WHERE release != '' GROUP BY project_id, release, environment
SETTINGS max_partitions_per_insert_block = 0;

INSERT INTO {db}.release_groups
SELECT project_id, first_release, uniqExactState(group_id)
FROM {db}.groups WHERE first_release != '' GROUP BY project_id, first_release;
-- migrate:down
DROP TABLE IF EXISTS {db}.release_groups_mv;
DROP TABLE IF EXISTS {db}.release_groups;
DROP TABLE IF EXISTS {db}.release_seen_mv;
DROP TABLE IF EXISTS {db}.release_seen;
DROP TABLE IF EXISTS {db}.deploys;
DROP TABLE IF EXISTS {db}.repositories;
DROP TABLE IF EXISTS {db}.commits;
DROP TABLE IF EXISTS {db}.release_commits;
DROP TABLE IF EXISTS {db}.releases;
DROP TABLE IF EXISTS {db}.release_events;
