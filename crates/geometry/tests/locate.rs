use geometry::{AreaIndex, Error, MultiPolygon, Polygon};

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

fn index() -> AreaIndex {
    // 2×2 grid of unit squares; "b" has a hole (1.25..1.75, 0.25..0.75) that "h" fills in part.
    let mut b = square(1.0, 0.0, 1.0);
    b.interiors_push(square(1.25, 0.25, 0.5).exterior().clone());
    AreaIndex::new(vec![
        ("d".into(), square(1.0, 1.0, 1.0).into()),
        ("a".into(), square(0.0, 0.0, 1.0).into()),
        ("b".into(), b.into()),
        ("c".into(), square(0.0, 1.0, 1.0).into()),
        ("h".into(), square(1.25, 0.25, 0.25).into()),
    ])
    .unwrap()
}

#[test]
fn interior_points_find_their_area() {
    let index = index();
    assert_eq!(index.len(), 5);
    assert_eq!(index.locate(0.5, 0.5), Some("a"));
    assert_eq!(index.locate(1.1, 0.1), Some("b"));
    assert_eq!(index.locate(0.5, 1.5), Some("c"));
    assert_eq!(index.locate(1.5, 1.5), Some("d"));
}

#[test]
fn holes_are_respected() {
    let index = index();
    assert_eq!(index.locate(1.6, 0.6), None, "in the hole of b, not filled");
    assert_eq!(
        index.locate(1.3, 0.3),
        Some("h"),
        "in the part of the hole filled by h"
    );
    // On the hole's border where h does not reach: b owns its own hole border.
    assert_eq!(index.locate(1.75, 0.5), Some("b"));
}

#[test]
fn shared_borders_go_to_the_lowest_code() {
    let index = index();
    assert_eq!(index.locate(1.0, 0.5), Some("a"), "a|b edge");
    assert_eq!(index.locate(1.5, 1.0), Some("b"), "b|d edge");
    assert_eq!(index.locate(1.0, 1.0), Some("a"), "corner of all four");
    assert_eq!(index.locate_all(1.0, 1.0), vec!["a", "b", "c", "d"]);
    // The hole border shared by b and h: b < h.
    assert_eq!(index.locate(1.25, 0.3), Some("b"));
}

#[test]
fn the_outer_border_counts_as_inside_and_beyond_is_none() {
    let index = index();
    assert_eq!(index.locate(0.0, 0.5), Some("a"));
    assert_eq!(index.locate(2.0, 2.0), Some("d"));
    assert_eq!(index.locate(-0.001, 0.5), None);
    assert_eq!(index.locate(5.0, 5.0), None);
    assert_eq!(index.locate(f64::NAN, 0.5), None);
    assert!(index.locate_all(f64::INFINITY, 0.5).is_empty());
}

#[test]
fn the_answer_does_not_depend_on_input_order() {
    let a = AreaIndex::new(vec![
        ("2".into(), square(0.0, 0.0, 1.0).into()),
        ("1".into(), square(1.0, 0.0, 1.0).into()),
    ])
    .unwrap();
    let b = AreaIndex::new(vec![
        ("1".into(), square(1.0, 0.0, 1.0).into()),
        ("2".into(), square(0.0, 0.0, 1.0).into()),
    ])
    .unwrap();
    assert_eq!(a.locate(1.0, 0.5), Some("1"));
    assert_eq!(b.locate(1.0, 0.5), Some("1"));
}

#[test]
fn duplicate_codes_and_nan_coordinates_are_refused() {
    let mut nan = square(0.0, 0.0, 1.0);
    nan.exterior_mut(|r| r.0[2].y = f64::NAN);
    let err = AreaIndex::new(vec![
        ("x".into(), square(0.0, 0.0, 1.0).into()),
        ("x".into(), square(1.0, 0.0, 1.0).into()),
        ("n".into(), nan.into()),
    ])
    .err()
    .unwrap();
    let Error::Invalid(problems) = err else {
        panic!()
    };
    assert_eq!(problems.0.len(), 2, "{problems}");
    assert_eq!(problems.0[0].index, Some(1));
    assert_eq!(
        problems.0[0].to_string(),
        "第 2 个要素（编码 x）：编码重复（与第 1 个要素相同）"
    );
    assert_eq!(problems.0[1].index, Some(2));
}

#[test]
fn an_empty_index_finds_nothing() {
    let index = AreaIndex::new(vec![("e".into(), MultiPolygon::new(vec![]))]).unwrap();
    assert_eq!(index.locate(0.0, 0.0), None);
    assert!(!index.is_empty());
}
