-- Core grid schema: balancing authorities, series, partitioned observations, daily rollups.
-- Instants are UTC timestamptz; an observation's ts is the START of its hour
-- (EIA's hour-ending `period` minus one hour, converted once at ingestion).

CREATE TABLE balancing_authorities (
  code            text PRIMARY KEY CHECK (code ~ '^[A-Z0-9]{2,6}$'),
  name            text NOT NULL,
  time_zone       text NOT NULL,            -- IANA, e.g. America/Los_Angeles
  region          text NOT NULL,            -- EIA-930 region code: CAL, CAR, CENT, FLA, MIDA, MIDW, NE, NW, NY, SE, SW, TEN, TEX, CAN, MEX
  interconnection text NOT NULL CHECK (interconnection IN ('eastern', 'western', 'ercot', 'canada', 'mexico')),
  generation_only boolean NOT NULL DEFAULT false, -- reports no demand (D) or forecast (DF)
  active          boolean NOT NULL DEFAULT true,
  retired_on      date,
  CHECK (active OR retired_on IS NOT NULL)
);

CREATE TABLE series (
  id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ba_code    text NOT NULL REFERENCES balancing_authorities (code),
  type       text NOT NULL CHECK (type IN ('demand', 'forecast', 'net_generation', 'interchange', 'generation_by_fuel', 'ba_interchange', 'co2')),
  subtype    text NOT NULL DEFAULT '',     -- fuel code (SUN, WND, ...) or neighbour BA code; '' when none
  units      text NOT NULL DEFAULT 'MWh',
  eia_key    text UNIQUE,                  -- EIA series id, e.g. EBA.CISO-ALL.D.H
  key        text NOT NULL UNIQUE,         -- readable API key, e.g. CISO.demand, CISO.fuel.SUN
  source     text NOT NULL DEFAULT 'eia' CHECK (source IN ('eia', 'simulated', 'external', 'derived')),
  active     boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (ba_code, type, subtype)
);

-- quality: 0 good, 1 estimated, 2 missing, 3 anomalous (smallint keeps the widest table narrow)
CREATE TABLE observations (
  ts          timestamptz NOT NULL,
  ingested_at timestamptz NOT NULL DEFAULT now(),
  value       double precision,
  series_id   integer NOT NULL,
  quality     smallint NOT NULL DEFAULT 0 CHECK (quality BETWEEN 0 AND 3),
  revisions   smallint NOT NULL DEFAULT 0,
  PRIMARY KEY (series_id, ts)
) PARTITION BY RANGE (ts);

-- Creates the monthly partitions covering [p_from, p_to]; cheap when they exist.
CREATE FUNCTION ensure_observation_partitions(p_from timestamptz, p_to timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  m date := date_trunc('month', p_from AT TIME ZONE 'UTC')::date;
  last_m date := date_trunc('month', p_to AT TIME ZONE 'UTC')::date;
  part text;
  created integer := 0;
BEGIN
  WHILE m <= last_m LOOP
    part := format('observations_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
    IF to_regclass(part) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF observations FOR VALUES FROM (%L) TO (%L)',
        part, (m::timestamp AT TIME ZONE 'UTC'), ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
      created := created + 1;
    END IF;
    m := (m + interval '1 month')::date;
  END LOOP;
  RETURN created;
END $$;

-- Daily rollup keyed by the BA's local calendar day (23 and 25 hour days included).
CREATE TABLE daily_rollups (
  series_id integer NOT NULL REFERENCES series (id),
  day       date NOT NULL,
  avg       double precision,
  min       double precision,
  max       double precision,
  sum       double precision,
  count     integer NOT NULL,
  hours     integer NOT NULL,   -- hours in that local day (23, 24 or 25)
  PRIMARY KEY (series_id, day)
);

-- Recomputes the rollups of the local days touched by [p_from, p_to) for the given series.
CREATE FUNCTION refresh_daily_rollups(p_series integer[], p_from timestamptz, p_to timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
  WITH bounds AS (
    SELECT s.id, b.time_zone,
           (p_from AT TIME ZONE b.time_zone)::date AS d0,
           ((p_to - interval '1 microsecond') AT TIME ZONE b.time_zone)::date AS d1
    FROM series s JOIN balancing_authorities b ON b.code = s.ba_code
    WHERE s.id = ANY (p_series)
  ), agg AS (
    SELECT o.series_id, (o.ts AT TIME ZONE bd.time_zone)::date AS day,
           avg(o.value) AS avg, min(o.value) AS min, max(o.value) AS max, sum(o.value) AS sum,
           count(o.value)::integer AS count
    FROM bounds bd
    JOIN observations o ON o.series_id = bd.id
     AND o.ts >= (bd.d0::timestamp AT TIME ZONE bd.time_zone)
     AND o.ts < ((bd.d1 + 1)::timestamp AT TIME ZONE bd.time_zone)
    GROUP BY 1, 2
  ), ins AS (
    INSERT INTO daily_rollups (series_id, day, avg, min, max, sum, count, hours)
    SELECT a.series_id, a.day, a.avg, a.min, a.max, a.sum, a.count,
           (extract(epoch FROM ((a.day + 1)::timestamp AT TIME ZONE bd.time_zone) - (a.day::timestamp AT TIME ZONE bd.time_zone)) / 3600)::integer
    FROM agg a JOIN bounds bd ON bd.id = a.series_id
    ON CONFLICT (series_id, day) DO UPDATE
      SET avg = EXCLUDED.avg, min = EXCLUDED.min, max = EXCLUDED.max, sum = EXCLUDED.sum,
          count = EXCLUDED.count, hours = EXCLUDED.hours
    RETURNING 1
  )
  SELECT count(*) INTO n FROM ins;
  RETURN n;
END $$;

CREATE VIEW latest_observations AS
SELECT s.id AS series_id, s.key, s.ba_code, s.type, s.subtype, s.units, s.source, o.ts, o.value, o.quality, o.ingested_at
FROM series s
CROSS JOIN LATERAL (
  SELECT ts, value, quality, ingested_at FROM observations
  WHERE series_id = s.id ORDER BY ts DESC LIMIT 1
) o;

CREATE VIEW ba_summary AS
SELECT b.code, b.name, b.time_zone, b.region, b.interconnection, b.generation_only, b.active,
       count(l.series_id)::integer AS series_count,
       max(l.ts) AS newest_ts,
       max(l.value) FILTER (WHERE l.type = 'demand') AS latest_demand
FROM balancing_authorities b
LEFT JOIN latest_observations l ON l.ba_code = b.code
GROUP BY b.code;
