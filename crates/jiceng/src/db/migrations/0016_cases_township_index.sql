-- `cases_township_idx` (township_id, created_at) is the head of `cases_metrics_idx`, which
-- answers every read it answered, in the same order; each case stored paid for both.
DROP INDEX cases_township_idx;
