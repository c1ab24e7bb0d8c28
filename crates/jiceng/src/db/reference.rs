//! Reference data — organisations, categories, settings, the working calendar — changes a few
//! times a year and is read by every request. Each process keeps what it has read, and one
//! stamp tells whether that is still current: every transaction that changes reference data
//! writes a new random stamp ([`bump`]); a request reads the stamp once ([`stamp`]) and then
//! answers its lookups from the cache entries kept under that stamp.
//!
//! Why a stamp and not a timer: several `serve` processes share one PostgreSQL database, and a
//! change made through one must be seen by the next request to any other, as it is without the
//! cache.
//!
//! An entry is read from the database after the stamp it is kept under, so it is at least as
//! new as that stamp; a stamp is random, so one replaced by a change is never current again
//! (not even one a rolled-back transaction wrote and read back).

use std::any::{Any, TypeId};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, RwLock};

use super::{Conn, DbResult};
use crate::on_conn;

/// The reference data's stamp as one request read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp(Arc<str>);

/// The current stamp as a column expression, for a statement that reads it with its own rows
/// (resuming a session does, to save every request a round trip).
pub const CURRENT: &str = "(SELECT stamp FROM reference_version WHERE id = 1)";

impl From<Option<String>> for Stamp {
    /// A stamp read through [`CURRENT`].
    fn from(s: Option<String>) -> Self {
        Stamp(s.unwrap_or_default().into())
    }
}

/// The current stamp.
pub async fn stamp(conn: &mut Conn<'_>) -> DbResult<Stamp> {
    let s: Option<String> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT stamp FROM reference_version WHERE id = 1"
    ).fetch_optional(&mut *c).await?);
    Ok(s.into())
}

/// Records a change of reference data, inside the changing transaction.
pub async fn bump(conn: &mut Conn<'_>) -> DbResult<()> {
    let stamp = uuid::Uuid::new_v4().to_string();
    on_conn!(conn, c => sqlx::query("UPDATE reference_version SET stamp = $1 WHERE id = 1")
        .bind(stamp).execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// One kind of reference data, by key, as read under one stamp. Only what exists is kept:
/// a key that names nothing (often a user's typing) is asked of the database each time, so
/// the cache never grows past the table it mirrors.
pub struct Cache<K, V> {
    entries: RwLock<(Option<Stamp>, HashMap<K, V>)>,
}

impl<K: Eq + Hash, V: Clone> Default for Cache<K, V> {
    fn default() -> Self {
        Cache {
            entries: RwLock::new((None, HashMap::new())),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    /// The entry for `key`, if one was kept under `stamp`.
    pub fn get<Q>(&self, stamp: &Stamp, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        match &entries.0 {
            Some(s) if s == stamp => entries.1.get(key).cloned(),
            _ => None,
        }
    }

    /// The entry for `key` under `stamp`, or else what `read` gives (it runs only then), kept
    /// under `stamp`.
    pub async fn read_through<Q, E>(
        &self,
        stamp: &Stamp,
        key: &Q,
        read: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(v) = self.get(stamp, key) {
            return Ok(v);
        }
        let v = read.await?;
        self.put(stamp, key.to_owned(), v.clone());
        Ok(v)
    }

    /// As [`Cache::read_through`] for a lookup that may find nothing: only what it finds is
    /// kept.
    pub async fn read_through_found<Q, E>(
        &self,
        stamp: &Stamp,
        key: &Q,
        read: impl Future<Output = Result<Option<V>, E>>,
    ) -> Result<Option<V>, E>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(v) = self.get(stamp, key) {
            return Ok(Some(v));
        }
        let found = read.await?;
        if let Some(v) = &found {
            self.put(stamp, key.to_owned(), v.clone());
        }
        Ok(found)
    }

    /// Keeps `value`, read after `stamp`, under it. A different stamp starts the cache afresh:
    /// entries of the old one may be out of date.
    pub fn put(&self, stamp: &Stamp, key: K, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.0.as_ref() != Some(stamp) {
            *entries = (Some(stamp.clone()), HashMap::new());
        }
        entries.1.insert(key, value);
    }
}

/// The caches of one database, one per type of cache. They belong to the database handle,
/// not to the process: ids and stamps of two databases (tests open many) mean different
/// things.
#[derive(Default)]
pub struct Caches {
    by_type: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Caches")
    }
}

impl Caches {
    /// The cache of type `C`, made on first use.
    pub fn get<C: Default + Send + Sync + 'static>(&self) -> Arc<C> {
        let mut by_type = self.by_type.lock().unwrap_or_else(|e| e.into_inner());
        let any = by_type
            .entry(TypeId::of::<C>())
            .or_insert_with(|| Arc::new(C::default()))
            .clone();
        any.downcast::<C>()
            .unwrap_or_else(|_| unreachable!("the cache stored under a type's id is of that type"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(s: &str) -> Stamp {
        Stamp(s.into())
    }

    #[test]
    fn an_entry_is_only_answered_under_its_stamp() {
        let c: Cache<i64, String> = Cache::default();
        c.put(&stamp("a"), 1, "one".into());
        assert_eq!(c.get(&stamp("a"), &1).as_deref(), Some("one"));
        assert_eq!(c.get(&stamp("b"), &1), None);
        assert_eq!(c.get(&stamp("a"), &2), None);
    }

    #[test]
    fn a_new_stamp_drops_the_entries_of_the_old() {
        let c: Cache<String, i64> = Cache::default();
        c.put(&stamp("a"), "x".into(), 1);
        c.put(&stamp("b"), "y".into(), 2);
        assert_eq!(c.get(&stamp("b"), "y"), Some(2));
        assert_eq!(c.get(&stamp("b"), "x"), None);
        // A request that read the old stamp before the change may still put: it starts afresh
        // too, and the new stamp's readers read again.
        c.put(&stamp("a"), "x".into(), 1);
        assert_eq!(c.get(&stamp("b"), "y"), None);
        assert_eq!(c.get(&stamp("a"), "x"), Some(1));
    }

    #[tokio::test]
    async fn reading_through_reads_only_what_is_not_kept() {
        let c: Cache<String, i64> = Cache::default();
        let a = stamp("a");
        assert_eq!(
            c.read_through(&a, "x", async { Ok::<_, ()>(1) }).await,
            Ok(1)
        );
        assert_eq!(c.read_through(&a, "x", async { Err(()) }).await, Ok(1));
        let found = c.read_through_found(&a, "y", async { Ok::<_, ()>(None) });
        assert_eq!(found.await, Ok(None));
        assert_eq!(c.get(&a, "y"), None);
        let found = c.read_through_found(&a, "y", async { Ok::<_, ()>(Some(2)) });
        assert_eq!(found.await, Ok(Some(2)));
        assert_eq!(c.get(&a, "y"), Some(2));
    }

    #[test]
    fn each_type_has_one_cache() {
        #[derive(Default)]
        struct Mine(Cache<i64, i64>);
        let caches = Caches::default();
        caches.get::<Mine>().0.put(&stamp("a"), 1, 10);
        assert_eq!(caches.get::<Mine>().0.get(&stamp("a"), &1), Some(10));
        assert_eq!(Caches::default().get::<Mine>().0.get(&stamp("a"), &1), None);
    }
}
