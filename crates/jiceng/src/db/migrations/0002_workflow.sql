-- Workflow instances, their append-only history, idempotency keys and expiry notices.

CREATE TABLE wf_instances (
    id {{ID}},
    process TEXT NOT NULL,
    -- What the instance is about, shown in inboxes (e.g. 案件 2026-000123 占道经营).
    subject TEXT NOT NULL,
    -- The domain record it belongs to, e.g. case:123; unique per process.
    subject_ref TEXT NOT NULL,
    owner_org_id BIGINT NOT NULL REFERENCES orgs (id),
    assignee_org_id BIGINT REFERENCES orgs (id),
    -- The township the owner belongs to (NULL for district bodies): metrics filter on it.
    township_id BIGINT REFERENCES orgs (id),
    state TEXT NOT NULL,
    terminal BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    entered_at BIGINT NOT NULL,
    deadline BIGINT,
    -- Some state's deadline passed before it was left.
    overdue BOOLEAN NOT NULL DEFAULT FALSE,
    -- The deadline whose expiry rules have been applied, so a deadline fires once.
    expiry_handled BIGINT,
    completed_at BIGINT,
    -- Working seconds from creation to completion, by the working-day calendar.
    working_seconds BIGINT,
    CONSTRAINT wf_instances_subject_key UNIQUE (process, subject_ref)
);

CREATE INDEX wf_instances_due_idx ON wf_instances (terminal, deadline);

-- Metrics read only these columns: the indexes cover them, so a township's year is read from
-- the index alone.
CREATE INDEX wf_instances_township_idx ON wf_instances (process, township_id, created_at, state,
    terminal, overdue, deadline, completed_at, working_seconds);

CREATE INDEX wf_instances_owner_idx ON wf_instances (process, owner_org_id, created_at, state,
    terminal, overdue, deadline, completed_at, working_seconds);

CREATE INDEX wf_instances_assignee_idx ON wf_instances (assignee_org_id, terminal);

CREATE TABLE wf_history (
    id {{ID}},
    instance_id BIGINT NOT NULL REFERENCES wf_instances (id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor_id BIGINT,
    actor TEXT NOT NULL,
    roles TEXT NOT NULL,
    org_id BIGINT,
    action TEXT NOT NULL,
    action_label TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    comment TEXT,
    attachments TEXT NOT NULL,
    fields TEXT NOT NULL,
    CONSTRAINT wf_history_seq_key UNIQUE (instance_id, seq)
);

-- A double-submitted form carries the same key and does not act twice.
CREATE TABLE wf_idempotency (
    key TEXT PRIMARY KEY,
    instance_id BIGINT NOT NULL,
    user_id BIGINT,
    version_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Reminders and escalations raised when a time limit runs out.
CREATE TABLE wf_notices (
    id {{ID}},
    instance_id BIGINT NOT NULL REFERENCES wf_instances (id),
    kind TEXT NOT NULL,
    role TEXT NOT NULL,
    org_id BIGINT REFERENCES orgs (id),
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    done_at BIGINT
);

CREATE INDEX wf_notices_org_idx ON wf_notices (org_id, done_at);
