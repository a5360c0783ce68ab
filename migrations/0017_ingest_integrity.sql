-- Batch integrity (issue 10, items 4 and 7): a run counts the rows it dropped as exact duplicates
-- and the rows it refused because their (series, hour) carried two different values in one batch,
-- and keeps why each rejected row was rejected ({"reason": count}). A conflict is also a quality finding.
ALTER TABLE ingest_runs ADD COLUMN rows_duplicate integer NOT NULL DEFAULT 0;
ALTER TABLE ingest_runs ADD COLUMN rows_conflicting integer NOT NULL DEFAULT 0;
ALTER TABLE ingest_runs ADD COLUMN rejections jsonb NOT NULL DEFAULT '{}';

ALTER TABLE quality_checks DROP CONSTRAINT quality_checks_check_name_check;
ALTER TABLE quality_checks ADD CONSTRAINT quality_checks_check_name_check
  CHECK (check_name IN ('negative_demand', 'spike', 'flatline', 'net_generation_vs_fuels', 'interchange_mismatch', 'conflicting_duplicate'));
