//! One storage layer for embedded SQLite and PostgreSQL.
//!
//! Queries are written once, in the dialect both engines accept (`$1` parameters, `RETURNING`,
//! `ON CONFLICT`), and run through [`on_conn!`], which instantiates the same code for each
//! engine. sqlx's `Any` driver is avoided on purpose: it cannot decode several types and
//! writes `?` placeholders that PostgreSQL rejects.

mod group;
mod kept;
mod migrate;
pub mod reference;
mod rows;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};
use tokio::sync::Semaphore;

pub use group::{Batch, WriteFuture};
pub use migrate::{MIGRATIONS, Migration, applied_migrations};
pub use rows::{Rows, Writes};

/// Errors of the storage layer. Domain code turns these into user-facing errors.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("数据库错误: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("数据库地址无效: {0}")]
    BadUrl(String),
    /// A shared transaction (see [`Db::write`]) could not be committed or was cut short.
    #[error("数据库写入失败: {0}")]
    Commit(String),
    #[error("迁移失败 {version}: {source}")]
    Migration {
        version: i64,
        #[source]
        source: sqlx::Error,
    },
}

impl DbError {
    /// A stored value that does not read back as what it should be.
    pub fn decode(e: impl Into<sqlx::error::BoxDynError>) -> DbError {
        DbError::Sqlx(sqlx::Error::Decode(e.into()))
    }

    pub fn encode(e: impl Into<sqlx::error::BoxDynError>) -> DbError {
        DbError::Sqlx(sqlx::Error::Encode(e.into()))
    }

    /// The name of the violated unique constraint, when that is what went wrong, so the domain
    /// can say "该编码已存在" instead of failing.
    pub fn unique_violation(&self) -> Option<String> {
        match self {
            DbError::Sqlx(sqlx::Error::Database(e)) if e.is_unique_violation() => Some(
                e.constraint()
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.message().to_owned()),
            ),
            _ => None,
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// The rows of a multi-row `VALUES` list: `template` (e.g. `(?, ?, 1)`) once per row, its `?`
/// standing for the binds in the order they follow: numbered `$1`, `$2`, … across all rows on
/// PostgreSQL, left as `?` on SQLite. SQLite looks each `$N` up by name, in a list as long as
/// the statement's parameters, when it prepares the statement and again when the driver binds
/// it: for a batch's thousand parameters that quadratic walk, not the insert, was most of the
/// statement's time.
pub fn value_rows(dialect: Dialect, rows: usize, template: &str) -> String {
    value_rows_from(dialect, rows, template, 1)
}

/// [`value_rows`] numbering PostgreSQL's parameters from `$first`, for a statement whose
/// earlier parameters belong to another part of it.
pub fn value_rows_from(dialect: Dialect, rows: usize, template: &str, first: usize) -> String {
    let mut out = String::with_capacity(rows * (template.len() + 16));
    let mut n = first;
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        for ch in template.chars() {
            if ch == '?' && dialect == Dialect::Postgres {
                out.push('$');
                out.push_str(&n.to_string());
                n += 1;
            } else {
                out.push(ch);
            }
        }
    }
    out
}

/// Reserves `n` ids of `table`, for rows stored later with other writes that refer to them.
/// On SQLite call it inside the write transaction that stores them: the ids follow the highest
/// one stored, and SQLite's one writer keeps anyone else from taking them.
pub async fn reserve_ids(conn: &mut Conn<'_>, table: &str, n: usize) -> DbResult<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    Ok(match conn {
        Conn::Sqlite(c) => {
            let sql = format!("SELECT {}", last_id(table));
            let last: i64 = sqlx::query_scalar(&sql).fetch_one(&mut **c).await?;
            ids_after(last, n)
        }
        Conn::Postgres(c) => {
            let sql = format!("SELECT {}", next_ids(table, "$1"));
            sqlx::query_scalar(&sql)
                .bind(n as i64)
                .fetch_one(&mut **c)
                .await?
        }
    })
}

/// On SQLite, the highest id of `table` (0 if it has none) as a scalar subquery: the ids
/// [`reserve_ids`] gives follow it.
pub fn last_id(table: &str) -> String {
    format!("(SELECT COALESCE(MAX(id), 0) FROM {table})")
}

/// On SQLite, the `n` ids reserved after the highest, `last` ([`last_id`]).
pub fn ids_after(last: i64, n: usize) -> Vec<i64> {
    (1..=n as i64).map(|i| last + i).collect()
}

/// On PostgreSQL, an array of `count` (an SQL expression) new ids of `table`, for a statement
/// that reserves them along with other work. The sequence is looked up once per statement, in
/// a subquery: as `nextval`'s own argument it was looked up again for every id, a search of the
/// catalog each time, and an intake's batch takes a dozen ids.
pub fn next_ids(table: &str, count: &str) -> String {
    format!(
        "ARRAY(SELECT nextval((SELECT pg_get_serial_sequence('{table}', 'id')::regclass))
         FROM generate_series(1, {count}))"
    )
}

/// The ids a multi-row `INSERT … RETURNING` gave back, in the order of the rows inserted.
/// RETURNING does not promise an order, so each returned row is `(id, key)` with a key unique
/// among the rows, and `key` gives the same key for an inserted row.
pub fn in_row_order<R, K: Eq + std::hash::Hash, Id: Copy>(
    rows: &[R],
    key: impl Fn(&R) -> K,
    returned: Vec<(Id, K)>,
    what: &str,
) -> DbResult<Vec<Id>> {
    let by_key: std::collections::HashMap<K, Id> =
        returned.into_iter().map(|(id, k)| (k, id)).collect();
    rows.iter()
        .map(|r| {
            by_key
                .get(&key(r))
                .copied()
                .ok_or_else(|| DbError::decode(format!("RETURNING lost {what}")))
        })
        .collect()
}

/// Escapes LIKE wildcards so that what a user types is matched literally; queries using it
/// say `ESCAPE '\'` (SQLite has no default escape character).
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A pool on one of the two engines.
#[derive(Clone, Debug)]
pub enum Db {
    /// The pool and the queue of this process's write transactions: SQLite has one writer at
    /// a time, and waiting in a fair in-process queue (before taking a connection) replaces
    /// SQLite's busy-wait, which lets an unlucky writer starve past the busy timeout and lets
    /// waiters hold every pooled connection. Work given to [`Db::write`] waits in the queue
    /// beside it, to be committed together.
    Sqlite(
        SqlitePool,
        Arc<Semaphore>,
        Arc<group::Queue>,
        Arc<reference::Caches>,
    ),
    /// The pool, and the turns and queue of this process's batched writes
    /// ([`Db::write_batched`]): [`PG_TURNS`] batches may run at once, since their round trips,
    /// not the server, limit them. PostgreSQL's other transactions run side by side. Last, the
    /// connections kept for the next session read ([`Db::acquire_recent`]).
    Postgres(
        PgPool,
        Arc<Semaphore>,
        Arc<group::Queue>,
        Arc<reference::Caches>,
        Arc<kept::Kept<Postgres>>,
    ),
}

/// Connections kept for session reads: about as many as requests that read their session at
/// once on a busy server, leaving most of the pool to everything else.
const KEPT_READERS: usize = 8;

/// Batches of one process that run at once on PostgreSQL: each waits on its round trips and
/// its commit most of the time, so two side by side keep the server busy, one sending its
/// statements while the other commits. Not more: while every batch ended on the one audit head,
/// further batches only queued on it (two took in 12–18 % more than four); with a head each,
/// four take in no more than two, and being smaller they spend more statements per intake.
pub const PG_TURNS: u32 = 2;

/// A borrowed connection of either engine: a pooled one or the inside of a transaction.
pub enum Conn<'a> {
    Sqlite(&'a mut sqlx::SqliteConnection),
    Postgres(&'a mut sqlx::PgConnection),
}

/// Runs the same query code against whichever engine a [`Conn`] holds. Both arms must produce
/// the same type, so map engine-specific results (rows, query results) inside the body.
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::Conn::Sqlite($c) => {
                let $c: &mut sqlx::SqliteConnection = &mut **$c;
                $body
            }
            $crate::db::Conn::Postgres($c) => {
                let $c: &mut sqlx::PgConnection = &mut **$c;
                $body
            }
        }
    };
}

impl Conn<'_> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn execute(&mut self, sql: &str) -> DbResult<u64> {
        Ok(on_conn!(self, c => sqlx::raw_sql(sql).execute(&mut *c).await?.rows_affected()))
    }

    /// The same connection for a shorter while, leaving this handle usable afterwards.
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// Where reads that the reference caches may answer ([`reference`]) get a connection: one the
/// caller already holds, or one taken from the pool at the first read the caches cannot
/// answer. A checkout is not free even when no statement follows: sqlx pings the connection
/// as it hands it out and again as it takes it back, and a request whose reads all hit the
/// caches would pay two round trips for nothing.
pub enum Reader<'a, 'c> {
    Held(&'a mut Conn<'c>),
    Lazy(&'a Db, Option<Pooled>),
}

impl<'a> Reader<'a, '_> {
    pub fn lazy(db: &'a Db) -> Self {
        Reader::Lazy(db, None)
    }

    pub async fn conn(&mut self) -> DbResult<Conn<'_>> {
        match self {
            Reader::Held(c) => Ok(c.reborrow()),
            Reader::Lazy(db, pooled) => {
                let taken = match pooled.take() {
                    Some(p) => p,
                    None => db.acquire().await?,
                };
                Ok(pooled.insert(taken).conn())
            }
        }
    }

    /// Hands a connection taken from the pool back to it, so that work which needs one of its
    /// own can go ahead; the next read takes one again.
    pub fn release(&mut self) {
        if let Reader::Lazy(_, pooled) = self {
            *pooled = None;
        }
    }
}

/// A connection for a read that may be run again ([`Db::acquire_recent`]), and where it goes
/// when that read and the ones after it went as they should ([`Recent::keep`]).
pub struct Recent {
    pooled: Pooled,
    unchecked: bool,
    home: Option<(PgPool, Arc<kept::Kept<Postgres>>)>,
}

impl Recent {
    pub fn conn(&mut self) -> Conn<'_> {
        self.pooled.conn()
    }

    /// Whether the connection was lent without a check: the server may have ended it since its
    /// last use (a restart, an administrator), and the read then fails for that alone.
    pub fn unchecked(&self) -> bool {
        self.unchecked
    }

    /// Every statement on it went as it should: kept for the next such read. A `Recent` dropped
    /// instead goes back to the pool, which checks it before lending it again.
    pub fn keep(self) {
        if let (Pooled::Postgres(conn), Some((pool, kept))) = (self.pooled, self.home) {
            kept.keep(&pool, conn);
        }
    }
}

/// A connection checked out of the pool, for reads outside a transaction.
pub enum Pooled {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Pooled {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Sqlite(c) => Conn::Sqlite(&mut *c),
            Pooled::Postgres(c) => Conn::Postgres(&mut *c),
        }
    }
}

/// A write transaction. SQLite transactions start with `BEGIN IMMEDIATE` so that one that reads
/// and then writes waits for the lock instead of failing with "database is locked".
/// Dropping without [`Tx::commit`] rolls back.
pub enum Tx {
    /// The transaction and this process's writer turn, given back when the transaction ends.
    Sqlite(
        sqlx::Transaction<'static, Sqlite>,
        tokio::sync::OwnedSemaphorePermit,
    ),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(t, _) => Conn::Sqlite(&mut *t),
            Tx::Postgres(t) => Conn::Postgres(&mut *t),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(..) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn commit(self) -> DbResult<()> {
        match self {
            Tx::Sqlite(t, _turn) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

impl Db {
    /// Opens the database named by `url`, or the SQLite file `jiceng.db` in `data_dir` when no
    /// URL is given. SQLite runs in WAL mode with `synchronous=FULL`: an acknowledged write must
    /// survive a power cut, since cases are legal records.
    pub async fn connect(url: Option<&str>, data_dir: &Path) -> DbResult<Db> {
        match url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                let opts =
                    PgConnectOptions::from_str(u).map_err(|e| DbError::BadUrl(e.to_string()))?;
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await?;
                Ok(Db::Postgres(
                    pool,
                    Arc::new(Semaphore::new(PG_TURNS as usize)),
                    Arc::default(),
                    Arc::default(),
                    Arc::new(kept::Kept::new(KEPT_READERS)),
                ))
            }
            Some(u) if u.starts_with("sqlite:") => {
                let opts = SqliteConnectOptions::from_str(u)
                    .map_err(|e| DbError::BadUrl(e.to_string()))?;
                Self::open_sqlite(opts).await
            }
            Some(other) => Err(DbError::BadUrl(format!(
                "仅支持 sqlite: 或 postgres:// 地址，收到 {other}"
            ))),
            None => {
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    DbError::BadUrl(format!("无法创建数据目录 {}: {e}", data_dir.display()))
                })?;
                let opts = SqliteConnectOptions::new().filename(data_dir.join("jiceng.db"));
                Self::open_sqlite(opts).await
            }
        }
    }

    async fn open_sqlite(opts: SqliteConnectOptions) -> DbResult<Db> {
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Each connection keeps more pages: case intake reads and writes a dozen indexes.
            // The file is not mapped into memory: it grows at checkpoints, and every
            // connection then mapped it afresh, each unmapping interrupting every thread of
            // the process. Intake over HTTP took in 6 % more without the mapping, and the
            // statistics of a year over a million cases were 5 % slower.
            .pragma("cache_size", "-16384")
            // Checkpoints (the WAL copied into the file, at a commit) come every 10,000 pages
            // rather than every 1,000: a page that many batches changed is copied once, and
            // intake took in 4 % more; with the above, 10 % (15 % over a million cases).
            .pragma("wal_autocheckpoint", "10000");
        // A connection to a local file does not go stale: no ping before each checkout.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        Ok(Db::Sqlite(
            pool,
            Arc::new(Semaphore::new(1)),
            Arc::default(),
            Arc::default(),
        ))
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(..) => Dialect::Sqlite,
            Db::Postgres(..) => Dialect::Postgres,
        }
    }

    /// This database's caches of reference data (see [`reference`]).
    pub fn caches(&self) -> &reference::Caches {
        match self {
            Db::Sqlite(.., caches) | Db::Postgres(_, _, _, caches, _) => caches,
        }
    }

    pub async fn acquire(&self) -> DbResult<Pooled> {
        Ok(match self {
            Db::Sqlite(p, ..) => Pooled::Sqlite(p.acquire().await?),
            Db::Postgres(p, ..) => Pooled::Postgres(p.acquire().await?),
        })
    }

    /// A connection for a read that may safely be run again, such as the session read that
    /// begins every request: on PostgreSQL, one that such a read used moments ago, lent
    /// without the round trip of the pool's check. If the read fails on it
    /// ([`Recent::unchecked`]), the caller reads again on one from [`Db::acquire_checked`].
    pub async fn acquire_recent(&self) -> DbResult<Recent> {
        let Db::Postgres(pool, .., kept) = self else {
            return self.acquire_checked().await;
        };
        let (conn, unchecked) = kept.lend(pool).await?;
        Ok(Recent {
            pooled: Pooled::Postgres(conn),
            unchecked,
            home: Some((pool.clone(), kept.clone())),
        })
    }

    /// A connection from the pool, checked, to be kept after like one of [`Db::acquire_recent`].
    pub async fn acquire_checked(&self) -> DbResult<Recent> {
        let home = match self {
            Db::Postgres(pool, .., kept) => Some((pool.clone(), kept.clone())),
            Db::Sqlite(..) => None,
        };
        Ok(Recent {
            pooled: self.acquire().await?,
            unchecked: false,
            home,
        })
    }

    pub async fn begin(&self) -> DbResult<Tx> {
        Ok(match self {
            Db::Sqlite(p, writers, ..) => {
                let turn = writers
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| DbError::Commit("写入队列已关闭".to_owned()))?;
                Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?, turn)
            }
            Db::Postgres(p, ..) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Answers whether the database can run a query now (for `/readyz`).
    pub async fn ping(&self) -> DbResult<()> {
        let mut c = self.acquire().await?;
        let mut conn = c.conn();
        let one: i64 = on_conn!(&mut conn, c => sqlx::query_scalar("SELECT CAST(1 AS BIGINT)").fetch_one(&mut *c).await?);
        debug_assert_eq!(one, 1);
        Ok(())
    }

    pub async fn migrate(&self) -> DbResult<Vec<i64>> {
        migrate::run(self).await
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p, _, queue, _) => {
                let closing = p.close();
                queue.release_writers();
                closing.await
            }
            Db::Postgres(p, _, queue, _, readers) => {
                // Marks the pool closed first, so that no connection is kept after.
                let closing = p.close();
                queue.release_writers();
                readers.clear();
                closing.await
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{Conn, Db, Dialect, in_row_order, next_ids, reserve_ids, value_rows};

    /// The PostgreSQL of `JICENG_TEST_PG_URL`; `None` (the test skips) when it is unreachable
    /// outside CI, a failure in CI.
    pub(crate) async fn postgres() -> Option<Db> {
        let url = std::env::var("JICENG_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        match Db::connect(Some(&url), std::path::Path::new(".")).await {
            Ok(db) => Some(db),
            Err(e) if !in_ci => {
                eprintln!("skipping PostgreSQL test: {url} unreachable ({e})");
                None
            }
            Err(e) => panic!("PostgreSQL at {url} is unreachable in CI: {e}"),
        }
    }

    /// The session read's connection is kept for the next one, which then skips the pool's
    /// check; one dropped after a failure is not. SQLite's pool never checks: nothing is kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_recent_connection_kept_is_lent_again_unchecked() {
        async fn backend(db: &Db, r: &mut super::Recent) -> i64 {
            let sql = match db.dialect() {
                Dialect::Postgres => "SELECT CAST(pg_backend_pid() AS BIGINT)",
                Dialect::Sqlite => "SELECT 0",
            };
            crate::on_conn!(&mut r.conn(), c => sqlx::query_scalar(sql).fetch_one(&mut *c).await)
                .unwrap()
        }
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Db::connect(None, dir.path()).await.unwrap();
        let mut r = sqlite.acquire_recent().await.unwrap();
        backend(&sqlite, &mut r).await;
        r.keep();
        assert!(!sqlite.acquire_recent().await.unwrap().unchecked());

        let Some(db) = postgres().await else {
            return;
        };
        let mut first = db.acquire_recent().await.unwrap();
        assert!(!first.unchecked(), "nothing kept yet: the pool's, checked");
        let pid = backend(&db, &mut first).await;
        first.keep();
        let mut again = db.acquire_recent().await.unwrap();
        assert!(again.unchecked());
        assert_eq!(backend(&db, &mut again).await, pid, "the same connection");
        // Not kept (its read failed, say): the next is the pool's, checked.
        drop(again);
        assert!(!db.acquire_recent().await.unwrap().unchecked());
        db.close().await;
    }

    /// A checkout costs round trips even with no statement, so a reader whose reads the
    /// caches answer must never take one; once taken, its reads share it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lazy_reader_holds_a_connection_from_its_first_read_to_its_release() {
        let dir = tempfile::tempdir().unwrap();
        let db = super::Db::connect(None, dir.path()).await.unwrap();
        let super::Db::Sqlite(pool, ..) = &db else {
            unreachable!("no URL opens SQLite")
        };
        let in_use = || pool.size() as usize - pool.num_idle();
        let before = in_use();
        let mut reader = super::Reader::lazy(&db);
        assert_eq!(in_use(), before, "no read yet, no connection");
        for _ in 0..2 {
            reader
                .conn()
                .await
                .unwrap()
                .execute("SELECT 1")
                .await
                .unwrap();
            assert_eq!(in_use(), before + 1, "one connection serves every read");
        }
        reader.release();
        // The pool takes a connection back in a task of its own.
        for _ in 0..100 {
            if in_use() == before {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(in_use(), before);
    }

    /// SQLite's connections neither map the file (every connection remapped it whenever a
    /// checkpoint grew it) nor checkpoint every thousand pages.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_connections_read_without_mapping_and_checkpoint_seldom() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(None, dir.path()).await.unwrap();
        let mut c = db.acquire().await.unwrap();
        let Conn::Sqlite(conn) = &mut c.conn() else {
            unreachable!("no URL opens SQLite")
        };
        let mmap: i64 = sqlx::query_scalar("PRAGMA mmap_size")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        let checkpoint: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!((mmap, checkpoint), (0, 10_000));
    }

    /// Reserved ids rise past every id stored, on both engines. On PostgreSQL they come from
    /// the table's sequence, so a row stored after with a default id takes none of them, and
    /// the sequence is found once per statement: a lookup inside `nextval`'s argument would
    /// search the catalog for every id.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reserved_ids_rise_past_those_stored() {
        async fn reserve(db: &Db) -> Option<Vec<i64>> {
            let mut c = db.acquire().await.unwrap();
            let mut conn = c.conn();
            // The id column the migrations give every table.
            let table = "CREATE TEMP TABLE reserved (id {{ID}}, v TEXT)";
            conn.execute(&super::migrate::render(table, db.dialect()))
                .await
                .unwrap();
            conn.execute("INSERT INTO reserved (v) VALUES ('a'), ('b')")
                .await
                .unwrap();
            let ids = reserve_ids(&mut conn, "reserved", 3).await.unwrap();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
            assert!(ids[0] > 2, "{ids:?} after the two stored");
            assert_eq!(ids.len(), 3);
            let Conn::Postgres(pg) = &mut conn else {
                return None;
            };
            let after: i64 =
                sqlx::query_scalar("INSERT INTO reserved (v) VALUES ('c') RETURNING id")
                    .fetch_one(&mut **pg)
                    .await
                    .unwrap();
            assert!(after > ids[2], "{after} took a reserved id of {ids:?}");
            let plan: Vec<String> = sqlx::query_scalar(&format!(
                "EXPLAIN (VERBOSE, COSTS OFF) SELECT {}",
                next_ids("reserved", "3")
            ))
            .fetch_all(&mut **pg)
            .await
            .unwrap();
            let per_id = plan.iter().find(|l| l.contains("nextval(")).unwrap();
            assert!(!per_id.contains("pg_get_serial_sequence"), "{plan:#?}");
            Some(ids)
        }
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Db::connect(None, dir.path()).await.unwrap();
        assert_eq!(reserve(&sqlite).await, None);
        let Some(db) = postgres().await else {
            return;
        };
        assert!(reserve(&db).await.is_some());
        db.close().await;
    }

    #[test]
    fn value_rows_number_the_parameters_across_rows() {
        let pg = Dialect::Postgres;
        assert_eq!(value_rows(pg, 1, "(?, 0)"), "($1, 0)");
        assert_eq!(
            value_rows(pg, 3, "(?, ?, FALSE)"),
            "($1, $2, FALSE), ($3, $4, FALSE), ($5, $6, FALSE)"
        );
        assert_eq!(value_rows(pg, 0, "(?)"), "");
        assert_eq!(value_rows(Dialect::Sqlite, 2, "(?, 1)"), "(?, 1), (?, 1)");
    }

    #[test]
    fn returned_ids_follow_the_rows_order() {
        let rows = ["b", "a", "c"];
        let returned = vec![(1, "a"), (3, "c"), (2, "b")];
        assert_eq!(
            in_row_order(&rows, |r| *r, returned, "a row").unwrap(),
            [2, 1, 3]
        );
        let lost = in_row_order(&rows, |r| *r, vec![(1, "a")], "a row").unwrap_err();
        assert!(lost.to_string().contains("RETURNING lost a row"), "{lost}");
    }
}
