-- Demand and carbon intensity forecasts, one run per (BA, target, made_at); each run keeps its hours.
-- The newest run per BA and target is what the API serves; older runs stay for evaluation (pruned after 30 days).
CREATE TABLE forecast_runs (
  ba_code      text NOT NULL REFERENCES balancing_authorities (code),
  target       text NOT NULL CHECK (target IN ('demand', 'intensity')),
  made_at      timestamptz NOT NULL,
  model        text NOT NULL,
  source       text NOT NULL,              -- source of the history it was trained on (eia, simulated, mixed, ...)
  data_through timestamptz NOT NULL,       -- newest observed hour behind it
  train_rows   integer NOT NULL,
  PRIMARY KEY (ba_code, target, made_at)
);

CREATE TABLE forecasts (
  ba_code text NOT NULL,
  target  text NOT NULL,
  made_at timestamptz NOT NULL,
  ts      timestamptz NOT NULL,              -- hour start (UTC)
  value   double precision NOT NULL,         -- MW (demand) or gCO2eq/kWh (intensity)
  low     double precision NOT NULL,
  high    double precision NOT NULL,
  model   text NOT NULL,
  PRIMARY KEY (ba_code, target, made_at, ts),
  FOREIGN KEY (ba_code, target, made_at) REFERENCES forecast_runs (ba_code, target, made_at) ON DELETE CASCADE
);
