-- Open311 GeoReport v2: the API keys the district issues to client applications.

CREATE TABLE open311_keys (
    id {{ID}},
    district_id BIGINT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    -- SHA-256 of the key; the key itself is shown once, when it is made.
    key_hash TEXT NOT NULL,
    -- The key's first characters, so administrators can tell keys apart.
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT,
    last_used_at BIGINT,
    CONSTRAINT open311_keys_hash_key UNIQUE (key_hash)
);
