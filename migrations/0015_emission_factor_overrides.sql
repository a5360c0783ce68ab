-- Per-BA overrides of the default emission factors (gCO2eq/kWh = kg/MWh), e.g. eGRID-derived
-- gas or coal rates for one BA. A missing row means the set's default for the fuel's category.
CREATE TABLE emission_factor_overrides (
  ba_code    text NOT NULL REFERENCES balancing_authorities (code),
  fuel       text NOT NULL CHECK (fuel ~ '^[A-Z0-9]{2,6}$'),   -- EIA fueltype code (COL, NG, ...)
  factor_set text NOT NULL CHECK (factor_set IN ('lifecycle', 'direct')),
  value      double precision NOT NULL CHECK (value >= 0 AND value < 5000),
  source     text NOT NULL,                                   -- e.g. 'eGRID2022 BA PLCO2RTA'
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ba_code, fuel, factor_set)
);
