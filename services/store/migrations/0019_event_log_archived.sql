-- When each archived event reached its log table, as the store's clock tells: a replay
-- (services/store/replay.py) catches up with what the live projector archived while it ran by
-- reading the events archived since it began. Rows archived before this migration take the time
-- it ran (MATERIALIZE), which is before any replay can begin.
-- migrate:up
ALTER TABLE {db}.tenancy_events ADD COLUMN IF NOT EXISTS archived DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE {db}.monitor_events ADD COLUMN IF NOT EXISTS archived DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE {db}.release_events ADD COLUMN IF NOT EXISTS archived DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE {db}.artifact_events ADD COLUMN IF NOT EXISTS archived DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE {db}.integration_events ADD COLUMN IF NOT EXISTS archived DateTime64(3, 'UTC') DEFAULT now64(3);
ALTER TABLE {db}.tenancy_events MATERIALIZE COLUMN archived;
ALTER TABLE {db}.monitor_events MATERIALIZE COLUMN archived;
ALTER TABLE {db}.release_events MATERIALIZE COLUMN archived;
ALTER TABLE {db}.artifact_events MATERIALIZE COLUMN archived;
ALTER TABLE {db}.integration_events MATERIALIZE COLUMN archived;
-- migrate:down
ALTER TABLE {db}.tenancy_events DROP COLUMN IF EXISTS archived;
ALTER TABLE {db}.monitor_events DROP COLUMN IF EXISTS archived;
ALTER TABLE {db}.release_events DROP COLUMN IF EXISTS archived;
ALTER TABLE {db}.artifact_events DROP COLUMN IF EXISTS archived;
ALTER TABLE {db}.integration_events DROP COLUMN IF EXISTS archived;
