use std::path::PathBuf;
use std::sync::LazyLock;

use proptest::prelude::*;
use search::{Doc, Error, FieldKind, FieldSpec, Query, Results, SearchIndex};

const SPEC: &[FieldSpec] = &[
    FieldSpec::id("id"),
    FieldSpec::text("name", 3.0),
    FieldSpec::text("body", 1.0),
    FieldSpec {
        name: "secret",
        kind: FieldKind::Text {
            boost: 1.0,
            stored: false,
        },
    },
    FieldSpec::keyword("township"),
    FieldSpec::keyword("category"),
];

fn doc(id: &str, name: &str, township: &str, category: &str) -> Doc {
    Doc::new(id)
        .with_text("name", name)
        .with_keyword("township", township)
        .with_keyword("category", category)
}

fn corpus() -> Vec<Doc> {
    vec![
        doc("a1", "对占道经营的行政处罚", "团结街道", "行政处罚"),
        doc("a2", "对占用道路从事经营活动的处罚", "犀浦街道", "行政处罚"),
        doc("a3", "食品经营许可", "团结街道", "行政许可"),
        doc(
            "a4",
            "对未取得食品经营许可从事食品经营活动的行政处罚",
            "郫筒街道",
            "行政处罚",
        ),
        doc("b1", "网格员日常巡查", "团结街道", "公共服务"),
        doc("b2", "网格划分与调整", "犀浦街道", "公共服务"),
        doc("b3", "综合行政执法队伍建设", "郫筒街道", "其他"),
        doc("c1", "对违法建设强制拆除", "团结街道", "行政强制"),
        doc("c2", "强制拆除违法建设的公告", "犀浦街道", "行政强制"),
        doc("d1", "垃圾分类宣传", "郫筒街道", "公共服务"),
        doc("d2", "垃圾分类设施维护", "团结街道", "公共服务"),
        doc("d3", "社区活动宣传", "犀浦街道", "公共服务"),
        doc("e1", "最低生活保障金发放", "团结街道", "行政给付")
            .with_text("body", "城乡居民最低生活保障审核确认"),
    ]
}

fn index() -> SearchIndex {
    let index = SearchIndex::new_in_ram(SPEC).unwrap();
    assert!(index.needs_rebuild());
    assert_eq!(index.replace_all(corpus()).unwrap(), 13);
    assert!(!index.needs_rebuild());
    index
}

static INDEX: LazyLock<SearchIndex> = LazyLock::new(index);

fn ids(r: &Results) -> Vec<&str> {
    r.hits.iter().map(|h| h.id.as_str()).collect()
}

fn search(text: &str) -> Results {
    INDEX.search(&Query::new(text)).unwrap()
}

fn rank(r: &Results, id: &str) -> usize {
    ids(r)
        .iter()
        .position(|&i| i == id)
        .unwrap_or_else(|| panic!("{id} not found in {:?}", ids(r)))
}

#[test]
fn abbreviation_finds_the_long_form_and_the_literal_word_ranks_first() {
    let r = search("占道经营");
    assert_eq!(ids(&r)[0], "a1", "{r:#?}");
    // 占用道路…经营 shares no word with 占道经营 but 经营; it is found and ranks above the
    // documents that share only 经营, because it holds every character of the query word.
    let long_form = rank(&r, "a2");
    assert!(long_form < rank(&r, "a3"), "{:?}", ids(&r));
    assert!(long_form < rank(&r, "a4"), "{:?}", ids(&r));
    assert_eq!(
        r.hits[long_form].highlights["name"],
        "对<mark>占</mark>用<mark>道</mark>路从事<mark>经营</mark>活动的处罚"
    );
    // Words, not substrings: nothing without 经营 or all of 占/道/经/营 comes back.
    assert_eq!(r.total, 4);
}

#[test]
fn a_domain_word_outranks_its_parts() {
    let r = search("网格员");
    assert_eq!(ids(&r), vec!["b1", "b2"]);
    assert!(r.hits[0].score > r.hits[1].score);
    assert_eq!(r.hits[0].highlights["name"], "<mark>网格员</mark>日常巡查");
    assert_eq!(r.hits[1].highlights["name"], "<mark>网格</mark>划分与调整");
}

#[test]
fn sub_words_of_compounds_are_found() {
    let r = search("行政执法");
    assert_eq!(ids(&r)[0], "b3");
    assert_eq!(
        r.hits[0].highlights["name"],
        "综合<mark>行政执法</mark>队伍建设"
    );
}

#[test]
fn matching_more_words_ranks_higher() {
    let r = search("垃圾分类 宣传");
    assert_eq!(ids(&r)[0], "d1", "{r:#?}");
    assert_eq!(r.total, 3);
    let r = search("社区 宣传");
    assert_eq!(ids(&r)[0], "d3");
}

#[test]
fn text_across_fields() {
    let r = search("审核确认");
    assert_eq!(ids(&r), vec!["e1"]);
    assert_eq!(
        r.hits[0].highlights["body"],
        // Adjacent matches are marked as one.
        "城乡居民最低生活保障<mark>审核确认</mark>"
    );
    assert!(!r.hits[0].highlights.contains_key("name"));
}

#[test]
fn filters_restrict_results() {
    let q = Query::new("经营").filter("township", ["团结街道"]);
    assert_eq!(ids(&INDEX.search(&q).unwrap()), vec!["a3", "a1"]);
    // OR within a field.
    let q = Query::new("经营").filter("township", ["团结街道", "犀浦街道"]);
    assert_eq!(INDEX.search(&q).unwrap().total, 3);
    // AND across fields.
    let q = Query::new("经营")
        .filter("township", ["团结街道", "犀浦街道"])
        .filter("category", ["行政许可"]);
    assert_eq!(ids(&INDEX.search(&q).unwrap()), vec!["a3"]);
    // An empty value list matches nothing (a scope with no townships sees nothing).
    let q = Query::new("经营").filter("township", Vec::<String>::new());
    assert_eq!(INDEX.search(&q).unwrap(), Results::default());
    // Filters do not change scores.
    let plain = search("经营");
    let filtered = INDEX
        .search(&Query::new("经营").filter("category", ["行政处罚", "行政许可"]))
        .unwrap();
    for h in &filtered.hits {
        let same = plain.hits.iter().find(|p| p.id == h.id).unwrap();
        assert_eq!(same.score, h.score);
    }
}

#[test]
fn filter_on_an_unknown_or_text_field_is_an_error() {
    for field in ["nope", "name", "id"] {
        let q = Query::new("经营").filter(field, ["x"]);
        assert!(
            matches!(INDEX.search(&q), Err(Error::UnknownField { field: ref f, .. }) if f == field),
            "{field}"
        );
    }
}

#[test]
fn empty_text_lists_filtered_documents_by_id() {
    let q = Query::new("").filter("township", ["团结街道"]);
    let r = INDEX.search(&q).unwrap();
    assert_eq!(ids(&r), vec!["a1", "a3", "b1", "c1", "d2", "e1"]);
    assert_eq!(r.total, 6);
    assert!(
        r.hits
            .iter()
            .all(|h| h.score == 0.0 && h.highlights.is_empty())
    );
    let page = INDEX
        .search(&q.clone().with_offset(2).with_limit(3))
        .unwrap();
    assert_eq!(ids(&page), vec!["b1", "c1", "d2"]);
    assert_eq!(page.total, 6);
    let all = INDEX.search(&Query::new("  ").with_limit(100)).unwrap();
    assert_eq!(all.total, 13);
    assert_eq!(all.hits.len(), 13);
}

#[test]
fn text_without_words_matches_nothing() {
    assert_eq!(search("，。！？"), Results::default());
    assert_eq!(search("\"\""), Results::default());
}

#[test]
fn quoted_phrase_requires_the_words_in_order() {
    let r = search("违法建设 强制拆除");
    // b3 comes third through 建设, a sub-word of 违法建设.
    assert_eq!(ids(&r), vec!["c1", "c2", "b3"]);
    let r = search("\"违法建设强制拆除\"");
    assert_eq!(ids(&r), vec!["c1"]);
    let r = search("“强制拆除违法建设”");
    assert_eq!(ids(&r), vec!["c2"]);
    assert_eq!(
        r.hits[0].highlights["name"],
        "<mark>强制拆除违法建设</mark>的公告"
    );
    // A phrase plus free words: the phrase is required, the words only rank.
    let r = search("\"违法建设\" 公告");
    assert_eq!(ids(&r), vec!["c2", "c1"]);
    // A one-word phrase is that word.
    assert_eq!(search("\"网格员\"").total, 1);
}

#[test]
fn repeated_words_are_harmless() {
    assert_eq!(ids(&search("网格员 网格员 网格员"))[0], "b1");
    assert_eq!(ids(&search("\"网格员网格员\" 网格员")), Vec::<&str>::new());
    assert_eq!(search("经营经营经营经营").total, 4);
}

#[test]
fn paging_and_limits() {
    let r = INDEX.search(&Query::new("经营").with_limit(0)).unwrap();
    assert_eq!((r.total, r.hits.len()), (4, 0));
    let r = INDEX.search(&Query::new("经营").with_limit(2)).unwrap();
    let next = INDEX
        .search(&Query::new("经营").with_limit(2).with_offset(2))
        .unwrap();
    assert_eq!(r.total, 4);
    assert_eq!(next.total, 4);
    assert_eq!(r.hits.len() + next.hits.len(), 4);
    assert!(ids(&r).iter().all(|id| !ids(&next).contains(id)));
    let far = INDEX
        .search(
            &Query::new("经营")
                .with_offset(usize::MAX)
                .with_limit(usize::MAX),
        )
        .unwrap();
    assert_eq!((far.total, far.hits.len()), (4, 0));
}

#[test]
fn highlights_escape_html_and_skip_unstored_fields() {
    let index = SearchIndex::new_in_ram(SPEC).unwrap();
    index
        .replace_all([Doc::new("x")
            .with_text("name", "<script>alert('网格员')</script> & 巡查")
            .with_text("secret", "网格员 秘密")])
        .unwrap();
    let r = index.search(&Query::new("网格员 秘密")).unwrap();
    assert_eq!(r.total, 1);
    assert_eq!(
        r.hits[0].highlights["name"],
        "&lt;script&gt;alert(&#39;<mark>网格员</mark>&#39;)&lt;/script&gt; &amp; 巡查"
    );
    assert_eq!(
        r.hits[0].highlights.len(),
        1,
        "unstored field has no snippet"
    );
    // Found through the unstored field alone.
    assert_eq!(index.search(&Query::new("秘密")).unwrap().total, 1);
}

#[test]
fn upsert_replaces_delete_removes_commit_makes_visible() {
    let index = SearchIndex::new_in_ram(SPEC).unwrap();
    index.replace_all(corpus()).unwrap();
    index
        .upsert([doc("b1", "流动摊贩管理", "团结街道", "其他")])
        .unwrap();
    // Not visible before commit.
    assert_eq!(index.search(&Query::new("流动摊贩")).unwrap().total, 0);
    index.commit().unwrap();
    assert_eq!(
        ids(&index.search(&Query::new("流动摊贩")).unwrap()),
        vec!["b1"]
    );
    assert_eq!(
        ids(&index.search(&Query::new("网格员")).unwrap()),
        vec!["b2"]
    );
    assert_eq!(index.num_docs(), 13);

    index.delete(["b1", "no-such-id"]).unwrap();
    index.commit().unwrap();
    assert_eq!(index.search(&Query::new("流动摊贩")).unwrap().total, 0);
    assert_eq!(index.num_docs(), 12);

    // Upserting twice in one batch keeps the last version only.
    index
        .upsert([
            doc("z", "油烟扰民", "团结街道", "其他"),
            doc("z", "噪声扰民", "团结街道", "其他"),
        ])
        .unwrap();
    index.commit().unwrap();
    assert_eq!(index.search(&Query::new("油烟")).unwrap().total, 0);
    assert_eq!(
        ids(&index.search(&Query::new("噪声扰民")).unwrap()),
        vec!["z"]
    );
    assert!(!index.needs_rebuild());
}

#[test]
fn invalid_documents_are_rejected_all_or_nothing() {
    let index = SearchIndex::new_in_ram(SPEC).unwrap();
    let bad = [
        doc("ok", "油烟扰民", "团结街道", "其他"),
        Doc::new("x").with_text("nope", "油烟"),
    ];
    assert!(matches!(
        index.upsert(bad),
        Err(Error::UnknownField {
            expected: "text",
            ..
        })
    ));
    assert!(matches!(
        index.upsert([Doc::new("x").with_keyword("name", "v")]),
        Err(Error::UnknownField {
            expected: "keyword",
            ..
        })
    ));
    assert!(matches!(
        index.upsert([Doc::new("")]),
        Err(Error::InvalidDocument(_))
    ));
    index.commit().unwrap();
    assert_eq!(index.num_docs(), 0);
    // A failed rebuild leaves the previous content.
    index.replace_all(corpus()).unwrap();
    assert!(index.replace_all([Doc::new("")]).is_err());
    assert_eq!(index.num_docs(), 13);
    assert_eq!(index.search(&Query::new("网格员")).unwrap().total, 2);
}

#[test]
fn rebuild_replaces_everything() {
    let index = SearchIndex::new_in_ram(SPEC).unwrap();
    index.replace_all(corpus()).unwrap();
    index
        .upsert([doc("pending", "渣土运输", "团结街道", "其他")])
        .unwrap();
    let n = index
        .replace_all([doc("n1", "燃气安全检查", "团结街道", "行政检查")])
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(index.num_docs(), 1);
    assert_eq!(index.search(&Query::new("网格员")).unwrap().total, 0);
    assert_eq!(index.search(&Query::new("渣土运输")).unwrap().total, 0);
    assert_eq!(ids(&index.search(&Query::new("燃气")).unwrap()), vec!["n1"]);
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("jiceng-search-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn directory_index_persists_and_guards_schema_and_writer() {
    let dir = TempDir::new("persist");
    {
        let index = SearchIndex::open_or_create(&dir.0, SPEC).unwrap();
        assert!(index.needs_rebuild());
        index.replace_all(corpus()).unwrap();
        assert!(matches!(
            SearchIndex::open_or_create(&dir.0, SPEC),
            Err(Error::Locked { .. })
        ));
        index
            .upsert([doc("late", "户外广告设置", "团结街道", "行政许可")])
            .unwrap();
        index.commit().unwrap();
    }
    let index = SearchIndex::open_or_create(&dir.0, SPEC).unwrap();
    assert!(!index.needs_rebuild());
    assert_eq!(index.num_docs(), 14);
    assert_eq!(
        ids(&index.search(&Query::new("户外广告")).unwrap()),
        vec!["late"]
    );
    drop(index);
    let other = [FieldSpec::id("id"), FieldSpec::text("name", 1.0)];
    assert!(matches!(
        SearchIndex::open_or_create(&dir.0, &other),
        Err(Error::SchemaMismatch { .. })
    ));
}

#[test]
fn concurrent_searches_while_writing() {
    let index = std::sync::Arc::new(index());
    std::thread::scope(|s| {
        for _ in 0..2 {
            let index = index.clone();
            s.spawn(move || {
                for _ in 0..50 {
                    assert!(index.search(&Query::new("网格员")).unwrap().total >= 1);
                }
            });
        }
        for i in 0..5 {
            index
                .upsert([doc(&format!("n{i}"), "网格员培训", "团结街道", "其他")])
                .unwrap();
            index.commit().unwrap();
        }
    });
    // b1, b2 (网格) and the five new ones.
    assert_eq!(index.search(&Query::new("网格员")).unwrap().total, 7);
}

fn query_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "占道经营",
        "网格员",
        "\"",
        "“",
        "”",
        "「",
        "」",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ":",
        "*",
        "?",
        "~",
        "^",
        "-",
        "+",
        "!",
        "\\",
        "/",
        "AND",
        "OR",
        "NOT",
        "title:",
        " ",
        "　",
        "，",
        "。",
        "ＡＢＣ",
        "İ",
        "ß",
        "\u{0}",
        "\u{200b}",
        "🙂",
        "𠀀",
        "的",
        "了",
        "经",
        "a-b.c",
    ]);
    prop_oneof![
        any::<String>(),
        prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat()),
        "\\PC{0,300}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any query text is accepted: no panic, no error.
    #[test]
    fn any_query_text_is_fine(text in query_text(), offset in 0usize..20, limit in 0usize..30) {
        let q = Query::new(&text)
            .with_offset(offset)
            .with_limit(limit)
            .filter("township", ["团结街道", "犀浦街道"]);
        let r = INDEX.search(&q).unwrap();
        prop_assert!(r.hits.len() <= limit);
        for h in &r.hits {
            for s in h.highlights.values() {
                // Whatever the text, the markup is only ours.
                let stripped = s.replace("<mark>", "").replace("</mark>", "");
                prop_assert!(!stripped.contains('<') && !stripped.contains('>'));
            }
        }
        INDEX.search(&Query::new(&text)).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Any document text can be indexed and its words found again.
    #[test]
    fn any_document_text_is_fine(text in query_text()) {
        let index = SearchIndex::new_in_ram(SPEC).unwrap();
        index.replace_all([Doc::new("x").with_text("name", text.clone())]).unwrap();
        let r = index.search(&Query::new(&text)).unwrap();
        prop_assert!(r.total <= 1);
    }
}
