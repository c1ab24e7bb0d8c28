//! Deterministic demo tiling: cut a polygon into n irregular cells.

use geo::{Area as _, BooleanOps, BoundingRect, Coord, LineString, MultiPolygon, Polygon};

/// SplitMix64: tiny, fast, and the same on every platform, which is what makes tilings
/// reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn signed(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// Cuts `region` (lon/lat degrees) into `n` non-overlapping cells that together cover it, for
/// demo data.
///
/// Method: recursive bisection. Each step cuts a piece in two along a jagged line (a straight
/// line at a random angle across the piece's longer side, bent at a few jittered points), placed
/// so the two sides get areas in proportion to the number of cells each must still hold; the
/// sides are computed with geo's boolean operations, so cells meet exactly along shared edges and
/// stay inside the region. Angles are measured after scaling longitude by cos(latitude), so cells
/// look alike in the north and south of a region. The same region, `n` and `seed` always give
/// the same cells.
///
/// Returns no cells for `n == 0` or a region without area or with non-finite coordinates. A cut
/// that would split a piece into disconnected parts is retried at other angles; only for
/// pathological regions (deep, narrow inlets) can the result hold a different number of cells
/// than asked.
pub fn tile(region: Polygon<f64>, n: usize, seed: u64) -> Vec<Polygon<f64>> {
    let finite = region
        .exterior()
        .0
        .iter()
        .chain(region.interiors().iter().flat_map(|r| r.0.iter()))
        .all(|c| c.x.is_finite() && c.y.is_finite());
    if n == 0 || !finite || region.unsigned_area() <= 0.0 {
        return Vec::new();
    }
    let Some(rect) = region.bounding_rect() else {
        return Vec::new();
    };
    let cos_lat = rect.center().y.to_radians().cos().abs().max(0.01);
    let mut rng = Rng(seed ^ 0x6A09_E667_F3BC_C909);
    // Capped: `n` is caller input and must not be able to abort on allocation.
    let mut cells = Vec::with_capacity(n.min(1 << 16));
    // Passing the region through the boolean engine once puts every cell, including a region
    // that needs no cut, on the same snapped coordinates.
    let region = region.union(&MultiPolygon::<f64>::new(vec![]));
    let parts = region.0.len();
    if parts == 0 {
        return Vec::new();
    }
    let weights: Vec<f64> = region.0.iter().map(|p| p.unsigned_area()).collect();
    for (piece, count) in region.0.into_iter().zip(share(n.max(parts), &weights)) {
        split(piece, count, cos_lat, &mut rng, &mut cells);
    }
    cells
}

/// Shares `total` among parts in proportion to `weights`, each at least one (largest remainder).
fn share(total: usize, weights: &[f64]) -> Vec<usize> {
    let k = weights.len();
    if k == 0 {
        return Vec::new();
    }
    let spare = total.saturating_sub(k) as f64;
    let sum: f64 = weights.iter().sum();
    let ideal: Vec<f64> = weights
        .iter()
        .map(|w| {
            if sum > 0.0 {
                w / sum * spare
            } else {
                spare / k as f64
            }
        })
        .collect();
    let mut counts: Vec<usize> = ideal.iter().map(|x| 1 + x.floor() as usize).collect();
    let mut left = total.saturating_sub(counts.iter().sum());
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| (ideal[b] - ideal[b].floor()).total_cmp(&(ideal[a] - ideal[a].floor())));
    for &i in order.iter().cycle().take(k * 2) {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    counts
}

fn split(piece: Polygon<f64>, k: usize, cos_lat: f64, rng: &mut Rng, out: &mut Vec<Polygon<f64>>) {
    if k <= 1 {
        out.push(piece);
        return;
    }
    let k_low = k / 2;
    let fraction = k_low as f64 / k as f64;
    let total = ring_area(&piece, None);

    // Work in a frame where one unit east equals one unit north on the ground.
    let to_local = |c: Coord<f64>| Coord {
        x: c.x * cos_lat,
        y: c.y,
    };
    let to_world = |c: Coord<f64>| Coord {
        x: c.x / cos_lat,
        y: c.y,
    };
    let local: Vec<Coord<f64>> = piece.exterior().0.iter().map(|&c| to_local(c)).collect();
    let (min, max) = local.iter().fold(
        (
            Coord {
                x: f64::MAX,
                y: f64::MAX,
            },
            Coord {
                x: f64::MIN,
                y: f64::MIN,
            },
        ),
        |(lo, hi), c| {
            (
                Coord {
                    x: lo.x.min(c.x),
                    y: lo.y.min(c.y),
                },
                Coord {
                    x: hi.x.max(c.x),
                    y: hi.y.max(c.y),
                },
            )
        },
    );
    let (width, height) = (max.x - min.x, max.y - min.y);
    let mut fallback: Option<(MultiPolygon<f64>, MultiPolygon<f64>)> = None;

    for attempt in 0..12 {
        // Cut across the longer side so cells stay compact; later attempts try wilder angles
        // and finally straight cuts, which cannot zigzag into a second part.
        let base = if width >= height {
            0.0
        } else {
            std::f64::consts::FRAC_PI_2
        };
        let spread = if attempt < 4 { 0.35 } else { 1.2 };
        let angle = base + rng.signed() * spread;
        let normal = Coord {
            x: angle.cos(),
            y: angle.sin(),
        };
        let along = Coord {
            x: -normal.y,
            y: normal.x,
        };
        let dot = |c: Coord<f64>, d: Coord<f64>| c.x * d.x + c.y * d.y;

        let offset = offset_for_fraction(&piece, &to_local, normal, fraction * total);
        let (s_min, s_max) = local
            .iter()
            .map(|&c| dot(c, along))
            .fold((f64::MAX, f64::MIN), |(lo, hi), s| (lo.min(s), hi.max(s)));
        let (t_min, t_max) = local
            .iter()
            .map(|&c| dot(c, normal))
            .fold((f64::MAX, f64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        let length = s_max - s_min;
        let depth = t_max - t_min;
        let amplitude = if attempt < 8 {
            0.07 * length.min(depth)
        } else {
            0.0
        };
        let pad = length.max(depth) + 1e-9;

        // The jagged cut, from well before the piece to well after it.
        let bends = 5 + (rng.next_u64() % 4) as usize;
        let mut path = vec![point(normal, along, offset, s_min - pad)];
        for b in 1..bends {
            let s = s_min + length * (b as f64 + 0.3 * rng.signed()) / bends as f64;
            path.push(point(normal, along, offset + amplitude * rng.signed(), s));
        }
        path.push(point(normal, along, offset, s_max + pad));
        // Close it on the low side, far enough to take in the whole of that side.
        let far = offset - 2.0 * pad;
        path.push(point(normal, along, far, s_max + pad));
        path.push(point(normal, along, far, s_min - pad));
        let half = Polygon::new(
            LineString::new(path.into_iter().map(to_world).collect()),
            vec![],
        );

        let low = piece.intersection(&half);
        let high = piece.difference(&half);
        if let ([l], [h]) = (low.0.as_slice(), high.0.as_slice()) {
            split(l.clone(), k_low, cos_lat, rng, out);
            split(h.clone(), k - k_low, cos_lat, rng, out);
            return;
        }
        if !low.0.is_empty() && !high.0.is_empty() && fallback.is_none() {
            fallback = Some((low, high));
        }
    }

    // Every cut left a side in several parts: share the cells among all the parts instead.
    let Some((low, high)) = fallback else {
        out.push(piece);
        return;
    };
    let parts: Vec<Polygon<f64>> = low.0.into_iter().chain(high.0).collect();
    if parts.len() > k {
        out.extend(parts);
        return;
    }
    let weights: Vec<f64> = parts.iter().map(|p| p.unsigned_area()).collect();
    for (part, count) in parts.into_iter().zip(share(k, &weights)) {
        split(part, count, cos_lat, rng, out);
    }
}

fn point(normal: Coord<f64>, along: Coord<f64>, t: f64, s: f64) -> Coord<f64> {
    Coord {
        x: normal.x * t + along.x * s,
        y: normal.y * t + along.y * s,
    }
}

/// The offset t such that the part of `piece` with local·normal ≤ t has area `target`
/// (in lon/lat degrees², like [`ring_area`]), by bisection on a cheap half-plane clip.
fn offset_for_fraction(
    piece: &Polygon<f64>,
    to_local: &impl Fn(Coord<f64>) -> Coord<f64>,
    normal: Coord<f64>,
    target: f64,
) -> f64 {
    let value = |c: Coord<f64>| {
        let l = to_local(c);
        l.x * normal.x + l.y * normal.y
    };
    let (mut lo, mut hi) = piece
        .exterior()
        .0
        .iter()
        .map(|&c| value(c))
        .fold((f64::MAX, f64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    for _ in 0..48 {
        let mid = 0.5 * (lo + hi);
        if ring_area(piece, Some((&value, mid))) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

type Cut<'a> = (&'a dyn Fn(Coord<f64>) -> f64, f64);

/// Area of `piece` (holes removed), or of its part where `value ≤ limit` when a cut is given.
///
/// Clipping one ring against one half-plane (Sutherland–Hodgman) can leave zero-width bridges in
/// a concave ring, but they add no area, so the shoelace sum of the result is exact.
fn ring_area(piece: &Polygon<f64>, cut: Option<Cut<'_>>) -> f64 {
    let one = |ring: &LineString<f64>| -> f64 {
        let coords = &ring.0;
        let mut kept: Vec<Coord<f64>> = Vec::with_capacity(coords.len() + 4);
        match cut {
            None => kept.extend_from_slice(coords),
            Some((value, limit)) => {
                for w in coords.windows(2) {
                    let (a, b) = (w[0], w[1]);
                    let (va, vb) = (value(a) - limit, value(b) - limit);
                    if va <= 0.0 {
                        kept.push(a);
                    }
                    if (va < 0.0 && vb > 0.0) || (va > 0.0 && vb < 0.0) {
                        let t = va / (va - vb);
                        kept.push(Coord {
                            x: a.x + t * (b.x - a.x),
                            y: a.y + t * (b.y - a.y),
                        });
                    }
                }
            }
        }
        let n = kept.len();
        if n < 3 {
            return 0.0;
        }
        let twice: f64 = (0..n)
            .map(|i| {
                let (p, q) = (kept[i], kept[(i + 1) % n]);
                p.x * q.y - q.x * p.y
            })
            .sum();
        (twice / 2.0).abs()
    };
    one(piece.exterior()) - piece.interiors().iter().map(one).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_follow_weights() {
        assert_eq!(share(10, &[1.0, 1.0]), vec![5, 5]);
        assert_eq!(share(10, &[3.0, 1.0]).iter().sum::<usize>(), 10);
        assert_eq!(share(3, &[100.0, 1.0, 1.0]), vec![1, 1, 1]);
        assert_eq!(share(7, &[0.0, 0.0]).iter().sum::<usize>(), 7);
        assert!(share(5, &[]).is_empty());
    }

    #[test]
    fn clipped_area_is_exact_for_a_concave_ring() {
        // A U shape: 3×3 square minus the 1×2 notch at the top middle; area 7.
        let u = Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (3.0, 0.0),
                (3.0, 3.0),
                (2.0, 3.0),
                (2.0, 1.0),
                (1.0, 1.0),
                (1.0, 3.0),
                (0.0, 3.0),
                (0.0, 0.0),
            ]),
            vec![],
        );
        assert!((ring_area(&u, None) - 7.0).abs() < 1e-12);
        let y = |c: Coord<f64>| -c.y;
        // Keep y ≥ 2: two 1×1 prongs.
        assert!((ring_area(&u, Some((&y, -2.0))) - 2.0).abs() < 1e-12);
    }
}
