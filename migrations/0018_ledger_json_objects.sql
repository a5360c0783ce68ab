-- On PostgreSQL, the run ledger's params, errors and rejections were handed to jsonb parameters as JSON text,
-- which the driver encoded once more: they were stored as jsonb STRINGS (PGlite stored objects), so
-- params->>'…' found nothing and the pipeline page counted no errors. Writes now cast text to
-- jsonb (src/ingest/run-ledger.ts); this turns the strings already stored back into their JSON.
UPDATE ingest_runs SET params = (params #>> '{}')::jsonb WHERE jsonb_typeof(params) = 'string';
UPDATE ingest_runs SET errors = (errors #>> '{}')::jsonb WHERE jsonb_typeof(errors) = 'string';
UPDATE ingest_runs SET rejections = (rejections #>> '{}')::jsonb WHERE jsonb_typeof(rejections) = 'string';
