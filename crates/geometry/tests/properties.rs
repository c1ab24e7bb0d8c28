mod common;

use geo::coordinate_position::CoordPos;
use geo::{BoundingRect, CoordinatePosition};
use geometry::{AreaIndex, Coord, MultiPolygon, Polygon, tile};
use proptest::prelude::*;

/// The documented rule, by brute force: interior beats border, then the smallest code.
fn brute_force(cells: &[(String, Polygon<f64>)], c: Coord<f64>) -> (usize, Option<String>) {
    let mut inside: Vec<&str> = Vec::new();
    let mut border: Vec<&str> = Vec::new();
    for (code, cell) in cells {
        match cell.coordinate_position(&c) {
            CoordPos::Inside => inside.push(code),
            CoordPos::OnBoundary => border.push(code),
            CoordPos::Outside => {}
        }
    }
    let best = inside
        .iter()
        .min()
        .or(border.iter().min())
        .map(|s| s.to_string());
    (inside.len(), best)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_points_locate_to_exactly_one_cell_and_match_brute_force(
        seed in any::<u64>(),
        n in 1usize..40,
        points in prop::collection::vec((0.0f64..1.0, 0.0f64..1.0), 60),
    ) {
        let region = common::district();
        let cells: Vec<(String, Polygon<f64>)> = tile(region.clone(), n, seed)
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("c{i:03}"), p))
            .collect();
        prop_assert_eq!(cells.len(), n);
        let index = AreaIndex::new(
            cells.iter().map(|(c, p)| (c.clone(), MultiPolygon::new(vec![p.clone()]))).collect(),
        ).unwrap();
        let bounds = region.bounding_rect().unwrap();

        for (u, v) in points {
            let c = Coord {
                x: bounds.min().x + u * bounds.width(),
                y: bounds.min().y + v * bounds.height(),
            };
            let (inside, expected) = brute_force(&cells, c);
            prop_assert!(inside <= 1, "{c:?} is inside {inside} cells");
            match region.coordinate_position(&c) {
                CoordPos::Inside => prop_assert!(expected.is_some(), "{c:?} in the region but in no cell"),
                CoordPos::Outside => prop_assert!(expected.is_none(), "{c:?} outside the region but in a cell"),
                CoordPos::OnBoundary => {}
            }
            prop_assert_eq!(index.locate(c.x, c.y).map(str::to_string), expected);
        }

        // Cell corners lie on shared borders: the boundary rule, not luck, decides them.
        for (_, cell) in cells.iter().take(5) {
            for &c in cell.exterior().0.iter().take(8) {
                let (_, expected) = brute_force(&cells, c);
                prop_assert!(expected.is_some());
                prop_assert_eq!(index.locate(c.x, c.y).map(str::to_string), expected);
            }
        }
    }
}
