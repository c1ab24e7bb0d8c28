//! Behaviour of the public `Router` API.

use proptest::prelude::*;
use routing::{Error, Features, Router, Suggestion};

fn taught(pairs: &[(&str, &str)]) -> Router {
    let mut router = Router::new();
    router
        .learn_many(pairs.iter().copied())
        .expect("valid pairs");
    router
}

const CITY: &[(&str, &str)] = &[
    ("对占用城市道路从事经营活动的处罚", "街面秩序-占道经营"),
    ("路口有人摆摊卖水果，占用人行道", "街面秩序-占道经营"),
    ("菜贩把摊子摆到马路上", "街面秩序-占道经营"),
    ("小区垃圾桶满了三天没人清运", "市容环境-垃圾满溢"),
    ("垃圾箱装满溢出来，没人拉走", "市容环境-垃圾满溢"),
    ("工地夜间施工噪音扰民", "施工管理-施工扰民"),
    ("建筑工地半夜打桩，吵得睡不着", "施工管理-施工扰民"),
    ("路灯不亮，晚上一片漆黑", "设施管理-路灯不亮"),
    ("一排路灯坏了没人修", "设施管理-路灯不亮"),
];

fn top(router: &Router, text: &str) -> String {
    router
        .route(text, 1)
        .first()
        .map(|s| s.label.clone())
        .unwrap_or_default()
}

#[test]
fn routes_new_texts_to_the_label_whose_examples_they_resemble() {
    let router = taught(CITY);
    assert_eq!(
        top(&router, "XX路口有人占道经营卖水果，影响通行"),
        "街面秩序-占道经营"
    );
    assert_eq!(top(&router, "楼下垃圾桶满了好几天"), "市容环境-垃圾满溢");
    assert_eq!(top(&router, "工地晚上施工太吵"), "施工管理-施工扰民");
    assert_eq!(top(&router, "路灯坏了"), "设施管理-路灯不亮");
    assert_eq!(router.label_count(), 4);
    assert_eq!(router.example_count(), 9);
    assert_eq!(router.examples_of("设施管理-路灯不亮"), 2);
}

#[test]
fn features_extracted_once_route_as_the_text_does() {
    let router = taught(CITY);
    let units = taught(&[
        ("路口有人摆摊卖水果，占用人行道", "综合行政执法队"),
        ("小区垃圾桶满了三天没人清运", "环卫所"),
    ]);
    for text in [
        "XX路口有人占道经营卖水果，影响通行",
        "楼下垃圾桶满了好几天",
        "",
        "！！",
    ] {
        let features = Features::of(text);
        for r in [&router, &units] {
            assert_eq!(r.route_features(&features, 3), r.route(text, 3), "{text}");
        }
    }
    assert!(
        router
            .route_features(&Features::of("路灯坏了"), 0)
            .is_empty()
    );
}

#[test]
fn works_for_any_label_set_including_units_and_departments() {
    let router = taught(&[
        ("Water pipe burst on the street", "Water Co."),
        ("No water since this morning", "Water Co."),
        ("狗叫扰民，邻居养狗不拴绳", "派出所"),
        ("流浪狗咬人", "派出所"),
        ("暖气不热，家里只有十二度", "热力公司"),
    ]);
    assert_eq!(top(&router, "water pipe leaking"), "Water Co.");
    assert_eq!(top(&router, "暖气片冰凉"), "热力公司");
    assert_eq!(top(&router, "楼下的狗整夜叫"), "派出所");
    let labels: Vec<&str> = router.labels().collect();
    assert_eq!(labels, ["Water Co.", "派出所", "热力公司"]);
}

#[test]
fn a_correction_moves_the_suggestion_at_once() {
    let mut router = taught(CITY);
    let text = "商铺门口堆满纸箱，占用人行道";
    router.learn(text, "街面秩序-占道经营").unwrap();
    assert_eq!(top(&router, text), "街面秩序-占道经营");
    router
        .relabel(text, "街面秩序-占道经营", "街面秩序-乱堆物料")
        .unwrap();
    assert_eq!(top(&router, text), "街面秩序-乱堆物料");
    assert_eq!(router.examples_of("街面秩序-占道经营"), 3);
    assert_eq!(router.examples_of("街面秩序-乱堆物料"), 1);
    assert_eq!(router.example_count(), 10);
}

#[test]
fn unlearning_the_only_example_of_a_label_removes_the_label() {
    let mut router = taught(CITY);
    router.learn("井盖丢了", "设施管理-井盖缺失").unwrap();
    assert_eq!(top(&router, "井盖丢了"), "设施管理-井盖缺失");
    router.unlearn("井盖丢了", "设施管理-井盖缺失").unwrap();
    assert_eq!(router.label_count(), 4);
    assert_eq!(router.example_count(), 9);
    assert!(
        router
            .route("井盖丢了", 10)
            .iter()
            .all(|s| s.label != "设施管理-井盖缺失")
    );
}

#[test]
fn unlearning_what_was_never_learnt_is_refused_and_changes_nothing() {
    let mut router = taught(CITY);
    let before = router.route("路口摆摊卖水果", 5);
    let err = router
        .unlearn("路口摆摊卖水果的大货车", "街面秩序-占道经营")
        .unwrap_err();
    assert_eq!(
        err,
        Error::NotLearnt {
            label: "街面秩序-占道经营".into()
        }
    );
    assert!(matches!(
        router.unlearn("路灯不亮", "没有这个标签"),
        Err(Error::NotLearnt { .. })
    ));
    assert_eq!(router.route("路口摆摊卖水果", 5), before);
    assert_eq!(router.example_count(), 9);
}

#[test]
fn forgetting_a_label_removes_all_its_examples() {
    let mut router = taught(CITY);
    assert_eq!(router.forget_label("设施管理-路灯不亮"), 2);
    assert_eq!(router.forget_label("设施管理-路灯不亮"), 0);
    assert_eq!(router.label_count(), 3);
    assert_eq!(router.example_count(), 7);
    assert!(
        router
            .route("路灯不亮", 10)
            .iter()
            .all(|s| s.label != "设施管理-路灯不亮")
    );
    // The label can be taught again from scratch.
    router.learn("路灯不亮", "设施管理-路灯不亮").unwrap();
    assert_eq!(top(&router, "路灯不亮"), "设施管理-路灯不亮");
}

#[test]
fn texts_without_words_are_refused_for_learning_and_get_no_suggestion() {
    let mut router = taught(CITY);
    assert_eq!(router.learn("", "x"), Err(Error::NoFeatures));
    assert_eq!(router.learn("，。！？ ", "x"), Err(Error::NoFeatures));
    assert!(router.route("", 3).is_empty());
    assert!(router.route("？？？", 3).is_empty());
    // Nothing in common with anything learnt: no evidence, no guess.
    assert!(router.route("qwerty", 3).is_empty());
    assert!(router.route("路灯", 0).is_empty());
    assert!(Router::new().route("路灯不亮", 3).is_empty());
}

#[test]
fn blank_and_overlong_labels_are_refused() {
    let mut router = Router::new();
    assert!(matches!(
        router.learn("路灯不亮", "  "),
        Err(Error::InvalidLabel(_))
    ));
    let long = "部".repeat(routing::MAX_LABEL_CHARS + 1);
    assert!(matches!(
        router.learn("路灯不亮", &long),
        Err(Error::InvalidLabel(_))
    ));
    assert_eq!(router.example_count(), 0);
    // Labels are trimmed.
    router.learn("路灯不亮", " 路灯 ").unwrap();
    assert_eq!(router.examples_of("路灯"), 1);
}

#[test]
fn full_width_and_digits_do_not_matter() {
    let router = taught(&[("３号楼路灯不亮", "路灯"), ("5号楼垃圾桶满了", "垃圾")]);
    assert_eq!(top(&router, "12号楼路灯不亮"), "路灯");
    assert_eq!(top(&router, "９号楼垃圾桶满了"), "垃圾");
}

#[test]
fn the_router_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Router>();
    let router = std::sync::Arc::new(std::sync::RwLock::new(taught(CITY)));
    let reader = {
        let router = router.clone();
        std::thread::spawn(move || router.read().map(|r| r.route("路灯不亮", 1)).unwrap())
    };
    router
        .write()
        .unwrap()
        .learn("路灯闪烁", "设施管理-路灯不亮")
        .unwrap();
    assert_eq!(reader.join().unwrap()[0].label, "设施管理-路灯不亮");
}

fn check_suggestions(suggestions: &[Suggestion], k: usize) -> Result<(), TestCaseError> {
    prop_assert!(suggestions.len() <= k);
    let mut sum = 0.0f32;
    for pair in suggestions.windows(2) {
        prop_assert!(pair[0].confidence >= pair[1].confidence);
    }
    for s in suggestions {
        prop_assert!((0.0..=1.0).contains(&s.confidence), "{s:?}");
        sum += s.confidence;
    }
    prop_assert!(sum <= 1.0 + 1e-4, "sum {sum}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_input_is_handled_without_panic(text in "\\PC{0,60}", label in "\\PC{0,8}", k in 0usize..40) {
        let mut router = taught(CITY);
        check_suggestions(&router.route(&text, k), k)?;
        if router.learn(&text, &label).is_ok() {
            check_suggestions(&router.route(&text, k), k)?;
            prop_assert!(router.unlearn(&text, &label).is_ok());
            prop_assert_eq!(router.example_count(), 9);
        }
        check_suggestions(&router.route(&text, k), k)?;
    }

    #[test]
    fn confidences_are_descending_and_sum_to_at_most_one(text in "[路灯垃圾桶工地施工摆摊水果井盖满了不亮夜间]{1,20}") {
        let router = taught(CITY);
        check_suggestions(&router.route(&text, 10), 10)?;
    }
}
