-- API keys for outside workers. Only a SHA-256 of the secret is stored; `id` is the short public
-- prefix of the token (gp_<id>_<secret>) used to find the row.
CREATE TABLE api_keys (
  id           text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
  name         text,
  role         text NOT NULL CHECK (role IN ('worker', 'admin')),
  secret_hash  text NOT NULL,           -- hex sha256 of the 32-byte secret
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
