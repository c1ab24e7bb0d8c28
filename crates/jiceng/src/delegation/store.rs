//! All SQL of the delegation context: delegated powers and their handovers, duty admission,
//! inspection items. A process's state is read from `wf_instances`, never copied here.

use crate::db::{Conn, DbResult};
use crate::ids::OrgId;
use crate::on_conn;
use crate::time::Timestamp;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct PowerRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub district_id: OrgId,
    #[schema(value_type = i64)]
    pub department_id: OrgId,
    pub department_name: String,
    pub code: String,
    pub name: String,
    /// The duty item (JSON) as it will stand on a receiving township's list.
    #[serde(skip)]
    pub item: String,
    pub effective_date: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub created_by: String,
    /// Townships holding the power now.
    pub granted: i64,
}

const POWER_SELECT: &str = "SELECT p.id, p.district_id, p.department_id, d.name AS department_name,
    p.code, p.name, p.item, p.effective_date, p.created_at, p.created_by,
    CAST((SELECT COUNT(*) FROM power_grants g WHERE g.power_id = p.id AND g.status = 'granted')
         AS BIGINT) AS granted
    FROM delegated_powers p JOIN orgs d ON d.id = p.department_id";

pub struct NewPower<'a> {
    pub district_id: OrgId,
    pub department_id: OrgId,
    pub code: &'a str,
    pub name: &'a str,
    pub item: &'a str,
    pub effective_date: &'a str,
    pub now: Timestamp,
    pub by: &'a str,
}

pub async fn insert_power(conn: &mut Conn<'_>, p: &NewPower<'_>) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO delegated_powers (district_id, department_id, code, name, item, effective_date,
            created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id"
    )
    .bind(p.district_id).bind(p.department_id).bind(p.code).bind(p.name).bind(p.item)
    .bind(p.effective_date).bind(p.now).bind(p.by)
    .fetch_one(&mut *c).await?))
}

pub async fn power(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<PowerRow>> {
    let sql = format!("{POWER_SELECT} WHERE p.id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as::<_, PowerRow>(&sql)
        .bind(id).fetch_optional(&mut *c).await?))
}

/// The district's powers, optionally one department's, by code.
pub async fn powers(
    conn: &mut Conn<'_>,
    district: OrgId,
    department: Option<OrgId>,
) -> DbResult<Vec<PowerRow>> {
    let sql = format!(
        "{POWER_SELECT} WHERE p.district_id = $1 AND ($2 IS NULL OR p.department_id = $2)
         ORDER BY p.code"
    );
    Ok(on_conn!(conn, c => sqlx::query_as::<_, PowerRow>(&sql)
        .bind(district).bind(department.map(|d| d.0)).fetch_all(&mut *c).await?))
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct HandoverRow {
    pub id: i64,
    pub power_id: i64,
    pub power_code: String,
    pub power_name: String,
    #[schema(value_type = i64)]
    pub department_id: OrgId,
    #[schema(value_type = i64)]
    pub township_id: OrgId,
    pub township_name: String,
    /// delegate | withdraw
    pub direction: String,
    pub files: String,
    pub training: String,
    pub staff: String,
    pub supervision: String,
    pub instance_id: Option<i64>,
    /// The process state (`power_handover`).
    pub state: Option<String>,
    pub terminal: Option<bool>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub created_by: String,
    #[schema(value_type = Option<String>)]
    pub completed_at: Option<Timestamp>,
    pub list_version: Option<i64>,
}

const HANDOVER_SELECT: &str = "SELECT h.id, h.power_id, p.code AS power_code, p.name AS power_name,
    p.department_id, h.township_id, t.name AS township_name, h.direction, h.files, h.training,
    h.staff, h.supervision, h.instance_id, w.state, w.terminal, h.created_at, h.created_by,
    h.completed_at, h.list_version
    FROM power_handovers h JOIN delegated_powers p ON p.id = h.power_id
    JOIN orgs t ON t.id = h.township_id LEFT JOIN wf_instances w ON w.id = h.instance_id";

pub struct NewHandover<'a> {
    pub power_id: i64,
    pub township_id: OrgId,
    pub direction: &'a str,
    pub files: &'a str,
    pub training: &'a str,
    pub staff: &'a str,
    pub supervision: &'a str,
    pub now: Timestamp,
    pub by: &'a str,
}

pub async fn insert_handover(conn: &mut Conn<'_>, h: &NewHandover<'_>) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO power_handovers (power_id, township_id, direction, files, training, staff,
            supervision, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id"
    )
    .bind(h.power_id).bind(h.township_id).bind(h.direction).bind(h.files).bind(h.training)
    .bind(h.staff).bind(h.supervision).bind(h.now).bind(h.by)
    .fetch_one(&mut *c).await?))
}

pub async fn set_handover_instance(conn: &mut Conn<'_>, id: i64, instance: i64) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("UPDATE power_handovers SET instance_id = $2 WHERE id = $1")
        .bind(id).bind(instance).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn handover(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<HandoverRow>> {
    let sql = format!("{HANDOVER_SELECT} WHERE h.id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as::<_, HandoverRow>(&sql)
        .bind(id).fetch_optional(&mut *c).await?))
}

pub async fn handover_by_instance(
    conn: &mut Conn<'_>,
    instance: i64,
) -> DbResult<Option<HandoverRow>> {
    let sql = format!("{HANDOVER_SELECT} WHERE h.instance_id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as::<_, HandoverRow>(&sql)
        .bind(instance).fetch_optional(&mut *c).await?))
}

pub async fn handovers_of_power(conn: &mut Conn<'_>, power: i64) -> DbResult<Vec<HandoverRow>> {
    let sql = format!("{HANDOVER_SELECT} WHERE h.power_id = $1 ORDER BY h.id DESC");
    Ok(on_conn!(conn, c => sqlx::query_as::<_, HandoverRow>(&sql)
        .bind(power).fetch_all(&mut *c).await?))
}

/// A township's handovers, newest first.
pub async fn handovers_of_township(
    conn: &mut Conn<'_>,
    township: OrgId,
) -> DbResult<Vec<HandoverRow>> {
    let sql = format!("{HANDOVER_SELECT} WHERE h.township_id = $1 ORDER BY h.id DESC");
    Ok(on_conn!(conn, c => sqlx::query_as::<_, HandoverRow>(&sql)
        .bind(township).fetch_all(&mut *c).await?))
}

/// Whether a handover of the power to or from the township is still under way.
pub async fn open_handover_exists(
    conn: &mut Conn<'_>,
    power: i64,
    township: OrgId,
) -> DbResult<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM power_handovers h
         JOIN wf_instances w ON w.id = h.instance_id
         WHERE h.power_id = $1 AND h.township_id = $2 AND NOT w.terminal"
    ).bind(power).bind(township).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

pub async fn complete_handover(
    conn: &mut Conn<'_>,
    id: i64,
    now: Timestamp,
    list_version: Option<i64>,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE power_handovers SET completed_at = $2, list_version = $3 WHERE id = $1"
    ).bind(id).bind(now).bind(list_version).execute(&mut *c).await?.rows_affected());
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct GrantRow {
    pub power_id: i64,
    #[schema(value_type = i64)]
    pub township_id: OrgId,
    pub township_name: String,
    /// granted | withdrawn
    pub status: String,
    #[schema(value_type = String)]
    pub since: Timestamp,
    pub handover_id: i64,
}

pub async fn grants(conn: &mut Conn<'_>, power: i64) -> DbResult<Vec<GrantRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as::<_, GrantRow>(
        "SELECT g.power_id, g.township_id, t.name AS township_name, g.status, g.since,
            g.handover_id
         FROM power_grants g JOIN orgs t ON t.id = g.township_id
         WHERE g.power_id = $1 ORDER BY t.code"
    ).bind(power).fetch_all(&mut *c).await?))
}

pub async fn grant_status(
    conn: &mut Conn<'_>,
    power: i64,
    township: OrgId,
) -> DbResult<Option<String>> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT status FROM power_grants WHERE power_id = $1 AND township_id = $2"
    ).bind(power).bind(township).fetch_optional(&mut *c).await?))
}

pub async fn set_grant(
    conn: &mut Conn<'_>,
    power: i64,
    township: OrgId,
    status: &str,
    now: Timestamp,
    handover: i64,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO power_grants (power_id, township_id, status, since, handover_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (power_id, township_id)
         DO UPDATE SET status = excluded.status, since = excluded.since,
             handover_id = excluded.handover_id"
    ).bind(power).bind(township).bind(status).bind(now).bind(handover)
    .execute(&mut *c).await?.rows_affected());
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct SupervisionRow {
    pub id: i64,
    pub power_id: i64,
    #[schema(value_type = Option<i64>)]
    pub township_id: Option<OrgId>,
    pub township_name: Option<String>,
    pub kind: String,
    pub happened_on: String,
    pub content: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub created_by: String,
}

pub struct NewSupervision<'a> {
    pub power_id: i64,
    pub township_id: Option<OrgId>,
    pub kind: &'a str,
    pub happened_on: &'a str,
    pub content: &'a str,
    pub now: Timestamp,
    pub by: &'a str,
}

pub async fn insert_supervision(conn: &mut Conn<'_>, s: &NewSupervision<'_>) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO power_supervision (power_id, township_id, kind, happened_on, content,
            created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
    )
    .bind(s.power_id).bind(s.township_id).bind(s.kind).bind(s.happened_on).bind(s.content)
    .bind(s.now).bind(s.by)
    .fetch_one(&mut *c).await?))
}

pub async fn supervision(conn: &mut Conn<'_>, power: i64) -> DbResult<Vec<SupervisionRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as::<_, SupervisionRow>(
        "SELECT s.id, s.power_id, s.township_id, t.name AS township_name, s.kind, s.happened_on,
            s.content, s.created_at, s.created_by
         FROM power_supervision s LEFT JOIN orgs t ON t.id = s.township_id
         WHERE s.power_id = $1 ORDER BY s.happened_on DESC, s.id DESC"
    ).bind(power).fetch_all(&mut *c).await?))
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AdmissionRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub district_id: OrgId,
    #[schema(value_type = i64)]
    pub department_id: OrgId,
    pub department_name: String,
    /// admit | adjust | withdraw
    pub kind: String,
    pub title: String,
    #[serde(skip)]
    pub item: String,
    pub funding: String,
    pub staffing: String,
    pub reasons: String,
    /// JSON array of township ids.
    #[serde(skip)]
    pub townships: String,
    pub instance_id: Option<i64>,
    pub state: Option<String>,
    pub terminal: Option<bool>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub created_by: String,
    pub outcome: Option<String>,
    pub reference: Option<String>,
    #[schema(value_type = Option<String>)]
    pub decided_at: Option<Timestamp>,
}

const ADMISSION_SELECT: &str = "SELECT a.id, a.district_id, a.department_id,
    d.name AS department_name, a.kind, a.title, a.item, a.funding, a.staffing, a.reasons,
    a.townships, a.instance_id, w.state, w.terminal, a.created_at, a.created_by, a.outcome,
    a.reference, a.decided_at
    FROM admissions a JOIN orgs d ON d.id = a.department_id
    LEFT JOIN wf_instances w ON w.id = a.instance_id";

pub struct NewAdmission<'a> {
    pub district_id: OrgId,
    pub department_id: OrgId,
    pub kind: &'a str,
    pub title: &'a str,
    pub item: &'a str,
    pub funding: &'a str,
    pub staffing: &'a str,
    pub reasons: &'a str,
    pub townships: &'a str,
    pub now: Timestamp,
    pub by: &'a str,
}

pub async fn insert_admission(conn: &mut Conn<'_>, a: &NewAdmission<'_>) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO admissions (district_id, department_id, kind, title, item, funding, staffing,
            reasons, townships, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"
    )
    .bind(a.district_id).bind(a.department_id).bind(a.kind).bind(a.title).bind(a.item)
    .bind(a.funding).bind(a.staffing).bind(a.reasons).bind(a.townships).bind(a.now).bind(a.by)
    .fetch_one(&mut *c).await?))
}

pub async fn set_admission_instance(conn: &mut Conn<'_>, id: i64, instance: i64) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("UPDATE admissions SET instance_id = $2 WHERE id = $1")
        .bind(id).bind(instance).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn admission(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<AdmissionRow>> {
    let sql = format!("{ADMISSION_SELECT} WHERE a.id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as::<_, AdmissionRow>(&sql)
        .bind(id).fetch_optional(&mut *c).await?))
}

pub async fn admission_by_instance(
    conn: &mut Conn<'_>,
    instance: i64,
) -> DbResult<Option<AdmissionRow>> {
    let sql = format!("{ADMISSION_SELECT} WHERE a.instance_id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as::<_, AdmissionRow>(&sql)
        .bind(instance).fetch_optional(&mut *c).await?))
}

/// The district's applications, newest first, with the total: optionally only one
/// department's, or only those naming one township.
pub async fn admissions(
    conn: &mut Conn<'_>,
    district: OrgId,
    department: Option<OrgId>,
    township: Option<OrgId>,
    limit: i64,
    offset: i64,
) -> DbResult<(Vec<AdmissionRow>, i64)> {
    // `townships` is a JSON array of ids: wrapped in commas, one id is one LIKE.
    let filter = "a.district_id = $1 AND ($2 IS NULL OR a.department_id = $2)
        AND ($3 IS NULL OR ',' || REPLACE(REPLACE(a.townships, '[', ''), ']', '') || ',' LIKE $3)";
    let sql = format!(
        "{ADMISSION_SELECT} WHERE {filter} ORDER BY a.id DESC LIMIT {limit} OFFSET {offset}"
    );
    let count = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM admissions a WHERE {filter}");
    let dept = department.map(|d| d.0);
    let pattern = township.map(|t| format!("%,{t},%"));
    Ok(on_conn!(conn, c => {
        let rows = sqlx::query_as::<_, AdmissionRow>(&sql)
            .bind(district).bind(dept).bind(pattern.clone()).fetch_all(&mut *c).await?;
        let total: i64 = sqlx::query_scalar(&count)
            .bind(district).bind(dept).bind(pattern.clone()).fetch_one(&mut *c).await?;
        (rows, total)
    }))
}

/// Every application's townships and where it stands, for the figures.
pub async fn admission_outcomes(
    conn: &mut Conn<'_>,
    district: OrgId,
) -> DbResult<Vec<(String, Option<String>, Option<String>)>> {
    Ok(
        on_conn!(conn, c => sqlx::query_as::<_, (String, Option<String>, Option<String>)>(
        "SELECT a.townships, w.state, a.outcome FROM admissions a
         LEFT JOIN wf_instances w ON w.id = a.instance_id WHERE a.district_id = $1"
    ).bind(district).fetch_all(&mut *c).await?),
    )
}

/// How many applications this district approved in a year: the next reference's number.
pub async fn approved_in_year(conn: &mut Conn<'_>, district: OrgId, prefix: &str) -> DbResult<i64> {
    let pattern = format!("{prefix}%");
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM admissions
         WHERE district_id = $1 AND reference LIKE $2"
    ).bind(district).bind(pattern).fetch_one(&mut *c).await?))
}

pub async fn decide_admission(
    conn: &mut Conn<'_>,
    id: i64,
    outcome: &str,
    reference: Option<&str>,
    now: Timestamp,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE admissions SET outcome = $2, reference = $3, decided_at = $4 WHERE id = $1"
    ).bind(id).bind(outcome).bind(reference).bind(now).execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// Townships holding a power now, per township, for the figures.
pub async fn grants_per_township(
    conn: &mut Conn<'_>,
    district: OrgId,
) -> DbResult<Vec<(i64, i64)>> {
    Ok(on_conn!(conn, c => sqlx::query_as::<_, (i64, i64)>(
        "SELECT g.township_id, CAST(COUNT(*) AS BIGINT) FROM power_grants g
         JOIN delegated_powers p ON p.id = g.power_id
         WHERE p.district_id = $1 AND g.status = 'granted' GROUP BY g.township_id"
    ).bind(district).fetch_all(&mut *c).await?))
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct InspectionRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub department_id: OrgId,
    pub department_name: String,
    pub name: String,
    pub basis: String,
    pub standard: String,
    /// Points in tenths: 25 = 2.5 points.
    pub points_tenths: i64,
    pub year: i64,
    pub instance_id: Option<i64>,
    pub state: Option<String>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub created_by: String,
}

impl InspectionRow {
    pub fn points(&self) -> String {
        crate::delegation::model::format_tenths(self.points_tenths)
    }
}

const INSPECTION_SELECT: &str = "SELECT i.id, i.department_id, d.name AS department_name, i.name,
    i.basis, i.standard, i.points_tenths, i.year, i.instance_id, w.state, i.created_at,
    i.created_by
    FROM inspection_items i JOIN orgs d ON d.id = i.department_id
    LEFT JOIN wf_instances w ON w.id = i.instance_id";

pub struct NewInspection<'a> {
    pub district_id: OrgId,
    pub department_id: OrgId,
    pub name: &'a str,
    pub basis: &'a str,
    pub standard: &'a str,
    pub points_tenths: i64,
    pub year: i64,
    pub now: Timestamp,
    pub by: &'a str,
}

pub async fn insert_inspection(conn: &mut Conn<'_>, i: &NewInspection<'_>) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO inspection_items (district_id, department_id, name, basis, standard,
            points_tenths, year, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
    )
    .bind(i.district_id).bind(i.department_id).bind(i.name).bind(i.basis).bind(i.standard)
    .bind(i.points_tenths).bind(i.year).bind(i.now).bind(i.by)
    .fetch_one(&mut *c).await?))
}

pub async fn set_inspection_instance(conn: &mut Conn<'_>, id: i64, instance: i64) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("UPDATE inspection_items SET instance_id = $2 WHERE id = $1")
        .bind(id).bind(instance).execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// A year's indicators, optionally one department's, by department then name.
pub async fn inspections(
    conn: &mut Conn<'_>,
    district: OrgId,
    year: i64,
    department: Option<OrgId>,
) -> DbResult<Vec<InspectionRow>> {
    let sql = format!(
        "{INSPECTION_SELECT} WHERE i.district_id = $1 AND i.year = $2
         AND ($3 IS NULL OR i.department_id = $3) ORDER BY d.code, i.id"
    );
    Ok(on_conn!(conn, c => sqlx::query_as::<_, InspectionRow>(&sql)
        .bind(district).bind(year).bind(department.map(|d| d.0)).fetch_all(&mut *c).await?))
}

/// Whether an indicator with this name is already proposed or in force for the department
/// and year: one report per matter.
pub async fn inspection_name_taken(
    conn: &mut Conn<'_>,
    department: OrgId,
    year: i64,
    name: &str,
) -> DbResult<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM inspection_items i
         JOIN wf_instances w ON w.id = i.instance_id
         WHERE i.department_id = $1 AND i.year = $2 AND i.name = $3
           AND w.state IN ('proposed', 'in_force')"
    ).bind(department).bind(year).bind(name).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

pub async fn inspection(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<InspectionRow>> {
    let sql = format!("{INSPECTION_SELECT} WHERE i.id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as::<_, InspectionRow>(&sql)
        .bind(id).fetch_optional(&mut *c).await?))
}
