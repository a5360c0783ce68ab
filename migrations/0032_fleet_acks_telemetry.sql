-- Fleet bus (issue 14): what the gateway stores from the device bus.
-- device_acks: every acknowledgement a device sent, once. A device numbers its messages (seq) and resends
-- until the gateway's PUBACK (which follows the commit), so a resend or a broker redelivery meets the key
-- (device_id, seq) and is dropped: stored exactly once. No foreign key to devices: the broker authenticated
-- the sender, and the gateway writes at COPY speed.
CREATE TABLE device_acks (
  device_id      text NOT NULL,
  seq            bigint NOT NULL,
  version        integer NOT NULL,
  state          text NOT NULL CHECK (state IN ('acknowledged', 'executing', 'succeeded', 'failed', 'rejected')),
  at             timestamptz NOT NULL,          -- the device's clock
  reason         text,
  interval_index integer,
  received_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, seq)
);
CREATE INDEX device_acks_version ON device_acks (device_id, version);

-- device_telemetry: measured state, about once a minute per device, in daily partitions (drop old days whole).
-- soc_pct: state of charge, percent; power_kw: + charging, - discharging; schedule_version 0 = fallback.
CREATE TABLE device_telemetry (
  device_id        text NOT NULL,
  at               timestamptz NOT NULL,
  seq              bigint NOT NULL,
  soc_pct          real NOT NULL,
  power_kw         real NOT NULL,
  schedule_version integer NOT NULL,
  mode             text NOT NULL,
  received_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, at, seq)
) PARTITION BY RANGE (at);

-- Creates the daily partitions covering [p_from, p_to] (UTC days); cheap when they exist.
CREATE FUNCTION ensure_device_telemetry_partitions(p_from timestamptz, p_to timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  d date := (p_from AT TIME ZONE 'UTC')::date;
  last_d date := (p_to AT TIME ZONE 'UTC')::date;
  part text;
  created integer := 0;
BEGIN
  WHILE d <= last_d LOOP
    part := format('device_telemetry_%s', to_char(d, 'YYYYMMDD'));
    IF to_regclass(part) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF device_telemetry FOR VALUES FROM (%L) TO (%L)',
        part, (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
      created := created + 1;
    END IF;
    d := d + 1;
  END LOOP;
  RETURN created;
END $$;
