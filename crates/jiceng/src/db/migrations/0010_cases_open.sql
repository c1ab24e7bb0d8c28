-- Intake compares a new case with the open cases of its township, category and grid reported
-- within the duplicate window, newest first, inside the write transaction. Only open cases are
-- indexed, so the scan reads those it compares and stops at the window's edge or its limit.

CREATE INDEX cases_open_idx ON cases (township_id, category_code, grid_id, created_at)
    WHERE outcome = 'open';
