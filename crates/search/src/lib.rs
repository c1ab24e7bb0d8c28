//! Generic Chinese full-text search for Jiceng: tantivy with jieba segmentation.
//!
//! The crate knows nothing of the domain beyond a dictionary of grassroots-governance words. The
//! caller describes its documents with a list of [`FieldSpec`]s (text fields to search, keyword
//! fields to filter on, one id), feeds [`Doc`]s in and asks [`Query`]s.
//!
//! Matching is by words, not substrings. Documents and queries are segmented by the same jieba
//! analyzer; a compound also indexes its dictionary sub-words (综合行政执法 → 行政执法, 执法 …),
//! and a query word that occurs nowhere as a word still finds documents whose field holds all its
//! characters, at a lower score (占道经营 → 占用道路从事经营活动), because Chinese abbreviations are
//! made of characters of the longer phrase.
//!
//! ```
//! use search::{Doc, FieldSpec, Query, SearchIndex};
//!
//! let index = SearchIndex::new_in_ram(&[
//!     FieldSpec::id("id"),
//!     FieldSpec::text("name", 3.0),
//!     FieldSpec::keyword("township"),
//! ])?;
//! index.replace_all([
//!     Doc::new("1").with_text("name", "对占道经营的行政处罚").with_keyword("township", "团结街道"),
//!     Doc::new("2").with_text("name", "对占用道路从事经营活动的处罚").with_keyword("township", "犀浦街道"),
//! ])?;
//! let found = index.search(&Query::new("占道经营"))?;
//! assert_eq!(found.total, 2);
//! assert_eq!(found.hits[0].id, "1");
//! assert_eq!(found.hits[0].highlights["name"], "对<mark>占道经营</mark>的行政处罚");
//! let scoped = index.search(&Query::new("占道经营").filter("township", ["犀浦街道"]))?;
//! assert_eq!(scoped.hits.len(), 1);
//! # Ok::<(), search::Error>(())
//! ```

mod analyzer;
mod error;
mod highlight;
mod index;
mod query;
mod schema;

pub use analyzer::{DOMAIN_WORDS, warm_up};
pub use error::{Error, Result};
pub use highlight::SNIPPET_CHARS;
pub use index::{Doc, Hit, Results, SearchIndex};
pub use query::{MAX_LIMIT, MAX_QUERY_CHARS, Query};
pub use schema::{FieldKind, FieldSpec};
