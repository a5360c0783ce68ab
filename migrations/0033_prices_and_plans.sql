-- Prices, tariffs and battery plans (issue 15, optimizer part).
-- 1. Price series are series like any other: type 'price', units '$/MWh', keyed `<BA>.price.<NODE>` (the market
--    node or zone as subtype, e.g. PJM.price.WESTERN_HUB); ts is the UTC start of the priced hour.
ALTER TABLE series DROP CONSTRAINT series_type_check;
ALTER TABLE series ADD CONSTRAINT series_type_check
  CHECK (type IN ('demand', 'forecast', 'net_generation', 'interchange', 'generation_by_fuel', 'ba_interchange', 'co2', 'price'));

-- 2. One tariff per device (src/fleet/prices/tariff.ts: dynamic, time-of-use or flat, with an export credit).
--    device_id names the fleet's device (no foreign key: the devices table belongs to the fleet migrations); the
--    device's BA (its intensity forecast prices carbon) is on the device row.
CREATE TABLE device_tariffs (
  device_id  text PRIMARY KEY,
  tariff     jsonb NOT NULL,                                  -- tariffSchema, plus carbonPrice ($/t)
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- 3. Every plan the optimizer made for a device (model predictive control keeps the newest; older ones are its
--    history): how it was made, what it was made on (fingerprint of prices, forecasts and SoC) and what it
--    expects to cost against the no-battery baseline.
CREATE TABLE optimizer_plans (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_id          text NOT NULL,
  made_at            timestamptz NOT NULL DEFAULT now(),
  starts_at          timestamptz NOT NULL,
  step_minutes       integer NOT NULL CHECK (step_minutes BETWEEN 15 AND 60),
  method             text NOT NULL CHECK (method IN ('lp', 'rule-fallback')),
  fallback_reason    text,
  fingerprint        text NOT NULL,
  cost_usd           double precision NOT NULL,
  no_battery_cost_usd double precision NOT NULL,
  co2_kg             double precision,
  no_battery_co2_kg  double precision,
  plan               jsonb NOT NULL
);
CREATE INDEX optimizer_plans_device ON optimizer_plans (device_id, made_at DESC);

-- 4. Stored backtests (gridpulse optimize backtest --save): the savings and Pareto pages read the newest.
CREATE TABLE optimizer_backtests (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  made_at  timestamptz NOT NULL DEFAULT now(),
  params   jsonb NOT NULL,
  result   jsonb NOT NULL
);
