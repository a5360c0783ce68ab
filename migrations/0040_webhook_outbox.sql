-- One outbox for every webhook delivery (code review): the alerts' alert_deliveries (0024) and the OpenADR
-- subscription callbacks' openadr_notifications (0034) had the same shape and two claim/retry loops. Now one table
-- with a `kind`, one attempt log and one loop (src/alerts/webhook-outbox.ts).
--
-- The old tables' rows move here: alert deliveries keep their ids (the delivery log's ids and the
-- X-GridPulse-Delivery header a receiver deduplicates on stay the same); OpenADR callbacks get new ids.
-- Forward-compatible for one release (deploy/OPERATIONS.md): alert_deliveries, alert_delivery_attempts and
-- openadr_notifications stay as updatable VIEWS over the new tables, with `kind` defaulted, so the previous image
-- still queues, claims (FOR UPDATE SKIP LOCKED locks the rows beneath) and records deliveries while both run.
-- The release after this one drops the three views.

CREATE TABLE webhook_deliveries (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind             text NOT NULL CHECK (kind IN ('alert', 'openadr_subscription')),
  -- kind 'alert': the alert (its webhook_url and secret are read at each try) and the occurrence that fired
  alert_id         uuid REFERENCES alerts (id) ON DELETE CASCADE,
  occurrence       text,
  -- kind 'openadr_subscription': the SUBSCRIPTION object's id and the target it gave when the change was queued
  subscription_id  text,
  callback_url     text,
  bearer_token     text,
  payload          text NOT NULL,          -- the exact JSON body that is sent (and, for alerts, signed)
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_status_code integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  CONSTRAINT webhook_deliveries_alert_target CHECK (kind <> 'alert' OR (alert_id IS NOT NULL AND occurrence IS NOT NULL)),
  CONSTRAINT webhook_deliveries_openadr_target CHECK (kind <> 'openadr_subscription' OR (subscription_id IS NOT NULL AND callback_url IS NOT NULL))
);

CREATE TABLE webhook_delivery_attempts (
  delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt      integer NOT NULL,
  at           timestamptz NOT NULL DEFAULT now(),
  status_code  integer,                   -- NULL when no HTTP answer (refused target, timeout, connection error)
  error        text,
  duration_ms  integer NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);

INSERT INTO webhook_deliveries (id, kind, alert_id, occurrence, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at, finished_at)
  OVERRIDING SYSTEM VALUE
  SELECT id, 'alert', alert_id, occurrence, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at, finished_at
    FROM alert_deliveries ORDER BY id;
SELECT setval(pg_get_serial_sequence('webhook_deliveries', 'id'), coalesce((SELECT max(id) FROM webhook_deliveries), 0) + 1, false);
INSERT INTO webhook_deliveries (kind, subscription_id, callback_url, bearer_token, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at, finished_at)
  SELECT 'openadr_subscription', subscription_id, callback_url, bearer_token, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at, finished_at
    FROM openadr_notifications ORDER BY id;
INSERT INTO webhook_delivery_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
  SELECT delivery_id, attempt, at, status_code, error, duration_ms FROM alert_delivery_attempts;

DROP TABLE alert_delivery_attempts;
DROP TABLE alert_deliveries;
DROP TABLE openadr_notifications;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_alert ON webhook_deliveries (alert_id, id) WHERE alert_id IS NOT NULL;

-- the previous release's names, for one release (see the top)
CREATE VIEW alert_deliveries AS
  SELECT id, kind, alert_id, occurrence, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at, finished_at
    FROM webhook_deliveries WHERE kind = 'alert';
ALTER VIEW alert_deliveries ALTER COLUMN kind SET DEFAULT 'alert';
CREATE VIEW openadr_notifications AS
  SELECT id, kind, subscription_id, callback_url, bearer_token, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at, finished_at
    FROM webhook_deliveries WHERE kind = 'openadr_subscription';
ALTER VIEW openadr_notifications ALTER COLUMN kind SET DEFAULT 'openadr_subscription';
CREATE VIEW alert_delivery_attempts AS
  SELECT delivery_id, attempt, at, status_code, error, duration_ms FROM webhook_delivery_attempts;
