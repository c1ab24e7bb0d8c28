//! From the user's query string to a tantivy query, built term by term. User text never reaches
//! tantivy's `QueryParser`, whose syntax errors (`a:`, `(`, `"`) would otherwise surface as
//! errors or odd results for ordinary Chinese input.

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, Occur, PhraseQuery, Query as TantivyQuery,
    TermQuery,
};
use tantivy::schema::IndexRecordOption;

use crate::analyzer::{self, is_han, normalize, segment};
use crate::error::{Error, Result};
use crate::schema::Fields;

/// A search request.
///
/// `text` is free text: words are OR-ed and ranked by BM25, a document matching more of them
/// ranks higher; text in double quotes (`"…"`, `“…”`, `「…」`) is a phrase the document must
/// contain. Blank text lists the (filtered) documents sorted by id; text without a single
/// searchable word (only punctuation, say) matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query<'a> {
    pub text: &'a str,
    /// `(keyword field, accepted values)`: a document matches a filter when it has any of the
    /// values (OR), and must match every filter (AND). An empty value list matches nothing, so a
    /// scope computed as "no townships" hides everything rather than nothing.
    pub filters: Vec<(&'a str, Vec<String>)>,
    /// Hits to return, at most [`MAX_LIMIT`]; 0 only counts.
    pub limit: usize,
    /// Hits to skip, for paging.
    pub offset: usize,
}

/// The most hits one search returns.
pub const MAX_LIMIT: usize = 1000;

/// Query text beyond this many characters is ignored: a search box needs no more, and it bounds
/// the work one request can cause.
pub const MAX_QUERY_CHARS: usize = 200;

impl<'a> Query<'a> {
    /// A query for `text`, first 20 hits, no filters.
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            filters: Vec::new(),
            limit: 20,
            offset: 0,
        }
    }

    /// Adds a filter: the document's `field` must hold one of `values`.
    #[must_use]
    pub fn filter<S: Into<String>>(
        mut self,
        field: &'a str,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        self.filters
            .push((field, values.into_iter().map(Into::into).collect()));
        self
    }

    /// Sets how many hits to return.
    #[must_use]
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Sets how many hits to skip.
    #[must_use]
    pub fn with_offset(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }
}

/// Weight of a query word's dictionary sub-words (网格 for 网格员) relative to the word itself.
const SUB_WORD_WEIGHT: f32 = 0.5;
/// Weight of the all-characters fallback relative to a word match.
const CHAR_GROUP_WEIGHT: f32 = 0.3;
/// The character fallback is skipped in a field where every character of the word occurs in more
/// than 1 / `COMMON_CHAR_SHARE` of the documents.
const COMMON_CHAR_SHARE: u64 = 5;
const MAX_TERMS: usize = 32;
const MAX_GROUPS: usize = 8;
const MAX_PHRASES: usize = 4;
/// Weight of the words-next-to-each-other bonus relative to a word match.
const PROXIMITY_WEIGHT: f32 = 1.0;
/// Words that may come between (or be swapped among) the query's words for the bonus.
const PROXIMITY_SLOP: u32 = 2;
/// Longer free text gets no proximity bonus: phrase matching is costly and rarely helps there.
const MAX_PROXIMITY_WORDS: usize = 8;

/// Function words that would match nearly every document. Dropped from free text unless the
/// query has nothing else; kept inside phrases.
const STOP_WORDS: &[&str] = &[
    "的", "了", "和", "与", "及", "或", "在", "对", "是", "等", "之", "其", "把", "被", "于", "为",
    "以", "由", "向", "从", "按", "将", "并", "而", "且", "也", "都", "这", "那", "个", "吗", "呢",
    "啊", "吧", "有关", "相关", "关于", "如何", "怎么", "哪些", "什么", "进行", "the", "of", "and",
    "a", "an", "to", "in",
];

/// Characters that must all occur in one field, and the query text they come from.
#[derive(Debug, PartialEq)]
pub(crate) struct CharGroup {
    pub source: String,
    pub chars: Vec<char>,
}

/// What the query text asks for, after segmentation.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    /// Distinct words to OR, with their weight.
    pub terms: Vec<(String, f32)>,
    /// Groups of characters that must all occur in one field: the fallback that finds 占道经营 in
    /// 占用道路从事经营活动.
    pub char_groups: Vec<CharGroup>,
    /// Required phrases: their top-level words with positions relative to the first.
    pub phrases: Vec<Vec<(usize, String)>>,
    /// The free-text words (without stop words, which would only slow the match down) at their
    /// positions in the query: documents holding them (nearly) next to each other get a bonus, so
    /// 食品经营许可 ranks a document saying 食品经营许可 above one with 食品, 经营 and 许可
    /// scattered.
    pub proximity: Vec<Vec<(usize, String)>>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.char_groups.is_empty() && self.phrases.is_empty()
    }

    fn add_term(&mut self, word: &str, weight: f32) {
        if let Some(t) = self.terms.iter_mut().find(|t| t.0 == word) {
            t.1 = t.1.max(weight);
        } else if self.terms.len() < MAX_TERMS {
            self.terms.push((word.to_owned(), weight));
        }
    }

    fn add_group(&mut self, chars: &[char]) {
        let mut group: Vec<char> = Vec::new();
        for &c in chars {
            if !group.contains(&c) {
                group.push(c);
            }
        }
        if group.len() >= 2
            && self.char_groups.len() < MAX_GROUPS
            && !self.char_groups.iter().any(|g| g.chars == group)
        {
            self.char_groups.push(CharGroup {
                source: chars.iter().collect(),
                chars: group,
            });
        }
    }

    /// Whether a (normalised) word is one of the query's, for highlighting.
    pub fn has_term(&self, word: &str) -> bool {
        self.terms.iter().any(|t| t.0 == word)
            || self.phrases.iter().flatten().any(|(_, w)| w == word)
    }
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '「' | '」' | '『' | '』')
}

/// Splits `text` into (segment, quoted) parts. An unclosed quote counts as free text.
fn split_quotes(text: &str) -> Vec<(&str, bool)> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(is_quote) {
        let after = &rest[open + rest[open..].chars().next().map_or(1, char::len_utf8)..];
        let Some(close) = after.find(is_quote) else {
            break;
        };
        parts.push((&rest[..open], false));
        parts.push((&after[..close], true));
        rest = &after[close + after[close..].chars().next().map_or(1, char::len_utf8)..];
    }
    parts.push((rest, false));
    parts
}

/// Segments the query text the way documents were segmented and decides what to look for.
pub(crate) fn plan(text: &str) -> Plan {
    let text = match text.char_indices().nth(MAX_QUERY_CHARS) {
        Some((i, _)) => &text[..i],
        None => text,
    };
    let mut plan = Plan::default();
    let mut stop_terms: Vec<String> = Vec::new();
    for (part, quoted) in split_quotes(text) {
        let norm = normalize(part);
        if quoted {
            let mut phrase: Vec<(usize, String)> = Vec::new();
            segment(&norm.text, |w| {
                if !w.sub {
                    phrase.push((w.position as usize, w.text.to_owned()));
                }
            });
            if !phrase.is_empty()
                && plan.phrases.len() < MAX_PHRASES
                && !plan.phrases.contains(&phrase)
            {
                plan.phrases.push(phrase);
            }
            continue;
        }
        // Consecutive single characters (an abbreviation jieba did not know, like 违建) are
        // treated as one unit: as a character group, and as any dictionary word they spell.
        let mut run: Vec<char> = Vec::new();
        let mut run_words: Vec<&str> = Vec::new();
        let mut sequence: Vec<(usize, String)> = Vec::new();
        let flush = |plan: &mut Plan, run: &mut Vec<char>, run_words: &mut Vec<&str>| {
            if run.len() >= 2 {
                plan.add_group(run);
                for len in 2..=run_words.len() {
                    for win in run_words.windows(len) {
                        let joined: String = win.concat();
                        if analyzer::is_word(&joined) {
                            plan.add_term(&joined, 1.0);
                        }
                    }
                }
            }
            run.clear();
            run_words.clear();
        };
        segment(&norm.text, |w| {
            if STOP_WORDS.contains(&w.text) {
                if !w.sub {
                    stop_terms.push(w.text.to_owned());
                    flush(&mut plan, &mut run, &mut run_words);
                }
                return;
            }
            if w.sub {
                plan.add_term(w.text, SUB_WORD_WEIGHT);
                return;
            }
            plan.add_term(w.text, 1.0);
            if sequence.len() <= MAX_PROXIMITY_WORDS {
                sequence.push((w.position as usize, w.text.to_owned()));
            }
            let mut chars = w.text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if is_han(c) => {
                    run.push(c);
                    run_words.push(w.text);
                }
                _ => {
                    flush(&mut plan, &mut run, &mut run_words);
                    let han: Vec<char> = w.text.chars().filter(|&c| is_han(c)).collect();
                    if han.len() == w.text.chars().count() {
                        plan.add_group(&han);
                    }
                }
            }
        });
        flush(&mut plan, &mut run, &mut run_words);
        if (2..=MAX_PROXIMITY_WORDS).contains(&sequence.len()) {
            let first = sequence[0].0;
            for (p, _) in &mut sequence {
                *p -= first;
            }
            plan.proximity.push(sequence);
        }
    }
    if plan.is_empty() {
        for t in stop_terms {
            plan.add_term(&t, 1.0);
        }
    }
    plan
}

fn term_query(term: Term, option: IndexRecordOption) -> Box<dyn TantivyQuery> {
    Box::new(TermQuery::new(term, option))
}

/// The scoring part of the query, or `None` when the plan has nothing to look for.
///
/// `doc_freq` and `num_docs` describe the index searched; they decide where the character
/// fallback is worth its cost.
pub(crate) fn text_query(
    plan: &Plan,
    fields: &Fields,
    doc_freq: impl Fn(&Term) -> u64,
    num_docs: u64,
) -> Option<Box<dyn TantivyQuery>> {
    if plan.is_empty() {
        return None;
    }
    let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
    for phrase in &plan.phrases {
        let mut per_field: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
        for f in &fields.text {
            let q: Box<dyn TantivyQuery> = if let [(_, word)] = phrase.as_slice() {
                term_query(
                    Term::from_field_text(f.words, word),
                    IndexRecordOption::WithFreqs,
                )
            } else {
                let first = phrase[0].0;
                Box::new(PhraseQuery::new_with_offset(
                    phrase
                        .iter()
                        .map(|(p, w)| (p - first, Term::from_field_text(f.words, w)))
                        .collect(),
                ))
            };
            per_field.push((Occur::Should, Box::new(BoostQuery::new(q, f.boost))));
        }
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(per_field))));
    }
    for f in &fields.text {
        for words in &plan.proximity {
            let phrase = PhraseQuery::new_with_offset_and_slop(
                words
                    .iter()
                    .map(|(p, w)| (*p, Term::from_field_text(f.words, w)))
                    .collect(),
                PROXIMITY_SLOP,
            );
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(phrase),
                    f.boost * PROXIMITY_WEIGHT,
                )),
            ));
        }
        for (word, weight) in &plan.terms {
            let q = term_query(
                Term::from_field_text(f.words, word),
                IndexRecordOption::WithFreqs,
            );
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(q, f.boost * weight)),
            ));
        }
        for group in &plan.char_groups {
            let terms: Vec<Term> = group
                .chars
                .iter()
                .map(|c| Term::from_field_text(f.chars, c.encode_utf8(&mut [0u8; 4])))
                .collect();
            // Where even the rarest of the characters is in a large share of the documents, they
            // co-occur by chance: the fallback would add noise, and intersecting such long
            // posting lists is the most expensive part of a query.
            let rarest = terms.iter().map(&doc_freq).min().unwrap_or(0);
            if rarest == 0 || rarest.saturating_mul(COMMON_CHAR_SHARE) > num_docs {
                continue;
            }
            let all: Vec<(Occur, Box<dyn TantivyQuery>)> = terms
                .into_iter()
                .map(|t| (Occur::Must, term_query(t, IndexRecordOption::WithFreqs)))
                .collect();
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(
                    Box::new(BooleanQuery::new(all)),
                    f.boost * CHAR_GROUP_WEIGHT,
                )),
            ));
        }
    }
    Some(Box::new(BooleanQuery::new(clauses)))
}

/// The filter part: `None` for no filters, `Err` for a field that is not a keyword field.
/// A filter with no values yields a query that matches nothing.
pub(crate) fn filter_query(
    filters: &[(&str, Vec<String>)],
    fields: &Fields,
) -> Result<Option<Box<dyn TantivyQuery>>> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut must: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
    for (name, values) in filters {
        let field = *fields
            .keywords
            .get(name)
            .ok_or_else(|| Error::UnknownField {
                field: (*name).to_owned(),
                expected: "keyword",
            })?;
        let any: Vec<(Occur, Box<dyn TantivyQuery>)> = values
            .iter()
            .map(|v| {
                (
                    Occur::Should,
                    term_query(Term::from_field_text(field, v), IndexRecordOption::Basic),
                )
            })
            .collect();
        if any.is_empty() {
            // Matches nothing: MUST NOT everything.
            must.push((Occur::MustNot, Box::new(AllQuery)));
            must.push((Occur::Must, Box::new(AllQuery)));
        } else {
            must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
    }
    Ok(Some(Box::new(ConstScoreQuery::new(
        Box::new(BooleanQuery::new(must)),
        0.0,
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(p: &Plan) -> Vec<&str> {
        p.terms.iter().map(|t| t.0.as_str()).collect()
    }

    #[test]
    fn quotes() {
        assert_eq!(
            split_quotes("a\"b c\"d"),
            vec![("a", false), ("b c", true), ("d", false)]
        );
        assert_eq!(
            split_quotes("“占道经营”处罚"),
            vec![("", false), ("占道经营", true), ("处罚", false)]
        );
        assert_eq!(split_quotes("a\"b"), vec![("a\"b", false)]);
        assert_eq!(
            split_quotes("\"\""),
            vec![("", false), ("", true), ("", false)]
        );
    }

    #[test]
    fn words_sub_words_and_groups() {
        let p = plan("网格员");
        assert_eq!(terms(&p), vec!["网格", "网格员"]);
        assert_eq!(p.terms[0].1, SUB_WORD_WEIGHT);
        assert_eq!(p.char_groups[0].chars, vec!['网', '格', '员']);
        assert_eq!(p.char_groups[0].source, "网格员");
        assert!(p.phrases.is_empty());
    }

    #[test]
    fn stop_words_are_dropped_unless_alone() {
        let p = plan("对占道经营的处罚");
        assert!(!terms(&p).contains(&"对"));
        assert!(!terms(&p).contains(&"的"));
        assert!(terms(&p).contains(&"占道经营"));
        assert_eq!(terms(&plan("的")), vec!["的"]);
    }

    #[test]
    fn single_character_runs_become_words_and_groups() {
        // jieba cuts a lone 占道 into 占 / 道; the dictionary word 占道 is added back.
        let p = plan("占道");
        assert!(terms(&p).contains(&"占道"), "{p:?}");
        assert_eq!(p.char_groups.len(), 1);
        assert_eq!(p.char_groups[0].chars, vec!['占', '道']);
    }

    #[test]
    fn phrases() {
        let p = plan("\"城市道路 占道经营\" 处罚");
        assert_eq!(
            p.phrases,
            vec![vec![(0, "城市道路".to_owned()), (1, "占道经营".to_owned())]]
        );
        assert_eq!(terms(&p), vec!["处罚"]);
        assert!(p.proximity.is_empty());
    }

    #[test]
    fn proximity_keeps_query_order_and_gaps() {
        let p = plan("对违法建设的 行政处罚");
        let words: Vec<(usize, &str)> = p.proximity[0]
            .iter()
            .map(|(i, w)| (*i, w.as_str()))
            .collect();
        assert_eq!(words, vec![(0, "违法建设"), (2, "行政处罚")]);
        assert!(plan("网格员").proximity.is_empty());
        assert!(plan("的网格员").proximity.is_empty());
    }

    #[test]
    fn nothing_to_search() {
        assert!(plan("").is_empty());
        assert!(plan("，。！？ \"\"").is_empty());
    }
}
