//! All SQL of the cases context. Lists read the state of each case's current ticket from the
//! workflow's table (`wf_instances`), so a case's status is never a second copy that could
//! drift from its ticket.

use super::model::CategoryFields;
use crate::audit;
use crate::auth;
use crate::db::{
    Conn, DbError, DbResult, Dialect, Rows, Writes, escape_like, ids_after, in_row_order, last_id,
    next_ids, reference, reserve_ids,
};
use crate::ids::{CaseId, InstanceId, OrgId, TicketId, UserId};
use crate::on_conn;
use crate::time::Timestamp;
use crate::workflow::store as wf;

// ---------- categories and settings ----------

#[derive(Debug, Clone, sqlx::FromRow)]
struct CategoryRow {
    code: String,
    major: String,
    minor: String,
    respond_normal: String,
    respond_urgent: String,
    handle_normal: String,
    handle_urgent: String,
    department_code: Option<String>,
    duty_item_code: Option<String>,
    active: bool,
}

impl From<CategoryRow> for CategoryFields {
    fn from(r: CategoryRow) -> Self {
        CategoryFields {
            code: r.code,
            major: r.major,
            minor: r.minor,
            respond_normal: r.respond_normal,
            respond_urgent: r.respond_urgent,
            handle_normal: r.handle_normal,
            handle_urgent: r.handle_urgent,
            department_code: r.department_code.unwrap_or_default(),
            duty_item_code: r.duty_item_code.unwrap_or_default(),
            active: r.active,
        }
    }
}

const CATEGORY_COLUMNS: &str = "code, major, minor, respond_normal, respond_urgent, handle_normal, \
    handle_urgent, department_code, duty_item_code, active";

pub async fn count_categories(conn: &mut Conn<'_>, district: OrgId) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM case_categories WHERE district_id = $1"
    ).bind(district).fetch_one(&mut *c).await?))
}

pub async fn categories(conn: &mut Conn<'_>, district: OrgId) -> DbResult<Vec<CategoryFields>> {
    let sql = format!(
        "SELECT {CATEGORY_COLUMNS} FROM case_categories WHERE district_id = $1 ORDER BY code"
    );
    let rows: Vec<CategoryRow> =
        on_conn!(conn, c => sqlx::query_as(&sql).bind(district).fetch_all(&mut *c).await?);
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn category(
    conn: &mut Conn<'_>,
    district: OrgId,
    code: &str,
) -> DbResult<Option<CategoryFields>> {
    let sql = format!(
        "SELECT {CATEGORY_COLUMNS} FROM case_categories WHERE district_id = $1 AND code = $2"
    );
    let row: Option<CategoryRow> = on_conn!(conn, c => sqlx::query_as(&sql)
        .bind(district).bind(code).fetch_optional(&mut *c).await?);
    Ok(row.map(Into::into))
}

/// Inserts or replaces a category; `insert_only` leaves an existing code alone (seeding).
pub async fn upsert_category(
    conn: &mut Conn<'_>,
    district: OrgId,
    f: &CategoryFields,
    by: &str,
    insert_only: bool,
) -> DbResult<u64> {
    let conflict = if insert_only {
        "DO NOTHING"
    } else {
        "DO UPDATE SET major = $3, minor = $4, respond_normal = $5, respond_urgent = $6,
            handle_normal = $7, handle_urgent = $8, department_code = $9, duty_item_code = $10,
            active = $11, updated_at = $12, updated_by = $13"
    };
    let sql = format!(
        "INSERT INTO case_categories (district_id, code, major, minor, respond_normal,
            respond_urgent, handle_normal, handle_urgent, department_code, duty_item_code, active,
            updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (district_id, code) {conflict}"
    );
    let none_if_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let n = on_conn!(conn, c => sqlx::query(&sql)
        .bind(district).bind(&f.code).bind(&f.major).bind(&f.minor).bind(&f.respond_normal)
        .bind(&f.respond_urgent).bind(&f.handle_normal).bind(&f.handle_urgent)
        .bind(none_if_empty(&f.department_code)).bind(none_if_empty(&f.duty_item_code))
        .bind(f.active).bind(Timestamp::now()).bind(by)
        .execute(&mut *c).await?.rows_affected());
    if n > 0 {
        reference::bump(conn).await?;
    }
    Ok(n)
}

#[derive(Debug, Clone, Copy, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Settings {
    pub duplicate_window_hours: i64,
    pub duplicate_threshold_permille: i64,
}

pub async fn settings(conn: &mut Conn<'_>, district: OrgId) -> DbResult<Option<Settings>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT duplicate_window_hours, duplicate_threshold_permille FROM case_settings
         WHERE district_id = $1"
    ).bind(district).fetch_optional(&mut *c).await?))
}

pub async fn set_settings(
    conn: &mut Conn<'_>,
    district: OrgId,
    s: &Settings,
    by: &str,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO case_settings (district_id, duplicate_window_hours,
            duplicate_threshold_permille, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (district_id) DO UPDATE SET duplicate_window_hours = $2,
            duplicate_threshold_permille = $3, updated_at = $4, updated_by = $5"
    ).bind(district).bind(s.duplicate_window_hours).bind(s.duplicate_threshold_permille)
    .bind(Timestamp::now()).bind(by).execute(&mut *c).await?.rows_affected());
    reference::bump(conn).await
}

// ---------- cases ----------

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct CaseRow {
    pub id: CaseId,
    pub district_id: OrgId,
    pub township_id: OrgId,
    pub grid_id: Option<OrgId>,
    pub source: String,
    pub category_code: String,
    pub urgency: String,
    pub description: String,
    pub address: String,
    pub lon_e7: Option<i64>,
    pub lat_e7: Option<i64>,
    pub reporter_name: String,
    pub reporter_phone: String,
    pub reporter_user_id: Option<UserId>,
    pub receipt_code: String,
    pub external_ref: Option<String>,
    pub merged_into: Option<CaseId>,
    pub reopen_count: i64,
    pub reopen_reason: Option<String>,
    pub current_ticket_id: Option<TicketId>,
    pub created_at: Timestamp,
    pub created_by: String,
}

const CASE_COLUMNS: &str = "id, district_id, township_id, grid_id, source, category_code, urgency, \
    description, address, lon_e7, lat_e7, reporter_name, reporter_phone, reporter_user_id, \
    receipt_code, external_ref, merged_into, reopen_count, reopen_reason, current_ticket_id, \
    created_at, created_by";

pub struct NewCaseRow<'a> {
    /// Its id, when reserved first ([`open_cases_near`]); otherwise the engine assigns one.
    /// A statement gives ids for all its rows or for none.
    pub id: Option<CaseId>,
    pub district_id: OrgId,
    pub township_id: OrgId,
    pub grid_id: Option<OrgId>,
    pub source: &'a str,
    pub category_code: &'a str,
    pub urgency: &'a str,
    pub description: &'a str,
    pub address: &'a str,
    pub coordinates: Option<(i64, i64)>,
    pub reporter_name: &'a str,
    pub reporter_phone: &'a str,
    pub reporter_user_id: Option<UserId>,
    pub receipt_code: &'a str,
    pub external_ref: Option<&'a str>,
    pub now: Timestamp,
    pub by: &'a str,
    /// The router's category and unit label, with confidences in thousandths.
    pub suggested_category: Option<(&'a str, i64)>,
    pub suggested_unit: Option<(&'a str, i64)>,
    /// Its current ticket, when the ticket's id was reserved first ([`reserve_ticket_ids`]).
    pub ticket: Option<TicketId>,
    /// Open cases offered at intake as possible duplicates ([`encode_offers`]).
    pub duplicate_offers: &'a str,
}

pub async fn insert_case(conn: &mut Conn<'_>, r: &NewCaseRow<'_>) -> DbResult<CaseId> {
    Ok(insert_cases(conn, std::slice::from_ref(r)).await?[0])
}

/// Inserts cases without reserved ids in one statement; their ids in the rows' order.
pub async fn insert_cases(conn: &mut Conn<'_>, rows: &[NewCaseRow<'_>]) -> DbResult<Vec<CaseId>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    if rows.iter().any(|r| r.id.is_some()) {
        return Err(DbError::encode(
            "cases with reserved ids go with other writes",
        ));
    }
    let values = case_values(Rows::of(rows));
    let sql = format!(
        "{CASE_INSERT} {} RETURNING id, receipt_code",
        values.source(conn.dialect(), CASE_ROW)
    );
    let made: Vec<(CaseId, String)> = values.fetch(conn, &sql).await?;
    // Receipt codes are unique.
    in_row_order(rows, |r| r.receipt_code.to_owned(), made, "a case")
}

/// Adds cases stored under ids reserved with [`open_cases_near`] to `writes`.
pub async fn insert_reserved_cases(
    conn: &mut Conn<'_>,
    writes: &mut Writes,
    rows: &[NewCaseRow<'_>],
) -> DbResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    if rows.iter().any(|r| r.id.is_none()) {
        return Err(DbError::encode("a case without a reserved id"));
    }
    let values = case_values(Rows::of(rows).int(|r| r.id.map(|i| i.0)));
    let insert = CASE_INSERT.replacen("(district_id", "(id, district_id", 1);
    let row = CASE_ROW.replacen('(', "(?, ", 1);
    writes
        .insert(conn, &values, &row, |source| format!("{insert} {source}"))
        .await?;
    Ok(())
}

const CASE_INSERT: &str = "INSERT INTO cases (district_id, township_id, grid_id, source,
    category_code, urgency, description, address, lon_e7, lat_e7, reporter_name, reporter_phone,
    reporter_user_id, receipt_code, external_ref, reopen_count, created_at, created_by,
    suggested_category, suggested_category_permille, suggested_unit, suggested_unit_permille,
    current_ticket_id, duplicate_offers)";

const CASE_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)";

/// The columns of [`CASE_INSERT`] after any that `values` has already.
fn case_values<'a>(values: Rows<'a, NewCaseRow<'a>>) -> Rows<'a, NewCaseRow<'a>> {
    values
        .int(|r| r.district_id.0)
        .int(|r| r.township_id.0)
        .int(|r| r.grid_id.map(|g| g.0))
        .text(|r| r.source)
        .text(|r| r.category_code)
        .text(|r| r.urgency)
        .text(|r| r.description)
        .text(|r| r.address)
        .int(|r| r.coordinates.map(|c| c.0))
        .int(|r| r.coordinates.map(|c| c.1))
        .text(|r| r.reporter_name)
        .text(|r| r.reporter_phone)
        .int(|r| r.reporter_user_id.map(|u| u.0))
        .text(|r| r.receipt_code)
        .text(|r| r.external_ref)
        .int(|r| r.now.as_micros())
        .text(|r| r.by)
        .text(|r| r.suggested_category.map(|s| s.0))
        .int(|r| r.suggested_category.map(|s| s.1))
        .text(|r| r.suggested_unit.map(|s| s.0))
        .int(|r| r.suggested_unit.map(|s| s.1))
        .int(|r| r.ticket.map(|t| t.0))
        .text(|r| r.duplicate_offers)
}

/// The duplicate offers of a case as stored on its row: `id:permille` pairs, most similar
/// first, separated by commas. A column of the case rather than rows of a table of their own:
/// nearly every intake makes several offers, and on PostgreSQL their rows, index entries and
/// two foreign-key checks each cost a quarter of the database's work for an intake.
pub fn encode_offers(offers: impl IntoIterator<Item = (CaseId, i64)>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for (i, (id, permille)) in offers.into_iter().enumerate() {
        let sep = if i > 0 { "," } else { "" };
        // Writing to a String cannot fail.
        let _ = write!(out, "{sep}{}:{permille}", id.0);
    }
    out
}

pub fn decode_offers(stored: &str) -> DbResult<Vec<(CaseId, i64)>> {
    if stored.is_empty() {
        return Ok(Vec::new());
    }
    stored
        .split(',')
        .map(|pair| {
            let (id, permille) = pair
                .split_once(':')
                .ok_or_else(|| DbError::decode(format!("duplicate offer {pair:?}")))?;
            let id = id.trim().parse().map_err(DbError::decode)?;
            let permille = permille.trim().parse().map_err(DbError::decode)?;
            Ok((CaseId(id), permille))
        })
        .collect()
}

pub async fn get_case(conn: &mut Conn<'_>, id: CaseId) -> DbResult<Option<CaseRow>> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?))
}

pub async fn case_by_receipt(conn: &mut Conn<'_>, code: &str) -> DbResult<Option<CaseRow>> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE receipt_code = $1");
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(code).fetch_optional(&mut *c).await?))
}

pub async fn external_ref_taken(conn: &mut Conn<'_>, source: &str, r: &str) -> DbResult<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM cases WHERE source = $1 AND external_ref = $2"
    ).bind(source).bind(r).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

/// Points a case at its current ticket: a demo case's, or a reopened case's new one. A new
/// case is stored already pointing at its first ([`reserve_ticket_ids`]).
pub async fn set_current_ticket(conn: &mut Conn<'_>, id: CaseId, ticket: TicketId) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("UPDATE cases SET current_ticket_id = $1 WHERE id = $2")
        .bind(ticket).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// Points `dup` (and whatever had been merged into it) at `original`.
pub async fn merge(conn: &mut Conn<'_>, dup: CaseId, original: CaseId) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE cases SET merged_into = $1 WHERE id = $2 OR merged_into = $2"
    ).bind(original).bind(dup).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn mark_reopened(conn: &mut Conn<'_>, id: CaseId, reason: &str) -> DbResult<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "UPDATE cases SET reopen_count = reopen_count + 1, reopen_reason = $1
         WHERE id = $2 AND reopen_count = 0"
    ).bind(reason).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(n == 1)
}

/// Cases merged into `id`.
pub async fn merged_children(conn: &mut Conn<'_>, id: CaseId) -> DbResult<Vec<CaseRow>> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE merged_into = $1 ORDER BY id");
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(id).fetch_all(&mut *c).await?))
}

// ---------- tickets ----------

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct TicketRow {
    #[schema(value_type = i64)]
    pub id: TicketId,
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    pub seq: i64,
    #[schema(value_type = i64)]
    pub instance_id: InstanceId,
    #[schema(value_type = Option<i64>)]
    pub unit_org_id: Option<OrgId>,
    pub duty_item_code: Option<String>,
    pub duty_item_name: Option<String>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

const TICKET_COLUMNS: &str =
    "id, case_id, seq, instance_id, unit_org_id, duty_item_code, duty_item_name, created_at";

/// Reserves the ids of `n` new tickets, so that a new case can point at its first ticket when
/// it is stored and need no second write.
pub async fn reserve_ticket_ids(conn: &mut Conn<'_>, n: usize) -> DbResult<Vec<TicketId>> {
    Ok(reserve_ids(conn, "case_tickets", n)
        .await?
        .into_iter()
        .map(TicketId)
        .collect())
}

/// Stores tickets under ids reserved by [`reserve_ticket_ids`]: (id, case, seq, instance).
pub async fn insert_tickets(
    conn: &mut Conn<'_>,
    rows: &[(TicketId, CaseId, i64, InstanceId)],
) -> DbResult<()> {
    let mut writes = Writes::default();
    insert_tickets_in(conn, &mut writes, rows).await?;
    writes.run(conn).await
}

/// [`insert_tickets`] with other writes.
pub async fn insert_tickets_in(
    conn: &mut Conn<'_>,
    writes: &mut Writes,
    rows: &[(TicketId, CaseId, i64, InstanceId)],
) -> DbResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let now = Timestamp::now();
    let values = Rows::of(rows)
        .int(|r| r.0.0)
        .int(|r| r.1.0)
        .int(|r| r.2)
        .int(|r| r.3.0)
        .int(|_| now.as_micros());
    writes
        .insert(conn, &values, "(?, ?, ?, ?, ?)", |source| {
            format!("INSERT INTO case_tickets (id, case_id, seq, instance_id, created_at) {source}")
        })
        .await?;
    Ok(())
}

pub async fn ticket(conn: &mut Conn<'_>, id: TicketId) -> DbResult<Option<TicketRow>> {
    let sql = format!("SELECT {TICKET_COLUMNS} FROM case_tickets WHERE id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?))
}

pub async fn tickets(conn: &mut Conn<'_>, case: CaseId) -> DbResult<Vec<TicketRow>> {
    let sql = format!("SELECT {TICKET_COLUMNS} FROM case_tickets WHERE case_id = $1 ORDER BY seq");
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(case).fetch_all(&mut *c).await?))
}

pub async fn set_ticket_unit(
    conn: &mut Conn<'_>,
    id: TicketId,
    unit: OrgId,
    item_code: &str,
    item_name: &str,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE case_tickets SET unit_org_id = $1, duty_item_code = $2, duty_item_name = $3
         WHERE id = $4"
    ).bind(unit).bind(item_code).bind(item_name).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// Records a return; `false` if this unit had returned the ticket before.
pub async fn insert_return(
    conn: &mut Conn<'_>,
    ticket: TicketId,
    unit: OrgId,
    reason: &str,
    by: &str,
) -> DbResult<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "INSERT INTO case_returns (ticket_id, unit_org_id, reason, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ticket_id, unit_org_id) DO NOTHING"
    ).bind(ticket).bind(unit).bind(reason).bind(Timestamp::now()).bind(by)
    .execute(&mut *c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn has_returned(conn: &mut Conn<'_>, ticket: TicketId, unit: OrgId) -> DbResult<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM case_returns WHERE ticket_id = $1 AND unit_org_id = $2"
    ).bind(ticket).bind(unit).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

// ---------- attachments ----------

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AttachmentMeta {
    pub id: i64,
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    #[schema(value_type = Option<i64>)]
    pub ticket_id: Option<TicketId>,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub created_by: String,
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_attachment(
    conn: &mut Conn<'_>,
    case: CaseId,
    ticket: Option<TicketId>,
    filename: &str,
    content_type: &str,
    sha256: &str,
    data: &[u8],
    by: &str,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO case_attachments (case_id, ticket_id, filename, content_type, size, sha256,
            data, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ).bind(case).bind(ticket).bind(filename).bind(content_type).bind(data.len() as i64)
    .bind(sha256).bind(data).bind(Timestamp::now()).bind(by)
    .execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn attachments(conn: &mut Conn<'_>, case: CaseId) -> DbResult<Vec<AttachmentMeta>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT id, case_id, ticket_id, filename, content_type, size, sha256, created_at, created_by
         FROM case_attachments WHERE case_id = $1 ORDER BY id"
    ).bind(case).fetch_all(&mut *c).await?))
}

pub async fn attachment(
    conn: &mut Conn<'_>,
    id: i64,
) -> DbResult<Option<(AttachmentMeta, Vec<u8>)>> {
    use sqlx::Row;
    let meta: Option<AttachmentMeta> = on_conn!(conn, c => sqlx::query_as(
        "SELECT id, case_id, ticket_id, filename, content_type, size, sha256, created_at, created_by
         FROM case_attachments WHERE id = $1"
    ).bind(id).fetch_optional(&mut *c).await?);
    let Some(meta) = meta else {
        return Ok(None);
    };
    let data: Vec<u8> = on_conn!(conn, c => {
        let row = sqlx::query("SELECT data FROM case_attachments WHERE id = $1")
            .bind(id).fetch_one(&mut *c).await?;
        row.try_get::<Vec<u8>, _>(0)?
    });
    Ok(Some((meta, data)))
}

// ---------- duplicates ----------

/// An open case that may be the same problem as a new one. Its description is not read with
/// it: a description never changes, so intake keeps those it has seen ([`descriptions`]).
#[derive(Debug, Clone, Copy)]
pub struct OpenCase {
    pub id: CaseId,
    pub created_at: Timestamp,
}

/// Where to look for open cases like a new one: its township, category and grid (or no
/// grid), reported since `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NearKey<'a> {
    pub township: OrgId,
    pub category: &'a str,
    pub grid: Option<OrgId>,
    pub since: Timestamp,
}

/// For each key, its open cases, newest first, at most `limit`: all keys in one statement.
/// `outcome = 'open'` holds exactly while the current ticket is not in a final state, and is
/// what the partial index `cases_open_idx` covers. The order names `grid_id`, constant within
/// a key, so that it is the index's order: PostgreSQL does not treat `grid_id IS NULL` as an
/// equality that lets the index's later columns give the order, and would otherwise sort
/// every open case of the key within the window before taking the limit.
///
/// The rows come back aggregated into one (a JSON array on SQLite, arrays on PostgreSQL): the
/// scan runs inside the shared write transaction, and one row crosses to the driver far faster
/// than fifty.
///
/// Also reserves the ids of `n` new cases, of their first tickets and of the tickets' workflow
/// instances: intake needs them all before it stores anything — a case's duplicate offers may
/// name a case stored with it — and on PostgreSQL, where every round trip of a batch holds up
/// the intakes queued behind it, one statement does it all, taking an audit chain for
/// `audit_rows` rows as well, and reading the sessions of `sessions` (token hashes) that the
/// intakes were admitted on, as [`auth::store::sessions_json`] gives them.
pub async fn open_cases_near(
    conn: &mut Conn<'_>,
    keys: &[NearKey<'_>],
    limit: i64,
    n: usize,
    audit_rows: usize,
    sessions: &[&str],
) -> DbResult<(Vec<Vec<OpenCase>>, Reserved)> {
    let c = match conn {
        Conn::Postgres(c) => {
            return open_cases_near_pg(c, keys, limit, n, audit_rows, sessions).await;
        }
        Conn::Sqlite(c) => c,
    };
    let (near, [cases, tickets, instances], sessions) =
        open_cases_near_sqlite(c, keys, limit, n, sessions).await?;
    Ok((
        near,
        Reserved::of(cases, tickets, instances, None, sessions),
    ))
}

/// Ids reserved for new cases, their first tickets and the tickets' workflow instances, in
/// the same order, and the audit chain taken on PostgreSQL (if one was free).
#[derive(Debug)]
pub struct Reserved {
    pub cases: Vec<CaseId>,
    pub tickets: Vec<TicketId>,
    pub instances: Vec<InstanceId>,
    pub audit: Option<audit::Claim>,
    /// The sessions asked for, as [`auth::store::sessions_json`] gives them.
    pub sessions: String,
}

impl Reserved {
    fn of(
        cases: Vec<i64>,
        tickets: Vec<i64>,
        instances: Vec<i64>,
        audit: Option<audit::Claim>,
        sessions: String,
    ) -> Self {
        Reserved {
            cases: cases.into_iter().map(CaseId).collect(),
            tickets: tickets.into_iter().map(TicketId).collect(),
            instances: instances.into_iter().map(InstanceId).collect(),
            audit,
            sessions,
        }
    }
}

/// [`open_cases_near`]'s scan on SQLite: one `UNION ALL` branch per key, and `n` ids each of
/// cases, tickets and instances. The ids are read in the same statement: each statement is a
/// hand-off to the connection's thread and back, which the whole batch waits for.
async fn open_cases_near_sqlite(
    c: &mut sqlx::SqliteConnection,
    keys: &[NearKey<'_>],
    limit: i64,
    n: usize,
    sessions: &[&str],
) -> DbResult<(Vec<Vec<OpenCase>>, [Vec<i64>; 3], String)> {
    // $1 is the limit; then each key's township, category, since and (if any) grid.
    let mut parts = Vec::with_capacity(keys.len());
    let mut next = 2;
    for (k, key) in keys.iter().enumerate() {
        let grid = match key.grid {
            Some(_) => format!("grid_id = ${}", next + 3),
            None => "grid_id IS NULL".to_owned(),
        };
        parts.push(format!(
            "SELECT * FROM (SELECT {k} AS k, id, created_at FROM cases
               WHERE township_id = ${} AND category_code = ${} AND created_at >= ${}
                 AND outcome = 'open' AND merged_into IS NULL AND {grid}
               ORDER BY grid_id DESC, created_at DESC, id DESC LIMIT $1) AS near{k}",
            next,
            next + 1,
            next + 2
        ));
        next += if key.grid.is_some() { 4 } else { 3 };
    }
    let near = if parts.is_empty() {
        "'[]'".to_owned()
    } else {
        format!(
            "(SELECT json_group_array(json_array(k, id, created_at)) FROM ({}))",
            parts.join(" UNION ALL ")
        )
    };
    // The sessions' hashes follow the keys' parameters; NULL keeps the list valid when empty.
    let hashes: String = (next..next + sessions.len())
        .map(|i| format!(", ${i}"))
        .collect();
    let sql = format!(
        "SELECT {near}, {}, {}, {}, {}",
        last_id("cases"),
        last_id("case_tickets"),
        last_id(wf::INSTANCES),
        auth::store::sessions_json(Dialect::Sqlite, &format!("s.token_hash IN (NULL{hashes})"))
    );
    let mut q = sqlx::query_as(&sql);
    if !keys.is_empty() {
        q = q.bind(limit);
    }
    for key in keys {
        q = q.bind(key.township).bind(key.category).bind(key.since);
        if let Some(g) = key.grid {
            q = q.bind(g);
        }
    }
    for h in sessions {
        q = q.bind(*h);
    }
    let (json, cases, tickets, instances, sessions): (String, i64, i64, i64, String) =
        q.fetch_one(c).await?;
    let rows: Vec<(i64, i64, i64)> = serde_json::from_str(&json).map_err(DbError::decode)?;
    Ok((
        near_lists(rows, keys.len()),
        [cases, tickets, instances].map(|last| ids_after(last, n)),
        sessions,
    ))
}

/// Each key's cases, newest first, from rows of (key, id, created_at).
fn near_lists(mut rows: Vec<(i64, i64, i64)>, keys: usize) -> Vec<Vec<OpenCase>> {
    // Aggregates do not promise their input's order.
    rows.sort_by_key(|&(k, id, at)| (k, std::cmp::Reverse((at, id))));
    let mut out: Vec<Vec<OpenCase>> = vec![Vec::new(); keys];
    for (k, id, at) in rows {
        if let Some(list) = usize::try_from(k).ok().and_then(|k| out.get_mut(k)) {
            list.push(OpenCase {
                id: CaseId(id),
                created_at: Timestamp::from_micros(at),
            });
        }
    }
    out
}

/// The descriptions of `ids`, in no particular order.
pub async fn descriptions(conn: &mut Conn<'_>, ids: &[CaseId]) -> DbResult<Vec<(CaseId, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, description FROM cases WHERE id IN ({})",
        crate::db::value_rows(conn.dialect(), ids.len(), "?")
    );
    Ok(on_conn!(conn, c => {
        let mut q = sqlx::query_as(&sql);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(&mut *c).await?
    }))
}

/// [`open_cases_near`] on PostgreSQL: the keys travel as arrays, so that the statement has one
/// shape for any batch and is planned once per connection, not at every batch.
async fn open_cases_near_pg(
    conn: &mut sqlx::PgConnection,
    keys: &[NearKey<'_>],
    limit: i64,
    n: usize,
    audit_rows: usize,
    sessions: &[&str],
) -> DbResult<(Vec<Vec<OpenCase>>, Reserved)> {
    // One branch per kind of key: `grid_id = k.grid` never matches a key without a grid, and
    // the second branch's `k.grid IS NULL` is checked once per key, before any scan.
    let near = |grid: &str| {
        format!(
            "SELECT k.n - 1 AS k, c.id, c.created_at
             FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bigint[])
                  WITH ORDINALITY AS k(township, category, since, grid, n)
             CROSS JOIN LATERAL (
                SELECT id, created_at FROM cases
                WHERE township_id = k.township AND category_code = k.category
                  AND created_at >= k.since AND outcome = 'open' AND merged_into IS NULL
                  AND {grid}
                ORDER BY grid_id DESC, created_at DESC, id DESC LIMIT $1) c"
        )
    };
    let sql = format!(
        "WITH chain AS ({})
         SELECT array_agg(n.k), array_agg(n.id), array_agg(n.created_at), {}, {}, {},
            (SELECT id FROM chain), (SELECT hash FROM chain), (SELECT seqs FROM chain), {}
         FROM ({} UNION ALL {}) n",
        audit::claim_free(audit_rows),
        next_ids("cases", "$6"),
        next_ids("case_tickets", "$6"),
        next_ids(wf::INSTANCES, "$6"),
        auth::store::sessions_json(Dialect::Postgres, "s.token_hash = ANY($7)"),
        near("grid_id = k.grid"),
        near("k.grid IS NULL AND grid_id IS NULL")
    );
    let townships: Vec<i64> = keys.iter().map(|k| k.township.0).collect();
    let categories: Vec<&str> = keys.iter().map(|k| k.category).collect();
    let since: Vec<i64> = keys.iter().map(|k| k.since.as_micros()).collect();
    let grids: Vec<Option<i64>> = keys.iter().map(|k| k.grid.map(|g| g.0)).collect();
    // The aggregates are NULL when no open case is near any key.
    type Found = Option<Vec<i64>>;
    type Ids = Vec<i64>;
    // The chain's columns are NULL when every chain is held.
    type Row = (
        Found,
        Found,
        Found,
        Ids,
        Ids,
        Ids,
        Option<i64>,
        Option<String>,
        Found,
        String,
    );
    let (k, id, at, cases, tickets, instances, chain, hash, seqs, sessions): Row =
        sqlx::query_as(&sql)
            .bind(limit)
            .bind(townships)
            .bind(categories)
            .bind(since)
            .bind(grids)
            .bind(n as i64)
            .bind(sessions)
            .fetch_one(conn)
            .await?;
    let rows = k
        .unwrap_or_default()
        .into_iter()
        .zip(id.unwrap_or_default())
        .zip(at.unwrap_or_default())
        .map(|((k, id), at)| (k, id, at))
        .collect();
    let claim = match (chain, hash, seqs) {
        (Some(chain), Some(hash), Some(seqs)) => Some(audit::Claim { chain, hash, seqs }),
        _ => None,
    };
    Ok((
        near_lists(rows, keys.len()),
        Reserved::of(cases, tickets, instances, claim, sessions),
    ))
}

/// The candidates offered for `case` at its intake, most similar first: (candidate,
/// similarity in thousandths).
pub async fn candidates(conn: &mut Conn<'_>, case: CaseId) -> DbResult<Vec<(CaseId, i64)>> {
    let stored: Option<String> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT duplicate_offers FROM cases WHERE id = $1"
    ).bind(case).fetch_optional(&mut *c).await?);
    decode_offers(stored.as_deref().unwrap_or(""))
}

/// An open case offered as a possible duplicate, as the case page shows it.
pub struct Offered {
    pub id: CaseId,
    pub created_at: Timestamp,
    pub description: String,
    pub similarity_permille: i64,
}

/// The candidates of `case` ([`candidates`]) that have not been merged since, most similar
/// first: their rows in one statement rather than one each.
pub async fn unmerged_candidates(conn: &mut Conn<'_>, case: CaseId) -> DbResult<Vec<Offered>> {
    let offers = candidates(conn, case).await?;
    if offers.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, created_at, description FROM cases
         WHERE merged_into IS NULL AND id IN ({})",
        crate::db::value_rows(conn.dialect(), offers.len(), "?")
    );
    let rows: Vec<(CaseId, Timestamp, String)> = on_conn!(conn, c => {
        let mut q = sqlx::query_as(&sql);
        for (id, _) in &offers {
            q = q.bind(*id);
        }
        q.fetch_all(&mut *c).await?
    });
    let mut by_id: std::collections::HashMap<CaseId, (Timestamp, String)> =
        rows.into_iter().map(|(id, at, d)| (id, (at, d))).collect();
    Ok(offers
        .into_iter()
        .filter_map(|(id, s)| {
            let (created_at, description) = by_id.remove(&id)?;
            Some(Offered {
                id,
                created_at,
                description,
                similarity_permille: s,
            })
        })
        .collect())
}

// ---------- ratings ----------

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct RatingRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    #[schema(value_type = i64)]
    pub ticket_id: TicketId,
    #[schema(value_type = i64)]
    pub via_case_id: CaseId,
    pub rating: String,
    pub comment: String,
    pub rated_by: String,
    pub reopened: bool,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

pub struct NewRating<'a> {
    pub case_id: CaseId,
    pub ticket_id: TicketId,
    pub via_case_id: CaseId,
    pub rating: &'a str,
    pub comment: &'a str,
    pub rated_by: &'a str,
    pub reopened: bool,
}

/// `false` when this receipt already rated this round.
pub async fn insert_rating(conn: &mut Conn<'_>, r: &NewRating<'_>) -> DbResult<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "INSERT INTO case_ratings (case_id, ticket_id, via_case_id, rating, comment, rated_by,
            reopened, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (ticket_id, via_case_id) DO NOTHING"
    ).bind(r.case_id).bind(r.ticket_id).bind(r.via_case_id).bind(r.rating).bind(r.comment)
    .bind(r.rated_by).bind(r.reopened).bind(Timestamp::now())
    .execute(&mut *c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn ratings(conn: &mut Conn<'_>, case: CaseId) -> DbResult<Vec<RatingRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT id, case_id, ticket_id, via_case_id, rating, comment, rated_by, reopened, created_at
         FROM case_ratings WHERE case_id = $1 ORDER BY id"
    ).bind(case).fetch_all(&mut *c).await?))
}

// ---------- lists ----------

/// Who may see which cases, as the list query applies it.
#[derive(Debug, Clone)]
pub enum Visibility {
    /// Township staff: every case of the township.
    Township(OrgId),
    /// A station or department: cases with a ticket dispatched to it.
    Unit(OrgId),
    /// A grid worker: cases in the grids under their organisation and in the grids they
    /// are assigned to now, and cases they reported.
    Grids { org: OrgId, user: UserId },
}

/// [`Visibility::Grids`] as a condition on the cases aliased `c`. An assignment that ended
/// takes its grid's cases with it, though the account stays where it was.
fn grid_worker_cases(org: OrgId, user: UserId) -> String {
    format!(
        "(c.reporter_user_id = {u}
          OR c.grid_id IN (SELECT g.id FROM orgs g, orgs o WHERE o.id = {o} AND g.path LIKE o.path || '%')
          OR c.grid_id IN (SELECT a.grid_id FROM grid_assignments a WHERE a.user_id = {u} AND a.to_at IS NULL))",
        u = user.0,
        o = org.0
    )
}

/// Whether a grid worker sees case `id` ([`Visibility::Grids`]).
pub async fn grid_worker_sees(
    conn: &mut Conn<'_>,
    id: CaseId,
    org: OrgId,
    user: UserId,
) -> DbResult<bool> {
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM cases c WHERE c.id = $1 AND {}",
        grid_worker_cases(org, user)
    );
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(&sql).bind(id).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

/// The workflow instances of the tickets of the cases a grid worker sees, as a condition on
/// `wf_instances`: what their inbox may list.
pub fn grid_worker_instances(org: OrgId, user: UserId) -> String {
    format!(
        "wf_instances.id IN (SELECT t.instance_id FROM case_tickets t JOIN cases c ON c.id = t.case_id
                             WHERE {})",
        grid_worker_cases(org, user)
    )
}

/// The case a search word names by its number: `2026-000123` (the year it came in, then the
/// id: surely a number) or digits alone (`000123`: perhaps a number, perhaps text, no year).
pub fn number_searched(q: &str) -> Option<(CaseId, Option<i32>)> {
    let (digits, year) = match q.split_once('-') {
        Some((year, rest)) if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) => {
            (rest, Some(year.parse().ok()?))
        }
        Some(_) => return None,
        None => (q, None),
    };
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(|id| (CaseId(id), year))
}

/// A case is overdue when its ticket ever passed a deadline or is past the current one.
const OVERDUE: &str = "(w.overdue OR (w.terminal = FALSE AND COALESCE(w.deadline < $1, FALSE)))";

#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub q: Option<String>,
    pub status: Option<String>,
    /// A category code, or a 2-digit major code for the whole major.
    pub category: Option<String>,
    pub source: Option<String>,
    pub grid: Option<OrgId>,
    pub overdue: bool,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct CaseListRow {
    #[schema(value_type = i64)]
    pub id: CaseId,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub source: String,
    pub category_code: String,
    pub category_name: Option<String>,
    pub urgency: String,
    pub description: String,
    pub address: String,
    pub grid_name: Option<String>,
    pub state: String,
    pub overdue: bool,
    #[schema(value_type = Option<String>)]
    pub deadline: Option<Timestamp>,
    pub unit_name: Option<String>,
    #[schema(value_type = Option<i64>)]
    pub merged_into: Option<CaseId>,
}

pub async fn list(
    conn: &mut Conn<'_>,
    vis: &Visibility,
    f: &CaseFilter,
    now: Timestamp,
) -> DbResult<(Vec<CaseListRow>, i64)> {
    let mut texts: Vec<String> = vec![];
    let mut arg = |v: String| {
        texts.push(v);
        format!("${}", texts.len() + 1)
    };
    let mut clauses = vec![match vis {
        Visibility::Township(t) => format!("c.township_id = {}", t.0),
        Visibility::Unit(o) => format!(
            "(EXISTS (SELECT 1 FROM case_tickets x WHERE x.case_id = c.id AND x.unit_org_id = {0})
              OR EXISTS (SELECT 1 FROM case_parts x WHERE x.case_id = c.id AND x.unit_org_id = {0}))",
            o.0
        ),
        Visibility::Grids { org, user } => grid_worker_cases(*org, *user),
    }];
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        // Every word must match: a case number as people quote it (2026-000123) names that
        // case, of that year; digits alone name the case with that id or are looked for in the
        // text, as every other word is, in the description or the address.
        for word in q.split_whitespace() {
            let found = number_searched(word);
            if let Some((id, Some(year))) = found {
                let bounds = (
                    Timestamp::parse_local_date(&format!("{year:04}-01-01")),
                    Timestamp::parse_local_date(&format!("{:04}-01-01", year + 1)),
                );
                clauses.push(match bounds {
                    (Some(from), Some(to)) => format!(
                        "(c.id = {} AND c.created_at >= {} AND c.created_at < {})",
                        id.0,
                        from.as_micros(),
                        to.as_micros()
                    ),
                    _ => "1 = 0".to_owned(),
                });
                continue;
            }
            let p = arg(format!("%{}%", escape_like(word)));
            let text =
                format!("(c.description LIKE {p} ESCAPE '\\' OR c.address LIKE {p} ESCAPE '\\')");
            clauses.push(match found {
                Some((id, _)) => format!("(c.id = {} OR {text})", id.0),
                None => text,
            });
        }
    }
    if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
        clauses.push(format!("w.state = {}", arg(s.to_owned())));
    }
    if let Some(cat) = f.category.as_deref().filter(|s| !s.is_empty()) {
        clauses.push(format!(
            "c.category_code LIKE {}",
            arg(format!("{}%", escape_like(cat)))
        ));
        if let Some(last) = clauses.last_mut() {
            last.push_str(" ESCAPE '\\'");
        }
    }
    if let Some(s) = f.source.as_deref().filter(|s| !s.is_empty()) {
        clauses.push(format!("c.source = {}", arg(s.to_owned())));
    }
    if let Some(g) = f.grid {
        clauses.push(format!("c.grid_id = {}", g.0));
    }
    if f.overdue {
        clauses.push(format!("{OVERDUE} = TRUE"));
    }
    // $1 (now) is referenced in every query so that PostgreSQL knows its type.
    clauses.push("CAST($1 AS BIGINT) IS NOT NULL".to_owned());
    let w = clauses.join(" AND ");
    let from = "FROM cases c
        JOIN case_tickets t ON t.id = c.current_ticket_id
        JOIN wf_instances w ON w.id = t.instance_id
        LEFT JOIN case_categories k ON k.district_id = c.district_id AND k.code = c.category_code
        LEFT JOIN orgs g ON g.id = c.grid_id
        LEFT JOIN orgs u ON u.id = t.unit_org_id";
    let list_sql = format!(
        "SELECT c.id, c.created_at, c.source, c.category_code,
            k.major || '／' || k.minor AS category_name, c.urgency, c.description, c.address,
            g.name AS grid_name, w.state, {OVERDUE} AS overdue, w.deadline, u.name AS unit_name, c.merged_into
         {from} WHERE {w} ORDER BY c.id DESC LIMIT {} OFFSET {}",
        f.limit.clamp(1, 100_000),
        f.offset.max(0)
    );
    let count_sql = format!("SELECT COUNT(*) {from} WHERE {w}");
    Ok(on_conn!(conn, c => {
        let mut lq = sqlx::query_as::<_, CaseListRow>(&list_sql).bind(now);
        let mut cq = sqlx::query_scalar::<_, i64>(&count_sql).bind(now);
        for t in &texts {
            lq = lq.bind(t.clone());
            cq = cq.bind(t.clone());
        }
        (lq.fetch_all(&mut *c).await?, cq.fetch_one(&mut *c).await?)
    }))
}

/// Whether a unit has (or had) a ticket of the case.
pub async fn unit_has_ticket(conn: &mut Conn<'_>, case: CaseId, unit: OrgId) -> DbResult<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM case_tickets WHERE case_id = $1 AND unit_org_id = $2"
    ).bind(case).bind(unit).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

// ---------- parts: summons, joint enforcement co-units, referrals ----------

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct PartRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    /// summon, joint or referral.
    pub kind: String,
    #[schema(value_type = i64)]
    pub instance_id: InstanceId,
    #[schema(value_type = i64)]
    pub unit_org_id: OrgId,
    #[schema(value_type = i64)]
    pub township_id: OrgId,
    pub reason: String,
    #[schema(value_type = Option<String>)]
    pub due_at: Option<Timestamp>,
    pub officer: Option<String>,
    pub reported_on_time: Option<i64>,
    #[schema(value_type = Option<String>)]
    pub reported_at: Option<Timestamp>,
    pub outcome: Option<String>,
    #[schema(value_type = Option<String>)]
    pub done_at: Option<Timestamp>,
    pub score: Option<i64>,
    pub score_comment: Option<String>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub created_by: String,
}

const PART_COLUMNS: &str = "id, case_id, kind, instance_id, unit_org_id, township_id, reason, \
    due_at, officer, reported_on_time, reported_at, outcome, done_at, score, score_comment, created_at, \
    created_by";

#[allow(clippy::too_many_arguments)]
pub async fn insert_part(
    conn: &mut Conn<'_>,
    case: CaseId,
    kind: &str,
    instance: InstanceId,
    unit: OrgId,
    township: OrgId,
    reason: &str,
    due_at: Option<Timestamp>,
    by: &str,
) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO case_parts (case_id, kind, instance_id, unit_org_id, township_id, reason,
            due_at, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
    ).bind(case).bind(kind).bind(instance).bind(unit).bind(township).bind(reason).bind(due_at)
    .bind(Timestamp::now()).bind(by).fetch_one(&mut *c).await?))
}

pub async fn part(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<PartRow>> {
    let sql = format!("SELECT {PART_COLUMNS} FROM case_parts WHERE id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?))
}

pub async fn parts(conn: &mut Conn<'_>, case: CaseId) -> DbResult<Vec<PartRow>> {
    let sql = format!("SELECT {PART_COLUMNS} FROM case_parts WHERE case_id = $1 ORDER BY id");
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(case).fetch_all(&mut *c).await?))
}

/// How many parts of `kind` the case has, for the next part's reference.
pub async fn count_parts(conn: &mut Conn<'_>, case: CaseId, kind: &str) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM case_parts WHERE case_id = $1 AND kind = $2"
    ).bind(case).bind(kind).fetch_one(&mut *c).await?))
}

/// Parts that keep the case from closing: a co-unit not done, a summoned department that has
/// not replied. Answers (kind, unit name).
pub async fn blocking_parts(conn: &mut Conn<'_>, case: CaseId) -> DbResult<Vec<(String, String)>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT p.kind, o.name FROM case_parts p
           JOIN wf_instances w ON w.id = p.instance_id
           JOIN orgs o ON o.id = p.unit_org_id
         WHERE p.case_id = $1 AND ((p.kind = 'joint' AND w.terminal = FALSE)
            OR (p.kind = 'summon' AND w.state IN ('summoned', 'reported')))
         ORDER BY p.id"
    ).bind(case).fetch_all(&mut *c).await?))
}

pub async fn unit_has_part(conn: &mut Conn<'_>, case: CaseId, unit: OrgId) -> DbResult<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM case_parts WHERE case_id = $1 AND unit_org_id = $2"
    ).bind(case).bind(unit).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

pub async fn part_reported(
    conn: &mut Conn<'_>,
    id: i64,
    officer: &str,
    on_time: bool,
    at: Timestamp,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE case_parts SET officer = $1, reported_on_time = $2, reported_at = $3 WHERE id = $4"
    ).bind(officer).bind(i64::from(on_time)).bind(at).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn part_done(conn: &mut Conn<'_>, id: i64, outcome: &str, at: Timestamp) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE case_parts SET outcome = $1, done_at = $2 WHERE id = $3"
    ).bind(outcome).bind(at).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn part_scored(conn: &mut Conn<'_>, id: i64, score: i64, comment: &str) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE case_parts SET score = $1, score_comment = $2 WHERE id = $3"
    ).bind(score).bind(comment).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

// ---------- figures kept for metrics ----------

/// What an action changes in the figures a case keeps for metrics.
#[derive(Debug, Clone, Copy)]
pub enum Fact<'a> {
    /// The first dispatch's time and lateness count; every dispatch moves the unit.
    Dispatched {
        unit: OrgId,
        late: bool,
    },
    Accepted {
        late: bool,
    },
    Reworked,
    Closed {
        late: bool,
    },
    Outcome(&'a str),
    Rated(&'a str),
    Reopened,
}

pub async fn record_fact(
    conn: &mut Conn<'_>,
    id: CaseId,
    f: Fact<'_>,
    now: Timestamp,
) -> DbResult<()> {
    let late = |l: bool| i64::from(l);
    on_conn!(conn, c => match f {
        Fact::Dispatched { unit, late: l } => sqlx::query(
            "UPDATE cases SET unit_org_id = $1,
                dispatch_late = CASE WHEN dispatched_at IS NULL THEN $2 ELSE dispatch_late END,
                dispatched_at = COALESCE(dispatched_at, $3) WHERE id = $4"
        ).bind(unit).bind(late(l)).bind(now).bind(id),
        Fact::Accepted { late: l } => sqlx::query(
            "UPDATE cases SET accept_late = CASE WHEN accepted_at IS NULL THEN $1 ELSE accept_late END,
                accepted_at = COALESCE(accepted_at, $2) WHERE id = $3"
        ).bind(late(l)).bind(now).bind(id),
        Fact::Reworked => sqlx::query(
            "UPDATE cases SET rework_count = rework_count + 1 WHERE id = $1 AND CAST($2 AS BIGINT) IS NOT NULL"
        ).bind(id).bind(now),
        Fact::Closed { late: l } => sqlx::query(
            "UPDATE cases SET closed_at = $1, close_late = $2, outcome = 'closed' WHERE id = $3"
        ).bind(now).bind(late(l)).bind(id),
        Fact::Outcome(o) => sqlx::query(
            "UPDATE cases SET outcome = $1 WHERE id = $2 AND CAST($3 AS BIGINT) IS NOT NULL"
        ).bind(o).bind(id).bind(now),
        Fact::Rated(r) => sqlx::query(
            "UPDATE cases SET rating = $1 WHERE id = $2 AND CAST($3 AS BIGINT) IS NOT NULL"
        ).bind(r).bind(id).bind(now),
        Fact::Reopened => sqlx::query(
            "UPDATE cases SET outcome = 'open', closed_at = NULL, close_late = 0
             WHERE id = $1 AND CAST($2 AS BIGINT) IS NOT NULL"
        ).bind(id).bind(now),
    }.execute(&mut *c).await?.rows_affected());
    Ok(())
}

// ---------- routing ----------

pub async fn set_suggestion(
    conn: &mut Conn<'_>,
    id: CaseId,
    category: Option<(&str, i64)>,
    unit: Option<(&str, i64)>,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE cases SET suggested_category = $1, suggested_category_permille = $2,
            suggested_unit = $3, suggested_unit_permille = $4 WHERE id = $5"
    ).bind(category.map(|c| c.0)).bind(category.map(|c| c.1)).bind(unit.map(|u| u.0))
    .bind(unit.map(|u| u.1)).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Routing {
    pub suggested_category: Option<String>,
    pub suggested_category_permille: Option<i64>,
    pub suggested_unit: Option<String>,
    pub suggested_unit_permille: Option<i64>,
    pub learned_category: Option<String>,
    pub learned_unit: Option<String>,
}

pub async fn routing(conn: &mut Conn<'_>, id: CaseId) -> DbResult<Routing> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT suggested_category, suggested_category_permille, suggested_unit,
            suggested_unit_permille, learned_category, learned_unit FROM cases WHERE id = $1"
    ).bind(id).fetch_optional(&mut *c).await?)
    .unwrap_or_default())
}

/// Records what people confirmed, and (for a category) makes it the case's category.
pub async fn set_learned(
    conn: &mut Conn<'_>,
    id: CaseId,
    category: Option<&str>,
    unit: Option<&str>,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE cases SET learned_category = COALESCE($1, learned_category),
            category_code = COALESCE($1, category_code),
            learned_unit = COALESCE($2, learned_unit) WHERE id = $3"
    ).bind(category).bind(unit).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// Open cases of `district` without a routing suggestion: id and text.
pub async fn unsuggested_open(
    conn: &mut Conn<'_>,
    district: OrgId,
) -> DbResult<Vec<(CaseId, String)>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT id, description FROM cases
         WHERE district_id = $1 AND outcome = 'open' AND merged_into IS NULL
           AND suggested_category IS NULL
         ORDER BY id"
    ).bind(district).fetch_all(&mut *c).await?))
}

/// Cases people have routed, newest first: (description, confirmed category, confirmed unit).
pub async fn routed_examples(
    conn: &mut Conn<'_>,
    district: OrgId,
    limit: i64,
) -> DbResult<Vec<(String, Option<String>, Option<String>)>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT description, learned_category, learned_unit FROM cases
         WHERE district_id = $1 AND (learned_category IS NOT NULL OR learned_unit IS NOT NULL)
         ORDER BY id DESC LIMIT $2"
    ).bind(district).bind(limit).fetch_all(&mut *c).await?))
}

/// An open case with a location, for maps.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MapPoint {
    pub id: CaseId,
    pub created_at: Timestamp,
    pub lon_e7: i64,
    pub lat_e7: i64,
    pub state: String,
    pub overdue: bool,
    pub category_code: String,
}

/// Open cases with coordinates in the organisations under the materialised path `within`
/// (their grid's, or when they have none their township's), newest first.
pub async fn open_points(conn: &mut Conn<'_>, within: &str, limit: i64) -> DbResult<Vec<MapPoint>> {
    let sql = format!(
        "SELECT c.id, c.created_at, c.lon_e7, c.lat_e7, w.state, w.overdue, c.category_code
         FROM cases c
         JOIN case_tickets t ON t.id = c.current_ticket_id
         JOIN wf_instances w ON w.id = t.instance_id
         JOIN orgs tw ON tw.id = c.township_id
         LEFT JOIN orgs g ON g.id = c.grid_id
         WHERE NOT w.terminal AND c.merged_into IS NULL
           AND c.lon_e7 IS NOT NULL AND c.lat_e7 IS NOT NULL
           AND (g.path LIKE $1 OR (c.grid_id IS NULL AND tw.path LIKE $1))
         ORDER BY c.id DESC LIMIT {limit}"
    );
    Ok(on_conn!(conn, c => sqlx::query_as::<_, MapPoint>(&sql)
        .bind(format!("{within}%")).fetch_all(&mut *c).await?))
}

/// Cases taken in per grid under `within` in [from, to), merged duplicates not counted twice.
pub async fn counts_per_grid(
    conn: &mut Conn<'_>,
    within: &str,
    from: Timestamp,
    to: Timestamp,
) -> DbResult<Vec<(OrgId, i64)>> {
    Ok(on_conn!(conn, c => sqlx::query_as::<_, (OrgId, i64)>(
        "SELECT c.grid_id, CAST(COUNT(*) AS BIGINT) FROM cases c JOIN orgs g ON g.id = c.grid_id
         WHERE g.path LIKE $1 AND c.created_at >= $2 AND c.created_at < $3
           AND c.merged_into IS NULL
         GROUP BY c.grid_id"
    ).bind(format!("{within}%")).bind(from).bind(to).fetch_all(&mut *c).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_reads_case_numbers_as_people_quote_them() {
        assert_eq!(
            number_searched("2026-003004"),
            Some((CaseId(3004), Some(2026)))
        );
        assert_eq!(number_searched("003004"), Some((CaseId(3004), None)));
        for text in ["占道", "2026-", "26-0001", "2026-12a", "游商 占道", ""] {
            assert_eq!(number_searched(text), None, "{text}");
        }
    }

    #[test]
    fn duplicate_offers_read_back_as_stored() {
        let offers = vec![(CaseId(42), 913), (CaseId(7), 500), (CaseId(1_000_001), 0)];
        let stored = encode_offers(offers.iter().copied());
        assert_eq!(stored, "42:913,7:500,1000001:0");
        assert_eq!(decode_offers(&stored).unwrap(), offers);
        assert_eq!(encode_offers([]), "");
        assert!(decode_offers("").unwrap().is_empty());
    }

    #[test]
    fn a_damaged_duplicate_offer_is_an_error_not_a_guess() {
        for bad in ["42", "42:x", ":5", "42:913,", "a:1"] {
            assert!(decode_offers(bad).is_err(), "{bad}");
        }
    }
}
