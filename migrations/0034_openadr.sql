-- OpenADR 3.0.1 VTN (issue 15): OAuth2 client-credentials clients, the VTN's objects, and the outbox of
-- subscription callbacks.

-- A client (a VEN or a business logic / utility system) registered by an administrator. The secret is shown
-- once; only its SHA-256 is kept. Scopes are OpenADR's (read_all, write_programs, write_events, write_reports,
-- write_subscriptions, write_vens).
CREATE TABLE openadr_clients (
  client_id   text PRIMARY KEY,
  name        text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('ven', 'bl')),
  scopes      text[] NOT NULL,
  secret_hash text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

-- Every VTN object (PROGRAM, EVENT, REPORT, SUBSCRIPTION, VEN, RESOURCE) as the definition's JSON, with the
-- columns the searches and the optimizer's overrides filter on. `name` is programName, venName, resourceName,
-- eventName or reportName; `starts_at`/`ends_at` span an event's intervals (NULL: open-ended).
CREATE TABLE openadr_objects (
  id            text PRIMARY KEY,
  object_type   text NOT NULL CHECK (object_type IN ('PROGRAM', 'EVENT', 'REPORT', 'SUBSCRIPTION', 'VEN', 'RESOURCE')),
  name          text,
  program_id    text,
  event_id      text,
  ven_id        text,
  client_name   text,
  starts_at     timestamptz,
  ends_at       timestamptz,
  body          jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  modified_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX openadr_program_name ON openadr_objects (name) WHERE object_type = 'PROGRAM';
CREATE UNIQUE INDEX openadr_ven_name ON openadr_objects (name) WHERE object_type = 'VEN';
CREATE UNIQUE INDEX openadr_resource_name ON openadr_objects (ven_id, name) WHERE object_type = 'RESOURCE';
CREATE INDEX openadr_objects_type ON openadr_objects (object_type, created_at, id);
CREATE INDEX openadr_events_span ON openadr_objects (starts_at, ends_at) WHERE object_type = 'EVENT';

-- Callback deliveries of subscriptions (a durable outbox: committed with the change that caused it).
CREATE TABLE openadr_notifications (
  id               bigserial PRIMARY KEY,
  subscription_id  text NOT NULL,
  callback_url     text NOT NULL,
  bearer_token     text,
  payload          text NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_status_code integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE INDEX openadr_notifications_due ON openadr_notifications (next_attempt_at) WHERE status = 'pending';
