-- Markets (issue 15): the fleet's day-ahead participation as a virtual power plant. One run per market day and
-- market: the bids sent, the awards received, the dispatch to devices, and the settlement per hour once
-- delivery has been measured from the devices' telemetry. Quantities MW (one-hour products: MW = MWh), prices
-- in currency per MWh, device power kW.
CREATE TABLE market_runs (
  id            bigserial PRIMARY KEY,
  market        text NOT NULL,
  market_day    date NOT NULL,
  node          text,
  reference     text,
  status        text NOT NULL CHECK (status IN ('bid', 'awarded', 'dispatched', 'settled')),
  devices       integer NOT NULL,
  options       jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX market_runs_day ON market_runs (market_day DESC, id DESC);

CREATE TABLE market_bids (
  run_id        bigint NOT NULL REFERENCES market_runs (id) ON DELETE CASCADE,
  hour          timestamptz NOT NULL,
  side          text NOT NULL CHECK (side IN ('sell', 'buy')),
  step          integer NOT NULL,
  quantity_mw   double precision NOT NULL CHECK (quantity_mw >= 0),
  price         double precision NOT NULL,
  PRIMARY KEY (run_id, hour, side, step)
);

CREATE TABLE market_awards (
  run_id        bigint NOT NULL REFERENCES market_runs (id) ON DELETE CASCADE,
  hour          timestamptz NOT NULL,
  sold_mw       double precision NOT NULL,
  bought_mw     double precision NOT NULL,
  price         double precision NOT NULL,
  PRIMARY KEY (run_id, hour)
);

-- each device's share of an hour's award (+ discharge for a sale, − charge for a purchase), kW
CREATE TABLE market_dispatch (
  run_id        bigint NOT NULL REFERENCES market_runs (id) ON DELETE CASCADE,
  hour          timestamptz NOT NULL,
  device_id     text NOT NULL,
  power_kw      double precision NOT NULL,
  PRIMARY KEY (run_id, hour, device_id)
);

-- delivered (from telemetry) against awarded, and the money: revenue at the day-ahead price, imbalance
-- (awarded − delivered) charged at the settlement (real-time) price
CREATE TABLE market_settlements (
  run_id          bigint NOT NULL REFERENCES market_runs (id) ON DELETE CASCADE,
  hour            timestamptz NOT NULL,
  awarded_mwh     double precision NOT NULL,
  delivered_mwh   double precision NOT NULL,
  price           double precision NOT NULL,
  settlement_price double precision NOT NULL,
  revenue         double precision NOT NULL,
  imbalance_cost  double precision NOT NULL,
  PRIMARY KEY (run_id, hour)
);
