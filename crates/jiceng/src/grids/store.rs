//! All SQL of the grids context.

use serde::Serialize;

use crate::db::{Conn, DbResult, escape_like};
use crate::ids::{OrgId, UserId};
use crate::on_conn;
use crate::time::Timestamp;

// ---------- boundaries ----------

pub struct NewBoundary<'a> {
    pub org_id: OrgId,
    pub geojson: &'a str,
    pub bbox: (f64, f64, f64, f64),
    pub area_m2: f64,
}

pub async fn upsert_boundary(
    conn: &mut Conn<'_>,
    b: &NewBoundary<'_>,
    now: Timestamp,
    by: &str,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO area_boundaries (org_id, geojson, min_lon, min_lat, max_lon, max_lat, area_m2,
            imported_at, imported_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (org_id) DO UPDATE SET geojson = EXCLUDED.geojson,
            min_lon = EXCLUDED.min_lon, min_lat = EXCLUDED.min_lat, max_lon = EXCLUDED.max_lon,
            max_lat = EXCLUDED.max_lat, area_m2 = EXCLUDED.area_m2,
            imported_at = EXCLUDED.imported_at, imported_by = EXCLUDED.imported_by"
    )
    .bind(b.org_id).bind(b.geojson).bind(b.bbox.0).bind(b.bbox.1).bind(b.bbox.2).bind(b.bbox.3)
    .bind(b.area_m2).bind(now).bind(by)
    .execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// An organisation with its boundary.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BoundaryRow {
    pub org_id: OrgId,
    pub kind: String,
    pub code: String,
    pub name: String,
    pub parent_id: Option<OrgId>,
    pub path: String,
    pub geojson: String,
}

/// Boundaries of active organisations of `kinds` under the materialised path `within`.
pub async fn boundaries(
    conn: &mut Conn<'_>,
    kinds: &[&str],
    within: &str,
) -> DbResult<Vec<BoundaryRow>> {
    let kinds: Vec<String> = kinds.iter().map(|k| format!("'{k}'")).collect();
    // The kinds are this module's own constants, never user input.
    let sql = format!(
        "SELECT o.id AS org_id, o.kind, o.code, o.name, o.parent_id, o.path, b.geojson
         FROM area_boundaries b JOIN orgs o ON o.id = b.org_id
         WHERE o.status = 'active' AND o.kind IN ({}) AND o.path LIKE $1
         ORDER BY o.code",
        kinds.join(", ")
    );
    Ok(
        on_conn!(conn, c => sqlx::query_as(&sql).bind(format!("{within}%")).fetch_all(&mut *c).await?),
    )
}

/// What the in-memory index was built from: it is stale when this changes.
pub async fn generation(conn: &mut Conn<'_>) -> DbResult<(i64, i64)> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(MAX(imported_at), 0) AS BIGINT)
         FROM area_boundaries"
    ).fetch_one(&mut *c).await?))
}

/// A grid's boundary with its community and township, for the point index.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IndexRow {
    pub grid_id: OrgId,
    pub grid_code: String,
    pub grid_name: String,
    pub community_id: OrgId,
    pub community_code: String,
    pub community_name: String,
    pub township_id: OrgId,
    pub township_code: String,
    pub township_name: String,
    pub geojson: String,
}

pub async fn index_rows(conn: &mut Conn<'_>) -> DbResult<Vec<IndexRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT g.id AS grid_id, g.code AS grid_code, g.name AS grid_name,
                m.id AS community_id, m.code AS community_code, m.name AS community_name,
                t.id AS township_id, t.code AS township_code, t.name AS township_name, b.geojson
         FROM area_boundaries b
         JOIN orgs g ON g.id = b.org_id AND g.kind = 'grid' AND g.status = 'active'
         JOIN orgs m ON m.id = g.parent_id
         JOIN orgs t ON t.id = m.parent_id"
    ).fetch_all(&mut *c).await?))
}

// ---------- grid workers ----------

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AssignmentRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub grid_id: OrgId,
    pub grid_code: String,
    pub grid_name: String,
    #[schema(value_type = Option<i64>)]
    pub user_id: Option<UserId>,
    pub worker_name: String,
    /// full_time | part_time
    pub employment: String,
    pub duties: String,
    #[schema(value_type = String)]
    pub from_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub to_at: Option<Timestamp>,
    pub created_by: String,
}

impl AssignmentRow {
    pub fn employment_label(&self) -> &'static str {
        super::model::Employment::parse(&self.employment)
            .map(|e| e.label())
            .unwrap_or("")
    }

    pub fn to_local(&self) -> String {
        self.to_at
            .map(|t| t.local())
            .unwrap_or_else(|| "至今".to_owned())
    }

    pub fn is_current(&self) -> bool {
        self.to_at.is_none()
    }
}

const ASSIGNMENT_COLUMNS: &str = "a.id, a.grid_id, g.code AS grid_code, g.name AS grid_name, \
    a.user_id, a.worker_name, a.employment, a.duties, a.from_at, a.to_at, a.created_by";

/// Every assignment of one grid, current ones first, then the newest.
pub async fn assignments_of_grid(conn: &mut Conn<'_>, grid: OrgId) -> DbResult<Vec<AssignmentRow>> {
    let sql = format!(
        "SELECT {ASSIGNMENT_COLUMNS} FROM grid_assignments a JOIN orgs g ON g.id = a.grid_id
         WHERE a.grid_id = $1
         ORDER BY CASE WHEN a.to_at IS NULL THEN 0 ELSE 1 END, a.from_at DESC, a.id DESC"
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(grid).fetch_all(&mut *c).await?))
}

/// Current assignments of every grid under `within`.
pub async fn current_assignments_within(
    conn: &mut Conn<'_>,
    within: &str,
) -> DbResult<Vec<AssignmentRow>> {
    let sql = format!(
        "SELECT {ASSIGNMENT_COLUMNS} FROM grid_assignments a JOIN orgs g ON g.id = a.grid_id
         WHERE a.to_at IS NULL AND g.path LIKE $1 ORDER BY g.code, a.from_at"
    );
    Ok(
        on_conn!(conn, c => sqlx::query_as(&sql).bind(format!("{within}%")).fetch_all(&mut *c).await?),
    )
}

/// The current assignments of one account.
pub async fn current_assignments_of_user(
    conn: &mut Conn<'_>,
    user: UserId,
) -> DbResult<Vec<AssignmentRow>> {
    let sql = format!(
        "SELECT {ASSIGNMENT_COLUMNS} FROM grid_assignments a JOIN orgs g ON g.id = a.grid_id
         WHERE a.to_at IS NULL AND a.user_id = $1 ORDER BY g.code"
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(user).fetch_all(&mut *c).await?))
}

pub async fn get_assignment(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<AssignmentRow>> {
    let sql = format!(
        "SELECT {ASSIGNMENT_COLUMNS} FROM grid_assignments a JOIN orgs g ON g.id = a.grid_id
         WHERE a.id = $1"
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?))
}

pub struct NewAssignment<'a> {
    pub grid_id: OrgId,
    pub user_id: Option<UserId>,
    pub worker_name: &'a str,
    pub employment: &'a str,
    pub duties: &'a str,
}

pub async fn insert_assignment(
    conn: &mut Conn<'_>,
    a: &NewAssignment<'_>,
    at: Timestamp,
    by: &str,
) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO grid_assignments (grid_id, user_id, worker_name, employment, duties, from_at,
            created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
    )
    .bind(a.grid_id).bind(a.user_id).bind(a.worker_name).bind(a.employment).bind(a.duties)
    .bind(at).bind(by).fetch_one(&mut *c).await?))
}

/// Ends a current assignment; 0 when it had already ended.
pub async fn end_assignment(conn: &mut Conn<'_>, id: i64, at: Timestamp) -> DbResult<u64> {
    Ok(on_conn!(conn, c => sqlx::query(
        "UPDATE grid_assignments SET to_at = $1 WHERE id = $2 AND to_at IS NULL"
    ).bind(at).bind(id).execute(&mut *c).await?.rows_affected()))
}

/// Whether the account holds a current assignment for the grid.
pub async fn is_assigned(conn: &mut Conn<'_>, user: UserId, grid: OrgId) -> DbResult<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM grid_assignments
         WHERE user_id = $1 AND grid_id = $2 AND to_at IS NULL"
    ).bind(user).bind(grid).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

/// An active account holding the grid worker role, for the assignment chooser.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkerAccount {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
}

pub async fn worker_accounts_within(
    conn: &mut Conn<'_>,
    within: &str,
) -> DbResult<Vec<WorkerAccount>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT u.id, u.username, u.display_name FROM users u
         JOIN user_roles r ON r.user_id = u.id AND r.role = 'grid_worker'
         JOIN orgs o ON o.id = u.org_id
         WHERE u.status = 'active' AND o.path LIKE $1 ORDER BY u.username"
    ).bind(format!("{within}%")).fetch_all(&mut *c).await?))
}

// ---------- patrols and problems ----------

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PatrolRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub grid_id: OrgId,
    pub grid_name: String,
    #[schema(value_type = i64)]
    pub user_id: UserId,
    pub worker_name: String,
    #[schema(value_type = String)]
    pub started_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub finished_at: Option<Timestamp>,
    pub summary: String,
}

impl PatrolRow {
    pub fn finished_local(&self) -> String {
        self.finished_at
            .map(|t| t.local())
            .unwrap_or_else(|| "巡查中".to_owned())
    }
}

const PATROL_COLUMNS: &str = "p.id, p.grid_id, g.name AS grid_name, p.user_id, p.worker_name, \
    p.started_at, p.finished_at, p.summary";

pub async fn insert_patrol(
    conn: &mut Conn<'_>,
    grid: OrgId,
    user: UserId,
    name: &str,
    at: Timestamp,
) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO grid_patrols (grid_id, user_id, worker_name, started_at, summary)
         VALUES ($1, $2, $3, $4, '') RETURNING id"
    ).bind(grid).bind(user).bind(name).bind(at).fetch_one(&mut *c).await?))
}

pub async fn get_patrol(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<PatrolRow>> {
    let sql = format!(
        "SELECT {PATROL_COLUMNS} FROM grid_patrols p JOIN orgs g ON g.id = p.grid_id WHERE p.id = $1"
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?))
}

/// The worker's patrol still under way, if any.
pub async fn open_patrol_of(conn: &mut Conn<'_>, user: UserId) -> DbResult<Option<PatrolRow>> {
    let sql = format!(
        "SELECT {PATROL_COLUMNS} FROM grid_patrols p JOIN orgs g ON g.id = p.grid_id
         WHERE p.user_id = $1 AND p.finished_at IS NULL ORDER BY p.id DESC LIMIT 1"
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(user).fetch_optional(&mut *c).await?))
}

pub async fn recent_patrols_of_user(
    conn: &mut Conn<'_>,
    user: UserId,
    limit: i64,
) -> DbResult<Vec<PatrolRow>> {
    let sql = format!(
        "SELECT {PATROL_COLUMNS} FROM grid_patrols p JOIN orgs g ON g.id = p.grid_id
         WHERE p.user_id = $1 ORDER BY p.started_at DESC, p.id DESC LIMIT {}",
        limit.clamp(1, 500)
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(user).fetch_all(&mut *c).await?))
}

pub async fn recent_patrols_of_grid(
    conn: &mut Conn<'_>,
    grid: OrgId,
    limit: i64,
) -> DbResult<Vec<PatrolRow>> {
    let sql = format!(
        "SELECT {PATROL_COLUMNS} FROM grid_patrols p JOIN orgs g ON g.id = p.grid_id
         WHERE p.grid_id = $1 ORDER BY p.started_at DESC, p.id DESC LIMIT {}",
        limit.clamp(1, 500)
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(grid).fetch_all(&mut *c).await?))
}

/// Finishes a patrol still under way; 0 when it was already finished.
pub async fn finish_patrol(
    conn: &mut Conn<'_>,
    id: i64,
    at: Timestamp,
    summary: &str,
) -> DbResult<u64> {
    Ok(on_conn!(conn, c => sqlx::query(
        "UPDATE grid_patrols SET finished_at = $1, summary = $2 WHERE id = $3 AND finished_at IS NULL"
    ).bind(at).bind(summary).bind(id).execute(&mut *c).await?.rows_affected()))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PointRow {
    pub id: i64,
    #[schema(value_type = String)]
    pub at: Timestamp,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub note: String,
}

pub async fn insert_point(
    conn: &mut Conn<'_>,
    patrol: i64,
    at: Timestamp,
    position: Option<(f64, f64)>,
    note: &str,
) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO patrol_points (patrol_id, at, lon, lat, note) VALUES ($1, $2, $3, $4, $5)
         RETURNING id"
    ).bind(patrol).bind(at).bind(position.map(|p| p.0)).bind(position.map(|p| p.1)).bind(note)
    .fetch_one(&mut *c).await?))
}

pub async fn points_of(conn: &mut Conn<'_>, patrol: i64) -> DbResult<Vec<PointRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT id, at, lon, lat, note FROM patrol_points WHERE patrol_id = $1 ORDER BY at, id"
    ).bind(patrol).fetch_all(&mut *c).await?))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ProblemRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub grid_id: OrgId,
    pub patrol_id: Option<i64>,
    pub reporter_name: String,
    pub category: String,
    pub description: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    #[schema(value_type = String)]
    pub found_at: Timestamp,
}

pub struct NewProblem<'a> {
    pub grid_id: OrgId,
    pub patrol_id: Option<i64>,
    pub reported_by: UserId,
    pub reporter_name: &'a str,
    pub category: &'a str,
    pub description: &'a str,
    pub position: Option<(f64, f64)>,
}

pub async fn insert_problem(
    conn: &mut Conn<'_>,
    p: &NewProblem<'_>,
    at: Timestamp,
) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO grid_problems (grid_id, patrol_id, reported_by, reporter_name, category,
            description, lon, lat, found_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id"
    ).bind(p.grid_id).bind(p.patrol_id).bind(p.reported_by).bind(p.reporter_name)
    .bind(p.category).bind(p.description).bind(p.position.map(|x| x.0))
    .bind(p.position.map(|x| x.1)).bind(at).fetch_one(&mut *c).await?))
}

const PROBLEM_COLUMNS: &str =
    "id, grid_id, patrol_id, reporter_name, category, description, lon, lat, found_at";

pub async fn problems_of_patrol(conn: &mut Conn<'_>, patrol: i64) -> DbResult<Vec<ProblemRow>> {
    let sql = format!(
        "SELECT {PROBLEM_COLUMNS} FROM grid_problems WHERE patrol_id = $1 ORDER BY found_at, id"
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(patrol).fetch_all(&mut *c).await?))
}

pub async fn recent_problems_of_grid(
    conn: &mut Conn<'_>,
    grid: OrgId,
    limit: i64,
) -> DbResult<Vec<ProblemRow>> {
    let sql = format!(
        "SELECT {PROBLEM_COLUMNS} FROM grid_problems WHERE grid_id = $1
         ORDER BY found_at DESC, id DESC LIMIT {}",
        limit.clamp(1, 500)
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(grid).fetch_all(&mut *c).await?))
}

/// Problems found per grid under `within` in [from, to).
pub async fn problem_counts(
    conn: &mut Conn<'_>,
    within: &str,
    from: Timestamp,
    to: Timestamp,
) -> DbResult<Vec<(OrgId, i64)>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT p.grid_id, CAST(COUNT(*) AS BIGINT) FROM grid_problems p
         JOIN orgs g ON g.id = p.grid_id
         WHERE g.path LIKE $1 AND p.found_at >= $2 AND p.found_at < $3 GROUP BY p.grid_id"
    ).bind(format!("{within}%")).bind(from).bind(to).fetch_all(&mut *c).await?))
}

/// Patrols started per grid under `within` in [from, to).
pub async fn patrol_counts(
    conn: &mut Conn<'_>,
    within: &str,
    from: Timestamp,
    to: Timestamp,
) -> DbResult<Vec<(OrgId, i64)>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT p.grid_id, CAST(COUNT(*) AS BIGINT) FROM grid_patrols p
         JOIN orgs g ON g.id = p.grid_id
         WHERE g.path LIKE $1 AND p.started_at >= $2 AND p.started_at < $3 GROUP BY p.grid_id"
    ).bind(format!("{within}%")).bind(from).bind(to).fetch_all(&mut *c).await?))
}

// ---------- tasks ----------

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TaskRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub grid_id: OrgId,
    pub title: String,
    pub detail: String,
    pub due_date: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub created_by: String,
    #[schema(value_type = Option<String>)]
    pub done_at: Option<Timestamp>,
    pub done_by: Option<String>,
}

impl TaskRow {
    pub fn is_done(&self) -> bool {
        self.done_at.is_some()
    }
}

pub async fn insert_task(
    conn: &mut Conn<'_>,
    grid: OrgId,
    title: &str,
    detail: &str,
    due: &str,
    at: Timestamp,
    by: &str,
) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO grid_tasks (grid_id, title, detail, due_date, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
    ).bind(grid).bind(title).bind(detail).bind(due).bind(at).bind(by).fetch_one(&mut *c).await?))
}

pub async fn tasks_of_grid(conn: &mut Conn<'_>, grid: OrgId) -> DbResult<Vec<TaskRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT id, grid_id, title, detail, due_date, created_at, created_by, done_at, done_by
         FROM grid_tasks WHERE grid_id = $1
         ORDER BY CASE WHEN done_at IS NULL THEN 0 ELSE 1 END, due_date, id"
    ).bind(grid).fetch_all(&mut *c).await?))
}

pub async fn get_task(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<TaskRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT id, grid_id, title, detail, due_date, created_at, created_by, done_at, done_by
         FROM grid_tasks WHERE id = $1"
    ).bind(id).fetch_optional(&mut *c).await?))
}

pub async fn set_task_done(
    conn: &mut Conn<'_>,
    id: i64,
    done: Option<(Timestamp, &str)>,
) -> DbResult<u64> {
    Ok(on_conn!(conn, c => sqlx::query(
        "UPDATE grid_tasks SET done_at = $1, done_by = $2 WHERE id = $3"
    ).bind(done.map(|d| d.0)).bind(done.map(|d| d.1)).bind(id)
    .execute(&mut *c).await?.rows_affected()))
}

// ---------- register ----------

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BuildingRow {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub floors: Option<i64>,
    pub note: String,
}

pub struct NewBuilding<'a> {
    pub grid_id: OrgId,
    pub name: &'a str,
    pub address: &'a str,
    pub floors: Option<i64>,
    pub note: &'a str,
}

pub async fn insert_building(
    conn: &mut Conn<'_>,
    b: &NewBuilding<'_>,
    at: Timestamp,
    by: &str,
) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO grid_buildings (grid_id, name, address, floors, note, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
    ).bind(b.grid_id).bind(b.name).bind(b.address).bind(b.floors).bind(b.note).bind(at).bind(by)
    .fetch_one(&mut *c).await?))
}

pub async fn buildings_of(conn: &mut Conn<'_>, grid: OrgId) -> DbResult<Vec<BuildingRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT id, name, address, floors, note FROM grid_buildings WHERE grid_id = $1
         ORDER BY name, id"
    ).bind(grid).fetch_all(&mut *c).await?))
}

pub async fn building_in_grid(conn: &mut Conn<'_>, id: i64, grid: OrgId) -> DbResult<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM grid_buildings WHERE id = $1 AND grid_id = $2"
    ).bind(id).bind(grid).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

/// A household as stored: the ID number only sealed, plus its masked form.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HouseholdRow {
    pub id: i64,
    pub grid_id: OrgId,
    pub building_id: Option<i64>,
    pub building_name: Option<String>,
    pub head_name: String,
    pub id_number_enc: String,
    pub id_number_masked: String,
    pub phone: String,
    pub members: i64,
    pub address: String,
    pub note: String,
}

pub struct NewHousehold<'a> {
    pub grid_id: OrgId,
    pub building_id: Option<i64>,
    pub head_name: &'a str,
    pub id_number_enc: &'a str,
    pub id_number_masked: &'a str,
    pub phone: &'a str,
    pub members: i64,
    pub address: &'a str,
    pub note: &'a str,
}

pub async fn insert_household(
    conn: &mut Conn<'_>,
    h: &NewHousehold<'_>,
    at: Timestamp,
    by: &str,
) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO grid_households (grid_id, building_id, head_name, id_number_enc,
            id_number_masked, phone, members, address, note, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"
    ).bind(h.grid_id).bind(h.building_id).bind(h.head_name).bind(h.id_number_enc)
    .bind(h.id_number_masked).bind(h.phone).bind(h.members).bind(h.address).bind(h.note)
    .bind(at).bind(by).fetch_one(&mut *c).await?))
}

const HOUSEHOLD_COLUMNS: &str = "h.id, h.grid_id, h.building_id, b.name AS building_name, \
    h.head_name, h.id_number_enc, h.id_number_masked, h.phone, h.members, h.address, h.note";

/// Households of a grid, optionally those whose head's name or address contains `q`
/// (never searched by ID number: it is only stored sealed).
pub async fn households_of(
    conn: &mut Conn<'_>,
    grid: OrgId,
    q: &str,
) -> DbResult<Vec<HouseholdRow>> {
    let sql = format!(
        "SELECT {HOUSEHOLD_COLUMNS} FROM grid_households h
         LEFT JOIN grid_buildings b ON b.id = h.building_id
         WHERE h.grid_id = $1 AND (h.head_name LIKE $2 ESCAPE '\\' OR h.address LIKE $2 ESCAPE '\\')
         ORDER BY h.address, h.id LIMIT 1000"
    );
    let pattern = format!("%{}%", escape_like(q.trim()));
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(grid).bind(pattern).fetch_all(&mut *c).await?))
}

pub async fn get_household(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<HouseholdRow>> {
    let sql = format!(
        "SELECT {HOUSEHOLD_COLUMNS} FROM grid_households h
         LEFT JOIN grid_buildings b ON b.id = h.building_id WHERE h.id = $1"
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlaceRow {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub note: String,
}

pub struct NewPlace<'a> {
    pub grid_id: OrgId,
    pub kind: &'a str,
    pub name: &'a str,
    pub address: &'a str,
    pub contact_name: &'a str,
    pub contact_phone: &'a str,
    pub note: &'a str,
}

pub async fn insert_place(
    conn: &mut Conn<'_>,
    p: &NewPlace<'_>,
    at: Timestamp,
    by: &str,
) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO grid_places (grid_id, kind, name, address, contact_name, contact_phone, note,
            created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
    ).bind(p.grid_id).bind(p.kind).bind(p.name).bind(p.address).bind(p.contact_name)
    .bind(p.contact_phone).bind(p.note).bind(at).bind(by).fetch_one(&mut *c).await?))
}

pub async fn places_of(conn: &mut Conn<'_>, grid: OrgId, q: &str) -> DbResult<Vec<PlaceRow>> {
    let pattern = format!("%{}%", escape_like(q.trim()));
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT id, kind, name, address, contact_name, contact_phone, note FROM grid_places
         WHERE grid_id = $1 AND (name LIKE $2 ESCAPE '\\' OR address LIKE $2 ESCAPE '\\')
         ORDER BY kind, name, id LIMIT 1000"
    ).bind(grid).bind(pattern).fetch_all(&mut *c).await?))
}

/// One organisation's boundary (a GeoJSON MultiPolygon), if it has one.
pub async fn boundary_of(conn: &mut Conn<'_>, org: OrgId) -> DbResult<Option<String>> {
    Ok(
        on_conn!(conn, c => sqlx::query_scalar("SELECT geojson FROM area_boundaries WHERE org_id = $1")
        .bind(org).fetch_optional(&mut *c).await?),
    )
}
