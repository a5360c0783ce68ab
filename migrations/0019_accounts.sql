-- Accounts: users and roles, sessions (refresh-token families), signing keys, invitations and
-- one-time sign-in links, sign-in throttling, API keys generalised to kinds and scopes, and the
-- append-only audit log. See src/auth/ and docs/security.md.

CREATE TABLE users (
  id                  uuid PRIMARY KEY,
  email               text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email = btrim(email) AND position('@' IN email) > 1),
  display_name        text NOT NULL DEFAULT '' CHECK (length(display_name) <= 100),
  role                text NOT NULL CHECK (role IN ('admin', 'operator', 'analyst', 'viewer')),
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  -- 'scrypt$<log2 N>$<r>$<p>$<salt b64url>$<key b64url>' (src/auth/password.ts); null until the user sets one
  password_hash       text,
  -- bumped by password change, disable, role change and "sign out everywhere": every token carrying an
  -- older version is refused on its next request
  session_version     integer NOT NULL DEFAULT 1,
  password_changed_at timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
-- e-mail addresses are unique regardless of case
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- One row per sign-in: an API client's refresh-token family, or a web browser's cookie session.
-- The access JWT carries the session id (sid): revoking the session refuses its tokens at once.
CREATE TABLE sessions (
  id             uuid PRIMARY KEY,
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kind           text NOT NULL CHECK (kind IN ('api', 'web')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_seen_at   timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,           -- absolute lifetime: no refresh extends it
  revoked_at     timestamptz,
  revoked_reason text,                           -- logout | reuse | sign-out-everywhere | password | disabled
  ip             text,
  user_agent     text CHECK (length(user_agent) <= 300),
  -- web sessions: sha256 of the cookie's secret
  secret_hash    text
);
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);

-- Opaque refresh tokens 'gpr_<id>_<secret>'; each use rotates (used_at set, a new one issued in the
-- same family); presenting a used one again revokes the family (OWASP ASVS 5.0 V10.4.5).
CREATE TABLE refresh_tokens (
  id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
  session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  secret_hash text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  used_at     timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Asymmetric JWT signing keys. The newest active key signs; retired keys stay in the JWKS (and verify)
-- until every token they signed has expired.
CREATE TABLE signing_keys (
  kid         text PRIMARY KEY,
  alg         text NOT NULL CHECK (alg IN ('EdDSA', 'ES256')),
  public_jwk  jsonb NOT NULL,
  private_jwk jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz
);

-- Single-use, expiring links: an admin's invitation (user_id null: the account is created on
-- acceptance with email and role) or a one-time sign-in link for an existing user (user_id set).
CREATE TABLE invitations (
  id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
  secret_hash text NOT NULL,
  email       text NOT NULL,
  role        text NOT NULL CHECK (role IN ('admin', 'operator', 'analyst', 'viewer')),
  user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
  created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  revoked_at  timestamptz
);

-- Sign-in brute force: failures per account ('account:<lower email>') and per client ('ip:<address>')
-- in a sliding window; a progressive delay from the 3rd failure, lock-out from the 10th (src/auth/throttle.ts).
CREATE TABLE login_throttle (
  key          text PRIMARY KEY,
  failures     integer NOT NULL DEFAULT 0,
  first_at     timestamptz NOT NULL DEFAULT now(),
  last_at      timestamptz NOT NULL DEFAULT now(),
  locked_until timestamptz
);

-- API keys, generalised: kinds worker (data API), device (fleet), personal (a user's scripts),
-- each with scopes, an optional expiry, last use (time and IP), and an owner for personal keys.
ALTER TABLE api_keys ADD COLUMN kind text;
ALTER TABLE api_keys ADD COLUMN scopes text[] NOT NULL DEFAULT '{}';
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
ALTER TABLE api_keys ADD COLUMN last_used_ip text;
ALTER TABLE api_keys ADD COLUMN owner_id uuid REFERENCES users (id) ON DELETE CASCADE;
-- keys of the old 'worker' and 'admin' roles could use the data API and nothing else
UPDATE api_keys SET kind = 'worker', scopes = ARRAY['data:write'];
ALTER TABLE api_keys ALTER COLUMN kind SET NOT NULL;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_kind_check CHECK (kind IN ('worker', 'device', 'personal'));
ALTER TABLE api_keys ADD CONSTRAINT api_keys_personal_owner_check CHECK (kind <> 'personal' OR owner_id IS NOT NULL);
ALTER TABLE api_keys DROP COLUMN role;
CREATE INDEX api_keys_owner_idx ON api_keys (owner_id) WHERE owner_id IS NOT NULL;

-- Every authentication event and state-changing call. Append-only: written in the transaction of
-- the change it records (src/auth/audit.ts), never updated or deleted.
CREATE TABLE audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor_kind  text NOT NULL CHECK (actor_kind IN ('user', 'key', 'anonymous', 'system')),
  actor_id    text,             -- user id, key id, or null
  user_id     uuid,             -- the user acting (owner of a personal key); no FK: the log outlives users
  role        text,
  action      text NOT NULL,    -- 'auth.login', 'auth.refresh.reuse', 'keys.create', 'access.denied', …
  object_type text,
  object_id   text,
  outcome     text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
  ip          text,
  request_id  text,
  detail      jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, at);
CREATE INDEX audit_log_action_idx ON audit_log (action, at);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
-- Privileges as well, where roles exist: nobody but the owner (the migrating role) may change rows.
-- A deployment that runs the web role as a non-owner login keeps only INSERT and SELECT.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
