-- The duplicate scan reads an open key's newest cases: ORDER BY grid_id, created_at, id, all
-- descending, LIMIT 50. With id in the index PostgreSQL reads them in that order and stops at
-- the limit; without it a plan may first sort every open case of the key within the window,
-- which during a flood of reports of one problem is thousands of rows per key. SQLite's
-- indexes already end with the rowid; the same index serves both engines.

DROP INDEX cases_open_idx;

CREATE INDEX cases_open_idx ON cases (township_id, category_code, grid_id, created_at, id)
    WHERE outcome = 'open';
