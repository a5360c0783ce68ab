-- One row per scheduled job occurrence: the worker copy that inserts it runs the job, the others skip it.
-- The advisory lock alone keeps runs from overlapping, but a copy whose tick fires after another copy's run of the
-- same occurrence ended would run it again.
CREATE TABLE IF NOT EXISTS job_ticks (
  job        text        NOT NULL,
  tick       timestamptz NOT NULL,
  claimed_by text        NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job, tick)
);
