-- Battery fleet (issue 14): schedule versions with their delivery ledger, and rollouts.
-- Every accepted schedule is a new version per device (1, 2, 3, …, never reused). Its row is the ledger entry:
-- state queued → sent → acknowledged → executing → succeeded | failed, or timed-out when the device does not
-- answer in time; superseded when a newer version replaced it before it finished. Only the device's own
-- acknowledgement moves it past 'sent' (src/fleet/ledger.ts).

CREATE TABLE rollouts (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  target_kind        text NOT NULL CHECK (target_kind IN ('device', 'group', 'fleet')),
  group_id           uuid REFERENCES device_groups (id) ON DELETE SET NULL,
  intervals          jsonb NOT NULL,                -- the schedule's intervals as accepted (gridpulse.schedule/1 intervals)
  priority           integer NOT NULL DEFAULT 0,
  rate_kind          text NOT NULL CHECK (rate_kind IN ('max-per-minute', 'exponential')),
  max_per_minute     integer NOT NULL CHECK (max_per_minute > 0),
  base_per_minute    integer CHECK (base_per_minute > 0),          -- exponential: rate of the first minute
  increment_factor   double precision CHECK (increment_factor > 1), -- exponential: rate × factor each minute, up to max_per_minute
  abort_failure_pct  double precision NOT NULL DEFAULT 10 CHECK (abort_failure_pct >= 0 AND abort_failure_pct <= 100),
  abort_min_devices  integer NOT NULL DEFAULT 10 CHECK (abort_min_devices >= 1),
  status             text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'aborted', 'cancelled')),
  status_reason      text,
  total              integer NOT NULL DEFAULT 0,
  issued             integer NOT NULL DEFAULT 0,
  created_by         text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  started_at         timestamptz NOT NULL DEFAULT now(),
  finished_at        timestamptz
);
CREATE INDEX rollouts_running ON rollouts (created_at) WHERE status = 'running';

-- The devices a rollout targets, fixed when it is created; version is set when the runner issues it.
CREATE TABLE rollout_devices (
  rollout_id uuid NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
  device_id  text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  ord        integer NOT NULL,
  version    integer,
  issued_at  timestamptz,
  skipped    text,                                    -- why it was not issued (refused at issue time, cancelled)
  PRIMARY KEY (rollout_id, device_id)
);
CREATE INDEX rollout_devices_pending ON rollout_devices (rollout_id, ord) WHERE version IS NULL AND skipped IS NULL;

CREATE TABLE schedule_versions (
  device_id        text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  version          integer NOT NULL CHECK (version > 0),
  priority         integer NOT NULL DEFAULT 0,
  intervals        jsonb NOT NULL,
  fallback         text NOT NULL,
  starts_at        timestamptz NOT NULL,
  ends_at          timestamptz NOT NULL,
  issued_at        timestamptz NOT NULL DEFAULT now(),
  rollout_id       uuid REFERENCES rollouts (id) ON DELETE SET NULL,
  state            text NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'sent', 'acknowledged', 'executing', 'succeeded', 'failed', 'timed-out', 'superseded')),
  state_at         timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  acknowledged_at  timestamptz,
  executing_at     timestamptz,
  finished_at      timestamptz,
  publish_count    integer NOT NULL DEFAULT 0,
  next_publish_at  timestamptz NOT NULL DEFAULT now(),   -- when the re-publisher looks at it next
  ack_seq          bigint,                               -- the device's seq of the last ack applied
  reason           text CHECK (length(reason) <= 500),
  superseded_by    integer,
  PRIMARY KEY (device_id, version)
);
-- the re-publisher's and the timeout sweep's work list: versions still waiting for the device
CREATE INDEX schedule_versions_pending ON schedule_versions (next_publish_at) WHERE state IN ('queued', 'sent', 'acknowledged', 'executing');
CREATE INDEX schedule_versions_rollout ON schedule_versions (rollout_id) WHERE rollout_id IS NOT NULL;
