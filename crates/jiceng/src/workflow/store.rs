//! All SQL of the workflow plumbing: instances, history, idempotency keys, notices, metrics.

use crate::db::{Conn, DbError, DbResult, Dialect, Rows, Writes, in_row_order};
use crate::ids::{InstanceId, OrgId, UserId};
use crate::on_conn;
use crate::time::Timestamp;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Instance {
    #[schema(value_type = i64)]
    pub id: InstanceId,
    pub process: String,
    pub subject: String,
    pub subject_ref: String,
    #[schema(value_type = i64)]
    pub owner_org_id: OrgId,
    #[schema(value_type = Option<i64>)]
    pub assignee_org_id: Option<OrgId>,
    #[schema(value_type = Option<i64>)]
    pub township_id: Option<OrgId>,
    pub state: String,
    pub terminal: bool,
    pub version: i64,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = String)]
    pub entered_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub deadline: Option<Timestamp>,
    pub overdue: bool,
    #[serde(skip)]
    pub expiry_handled: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub completed_at: Option<Timestamp>,
    pub working_seconds: Option<i64>,
}

const COLUMNS: &str = "id, process, subject, subject_ref, owner_org_id, assignee_org_id, \
    township_id, state, terminal, version, created_at, entered_at, deadline, overdue, \
    expiry_handled, completed_at, working_seconds";

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub seq: i64,
    #[schema(value_type = String)]
    pub at: Timestamp,
    #[schema(value_type = Option<i64>)]
    pub actor_id: Option<UserId>,
    pub actor: String,
    /// Comma-separated role identifiers the actor held.
    pub roles: String,
    #[schema(value_type = Option<i64>)]
    pub org_id: Option<OrgId>,
    pub action: String,
    pub action_label: String,
    pub from_state: Option<String>,
    pub to_state: String,
    /// The states' names in the process (`super::history`); the codes above stay.
    #[sqlx(skip)]
    pub from_label: Option<String>,
    #[sqlx(skip)]
    pub to_label: String,
    pub comment: Option<String>,
    /// JSON array of attachment names.
    pub attachments: String,
    /// JSON object of the fields filled in.
    pub fields: String,
}

pub struct NewRow<'a> {
    pub process: &'a str,
    pub subject: &'a str,
    pub subject_ref: &'a str,
    pub owner_org_id: OrgId,
    pub assignee_org_id: Option<OrgId>,
    pub township_id: Option<OrgId>,
    pub state: &'a str,
    pub terminal: bool,
    pub now: Timestamp,
    pub deadline: Option<Timestamp>,
}

/// The instances' table, whose ids a caller may reserve ([`crate::db::reserve_ids`]).
pub const INSTANCES: &str = "wf_instances";

const INSERT: &str = "INSERT INTO wf_instances (process, subject, subject_ref, owner_org_id,
    assignee_org_id, township_id, state, terminal, version, created_at, entered_at, deadline,
    overdue)";

const ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, FALSE)";

/// Inserts instances in one statement; their ids in the rows' order.
pub async fn insert_all(conn: &mut Conn<'_>, rows: &[NewRow<'_>]) -> DbResult<Vec<InstanceId>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let values = instance_values(Rows::of(rows), |r| r);
    let sql = format!(
        "{INSERT} {} RETURNING id, process, subject_ref",
        values.source(conn.dialect(), ROW)
    );
    let made: Vec<(InstanceId, String, String)> = values.fetch(conn, &sql).await?;
    // (process, subject_ref) is unique.
    in_row_order(
        rows,
        |r| (r.process.to_owned(), r.subject_ref.to_owned()),
        made.into_iter().map(|(id, p, s)| (id, (p, s))).collect(),
        "an instance",
    )
}

/// Adds instances stored under reserved ids, in the rows' order, to `writes`.
pub async fn insert_reserved(
    conn: &mut Conn<'_>,
    writes: &mut Writes,
    rows: &[NewRow<'_>],
    ids: &[InstanceId],
) -> DbResult<()> {
    if rows.len() != ids.len() {
        return Err(DbError::encode("one reserved id per instance"));
    }
    if rows.is_empty() {
        return Ok(());
    }
    let rows: Vec<(InstanceId, &NewRow<'_>)> = ids.iter().copied().zip(rows).collect();
    let values = instance_values(Rows::of(&rows).int(|r| r.0.0), |r| r.1);
    let insert = INSERT.replacen("(process", "(id, process", 1);
    let row = ROW.replacen('(', "(?, ", 1);
    writes
        .insert(conn, &values, &row, |source| format!("{insert} {source}"))
        .await?;
    Ok(())
}

/// The columns of [`INSERT`] after any that `values` has already; `row` finds each row's
/// instance.
fn instance_values<'a, R>(
    values: Rows<'a, R>,
    row: impl Fn(&'a R) -> &'a NewRow<'a> + Copy,
) -> Rows<'a, R> {
    values
        .text(move |r| row(r).process)
        .text(move |r| row(r).subject)
        .text(move |r| row(r).subject_ref)
        .int(move |r| row(r).owner_org_id.0)
        .int(move |r| row(r).assignee_org_id.map(|o| o.0))
        .int(move |r| row(r).township_id.map(|o| o.0))
        .text(move |r| row(r).state)
        .boolean(move |r| row(r).terminal)
        .int(move |r| row(r).now.as_micros())
        .int(move |r| row(r).now.as_micros())
        .int(move |r| row(r).deadline.map(Timestamp::as_micros))
}

pub async fn get(conn: &mut Conn<'_>, id: InstanceId) -> DbResult<Option<Instance>> {
    let sql = format!("SELECT {COLUMNS} FROM wf_instances WHERE id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?))
}

/// Reads an instance and, on PostgreSQL, holds it to the end of the transaction: another
/// transaction that holds or changes it waits, and this one then reads it as that one left
/// it. (SQLite's transactions take their turns whole.)
pub async fn get_held(conn: &mut Conn<'_>, id: InstanceId) -> DbResult<Option<Instance>> {
    let held = match conn.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let sql = format!("SELECT {COLUMNS} FROM wf_instances WHERE id = $1{held}");
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?))
}

pub async fn get_by_subject(
    conn: &mut Conn<'_>,
    process: &str,
    subject_ref: &str,
) -> DbResult<Option<Instance>> {
    let sql = format!("SELECT {COLUMNS} FROM wf_instances WHERE process = $1 AND subject_ref = $2");
    Ok(
        on_conn!(conn, c => sqlx::query_as(&sql).bind(process).bind(subject_ref).fetch_optional(&mut *c).await?),
    )
}

/// The new values after a transition.
pub struct Transition<'a> {
    pub id: InstanceId,
    pub expected_version: i64,
    pub state: &'a str,
    pub terminal: bool,
    pub assignee_org_id: Option<OrgId>,
    pub now: Timestamp,
    pub deadline: Option<Timestamp>,
    /// This transition left its state after the deadline.
    pub late: bool,
    pub working_seconds: Option<i64>,
}

/// Writes a transition if nobody else moved the instance first; returns whether it did.
pub async fn transition(conn: &mut Conn<'_>, t: &Transition<'_>) -> DbResult<bool> {
    let n = on_conn!(conn, c => sqlx::query(
        "UPDATE wf_instances SET state = $1, terminal = $2, assignee_org_id = $3, entered_at = $4,
            deadline = $5, overdue = (overdue OR $6), version = version + 1,
            completed_at = CASE WHEN $2 THEN $4 ELSE NULL END,
            working_seconds = $7
         WHERE id = $8 AND version = $9"
    )
    .bind(t.state).bind(t.terminal).bind(t.assignee_org_id).bind(t.now).bind(t.deadline)
    .bind(t.late).bind(t.working_seconds).bind(t.id).bind(t.expected_version)
    .execute(&mut *c).await?.rows_affected());
    Ok(n == 1)
}

pub async fn set_deadline(
    conn: &mut Conn<'_>,
    id: InstanceId,
    deadline: Timestamp,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("UPDATE wf_instances SET deadline = $1 WHERE id = $2")
        .bind(deadline).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub struct HistoryRow<'a> {
    pub instance_id: InstanceId,
    pub at: Timestamp,
    pub actor_id: Option<UserId>,
    pub actor: &'a str,
    pub roles: &'a str,
    pub org_id: Option<OrgId>,
    pub action: &'a str,
    pub action_label: &'a str,
    pub from_state: Option<&'a str>,
    pub to_state: &'a str,
    pub comment: Option<&'a str>,
    pub attachments: &'a str,
    pub fields: &'a str,
}

pub async fn append_history(conn: &mut Conn<'_>, h: &HistoryRow<'_>) -> DbResult<()> {
    append_history_all(conn, std::slice::from_ref(h)).await
}

/// Appends history rows in one statement, each numbered after its instance's last one; at
/// most one row per instance (the numbers are read before any row is written).
pub async fn append_history_all(conn: &mut Conn<'_>, rows: &[HistoryRow<'_>]) -> DbResult<()> {
    let mut writes = Writes::default();
    append_history_in(conn, &mut writes, rows, false).await?;
    writes.run(conn).await
}

/// [`append_history_all`] with other writes. An instance inserted by another part of the same
/// statement has no rows yet as this part sees the table, so its row is the first; when the
/// rows are all of instances just started (`first`), each is numbered 1 without that look.
pub async fn append_history_in(
    conn: &mut Conn<'_>,
    writes: &mut Writes,
    rows: &[HistoryRow<'_>],
    first: bool,
) -> DbResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let (seq, values) = if first {
        ("1", Rows::of(rows).int(|h| h.instance_id.0))
    } else {
        (
            "(SELECT COALESCE(MAX(seq), 0) + 1 FROM wf_history WHERE instance_id = ?)",
            Rows::of(rows)
                .int(|h| h.instance_id.0)
                .int(|h| h.instance_id.0),
        )
    };
    let template = format!("(?, {seq}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    let values = values
        .int(|h| h.at.as_micros())
        .int(|h| h.actor_id.map(|u| u.0))
        .text(|h| h.actor)
        .text(|h| h.roles)
        .int(|h| h.org_id.map(|o| o.0))
        .text(|h| h.action)
        .text(|h| h.action_label)
        .text(|h| h.from_state)
        .text(|h| h.to_state)
        .text(|h| h.comment)
        .text(|h| h.attachments)
        .text(|h| h.fields);
    writes
        .insert(conn, &values, &template, |source| {
            format!(
                "INSERT INTO wf_history (instance_id, seq, at, actor_id, actor, roles, org_id,
                    action, action_label, from_state, to_state, comment, attachments, fields)
                 {source}"
            )
        })
        .await?;
    Ok(())
}

pub async fn history(conn: &mut Conn<'_>, id: InstanceId) -> DbResult<Vec<HistoryEntry>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT seq, at, actor_id, actor, roles, org_id, action, action_label, from_state, to_state,
            comment, attachments, fields FROM wf_history WHERE instance_id = $1 ORDER BY seq"
    ).bind(id).fetch_all(&mut *c).await?))
}

/// Claims an idempotency key. `false` means the key was used before: the caller must not act.
/// A key is one user's for one action on one instance: a client that reuses a key elsewhere
/// (another case, another action) acts there rather than hearing of an earlier request.
pub async fn claim_key(
    conn: &mut Conn<'_>,
    key: &str,
    id: InstanceId,
    user: Option<UserId>,
    action: &str,
    version_after: i64,
) -> DbResult<bool> {
    let scoped = format!("{}:{}:{action}:{key}", id.0, user.map_or(0, |u| u.0));
    let n = on_conn!(conn, c => sqlx::query(
        "INSERT INTO wf_idempotency (key, instance_id, user_id, version_after, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING"
    )
    .bind(&scoped).bind(id).bind(user).bind(version_after).bind(Timestamp::now())
    .execute(&mut *c).await?.rows_affected());
    Ok(n == 1)
}

/// Instances whose deadline passed and whose expiry has not been handled, oldest first.
/// On PostgreSQL the rows stay locked until the transaction ends and rows another scheduler
/// holds are skipped, so each deadline is handled by exactly one process.
pub async fn claim_due(conn: &mut Conn<'_>, now: Timestamp, limit: i64) -> DbResult<Vec<Instance>> {
    let lock = if conn.dialect() == Dialect::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM wf_instances WHERE terminal = FALSE AND deadline <= $1
           AND (expiry_handled IS NULL OR expiry_handled <> deadline)
         ORDER BY deadline, id LIMIT {limit}{lock}"
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(now).fetch_all(&mut *c).await?))
}

pub async fn mark_expiry_handled(
    conn: &mut Conn<'_>,
    id: InstanceId,
    deadline: Timestamp,
    flag_overdue: bool,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE wf_instances SET expiry_handled = $1, overdue = (overdue OR $2) WHERE id = $3"
    ).bind(deadline).bind(flag_overdue).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn insert_notice(
    conn: &mut Conn<'_>,
    id: InstanceId,
    kind: &str,
    role: &str,
    org: Option<OrgId>,
    message: &str,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO wf_notices (instance_id, kind, role, org_id, message, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)"
    ).bind(id).bind(kind).bind(role).bind(org).bind(message).bind(Timestamp::now())
    .execute(&mut *c).await?.rows_affected());
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Notice {
    pub id: i64,
    #[schema(value_type = i64)]
    pub instance_id: InstanceId,
    /// `notify` or `escalate`.
    pub kind: String,
    pub role: String,
    pub message: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

pub async fn notices_for(
    conn: &mut Conn<'_>,
    org: OrgId,
    roles: &[String],
    limit: i64,
) -> DbResult<Vec<Notice>> {
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..roles.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT id, instance_id, kind, role, message, created_at FROM wf_notices
         WHERE org_id = $1 AND done_at IS NULL AND role IN ({}) ORDER BY created_at DESC LIMIT {limit}",
        placeholders.join(", ")
    );
    Ok(on_conn!(conn, c => {
        let mut q = sqlx::query_as::<_, Notice>(&sql).bind(org);
        for r in roles {
            q = q.bind(r.clone());
        }
        q.fetch_all(&mut *c).await?
    }))
}

/// One clause of an inbox query: instances of `process` in `states` where the actor's
/// organisation is the owner, the assignee, or (for `any`) anywhere in its scope.
pub struct InboxClause {
    pub process: String,
    pub states: Vec<String>,
    pub party: InboxParty,
    /// A further condition on `wf_instances` from the context driving the process.
    pub only: Option<String>,
}

pub enum InboxParty {
    Owner,
    Assignee,
    /// Any organisation within the path prefix (None: everywhere).
    Within(Option<i64>),
}

pub async fn inbox(
    conn: &mut Conn<'_>,
    org: OrgId,
    clauses: &[InboxClause],
    limit: i64,
    offset: i64,
) -> DbResult<(Vec<Instance>, i64)> {
    if clauses.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let mut texts: Vec<String> = Vec::new();
    let mut bind = |v: String| {
        texts.push(v);
        format!("${}", texts.len())
    };
    let mut ors = Vec::new();
    for cl in clauses {
        let p = bind(cl.process.clone());
        let states: Vec<String> = cl.states.iter().map(|s| bind(s.clone())).collect();
        let party = match cl.party {
            InboxParty::Owner => format!("owner_org_id = {}", org.0),
            InboxParty::Assignee => format!("assignee_org_id = {}", org.0),
            InboxParty::Within(None) => "1=1".to_owned(),
            InboxParty::Within(Some(t)) => format!("township_id = {t}"),
        };
        let only = cl
            .only
            .as_deref()
            .map(|o| format!(" AND {o}"))
            .unwrap_or_default();
        ors.push(format!(
            "(process = {p} AND state IN ({}) AND {party}{only})",
            states.join(", ")
        ));
    }
    let w = format!("terminal = FALSE AND ({})", ors.join(" OR "));
    let list_sql = format!(
        "SELECT {COLUMNS} FROM wf_instances WHERE {w}
         ORDER BY CASE WHEN deadline IS NULL THEN 1 ELSE 0 END, deadline, id LIMIT {limit} OFFSET {offset}"
    );
    let count_sql = format!("SELECT COUNT(*) FROM wf_instances WHERE {w}");
    Ok(on_conn!(conn, c => {
        let mut lq = sqlx::query_as::<_, Instance>(&list_sql);
        let mut cq = sqlx::query_scalar::<_, i64>(&count_sql);
        for t in &texts {
            lq = lq.bind(t.clone());
            cq = cq.bind(t.clone());
        }
        (lq.fetch_all(&mut *c).await?, cq.fetch_one(&mut *c).await?)
    }))
}

/// Which instances a metrics query covers.
pub enum MetricsScope {
    All,
    Township(OrgId),
    Owner(OrgId),
}

#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct RawMetrics {
    pub by_state: Vec<(String, i64)>,
    pub total: i64,
    pub completed: i64,
    pub completed_on_time: i64,
    pub working_seconds_sum: i64,
    pub p90_working_seconds: Option<i64>,
    pub overdue: i64,
}

pub async fn metrics(
    conn: &mut Conn<'_>,
    process: &str,
    states: &[&str],
    scope: &MetricsScope,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> DbResult<RawMetrics> {
    use sqlx::Row;
    let org_clause = match scope {
        MetricsScope::All => String::new(),
        MetricsScope::Township(t) => format!(" AND township_id = {}", t.0),
        MetricsScope::Owner(o) => format!(" AND owner_org_id = {}", o.0),
    };
    let w = format!("process = $1{org_clause} AND created_at >= $2 AND created_at < $3");
    // One pass over the covering index and no GROUP BY: the process's states are known, so
    // each gets its own conditional count and nothing needs sorting. CASTs keep PostgreSQL
    // from answering NUMERIC.
    let mut cols = vec![
        "COUNT(*)".to_owned(),
        "CAST(SUM(CASE WHEN completed_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT)".to_owned(),
        "CAST(SUM(CASE WHEN completed_at IS NOT NULL AND NOT overdue THEN 1 ELSE 0 END) AS BIGINT)"
            .to_owned(),
        "CAST(SUM(working_seconds) AS BIGINT)".to_owned(),
        "CAST(SUM(CASE WHEN overdue OR (terminal = FALSE AND deadline < $4) THEN 1 ELSE 0 END) AS BIGINT)"
            .to_owned(),
    ];
    for i in 0..states.len() {
        cols.push(format!(
            "CAST(SUM(CASE WHEN state = ${} THEN 1 ELSE 0 END) AS BIGINT)",
            i + 5
        ));
    }
    let sql = format!("SELECT {} FROM wf_instances WHERE {w}", cols.join(", "));
    let n = cols.len();
    let values: Vec<i64> = on_conn!(conn, c => {
        let mut q = sqlx::query(&sql).bind(process).bind(from).bind(to).bind(now);
        for st in states {
            q = q.bind(*st);
        }
        let row = q.fetch_one(&mut *c).await?;
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            v.push(row.try_get::<Option<i64>, _>(i)?.unwrap_or(0));
        }
        v
    });
    let (total, completed, on_time, seconds, overdue) =
        (values[0], values[1], values[2], values[3], values[4]);
    let by_state = states
        .iter()
        .zip(&values[5..])
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| ((*s).to_owned(), *n))
        .collect();
    // The 90th percentile by rank (the value at ascending rank ceil(0.9 n)), read from the top
    // down so that the database keeps a tenth of the rows in its sort, not nine tenths.
    let p90 = if completed > 0 {
        let rank_asc = ((completed * 9 + 9) / 10 - 1).max(0);
        let offset = completed - 1 - rank_asc;
        let sql = format!(
            "SELECT working_seconds FROM wf_instances WHERE {w} AND completed_at IS NOT NULL
             ORDER BY working_seconds DESC LIMIT 1 OFFSET {offset}"
        );
        on_conn!(conn, c => sqlx::query_scalar::<_, Option<i64>>(&sql)
            .bind(process).bind(from).bind(to).fetch_optional(&mut *c).await?)
        .flatten()
    } else {
        None
    };
    Ok(RawMetrics {
        by_state,
        total,
        completed,
        completed_on_time: on_time,
        working_seconds_sum: seconds,
        p90_working_seconds: p90,
        overdue,
    })
}
