-- Resumable runs: a heartbeat with running totals, the chunks each run finished, and which run a run resumes.
ALTER TABLE ingest_runs ADD COLUMN heartbeat_at timestamptz;
ALTER TABLE ingest_runs ADD COLUMN resumed_from integer REFERENCES ingest_runs (id);

CREATE TABLE ingest_chunks (
  run_id     integer NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
  route      text NOT NULL,
  chunk_from timestamptz NOT NULL,      -- first hour (start) of the chunk
  row_count  integer NOT NULL,
  done_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, route, chunk_from)
);

-- Gaps found in the stored range become backfill jobs, claimed once across workers (FOR UPDATE SKIP LOCKED).
CREATE TABLE backfill_jobs (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ba_code     text NOT NULL,
  route       text NOT NULL CHECK (route IN ('region', 'fuel', 'interchange')),
  source      text NOT NULL CHECK (source IN ('eia', 'simulated')),
  ts_from     timestamptz NOT NULL,     -- first missing hour (start)
  ts_to       timestamptz NOT NULL,     -- last missing hour (start), inclusive
  status      text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  attempts    integer NOT NULL DEFAULT 0,
  run_id      integer REFERENCES ingest_runs (id) ON DELETE SET NULL,
  last_error  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (ba_code, route, source, ts_from, ts_to)
);
CREATE INDEX backfill_jobs_queued ON backfill_jobs (id) WHERE status = 'queued';
