-- The release of each issue's latest event that names one (an issue's `lastRelease`), kept from
-- the event stream. argMax over the event's time: an event written twice changes nothing, and
-- the events a merge moves into an issue are inserted again under it, so it gets their release.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.group_last_release
(
    project_id   UInt64,
    group_id     UInt64,
    last_release AggregateFunction(argMax, String, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (project_id, group_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.group_last_release_mv TO {db}.group_last_release AS
SELECT project_id, group_id, argMaxState(release, timestamp) AS last_release
FROM {db}.error_events WHERE release != '' GROUP BY project_id, group_id;

-- What was stored before the view existed (safe to run twice: argMax).
INSERT INTO {db}.group_last_release
SELECT project_id, group_id, argMaxState(release, timestamp)
FROM {db}.error_events WHERE release != '' GROUP BY project_id, group_id
SETTINGS max_partitions_per_insert_block = 0;
-- migrate:down
DROP TABLE IF EXISTS {db}.group_last_release_mv;
DROP TABLE IF EXISTS {db}.group_last_release;
