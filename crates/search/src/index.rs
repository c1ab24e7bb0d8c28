//! The index: one writer behind a mutex, one reader reloaded after each commit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use tantivy::collector::{Count, TopDocs};
use tantivy::directory::MmapDirectory;
use tantivy::directory::error::LockError;
use tantivy::indexer::{LogMergePolicy, NoMergePolicy};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query as TantivyQuery};
use tantivy::schema::Value;
use tantivy::{
    DocAddress, Index, IndexReader, IndexSettings, IndexWriter, Order, ReloadPolicy,
    TantivyDocument, TantivyError, Term,
};

use crate::analyzer::{self, ChineseCharTokenizer, ChineseWordTokenizer, DOMAIN_WORDS};
use crate::error::{Error, Result};
use crate::highlight::highlight;
use crate::query::{self, MAX_LIMIT, Query};
use crate::schema::{self, CHAR_TOKENIZER, FieldSpec, Fields, WORD_TOKENIZER};

/// A document to index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Doc {
    /// The caller's id (a database key); unique in the index.
    pub id: String,
    /// Text per text field; fields left out are empty.
    pub text: BTreeMap<&'static str, String>,
    /// Values per keyword field; fields left out have no value.
    pub keywords: BTreeMap<&'static str, Vec<String>>,
}

impl Doc {
    /// An empty document with this id.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }

    /// Sets the text of a text field.
    #[must_use]
    pub fn with_text(mut self, field: &'static str, text: impl Into<String>) -> Self {
        self.text.insert(field, text.into());
        self
    }

    /// Adds a value to a keyword field.
    #[must_use]
    pub fn with_keyword(mut self, field: &'static str, value: impl Into<String>) -> Self {
        self.keywords.entry(field).or_default().push(value.into());
        self
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    /// BM25 relevance (higher is better); 0 in filter-only listings.
    pub score: f32,
    /// For each stored text field with a match: a snippet (the whole text if short) with matched
    /// words in `<mark>…</mark>`. Everything else is HTML-escaped, so it can be put into a page
    /// as is.
    pub highlights: BTreeMap<String, String>,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Results {
    /// How many documents match in all (for paging), not just on this page.
    pub total: usize,
    pub hits: Vec<Hit>,
}

/// Bump when segmentation changes in a way that makes existing indexes stale.
const ANALYZER_VERSION: u32 = 1;

/// Recorded in each commit; an index built with another dictionary or analyzer needs a rebuild.
fn analyzer_fingerprint() -> String {
    // FNV-1a over the domain dictionary: adding a word changes how documents are segmented.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for word in DOMAIN_WORDS {
        for b in word.bytes().chain([0]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("jiceng-search analyzer v{ANALYZER_VERSION} dict {hash:016x}")
}

/// Indexing memory per writer thread. tantivy flushes a segment when it fills up.
const WRITER_MEMORY_PER_THREAD: usize = 48 << 20;

/// A Chinese full-text index over the caller's documents.
///
/// The index is derived data: the database stays the source of truth, [`replace_all`]
/// rebuilds from it, and [`upsert`]/[`delete`] + [`commit`] keep it current. All methods take
/// `&self`, so one `SearchIndex` can be shared (e.g. in an `Arc`) between request handlers.
/// Writes are serialised on one internal writer (tantivy allows one per index); searches run
/// concurrently on the state of the last commit.
///
/// [`replace_all`]: SearchIndex::replace_all
/// [`upsert`]: SearchIndex::upsert
/// [`delete`]: SearchIndex::delete
/// [`commit`]: SearchIndex::commit
pub struct SearchIndex {
    index: Index,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    /// Set while the index does not hold a complete build with the current analyzer.
    stale: AtomicBool,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("fields", &self.fields)
            .field("docs", &self.num_docs())
            .finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// An index in memory, for tests and small or short-lived data. It starts empty and
    /// [`needs_rebuild`](SearchIndex::needs_rebuild).
    pub fn new_in_ram(spec: &[FieldSpec]) -> Result<Self> {
        let (schema, fields) = schema::build(spec)?;
        Self::finish(Index::create_in_ram(schema), fields, None)
    }

    /// Opens the index in `dir`, or creates an empty one there (creating the directory too).
    ///
    /// Fails with [`Error::SchemaMismatch`] if the directory holds an index built from another
    /// field list, and with [`Error::Locked`] if another `SearchIndex` (in this or another
    /// process) has it open: give each process its own directory.
    pub fn open_or_create(dir: impl AsRef<Path>, spec: &[FieldSpec]) -> Result<Self> {
        let dir = dir.as_ref();
        let (schema, fields) = schema::build(spec)?;
        std::fs::create_dir_all(dir).map_err(TantivyError::from)?;
        let directory = MmapDirectory::open(dir).map_err(TantivyError::from)?;
        let exists = Index::exists(&directory).map_err(TantivyError::from)?;
        let index = if exists {
            let index = Index::open(directory)?;
            if index.schema() != schema {
                return Err(Error::SchemaMismatch {
                    path: dir.to_owned(),
                });
            }
            index
        } else {
            Index::create(directory, schema, IndexSettings::default())?
        };
        Self::finish(index, fields, Some(dir.to_owned()))
    }

    fn finish(index: Index, fields: Fields, path: Option<PathBuf>) -> Result<Self> {
        analyzer::warm_up();
        register_tokenizers(&index);
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .clamp(1, 4);
        let writer = index
            .writer_with_num_threads(threads, threads * WRITER_MEMORY_PER_THREAD)
            .map_err(|e| match e {
                TantivyError::LockFailure(LockError::LockBusy, _) => Error::Locked {
                    path: path.clone().unwrap_or_default(),
                },
                e => Error::Engine(e),
            })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let fingerprint = index.load_metas()?.payload;
        let stale = fingerprint.as_deref() != Some(analyzer_fingerprint().as_str());
        Ok(Self {
            index,
            fields,
            reader,
            writer: Mutex::new(writer),
            stale: AtomicBool::new(stale),
        })
    }

    /// Whether the index must be rebuilt with [`replace_all`](SearchIndex::replace_all): it was
    /// just created, or it was built with another dictionary or analyzer version (so documents
    /// and queries would be segmented differently).
    pub fn needs_rebuild(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }

    /// Documents visible to searches (as of the last commit).
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn writer(&self) -> Result<MutexGuard<'_, IndexWriter>> {
        self.writer.lock().map_err(|_| Error::Poisoned)
    }

    fn to_tantivy(&self, doc: Doc) -> Result<TantivyDocument> {
        if doc.id.is_empty() {
            return Err(Error::InvalidDocument("empty id".into()));
        }
        let mut out = TantivyDocument::new();
        out.add_text(self.fields.id, &doc.id);
        for (name, text) in &doc.text {
            let f = self
                .fields
                .text_field(name)
                .ok_or_else(|| Error::UnknownField {
                    field: (*name).to_owned(),
                    expected: "text",
                })?;
            out.add_text(f.words, text);
            out.add_text(f.chars, text);
        }
        for (name, values) in doc.keywords {
            let f = *self
                .fields
                .keywords
                .get(name)
                .ok_or_else(|| Error::UnknownField {
                    field: name.to_owned(),
                    expected: "keyword",
                })?;
            for v in values {
                out.add_text(f, v);
            }
        }
        Ok(out)
    }

    /// Adds documents, replacing any with the same id. Visible to searches after
    /// [`commit`](SearchIndex::commit). Either all documents are staged or (on an invalid one)
    /// none.
    pub fn upsert(&self, docs: impl IntoIterator<Item = Doc>) -> Result<()> {
        let docs: Vec<(Term, TantivyDocument)> = docs
            .into_iter()
            .map(|d| {
                Ok((
                    Term::from_field_text(self.fields.id, &d.id),
                    self.to_tantivy(d)?,
                ))
            })
            .collect::<Result<_>>()?;
        let writer = self.writer()?;
        for (id, doc) in docs {
            // A delete only affects documents added before it, so the new version survives.
            writer.delete_term(id);
            writer.add_document(doc)?;
        }
        Ok(())
    }

    /// Removes documents by id (unknown ids are ignored). Visible after
    /// [`commit`](SearchIndex::commit).
    pub fn delete<S: AsRef<str>>(&self, ids: impl IntoIterator<Item = S>) -> Result<()> {
        let writer = self.writer()?;
        for id in ids {
            writer.delete_term(Term::from_field_text(self.fields.id, id.as_ref()));
        }
        Ok(())
    }

    /// Makes staged upserts and deletes durable and visible: a search started after `commit`
    /// returns sees them.
    pub fn commit(&self) -> Result<()> {
        let mut writer = self.writer()?;
        let payload = if self.needs_rebuild() {
            self.index.load_metas()?.payload
        } else {
            Some(analyzer_fingerprint())
        };
        let mut prepared = writer.prepare_commit()?;
        if let Some(p) = payload {
            prepared.set_payload(&p);
        }
        prepared.commit()?;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// Replaces the whole content with `docs` and commits: the rebuild from the database.
    ///
    /// Searches see the old content until the new one is complete. Uncommitted upserts and
    /// deletes are discarded. The result is merged into one segment, the fastest to search.
    /// Returns the number of documents indexed.
    pub fn replace_all(&self, docs: impl IntoIterator<Item = Doc>) -> Result<usize> {
        let mut writer = self.writer()?;
        // Drop pending operations (rollback also restarts the writer with default settings).
        writer.rollback()?;
        // No background merges while bulk loading: the single merge at the end replaces them.
        writer.set_merge_policy(Box::new(NoMergePolicy));
        let loaded = (|| -> Result<usize> {
            writer.delete_all_documents()?;
            let mut n = 0;
            for doc in docs {
                writer.add_document(self.to_tantivy(doc)?)?;
                n += 1;
            }
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(&analyzer_fingerprint());
            prepared.commit()?;
            Ok(n)
        })();
        let n = match loaded {
            Ok(n) => n,
            Err(e) => {
                writer.rollback()?;
                writer.set_merge_policy(Box::new(LogMergePolicy::default()));
                return Err(e);
            }
        };
        self.stale.store(false, Ordering::Relaxed);
        let segments = self.index.searchable_segment_ids()?;
        if segments.len() > 1 {
            writer.merge(&segments).wait()?;
        }
        writer.set_merge_policy(Box::new(LogMergePolicy::default()));
        // Ignore the outcome: leftover files are collected again after the next commit.
        let _ = writer.garbage_collect_files().wait();
        drop(writer);
        self.reader.reload()?;
        Ok(n)
    }

    /// Searches. See [`Query`] for the semantics.
    ///
    /// Errors only for a filter on a field that is not a keyword field of this index, or from
    /// storage; any query text is accepted.
    pub fn search(&self, q: &Query<'_>) -> Result<Results> {
        let filter = query::filter_query(&q.filters, &self.fields)?;
        if q.filters.iter().any(|(_, values)| values.is_empty()) {
            return Ok(Results::default());
        }
        let searcher = self.reader.searcher();
        let limit = q.limit.min(MAX_LIMIT);
        let offset = q
            .offset
            .min(usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX));
        let plan = query::plan(q.text);

        let doc_freq = |t: &Term| searcher.doc_freq(t).unwrap_or(0);
        let Some(text) = query::text_query(&plan, &self.fields, doc_freq, searcher.num_docs())
        else {
            if !q.text.trim().is_empty() {
                // Text without a single searchable word (only punctuation, say): nothing matches.
                return Ok(Results::default());
            }
            // Listing: filters only (or everything), sorted by id.
            let query: Box<dyn TantivyQuery> = filter.unwrap_or_else(|| Box::new(AllQuery));
            if limit == 0 {
                return Ok(Results {
                    total: searcher.search(&query, &Count)?,
                    hits: Vec::new(),
                });
            }
            let top = TopDocs::with_limit(limit)
                .and_offset(offset)
                .order_by_string_fast_field(self.fields.id_name, Order::Asc);
            let (top, total) = searcher.search(&query, &(top, Count))?;
            let hits = top
                .into_iter()
                .map(|(id, _)| Hit {
                    id: id.unwrap_or_default(),
                    score: 0.0,
                    highlights: BTreeMap::new(),
                })
                .collect();
            return Ok(Results { total, hits });
        };

        let query: Box<dyn TantivyQuery> = match filter {
            None => text,
            Some(filter) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, text),
                (Occur::Must, filter),
            ])),
        };
        if limit == 0 {
            return Ok(Results {
                total: searcher.search(&query, &Count)?,
                hits: Vec::new(),
            });
        }
        let top = TopDocs::with_limit(limit)
            .and_offset(offset)
            .order_by_score();
        let (top, total) = searcher.search(&query, &(top, Count))?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            hits.push(self.hit(&searcher, address, score, &plan)?);
        }
        Ok(Results { total, hits })
    }

    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        address: DocAddress,
        score: f32,
        plan: &query::Plan,
    ) -> Result<Hit> {
        let doc: TantivyDocument = searcher.doc(address)?;
        let id = doc
            .get_first(self.fields.id)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let mut highlights = BTreeMap::new();
        for f in self.fields.text.iter().filter(|f| f.stored) {
            if let Some(text) = doc.get_first(f.words).and_then(|v| v.as_str())
                && let Some(snippet) = highlight(text, plan)
            {
                highlights.insert(f.name.to_owned(), snippet);
            }
        }
        Ok(Hit {
            id,
            score,
            highlights,
        })
    }
}

fn register_tokenizers(index: &Index) {
    index
        .tokenizers()
        .register(WORD_TOKENIZER, ChineseWordTokenizer);
    index
        .tokenizers()
        .register(CHAR_TOKENIZER, ChineseCharTokenizer);
}
