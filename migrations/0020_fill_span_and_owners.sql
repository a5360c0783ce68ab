-- The span a store is meant to cover, recorded once by the first start that fills it (one row per source),
-- so that a restart after a crash knows what the first fill meant to cover: BAs and routes with nothing
-- stored are read from here, and gap detection reaches back to here (src/ingest/intended-span.ts).
CREATE TABLE store_span (
  source        text PRIMARY KEY CHECK (source IN ('eia', 'simulated')),
  intended_from timestamptz NOT NULL,    -- first hour (start, UTC) the store should hold
  recorded_at   timestamptz NOT NULL DEFAULT now()
);

-- The process that owns a running run or a claimed backfill job: {"pid", "host", "boot"} (the host's boot id).
-- A run whose process is gone is closed at once, not after a 15-minute-old heartbeat (src/platform/process-owner.ts).
-- NULL for runs opened on behalf of an off-site worker (only their heartbeat tells).
ALTER TABLE ingest_runs ADD COLUMN owner jsonb;
ALTER TABLE backfill_jobs ADD COLUMN owner jsonb;
