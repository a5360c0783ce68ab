-- Quality check findings, stored per run (a run of the ledger: an ingest run, or the daily check run).
-- Checks flag, never drop: values stay as delivered; point defects also get observations.quality = 3.
CREATE TABLE quality_checks (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id      integer NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
  check_name  text NOT NULL CHECK (check_name IN ('negative_demand', 'spike', 'flatline', 'net_generation_vs_fuels', 'interchange_mismatch')),
  ba_code     text NOT NULL,
  series_key  text NOT NULL,
  ts_from     timestamptz NOT NULL,   -- first flagged hour (start)
  ts_to       timestamptz NOT NULL,   -- last flagged hour (start), inclusive
  severity    text NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
  count       integer NOT NULL CHECK (count > 0),  -- flagged hours in the range
  detail      jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quality_checks_run ON quality_checks (run_id);
CREATE INDEX quality_checks_ba_ts ON quality_checks (ba_code, ts_from);
