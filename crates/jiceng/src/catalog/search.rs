//! Chinese full-text search over duty items, by segmented words (占道经营 finds 占用道路…经营).
//! The index lives in each process's memory and is rebuilt from the database whenever any
//! list's current or published version differs from what it was built from, so several
//! `serve` processes stay consistent without sharing the index.

use std::sync::Arc;

use search::{Doc, FieldSpec, Query, SearchIndex};
use tokio::sync::Mutex;

use super::store::{self, Entry};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::on_conn;

const SPEC: &[FieldSpec] = &[
    FieldSpec::id("id"),
    FieldSpec::text("name", 3.0),
    FieldSpec::text("content", 1.0),
    FieldSpec::text("basis", 0.8),
    FieldSpec::text("duties", 0.5),
    FieldSpec::keyword("list_id"),
    FieldSpec::keyword("state"),
];

pub struct CatalogIndex {
    /// Built on the first search: loading the segmentation dictionary takes memory and a few
    /// hundred milliseconds that start-up should not pay.
    index: std::sync::OnceLock<Option<Arc<SearchIndex>>>,
    built_from: Mutex<String>,
}

/// A ranked hit: the list it belongs to and the item's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub list_id: i64,
    pub code: String,
}

fn doc(state: &str, list_id: i64, f: &super::model::ItemFields) -> Doc {
    Doc::new(format!("{state}:{list_id}:{}", f.code))
        .with_text("name", f.name.clone())
        .with_text("content", f.content.clone())
        .with_text("basis", f.legal_basis.join("；"))
        .with_text(
            "duties",
            format!("{} {}", f.township_duty, f.department_duty),
        )
        .with_keyword("list_id", list_id.to_string())
        .with_keyword("state", state)
}

impl Default for CatalogIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl CatalogIndex {
    pub fn new() -> CatalogIndex {
        CatalogIndex {
            index: std::sync::OnceLock::new(),
            built_from: Mutex::new(String::new()),
        }
    }

    async fn index(&self) -> Result<Arc<SearchIndex>> {
        if let Some(i) = self.index.get() {
            return i
                .clone()
                .ok_or_else(|| Error::internal("catalog search index unavailable"));
        }
        let built = tokio::task::spawn_blocking(|| match SearchIndex::new_in_ram(SPEC) {
            Ok(i) => Some(Arc::new(i)),
            Err(e) => {
                tracing::error!(error = %e, "catalog search index unavailable");
                None
            }
        })
        .await
        .map_err(Error::internal)?;
        self.index
            .get_or_init(|| built)
            .clone()
            .ok_or_else(|| Error::internal("catalog search index unavailable"))
    }

    /// Rebuilds the index if any list changed since it was built.
    async fn refresh(&self, db: &Db, index: &Arc<SearchIndex>) -> Result<()> {
        let mut built = self.built_from.lock().await;
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let lists: Vec<(i64, i64, i64)> = on_conn!(&mut conn, c => sqlx::query_as(
            "SELECT id, current_version, published_version FROM catalog_lists ORDER BY id"
        ).fetch_all(&mut *c).await?);
        let stamp = lists
            .iter()
            .map(|(i, c, p)| format!("{i}.{c}.{p}"))
            .collect::<Vec<_>>()
            .join(",");
        if *built == stamp && !stamp.is_empty() {
            return Ok(());
        }
        let mut docs = Vec::new();
        for (id, current, published) in &lists {
            for (state, version) in [("current", *current), ("published", *published)] {
                if version == 0 {
                    continue;
                }
                for e in store::entries_at(&mut conn, *id, version).await? {
                    if let Entry::Item(f) = e {
                        docs.push(doc(state, *id, &f));
                    }
                }
            }
        }
        let index = index.clone();
        tokio::task::spawn_blocking(move || index.replace_all(docs))
            .await
            .map_err(Error::internal)?
            .map_err(Error::internal)?;
        *built = stamp;
        Ok(())
    }

    /// Items of the given lists matching `text`, best first (at most 1,000).
    pub async fn find(
        &self,
        db: &Db,
        text: &str,
        list_ids: &[i64],
        published: bool,
    ) -> Result<Vec<Found>> {
        let index = self.index().await?;
        self.refresh(db, &index).await?;
        let ids: Vec<String> = list_ids.iter().map(i64::to_string).collect();
        let state = if published { "published" } else { "current" };
        let q = Query::new(text)
            .filter("list_id", ids)
            .filter("state", [state])
            .with_limit(search::MAX_LIMIT);
        let results = index.search(&q).map_err(Error::internal)?;
        Ok(results
            .hits
            .into_iter()
            .filter_map(|h| {
                let mut parts = h.id.splitn(3, ':');
                let _state = parts.next()?;
                let list_id = parts.next()?.parse().ok()?;
                Some(Found {
                    list_id,
                    code: parts.next()?.to_owned(),
                })
            })
            .collect())
    }
}
