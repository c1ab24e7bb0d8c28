-- Grids (网格化): boundaries of townships, communities and grids, the workers responsible for
-- each grid over time, their patrols, the problems they find, tasks the township gives a grid,
-- and the grid's register of buildings, households and key places.

-- One boundary per organisation, WGS-84. The bbox columns let a map query pick areas without
-- parsing every shape.
CREATE TABLE area_boundaries (
    org_id BIGINT PRIMARY KEY REFERENCES orgs (id),
    -- A GeoJSON MultiPolygon geometry object.
    geojson TEXT NOT NULL,
    min_lon DOUBLE PRECISION NOT NULL,
    min_lat DOUBLE PRECISION NOT NULL,
    max_lon DOUBLE PRECISION NOT NULL,
    max_lat DOUBLE PRECISION NOT NULL,
    area_m2 DOUBLE PRECISION NOT NULL,
    imported_at BIGINT NOT NULL,
    imported_by TEXT NOT NULL
);

-- Who is responsible for a grid, and when (定人定岗定责). An assignment is never deleted:
-- ending it sets to_at, so the history answers "who was responsible on that day".
CREATE TABLE grid_assignments (
    id {{ID}},
    grid_id BIGINT NOT NULL REFERENCES orgs (id),
    -- NULL for a part-timer without an account.
    user_id BIGINT REFERENCES users (id),
    worker_name TEXT NOT NULL,
    -- full_time | part_time
    employment TEXT NOT NULL,
    duties TEXT NOT NULL,
    from_at BIGINT NOT NULL,
    to_at BIGINT,
    created_by TEXT NOT NULL
);

CREATE INDEX grid_assignments_grid_idx ON grid_assignments (grid_id, to_at);

CREATE INDEX grid_assignments_user_idx ON grid_assignments (user_id, to_at);

CREATE TABLE grid_patrols (
    id {{ID}},
    grid_id BIGINT NOT NULL REFERENCES orgs (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    worker_name TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    summary TEXT NOT NULL
);

CREATE INDEX grid_patrols_grid_idx ON grid_patrols (grid_id, started_at);

CREATE INDEX grid_patrols_user_idx ON grid_patrols (user_id, finished_at);

CREATE TABLE patrol_points (
    id {{ID}},
    patrol_id BIGINT NOT NULL REFERENCES grid_patrols (id),
    at BIGINT NOT NULL,
    lon DOUBLE PRECISION,
    lat DOUBLE PRECISION,
    note TEXT NOT NULL
);

CREATE INDEX patrol_points_patrol_idx ON patrol_points (patrol_id, at);

-- Problems a grid worker found (on a patrol, or reported on their own). The cases context
-- will turn them into cases; until then they are the grid's own record.
CREATE TABLE grid_problems (
    id {{ID}},
    grid_id BIGINT NOT NULL REFERENCES orgs (id),
    patrol_id BIGINT REFERENCES grid_patrols (id),
    reported_by BIGINT NOT NULL REFERENCES users (id),
    reporter_name TEXT NOT NULL,
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    lon DOUBLE PRECISION,
    lat DOUBLE PRECISION,
    found_at BIGINT NOT NULL
);

CREATE INDEX grid_problems_grid_idx ON grid_problems (grid_id, found_at);

CREATE TABLE grid_tasks (
    id {{ID}},
    grid_id BIGINT NOT NULL REFERENCES orgs (id),
    title TEXT NOT NULL,
    detail TEXT NOT NULL,
    -- YYYY-MM-DD, Beijing time; empty when none.
    due_date TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    done_at BIGINT,
    done_by TEXT
);

CREATE INDEX grid_tasks_grid_idx ON grid_tasks (grid_id, done_at);

CREATE TABLE grid_buildings (
    id {{ID}},
    grid_id BIGINT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    floors BIGINT,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE INDEX grid_buildings_grid_idx ON grid_buildings (grid_id);

-- The ID number is stored only encrypted (AES-256-GCM); its masked form is kept beside it so
-- lists never need the key.
CREATE TABLE grid_households (
    id {{ID}},
    grid_id BIGINT NOT NULL REFERENCES orgs (id),
    building_id BIGINT REFERENCES grid_buildings (id),
    head_name TEXT NOT NULL,
    id_number_enc TEXT NOT NULL,
    id_number_masked TEXT NOT NULL,
    phone TEXT NOT NULL,
    members BIGINT NOT NULL,
    address TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE INDEX grid_households_grid_idx ON grid_households (grid_id);

CREATE TABLE grid_places (
    id {{ID}},
    grid_id BIGINT NOT NULL REFERENCES orgs (id),
    -- shop | construction_site | school | hospital | factory | other
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE INDEX grid_places_grid_idx ON grid_places (grid_id);
