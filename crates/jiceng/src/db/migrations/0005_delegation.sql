-- Delegated powers (下放行政权力事项) and their handovers (交接书), duty admission (事务准入)
-- and inspection items (考核事项). Each process's state lives in wf_instances; these tables
-- hold what the parties wrote.

CREATE TABLE delegated_powers (
    id {{ID}},
    district_id BIGINT NOT NULL REFERENCES orgs (id),
    department_id BIGINT NOT NULL REFERENCES orgs (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The duty item as it will stand on a receiving township's list (JSON ItemFields).
    item TEXT NOT NULL,
    -- YYYY-MM-DD, Beijing time.
    effective_date TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    CONSTRAINT delegated_powers_code_key UNIQUE (district_id, code)
);

-- One township's receipt (or return) of one power.
CREATE TABLE power_handovers (
    id {{ID}},
    power_id BIGINT NOT NULL REFERENCES delegated_powers (id),
    township_id BIGINT NOT NULL REFERENCES orgs (id),
    -- delegate | withdraw
    direction TEXT NOT NULL,
    files TEXT NOT NULL,
    training TEXT NOT NULL,
    staff TEXT NOT NULL,
    supervision TEXT NOT NULL,
    instance_id BIGINT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    -- Set when both parties have signed: the township list version it produced.
    completed_at BIGINT,
    list_version BIGINT
);

CREATE INDEX power_handovers_power_idx ON power_handovers (power_id, township_id);

CREATE INDEX power_handovers_township_idx ON power_handovers (township_id, completed_at);

-- Which townships hold a power now: written when a handover completes.
CREATE TABLE power_grants (
    power_id BIGINT NOT NULL REFERENCES delegated_powers (id),
    township_id BIGINT NOT NULL REFERENCES orgs (id),
    -- granted | withdrawn
    status TEXT NOT NULL,
    since BIGINT NOT NULL,
    handover_id BIGINT NOT NULL REFERENCES power_handovers (id),
    PRIMARY KEY (power_id, township_id)
);

-- The department's guidance and supervision record (指导监督记录) per power.
CREATE TABLE power_supervision (
    id {{ID}},
    power_id BIGINT NOT NULL REFERENCES delegated_powers (id),
    township_id BIGINT REFERENCES orgs (id),
    kind TEXT NOT NULL,
    happened_on TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE INDEX power_supervision_power_idx ON power_supervision (power_id, happened_on);

CREATE TABLE admissions (
    id {{ID}},
    district_id BIGINT NOT NULL REFERENCES orgs (id),
    department_id BIGINT NOT NULL REFERENCES orgs (id),
    -- admit | adjust | withdraw
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    -- The duty item the townships would take on (JSON ItemFields); for a withdrawal, the
    -- item being withdrawn.
    item TEXT NOT NULL,
    funding TEXT NOT NULL,
    staffing TEXT NOT NULL,
    reasons TEXT NOT NULL,
    -- JSON array of township organisation ids.
    townships TEXT NOT NULL,
    instance_id BIGINT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    -- approved | rejected, with the admission reference (准入文号) when approved.
    outcome TEXT,
    reference TEXT,
    decided_at BIGINT
);

CREATE INDEX admissions_district_idx ON admissions (district_id, created_at);

CREATE TABLE inspection_items (
    id {{ID}},
    district_id BIGINT NOT NULL REFERENCES orgs (id),
    department_id BIGINT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    basis TEXT NOT NULL,
    standard TEXT NOT NULL,
    -- Points in tenths (25 = 2.5 points): scores must add up exactly.
    points_tenths BIGINT NOT NULL,
    year BIGINT NOT NULL,
    instance_id BIGINT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE INDEX inspection_items_district_idx ON inspection_items (district_id, year, department_id);
