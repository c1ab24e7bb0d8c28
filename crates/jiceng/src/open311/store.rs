//! All SQL of the Open311 context: its API keys, and the read-only public projection of cases
//! (no reporter, no description: what a receipt code would show, by case number).

use crate::db::{Conn, DbResult};
use crate::ids::OrgId;
use crate::on_conn;
use crate::time::Timestamp;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct KeyRow {
    pub id: i64,
    pub district_id: OrgId,
    pub name: String,
    pub prefix: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
    pub last_used_at: Option<Timestamp>,
}

const KEY_COLUMNS: &str = "id, district_id, name, prefix, created_at, created_by, revoked_at, \
    revoked_by, last_used_at";

pub struct NewKey<'a> {
    pub district_id: OrgId,
    pub name: &'a str,
    pub key_hash: &'a str,
    pub prefix: &'a str,
    pub now: Timestamp,
    pub by: &'a str,
}

pub async fn insert_key(conn: &mut Conn<'_>, k: &NewKey<'_>) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO open311_keys (district_id, name, key_hash, prefix, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
    )
    .bind(k.district_id).bind(k.name).bind(k.key_hash).bind(k.prefix).bind(k.now).bind(k.by)
    .fetch_one(&mut *c).await?))
}

pub async fn keys(conn: &mut Conn<'_>, district: OrgId) -> DbResult<Vec<KeyRow>> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM open311_keys WHERE district_id = $1
         ORDER BY revoked_at IS NOT NULL, id DESC"
    );
    Ok(on_conn!(conn, c => sqlx::query_as::<_, KeyRow>(&sql)
        .bind(district).fetch_all(&mut *c).await?))
}

pub async fn key(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<KeyRow>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM open311_keys WHERE id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as::<_, KeyRow>(&sql)
        .bind(id).fetch_optional(&mut *c).await?))
}

/// The live key with this hash.
pub async fn key_by_hash(conn: &mut Conn<'_>, hash: &str) -> DbResult<Option<KeyRow>> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM open311_keys WHERE key_hash = $1 AND revoked_at IS NULL"
    );
    Ok(on_conn!(conn, c => sqlx::query_as::<_, KeyRow>(&sql)
        .bind(hash).fetch_optional(&mut *c).await?))
}

pub async fn revoke_key(conn: &mut Conn<'_>, id: i64, now: Timestamp, by: &str) -> DbResult<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "UPDATE open311_keys SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL"
    ).bind(id).bind(now).bind(by).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

pub async fn touch_key(conn: &mut Conn<'_>, id: i64, now: Timestamp) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("UPDATE open311_keys SET last_used_at = $2 WHERE id = $1")
        .bind(id).bind(now).execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// A case as a service request: its current ticket's state, unit and deadline.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestRow {
    pub id: i64,
    pub created_at: Timestamp,
    pub category_code: String,
    pub major: Option<String>,
    pub minor: Option<String>,
    pub township_name: String,
    pub address: String,
    pub lon_e7: Option<i64>,
    pub lat_e7: Option<i64>,
    pub merged_into: Option<i64>,
    /// When the case it was merged into came in: its number needs the year.
    pub merged_created_at: Option<Timestamp>,
    pub state: String,
    pub terminal: bool,
    pub deadline: Option<Timestamp>,
    pub updated_at: Timestamp,
    pub unit_name: Option<String>,
    /// The handling unit's report, the outcome the public may read once closed.
    pub report: Option<String>,
    pub receipt_code: String,
}

const REQUEST_SELECT: &str = "SELECT c.id, c.created_at, c.category_code, k.major, k.minor,
    tw.name AS township_name, c.address, c.lon_e7, c.lat_e7, c.merged_into,
    m.created_at AS merged_created_at, w.state, w.terminal,
    w.deadline, w.entered_at AS updated_at, u.name AS unit_name,
    (SELECT h.comment FROM wf_history h WHERE h.instance_id = w.id AND h.action = 'report'
       ORDER BY h.seq DESC LIMIT 1) AS report,
    c.receipt_code
    FROM cases c
    JOIN case_tickets t ON t.id = c.current_ticket_id
    JOIN wf_instances w ON w.id = t.instance_id
    JOIN orgs tw ON tw.id = c.township_id
    LEFT JOIN orgs u ON u.id = t.unit_org_id
    LEFT JOIN cases m ON m.id = c.merged_into
    LEFT JOIN case_categories k ON k.district_id = c.district_id AND k.code = c.category_code";

/// The GeoReport filters of `GET requests`.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub ids: Vec<i64>,
    pub service_codes: Vec<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// `Some(true)` open only, `Some(false)` closed only.
    pub open: Option<bool>,
    pub limit: i64,
}

pub async fn requests(
    conn: &mut Conn<'_>,
    district: OrgId,
    f: &RequestFilter,
) -> DbResult<Vec<RequestRow>> {
    let mut clauses = vec!["c.district_id = $1".to_owned()];
    let mut texts: Vec<String> = Vec::new();
    // Ids and codes are few and already parsed: numbers inline, codes as parameters.
    if !f.ids.is_empty() {
        let ids: Vec<String> = f.ids.iter().map(i64::to_string).collect();
        clauses.push(format!("c.id IN ({})", ids.join(", ")));
    }
    if !f.service_codes.is_empty() {
        let mut marks = Vec::new();
        for code in &f.service_codes {
            texts.push(code.clone());
            marks.push(format!("${}", texts.len() + 1));
        }
        clauses.push(format!("c.category_code IN ({})", marks.join(", ")));
    }
    let n = texts.len();
    // An open-ended period is bounded by the extremes, so the parameters never change.
    clauses.push(format!(
        "c.created_at >= ${} AND c.created_at <= ${}",
        n + 2,
        n + 3
    ));
    match f.open {
        Some(true) => clauses.push("NOT w.terminal".to_owned()),
        Some(false) => clauses.push("w.terminal".to_owned()),
        None => {}
    }
    let sql = format!(
        "{REQUEST_SELECT} WHERE {} ORDER BY c.id DESC LIMIT {}",
        clauses.join(" AND "),
        f.limit
    );
    let from = f.from.unwrap_or(Timestamp::from_micros(i64::MIN));
    let to = f.to.unwrap_or(Timestamp::from_micros(i64::MAX));
    Ok(on_conn!(conn, c => {
        let mut q = sqlx::query_as::<_, RequestRow>(&sql).bind(district);
        for t in &texts {
            q = q.bind(t.clone());
        }
        q.bind(from).bind(to).fetch_all(&mut *c).await?
    }))
}

/// The case a receipt code belongs to.
pub async fn case_by_receipt(
    conn: &mut Conn<'_>,
    code: &str,
) -> DbResult<Option<(i64, Timestamp)>> {
    Ok(on_conn!(conn, c => sqlx::query_as::<_, (i64, Timestamp)>(
        "SELECT id, created_at FROM cases WHERE receipt_code = $1"
    ).bind(code).fetch_optional(&mut *c).await?))
}
