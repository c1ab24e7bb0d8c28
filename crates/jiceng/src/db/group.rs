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

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use sqlx::{Connection, SqlitePool};
use tokio::sync::oneshot;

use super::{Conn, Db, DbError};

/// What [`Db::write`] runs: the work of one caller on the shared transaction's connection.
pub type WriteFuture<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// One caller's work, erased: runs on the connection and says whether it succeeded, keeping
/// its answer until the commit's outcome is known.
type Job =
    Box<dyn for<'c> FnOnce(Conn<'c>) -> Pin<Box<dyn Future<Output = Ran> + Send + 'c>> + Send>;

/// Answers a caller: with its own result, or with the reason the commit failed.
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

struct Ran {
    ok: bool,
    answer: Answer,
}

/// The queue of work waiting for the next writer turn.
#[derive(Default)]
pub struct Queue(Mutex<Vec<Job>>);

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queue")
    }
}

impl Queue {
    fn push(&self, job: Job) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(job);
    }

    fn take(&self) -> Vec<Job> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
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
        let (pool, writers, queue) = match self {
            Db::Postgres(_) => {
                // PostgreSQL has many writers and groups commits itself.
                let mut tx = self.begin().await?;
                let out = work(tx.conn()).await?;
                tx.commit().await?;
                return Ok(out);
            }
            Db::Sqlite(pool, writers, queue) => (pool, writers, queue),
        };
        let (answer, mut answered) = oneshot::channel::<Result<T, E>>();
        queue.push(Box::new(move |conn| {
            Box::pin(async move {
                let out = work(conn).await;
                Ran {
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
        }));
        // Our work may be run by an earlier turn holder: then the answer comes first, and
        // waiting on for a turn would only hold up those behind us.
        let turn = tokio::select! {
            biased;
            out = &mut answered => return out.unwrap_or_else(|_| Err(interrupted())),
            turn = writers.clone().lock_owned() => turn,
        };
        let jobs = queue.take();
        if jobs.is_empty() {
            drop(turn);
        } else {
            let pool = pool.clone();
            tokio::spawn(async move {
                run(&pool, jobs).await;
                drop(turn);
            });
        }
        answered.await.unwrap_or_else(|_| Err(interrupted()))
    }
}

fn interrupted<E: From<DbError>>() -> E {
    E::from(DbError::Commit("写入被中断".to_owned()))
}

/// Runs a batch in one transaction and answers every caller after the commit.
async fn run(pool: &SqlitePool, jobs: Vec<Job>) {
    let mut ran = Vec::with_capacity(jobs.len());
    let committed: Result<(), DbError> = async {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        for job in jobs {
            let mut savepoint = (*tx).begin().await?;
            let r = job(Conn::Sqlite(&mut savepoint)).await;
            if r.ok {
                savepoint.commit().await?;
            } else {
                savepoint.rollback().await?;
            }
            ran.push(r);
        }
        tx.commit().await?;
        Ok(())
    }
    .await;
    // Work that did not get to run is dropped with its answer channel; its caller hears that
    // the write was interrupted.
    let failed = committed.err().map(|e| e.to_string());
    for r in ran {
        (r.answer)(failed.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::on_conn;

    async fn scratch() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(None, dir.path()).await.unwrap();
        db.acquire()
            .await
            .unwrap()
            .conn()
            .execute("CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT NOT NULL)")
            .await
            .unwrap();
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
}
