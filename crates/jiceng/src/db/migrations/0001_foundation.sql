-- Foundation: organisations, accounts, sessions, the audit chain.
-- Times are BIGINT microseconds since the Unix epoch, UTC.

CREATE TABLE orgs (
    id {{ID}},
    kind TEXT NOT NULL,
    subkind TEXT,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_id BIGINT REFERENCES orgs (id),
    -- Materialised path of ids, '/1/5/37/': a subtree is one LIKE on an index.
    path TEXT NOT NULL,
    department_id BIGINT REFERENCES orgs (id),
    status TEXT NOT NULL DEFAULT 'active',
    retired_at BIGINT,
    retired_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT orgs_code_key UNIQUE (code)
);

CREATE INDEX orgs_parent_idx ON orgs (parent_id);

CREATE INDEX orgs_kind_idx ON orgs (kind, status);

CREATE INDEX orgs_path_idx ON orgs (path);

CREATE TABLE users (
    id {{ID}},
    username TEXT NOT NULL,
    display_name TEXT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs (id),
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    password_changed_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);

CREATE INDEX users_org_idx ON users (org_id);

CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

-- Sessions live in the database so that several `serve` processes can share them.
-- The cookie carries a random token; only its SHA-256 is stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
);

CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Append-only. Each row's hash covers its fields and the previous row's hash.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id BIGINT,
    actor TEXT NOT NULL,
    org_id BIGINT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    ip TEXT NOT NULL,
    request_id TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE INDEX audit_log_at_idx ON audit_log (at);

CREATE INDEX audit_log_actor_idx ON audit_log (actor, at);

-- The chain's head: one row, updated with RETURNING inside each writing transaction, which
-- serialises appends on both engines. `purged_*` anchor the chain after old rows are purged.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    purged_through BIGINT NOT NULL,
    purged_hash TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, hash, purged_through, purged_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0,
        '0000000000000000000000000000000000000000000000000000000000000000');
