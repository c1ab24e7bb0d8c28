//! Shared fixtures: a district-like region and its three-level demo tiling.
#![allow(dead_code)]

use geometry::{Area, LineString, MultiPolygon, Polygon, tile};

/// An irregular 36-gon roughly where 郫都区 is (lon 103.78–103.98, lat 30.72–30.92).
pub fn district() -> Polygon<f64> {
    let (cx, cy) = (103.88, 30.82);
    let mut ring: Vec<(f64, f64)> = (0..36)
        .map(|i| {
            let a = i as f64 / 36.0 * std::f64::consts::TAU;
            let wobble = 0.9 + 0.08 * (3.0 * a).sin() + 0.04 * (7.0 * a + 1.0).cos();
            (cx + 0.1 * wobble * a.cos(), cy + 0.09 * wobble * a.sin())
        })
        .collect();
    ring.push(ring[0]);
    Polygon::new(LineString::from(ring), vec![])
}

/// Splits `total` among `weights.len()` parents in proportion to weight, each at least one.
pub fn shares(total: usize, weights: &[f64]) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    let spare = (total - weights.len()) as f64;
    let mut counts: Vec<usize> = weights
        .iter()
        .map(|w| 1 + (w / sum * spare).floor() as usize)
        .collect();
    let mut i = 0;
    while counts.iter().sum::<usize>() < total {
        let n = counts.len();
        counts[i % n] += 1;
        i += 1;
    }
    counts
}

/// Township / community / grid levels: 12 → 157 → 548 cells, with parent codes.
pub struct Levels {
    pub townships: Vec<Area>,
    pub communities: Vec<Area>,
    pub grids: Vec<Area>,
}

fn area_of(p: &Polygon<f64>) -> f64 {
    use geo::Area as _;
    p.unsigned_area()
}

fn children(parents: &[Area], total: usize, seed: u64) -> Vec<Area> {
    let weights: Vec<f64> = parents
        .iter()
        .map(|p| p.geometry.0.iter().map(area_of).sum())
        .collect();
    let mut out = Vec::new();
    for (i, (parent, count)) in parents.iter().zip(shares(total, &weights)).enumerate() {
        let cells = tile(parent.geometry.0[0].clone(), count, seed + i as u64);
        assert_eq!(cells.len(), count, "tiling {} into {count}", parent.code);
        for (j, cell) in cells.into_iter().enumerate() {
            out.push(
                Area::new(
                    format!("{}{:03}", parent.code, j + 1),
                    MultiPolygon::new(vec![cell]),
                )
                .with_parent(&parent.code),
            );
        }
    }
    out
}

pub fn levels(seed: u64) -> Levels {
    let district = Area::new("510117", district());
    let townships = children(std::slice::from_ref(&district), 12, seed);
    let communities = children(&townships, 157, seed + 100);
    let grids = children(&communities, 548, seed + 1000);
    Levels {
        townships: townships
            .into_iter()
            .map(|mut a| {
                a.parent = Some("510117".into());
                a
            })
            .collect(),
        communities,
        grids,
    }
}
