-- Ack ingestion speed (issue 14, ≥ 20,000 acks/s): an ack's update of the ledger and of its device must be a HOT
-- update (heap-only tuple: no new index entries), which PostgreSQL allows only when no indexed column — key or
-- partial-index predicate — changes and the page has room. Acks write schedule_versions.state, *_at, ack_seq, reason
-- and devices.confirmed_version, last_seen_at; no index below names any of them.

-- devices: (online, last_seen_at) served no query (the summary and the offline list read the whole fleet, the device
-- list pages by id); status, telemetry and acks all rewrote it. The overview's BA filter gets a fitting index instead.
DROP INDEX IF EXISTS devices_online;
CREATE INDEX IF NOT EXISTS devices_ba ON devices (ba_code) WHERE revoked_at IS NULL;

-- schedule_versions: the work list of the re-publisher and the timeout sweep was a partial index on `state`, which
-- every ack changes. Now a version is "live" while next_publish_at < 'infinity'; only the cloud's own writers
-- (issue, re-publisher, timeout sweep, supersede) move it, and the sweep retires finished versions
-- (next_publish_at = 'infinity') in batches, off the gateway's path (src/fleet/distribution.ts).
DROP INDEX IF EXISTS schedule_versions_pending;
UPDATE schedule_versions SET next_publish_at = 'infinity'
 WHERE state IN ('succeeded', 'failed', 'timed-out', 'superseded') AND next_publish_at < 'infinity';
CREATE INDEX IF NOT EXISTS schedule_versions_live ON schedule_versions (next_publish_at) WHERE next_publish_at < 'infinity';

-- room on each page for the new version of a row (pages written from now on): a gateway batch acks most rows of a
-- ledger page in one transaction, before any old version can be pruned, so half a page is kept free (measured on
-- 10,000 devices × 3 acks in batches of 2,000: fillfactor 80 → ~35 % of ledger updates HOT, 50 → ~91 %)
ALTER TABLE schedule_versions SET (fillfactor = 50);
ALTER TABLE devices SET (fillfactor = 70);
