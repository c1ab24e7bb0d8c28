-- Duty lists: the district's general catalog and each township's local additions, versioned.

CREATE TABLE catalog_settings (
    district_id BIGINT PRIMARY KEY REFERENCES orgs (id),
    -- three_lists | national
    scheme TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE catalog_lists (
    id {{ID}},
    district_id BIGINT NOT NULL REFERENCES orgs (id),
    -- 0 for the district's general catalog, else the township's organisation id.
    township_key BIGINT NOT NULL,
    current_version BIGINT NOT NULL,
    -- 0 while never published.
    published_version BIGINT NOT NULL,
    CONSTRAINT catalog_lists_key UNIQUE (district_id, township_key)
);

CREATE TABLE catalog_versions (
    list_id BIGINT NOT NULL REFERENCES catalog_lists (id),
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    summary TEXT NOT NULL,
    published_at BIGINT,
    published_by TEXT,
    PRIMARY KEY (list_id, version)
);

-- Item revisions: a revision is valid from `from_version` up to (not including) `to_version`.
-- kind 'item' is a duty item; kind 'exclusion' is a township marking a general item as not
-- applicable to it (fields then hold the reason).
CREATE TABLE catalog_items (
    id {{ID}},
    list_id BIGINT NOT NULL REFERENCES catalog_lists (id),
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    from_version BIGINT NOT NULL,
    to_version BIGINT,
    name TEXT NOT NULL,
    list_kind TEXT NOT NULL,
    national_class TEXT NOT NULL,
    category TEXT NOT NULL,
    source TEXT NOT NULL,
    fields TEXT NOT NULL
);

CREATE INDEX catalog_items_current_idx ON catalog_items (list_id, to_version, code);

CREATE INDEX catalog_items_from_idx ON catalog_items (list_id, from_version);
