-- Cases, second slice: the parts of a case handled by other units (summons to a department,
-- joint enforcement co-units, referrals), routing suggestions and the figures metrics read.

-- One row per part; each part runs its own workflow instance (case_summon, case_joint,
-- case_referral) assigned to the unit.
CREATE TABLE case_parts (
    id {{ID}},
    case_id BIGINT NOT NULL REFERENCES cases (id),
    -- summon | joint | referral
    kind TEXT NOT NULL,
    instance_id BIGINT NOT NULL REFERENCES wf_instances (id),
    unit_org_id BIGINT NOT NULL REFERENCES orgs (id),
    township_id BIGINT NOT NULL REFERENCES orgs (id),
    -- Why the township summons, what the co-unit is asked to do, why it refers.
    reason TEXT NOT NULL,
    -- Joint enforcement: the co-unit's own deadline for its findings, set by the dispatcher.
    due_at BIGINT,
    -- The officer the department names when it reports (报到).
    officer TEXT,
    -- Summons: 1 when the department reported within the time limit, 0 late, NULL not yet.
    reported_on_time BIGINT,
    reported_at BIGINT,
    -- The department's reply, the co-unit's findings, the referral's outcome.
    outcome TEXT,
    done_at BIGINT,
    -- Summons: the township's score of the department's response, 1–5.
    score BIGINT,
    score_comment TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE INDEX case_parts_case_idx ON case_parts (case_id);

CREATE INDEX case_parts_unit_idx ON case_parts (kind, unit_org_id, created_at);

CREATE INDEX case_parts_township_idx ON case_parts (kind, township_id, created_at);

-- Figures kept on the case as it moves, so that metrics read one covering index.
ALTER TABLE cases ADD COLUMN unit_org_id BIGINT REFERENCES orgs (id);

ALTER TABLE cases ADD COLUMN dispatched_at BIGINT;

ALTER TABLE cases ADD COLUMN dispatch_late BIGINT NOT NULL DEFAULT 0;

ALTER TABLE cases ADD COLUMN accepted_at BIGINT;

ALTER TABLE cases ADD COLUMN accept_late BIGINT NOT NULL DEFAULT 0;

ALTER TABLE cases ADD COLUMN closed_at BIGINT;

ALTER TABLE cases ADD COLUMN close_late BIGINT NOT NULL DEFAULT 0;

ALTER TABLE cases ADD COLUMN rework_count BIGINT NOT NULL DEFAULT 0;

-- The last rating of the reporter (satisfied | basically_satisfied | dissatisfied).
ALTER TABLE cases ADD COLUMN rating TEXT;

-- open | closed | merged | dismissed | referred
ALTER TABLE cases ADD COLUMN outcome TEXT NOT NULL DEFAULT 'open';

-- Routing: what the router suggested at intake (confidence in thousandths) and what people
-- confirmed, so a later correction can take the example back.
ALTER TABLE cases ADD COLUMN suggested_category TEXT;

ALTER TABLE cases ADD COLUMN suggested_category_permille BIGINT;

ALTER TABLE cases ADD COLUMN suggested_unit TEXT;

ALTER TABLE cases ADD COLUMN suggested_unit_permille BIGINT;

ALTER TABLE cases ADD COLUMN learned_category TEXT;

ALTER TABLE cases ADD COLUMN learned_unit TEXT;

CREATE INDEX cases_metrics_idx ON cases (township_id, created_at, category_code, source, unit_org_id,
    outcome, dispatched_at, dispatch_late, accepted_at, accept_late, closed_at, close_late,
    rework_count, rating);

CREATE INDEX cases_unit_metrics_idx ON cases (unit_org_id, created_at, category_code, source,
    township_id, outcome, dispatched_at, dispatch_late, accepted_at, accept_late, closed_at,
    close_late, rework_count, rating);
