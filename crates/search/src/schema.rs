//! The caller's field list and the tantivy schema built from it.

use std::collections::BTreeMap;

use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, SchemaBuilder, TextFieldIndexing, TextOptions,
};

use crate::error::{Error, Result};

/// Name under which the word tokenizer is registered (and recorded in the on-disk schema).
pub(crate) const WORD_TOKENIZER: &str = "jiceng_zh_words";
/// Name under which the character tokenizer is registered.
pub(crate) const CHAR_TOKENIZER: &str = "jiceng_zh_chars";

/// What a field is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldKind {
    /// Chinese (or mixed) text that queries search. `boost` weighs a match here against matches in
    /// the other text fields (e.g. a name 3.0, a body 1.0). `stored` keeps the text in the index
    /// so that hits can carry highlighted snippets of it.
    Text { boost: f32, stored: bool },
    /// Exact values to filter on (`township`, `category`, `kind` …); a document may have several.
    /// Never tokenised, never scored.
    Keyword,
    /// The document's id: exactly one per schema. Upserts and deletes go by it, hits return it,
    /// and filter-only listings are sorted by it.
    Id,
}

/// One field of an index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldSpec {
    /// Lower-case ASCII letters, digits and `_`, not starting with `_` (reserved for hidden
    /// fields).
    pub name: &'static str,
    pub kind: FieldKind,
}

impl FieldSpec {
    /// The id field.
    pub const fn id(name: &'static str) -> Self {
        Self {
            name,
            kind: FieldKind::Id,
        }
    }

    /// A stored, searchable text field with the given boost.
    pub const fn text(name: &'static str, boost: f32) -> Self {
        Self {
            name,
            kind: FieldKind::Text {
                boost,
                stored: true,
            },
        }
    }

    /// A keyword field for exact filters.
    pub const fn keyword(name: &'static str) -> Self {
        Self {
            name,
            kind: FieldKind::Keyword,
        }
    }
}

/// A text field and its hidden character-index twin.
#[derive(Debug, Clone)]
pub(crate) struct TextField {
    pub name: &'static str,
    pub boost: f32,
    pub stored: bool,
    pub words: Field,
    pub chars: Field,
}

/// The tantivy fields behind a spec.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    pub id: Field,
    pub id_name: &'static str,
    pub text: Vec<TextField>,
    pub keywords: BTreeMap<&'static str, Field>,
}

impl Fields {
    pub fn text_field(&self, name: &str) -> Option<&TextField> {
        self.text.iter().find(|f| f.name == name)
    }
}

fn validate(spec: &[FieldSpec]) -> Result<()> {
    let mut ids = 0;
    for (i, f) in spec.iter().enumerate() {
        let name_ok = !f.name.is_empty()
            && !f.name.starts_with('_')
            && f.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(Error::InvalidSchema(format!(
                "field name `{}`: use lower-case ASCII letters, digits and `_`, not starting with `_`",
                f.name
            )));
        }
        if spec[..i].iter().any(|g| g.name == f.name) {
            return Err(Error::InvalidSchema(format!(
                "field `{}` is declared twice",
                f.name
            )));
        }
        match f.kind {
            FieldKind::Id => ids += 1,
            FieldKind::Text { boost, .. } if !(boost.is_finite() && boost > 0.0) => {
                return Err(Error::InvalidSchema(format!(
                    "text field `{}` needs a positive finite boost, not {boost}",
                    f.name
                )));
            }
            _ => {}
        }
    }
    if ids != 1 {
        return Err(Error::InvalidSchema(format!(
            "exactly one id field is needed, found {ids}"
        )));
    }
    if !spec
        .iter()
        .any(|f| matches!(f.kind, FieldKind::Text { .. }))
    {
        return Err(Error::InvalidSchema("no text field to search".into()));
    }
    Ok(())
}

/// Builds the tantivy schema for `spec`. The same spec always gives an equal schema, which is how
/// an existing index directory is checked against the caller's expectation.
pub(crate) fn build(spec: &[FieldSpec]) -> Result<(Schema, Fields)> {
    validate(spec)?;
    let mut builder: SchemaBuilder = Schema::builder();
    let mut id = None;
    let mut text = Vec::new();
    let mut keywords = BTreeMap::new();
    for f in spec {
        match f.kind {
            FieldKind::Id => {
                // FAST: filter-only listings sort by id straight from the column.
                let field = builder.add_text_field(f.name, STRING | STORED | tantivy::schema::FAST);
                id = Some((field, f.name));
            }
            FieldKind::Keyword => {
                keywords.insert(f.name, builder.add_text_field(f.name, STRING));
            }
            FieldKind::Text { boost, stored } => {
                let indexing = TextFieldIndexing::default()
                    .set_tokenizer(WORD_TOKENIZER)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions);
                let mut options = TextOptions::default().set_indexing_options(indexing);
                if stored {
                    options = options.set_stored();
                }
                let words = builder.add_text_field(f.name, options);
                // Positions are not needed for the character fallback: it only asks whether all
                // characters of a query word occur in the field.
                let char_indexing = TextFieldIndexing::default()
                    .set_tokenizer(CHAR_TOKENIZER)
                    .set_index_option(IndexRecordOption::WithFreqs);
                let chars = builder.add_text_field(
                    &format!("_c_{}", f.name),
                    TextOptions::default().set_indexing_options(char_indexing),
                );
                text.push(TextField {
                    name: f.name,
                    boost,
                    stored,
                    words,
                    chars,
                });
            }
        }
    }
    let (id, id_name) = id.ok_or_else(|| Error::InvalidSchema("no id field".into()))?;
    Ok((
        builder.build(),
        Fields {
            id,
            id_name,
            text,
            keywords,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_specs() {
        let t = FieldSpec::text("name", 1.0);
        let id = FieldSpec::id("id");
        assert!(build(&[t]).is_err(), "no id");
        assert!(build(&[id, id, t]).is_err(), "two ids");
        assert!(build(&[id, t, t]).is_err(), "duplicate");
        assert!(build(&[id, FieldSpec::keyword("k")]).is_err(), "no text");
        assert!(
            build(&[id, FieldSpec::text("_x", 1.0)]).is_err(),
            "reserved"
        );
        assert!(build(&[id, FieldSpec::text("Name", 1.0)]).is_err(), "case");
        assert!(
            build(&[id, FieldSpec::text("n", f32::NAN)]).is_err(),
            "boost"
        );
        assert!(build(&[id, FieldSpec::text("n", 0.0)]).is_err(), "boost");
        assert!(build(&[id, t, FieldSpec::keyword("township")]).is_ok());
    }

    #[test]
    fn same_spec_same_schema() {
        let spec = [
            FieldSpec::id("id"),
            FieldSpec::text("name", 2.0),
            FieldSpec::keyword("k"),
        ];
        assert_eq!(build(&spec).unwrap().0, build(&spec).unwrap().0);
        let other = [FieldSpec::id("id"), FieldSpec::text("name", 2.0)];
        assert_ne!(build(&spec).unwrap().0, build(&other).unwrap().0);
    }
}
