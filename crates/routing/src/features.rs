//! Text → features: normalisation, jieba words with a domain dictionary, character bigrams and
//! single characters.
//!
//! Three views of the same text, because each one covers the others' blind spots:
//! - **words** carry meaning when jieba gets them right (占道经营, 渣土车);
//! - **character bigrams** survive segmentation errors, unknown words and abbreviations
//!   (占道 and 经营 are also bigrams of 占用道路从事经营活动's neighbours);
//! - **single characters** survive typos (拉圾 still shares 圾 with 垃圾) and give a weak signal
//!   for texts made of words the router has never seen.
//!
//! Every feature is counted once per text (presence, not frequency): hotline texts are short and a
//! repeated word is usually the caller's emphasis, not more evidence. Presence also keeps the
//! counts integers, which is what lets [`crate::Router::unlearn`] restore them exactly.

use std::sync::LazyLock;

use jieba_rs::Jieba;

/// Words of grassroots case reports that must segment as one word. jieba's general dictionary
/// splits most of them (占道/经营, 渣土/车), which would lose the compound's meaning; their parts
/// are still emitted as sub-words.
pub const DOMAIN_WORDS: &[&str] = &[
    "网格员",
    "网格长",
    "热线",
    "市民热线",
    "诉求人",
    "来电人",
    "占道经营",
    "出店经营",
    "流动摊贩",
    "无照经营",
    "游商",
    "小商贩",
    "违章搭建",
    "违法建设",
    "违章建筑",
    "私搭乱建",
    "乱搭乱建",
    "乱堆乱放",
    "乱贴乱画",
    "小广告",
    "牛皮癣",
    "渣土车",
    "渣土",
    "遗撒",
    "抛洒",
    "噪音扰民",
    "噪声扰民",
    "施工扰民",
    "夜间施工",
    "油烟",
    "油烟扰民",
    "油烟机",
    "净化器",
    "暴露垃圾",
    "垃圾桶",
    "垃圾箱",
    "垃圾满溢",
    "清运",
    "建筑垃圾",
    "生活垃圾",
    "井盖",
    "路灯",
    "窨井",
    "下水道",
    "化粪池",
    "塌陷",
    "积水",
    "物业",
    "物业费",
    "业委会",
    "供暖",
    "暖气",
    "停水",
    "水压",
    "停车位",
    "乱停车",
    "消防通道",
    "共享单车",
    "电动车",
    "飞线充电",
    "绿化带",
    "草坪",
    "行道树",
    "流浪狗",
    "烧烤摊",
    "广场舞",
    "食品安全",
    "过期食品",
    "健康证",
];

/// The process-wide segmenter: jieba's built-in dictionary plus [`DOMAIN_WORDS`].
///
/// Loading takes a few hundred milliseconds and tens of megabytes, so it happens once, on first
/// use, and every [`crate::Router`] shares it.
static JIEBA: LazyLock<Jieba> = LazyLock::new(|| {
    let mut jieba = Jieba::new();
    for word in DOMAIN_WORDS {
        // `None` lets jieba choose a frequency just high enough to keep the word whole.
        jieba.add_word(word, None, None);
    }
    jieba
});

/// Loads the segmentation dictionary now, so the first routed text does not pay for it.
pub fn warm_up() {
    LazyLock::force(&JIEBA);
}

/// The kind of a feature; each kind has its own weight at routing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Word = 0,
    Bigram = 1,
    Char = 2,
}

impl Kind {
    fn tag(self) -> char {
        match self {
            Kind::Word => 'w',
            Kind::Bigram => 'b',
            Kind::Char => 'c',
        }
    }

    pub(crate) fn of(key: &str) -> Kind {
        match key.as_bytes().first() {
            Some(b'b') => Kind::Bigram,
            Some(b'c') => Kind::Char,
            _ => Kind::Word,
        }
    }
}

/// Texts longer than this (in characters) are cut: a case text is a few sentences, and the cut
/// bounds the work one call can cause whatever the caller passes in.
pub const MAX_TEXT_CHARS: usize = 2_000;

/// Whether `c` is a Chinese character (CJK unified ideographs and their extensions).
pub(crate) fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3134F}')
}

/// Normalises a text for feature extraction.
///
/// Full-width ASCII is folded to half-width (hotline operators type both), letters are
/// lower-cased, every run of digits becomes one `0` (a house number or a date says nothing about
/// the category, but "a number stood here" does: 3号楼 and 12号楼 both become 0号楼), and every
/// character that is neither a letter, a digit nor Chinese becomes a space, which separates runs.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_digit = false;
    let mut last_space = true;
    for c in text.chars().take(MAX_TEXT_CHARS) {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        };
        if c.is_ascii_digit() || c.is_numeric() && !is_han(c) {
            if !last_digit {
                out.push('0');
            }
            last_digit = true;
            last_space = false;
            continue;
        }
        last_digit = false;
        if is_han(c) || c.is_alphabetic() {
            out.extend(c.to_lowercase());
            last_space = false;
        } else if !last_space {
            out.push(' ');
            last_space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// A text's features as every [`crate::Router`] reads them, extracted once
/// ([`crate::Router::route_features`]).
#[derive(Debug, Clone, Default)]
pub struct Features(pub(crate) Vec<String>);

impl Features {
    pub fn of(text: &str) -> Features {
        let mut keys = Vec::new();
        extract(text, &mut keys);
        Features(keys)
    }
}

/// Compounds longer than this (in characters) are not searched for dictionary sub-words.
const MAX_COMPOUND_CHARS: usize = 8;

/// Tokens longer than this (in bytes) are dropped: a 100-letter run is noise, not a word.
const MAX_WORD_BYTES: usize = 48;

/// The features of `text`, each once, as keys `<kind tag><text>`, appended to `out` (which is
/// cleared first). The result is sorted and free of duplicates.
pub(crate) fn extract(text: &str, out: &mut Vec<String>) {
    out.clear();
    let norm = normalize(text);
    let jieba = &*JIEBA;
    for run in norm.split(' ').filter(|r| !r.is_empty()) {
        for word in jieba.cut(run, true) {
            let word = word.word.trim();
            if word.is_empty() || word.len() > MAX_WORD_BYTES {
                continue;
            }
            push(out, Kind::Word, word);
            // Sub-words let 噪音扰民 share evidence with 噪音 and 扰民, and 渣土车 with 渣土.
            let chars: Vec<(usize, char)> = word.char_indices().collect();
            let n = chars.len();
            if (3..=MAX_COMPOUND_CHARS).contains(&n) && chars.iter().all(|&(_, c)| is_han(c)) {
                for len in 2..n {
                    for i in 0..=n - len {
                        let a = chars[i].0;
                        let b = chars.get(i + len).map_or(word.len(), |&(j, _)| j);
                        let sub = &word[a..b];
                        if jieba.has_word(sub) {
                            push(out, Kind::Word, sub);
                        }
                    }
                }
            }
        }
        let chars: Vec<char> = run.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            if is_han(c) {
                push_chars(out, Kind::Char, &[c]);
            }
            if let Some(&d) = chars.get(i + 1)
                && (is_han(c) || is_han(d))
            {
                push_chars(out, Kind::Bigram, &[c, d]);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
}

fn push(out: &mut Vec<String>, kind: Kind, text: &str) {
    let mut key = String::with_capacity(text.len() + 1);
    key.push(kind.tag());
    key.push_str(text);
    out.push(key);
}

fn push_chars(out: &mut Vec<String>, kind: Kind, chars: &[char]) {
    let mut key = String::with_capacity(1 + 4 * chars.len());
    key.push(kind.tag());
    key.extend(chars);
    out.push(key);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feats(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        extract(text, &mut out);
        out
    }

    #[test]
    fn normalisation_folds_width_case_digits_and_punctuation() {
        assert_eq!(normalize("３号楼ＡＢＣ，12月5日！！"), "0号楼abc 0月0日");
        assert_eq!(normalize("  ，，垃圾  "), "垃圾");
        assert_eq!(normalize("①号门"), "0号门");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("三天"), "三天");
    }

    #[test]
    fn domain_words_stay_whole_and_bring_their_parts() {
        let f = feats("网格员发现有人占道经营，渣土车噪音扰民");
        for key in [
            "w网格员",
            "w占道经营",
            "w渣土车",
            "w噪音扰民",
            "w噪音",
            "w扰民",
            "b占道",
            "b道经",
            "c占",
        ] {
            assert!(f.iter().any(|k| k == key), "{key} missing from {f:?}");
        }
    }

    #[test]
    fn features_are_unique_sorted_and_never_cross_punctuation() {
        let f = feats("垃圾，垃圾。垃圾");
        assert!(f.windows(2).all(|w| w[0] < w[1]));
        assert!(!f.iter().any(|k| k == "b圾垃"));
        assert!(f.iter().any(|k| k == "b垃圾"));
    }

    #[test]
    fn empty_or_symbol_only_text_has_no_features() {
        assert!(feats("").is_empty());
        assert!(feats("，。！？…… ").is_empty());
        assert!(!feats("12345").is_empty());
    }

    #[test]
    fn very_long_text_is_cut() {
        let long = "占道经营".repeat(10_000);
        assert!(normalize(&long).chars().count() <= MAX_TEXT_CHARS);
    }
}
