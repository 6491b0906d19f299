-- Integrations: the projection of the integrations context (see services/integrations/project.py)
-- and its event log: service hooks, Sentry apps and their installations, external issues.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.integration_events
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

CREATE TABLE IF NOT EXISTS {db}.service_hooks
(
    org_id       UInt64,
    project_id   UInt64,
    hook_id      String,
    agg_version  UInt64,
    deleted      UInt8,
    date_created DateTime64(3, 'UTC'),
    body         String
)
ENGINE = ReplacingMergeTree(agg_version)
ORDER BY (org_id, project_id, hook_id);

CREATE TABLE IF NOT EXISTS {db}.sentry_apps
(
    org_id      UInt64,
    app_uuid    String,
    agg_version UInt64,
    slug        String,
    body        String
)
ENGINE = ReplacingMergeTree(agg_version)
ORDER BY (org_id, app_uuid);

CREATE TABLE IF NOT EXISTS {db}.sentry_app_installations
(
    org_id            UInt64,
    installation_uuid String,
    app_uuid          String,
    agg_version       UInt64,
    deleted           UInt8,
    body              String
)
ENGINE = ReplacingMergeTree(agg_version)
ORDER BY (org_id, installation_uuid);

CREATE TABLE IF NOT EXISTS {db}.external_issues
(
    org_id            UInt64,
    group_id          UInt64,
    external_issue_id UInt64,
    installation_uuid String,
    agg_version       UInt64,
    deleted           UInt8,
    body              String
)
ENGINE = ReplacingMergeTree(agg_version)
ORDER BY (org_id, group_id, external_issue_id);
-- migrate:down
DROP TABLE IF EXISTS {db}.external_issues;
DROP TABLE IF EXISTS {db}.sentry_app_installations;
DROP TABLE IF EXISTS {db}.sentry_apps;
DROP TABLE IF EXISTS {db}.service_hooks;
DROP TABLE IF EXISTS {db}.integration_events;
