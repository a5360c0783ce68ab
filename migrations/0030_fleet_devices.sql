-- Battery fleet (issue 14): devices, their groups and their credentials. See src/fleet/ and FLEET-DESIGN.
-- Units: energy kWh, power kW, state of charge (SoC) percent of usable capacity (0–100), efficiencies as
-- fractions (0–1]. A device's MQTT username is its id; its MQTT password is a random secret shown once at
-- provisioning, stored here as a SHA-256 (hex); its HTTP credential is an API key of kind 'device'.

CREATE TABLE devices (
  id                   text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{2,62}$'),
  name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  capacity_kwh         double precision NOT NULL CHECK (capacity_kwh > 0 AND capacity_kwh <= 10000),
  max_charge_kw        double precision NOT NULL CHECK (max_charge_kw > 0 AND max_charge_kw <= 1000),
  max_discharge_kw     double precision NOT NULL CHECK (max_discharge_kw > 0 AND max_discharge_kw <= 1000),
  charge_efficiency    double precision NOT NULL DEFAULT 0.95 CHECK (charge_efficiency > 0 AND charge_efficiency <= 1),
  discharge_efficiency double precision NOT NULL DEFAULT 0.95 CHECK (discharge_efficiency > 0 AND discharge_efficiency <= 1),
  min_soc_pct          double precision NOT NULL DEFAULT 5 CHECK (min_soc_pct >= 0),
  max_soc_pct          double precision NOT NULL DEFAULT 100 CHECK (max_soc_pct <= 100),
  reserve_soc_pct      double precision NOT NULL DEFAULT 10,
  ba_code              text,                          -- the balancing authority it sits in (EIA code)
  tariff               text CHECK (length(tariff) <= 100),
  fallback             text NOT NULL DEFAULT 'hold-soc' CHECK (fallback IN ('hold-soc', 'idle', 'self-consumption')),
  agent_version        text CHECK (length(agent_version) <= 40),
  mqtt_password_hash   text NOT NULL,                 -- hex sha256 of the MQTT password
  api_key_id           text REFERENCES api_keys (id) ON DELETE SET NULL,
  -- reported state (status / Last Will, telemetry)
  online               boolean NOT NULL DEFAULT false,
  status_at            timestamptz,
  last_seen_at         timestamptz,
  soc_pct              double precision,
  power_kw             double precision,                -- + charging, − discharging
  telemetry_at         timestamptz,
  telemetry_seq        bigint,
  reported_version     integer,                         -- the version its last telemetry said it executes (0 = fallback)
  reported_mode        text,
  -- desired versus confirmed (shadow style); executed = reported_version / the ledger
  desired_version      integer NOT NULL DEFAULT 0,
  confirmed_version    integer NOT NULL DEFAULT 0,      -- the highest version the device acknowledged
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  revoked_at           timestamptz,
  CHECK (min_soc_pct <= reserve_soc_pct AND reserve_soc_pct < max_soc_pct)
);
CREATE UNIQUE INDEX devices_api_key ON devices (api_key_id) WHERE api_key_id IS NOT NULL;
CREATE INDEX devices_online ON devices (online, last_seen_at);

CREATE TABLE device_groups (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX device_groups_name ON device_groups (lower(name));

-- A device may belong to several groups (like AWS IoT thing groups).
CREATE TABLE device_group_members (
  group_id  uuid NOT NULL REFERENCES device_groups (id) ON DELETE CASCADE,
  device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, device_id)
);
CREATE INDEX device_group_members_device ON device_group_members (device_id);
