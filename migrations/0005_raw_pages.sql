-- Raw audit: each run's source pages exactly as received (the response's data rows), gzip'd JSON.
-- Pruned after RAW_RETENTION_DAYS by the daily job.
CREATE TABLE raw_pages (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id      integer NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
  route       text NOT NULL,            -- region, fuel, interchange
  request     text NOT NULL,            -- path and query (never the API key) or the replayed file name
  page_offset integer NOT NULL,
  row_count   integer NOT NULL,
  body        bytea NOT NULL,           -- gzip(JSON array of the page's rows)
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX raw_pages_run ON raw_pages (run_id);
CREATE INDEX raw_pages_created ON raw_pages (created_at);
