-- On PostgreSQL, writers that handed JSON text to a jsonb parameter had it encoded once more by postgres.js, so
-- audit_log.detail, signing_keys.public_jwk/private_jwk and other columns held jsonb STRINGS where PGlite stored
-- objects (issue 12 finding 5; detail->>'reason' was NULL). The driver now takes a string as JSON text on both
-- stores (JSON_PARAMETERS in src/platform/db.ts). As migration 0018 did for the run ledger, this turns the strings
-- already stored back into their JSON — for EVERY jsonb column of the schema (information_schema), so a column
-- added since is covered too. Only a string whose text is a JSON object or array is turned; other strings stay.
-- audit_log is append-only (a trigger refuses UPDATE): the trigger is off for this one repair, inside this
-- migration's transaction, and back on before it commits.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete;
DO $$
DECLARE c record;
BEGIN
  FOR c IN SELECT table_schema, table_name, column_name FROM information_schema.columns
           WHERE data_type = 'jsonb' AND table_schema = current_schema()
             AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE')
  LOOP
    EXECUTE format(
      'UPDATE %I.%I SET %I = (%I #>> ''{}'')::jsonb WHERE jsonb_typeof(%I) = ''string'' AND left(ltrim(%I #>> ''{}''), 1) IN (''{'', ''['')',
      c.table_schema, c.table_name, c.column_name, c.column_name, c.column_name, c.column_name);
  END LOOP;
END
$$;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete;
