-- Saved views and alerts of signed-in users (issue 12), each owned by a user (deleted with them). Secrets are stored as given only where they must be used
-- again: the webhook signing secret signs every delivery (it is shown to the user once, at creation).

CREATE TABLE saved_views (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
  page        text NOT NULL CHECK (page IN ('compare', 'ba')),
  bas         text[] NOT NULL CHECK (cardinality(bas) BETWEEN 1 AND 12),
  range       jsonb NOT NULL,             -- {"kind":"relative","last":"P7D"} or {"kind":"absolute","from":…,"to":…}
  charts      text[] NOT NULL DEFAULT '{}',
  share_token_hash text UNIQUE,           -- hex sha256 of the share token; NULL = not shared (revoked)
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX saved_views_owner ON saved_views (owner_id, created_at);

CREATE TABLE alerts (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
  rule          jsonb NOT NULL,           -- one of the rule kinds of src/alerts/alert-rules.ts
  ba_code       text NOT NULL,            -- the rule's BA (indexed: evaluation looks rules up by the BAs that changed)
  webhook_url   text NOT NULL,
  secret        text NOT NULL,            -- HMAC-SHA256 key of X-GridPulse-Signature
  cooldown_minutes integer NOT NULL DEFAULT 60 CHECK (cooldown_minutes BETWEEN 0 AND 10080),
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled')),
  disabled_reason text,
  consecutive_failures integer NOT NULL DEFAULT 0,
  last_fired_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_owner ON alerts (owner_id, created_at);
CREATE INDEX alerts_ba ON alerts (ba_code) WHERE status = 'active';

-- One row per occurrence a rule fired for: the unique key is what makes a rule fire once per occurrence.
CREATE TABLE alert_occurrences (
  alert_id   uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  occurrence text NOT NULL,
  fired_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (alert_id, occurrence)
);

-- The durable outbox and the delivery log in one: a row waits (pending) until next_attempt_at, each try
-- is recorded in alert_delivery_attempts, and it ends delivered or failed.
CREATE TABLE alert_deliveries (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  alert_id        uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  occurrence      text NOT NULL,
  payload         text NOT NULL,          -- the exact JSON body that is signed and sent
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_status_code integer,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id, id);

CREATE TABLE alert_delivery_attempts (
  delivery_id  bigint NOT NULL REFERENCES alert_deliveries (id) ON DELETE CASCADE,
  attempt      integer NOT NULL,
  at           timestamptz NOT NULL DEFAULT now(),
  status_code  integer,                   -- NULL when no HTTP answer (refused target, timeout, connection error)
  error        text,
  duration_ms  integer NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);
