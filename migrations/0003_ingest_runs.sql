-- Run ledger: one row per ingestion run, written at start and finished at the end.
CREATE TABLE ingest_runs (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind        text NOT NULL,              -- cli, hourly, backfill, replay, simulated, api
  source      text NOT NULL,              -- eia, replay, simulated, external
  params      jsonb NOT NULL DEFAULT '{}',
  status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed', 'partial')),
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  rows_fetched  integer NOT NULL DEFAULT 0,
  rows_inserted integer NOT NULL DEFAULT 0,
  rows_updated  integer NOT NULL DEFAULT 0,
  rows_rejected integer NOT NULL DEFAULT 0,
  requests    integer NOT NULL DEFAULT 0,
  retries     integer NOT NULL DEFAULT 0,
  errors      jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX ingest_runs_started ON ingest_runs (started_at DESC);
