-- The duplicate scan reads, for each key, the newest open cases not merged into another. With
-- merged_into in the index, SQLite answers it from the index alone (`outcome = 'open'` is the
-- index's own condition); without it, every case the scan passed was looked up in the table
-- for that one column, up to fifty per key in every batch of intakes.
DROP INDEX cases_open_idx;

CREATE INDEX cases_open_idx ON cases (township_id, category_code, grid_id, created_at, id,
    merged_into) WHERE outcome = 'open';
