-- Webhook deliveries: every try the deliverer made (services/hooks/deliverer.py), written right
-- after it: `ok` when answered 2xx, `gave_up` when the delivery was dead-lettered after it. A
-- delivery with either is not sent again when its message is read again; the latest try of each
-- target says whether it is failing (services/store/hooks_read.py).
-- migrate:up
CREATE TABLE IF NOT EXISTS {db}.hook_attempts
(
    id        String,
    target_id String,
    org_id    UInt64,
    event     LowCardinality(String),
    attempt   UInt16,
    status    Nullable(UInt16),
    ok        UInt8,
    gave_up   UInt8,
    error     String,
    at        DateTime64(3, 'UTC'),
    INDEX by_id id TYPE bloom_filter GRANULARITY 4
)
ENGINE = MergeTree
ORDER BY (target_id, at)
TTL toDateTime(at) + INTERVAL 30 DAY;
-- migrate:down
DROP TABLE IF EXISTS {db}.hook_attempts;
