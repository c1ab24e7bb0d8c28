-- Cases (事件/案件): categories, intake, tickets (任务单), attachments, duplicate candidates,
-- returns and ratings. A case has one or more tickets; each ticket is one workflow instance
-- of the process case_ticket.

CREATE TABLE case_categories (
    id {{ID}},
    district_id BIGINT NOT NULL REFERENCES orgs (id),
    -- GB/T 30428.2 style: 2-digit major + 2-digit minor, e.g. 0102.
    code TEXT NOT NULL,
    major TEXT NOT NULL,
    minor TEXT NOT NULL,
    -- Time limits as working hours (2h) or working days (5d).
    respond_normal TEXT NOT NULL,
    respond_urgent TEXT NOT NULL,
    handle_normal TEXT NOT NULL,
    handle_urgent TEXT NOT NULL,
    -- Default responsible department (organisation code, e.g. BM04) and the duty item cited.
    department_code TEXT,
    duty_item_code TEXT,
    active BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    CONSTRAINT case_categories_code_key UNIQUE (district_id, code)
);

CREATE TABLE case_settings (
    district_id BIGINT PRIMARY KEY REFERENCES orgs (id),
    duplicate_window_hours BIGINT NOT NULL,
    -- Character-bigram Jaccard similarity, in thousandths.
    duplicate_threshold_permille BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE cases (
    id {{ID}},
    district_id BIGINT NOT NULL REFERENCES orgs (id),
    township_id BIGINT NOT NULL REFERENCES orgs (id),
    grid_id BIGINT REFERENCES orgs (id),
    source TEXT NOT NULL,
    category_code TEXT NOT NULL,
    urgency TEXT NOT NULL,
    description TEXT NOT NULL,
    address TEXT NOT NULL,
    -- Degrees × 10^7 (WGS-84 as given), so that both engines store exact integers.
    lon_e7 BIGINT,
    lat_e7 BIGINT,
    reporter_name TEXT NOT NULL,
    reporter_phone TEXT NOT NULL,
    reporter_user_id BIGINT REFERENCES users (id),
    receipt_code TEXT NOT NULL,
    -- The hotline's own ticket number (工单号), so an export imported twice is refused.
    external_ref TEXT,
    merged_into BIGINT REFERENCES cases (id),
    reopen_count BIGINT NOT NULL,
    reopen_reason TEXT,
    -- The ticket now running (the last one); NULL only inside the intake transaction.
    current_ticket_id BIGINT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    CONSTRAINT cases_receipt_key UNIQUE (receipt_code),
    CONSTRAINT cases_external_key UNIQUE (source, external_ref)
);

CREATE INDEX cases_township_idx ON cases (township_id, created_at);

CREATE INDEX cases_duplicate_idx ON cases (township_id, category_code, created_at);

CREATE INDEX cases_merged_idx ON cases (merged_into);

CREATE TABLE case_tickets (
    id {{ID}},
    case_id BIGINT NOT NULL REFERENCES cases (id),
    seq BIGINT NOT NULL,
    instance_id BIGINT NOT NULL REFERENCES wf_instances (id),
    -- The unit the ticket is dispatched to (station, township or department).
    unit_org_id BIGINT REFERENCES orgs (id),
    duty_item_code TEXT,
    duty_item_name TEXT,
    created_at BIGINT NOT NULL,
    CONSTRAINT case_tickets_seq_key UNIQUE (case_id, seq)
);

CREATE INDEX case_tickets_unit_idx ON case_tickets (unit_org_id);

-- A unit returns a ticket at most once.
CREATE TABLE case_returns (
    ticket_id BIGINT NOT NULL REFERENCES case_tickets (id),
    unit_org_id BIGINT NOT NULL REFERENCES orgs (id),
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (ticket_id, unit_org_id)
);

CREATE TABLE case_attachments (
    id {{ID}},
    case_id BIGINT NOT NULL REFERENCES cases (id),
    -- NULL for the reporter's; the ticket whose report it is evidence of otherwise.
    ticket_id BIGINT REFERENCES case_tickets (id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    data {{BLOB}} NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE INDEX case_attachments_case_idx ON case_attachments (case_id);

-- Open cases offered at intake as possible duplicates of the new one.
CREATE TABLE case_duplicates (
    case_id BIGINT NOT NULL REFERENCES cases (id),
    candidate_id BIGINT NOT NULL REFERENCES cases (id),
    similarity_permille BIGINT NOT NULL,
    PRIMARY KEY (case_id, candidate_id)
);

CREATE TABLE case_ratings (
    id {{ID}},
    -- The case rated (a merged duplicate's reporter rates the original).
    case_id BIGINT NOT NULL REFERENCES cases (id),
    ticket_id BIGINT NOT NULL REFERENCES case_tickets (id),
    -- Whose receipt the rating came in on.
    via_case_id BIGINT NOT NULL REFERENCES cases (id),
    rating TEXT NOT NULL,
    comment TEXT NOT NULL,
    -- reporter, or the username of staff rating on the reporter's behalf.
    rated_by TEXT NOT NULL,
    reopened BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT case_ratings_once UNIQUE (ticket_id, via_case_id)
);
