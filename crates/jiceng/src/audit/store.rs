//! All SQL of the audit context.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::Deserialize;

use super::{Actor, AuditRecord, VerifyReport};
use crate::db::{Conn, Db, DbResult, Dialect, Rows, Writes, escape_like};
use crate::on_conn;
use crate::time::Timestamp;

const COLUMNS: &str =
    "seq, at, actor_id, actor, org_id, action, target, detail, ip, request_id, prev_hash, hash";

/// The heads in `audit_head` (migration 15). A PostgreSQL writer that finds every one held waits
/// for one of them, taken in turn.
const CHAINS: i64 = 4;

/// A chain taken for a transaction's rows by a statement of another context along with its
/// own work ([`claim_free`]): the chain, its head's hash, and numbers for the rows.
#[derive(Debug)]
pub struct Claim {
    pub chain: i64,
    pub hash: String,
    pub seqs: Vec<i64>,
}

/// On PostgreSQL, a query that takes a chain no one else holds and `rows` numbers for its
/// rows, answering (id, hash, seqs), or no row when every chain is held: another context's
/// statement may run it as a `WITH` part and hand the [`Claim`] to [`append`], which then
/// spends no round trip of its own on it.
pub fn claim_free(rows: usize) -> String {
    format!(
        "{} ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) h",
        take(rows)
    )
}

/// How many numbers to take is written into the statement, rounded up to a power of two
/// (numbers left over are gaps, which chains have anyway). As a parameter, it let the planner
/// price each call's plan by the real count and a generic plan by a guess of a thousand: it
/// planned afresh at every append, a tenth of a millisecond.
fn take(rows: usize) -> String {
    format!(
        "SELECT h.id, h.hash,
            ARRAY(SELECT nextval('audit_seq') FROM generate_series(1, {})) AS seqs
         FROM (SELECT id, hash FROM audit_head",
        rows.next_power_of_two()
    )
}

/// Appends `events` to a chain: the one `claimed` if it has numbers enough, else one taken
/// here. The rows, and the head's move to the last, go with `writes`.
pub(super) async fn append(
    conn: &mut Conn<'_>,
    writes: &mut Writes,
    claimed: Option<Claim>,
    events: &[super::Event<'_>],
) -> DbResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let dialect = conn.dialect();
    // The head row is locked (PostgreSQL) or already under the write lock (SQLite) from here to
    // the commit, so the appends of concurrent transactions and processes to one chain follow
    // each other. Each PostgreSQL transaction takes a chain no one else holds (a row already
    // locked by itself counts as free, so a second append in the same transaction never waits
    // and no two writers can wait on each other's heads), and numbers its rows from the
    // sequence only once it holds the head, so numbers rise along each chain.
    let (chain, mut prev_hash, seqs): (i64, String, Vec<i64>) = match conn {
        Conn::Postgres(c) => {
            let claimed = claimed.filter(|t| t.seqs.len() >= events.len());
            let taken = match claimed {
                Some(t) => Some((t.chain, t.hash, t.seqs)),
                None => {
                    sqlx::query_as(&claim_free(events.len()))
                        .fetch_optional(&mut **c)
                        .await?
                }
            };
            let (chain, hash, mut seqs) = match taken {
                Some(t) => t,
                None => {
                    static TURN: AtomicI64 = AtomicI64::new(0);
                    let id = 1 + TURN.fetch_add(1, Ordering::Relaxed).rem_euclid(CHAINS);
                    let held = format!("{} WHERE id = $1 FOR UPDATE) h", take(events.len()));
                    sqlx::query_as(&held).bind(id).fetch_one(&mut **c).await?
                }
            };
            seqs.truncate(events.len());
            (chain, hash, seqs)
        }
        Conn::Sqlite(c) => {
            let n = events.len() as i64;
            let (last, hash): (i64, String) = sqlx::query_as(
                "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq - $1, hash",
            )
            .bind(n)
            .fetch_one(&mut **c)
            .await?;
            (1, hash, (last + 1..=last + n).collect())
        }
    };
    let at = Timestamp::now();
    let mut recs = Vec::with_capacity(events.len());
    for (&seq, e) in seqs.iter().zip(events) {
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
    let mut last = String::new();
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
        let row = format!("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {chain})");
        let returning = match dialect {
            Dialect::Postgres => " RETURNING seq, hash",
            Dialect::Sqlite => "",
        };
        last = writes
            .insert(conn, &values, &row, |source| {
                format!(
                    "INSERT INTO audit_log (seq, at, actor_id, actor, org_id, action, target,
                        detail, ip, request_id, prev_hash, hash, chain) {source}{returning}"
                )
            })
            .await?;
    }
    // The head moves to the chain's last row. A statement of several parts sees none of the
    // rows its parts insert, but can read what the last insert returned; SQLite, one statement
    // after another, finds the row under the number the head took.
    let head = match dialect {
        Dialect::Postgres => format!(
            "UPDATE audit_head SET (seq, hash) =
                (SELECT seq, hash FROM {last} ORDER BY seq DESC LIMIT 1)
             WHERE id = {chain}"
        ),
        Dialect::Sqlite => "UPDATE audit_head SET hash =
                (SELECT hash FROM audit_log WHERE seq = audit_head.seq)
             WHERE id = 1"
            .to_owned(),
    };
    writes.statement(conn, head).await
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
        // `login` is the successful sign-ins alone; `org.` every action on organisations.
        if a.ends_with('.') {
            push(
                " AND action LIKE ? ESCAPE '\\'",
                Arg::Text(format!("{}%", escape_like(a))),
                &mut args,
            );
        } else {
            push(" AND action = ?", Arg::Text(a.to_owned()), &mut args);
        }
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
    id: i64,
    seq: i64,
    hash: String,
    purged_through: i64,
    purged_hash: String,
}

const HEADS: &str = "SELECT id, seq, hash, purged_through, purged_hash FROM audit_head";

/// A row with the chain it belongs to, for [`verify`].
#[derive(sqlx::FromRow)]
struct Linked {
    #[sqlx(flatten)]
    row: AuditRecord,
    chain: i64,
}

/// Walks the rows once, in order, following each chain from its purge anchor to its head.
/// Numbers along a chain rise but need not follow each other, so a deleted row shows as a
/// broken link.
pub(super) async fn verify(db: &Db) -> DbResult<VerifyReport> {
    let mut pooled = db.acquire().await?;
    let mut conn = pooled.conn();
    let heads: Vec<Head> = on_conn!(&mut conn, c => sqlx::query_as(&format!("{HEADS} ORDER BY id"))
        .fetch_all(&mut *c).await?);
    let mut report = VerifyReport {
        rows_checked: 0,
        first_seq: None,
        last_seq: None,
        problems: Vec::new(),
    };
    // Rows at or before their chain's purge anchor must not exist any more, and every row
    // belongs to a chain with a head: any others were inserted by hand.
    let stray: i64 = on_conn!(&mut conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log a WHERE NOT EXISTS
            (SELECT 1 FROM audit_head h WHERE h.id = a.chain AND a.seq > h.purged_through)"
    ).fetch_one(&mut *c).await?);
    if stray > 0 {
        report.problems.push(format!(
            "有 {stray} 行记录位于其链的清理点之前或不属于任何链（被重新插入）"
        ));
    }
    // Each chain's last row so far: its number and hash.
    let mut ends: HashMap<i64, (i64, String)> = heads
        .iter()
        .map(|h| (h.id, (h.purged_through, h.purged_hash.clone())))
        .collect();
    let mut after = heads.iter().map(|h| h.purged_through).min().unwrap_or(0);
    loop {
        let rows = on_conn!(&mut conn, c => sqlx::query_as::<_, Linked>(&format!(
            "SELECT {COLUMNS}, chain FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000"
        )).bind(after).fetch_all(&mut *c).await?);
        let Some(last) = rows.last() else { break };
        after = last.row.seq;
        for Linked { row: r, chain } in &rows {
            let Some((last, last_hash)) = ends.get_mut(chain).filter(|(l, _)| r.seq > *l) else {
                continue;
            };
            report.rows_checked += 1;
            report.first_seq.get_or_insert(r.seq);
            report.last_seq = Some(r.seq);
            if r.prev_hash != *last_hash {
                report.problems.push(format!(
                    "第 {} 行的前序哈希与链上前一行（第 {last} 行）不符：其间有记录缺失（被删除）或前一行被改写",
                    r.seq
                ));
            }
            if r.compute_hash() != r.hash {
                report
                    .problems
                    .push(format!("第 {} 行内容与其哈希不符（被修改）", r.seq));
            }
            *last = r.seq;
            last_hash.clone_from(&r.hash);
        }
    }
    for head in &heads {
        let (last, last_hash) = &ends[&head.id];
        if head.seq != *last {
            report.problems.push(format!(
                "第 {} 条链的链头记录到第 {} 行，但链上最后一行是第 {last} 行（末尾记录被删除）",
                head.id, head.seq
            ));
        } else if head.hash != *last_hash {
            report
                .problems
                .push(format!("第 {} 条链的链头哈希与最后一行不符", head.id));
        }
    }
    Ok(report)
}

pub(super) async fn purge(db: &Db, actor: &Actor, cutoff: Timestamp) -> DbResult<u64> {
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    // Every head is held to the commit, so no chain grows while its prefix goes.
    let lock = match conn.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let heads: Vec<Head> = on_conn!(&mut conn, c => sqlx::query_as(&format!("{HEADS} ORDER BY id{lock}"))
        .fetch_all(&mut *c).await?);
    let mut deleted = 0;
    let mut spans = Vec::new();
    for head in &heads {
        if let Some(n) = purge_chain(&mut conn, head, cutoff).await? {
            deleted += n;
            spans.push(format!("第 {} 条链 {n} 行", head.id));
        }
    }
    if deleted == 0 {
        return Ok(0);
    }
    let event = super::Event {
        actor,
        action: "audit.purge",
        target: "audit_log".to_owned(),
        detail: format!("删除 {deleted} 行（{}）", spans.join("，")),
    };
    let mut writes = Writes::default();
    append(&mut conn, &mut writes, None, &[event]).await?;
    writes.run(&mut conn).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// Deletes the prefix of one chain written before `cutoff` (everything before its first row
/// young enough to keep) and moves the chain's anchor to the last row deleted.
async fn purge_chain(conn: &mut Conn<'_>, head: &Head, cutoff: Timestamp) -> DbResult<Option<u64>> {
    let chain = head.id;
    let first_kept: Option<i64> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT MIN(seq) FROM audit_log WHERE chain = $1 AND at >= $2"
    ).bind(chain).bind(cutoff).fetch_one(&mut *c).await?);
    // The last row to go, and its hash, which becomes the chain's anchor.
    let end: Option<(i64, String)> = match first_kept {
        Some(kept) => on_conn!(conn, c => sqlx::query_as(
            "SELECT seq, hash FROM audit_log WHERE chain = $1 AND seq < $2 ORDER BY seq DESC LIMIT 1"
        ).bind(chain).bind(kept).fetch_optional(&mut *c).await?),
        None if head.seq > head.purged_through => {
            let hash = on_conn!(conn, c => sqlx::query_scalar(
                "SELECT hash FROM audit_log WHERE chain = $1 AND seq = $2"
            ).bind(chain).bind(head.seq).fetch_one(&mut *c).await?);
            Some((head.seq, hash))
        }
        None => None,
    };
    let Some((through, anchor)) = end.filter(|&(t, _)| t > head.purged_through) else {
        return Ok(None);
    };
    let deleted = on_conn!(conn, c => sqlx::query(
        "DELETE FROM audit_log WHERE chain = $1 AND seq <= $2"
    ).bind(chain).bind(through).execute(&mut *c).await?.rows_affected());
    on_conn!(conn, c => sqlx::query(
        "UPDATE audit_head SET purged_through = $1, purged_hash = $2 WHERE id = $3"
    ).bind(through).bind(&anchor).bind(chain).execute(&mut *c).await?.rows_affected());
    Ok(Some(deleted))
}

/// How many events with `action` (exact) happened since `since`: for the home page's figures.
pub async fn count_since(conn: &mut Conn<'_>, action: &str, since: Timestamp) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND at >= $2"
    ).bind(action).bind(since).fetch_one(&mut *c).await?))
}
