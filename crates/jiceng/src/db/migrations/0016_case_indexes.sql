-- Every case stored pays for each index on its rows; these three cost it without serving it.
-- `cases_township_idx` (township_id, created_at) is the head of `cases_metrics_idx`, which
-- answers every read it answered, in the same order.
DROP INDEX cases_township_idx;

-- A case is merged into another, and a ticket sent to a unit, long after intake, if ever; their
-- indexes are read only for a given case or unit (`= $1`, which implies NOT NULL on both
-- engines), so the rows without one need no entry.
DROP INDEX cases_merged_idx;

CREATE INDEX cases_merged_idx ON cases (merged_into) WHERE merged_into IS NOT NULL;

DROP INDEX case_tickets_unit_idx;

CREATE INDEX case_tickets_unit_idx ON case_tickets (unit_org_id) WHERE unit_org_id IS NOT NULL;
