-- A case has a unit only once it is dispatched, and the unit metrics read the index for a given
-- unit (`unit_org_id = $1`, which implies NOT NULL on both engines): an intake need not write a
-- wide entry, fourteen columns, for a case no unit has yet.
DROP INDEX cases_unit_metrics_idx;

CREATE INDEX cases_unit_metrics_idx ON cases (unit_org_id, created_at, category_code, source,
    township_id, outcome, dispatched_at, dispatch_late, accepted_at, accept_late, closed_at,
    close_late, rework_count, rating) WHERE unit_org_id IS NOT NULL;
