//! Point-location latency on a district-sized set of irregular grids, plus the demo tiling.
//!
//! ```text
//! cargo run --release -p jiceng-geometry --example locate_bench -- --areas 10000 --lookups 100000
//! ```
//!
//! Options: `--areas N` (10000), `--lookups N` (100000), `--seed N` (1).
//!
//! The areas are a jittered lattice over lon 103.78–103.98, lat 30.72–30.92 (about the size of
//! 郫都区): every cell has bent edges (each shared exactly with its neighbour), about one in
//! twelve has a hole, and the lookups are uniform over the box plus a 2 % rim, so some miss.

use std::time::{Duration, Instant};

use geometry::{Area, AreaIndex, LineString, MultiPolygon, Polygon, Rules, tile, validate};

/// SplitMix64: tiny, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [-1, 1).
    fn signed(&mut self) -> f64 {
        self.unit() * 2.0 - 1.0
    }
}

const WEST: f64 = 103.78;
const EAST: f64 = 103.98;
const SOUTH: f64 = 30.72;
const NORTH: f64 = 30.92;
/// Intermediate points on each cell edge.
const BENDS: usize = 3;

fn lattice(areas: usize, rng: &mut Rng) -> Vec<(String, MultiPolygon<f64>)> {
    let cols = (areas as f64).sqrt().ceil().max(1.0) as usize;
    let rows = areas.div_ceil(cols).max(1);
    let (dx, dy) = ((EAST - WEST) / cols as f64, (NORTH - SOUTH) / rows as f64);

    // Lattice corners, jittered except on the outer border so the set covers the box exactly.
    let mut corner = vec![vec![(0.0, 0.0); cols + 1]; rows + 1];
    for (r, row) in corner.iter_mut().enumerate() {
        for (c, p) in row.iter_mut().enumerate() {
            let jx = if c == 0 || c == cols {
                0.0
            } else {
                0.25 * dx * rng.signed()
            };
            let jy = if r == 0 || r == rows {
                0.0
            } else {
                0.25 * dy * rng.signed()
            };
            *p = (WEST + c as f64 * dx + jx, SOUTH + r as f64 * dy + jy);
        }
    }
    // Bent edges, generated once so both neighbours use the very same points.
    let mut bend = |a: (f64, f64), b: (f64, f64), border: bool| -> Vec<(f64, f64)> {
        (1..=BENDS)
            .map(|k| {
                let t = k as f64 / (BENDS + 1) as f64;
                let (nx, ny) = (-(b.1 - a.1), b.0 - a.0);
                let j = if border { 0.0 } else { 0.12 * rng.signed() };
                (
                    a.0 + t * (b.0 - a.0) + j * nx,
                    a.1 + t * (b.1 - a.1) + j * ny,
                )
            })
            .collect()
    };
    let mut horizontal = vec![vec![Vec::new(); cols]; rows + 1];
    for (r, row) in horizontal.iter_mut().enumerate() {
        for (c, e) in row.iter_mut().enumerate() {
            *e = bend(corner[r][c], corner[r][c + 1], r == 0 || r == rows);
        }
    }
    let mut vertical = vec![vec![Vec::new(); cols + 1]; rows];
    for (r, row) in vertical.iter_mut().enumerate() {
        for (c, e) in row.iter_mut().enumerate() {
            *e = bend(corner[r][c], corner[r + 1][c], c == 0 || c == cols);
        }
    }

    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            let mut ring = vec![corner[r][c]];
            ring.extend(&horizontal[r][c]);
            ring.push(corner[r][c + 1]);
            ring.extend(&vertical[r][c + 1]);
            ring.push(corner[r + 1][c + 1]);
            ring.extend(horizontal[r + 1][c].iter().rev());
            ring.push(corner[r + 1][c]);
            ring.extend(vertical[r][c].iter().rev());
            ring.push(corner[r][c]);
            let mut holes = Vec::new();
            if rng.next().is_multiple_of(12) {
                let (cx, cy) = (WEST + (c as f64 + 0.5) * dx, SOUTH + (r as f64 + 0.5) * dy);
                let (hx, hy) = (0.12 * dx, 0.12 * dy);
                holes.push(LineString::from(vec![
                    (cx - hx, cy - hy),
                    (cx + hx, cy - hy),
                    (cx, cy + hy),
                    (cx - hx, cy - hy),
                ]));
            }
            out.push((
                format!("510117{:09}", out.len() + 1),
                MultiPolygon::new(vec![Polygon::new(LineString::from(ring), holes)]),
            ));
        }
    }
    out.truncate(areas);
    out
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let mut areas = 10_000usize;
    let mut lookups = 100_000usize;
    let mut seed = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse::<u64>().ok());
        match arg.as_str() {
            "--areas" => areas = value().unwrap_or(areas as u64) as usize,
            "--lookups" => lookups = value().unwrap_or(lookups as u64) as usize,
            "--seed" => seed = value().unwrap_or(seed),
            other => {
                eprintln!("unknown option {other}; use --areas N --lookups N --seed N");
                std::process::exit(2);
            }
        }
    }
    let mut rng = Rng(seed);

    let set = lattice(areas, &mut rng);
    let vertices: usize = set
        .iter()
        .map(|(_, g)| g.0.iter().map(|p| p.exterior().0.len()).sum::<usize>())
        .sum();
    let holes: usize = set
        .iter()
        .map(|(_, g)| g.0.iter().map(|p| p.interiors().len()).sum::<usize>())
        .sum();
    println!(
        "areas: {} ({} holes, {:.1} vertices per exterior)",
        set.len(),
        holes,
        vertices as f64 / set.len() as f64
    );

    let to_validate: Vec<Area> = set
        .iter()
        .map(|(c, g)| Area::new(c.clone(), g.clone()))
        .collect();
    let started = Instant::now();
    let problems = validate(&to_validate, &Rules::new());
    println!(
        "validate (shapes, codes, sibling overlaps): {:.0} ms, {} problems",
        started.elapsed().as_secs_f64() * 1e3,
        problems.len()
    );
    for p in problems.iter().take(5) {
        println!("  {p}");
    }

    let started = Instant::now();
    let index = match AreaIndex::new(set) {
        Ok(index) => index,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    println!(
        "build index: {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let rim = 0.02;
    let queries: Vec<(f64, f64)> = (0..lookups)
        .map(|_| {
            let u = -rim + (1.0 + 2.0 * rim) * rng.unit();
            let v = -rim + (1.0 + 2.0 * rim) * rng.unit();
            (WEST + u * (EAST - WEST), SOUTH + v * (NORTH - SOUTH))
        })
        .collect();
    let mut times = Vec::with_capacity(lookups);
    let mut found = 0usize;
    let started = Instant::now();
    for &(lon, lat) in &queries {
        let t = Instant::now();
        let hit = index.locate(lon, lat);
        times.push(t.elapsed());
        found += usize::from(hit.is_some());
    }
    let total = started.elapsed();
    times.sort_unstable();
    let pick = |q: f64| {
        times
            .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "lookups: {} ({} inside an area, {} outside or in a hole), {:.2} µs mean",
        lookups,
        found,
        lookups - found,
        micros(total) / lookups.max(1) as f64
    );
    println!(
        "latency µs: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        micros(pick(0.50)),
        micros(pick(0.90)),
        micros(pick(0.99)),
        micros(times.last().copied().unwrap_or_default())
    );

    // The demo district: 12 townships → 157 communities → 548 grids.
    let started = Instant::now();
    let district = Polygon::new(
        LineString::from(vec![
            (WEST, SOUTH),
            (EAST, SOUTH),
            (EAST, NORTH),
            (WEST + 0.05, NORTH),
            (WEST, SOUTH + 0.1),
            (WEST, SOUTH),
        ]),
        vec![],
    );
    let townships = tile(district, 12, seed);
    let mut communities = Vec::new();
    for (i, t) in townships.iter().enumerate() {
        communities.extend(tile(
            t.clone(),
            157 / 12 + usize::from(i < 157 % 12),
            seed + i as u64,
        ));
    }
    let mut grids = Vec::new();
    for (i, c) in communities.iter().enumerate() {
        grids.extend(tile(
            c.clone(),
            548 / 157 + usize::from(i < 548 % 157),
            seed + i as u64,
        ));
    }
    println!(
        "demo tiling: {} townships, {} communities, {} grids in {:.0} ms",
        townships.len(),
        communities.len(),
        grids.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
}
