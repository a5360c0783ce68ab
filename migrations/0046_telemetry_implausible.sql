-- The plausibility verdict stored with each reading (src/fleet/telemetry-check.ts): the rule it breaks ('power',
-- 'schedule_version'), NULL when plausible. Decided when the reading is stored (the gateway's storeBatch, in the same
-- transaction; the HTTP fallback just before), so the row stays the raw record of what the device sent while every
-- reader that takes power or SoC as fact (fleet history, the device series, market settlement, delivery checks) leaves
-- it out. Added on the partitioned parent: every daily partition, existing or created later, has it. Readings stored
-- before this migration were never judged and stay NULL.
ALTER TABLE device_telemetry ADD COLUMN implausible text;
