-- eGRID keys that hold every real row (issue 13 follow-up).
-- 1. Plants without ORISPL: some published extracts (eGRID2016 PLNT16 subset: SEQPLT16, PSTATABB, PLPRMFL,
--    PLNGENAN, PLCO2EQA) carry only eGRID's plant sequence number of that edition. Such a row is stored with
--    orispl NULL and keyed by (data_year, seq); it counts in state and fuel aggregates and is never addressed
--    by ORISPL. Rows with ORISPL stay keyed by (data_year, orispl).
-- 2. Repeated unit and generator ids: eGRID lists distinct real units under the same (ORISPL, GENID/UNITID)
--    (eGRID2016 GEN16: ST and CT generators "1".."3" at plant 3612; eGRID2021 UNT21: 17 pairs, 13 with the same
--    prime mover and fuel). `occurrence` numbers the rows of one pair in file order (1, 2, …) and joins the key.
ALTER TABLE egrid_plants DROP CONSTRAINT egrid_plants_pkey;
ALTER TABLE egrid_plants ALTER COLUMN orispl DROP NOT NULL;
ALTER TABLE egrid_plants ADD CONSTRAINT egrid_plants_keyed CHECK (orispl IS NOT NULL OR seq IS NOT NULL);
CREATE UNIQUE INDEX egrid_plants_key ON egrid_plants (data_year, orispl) WHERE orispl IS NOT NULL;
CREATE UNIQUE INDEX egrid_plants_seq_key ON egrid_plants (data_year, seq) WHERE orispl IS NULL;

ALTER TABLE egrid_generators ADD COLUMN occurrence integer NOT NULL DEFAULT 1 CHECK (occurrence >= 1);
ALTER TABLE egrid_generators DROP CONSTRAINT egrid_generators_pkey;
ALTER TABLE egrid_generators ADD PRIMARY KEY (data_year, orispl, generator_id, occurrence);

ALTER TABLE egrid_units ADD COLUMN occurrence integer NOT NULL DEFAULT 1 CHECK (occurrence >= 1);
ALTER TABLE egrid_units DROP CONSTRAINT egrid_units_pkey;
ALTER TABLE egrid_units ADD PRIMARY KEY (data_year, orispl, unit_id, occurrence);
