-- One row, given a new random stamp by every transaction that changes reference data: orgs,
-- case_categories, case_settings, calendar_days. Each process caches reference data under the
-- stamp it read it after and reads the stamp once per request (see db::reference), so a change
-- made by hand in SQL must also run:
--   UPDATE reference_version SET stamp = '<any new value>' WHERE id = 1;
CREATE TABLE reference_version (
    id BIGINT PRIMARY KEY,
    stamp TEXT NOT NULL
);

INSERT INTO reference_version (id, stamp) VALUES (1, 'initial');
