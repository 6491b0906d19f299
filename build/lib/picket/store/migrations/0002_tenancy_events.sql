-- The tenancy event log, archived by the projector next to the rows it projects. Agents rebuild
-- an aggregate's state from it when their changelog does not have it (e.g. after the embedded
-- in-memory broker restarted), and a projection can be rebuilt from it.
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.tenancy_events
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
DROP TABLE IF EXISTS {db}.tenancy_events;
