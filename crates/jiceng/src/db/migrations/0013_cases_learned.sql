-- The case router learns, when a process first routes a district's cases, from the newest cases
-- people routed (learned_category or learned_unit set). Without an index of those few, that
-- read walks every case backwards by id: about a second at 1,000,000 cases, for every process
-- that starts. The condition is written exactly as the query writes it, so that SQLite, which
-- matches a partial index's condition by its terms, uses the index too.
CREATE INDEX cases_learned_idx ON cases (district_id, id)
    WHERE learned_category IS NOT NULL OR learned_unit IS NOT NULL;
