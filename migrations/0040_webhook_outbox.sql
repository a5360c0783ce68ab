-- One outbox for every webhook delivery (code review): the alerts' alert_deliveries (0024) and the OpenADR
-- subscription callbacks' openadr_notifications (0034) had the same shape and two claim/retry loops. Now one table
-- with a `kind`, one attempt log and one loop (src/alerts/webhook-outbox.ts).
--
-- alert_deliveries becomes the new table in place (renamed, columns added: no copy, and every alert delivery keeps
-- its id, the delivery log's id and the X-GridPulse-Delivery header a receiver deduplicates on), with its attempt
-- log; the rows of openadr_notifications move into it under new ids.
-- Forward-compatible for one release (deploy/OPERATIONS.md): alert_deliveries, alert_delivery_attempts and
-- openadr_notifications stay as updatable VIEWS over the new tables, with `kind` defaulted, so the previous image
-- still queues, claims (FOR UPDATE SKIP LOCKED locks the rows beneath) and records deliveries while both run.
-- The release after this one drops the three views.

ALTER TABLE alert_deliveries RENAME TO webhook_deliveries;
ALTER INDEX alert_deliveries_pkey RENAME TO webhook_deliveries_pkey;
ALTER INDEX alert_deliveries_due RENAME TO webhook_deliveries_due;
ALTER INDEX alert_deliveries_alert RENAME TO webhook_deliveries_alert;
-- every row so far is an alert's; the default only fills them (a constant default rewrites nothing)
ALTER TABLE webhook_deliveries ADD COLUMN kind text NOT NULL DEFAULT 'alert' CHECK (kind IN ('alert', 'openadr_subscription'));
ALTER TABLE webhook_deliveries ALTER COLUMN kind DROP DEFAULT;
-- kind 'alert': alert_id (its webhook_url and secret are read at each try) and the occurrence that fired;
-- kind 'openadr_subscription': the SUBSCRIPTION object's id and the target it gave when the change was queued
ALTER TABLE webhook_deliveries
  ALTER COLUMN alert_id DROP NOT NULL,
  ALTER COLUMN occurrence DROP NOT NULL,
  ADD COLUMN subscription_id text,
  ADD COLUMN callback_url text,
  ADD COLUMN bearer_token text,
  ADD CONSTRAINT webhook_deliveries_alert_target CHECK (kind <> 'alert' OR (alert_id IS NOT NULL AND occurrence IS NOT NULL)),
  ADD CONSTRAINT webhook_deliveries_openadr_target CHECK (kind <> 'openadr_subscription' OR (subscription_id IS NOT NULL AND callback_url IS NOT NULL));

-- one log of tries for both kinds (OpenADR callbacks had none)
ALTER TABLE alert_delivery_attempts RENAME TO webhook_delivery_attempts;
ALTER INDEX alert_delivery_attempts_pkey RENAME TO webhook_delivery_attempts_pkey;

INSERT INTO webhook_deliveries (kind, subscription_id, callback_url, bearer_token, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at, finished_at)
  SELECT 'openadr_subscription', subscription_id, callback_url, bearer_token, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at, finished_at
    FROM openadr_notifications ORDER BY id;
DROP TABLE openadr_notifications;

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
