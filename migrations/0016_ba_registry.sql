-- The balancing-authority registry as data with a source (issue 10, items 2 and 3).
--
-- One row per EIA-930 BA code that appears in EIA-930 data, current or retired. Columns:
--   time_zone             EIA-930 *reporting* time zone (IANA): the zone the BA's hourly data are
--                         reported in and the zone of every BA-local day (rollups, pulse, baseline,
--                         duck curve, forecast calendar, "BA local" on pages).
--   geographic_time_zone  the zone the BA lies in (IANA), kept for display; it differs from the
--                         reporting zone for EPE, PNM and WACM (Mountain, report in Arizona time),
--                         IPCO (Mountain, reports in Pacific time) and LGEE (Eastern, reports in Central time).
--   generation_only       reports no demand (D) or day-ahead forecast (DF)
--   reporting_since       first day of the BA's EIA-930 data (BA-local, inclusive) where it began after
--                         EIA-930 itself (July 2015); NULL for a BA reporting since the start
--   retired_on            EIA's retirement date (BA-local, inclusive: GridPulse asks EIA for the BA's
--                         hours up to the end of that day and never after it)
--   active                false once retired
--
-- Provenance (details, and how disagreements were settled, in docs/ba-registry.md):
--   * codes, names, reporting zones (Eastern/Central/Mountain/Pacific/Arizona) and regions: EIA's
--     "Balancing Authority Acronyms" (https://www.eia.gov/realtime_grid/#/status, accessed 2019-09-14;
--     copy in ../shared/data/reference/balancing_authority_acronyms_eia_2019.csv), names updated to
--     EIA's current ones where the BA was renamed (SCEG → Dominion Energy South Carolina, Inc.);
--   * retirement dates: EIA-930 reference table as quoted in issue 10 (WACM, WAUW 2026-03-31;
--     EEI 2020-02-29; OVEC 2018-12-01; NSB 2020-01-08; GRMA 2018-05-03; GLHB active,
--     generation-only); the others (AEC, WAUE, CFE) and the later activation dates (AVRN, CEN, GLHB,
--     SIKE) from Open Grid Emissions' ba_reference.csv (EIA & FERC sources;
--     ../shared/data/reference/oge_ba_reference.csv);
--   * BAs after the 2019 list (GLHB, SIKE, SWPW) and the non-reporting Canadian and Mexican BAs
--     (EIA's list gives them no zone): Open Grid Emissions' reporting zone where it has one, else the
--     geographic zone;
--   * generation-only flags: the BAs with no demand columns in EIA-930 bulk data
--     (../shared/data/eia930/gridemissions/*.csv), plus GLHB (EIA) and SIKE (Open Grid Emissions).
-- src/grid/registry.test.ts checks this table against those files.

ALTER TABLE balancing_authorities ADD COLUMN geographic_time_zone text;
ALTER TABLE balancing_authorities ADD COLUMN reporting_since date;
COMMENT ON COLUMN balancing_authorities.time_zone IS 'EIA-930 reporting time zone (IANA): BA-local days use it';
COMMENT ON COLUMN balancing_authorities.geographic_time_zone IS 'time zone the BA lies in (IANA)';

-- the zones before this migration: rollups of BAs whose zone changes are rebuilt below
CREATE TEMPORARY TABLE ba_zone_before ON COMMIT DROP AS SELECT code, time_zone FROM balancing_authorities;

INSERT INTO balancing_authorities AS b (code, name, time_zone, geographic_time_zone, region, interconnection, generation_only, reporting_since, retired_on, active)
SELECT code, name, tz, geo, region, ic, gen_only, since::date, retired::date, retired IS NULL
FROM (VALUES
  ('AEC','PowerSouth Energy Cooperative','America/Chicago','America/Chicago','SE','eastern',false,NULL,'2021-09-01'),
  ('AECI','Associated Electric Cooperative, Inc.','America/Chicago','America/Chicago','CENT','eastern',false,NULL,NULL),
  ('AESO','Alberta Electric System Operator','America/Edmonton','America/Edmonton','CAN','canada',false,NULL,NULL),
  ('AVA','Avista Corporation','America/Los_Angeles','America/Los_Angeles','NW','western',false,NULL,NULL),
  ('AVRN','Avangrid Renewables, LLC','America/Los_Angeles','America/Los_Angeles','NW','western',true,'2018-07-31',NULL),
  ('AZPS','Arizona Public Service Company','America/Phoenix','America/Phoenix','SW','western',false,NULL,NULL),
  ('BANC','Balancing Authority of Northern California','America/Los_Angeles','America/Los_Angeles','CAL','western',false,NULL,NULL),
  ('BCHA','British Columbia Hydro and Power Authority','America/Vancouver','America/Vancouver','CAN','canada',false,NULL,NULL),
  ('BPAT','Bonneville Power Administration','America/Los_Angeles','America/Los_Angeles','NW','western',false,NULL,NULL),
  ('CEN','Centro Nacional de Control de Energia','America/Tijuana','America/Tijuana','MEX','mexico',false,'2017-10-31',NULL),
  ('CFE','Comision Federal de Electricidad','America/Tijuana','America/Tijuana','MEX','mexico',false,NULL,'2018-07-01'),
  ('CHPD','Public Utility District No. 1 of Chelan County','America/Los_Angeles','America/Los_Angeles','NW','western',false,NULL,NULL),
  ('CISO','California Independent System Operator','America/Los_Angeles','America/Los_Angeles','CAL','western',false,NULL,NULL),
  ('CPLE','Duke Energy Progress East','America/New_York','America/New_York','CAR','eastern',false,NULL,NULL),
  ('CPLW','Duke Energy Progress West','America/New_York','America/New_York','CAR','eastern',false,NULL,NULL),
  ('DEAA','Arlington Valley, LLC','America/Phoenix','America/Phoenix','SW','western',true,NULL,NULL),
  ('DOPD','PUD No. 1 of Douglas County','America/Los_Angeles','America/Los_Angeles','NW','western',false,NULL,NULL),
  ('DUK','Duke Energy Carolinas','America/New_York','America/New_York','CAR','eastern',false,NULL,NULL),
  ('EEI','Electric Energy, Inc.','America/Chicago','America/Chicago','MIDW','eastern',true,NULL,'2020-02-29'),
  ('EPE','El Paso Electric Company','America/Phoenix','America/Denver','SW','western',false,NULL,NULL),
  ('ERCO','Electric Reliability Council of Texas, Inc.','America/Chicago','America/Chicago','TEX','ercot',false,NULL,NULL),
  ('FMPP','Florida Municipal Power Pool','America/New_York','America/New_York','FLA','eastern',false,NULL,NULL),
  ('FPC','Duke Energy Florida, Inc.','America/New_York','America/New_York','FLA','eastern',false,NULL,NULL),
  ('FPL','Florida Power & Light Co.','America/New_York','America/New_York','FLA','eastern',false,NULL,NULL),
  ('GCPD','Public Utility District No. 2 of Grant County, Washington','America/Los_Angeles','America/Los_Angeles','NW','western',false,NULL,NULL),
  ('GLHB','GridLiance','America/Chicago','America/Chicago','MIDW','eastern',true,'2020-02-29',NULL),
  ('GRID','Gridforce Energy Management, LLC','America/Los_Angeles','America/Los_Angeles','NW','western',true,NULL,NULL),
  ('GRIF','Griffith Energy, LLC','America/Phoenix','America/Phoenix','SW','western',true,NULL,NULL),
  ('GRMA','Gila River Power, LLC','America/Phoenix','America/Phoenix','SW','western',true,NULL,'2018-05-03'),
  ('GVL','Gainesville Regional Utilities','America/New_York','America/New_York','FLA','eastern',false,NULL,NULL),
  ('GWA','NaturEner Power Watch, LLC','America/Denver','America/Denver','NW','western',true,NULL,NULL),
  ('HGMA','New Harquahala Generating Company, LLC','America/Phoenix','America/Phoenix','SW','western',true,NULL,NULL),
  ('HQT','Hydro-Quebec TransEnergie','America/Toronto','America/Toronto','CAN','canada',false,NULL,NULL),
  ('HST','City of Homestead','America/New_York','America/New_York','FLA','eastern',false,NULL,NULL),
  ('IESO','Ontario IESO','America/Toronto','America/Toronto','CAN','canada',false,NULL,NULL),
  ('IID','Imperial Irrigation District','America/Los_Angeles','America/Los_Angeles','CAL','western',false,NULL,NULL),
  ('IPCO','Idaho Power Company','America/Los_Angeles','America/Boise','NW','western',false,NULL,NULL),
  ('ISNE','ISO New England','America/New_York','America/New_York','NE','eastern',false,NULL,NULL),
  ('JEA','JEA','America/New_York','America/New_York','FLA','eastern',false,NULL,NULL),
  ('LDWP','Los Angeles Department of Water and Power','America/Los_Angeles','America/Los_Angeles','CAL','western',false,NULL,NULL),
  ('LGEE','Louisville Gas and Electric Company and Kentucky Utilities Company','America/Chicago','America/New_York','MIDW','eastern',false,NULL,NULL),
  ('MHEB','Manitoba Hydro','America/Winnipeg','America/Winnipeg','CAN','canada',false,NULL,NULL),
  ('MISO','Midcontinent Independent System Operator, Inc.','America/Chicago','America/Chicago','MIDW','eastern',false,NULL,NULL),
  ('NBSO','New Brunswick System Operator','America/Moncton','America/Moncton','CAN','canada',false,NULL,NULL),
  ('NEVP','Nevada Power Company','America/Los_Angeles','America/Los_Angeles','NW','western',false,NULL,NULL),
  ('NSB','Utilities Commission of New Smyrna Beach','America/New_York','America/New_York','FLA','eastern',false,NULL,'2020-01-08'),
  ('NWMT','NorthWestern Corporation','America/Denver','America/Denver','NW','western',false,NULL,NULL),
  ('NYIS','New York Independent System Operator','America/New_York','America/New_York','NY','eastern',false,NULL,NULL),
  ('OVEC','Ohio Valley Electric Corporation','America/New_York','America/New_York','MIDA','eastern',false,NULL,'2018-12-01'),
  ('PACE','PacifiCorp East','America/Denver','America/Denver','NW','western',false,NULL,NULL),
  ('PACW','PacifiCorp West','America/Los_Angeles','America/Los_Angeles','NW','western',false,NULL,NULL),
  ('PGE','Portland General Electric Company','America/Los_Angeles','America/Los_Angeles','NW','western',false,NULL,NULL),
  ('PJM','PJM Interconnection, LLC','America/New_York','America/New_York','MIDA','eastern',false,NULL,NULL),
  ('PNM','Public Service Company of New Mexico','America/Phoenix','America/Denver','SW','western',false,NULL,NULL),
  ('PSCO','Public Service Company of Colorado','America/Denver','America/Denver','NW','western',false,NULL,NULL),
  ('PSEI','Puget Sound Energy, Inc.','America/Los_Angeles','America/Los_Angeles','NW','western',false,NULL,NULL),
  ('SC','South Carolina Public Service Authority','America/New_York','America/New_York','CAR','eastern',false,NULL,NULL),
  ('SCEG','Dominion Energy South Carolina, Inc.','America/New_York','America/New_York','CAR','eastern',false,NULL,NULL),
  ('SCL','Seattle City Light','America/Los_Angeles','America/Los_Angeles','NW','western',false,NULL,NULL),
  ('SEC','Seminole Electric Cooperative','America/New_York','America/New_York','FLA','eastern',false,NULL,NULL),
  ('SEPA','Southeastern Power Administration','America/Chicago','America/New_York','SE','eastern',true,NULL,NULL),
  ('SIKE','Sikeston Board of Municipal Utilities','America/Chicago','America/Chicago','MIDW','eastern',true,'2025-06-01',NULL),
  ('SOCO','Southern Company Services, Inc. - Trans','America/Chicago','America/Chicago','SE','eastern',false,NULL,NULL),
  ('SPA','Southwestern Power Administration','America/Chicago','America/Chicago','CENT','eastern',false,NULL,NULL),
  ('SPC','Saskatchewan Power Corporation','America/Regina','America/Regina','CAN','canada',false,NULL,NULL),
  ('SRP','Salt River Project Agricultural Improvement and Power District','America/Phoenix','America/Phoenix','SW','western',false,NULL,NULL),
  ('SWPP','Southwest Power Pool','America/Chicago','America/Chicago','CENT','eastern',false,NULL,NULL),
  ('SWPW','Southwest Power Pool West','America/Denver','America/Denver','CENT','western',false,NULL,NULL),
  ('TAL','City of Tallahassee','America/New_York','America/New_York','FLA','eastern',false,NULL,NULL),
  ('TEC','Tampa Electric Company','America/New_York','America/New_York','FLA','eastern',false,NULL,NULL),
  ('TEPC','Tucson Electric Power','America/Phoenix','America/Phoenix','SW','western',false,NULL,NULL),
  ('TIDC','Turlock Irrigation District','America/Los_Angeles','America/Los_Angeles','CAL','western',false,NULL,NULL),
  ('TPWR','City of Tacoma, Department of Public Utilities, Light Division','America/Los_Angeles','America/Los_Angeles','NW','western',false,NULL,NULL),
  ('TVA','Tennessee Valley Authority','America/Chicago','America/Chicago','TEN','eastern',false,NULL,NULL),
  ('WACM','Western Area Power Administration - Rocky Mountain Region','America/Phoenix','America/Denver','NW','western',false,NULL,'2026-03-31'),
  ('WALC','Western Area Power Administration - Desert Southwest Region','America/Phoenix','America/Phoenix','SW','western',false,NULL,NULL),
  ('WAUE','Western Area Power Administration - Upper Great Plains East','America/Denver','America/Denver','MIDW','eastern',false,NULL,'2015-10-01'),
  ('WAUW','Western Area Power Administration - Upper Great Plains West','America/Denver','America/Denver','NW','western',false,NULL,'2026-03-31'),
  ('WWA','NaturEner Wind Watch, LLC','America/Denver','America/Denver','NW','western',true,NULL,NULL),
  ('YAD','Alcoa Power Generating, Inc. - Yadkin Division','America/New_York','America/New_York','CAR','eastern',true,NULL,NULL)
) AS r (code, name, tz, geo, region, ic, gen_only, since, retired)
ON CONFLICT (code) DO UPDATE SET
  name = EXCLUDED.name, time_zone = EXCLUDED.time_zone, geographic_time_zone = EXCLUDED.geographic_time_zone,
  region = EXCLUDED.region, interconnection = EXCLUDED.interconnection, generation_only = EXCLUDED.generation_only,
  reporting_since = EXCLUDED.reporting_since, retired_on = EXCLUDED.retired_on, active = EXCLUDED.active;

-- a BA added later without a geographic zone lies in its reporting zone
UPDATE balancing_authorities SET geographic_time_zone = time_zone WHERE geographic_time_zone IS NULL;
ALTER TABLE balancing_authorities ALTER COLUMN geographic_time_zone SET NOT NULL;
ALTER TABLE balancing_authorities ADD CONSTRAINT balancing_authorities_dates CHECK (reporting_since IS NULL OR retired_on IS NULL OR reporting_since <= retired_on);

-- Daily rollups are keyed by BA-local day: a BA whose zone changed has every stored day rebuilt in its reporting zone.
DELETE FROM daily_rollups r USING series s, ba_zone_before z, balancing_authorities b
 WHERE r.series_id = s.id AND z.code = s.ba_code AND b.code = s.ba_code AND z.time_zone <> b.time_zone;
SELECT refresh_daily_rollups(x.ids, x.lo, x.hi)
FROM (
  SELECT array_agg(DISTINCT s.id) AS ids, min(o.ts) AS lo, max(o.ts) + interval '1 hour' AS hi
  FROM observations o JOIN series s ON s.id = o.series_id
  JOIN ba_zone_before z ON z.code = s.ba_code JOIN balancing_authorities b ON b.code = s.ba_code
  WHERE z.time_zone <> b.time_zone
) x WHERE x.ids IS NOT NULL;
