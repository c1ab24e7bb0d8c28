use std::path::PathBuf;

/// Everything that can go wrong in this crate.
///
/// Query *text* never causes an error: any string is a valid query. Errors come from a schema or
/// document that does not fit the index, from a filter on a field the schema does not declare as
/// a keyword, or from the storage underneath.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The field list given to build an index is not usable (no id field, duplicate names …).
    #[error("invalid search schema: {0}")]
    InvalidSchema(String),

    /// A document or filter names a field the schema does not declare, or declares with another
    /// kind (a filter on a text field, text for a keyword field).
    #[error("field `{field}` is not a {expected} field of this index")]
    UnknownField {
        field: String,
        expected: &'static str,
    },

    /// A document cannot be indexed as given (an empty id).
    #[error("invalid document: {0}")]
    InvalidDocument(String),

    /// The directory holds an index built from a different field list. The index is derived data:
    /// delete the directory and rebuild it from the database.
    #[error("the index in {path} has a different schema; delete it and rebuild")]
    SchemaMismatch { path: PathBuf },

    /// Another process (or another `SearchIndex` in this one) holds the directory's writer lock.
    /// Only one writer per index directory is possible.
    #[error("the index in {path} is already open for writing elsewhere")]
    Locked { path: PathBuf },

    /// A thread panicked while holding the writer; the index must be reopened.
    #[error("the index writer was poisoned by a panic")]
    Poisoned,

    /// An error from tantivy (I/O, corrupted files …).
    #[error("search engine: {0}")]
    Engine(#[from] tantivy::TantivyError),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
