-- The open cases offered at intake as possible duplicates move onto the new case's row, as
-- `id:permille` pairs, most similar first. Nearly every intake makes several offers, and their
-- rows in a table of their own, with its index and two foreign-key checks each, were a quarter
-- of PostgreSQL's work for an intake. The offers are read only with their case.
ALTER TABLE cases ADD COLUMN duplicate_offers TEXT NOT NULL DEFAULT '';

UPDATE cases SET duplicate_offers = (
    SELECT string_agg(CAST(d.candidate_id AS TEXT) || ':' || CAST(d.similarity_permille AS TEXT),
                      ',' ORDER BY d.similarity_permille DESC, d.candidate_id)
    FROM case_duplicates d WHERE d.case_id = cases.id)
WHERE id IN (SELECT case_id FROM case_duplicates);

DROP TABLE case_duplicates;
