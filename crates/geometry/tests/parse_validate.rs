use std::collections::HashSet;

use geometry::{
    Area, Error, MultiPolygon, ParseOptions, Polygon, ProblemKind, Rules, parse_areas, validate,
};

fn collection(features: &[String]) -> String {
    format!(
        r#"{{"type": "FeatureCollection", "features": [{}]}}"#,
        features.join(",")
    )
}

fn feature(code: &str, geometry: &str) -> String {
    format!(
        r#"{{"type": "Feature", "properties": {{"code": "{code}", "parent": "P"}}, "geometry": {geometry}}}"#
    )
}

fn polygon(rings: &str) -> String {
    format!(r#"{{"type": "Polygon", "coordinates": {rings}}}"#)
}

fn square(x: f64, y: f64, size: f64) -> Polygon<f64> {
    Polygon::new(
        geo::LineString::from(vec![
            (x, y),
            (x + size, y),
            (x + size, y + size),
            (x, y + size),
            (x, y),
        ]),
        vec![],
    )
}

fn problems(text: &str) -> Vec<geometry::Problem> {
    match parse_areas(text, &ParseOptions::new("code")) {
        Err(Error::Invalid(p)) => p.0,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn a_valid_collection_parses_with_codes_and_parents() {
    let text = collection(&[
        feature(
            "510117001001001",
            &polygon("[[[103.8,30.8],[103.9,30.8],[103.9,30.9],[103.8,30.8]]]"),
        ),
        r#"{"type": "Feature", "properties": {"code": 510117001001002}, "geometry": {"type": "MultiPolygon", "coordinates": [[[[103.9,30.8],[104.0,30.8],[104.0,30.9],[103.9,30.8]]]]}}"#.to_string(),
    ]);
    let areas = parse_areas(&text, &ParseOptions::new("code").with_parent("parent")).unwrap();
    assert_eq!(areas.len(), 2);
    assert_eq!(areas[0].code, "510117001001001");
    assert_eq!(areas[0].parent.as_deref(), Some("P"));
    assert_eq!(
        areas[1].code, "510117001001002",
        "numeric codes are taken as their digits"
    );
    assert_eq!(areas[1].parent, None);
    assert_eq!(areas[1].feature_index, Some(1));
}

#[test]
fn an_unclosed_ring_is_reported_with_feature_number_and_code_in_chinese() {
    let text = collection(&[
        feature("A", &polygon("[[[0,0],[1,0],[1,1],[0,0]]]")),
        feature("B", &polygon("[[[0,0],[1,0],[1,1],[0,0]]]")),
        feature("510117001001001", &polygon("[[[0,0],[1,0],[1,1],[0,1]]]")),
    ]);
    let found = problems(&text);
    // B duplicates A? no: codes differ. Only the third feature is wrong.
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].index, Some(2));
    assert_eq!(
        found[0].to_string(),
        "第 3 个要素（编码 510117001001001）：外环未闭合"
    );
}

#[test]
fn all_problems_are_collected_not_just_the_first() {
    let text = collection(&[
        feature("A", &polygon("[[[0,0],[1,0],[0,0]]]")),
        r#"{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,0]]]}}"#.into(),
        feature("C", &polygon("[[[0,0],[200,0],[1,1],[0,0]]]")),
        feature("C", r#"{"type": "Point", "coordinates": [1, 2]}"#),
        feature("E", &polygon("[[[0,0],[2,2],[2,0],[0,2],[0,0]]]")),
        feature("F", &polygon("[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[5,5],[6,5],[6,6],[5,5]]]")),
        r#"{"type": "Feature", "properties": {"code": "G"}}"#.into(),
        r#"{"type": "Feature", "properties": {"code": "H"}, "geometry": {"type": "Polygon", "coordinates": [[[0],[1,0],[1,1],[0,0]]]}}"#.into(),
        r#"{"type": "Feature", "properties": {"code": "I"}, "geometry": {"type": "Polygon", "coordinates": "nope"}}"#.into(),
    ]);
    let found = problems(&text);
    let kinds: Vec<_> = found.iter().map(|p| (p.index, &p.kind)).collect();
    assert!(
        matches!(
            kinds[0],
            (Some(0), ProblemKind::RingTooShort { positions: 3, .. })
        ),
        "{kinds:?}"
    );
    assert!(
        matches!(kinds[1], (Some(1), ProblemKind::NoCode(_))),
        "{kinds:?}"
    );
    assert!(
        matches!(
            kinds[2],
            (
                Some(2),
                ProblemKind::CoordinateOutOfRange { position: 1, .. }
            )
        ),
        "{kinds:?}"
    );
    assert!(
        matches!(
            kinds[3],
            (Some(3), ProblemKind::DuplicateCode { first_index: 2 })
        ),
        "{kinds:?}"
    );
    assert!(
        matches!(kinds[4], (Some(3), ProblemKind::UnsupportedGeometry(t)) if t == "Point"),
        "{kinds:?}"
    );
    match kinds[5] {
        (Some(4), ProblemKind::SelfIntersection { at, .. }) => {
            assert!(
                (at.lon - 1.0).abs() < 1e-9 && (at.lat - 1.0).abs() < 1e-9,
                "{at:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(kinds[6], (Some(5), ProblemKind::HoleOutsideExterior { .. })),
        "{kinds:?}"
    );
    assert!(
        matches!(kinds[7], (Some(6), ProblemKind::NoGeometry)),
        "{kinds:?}"
    );
    // A position with one number is not a position.
    assert!(
        matches!(
            kinds[8],
            (Some(7), ProblemKind::BadCoordinate { position: 0, .. })
        ),
        "{kinds:?}"
    );
    assert!(
        matches!(kinds[9], (Some(8), ProblemKind::MalformedFeature(_))),
        "{kinds:?}"
    );
    assert_eq!(found.len(), 10, "{kinds:?}");
    let message = found[5].to_string();
    assert!(
        message.starts_with("第 5 个要素（编码 E）：外环自相交，位置 (1.000000, 1.000000)"),
        "{message}"
    );
}

#[test]
fn malformed_json_reports_line_and_column() {
    let err = parse_areas(
        "{\"type\": \"FeatureCollection\",\n  \"features\": [,]}",
        &ParseOptions::new("code"),
    )
    .unwrap_err();
    match &err {
        Error::Json { line, column, .. } => assert_eq!((*line, *column), (2, 16)),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("第 2 行第 16 列"), "{err}");
    assert!(
        err.to_string().contains("JSON 语法"),
        "in Chinese, not serde's: {err}"
    );
    let cut = parse_areas(
        "{\"type\": \"FeatureCollection\"",
        &ParseOptions::new("code"),
    )
    .unwrap_err();
    assert!(cut.to_string().contains("中途结束"), "{cut}");
}

#[test]
fn a_document_that_is_not_a_feature_collection_is_refused() {
    let err = parse_areas(r#"{"type": "Feature"}"#, &ParseOptions::new("code")).unwrap_err();
    assert!(matches!(err, Error::NotFeatureCollection(_)));
    assert!(matches!(
        parse_areas("[]", &ParseOptions::new("code")),
        Err(Error::NotFeatureCollection(_))
    ));
}

#[test]
fn rings_crossing_each_other_are_reported() {
    let text = collection(&[feature(
        "A",
        &polygon("[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[5,1],[5,2],[1,2],[1,1]]]"),
    )]);
    let found = problems(&text);
    assert!(
        found
            .iter()
            .any(|p| matches!(p.kind, ProblemKind::RingsCross { .. })),
        "{found:?}"
    );
}

#[test]
fn a_hole_touching_the_exterior_at_a_point_is_fine() {
    let text = collection(&[feature(
        "A",
        &polygon("[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[0,2],[2,1],[2,3],[0,2]]]"),
    )]);
    parse_areas(&text, &ParseOptions::new("code")).unwrap();
}

#[test]
fn repeated_consecutive_positions_are_tolerated() {
    let text = collection(&[feature(
        "A",
        &polygon("[[[0,0],[1,0],[1,0],[1,1],[0,1],[0,0]]]"),
    )]);
    parse_areas(&text, &ParseOptions::new("code")).unwrap();
}

#[test]
fn a_spike_folding_back_on_itself_is_a_self_intersection() {
    let text = collection(&[feature(
        "A",
        &polygon("[[[0,0],[2,0],[3,0],[2,0],[2,2],[0,2],[0,0]]]"),
    )]);
    let found = problems(&text);
    assert!(
        matches!(found[0].kind, ProblemKind::SelfIntersection { .. }),
        "{found:?}"
    );
}

#[test]
fn unknown_codes_are_reported() {
    let known: HashSet<String> = ["A".to_string()].into();
    let areas = vec![
        Area::new("A", square(0.0, 0.0, 1.0)),
        Area::new("Z", square(1.0, 0.0, 1.0)),
    ];
    let found = validate(&areas, &Rules::new().known_code_set(&known));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].code.as_deref(), Some("Z"));
    assert_eq!(found[0].kind, ProblemKind::UnknownCode);
    assert_eq!(found[0].to_string(), "区域 Z：编码不在已知编码中");
}

#[test]
fn a_grid_outside_its_community_is_rejected_with_the_excess_area() {
    let parent = MultiPolygon::new(vec![square(103.8, 30.8, 0.01)]);
    let areas = vec![
        Area::new("inside", square(103.8, 30.8, 0.005)).with_parent("P"),
        // Sticks out by 0.001° × 0.005° ≈ 95.6 m × 554 m ≈ 53,000 m².
        Area::new("outside", square(103.806, 30.8, 0.005)).with_parent("P"),
        Area::new("orphan", square(103.8, 30.805, 0.001)).with_parent("Q"),
    ];
    let found = validate(&areas, &Rules::new().parents([("P", &parent)]));
    assert_eq!(found.len(), 2, "{found:?}");
    match &found[0].kind {
        ProblemKind::OutsideParent {
            parent,
            area_m2,
            at,
        } => {
            assert_eq!(parent, "P");
            assert!((50_000.0..56_000.0).contains(area_m2), "{area_m2}");
            assert!(at.lon > 103.81 && at.lon < 103.811, "{at:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(found[1].kind, ProblemKind::UnknownParent("Q".into()));
}

#[test]
fn touching_siblings_are_fine_but_overlapping_ones_are_reported_with_area() {
    let ok = vec![
        Area::new("a", square(103.80, 30.8, 0.01)),
        Area::new("b", square(103.81, 30.8, 0.01)),
        Area::new("c", square(103.80, 30.81, 0.02)),
    ];
    assert_eq!(validate(&ok, &Rules::new()), vec![]);

    let bad = vec![
        Area::new("a", square(103.80, 30.8, 0.01)).with_parent("P"),
        Area::new("b", square(103.809, 30.8, 0.01)).with_parent("P"),
        // Same overlap but another parent: not siblings, not compared.
        Area::new("x", square(103.809, 30.8, 0.01)).with_parent("Q"),
    ];
    let found = validate(&bad, &Rules::new());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].code.as_deref(), Some("a"));
    match &found[0].kind {
        // 0.001° × 0.01° at 30.8° N ≈ 95.6 m × 1108.7 m ≈ 106,000 m².
        ProblemKind::Overlap { other, area_m2, .. } => {
            assert_eq!(other, "b");
            assert!((100_000.0..112_000.0).contains(area_m2), "{area_m2}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        found[0].to_string().starts_with("区域 a：与区域 b 重叠约"),
        "{}",
        found[0]
    );
}

#[test]
fn missing_parent_is_reported_only_when_required() {
    let areas = vec![Area::new("a", square(0.0, 0.0, 1.0))];
    assert!(validate(&areas, &Rules::new()).is_empty());
    let found = validate(&areas, &Rules::new().require_parent());
    assert_eq!(found[0].kind, ProblemKind::NoParent);
}

#[test]
fn shapes_built_in_code_are_checked_too() {
    let mut nan = square(0.0, 0.0, 1.0);
    nan.exterior_mut(|r| r.0[1].x = f64::NAN);
    let areas = vec![
        Area::new("nan", nan),
        Area::new("", square(5.0, 5.0, 1.0)),
        Area::new("empty", MultiPolygon::new(vec![])),
        Area::new("dup", square(7.0, 7.0, 1.0)),
        Area::new("dup", square(9.0, 9.0, 1.0)),
    ];
    let kinds: Vec<_> = validate(&areas, &Rules::new())
        .into_iter()
        .map(|p| p.kind)
        .collect();
    assert!(
        matches!(kinds[0], ProblemKind::BadCoordinate { position: 1, .. }),
        "{kinds:?}"
    );
    assert!(matches!(kinds[1], ProblemKind::NoCode(_)), "{kinds:?}");
    assert!(matches!(kinds[2], ProblemKind::EmptyGeometry), "{kinds:?}");
    assert!(
        matches!(kinds[3], ProblemKind::DuplicateCode { first_index: 3 }),
        "{kinds:?}"
    );
}

#[test]
fn areas_are_measured_in_square_metres() {
    // One degree square at the equator on WGS-84: 111,319 m × 110,574 m.
    let equator = MultiPolygon::new(vec![square(0.0, 0.0, 1.0)]);
    let m2 = geometry::area_m2(&equator);
    assert!((m2 / (111_319.5 * 110_574.0) - 1.0).abs() < 2e-3, "{m2}");
    // A hole takes its area away; a zero-width sliver measures nothing.
    let mut holed = square(0.0, 0.0, 1.0);
    holed.interiors_push(square(0.25, 0.25, 0.5).exterior().clone());
    let holed = geometry::area_m2(&MultiPolygon::new(vec![holed]));
    assert!((holed / m2 - 0.75).abs() < 1e-3, "{holed}");
    let sliver = Polygon::new(
        geo::LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (0.5, 0.0), (0.0, 0.0)]),
        vec![],
    );
    assert_eq!(geometry::area_m2(&MultiPolygon::new(vec![sliver])), 0.0);
}
