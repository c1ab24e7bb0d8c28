mod common;

use std::time::Instant;

use geo::Area as _;
use geometry::{Area, MultiPolygon, Rules, area_m2, tile, validate};

#[test]
fn the_demo_district_tiles_into_valid_townships_communities_and_grids_quickly() {
    let started = Instant::now();
    let levels = common::levels(7);
    let tiling = started.elapsed();
    assert_eq!(levels.townships.len(), 12);
    assert_eq!(levels.communities.len(), 157);
    assert_eq!(levels.grids.len(), 548);

    let district = MultiPolygon::new(vec![common::district()]);
    let d = [("510117", &district)];
    assert_eq!(
        validate(&levels.townships, &Rules::new().parents(d).require_parent()),
        vec![]
    );
    let t: Vec<_> = levels
        .townships
        .iter()
        .map(|a| (a.code.as_str(), &a.geometry))
        .collect();
    assert_eq!(
        validate(
            &levels.communities,
            &Rules::new().parents(t).require_parent()
        ),
        vec![]
    );
    let c: Vec<_> = levels
        .communities
        .iter()
        .map(|a| (a.code.as_str(), &a.geometry))
        .collect();
    assert_eq!(
        validate(&levels.grids, &Rules::new().parents(c).require_parent()),
        vec![]
    );
    let total = started.elapsed();

    // Coverage: the grids add up to the district (planar degrees², where a partition is exact).
    let grids: f64 = levels
        .grids
        .iter()
        .map(|a| a.geometry.unsigned_area())
        .sum();
    let whole = district.unsigned_area();
    assert!(
        (grids / whole - 1.0).abs() < 1e-9,
        "grids {grids} vs district {whole}"
    );
    // About 243 km², as drawn.
    assert!(
        (200e6..300e6).contains(&area_m2(&district)),
        "{}",
        area_m2(&district)
    );

    // Timing only means something in an optimised build.
    if !cfg!(debug_assertions) {
        assert!(tiling.as_secs_f64() < 2.0, "tiling took {tiling:?}");
        eprintln!("tiling {tiling:?}, tiling + validation {total:?}");
    }
}

#[test]
fn tiling_is_deterministic_by_seed() {
    let a = tile(common::district(), 20, 42);
    let b = tile(common::district(), 20, 42);
    let c = tile(common::district(), 20, 43);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn cells_are_irregular_not_rectangles() {
    let cells = tile(common::district(), 30, 1);
    let average_corners = cells
        .iter()
        .map(|c| c.exterior().0.len() - 1)
        .sum::<usize>() as f64
        / cells.len() as f64;
    assert!(average_corners > 6.0, "{average_corners}");
}

#[test]
fn a_region_with_a_hole_tiles_around_the_hole() {
    let mut region = common::district();
    let hole = geometry::LineString::from(vec![
        (103.86, 30.80),
        (103.90, 30.80),
        (103.90, 30.84),
        (103.86, 30.84),
        (103.86, 30.80),
    ]);
    region.interiors_push(hole);
    let cells = tile(region.clone(), 25, 3);
    assert_eq!(cells.len(), 25);
    let areas: Vec<Area> = cells
        .into_iter()
        .enumerate()
        .map(|(i, c)| Area::new(format!("{i:02}"), c).with_parent("R"))
        .collect();
    let parent = MultiPolygon::new(vec![region.clone()]);
    assert_eq!(
        validate(&areas, &Rules::new().parents([("R", &parent)])),
        vec![]
    );
    let sum: f64 = areas.iter().map(|a| a.geometry.unsigned_area()).sum();
    assert!(
        (sum / parent.unsigned_area() - 1.0).abs() < 1e-9,
        "{sum} vs {}",
        parent.unsigned_area()
    );
}

#[test]
fn degenerate_requests_give_no_cells_instead_of_panicking() {
    assert!(tile(common::district(), 0, 1).is_empty());
    let flat = geometry::Polygon::new(
        geometry::LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (0.0, 0.0)]),
        vec![],
    );
    assert!(tile(flat, 5, 1).is_empty());
    let nan = geometry::Polygon::new(
        geometry::LineString::from(vec![(0.0, 0.0), (f64::NAN, 0.0), (1.0, 1.0), (0.0, 0.0)]),
        vec![],
    );
    assert!(tile(nan, 5, 1).is_empty());
    assert_eq!(tile(common::district(), 1, 1).len(), 1);
}
