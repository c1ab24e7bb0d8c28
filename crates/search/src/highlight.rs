//! Snippets with the matched words wrapped in `<mark>`.
//!
//! tantivy's `SnippetGenerator` is not used: it looks the tokenizer up per query (a clone), and
//! it knows nothing of the character fallback, whose matches should be marked too.

use crate::analyzer::{normalize, pieces, segment};
use crate::query::{CharGroup, Plan};

/// Longest snippet, in characters (not counting the `…` added at cut ends).
pub const SNIPPET_CHARS: usize = 120;
/// Characters of context kept before the first mark of a cut snippet.
const LEAD_CHARS: usize = 20;

/// Appends `s` to `out`, HTML-escaped.
pub(crate) fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// The snippet of `text` for `plan`, or `None` when nothing in `text` matches.
pub(crate) fn highlight(text: &str, plan: &Plan) -> Option<String> {
    let norm = normalize(text);
    let folded: &str = &norm.text;
    // Character groups whose characters all occur (and so may be marked) …
    let groups: Vec<&CharGroup> = plan
        .char_groups
        .iter()
        .filter(|g| g.chars.iter().all(|&c| folded.contains(c)))
        .collect();
    // … and query words that occur at least as substrings. Segmenting is the costly part, so
    // only the pieces of text that hold such a candidate are segmented.
    let candidates: Vec<&str> = plan
        .terms
        .iter()
        .map(|t| t.0.as_str())
        .chain(plan.phrases.iter().flatten().map(|(_, w)| w.as_str()))
        .filter(|w| folded.contains(w))
        .collect();
    if groups.is_empty() && candidates.is_empty() {
        return None;
    }
    let mut marks: Vec<(usize, usize)> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    if !candidates.is_empty() {
        for (a, b) in pieces(folded) {
            let piece = &folded[a..b];
            if !candidates.iter().any(|c| piece.contains(c)) {
                continue;
            }
            segment(piece, |w| {
                if plan.has_term(w.text) {
                    marks.push((norm.origin(a + w.start), norm.origin(a + w.end)));
                    words.push(w.text);
                }
            });
        }
    }
    for group in groups {
        // Only where the word itself did not match.
        if words.contains(&group.source.as_str()) {
            continue;
        }
        for (i, c) in folded.char_indices() {
            if group.chars.contains(&c) {
                marks.push((norm.origin(i), norm.origin(i + c.len_utf8())));
            }
        }
    }
    if marks.is_empty() {
        return None;
    }
    marks.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(marks.len());
    for (a, b) in marks {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }

    // Byte offset of every character, plus the end.
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let chars = bounds.len() - 1;
    let char_at = |byte: usize| bounds.partition_point(|&b| b < byte);
    let (mut from, mut to) = (0, chars);
    if chars > SNIPPET_CHARS {
        // The window with the most marks, starting a little before one of them.
        let mut best = (0, usize::MAX);
        for &(a, _) in &merged {
            let s = char_at(a).saturating_sub(LEAD_CHARS);
            let s = s.min(chars - SNIPPET_CHARS);
            let (ws, we) = (bounds[s], bounds[s + SNIPPET_CHARS]);
            let n = merged.iter().filter(|m| m.0 >= ws && m.1 <= we).count();
            if n > best.0 {
                best = (n, s);
            }
        }
        from = if best.1 == usize::MAX { 0 } else { best.1 };
        to = from + SNIPPET_CHARS;
    }
    let (start, end) = (bounds[from], bounds[to]);

    let mut out = String::with_capacity((end - start) * 2);
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for (a, b) in merged {
        let (a, b) = (a.max(start), b.min(end));
        if a >= b {
            continue;
        }
        escape_into(&mut out, &text[at..a]);
        out.push_str("<mark>");
        escape_into(&mut out, &text[a..b]);
        out.push_str("</mark>");
        at = b;
    }
    escape_into(&mut out, &text[at..end]);
    if end < text.len() {
        out.push('…');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::plan;

    #[test]
    fn marks_words_and_escapes() {
        let p = plan("网格员");
        assert_eq!(
            highlight("<b>网格员</b>&巡查", &p).unwrap(),
            "&lt;b&gt;<mark>网格员</mark>&lt;/b&gt;&amp;巡查"
        );
        assert_eq!(highlight("无关内容", &p), None);
    }

    #[test]
    fn marks_characters_of_an_abbreviation() {
        let p = plan("占道经营");
        assert_eq!(
            highlight("占用道路从事经营活动", &p).unwrap(),
            "<mark>占</mark>用<mark>道</mark>路从事<mark>经营</mark>活动"
        );
    }

    #[test]
    fn marks_in_original_width_and_case() {
        let p = plan("gb5749");
        assert_eq!(
            highlight("标准ＧＢ５７４９", &p).unwrap(),
            "标准<mark>ＧＢ５７４９</mark>"
        );
    }

    #[test]
    fn cuts_long_text_around_the_marks() {
        let text = format!("{}网格员{}", "甲".repeat(300), "乙".repeat(300));
        let s = highlight(&text, &plan("网格员")).unwrap();
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>网格员</mark>"));
        assert_eq!(s.chars().filter(|&c| c == '甲').count(), LEAD_CHARS);
    }
}
