//! Group commit for SQLite: concurrent writes share one transaction and one fsync.
//!
//! SQLite has one writer, and with `synchronous=FULL` every commit waits for the disk, so one
//! transaction per request caps a busy intake at the disk's flush rate. [`Db::write`] queues
//! the work instead; whoever holds the writer turn next runs every queued piece in one
//! transaction, each inside a savepoint of its own so that a refused piece leaves nothing
//! behind and does not disturb the others, commits once, and only then answers each caller:
//! no caller hears "done" before its rows are on disk.
//!
//! Callers queue their work and then wait either for its answer (an earlier holder of the turn
//! ran it) or for the turn, in the fair in-process queue that plain transactions use too. The
//! batch runs in a task of its own, so a caller that goes away (a closed connection) cannot
//! cut the others' transaction short.
//!
//! Sharing the commit is not enough when each piece makes a dozen round trips to the driver:
//! the turn holder's statements, one after another, become the limit. Work of one kind can
//! therefore be batched ([`Batch`], [`Db::write_batched`]): the items queued for a turn are
//! stored together, one statement per table. This also pays on PostgreSQL, where the items of
//! one process share a transaction in the same way (there a few such transactions run at once).
//! A batch that runs first in its transaction needs no savepoint, since undoing the whole
//! transaction loses nothing else: if it fails, the transaction is begun again with its items
//! stored one at a time, then the work queued behind it.

use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Postgres, Sqlite};
use tokio::sync::oneshot;

use super::kept::Kept;
use super::{Conn, Db, DbError};

/// What [`Db::write`] runs: the work of one caller on the shared transaction's connection.
pub type WriteFuture<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// One caller's work, erased: runs on the connection and says whether it succeeded, keeping
/// its answer until the commit's outcome is known. The flag says that nothing ran before it in
/// the transaction (see [`Ran::retry`]).
type Job = Box<
    dyn for<'c> FnOnce(Conn<'c>, bool) -> Pin<Box<dyn Future<Output = Ran> + Send + 'c>> + Send,
>;

/// Answers a caller: with its own result, or with the reason the commit failed.
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

struct Ran {
    ok: bool,
    answer: Answer,
    /// Work to run again in a fresh transaction. A job that ran first in its transaction may
    /// skip its savepoint and, if it fails, hand back the work in its place: the transaction
    /// is then undone, which loses nothing else, and begun again with this work first.
    retry: Option<Queued>,
}

/// A job and whether it undoes its own failures. A [`Batch`] lane's job puts each attempt in a
/// savepoint of its own, so a second one around it would only cost two more round trips.
struct Queued {
    job: Job,
    isolated: bool,
}

/// The queue of work waiting for the next writer turn, and the lanes of [`Batch`] kinds.
pub struct Queue {
    jobs: Mutex<Vec<Queued>>,
    lanes: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    /// Connections of turns just ended, for the next turns ([`Kept`]): PostgreSQL's, and
    /// SQLite's one.
    writers: Kept<Postgres>,
    sqlite_writer: Kept<Sqlite>,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            jobs: Mutex::default(),
            lanes: Mutex::default(),
            writers: Kept::new(super::PG_TURNS as usize),
            sqlite_writer: Kept::new(1),
        }
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queue")
    }
}

impl Queue {
    fn push(&self, job: Job, isolated: bool) {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Queued { job, isolated });
    }

    fn take(&self) -> Vec<Queued> {
        std::mem::take(&mut *self.jobs.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Gives the kept connections back to their pool, which is closing.
    pub(super) fn release_writers(&self) {
        self.writers.clear();
        self.sqlite_writer.clear();
    }

    fn lane<B: Batch>(&self) -> Arc<Lane<B>> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        let lane = lanes
            .entry(TypeId::of::<B>())
            .or_insert_with(|| Arc::new(Lane::<B>::default()))
            .clone();
        // The map is keyed by the type, so the entry is always a lane of `B`.
        lane.downcast::<Lane<B>>()
            .unwrap_or_else(|_| unreachable!("lane keyed by its type"))
    }
}

/// Work of one kind whose items concurrent callers can share: the writer turn stores every
/// queued item in one run, with one statement per table instead of one per item, so the
/// round trips per commit do not grow with the number of callers.
pub trait Batch: Sized + Send + Sync + 'static {
    type Output: Send + 'static;
    type Error: From<DbError> + std::fmt::Display + Send + 'static;

    /// Stores every item and answers in the items' order, or fails as a whole; the caller
    /// undoes a failed run and then stores the items one at a time, so that one refused item
    /// fails alone.
    fn store_all<'c>(
        conn: Conn<'c>,
        items: &'c [Self],
    ) -> WriteFuture<'c, Vec<Self::Output>, Self::Error>;
}

type Reply<B> = oneshot::Sender<Result<<B as Batch>::Output, <B as Batch>::Error>>;

/// Each item's own outcome; the outer error means a savepoint itself failed, leaving the
/// connection in doubt, so the transaction must be undone.
type Stored<B> = Result<Vec<Result<<B as Batch>::Output, <B as Batch>::Error>>, DbError>;

/// The items of one [`Batch`] kind waiting for a writer turn.
struct Lane<B: Batch> {
    state: Mutex<LaneState<B>>,
}

/// The queued items, and whether a job that will take them is queued.
type LaneState<B> = (Vec<(B, Reply<B>)>, bool);

impl<B: Batch> Default for Lane<B> {
    fn default() -> Self {
        Lane {
            state: Mutex::new((Vec::new(), false)),
        }
    }
}

impl<B: Batch> Lane<B> {
    /// Adds an item; true when the caller must queue the job that takes the lane's items.
    fn push(&self, item: B, reply: Reply<B>) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0.push((item, reply));
        !std::mem::replace(&mut s.1, true)
    }

    fn take(&self) -> Vec<(B, Reply<B>)> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.1 = false;
        std::mem::take(&mut s.0)
    }

    /// The job's part: stores whatever the lane holds when the job runs. First in its
    /// transaction, it stores the items together without a savepoint, which spares a round
    /// trip that every batch behind it waits for; if that fails, it hands the items back to be
    /// stored one at a time in a fresh transaction.
    async fn run(&self, mut conn: Conn<'_>, first: bool) -> Ran {
        let (items, replies): (Vec<B>, Vec<Reply<B>>) = self.take().into_iter().unzip();
        tracing::debug!(
            items = items.len(),
            kind = std::any::type_name::<B>(),
            "batch"
        );
        if first {
            return match B::store_all(conn, &items).await {
                Ok(out) if out.len() == items.len() => {
                    Self::settle(Ok(out.into_iter().map(Ok).collect()), replies)
                }
                _ => Ran {
                    ok: false,
                    answer: Box::new(|_| {}),
                    retry: Some(Queued {
                        job: Box::new(move |mut conn, _| {
                            Box::pin(async move {
                                // One at a time, so that the refused item fails alone.
                                Self::settle(store_singly(&mut conn, &items).await, replies)
                            })
                        }),
                        isolated: true,
                    }),
                },
            };
        }
        Self::settle(store_each(&mut conn, &items).await, replies)
    }

    /// What each caller will hear once the commit's outcome is known. A failed savepoint
    /// leaves the connection in doubt: the whole transaction is undone and every caller hears
    /// why.
    fn settle(stored: Stored<B>, replies: Vec<Reply<B>>) -> Ran {
        match stored {
            Ok(r) => Self::answered(r.into_iter().map(Some).collect(), None, replies),
            Err(e) => {
                tracing::warn!(error = %e, "batch savepoint failed; the transaction is undone");
                Self::answered(Vec::new(), Some(e.to_string()), replies)
            }
        }
    }

    fn answered(
        mut results: Vec<Option<Result<B::Output, B::Error>>>,
        broken: Option<String>,
        replies: Vec<Reply<B>>,
    ) -> Ran {
        results.resize_with(replies.len(), || None);
        Ran {
            ok: broken.is_none(),
            answer: Box::new(move |failed: Option<&str>| {
                for (reply, out) in replies.into_iter().zip(results) {
                    let out = match (failed.or(broken.as_deref()), out) {
                        (Some(why), _) => Err(B::Error::from(DbError::Commit(why.to_owned()))),
                        (None, Some(out)) => out,
                        (None, None) => Err(interrupted()),
                    };
                    let _ = reply.send(out);
                }
            }),
            retry: None,
        }
    }
}

/// The lane a queued job will take its items from. A job dropped without running (its
/// transaction could not begin) answers the items queued for it and frees the lane for the
/// next caller's job: else they, and every item after them, would wait for a job that never
/// comes.
struct LaneTaker<B: Batch>(Option<Arc<Lane<B>>>);

impl<B: Batch> Drop for LaneTaker<B> {
    fn drop(&mut self) {
        if let Some(lane) = self.0.take() {
            for (_, reply) in lane.take() {
                let _ = reply.send(Err(interrupted()));
            }
        }
    }
}

/// Stores the items together if it can, else one at a time, each in a savepoint.
async fn store_each<B: Batch>(conn: &mut Conn<'_>, items: &[B]) -> Stored<B> {
    if items.len() > 1
        && let Ok(out) = store_in_savepoint(conn, items).await?
    {
        return Ok(out.into_iter().map(Ok).collect());
    }
    store_singly(conn, items).await
}

/// Stores the items one at a time, each in a savepoint.
async fn store_singly<B: Batch>(conn: &mut Conn<'_>, items: &[B]) -> Stored<B> {
    let mut out = Vec::with_capacity(items.len());
    for item in items.chunks(1) {
        out.push(
            store_in_savepoint(conn, item)
                .await?
                .map(|mut o| o.pop().expect("one output per item")),
        );
    }
    Ok(out)
}

async fn store_in_savepoint<B: Batch>(
    conn: &mut Conn<'_>,
    items: &[B],
) -> Result<Result<Vec<B::Output>, B::Error>, DbError> {
    match conn {
        Conn::Sqlite(c) => in_savepoint::<sqlx::Sqlite, B>(c, items, |c| Conn::Sqlite(c)).await,
        Conn::Postgres(c) => {
            in_savepoint::<sqlx::Postgres, B>(c, items, |c| Conn::Postgres(c)).await
        }
    }
}

async fn in_savepoint<DB: sqlx::Database, B: Batch>(
    conn: &mut DB::Connection,
    items: &[B],
    wrap: fn(&mut DB::Connection) -> Conn<'_>,
) -> Result<Result<Vec<B::Output>, B::Error>, DbError> {
    let mut savepoint = conn.begin().await?;
    let out = B::store_all(wrap(&mut savepoint), items).await;
    match out {
        Ok(o) if o.len() == items.len() => {
            savepoint.commit().await?;
            Ok(Ok(o))
        }
        Ok(_) => {
            savepoint.rollback().await?;
            Ok(Err(B::Error::from(DbError::Commit(
                "批量写入的结果与条目数不符".to_owned(),
            ))))
        }
        Err(e) => {
            savepoint.rollback().await?;
            Ok(Err(e))
        }
    }
}

impl Db {
    /// Runs `work` in a write transaction and answers once it is committed. On SQLite the
    /// transaction may be shared with other callers' work (see the module's note); `work`
    /// sees their changes as if they had committed just before it, and an error from `work`
    /// undoes exactly its own changes. `work` must not open a transaction of its own.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: for<'c> FnOnce(Conn<'c>) -> WriteFuture<'c, T, E> + Send + 'static,
    {
        let Db::Sqlite(_, _, queue, _) = self else {
            // PostgreSQL has many writers and groups commits itself.
            let mut tx = self.begin().await?;
            let out = work(tx.conn()).await?;
            tx.commit().await?;
            return Ok(out);
        };
        let (answer, answered) = oneshot::channel::<Result<T, E>>();
        queue.push(
            Box::new(move |conn, _| {
                Box::pin(async move {
                    let out = work(conn).await;
                    Ran {
                        retry: None,
                        ok: out.is_ok(),
                        answer: Box::new(move |failed: Option<&str>| {
                            let out = match failed {
                                None => out,
                                Some(why) => Err(E::from(DbError::Commit(why.to_owned()))),
                            };
                            let _ = answer.send(out);
                        }),
                    }
                })
            }),
            false,
        );
        self.wait(answered).await
    }

    /// Stores `item` with the other items of its kind queued for the same writer turn (see
    /// [`Batch`]) and answers once they are committed. An item that fails undoes exactly its
    /// own changes. On PostgreSQL too: there the turns are this process's alone and only
    /// batched writes take them, since the round trips, not the locks, limit them; a few
    /// batches ([`super::PG_TURNS`]) run at once, each with the items queued before it began.
    pub async fn write_batched<B: Batch>(&self, item: B) -> Result<B::Output, B::Error> {
        let queue = match self {
            Db::Sqlite(_, _, queue, _) | Db::Postgres(_, _, queue, ..) => queue,
        };
        let lane = queue.lane::<B>();
        let (reply, answered) = oneshot::channel();
        if lane.push(item, reply) {
            let mut taker = LaneTaker(Some(lane));
            queue.push(
                Box::new(move |conn, first| {
                    let lane = taker.0.take().expect("a lane's job runs once");
                    Box::pin(async move { lane.run(conn, first).await })
                }),
                true,
            );
        }
        self.wait(answered).await
    }

    /// Waits for the answer to queued work: it comes first when an earlier holder of the
    /// writer turn ran the work, and then waiting on for a turn would only hold up those
    /// behind us. Otherwise takes the turn and runs everything queued.
    async fn wait<T, E: From<DbError>>(
        &self,
        mut answered: oneshot::Receiver<Result<T, E>>,
    ) -> Result<T, E> {
        let (writers, queue) = match self {
            Db::Sqlite(_, writers, queue, _) | Db::Postgres(_, writers, queue, ..) => {
                (writers, queue)
            }
        };
        let turn = tokio::select! {
            biased;
            out = &mut answered => return out.unwrap_or_else(|_| Err(interrupted())),
            turn = writers.clone().acquire_owned() => turn.map_err(|_| interrupted())?,
        };
        let jobs = queue.take();
        if jobs.is_empty() {
            drop(turn);
        } else {
            let db = self.clone();
            let batch = async move {
                run(&db, jobs).await;
                drop(turn);
            };
            match self {
                Db::Sqlite(..) => drop(writer().spawn(batch)),
                // Its connections' sockets belong to the caller's runtime.
                Db::Postgres(..) => drop(tokio::spawn(batch)),
            }
        }
        answered.await.unwrap_or_else(|_| Err(interrupted()))
    }
}

/// The runtime that runs SQLite batches: a thread of its own, so that each statement's answer
/// wakes the batch at once instead of queueing it behind request handlers, while every intake
/// waits on that batch.
fn writer() -> &'static tokio::runtime::Handle {
    static WRITER: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    WRITER.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the SQLite writer");
        let handle = rt.handle().clone();
        std::thread::Builder::new()
            .name("jiceng-writer".to_owned())
            .spawn(move || rt.block_on(std::future::pending::<()>()))
            .expect("a thread for the SQLite writer");
        handle
    })
}

fn interrupted<E: From<DbError>>() -> E {
    E::from(DbError::Commit("写入被中断".to_owned()))
}

/// Runs a batch in one transaction and answers every caller after the commit.
async fn run(db: &Db, jobs: Vec<Queued>) {
    let started = std::time::Instant::now();
    let pieces = jobs.len();
    let mut jobs: VecDeque<Queued> = jobs.into();
    let mut ran = Vec::with_capacity(pieces);
    let committed = loop {
        let outcome = match db {
            Db::Sqlite(pool, _, queue, _) => {
                // The last turn's connection, whose cache holds the pages this batch writes.
                let mut conn = match queue.sqlite_writer.lend(pool).await {
                    Ok((c, _)) => c,
                    Err(e) => break Err(e.into()),
                };
                let outcome = match conn.begin_with("BEGIN IMMEDIATE").await {
                    Ok(tx) => run_in::<Sqlite>(tx, &mut jobs, &mut ran, |c| Conn::Sqlite(c)).await,
                    Err(e) => Err(e.into()),
                };
                if outcome.is_ok() {
                    queue.sqlite_writer.keep(pool, conn);
                }
                outcome
            }
            Db::Postgres(pool, _, queue, ..) => {
                // One a turn left moments ago, or the pool's.
                let (mut conn, kept) = match queue.writers.lend(pool).await {
                    Ok(c) => c,
                    Err(e) => break Err(e.into()),
                };
                let mut outcome = run_pg(&mut conn, &mut jobs, &mut ran).await;
                if kept && outcome.is_err() {
                    // A kept connection that cannot even begin (the server restarted, say) is
                    // let go, and one the pool has checked begins instead: nothing ran yet.
                    conn = match pool.acquire().await {
                        Ok(c) => c,
                        Err(e) => break Err(e.into()),
                    };
                    outcome = run_pg(&mut conn, &mut jobs, &mut ran).await;
                }
                let outcome = outcome.unwrap_or_else(|e| Err(e.into()));
                // A connection whose transaction failed goes back to the pool, to be checked.
                if outcome.is_ok() {
                    queue.writers.keep(pool, conn);
                }
                outcome
            }
        };
        match outcome {
            Ok(Some(retry)) => jobs.push_front(retry),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    tracing::debug!(
        pieces,
        elapsed_us = started.elapsed().as_micros() as u64,
        "group commit"
    );
    // Work that did not get to run is dropped with its answer channel; its caller hears that
    // the write was interrupted.
    let failed = committed.err().map(|e: DbError| e.to_string());
    for r in ran {
        (r.answer)(failed.as_deref());
    }
}

/// Begins a PostgreSQL transaction on `conn` and runs the jobs in it ([`run_in`]); the outer
/// error means it could not begin, and nothing ran.
async fn run_pg(
    conn: &mut PoolConnection<Postgres>,
    jobs: &mut VecDeque<Queued>,
    ran: &mut Vec<Ran>,
) -> Result<Result<Option<Queued>, DbError>, sqlx::Error> {
    // A batch's statements take their rows as arrays (`Rows`), and the planner prices a custom
    // plan by the arrays' real length, a generic one by a guessed ten: left to choose, it plans
    // afresh for every batch of fewer than ten. Their plans do not depend on the values, so one
    // generic plan per connection serves every batch.
    let tx = conn
        .begin_with("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
        .await?;
    Ok(run_in::<Postgres>(tx, jobs, ran, |c| Conn::Postgres(c)).await)
}

/// Runs the jobs in `tx` and commits. A job that failed first in the transaction and handed
/// back its work ([`Ran::retry`]) is undone with the transaction, and its work is returned to
/// run first in a new one, with the jobs that had not run yet.
async fn run_in<DB: sqlx::Database>(
    mut tx: sqlx::Transaction<'_, DB>,
    jobs: &mut VecDeque<Queued>,
    ran: &mut Vec<Ran>,
    wrap: fn(&mut DB::Connection) -> Conn<'_>,
) -> Result<Option<Queued>, DbError> {
    while let Some(Queued { job, isolated }) = jobs.pop_front() {
        if isolated {
            // `ran` holds the jobs that ran in this transaction: a job hands back its work
            // only when nothing ran before it, and then `ran` is still empty in the new one.
            let first = ran.is_empty();
            let mut r = job(wrap(&mut tx), first).await;
            if let Some(retry) = r.retry.take() {
                tx.rollback().await?;
                return Ok(Some(retry));
            }
            let ok = r.ok;
            ran.push(r);
            if !ok {
                return Err(DbError::Commit("写入中断，已撤销".to_owned()));
            }
            continue;
        }
        let mut savepoint = (*tx).begin().await?;
        let r = job(wrap(&mut savepoint), false).await;
        if r.ok {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        ran.push(r);
    }
    tx.commit().await?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::on_conn;

    /// The scratch tables' columns.
    const TABLE: &str = "(k TEXT PRIMARY KEY, v BIGINT NOT NULL)";

    async fn execute(db: &Db, sql: &str) {
        db.acquire()
            .await
            .unwrap()
            .conn()
            .execute(sql)
            .await
            .unwrap();
    }

    async fn scratch() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(None, dir.path()).await.unwrap();
        execute(&db, &format!("CREATE TABLE t {TABLE}")).await;
        (db, dir)
    }

    async fn put(db: &Db, k: String, fail_after: bool) -> Result<i64, DbError> {
        db.write(move |mut conn: Conn<'_>| -> WriteFuture<'_, i64, DbError> {
            Box::pin(async move {
                let n: i64 = on_conn!(&mut conn, c => sqlx::query_scalar(
                    "INSERT INTO t (k, v) VALUES ($1, (SELECT COUNT(*) FROM t)) RETURNING v"
                ).bind(&k).fetch_one(&mut *c).await?);
                if fail_after {
                    return Err(DbError::Commit(format!("refused {k}")));
                }
                Ok(n)
            })
        })
        .await
    }

    async fn keys(db: &Db) -> Vec<String> {
        let mut c = db.acquire().await.unwrap();
        let mut conn = c.conn();
        on_conn!(&mut conn, c => sqlx::query_scalar("SELECT k FROM t ORDER BY k").fetch_all(&mut *c).await.unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_all_land_and_a_refused_one_leaves_nothing() {
        let (db, _dir) = scratch().await;
        let mut tasks = Vec::new();
        for i in 0..64usize {
            let db = db.clone();
            let k = format!("k{i:02}");
            tasks.push(tokio::spawn(async move { put(&db, k, i % 7 == 3).await }));
        }
        let mut ok = 0;
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert_eq!(i % 7, 3, "{e}");
                    assert!(e.to_string().contains(&format!("k{i:02}")));
                }
            }
        }
        let landed = keys(&db).await;
        assert_eq!(landed.len(), ok);
        assert!(
            landed
                .iter()
                .all(|k| k[1..].parse::<usize>().unwrap() % 7 != 3)
        );
        // Each piece saw the rows of those before it, and none of the refused ones.
        let mut c = db.acquire().await.unwrap();
        let mut conn = c.conn();
        let mut seen: Vec<i64> = on_conn!(&mut conn, c => sqlx::query_scalar("SELECT v FROM t")
            .fetch_all(&mut *c).await.unwrap());
        seen.sort();
        assert_eq!(seen, (0..ok as i64).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_unique_violation_is_the_callers_alone() {
        let (db, _dir) = scratch().await;
        put(&db, "a".into(), false).await.unwrap();
        let again = put(&db, "a".into(), false).await.unwrap_err();
        assert!(again.unique_violation().is_some(), "{again}");
        put(&db, "b".into(), false).await.unwrap();
        assert_eq!(keys(&db).await, ["a", "b"]);
    }

    /// The writer turn keeps its SQLite connection: a temporary table, which only the
    /// connection that made it can see, is there for the next write.
    #[tokio::test]
    async fn sqlite_writes_keep_their_connection() {
        let (db, _dir) = scratch().await;
        let made = db.write(|mut conn: Conn<'_>| -> WriteFuture<'_, (), DbError> {
            Box::pin(async move {
                on_conn!(&mut conn, c => {
                    sqlx::query("CREATE TEMP TABLE mine (x BIGINT)").execute(&mut *c).await?;
                });
                Ok(())
            })
        });
        made.await.unwrap();
        // A reader meanwhile takes an idle connection: the writer's, were it back in the pool.
        let reader = db.acquire().await.unwrap();
        let seen = db.write(|mut conn: Conn<'_>| -> WriteFuture<'_, i64, DbError> {
            Box::pin(async move {
                Ok(on_conn!(&mut conn, c => sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sqlite_temp_master WHERE name = 'mine'"
                ).fetch_one(&mut *c).await?))
            })
        });
        assert_eq!(seen.await.unwrap(), 1);
        drop(reader);
        db.close().await;
    }

    /// A key stored by [`Db::write_batched`] into `table`: all of a batch in one statement,
    /// and the whole batch refused when one of its items is marked to fail.
    struct Put {
        table: String,
        k: String,
        fail: bool,
        largest_batch: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Batch for Put {
        type Output = String;
        type Error = DbError;

        fn store_all<'c>(
            mut conn: Conn<'c>,
            items: &'c [Self],
        ) -> WriteFuture<'c, Vec<String>, DbError> {
            Box::pin(async move {
                items[0]
                    .largest_batch
                    .fetch_max(items.len(), std::sync::atomic::Ordering::Relaxed);
                let sql = format!(
                    "INSERT INTO {} (k, v) VALUES {}",
                    items[0].table,
                    crate::db::value_rows(conn.dialect(), items.len(), "(?, 0)")
                );
                on_conn!(&mut conn, c => {
                    let mut q = sqlx::query(&sql);
                    for it in items {
                        q = q.bind(&it.k);
                    }
                    q.execute(&mut *c).await?;
                });
                if let Some(bad) = items.iter().find(|it| it.fail) {
                    return Err(DbError::Commit(format!("refused {}", bad.k)));
                }
                Ok(items.iter().map(|it| it.k.clone()).collect())
            })
        }
    }

    /// Sixteen items queued behind a held writer turn: stored as one batch, except that the
    /// one whose key is taken and the one refused fail alone.
    async fn batched_items_scenario(db: &Db, table: &str) {
        let put = |k: &str, fail: bool, largest: &Arc<std::sync::atomic::AtomicUsize>| Put {
            table: table.to_owned(),
            k: k.to_owned(),
            fail,
            largest_batch: largest.clone(),
        };
        let largest = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        db.write_batched(put("k05", false, &largest)).await.unwrap();
        let (writers, turns) = match db {
            Db::Sqlite(_, writers, ..) => (writers.clone(), 1),
            Db::Postgres(_, writers, ..) => (writers.clone(), crate::db::PG_TURNS),
        };
        let held = writers.acquire_many_owned(turns).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..16usize {
            let db = db.clone();
            let item = put(&format!("k{i:02}"), i == 9, &largest);
            tasks.push(tokio::spawn(async move { db.write_batched(item).await }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        drop(held);
        for (i, t) in tasks.into_iter().enumerate() {
            match (i, t.await.unwrap()) {
                (5, Err(e)) => assert!(e.unique_violation().is_some(), "{e}"),
                (9, Err(e)) => assert!(e.to_string().contains("refused k09"), "{e}"),
                (5 | 9, Ok(k)) => panic!("{k} should have failed"),
                (_, r) => assert_eq!(r.unwrap(), format!("k{i:02}")),
            }
        }
        assert_eq!(
            largest.load(std::sync::atomic::Ordering::Relaxed),
            16,
            "the queued items were stored together first"
        );
        let mut c = db.acquire().await.unwrap();
        let mut conn = c.conn();
        let sql = format!("SELECT k FROM {table} ORDER BY k");
        let landed: Vec<String> =
            on_conn!(&mut conn, c => sqlx::query_scalar(&sql).fetch_all(&mut *c).await.unwrap());
        let expected: Vec<String> = (0..16)
            .filter(|&i| i != 9)
            .map(|i| format!("k{i:02}"))
            .collect();
        assert_eq!(landed, expected);
    }

    /// A batch whose transaction cannot begin answers its items, and the next items are
    /// answered too rather than left waiting behind them.
    #[tokio::test]
    async fn items_whose_transaction_cannot_begin_hear_so_and_do_not_block_the_next() {
        let (db, _dir) = scratch().await;
        db.close().await;
        let largest = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for k in ["a", "b"] {
            let item = Put {
                table: "t".to_owned(),
                k: k.to_owned(),
                fail: false,
                largest_batch: largest.clone(),
            };
            let answer =
                tokio::time::timeout(std::time::Duration::from_secs(5), db.write_batched(item))
                    .await
                    .expect("answered, not left waiting");
            assert!(answer.is_err(), "{k}: the pool is closed");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batched_items_share_a_statement_and_a_refused_one_fails_alone() {
        let (db, _dir) = scratch().await;
        batched_items_scenario(&db, "t").await;
    }

    /// A batch that fails first in its transaction, where it runs without a savepoint, is
    /// undone whole and stored again one item at a time in a new transaction; the work queued
    /// behind it runs there too.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_queued_behind_a_batch_that_failed_first_still_lands() {
        let (db, _dir) = scratch().await;
        let Db::Sqlite(_, writers, ..) = &db else {
            unreachable!("scratch is SQLite")
        };
        let held = writers.clone().acquire_owned().await.unwrap();
        let largest = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut batch = Vec::new();
        for (k, fail) in [("k0", false), ("k1", true), ("k2", false)] {
            let db = db.clone();
            let item = Put {
                table: "t".to_owned(),
                k: k.to_owned(),
                fail,
                largest_batch: largest.clone(),
            };
            batch.push(tokio::spawn(async move { db.write_batched(item).await }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let behind = {
            let db = db.clone();
            tokio::spawn(async move { put(&db, "w".to_owned(), false).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(held);
        let mut outcomes = Vec::new();
        for t in batch {
            outcomes.push(t.await.unwrap().map_err(|e| e.to_string()));
        }
        assert_eq!(outcomes[0], Ok("k0".to_owned()));
        assert!(
            outcomes[1]
                .as_ref()
                .is_err_and(|e| e.contains("refused k1")),
            "{outcomes:?}"
        );
        assert_eq!(outcomes[2], Ok("k2".to_owned()));
        assert_eq!(largest.load(std::sync::atomic::Ordering::Relaxed), 3);
        behind.await.unwrap().unwrap();
        assert_eq!(keys(&db).await, ["k0", "k2", "w"]);
    }

    /// The same on PostgreSQL (`JICENG_TEST_PG_URL`), in a table of its own; skipped when
    /// PostgreSQL is unreachable outside CI, failed in CI.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batched_items_on_postgres() {
        let Some(db) = crate::db::tests::postgres().await else {
            return;
        };
        let table = format!(
            "group_batch_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        execute(&db, &format!("CREATE TABLE {table} {TABLE}")).await;
        batched_items_scenario(&db, &table).await;
        execute(&db, &format!("DROP TABLE {table}")).await;
    }
}
