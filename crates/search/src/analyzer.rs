//! Chinese text analysis: normalisation, jieba segmentation with a domain dictionary, and the two
//! tantivy tokenizers built on it.
//!
//! Why not `tantivy_jieba::JiebaTokenizer`: with a custom dictionary it must own its `Jieba`
//! (`with_jieba`), and tantivy clones a tokenizer every time it looks one up (once per field for
//! every segment the writer starts, and on every query-time lookup). Cloning `Jieba` deep-copies
//! the whole ~350 000-word dictionary. The tokenizers here are zero-sized and share one
//! process-wide [`Jieba`] behind a [`LazyLock`] instead. They also put the sub-words of a compound
//! at the compound's own position, so phrase queries line up with the top-level words.

use std::borrow::Cow;
use std::sync::LazyLock;

use jieba_rs::Jieba;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Grassroots-governance words that must segment as one word. jieba's general dictionary splits
/// most of them (网格/员, 占道/经营 …), which would make them unfindable as words.
///
/// `村（社区）` from the usual lists cannot be a word: jieba splits text at punctuation before
/// it looks words up. Its parts 村 and 社区 are words already.
pub const DOMAIN_WORDS: &[&str] = &[
    // grids, summons, dispatch
    "网格员",
    "网格化",
    "网格长",
    "专职网格员",
    "多网合一",
    "吹哨报到",
    "街道吹哨",
    "部门报到",
    "乡呼县应",
    "接诉即办",
    "一口受理",
    "任务单",
    "限时办结",
    "联合执法",
    "综合执法",
    "综合行政执法",
    "行政执法",
    "执法中队",
    // street order
    "占道经营",
    "出店经营",
    "流动摊贩",
    "违法建设",
    "违章搭建",
    "违章建筑",
    "乱堆乱放",
    "乱搭乱建",
    "乱贴乱画",
    "油烟扰民",
    "噪声扰民",
    "噪音扰民",
    "渣土运输",
    "户外广告",
    "门头招牌",
    "燃气安全",
    "消防通道",
    "消防安全",
    "垃圾分类",
    "生活垃圾",
    "建筑垃圾",
    "占用道路",
    "城市道路",
    "市容环境卫生",
    "市容市貌",
    "共享单车",
    "宅基地",
    "农村建房",
    "秸秆焚烧",
    "河长制",
    "林长制",
    // services
    "一窗受理",
    "综合窗口",
    "受审分离",
    "最多跑一趟",
    "一趟不用跑",
    "一网通办",
    "帮办代办",
    "好差评",
    "办事指南",
    "便民服务",
    "政务服务",
    "公共服务",
    "公共服务事项",
    // organisation and lists
    "属地管理",
    "属地管理责任",
    "派驻机构",
    "权责清单",
    "职责清单",
    "责任清单",
    "事务准入",
    "下放事项",
    "通用目录",
    "个性化清单",
    "两单合一",
    "考核事项",
    "一事一报",
    "征得同意",
    "征询函",
    "联席会议",
    "编制",
    "借调",
    "乡镇",
    "街道办事处",
    "村民委员会",
    "居民委员会",
    // kinds of administrative power
    "行政处罚",
    "行政许可",
    "行政强制",
    "行政检查",
    "行政确认",
    "行政给付",
    "行政奖励",
    "行政裁决",
    "行政征收",
    "其他行政权力",
    // people served
    "社区矫正",
    "低保",
    "最低生活保障",
    "特困供养",
    "特困人员",
    "临时救助",
    "残疾人",
    "残疾人两项补贴",
    "退役军人",
    "优抚对象",
    "高龄津贴",
    "留守儿童",
    "独居老人",
    "计划生育",
    "医疗救助",
    "城乡居民",
    "养老保险",
    "医疗保险",
];

/// The process-wide segmenter: jieba's built-in dictionary plus [`DOMAIN_WORDS`].
///
/// Loading takes about 0.4 s and ~50 MB, so it happens once, on first use.
static JIEBA: LazyLock<Jieba> = LazyLock::new(|| {
    let mut jieba = Jieba::new();
    for word in DOMAIN_WORDS {
        // `None` lets jieba pick a frequency just high enough to keep the word whole.
        jieba.add_word(word, None, None);
    }
    jieba
});

/// Loads the dictionary now rather than on the first document or query.
pub fn warm_up() {
    LazyLock::force(&JIEBA);
}

/// Whether `word` (normalised) is in the dictionary.
pub(crate) fn is_word(word: &str) -> bool {
    JIEBA.has_word(word)
}

/// Tokens longer than this (in bytes) are dropped: no one searches for a 100-byte run of letters,
/// and tantivy rejects terms above 64 KiB.
const MAX_WORD_BYTES: usize = 96;

/// Compounds longer than this (in characters) are not searched for dictionary sub-words; jieba
/// never produces such words from Chinese text, only from long Latin or digit runs.
const MAX_COMPOUND_CHARS: usize = 12;

/// Whether `c` is a Chinese character (CJK unified ideographs and their extensions).
pub(crate) fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3134F}')
}

/// Whether jieba keeps `c` inside a block it segments as a whole (its `RE_HAN_DEFAULT` class).
/// Any other character is a token of its own, so text can be cut before and after one without
/// changing how the rest segments.
fn is_block_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '&' | '.' | '_' | '%' | '-')
    } else {
        is_han(c)
    }
}

/// Byte ranges of the pieces [`segment`] handles independently: maximal runs of block
/// characters, and every other character alone. Segmenting the pieces one by one gives the same
/// words as segmenting the whole text, so a highlighter can skip pieces without a candidate.
pub(crate) fn pieces(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, c) = chars.next()?;
        let mut end = start + c.len_utf8();
        if is_block_char(c) {
            while let Some(&(i, c)) = chars.peek() {
                if !is_block_char(c) {
                    break;
                }
                end = i + c.len_utf8();
                chars.next();
            }
        }
        Some((start, end))
    })
}

/// Text normalised for matching: full-width ASCII folded to half-width, ideographic space to a
/// space, everything lower-cased. `origin` maps each byte of `text` (and one past its end) to the
/// byte of the source text it came from, so that matches can be marked in the original.
pub(crate) struct Normalized<'a> {
    pub text: Cow<'a, str>,
    origin: Option<Vec<usize>>,
}

impl Normalized<'_> {
    /// The byte offset in the source text of byte `i` of the normalised text.
    pub fn origin(&self, i: usize) -> usize {
        match &self.origin {
            None => i,
            Some(map) => map[i],
        }
    }
}

fn fold(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// Normalises `text`; borrows it when nothing changes (the common case for Chinese text).
pub(crate) fn normalize(text: &str) -> Normalized<'_> {
    let unchanged = text.chars().all(|c| {
        let f = fold(c);
        f == c && !c.is_uppercase()
    });
    if unchanged {
        return Normalized {
            text: Cow::Borrowed(text),
            origin: None,
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len() + 1);
    for (i, c) in text.char_indices() {
        for l in fold(c).to_lowercase() {
            out.push(l);
            origin.resize(out.len(), i);
        }
    }
    origin.push(text.len());
    Normalized {
        text: Cow::Owned(out),
        origin: Some(origin),
    }
}

/// One word found by [`segment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word<'a> {
    /// The word, normalised.
    pub text: &'a str,
    /// Byte range in the normalised text.
    pub start: usize,
    pub end: usize,
    /// Ordinal of the top-level word this word belongs to.
    pub position: u32,
    /// A dictionary word inside a longer word (大学 in 北京大学), or a part of a joined
    /// alphanumeric token (abc in abc-123). Sub-words share the position of their word.
    pub sub: bool,
}

/// Segments normalised text into words, the way both documents and queries are indexed.
///
/// Each top-level jieba word (default mode, HMM on for unknown words) gets the next ordinal
/// position; words without a letter or digit (punctuation, spaces) are dropped without using up a
/// position. Before each word come its sub-words: every dictionary word of two or more characters
/// strictly inside it (jieba's search mode only looks at 2- and 3-character ones, which misses
/// 行政执法 in 综合行政执法), at the same position.
pub(crate) fn segment<'a>(text: &'a str, mut emit: impl FnMut(Word<'a>)) {
    let jieba = &*JIEBA;
    let mut position = 0u32;
    let mut bounds: Vec<usize> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for token in jieba.cut(text, true) {
        let word = token.word;
        if word.len() > MAX_WORD_BYTES || !word.chars().any(char::is_alphanumeric) {
            continue;
        }
        let start = token.byte_start;
        bounds.clear();
        bounds.extend(word.char_indices().map(|(i, _)| i));
        bounds.push(word.len());
        let chars = bounds.len() - 1;
        seen.clear();
        if (3..=MAX_COMPOUND_CHARS).contains(&chars) && word.chars().all(is_han) {
            for len in 2..chars {
                for i in 0..=chars - len {
                    let (a, b) = (bounds[i], bounds[i + len]);
                    let sub = &word[a..b];
                    if jieba.has_word(sub) && !seen.contains(&sub) {
                        seen.push(sub);
                        emit(Word {
                            text: sub,
                            start: start + a,
                            end: start + b,
                            position,
                            sub: true,
                        });
                    }
                }
            }
        } else if word.is_ascii() && word.bytes().any(|b| !b.is_ascii_alphanumeric()) {
            // `gb-5749`, `v1.2`: the parts are findable on their own too.
            let mut offset = 0;
            for part in word.split(|c: char| !c.is_ascii_alphanumeric()) {
                if !part.is_empty() && part.len() < word.len() && !seen.contains(&part) {
                    seen.push(part);
                    emit(Word {
                        text: part,
                        start: start + offset,
                        end: start + offset + part.len(),
                        position,
                        sub: true,
                    });
                }
                offset += part.len() + 1;
            }
        }
        emit(Word {
            text: word,
            start,
            end: start + word.len(),
            position,
            sub: false,
        });
        position += 1;
    }
}

/// Token stream over pre-computed tokens.
pub(crate) struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// The word tokenizer for text fields: normalise, then [`segment`] (top-level words and their
/// sub-words, ordinal positions so phrase queries work).
///
/// Zero-sized and cheap to clone: every clone uses the one shared dictionary.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChineseWordTokenizer;

impl Tokenizer for ChineseWordTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let norm = normalize(text);
        let mut tokens = Vec::new();
        segment(&norm.text, |w| {
            tokens.push(Token {
                offset_from: norm.origin(w.start),
                offset_to: norm.origin(w.end),
                position: w.position as usize,
                text: w.text.to_owned(),
                position_length: 1,
            });
        });
        VecTokenStream { tokens, next: 0 }
    }
}

/// The character tokenizer for the hidden per-field character index: every Chinese character is
/// a token. It lets a query word that is not found as a word be found as an abbreviation of a
/// longer phrase (占道经营 → 占用道路从事经营活动), by requiring all its characters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ChineseCharTokenizer;

impl Tokenizer for ChineseCharTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let mut tokens = Vec::new();
        for (i, c) in text.char_indices() {
            if is_han(c) {
                tokens.push(Token {
                    offset_from: i,
                    offset_to: i + c.len_utf8(),
                    position: tokens.len(),
                    text: c.to_string(),
                    position_length: 1,
                });
            }
        }
        VecTokenStream { tokens, next: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(String, u32, bool)> {
        let norm = normalize(text);
        let mut out = Vec::new();
        segment(&norm.text, |w| {
            out.push((w.text.to_owned(), w.position, w.sub))
        });
        out
    }

    fn top(text: &str) -> Vec<String> {
        words(text)
            .into_iter()
            .filter(|w| !w.2)
            .map(|w| w.0)
            .collect()
    }

    #[test]
    fn domain_words_stay_whole() {
        for w in DOMAIN_WORDS {
            if w.chars().all(is_han) {
                assert_eq!(top(w), vec![w.to_string()], "{w}");
            }
        }
        assert_eq!(top("网格员开展巡查"), vec!["网格员", "开展", "巡查"]);
        assert_eq!(
            top("对占道经营的处罚"),
            vec!["对", "占道经营", "的", "处罚"]
        );
    }

    #[test]
    fn compounds_bring_their_parts() {
        let w = words("综合行政执法");
        let texts: Vec<&str> = w.iter().map(|w| w.0.as_str()).collect();
        for part in ["综合", "行政", "执法", "行政执法", "综合行政执法"] {
            assert!(texts.contains(&part), "{part} missing from {texts:?}");
        }
        assert!(w.iter().all(|w| w.1 == 0));
    }

    #[test]
    fn punctuation_is_dropped_without_a_position() {
        let top: Vec<(String, u32)> = words("城市道路，（经营）")
            .into_iter()
            .filter(|w| !w.2)
            .map(|w| (w.0, w.1))
            .collect();
        assert_eq!(top, vec![("城市道路".into(), 0), ("经营".into(), 1)]);
    }

    #[test]
    fn pieces_segment_like_the_whole() {
        let text = "《中华人民共和国行政处罚法》第一百条，网格员abc-12 Ünïcode\r\n占道经营。";
        let whole = words(text);
        let mut parts = Vec::new();
        for (a, b) in pieces(text) {
            parts.extend(words(&text[a..b]).into_iter().map(|w| (w.0, w.2)));
        }
        let whole: Vec<(String, bool)> = whole.into_iter().map(|w| (w.0, w.2)).collect();
        assert_eq!(whole, parts);
    }

    #[test]
    fn normalisation_folds_width_and_case_and_maps_offsets() {
        let n = normalize("ＧＢ５７４９与Abc");
        assert_eq!(n.text, "gb5749与abc");
        assert_eq!(n.origin(0), 0);
        assert_eq!(n.origin(2), 6);
        assert_eq!(n.origin(n.text.len()), "ＧＢ５７４９与Abc".len());
        assert!(matches!(normalize("纯中文").text, Cow::Borrowed(_)));
        assert_eq!(top("GB-5749"), vec!["gb-5749"]);
        let all: Vec<String> = words("GB-5749").into_iter().map(|w| w.0).collect();
        assert_eq!(all, vec!["gb", "5749", "gb-5749"]);
    }
}
