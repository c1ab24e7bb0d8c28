//! All SQL of the audit context.

use serde::Deserialize;

use super::{Actor, AuditRecord, VerifyReport};
use crate::db::{Conn, Db, DbResult, Dialect, Rows, escape_like};
use crate::on_conn;
use crate::time::Timestamp;

const COLUMNS: &str =
    "seq, at, actor_id, actor, org_id, action, target, detail, ip, request_id, prev_hash, hash";

pub(super) async fn append(conn: &mut Conn<'_>, events: &[super::Event<'_>]) -> DbResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let dialect = conn.dialect();
    // The head row is locked (PostgreSQL) or already under the write lock (SQLite) from here to
    // the commit, so appends from concurrent transactions and processes form one chain. On
    // PostgreSQL every concurrent batch waits for this lock, so it is held over as few round
    // trips as possible: a locking read, then the rows and the new head in one statement.
    let n = events.len() as i64;
    let head = match dialect {
        Dialect::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        Dialect::Sqlite => {
            "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq - $1, hash"
        }
    };
    let (last, mut prev_hash): (i64, String) = on_conn!(conn, c => {
        let q = sqlx::query_as(head);
        let q = if dialect == Dialect::Sqlite { q.bind(n) } else { q };
        q.fetch_one(&mut *c).await?
    });
    let at = Timestamp::now();
    let mut recs = Vec::with_capacity(events.len());
    for (seq, e) in (last + 1..).zip(events) {
        let mut rec = AuditRecord {
            seq,
            at,
            actor_id: e.actor.user_id,
            actor: e.actor.name.clone(),
            org_id: e.actor.org_id,
            action: e.action.to_owned(),
            target: e.target.clone(),
            detail: e.detail.clone(),
            ip: e.actor.ip.clone(),
            request_id: e.actor.request_id.clone(),
            prev_hash,
            hash: String::new(),
        };
        rec.hash = rec.compute_hash();
        prev_hash = rec.hash.clone();
        recs.push(rec);
    }
    // Rows per statement: 12 parameters each, well under both engines' limits.
    for chunk in recs.chunks(1000) {
        let values = Rows::of(chunk)
            .int(|r| r.seq)
            .int(|r| r.at.as_micros())
            .int(|r| r.actor_id.map(|u| u.0))
            .text(|r| r.actor.as_str())
            .int(|r| r.org_id.map(|o| o.0))
            .text(|r| r.action.as_str())
            .text(|r| r.target.as_str())
            .text(|r| r.detail.as_str())
            .text(|r| r.ip.as_str())
            .text(|r| r.request_id.as_str())
            .text(|r| r.prev_hash.as_str())
            .text(|r| r.hash.as_str());
        let insert = format!(
            "INSERT INTO audit_log (seq, at, actor_id, actor, org_id, action, target, detail, ip,
                request_id, prev_hash, hash) {}",
            values.source(dialect, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        );
        let sql = match dialect {
            Dialect::Postgres => format!(
                "WITH logged AS ({insert} RETURNING seq, hash)
                 UPDATE audit_head SET (seq, hash) =
                    (SELECT seq, hash FROM logged ORDER BY seq DESC LIMIT 1)
                 WHERE id = 1"
            ),
            Dialect::Sqlite => insert,
        };
        values.execute(conn, &sql).await?;
    }
    if dialect == Dialect::Sqlite {
        on_conn!(conn, c => {
            sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                .bind(&prev_hash).execute(&mut *c).await?;
        });
    }
    Ok(())
}

/// Search criteria from the audit page and API. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct AuditFilter {
    /// Part of the actor's username.
    pub actor: Option<String>,
    /// An action identifier, e.g. `login_failed`, or a prefix such as `org.`.
    pub action: Option<String>,
    /// Part of the target.
    pub target: Option<String>,
    /// First day, `YYYY-MM-DD` in Beijing time.
    pub from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD` in Beijing time.
    pub to: Option<String>,
    pub page: Option<u32>,
}

pub struct AuditPage {
    pub rows: Vec<AuditRecord>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

struct Where {
    sql: String,
    args: Vec<Arg>,
}

enum Arg {
    Text(String),
    Int(i64),
}

fn build_where(f: &AuditFilter) -> Where {
    let mut sql = String::from(" WHERE 1=1");
    let mut args = Vec::new();
    let mut push = |clause: &str, arg: Arg, args: &mut Vec<Arg>| {
        args.push(arg);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(a) = f.actor.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        push(
            " AND actor LIKE ? ESCAPE '\\'",
            Arg::Text(format!("%{}%", escape_like(a))),
            &mut args,
        );
    }
    if let Some(a) = f.action.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        push(
            " AND action LIKE ? ESCAPE '\\'",
            Arg::Text(format!("{}%", escape_like(a))),
            &mut args,
        );
    }
    if let Some(t) = f.target.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        push(
            " AND target LIKE ? ESCAPE '\\'",
            Arg::Text(format!("%{}%", escape_like(t))),
            &mut args,
        );
    }
    if let Some(d) = f.from.as_deref().and_then(Timestamp::parse_local_date) {
        push(" AND at >= ?", Arg::Int(d.as_micros()), &mut args);
    }
    if let Some(d) = f.to.as_deref().and_then(Timestamp::parse_local_date) {
        push(
            " AND at < ?",
            Arg::Int(d.plus_seconds(86_400).as_micros()),
            &mut args,
        );
    }
    Where { sql, args }
}

macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}

pub const PER_PAGE: u32 = 50;

pub async fn search(db: &Db, f: &AuditFilter) -> DbResult<AuditPage> {
    let w = build_where(f);
    let page = f.page.unwrap_or(1).max(1);
    let offset = i64::from(page - 1) * i64::from(PER_PAGE);
    let list_sql = format!(
        "SELECT {COLUMNS} FROM audit_log{} ORDER BY seq DESC LIMIT {PER_PAGE} OFFSET {offset}",
        w.sql
    );
    let count_sql = format!("SELECT COUNT(*) FROM audit_log{}", w.sql);
    let mut pooled = db.acquire().await?;
    let mut conn = pooled.conn();
    let (rows, total) = on_conn!(&mut conn, c => {
        let rows = bind_args!(sqlx::query_as::<_, AuditRecord>(&list_sql), &w.args)
            .fetch_all(&mut *c).await?;
        let total: i64 = bind_args!(sqlx::query_scalar(&count_sql), &w.args)
            .fetch_one(&mut *c).await?;
        (rows, total)
    });
    Ok(AuditPage {
        rows,
        total,
        page,
        per_page: PER_PAGE,
    })
}

/// Every row matching the filter, oldest first, for CSV export. Fetched in pages so that a
/// year of audit does not sit in memory at once.
pub async fn stream_for_export(
    db: &Db,
    f: &AuditFilter,
    mut each: impl FnMut(&AuditRecord) -> std::io::Result<()>,
) -> DbResult<u64> {
    let w = build_where(f);
    let mut after = 0i64;
    let mut n = 0u64;
    let mut pooled = db.acquire().await?;
    loop {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log{} AND seq > {after} ORDER BY seq LIMIT 2000",
            w.sql
        );
        let mut conn = pooled.conn();
        let rows = on_conn!(&mut conn, c =>
            bind_args!(sqlx::query_as::<_, AuditRecord>(&sql), &w.args).fetch_all(&mut *c).await?);
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for r in &rows {
            each(r).map_err(sqlx::Error::Io)?;
            n += 1;
        }
    }
    Ok(n)
}

#[derive(sqlx::FromRow)]
struct Head {
    seq: i64,
    hash: String,
    purged_through: i64,
    purged_hash: String,
}

pub(super) async fn verify(db: &Db) -> DbResult<VerifyReport> {
    let mut pooled = db.acquire().await?;
    let mut conn = pooled.conn();
    let head: Head = on_conn!(&mut conn, c => sqlx::query_as(
        "SELECT seq, hash, purged_through, purged_hash FROM audit_head WHERE id = 1"
    ).fetch_one(&mut *c).await?);
    let mut report = VerifyReport {
        rows_checked: 0,
        first_seq: None,
        last_seq: None,
        problems: Vec::new(),
    };
    let mut expect_seq = head.purged_through + 1;
    let mut expect_prev = head.purged_hash.clone();
    // Rows at or before the purge anchor must not exist any more; any that do were re-inserted.
    let stray: i64 = on_conn!(&mut conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE seq <= $1"
    ).bind(head.purged_through).fetch_one(&mut *c).await?);
    if stray > 0 {
        report.problems.push(format!(
            "清理点 {} 之前仍有 {stray} 行记录",
            head.purged_through
        ));
    }
    let mut after = head.purged_through;
    loop {
        let rows = on_conn!(&mut conn, c => sqlx::query_as::<_, AuditRecord>(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000"
        )).bind(after).fetch_all(&mut *c).await?);
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for r in &rows {
            report.rows_checked += 1;
            report.first_seq.get_or_insert(r.seq);
            report.last_seq = Some(r.seq);
            if r.seq != expect_seq {
                report
                    .problems
                    .push(format!("第 {expect_seq} 至 {} 行缺失（被删除）", r.seq - 1));
            }
            if r.prev_hash != expect_prev {
                report
                    .problems
                    .push(format!("第 {} 行的前序哈希与上一行不符", r.seq));
            }
            if r.compute_hash() != r.hash {
                report
                    .problems
                    .push(format!("第 {} 行内容与其哈希不符（被修改）", r.seq));
            }
            expect_seq = r.seq + 1;
            expect_prev = r.hash.clone();
        }
    }
    if head.seq != expect_seq - 1 {
        report.problems.push(format!(
            "链头记录到第 {} 行，但最后一行是第 {} 行（末尾记录被删除）",
            head.seq,
            expect_seq - 1
        ));
    } else if head.seq > head.purged_through && head.hash != expect_prev {
        report.problems.push("链头哈希与最后一行不符".to_owned());
    }
    Ok(report)
}

pub(super) async fn purge(db: &Db, actor: &Actor, cutoff: Timestamp) -> DbResult<u64> {
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let head: Head = on_conn!(&mut conn, c => sqlx::query_as(
        "SELECT seq, hash, purged_through, purged_hash FROM audit_head WHERE id = 1"
    ).fetch_one(&mut *c).await?);
    // Only a prefix of the chain may go: everything before the first row young enough to keep.
    let first_kept: Option<i64> = on_conn!(&mut conn, c => sqlx::query_scalar(
        "SELECT MIN(seq) FROM audit_log WHERE at >= $1"
    ).bind(cutoff).fetch_one(&mut *c).await?);
    let through = first_kept.map(|s| s - 1).unwrap_or(head.seq);
    if through <= head.purged_through {
        return Ok(0);
    }
    let anchor: String = on_conn!(&mut conn, c => sqlx::query_scalar(
        "SELECT hash FROM audit_log WHERE seq = $1"
    ).bind(through).fetch_one(&mut *c).await?);
    let deleted = on_conn!(&mut conn, c => sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
        .bind(through).execute(&mut *c).await?.rows_affected());
    on_conn!(&mut conn, c => sqlx::query(
        "UPDATE audit_head SET purged_through = $1, purged_hash = $2 WHERE id = 1"
    ).bind(through).bind(&anchor).execute(&mut *c).await?.rows_affected());
    let event = super::Event {
        actor,
        action: "audit.purge",
        target: "audit_log".to_owned(),
        detail: format!(
            "删除第 {} 至 {through} 行（{deleted} 行）",
            head.purged_through + 1
        ),
    };
    append(&mut conn, &[event]).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// How many events with `action` (exact) happened since `since`: for the home page's figures.
pub async fn count_since(conn: &mut Conn<'_>, action: &str, since: Timestamp) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND at >= $2"
    ).bind(action).bind(since).fetch_one(&mut *c).await?))
}
