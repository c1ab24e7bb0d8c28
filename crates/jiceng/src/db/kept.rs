//! Connections kept out of the pool for a few seconds between uses.
//!
//! On PostgreSQL, sqlx checks a connection with a round trip as the pool lends it, and again as
//! it takes it back. Work that comes every few milliseconds (writer turns, the session read
//! that begins every request) would spend a third of its round trips on those checks; a
//! connection that did its work moments ago is known to have worked, so it is kept for the
//! next such piece of work instead. Longer idle, it goes back to the pool and its check.
//!
//! On SQLite the pool lends its connections in turn, and a connection that begins a
//! transaction after another connection wrote drops every page it had cached; its prepared
//! statements are its own too. The writer turn keeps its connection, so that the pages and
//! statements each batch uses are those the batch before it left.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool};

/// How long a connection is kept after its last use.
pub const KEPT_FOR: Duration = Duration::from_secs(5);

/// At most `max` connections, newest last.
pub struct Kept<DB: Database> {
    conns: Mutex<Vec<(PoolConnection<DB>, Instant)>>,
    max: usize,
}

impl<DB: Database> std::fmt::Debug for Kept<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept").field("max", &self.max).finish()
    }
}

impl<DB: Database> Kept<DB> {
    pub fn new(max: usize) -> Self {
        Kept {
            conns: Mutex::new(Vec::with_capacity(max)),
            max,
        }
    }

    /// The connection used most recently, if that was less than [`KEPT_FOR`] ago. The others
    /// are then older still: they all go back to the pool.
    pub fn take(&self) -> Option<PoolConnection<DB>> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        match conns.pop() {
            Some((conn, at)) if at.elapsed() < KEPT_FOR => Some(conn),
            stale => {
                let older = std::mem::take(&mut *conns);
                drop(conns);
                drop((stale, older));
                None
            }
        }
    }

    /// A connection to lend: one kept ([`Kept::take`]; then `true`, for it was not checked), or
    /// the pool's, which the pool checked.
    pub async fn lend(&self, pool: &Pool<DB>) -> sqlx::Result<(PoolConnection<DB>, bool)> {
        match self.take() {
            Some(conn) => Ok((conn, true)),
            None => Ok((pool.acquire().await?, false)),
        }
    }

    /// Keeps a connection whose work went as it should, unless enough are kept, the pool is
    /// closing (it waits for every connection to come back), or the pool has lent every
    /// connection it may open: whoever waits on it gets this one.
    pub fn keep(&self, pool: &Pool<DB>, conn: PoolConnection<DB>) {
        let exhausted = pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections();
        if exhausted || pool.is_closed() {
            return;
        }
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if conns.len() < self.max {
            conns.push((conn, Instant::now()));
        }
    }

    /// Gives every kept connection back to its pool.
    pub fn clear(&self) {
        let conns = std::mem::take(&mut *self.conns.lock().unwrap_or_else(|e| e.into_inner()));
        drop(conns);
    }
}

#[cfg(test)]
mod tests {
    use super::Kept;

    /// A kept connection is lent again; none is kept while the pool has no other to lend.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_is_kept_unless_the_pool_has_lent_every_one() {
        let Some(db) = crate::db::tests::postgres().await else {
            return;
        };
        let crate::db::Db::Postgres(pool, ..) = &db else {
            unreachable!("a postgres:// URL opens PostgreSQL")
        };
        let max = pool.options().get_max_connections() as usize;
        let mut lent = Vec::new();
        for _ in 0..max {
            lent.push(pool.acquire().await.unwrap());
        }
        let kept = Kept::new(4);
        kept.keep(pool, lent.pop().unwrap());
        assert!(kept.take().is_none(), "the pool was exhausted: given back");
        // The pool takes it back in a task of its own.
        for _ in 0..200 {
            if pool.num_idle() > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        kept.keep(pool, lent.pop().unwrap());
        assert!(kept.take().is_some(), "another was idle in the pool: kept");
        drop(lent);
        db.close().await;
    }
}
