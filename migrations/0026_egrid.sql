-- EPA eGRID (Emissions & Generation Resource Integrated Database): plants, units, generators and
-- EPA's aggregate sheets (ST, BA, SRL, NRL, US), each keyed by eGRID data year; the uploaded files
-- and the import jobs that loaded them. Column names carry their unit; the eGRID column code each
-- is read from is in src/egrid/columns.ts. Units as eGRID publishes them:
--   MW (nameplate), MWh (net generation), MMBtu (heat input), short tons (NOx, SO2, CO2, CO2e),
--   lb (CH4, N2O, Hg), lb/MWh (output rates *RTA; Hg lb/GWh), lb/MMBtu (input rates *RA; Hg lb/BBtu),
--   Btu/kWh (heat rate). Resource-mix (*PR) and capacity factors are fractions 0..1, never percent.
-- Every entity row keeps the eGRID columns it does not map in `extra` (code -> value), and in
-- `not_calculated` the codes whose cell was `--` (EPA: not calculated), which are null in the row.
-- Negative net generation is real (storage, station load) and is stored as is.

CREATE TABLE egrid_files (
  sha256        text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),  -- content address
  byte_size     bigint NOT NULL CHECK (byte_size >= 0),
  media_type    text NOT NULL CHECK (media_type IN ('text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')),
  original_name text NOT NULL,
  storage_path  text NOT NULL,            -- relative to DATA_DIR, e.g. uploads/ab/abcdef….csv
  uploaded_by   text,                     -- principal id, null for the CLI
  uploaded_at   timestamptz NOT NULL DEFAULT now(),
  formula_cells integer NOT NULL DEFAULT 0 -- XLSX formula cells seen (cached values taken, never evaluated)
);

CREATE TABLE egrid_imports (
  id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  file_sha256   text NOT NULL,            -- the file imported (egrid_files row when it came through an upload)
  file_name     text NOT NULL,
  source        text NOT NULL CHECK (source IN ('upload', 'cli')),
  requested_year integer,                 -- --year / ?year given by the caller
  status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'partial', 'failed')),
  phase         text,                     -- reading, loading, swapping
  bytes_total   bigint,
  bytes_read    bigint NOT NULL DEFAULT 0,
  rows_read     integer NOT NULL DEFAULT 0,
  rows_loaded   integer NOT NULL DEFAULT 0,
  rows_rejected integer NOT NULL DEFAULT 0,
  sheets        jsonb NOT NULL DEFAULT '[]', -- [{sheet, kind, dataYear, rowsRead, rowsLoaded, rowsRejected, replaced}]
  errors        jsonb NOT NULL DEFAULT '[]', -- row errors [{sheet, line, column, code, message}], first N only
  message       text,                     -- why the import failed as a whole
  created_by    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  finished_at   timestamptz
);
CREATE INDEX egrid_imports_file ON egrid_imports (file_sha256);
CREATE INDEX egrid_imports_created ON egrid_imports (created_at DESC);

-- Which import holds each data year's sheet now (re-import replaces the year's rows atomically).
CREATE TABLE egrid_datasets (
  data_year   integer NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('plant', 'unit', 'generator', 'state', 'ba', 'subregion', 'nerc', 'us')),
  edition     text NOT NULL,              -- e.g. eGRID2022
  import_id   integer NOT NULL REFERENCES egrid_imports (id),
  file_sha256 text NOT NULL,
  sheet       text NOT NULL,              -- sheet name or CSV file name
  row_count   integer NOT NULL,
  loaded_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (data_year, kind)
);

CREATE TABLE egrid_plants (
  data_year                 integer NOT NULL,
  orispl                    integer NOT NULL,   -- DOE/EIA ORIS plant code
  seq                       integer,            -- SEQPLTyy
  plant_name                text,
  state                     text,               -- PSTATABB (PSTATEABB in 2023)
  county_name               text,
  state_fips                text,
  county_fips               text,
  latitude                  double precision,   -- degrees
  longitude                 double precision,   -- degrees
  operator_name             text,
  operator_id               integer,
  utility_name              text,
  utility_id                integer,
  sector                    text,
  ba_code                   text,
  ba_name                   text,
  nerc_region               text,
  subregion                 text,               -- eGRID subregion (SUBRGN)
  subregion_name            text,
  iso_rto                   text,
  camd_flag                 boolean,
  coal_flag                 boolean,
  chp_flag                  boolean,
  unit_count                integer,
  generator_count           integer,
  primary_fuel              text,               -- PLPRMFL, EIA fuel code
  fuel_category             text,               -- PLFUELCT
  nameplate_mw              double precision,
  capacity_factor           double precision,   -- fraction 0..1
  nonbaseload_factor        double precision,   -- fraction 0..1
  heat_input_mmbtu          double precision,
  heat_input_ozone_mmbtu    double precision,
  heat_input_total_mmbtu    double precision,   -- PLHTIANT, incl. non-combustion
  net_generation_mwh        double precision,   -- may be negative
  net_generation_ozone_mwh  double precision,
  nox_short_tons            double precision,
  nox_ozone_short_tons      double precision,
  so2_short_tons            double precision,
  co2_short_tons            double precision,
  ch4_lb                    double precision,
  n2o_lb                    double precision,
  co2e_short_tons           double precision,
  hg_lb                     double precision,
  nox_rate_lb_per_mwh       double precision,
  nox_ozone_rate_lb_per_mwh double precision,
  so2_rate_lb_per_mwh       double precision,
  co2_rate_lb_per_mwh       double precision,
  ch4_rate_lb_per_mwh       double precision,
  n2o_rate_lb_per_mwh       double precision,
  co2e_rate_lb_per_mwh      double precision,
  hg_rate_lb_per_gwh        double precision,
  nox_rate_lb_per_mmbtu     double precision,
  so2_rate_lb_per_mmbtu     double precision,
  co2_rate_lb_per_mmbtu     double precision,
  ch4_rate_lb_per_mmbtu     double precision,
  n2o_rate_lb_per_mmbtu     double precision,
  co2e_rate_lb_per_mmbtu    double precision,
  hg_rate_lb_per_bbtu       double precision,
  heat_rate_btu_per_kwh     double precision,
  gen_coal_mwh              double precision,
  gen_oil_mwh               double precision,
  gen_gas_mwh               double precision,
  gen_nuclear_mwh           double precision,
  gen_hydro_mwh             double precision,
  gen_biomass_mwh           double precision,
  gen_wind_mwh              double precision,
  gen_solar_mwh             double precision,
  gen_geothermal_mwh        double precision,
  gen_other_fossil_mwh      double precision,
  gen_other_mwh             double precision,   -- other unknown / purchased fuel (OP)
  gen_nonrenewable_mwh      double precision,
  gen_renewable_mwh         double precision,
  gen_nonhydro_renewable_mwh double precision,
  gen_combustion_mwh        double precision,
  gen_noncombustion_mwh     double precision,
  mix_coal                  double precision,   -- fractions 0..1 of net generation
  mix_oil                   double precision,
  mix_gas                   double precision,
  mix_nuclear               double precision,
  mix_hydro                 double precision,
  mix_biomass               double precision,
  mix_wind                  double precision,
  mix_solar                 double precision,
  mix_geothermal            double precision,
  mix_other_fossil          double precision,
  mix_other                 double precision,
  mix_nonrenewable          double precision,
  mix_renewable             double precision,
  mix_nonhydro_renewable    double precision,
  mix_combustion            double precision,
  mix_noncombustion         double precision,
  extra                     jsonb NOT NULL DEFAULT '{}',
  not_calculated            text[] NOT NULL DEFAULT '{}',
  source_line               integer,            -- line (CSV) or row (XLSX) it was read from
  import_id                 integer,
  PRIMARY KEY (data_year, orispl)
);
CREATE INDEX egrid_plants_ba ON egrid_plants (data_year, ba_code);
CREATE INDEX egrid_plants_subregion ON egrid_plants (data_year, subregion);
CREATE INDEX egrid_plants_state ON egrid_plants (data_year, state);
CREATE INDEX egrid_plants_orispl ON egrid_plants (orispl, data_year);

CREATE TABLE egrid_units (
  data_year                 integer NOT NULL,
  orispl                    integer NOT NULL,
  unit_id                   text NOT NULL,      -- UNITID as published
  seq                       integer,
  plant_name                text,
  state                     text,
  prime_mover               text,
  operating_status          text,               -- UNTOPST, upper-cased
  camd_flag                 boolean,
  program_codes             text,
  firing_type               text,               -- BOTFIRTY
  generator_count           integer,
  primary_fuel              text,               -- FUELU1
  operating_hours           double precision,   -- h
  heat_input_mmbtu          double precision,
  heat_input_ozone_mmbtu    double precision,
  nox_short_tons            double precision,
  nox_ozone_short_tons      double precision,
  so2_short_tons            double precision,
  co2_short_tons            double precision,
  ch4_lb                    double precision,
  n2o_lb                    double precision,
  hg_lb                     double precision,
  heat_input_source         text,
  nox_source                text,
  so2_source                text,
  co2_source                text,
  hg_source                 text,
  so2_controls              text,
  nox_controls              text,
  hg_controls               text,
  year_online               integer,
  extra                     jsonb NOT NULL DEFAULT '{}',
  not_calculated            text[] NOT NULL DEFAULT '{}',
  source_line               integer,
  import_id                 integer,
  PRIMARY KEY (data_year, orispl, unit_id)
);

CREATE TABLE egrid_generators (
  data_year                 integer NOT NULL,
  orispl                    integer NOT NULL,
  generator_id              text NOT NULL,      -- GENID as published ('NA' is a real id)
  seq                       integer,
  plant_name                text,
  state                     text,
  boiler_count              integer,
  status                    text,               -- GENSTAT (OP, SB, OS, RE, …)
  prime_mover               text,
  primary_fuel              text,               -- FUELG1, EIA fuel code
  nameplate_mw              double precision,
  capacity_factor           double precision,   -- fraction 0..1
  net_generation_mwh        double precision,   -- may be negative
  net_generation_ozone_mwh  double precision,
  generation_source         text,
  year_online               integer,
  year_retired              integer,
  extra                     jsonb NOT NULL DEFAULT '{}',
  not_calculated            text[] NOT NULL DEFAULT '{}',
  source_line               integer,
  import_id                 integer,
  PRIMARY KEY (data_year, orispl, generator_id)
);

-- EPA's own aggregate sheets: level 'state' (STyy, code = state abbreviation), 'ba' (BAyy, BA code),
-- 'subregion' (SRLyy, eGRID subregion), 'nerc' (NRLyy, NERC region), 'us' (USyy, code 'US').
-- Measures every level shares are columns; `measures` holds every numeric code of the sheet with its
-- level prefix removed (e.g. SRNBCO2 -> 'NBCO2', non-baseload CO2 output rate lb/MWh).
CREATE TABLE egrid_aggregates (
  data_year                 integer NOT NULL,
  level                     text NOT NULL CHECK (level IN ('state', 'ba', 'subregion', 'nerc', 'us')),
  code                      text NOT NULL,
  name                      text,
  nameplate_mw              double precision,
  heat_input_mmbtu          double precision,
  heat_input_ozone_mmbtu    double precision,
  heat_input_total_mmbtu    double precision,
  net_generation_mwh        double precision,
  net_generation_ozone_mwh  double precision,
  nox_short_tons            double precision,
  nox_ozone_short_tons      double precision,
  so2_short_tons            double precision,
  co2_short_tons            double precision,
  ch4_lb                    double precision,
  n2o_lb                    double precision,
  co2e_short_tons           double precision,
  hg_lb                     double precision,
  nox_rate_lb_per_mwh       double precision,
  nox_ozone_rate_lb_per_mwh double precision,
  so2_rate_lb_per_mwh       double precision,
  co2_rate_lb_per_mwh       double precision,
  ch4_rate_lb_per_mwh       double precision,
  n2o_rate_lb_per_mwh       double precision,
  co2e_rate_lb_per_mwh      double precision,
  hg_rate_lb_per_gwh        double precision,
  nox_rate_lb_per_mmbtu     double precision,
  so2_rate_lb_per_mmbtu     double precision,
  co2_rate_lb_per_mmbtu     double precision,
  ch4_rate_lb_per_mmbtu     double precision,
  n2o_rate_lb_per_mmbtu     double precision,
  co2e_rate_lb_per_mmbtu    double precision,
  hg_rate_lb_per_bbtu       double precision,
  nonbaseload_co2_rate_lb_per_mwh double precision,
  gen_coal_mwh              double precision,
  gen_oil_mwh               double precision,
  gen_gas_mwh               double precision,
  gen_nuclear_mwh           double precision,
  gen_hydro_mwh             double precision,
  gen_biomass_mwh           double precision,
  gen_wind_mwh              double precision,
  gen_solar_mwh             double precision,
  gen_geothermal_mwh        double precision,
  gen_other_fossil_mwh      double precision,
  gen_other_mwh             double precision,
  gen_nonrenewable_mwh      double precision,
  gen_renewable_mwh         double precision,
  gen_nonhydro_renewable_mwh double precision,
  gen_combustion_mwh        double precision,
  gen_noncombustion_mwh     double precision,
  mix_coal                  double precision,
  mix_oil                   double precision,
  mix_gas                   double precision,
  mix_nuclear               double precision,
  mix_hydro                 double precision,
  mix_biomass               double precision,
  mix_wind                  double precision,
  mix_solar                 double precision,
  mix_geothermal            double precision,
  mix_other_fossil          double precision,
  mix_other                 double precision,
  mix_nonrenewable          double precision,
  mix_renewable             double precision,
  mix_nonhydro_renewable    double precision,
  mix_combustion            double precision,
  mix_noncombustion         double precision,
  measures                  jsonb NOT NULL DEFAULT '{}',
  not_calculated            text[] NOT NULL DEFAULT '{}',
  source_line               integer,
  import_id                 integer,
  PRIMARY KEY (data_year, level, code)
);
