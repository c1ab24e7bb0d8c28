//! Shape checks for one area and relational checks (codes, parents, siblings) for a set.

use std::collections::{HashMap, HashSet};

use geo::coordinate_position::{CoordPos, coord_pos_relative_to_ring};
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{
    BooleanOps, BoundingRect, Coord, InteriorPoint, Line, LineString, MultiPolygon, Polygon, Rect,
};
use rstar::{AABB, Envelope, RTree, RTreeObject};

use crate::error::{At, Problem, ProblemKind, RingRef};

/// Overlaps and excursions smaller than this many square metres are taken as rounding noise along
/// shared borders, not as errors. One square metre is far below what any survey of a grid or
/// community boundary resolves.
pub const DEFAULT_TOLERANCE_M2: f64 = 1.0;

/// One area: an opaque code, an optional parent code, and its boundary in WGS-84 lon/lat.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// Identifies the area; the engine gives it no meaning beyond equality and ordering.
    pub code: String,
    /// The code of the area this one must lie inside, if any.
    pub parent: Option<String>,
    /// x = longitude, y = latitude, degrees.
    pub geometry: MultiPolygon<f64>,
    /// 0-based position of the feature in the file it came from, so messages can point at it.
    pub feature_index: Option<usize>,
}

impl Area {
    /// An area built in code (no source file), without parent.
    pub fn new(code: impl Into<String>, geometry: impl Into<MultiPolygon<f64>>) -> Self {
        Area {
            code: code.into(),
            parent: None,
            geometry: geometry.into(),
            feature_index: None,
        }
    }

    /// The same area with a parent code.
    #[must_use]
    pub fn with_parent(mut self, parent: impl Into<String>) -> Self {
        self.parent = Some(parent.into());
        self
    }

    fn problem(&self, kind: ProblemKind) -> Problem {
        Problem {
            index: self.feature_index,
            code: (!self.code.is_empty()).then(|| self.code.clone()),
            kind,
        }
    }
}

type KnownCode<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// What [`validate`] checks beyond the shape of each area.
///
/// Shape checks (rings closed, ≥ 4 positions, coordinates finite and in range, no
/// self-intersection, holes inside the exterior), codes present and unique, and siblings (areas
/// with the same parent code, or all areas without one) not overlapping are always checked.
pub struct Rules<'a> {
    known: Option<KnownCode<'a>>,
    parents: HashMap<&'a str, &'a MultiPolygon<f64>>,
    check_parents: bool,
    require_parent: bool,
    tolerance_m2: f64,
}

impl Default for Rules<'_> {
    fn default() -> Self {
        Rules {
            known: None,
            parents: HashMap::new(),
            check_parents: false,
            require_parent: false,
            tolerance_m2: DEFAULT_TOLERANCE_M2,
        }
    }
}

impl<'a> Rules<'a> {
    /// Shape, code and sibling checks only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every code must satisfy `known` (for instance: exists in the division table).
    #[must_use]
    pub fn known_codes(mut self, known: impl Fn(&str) -> bool + 'a) -> Self {
        self.known = Some(Box::new(known));
        self
    }

    /// Every code must be in `codes`.
    #[must_use]
    pub fn known_code_set<S: std::hash::BuildHasher>(self, codes: &'a HashSet<String, S>) -> Self {
        self.known_codes(move |c| codes.contains(c))
    }

    /// Each area with a parent code must lie inside that parent's geometry, given here. An area
    /// whose parent code is not among these is reported ([`ProblemKind::UnknownParent`]).
    #[must_use]
    pub fn parents(
        mut self,
        parents: impl IntoIterator<Item = (&'a str, &'a MultiPolygon<f64>)>,
    ) -> Self {
        self.parents.extend(parents);
        self.check_parents = true;
        self
    }

    /// Every area must name a parent.
    #[must_use]
    pub fn require_parent(mut self) -> Self {
        self.require_parent = true;
        self
    }

    /// Overlaps and excursions up to this many square metres are tolerated (default
    /// [`DEFAULT_TOLERANCE_M2`]). Negative or NaN values count as zero.
    #[must_use]
    pub fn tolerance_m2(mut self, tolerance: f64) -> Self {
        self.tolerance_m2 = if tolerance.is_nan() {
            0.0
        } else {
            tolerance.max(0.0)
        };
        self
    }
}

/// Checks a set of areas and returns every problem found (empty when all is well).
///
/// Areas whose own shape is broken are left out of the parent and overlap checks, because
/// boolean operations on broken shapes give meaningless answers; fix the shape first.
pub fn validate(areas: &[Area], rules: &Rules<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut sound = vec![true; areas.len()];
    let mut first_by_code: HashMap<&str, usize> = HashMap::new();

    for (i, area) in areas.iter().enumerate() {
        let shape = check_shape(&area.geometry, rules.tolerance_m2);
        sound[i] = shape.is_empty();
        problems.extend(shape.into_iter().map(|k| area.problem(k)));

        if area.code.trim().is_empty() {
            problems.push(area.problem(ProblemKind::NoCode("code".into())));
            continue;
        }
        match first_by_code.get(area.code.as_str()) {
            Some(&first) => problems.push(area.problem(ProblemKind::DuplicateCode {
                first_index: areas[first].feature_index.unwrap_or(first),
            })),
            None => {
                first_by_code.insert(&area.code, i);
            }
        }
        if let Some(known) = &rules.known
            && !known(&area.code)
        {
            problems.push(area.problem(ProblemKind::UnknownCode));
        }
        if rules.require_parent && area.parent.is_none() {
            problems.push(area.problem(ProblemKind::NoParent));
        }
    }

    if rules.check_parents {
        for (i, area) in areas.iter().enumerate() {
            let Some(parent) = &area.parent else { continue };
            let Some(parent_geometry) = rules.parents.get(parent.as_str()) else {
                problems.push(area.problem(ProblemKind::UnknownParent(parent.clone())));
                continue;
            };
            if !sound[i] {
                continue;
            }
            let outside = area.geometry.difference(*parent_geometry);
            let area_m2 = area_m2(&outside);
            if area_m2 > rules.tolerance_m2 {
                problems.push(area.problem(ProblemKind::OutsideParent {
                    parent: parent.clone(),
                    area_m2,
                    at: somewhere_in(&outside),
                }));
            }
        }
    }

    let mut families: HashMap<Option<&str>, Vec<usize>> = HashMap::new();
    for (i, area) in areas.iter().enumerate() {
        if sound[i] && !area.geometry.0.is_empty() {
            families.entry(area.parent.as_deref()).or_default().push(i);
        }
    }
    let mut families: Vec<_> = families.into_values().collect();
    // HashMap order is random; reports should come out the same every run.
    families.sort_unstable();
    for members in families {
        for (a, b) in overlapping_pairs(areas, &members) {
            let shared = areas[a].geometry.intersection(&areas[b].geometry);
            let area_m2 = area_m2(&shared);
            if area_m2 > rules.tolerance_m2 {
                problems.push(areas[a].problem(ProblemKind::Overlap {
                    other: areas[b].code.clone(),
                    area_m2,
                    at: somewhere_in(&shared),
                }));
            }
        }
    }
    problems
}

/// Area in square metres, holes removed.
///
/// Each polygon is projected on a local equirectangular plane through the middle latitude φ₀ of
/// its bounding box, using the WGS-84 ellipsoid's radii of curvature there (east–west:
/// N·cos φ₀ per radian of longitude; north–south: M per radian of latitude). For areas the size
/// of a district (< 0.5°) the error is well under 0.1 %, and unlike a geodesic ring area it has no
/// orientation ambiguity: a sliver of zero width measures zero, never the rest of the globe.
pub fn area_m2(geometry: &MultiPolygon<f64>) -> f64 {
    geometry.0.iter().map(polygon_m2).sum()
}

fn polygon_m2(polygon: &Polygon<f64>) -> f64 {
    const A: f64 = 6_378_137.0;
    const E2: f64 = 0.006_694_379_990_141_317;
    let Some(rect) = polygon.bounding_rect() else {
        return 0.0;
    };
    let phi = rect.center().y.to_radians();
    let w = (1.0 - E2 * phi.sin().powi(2)).sqrt();
    let east = A / w * phi.cos() * std::f64::consts::PI / 180.0;
    let north = A * (1.0 - E2) / w.powi(3) * std::f64::consts::PI / 180.0;
    let ring = |r: &LineString<f64>| {
        // Relative to the first point, so the products stay small and exact.
        let Some(o) = r.0.first() else { return 0.0 };
        let twice: f64 =
            r.0.windows(2)
                .map(|w| (w[0].x - o.x) * (w[1].y - o.y) - (w[1].x - o.x) * (w[0].y - o.y))
                .sum();
        (twice / 2.0).abs()
    };
    let degrees = ring(polygon.exterior()) - polygon.interiors().iter().map(ring).sum::<f64>();
    (degrees * east * north).max(0.0)
}

fn somewhere_in(geometry: &MultiPolygon<f64>) -> At {
    let p = geometry
        .interior_point()
        .map(|p| p.0)
        .or_else(|| geometry.bounding_rect().map(|r| r.center()))
        .unwrap_or(Coord {
            x: f64::NAN,
            y: f64::NAN,
        });
    At { lon: p.x, lat: p.y }
}

struct Boxed {
    slot: usize,
    envelope: AABB<[f64; 2]>,
}

impl RTreeObject for Boxed {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

fn aabb(rect: Rect<f64>) -> AABB<[f64; 2]> {
    AABB::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y])
}

/// Pairs (a, b) of member indices whose bounding boxes intersect, a before b in `members`.
fn overlapping_pairs(areas: &[Area], members: &[usize]) -> Vec<(usize, usize)> {
    let boxes: Vec<Boxed> = members
        .iter()
        .enumerate()
        .filter_map(|(slot, &i)| {
            let rect = areas[i].geometry.bounding_rect()?;
            Some(Boxed {
                slot,
                envelope: aabb(rect),
            })
        })
        .collect();
    let envelopes: Vec<(usize, AABB<[f64; 2]>)> =
        boxes.iter().map(|b| (b.slot, b.envelope)).collect();
    let tree = RTree::bulk_load(boxes);
    let mut pairs = Vec::new();
    for (slot, envelope) in envelopes {
        let mut found: Vec<usize> = tree
            .locate_in_envelope_intersecting(&envelope)
            .map(|b| b.slot)
            .filter(|&other| other > slot)
            .collect();
        found.sort_unstable();
        pairs.extend(
            found
                .into_iter()
                .map(|other| (members[slot], members[other])),
        );
    }
    pairs
}

/// Every problem with the shape of one (multi)polygon, in a stable order.
///
/// `tolerance_m2` is the overlap allowed between parts of a MultiPolygon.
pub(crate) fn check_shape(geometry: &MultiPolygon<f64>, tolerance_m2: f64) -> Vec<ProblemKind> {
    let mut problems = Vec::new();
    if geometry.0.is_empty() {
        problems.push(ProblemKind::EmptyGeometry);
        return problems;
    }
    let mut usable = true;
    for (p, polygon) in geometry.0.iter().enumerate() {
        for (ring_ref, ring) in rings(p, polygon) {
            let before = problems.len();
            check_ring_points(ring_ref, ring, &mut problems);
            usable &= problems.len() == before;
        }
    }
    // Crossing tests and boolean operations need sane coordinates and rings.
    if !usable {
        return problems;
    }
    for (p, polygon) in geometry.0.iter().enumerate() {
        check_crossings(p, polygon, &mut problems);
        check_holes(p, polygon, &mut problems);
    }
    if !problems.is_empty() {
        return problems;
    }
    for i in 0..geometry.0.len() {
        for j in i + 1..geometry.0.len() {
            let (a, b) = (&geometry.0[i], &geometry.0[j]);
            let boxes_meet = match (a.bounding_rect(), b.bounding_rect()) {
                (Some(ra), Some(rb)) => aabb(ra).intersects(&aabb(rb)),
                _ => false,
            };
            if !boxes_meet {
                continue;
            }
            let area_m2 = area_m2(&a.intersection(b));
            if area_m2 > tolerance_m2 {
                problems.push(ProblemKind::PartsOverlap {
                    first: i,
                    second: j,
                    area_m2,
                });
            }
        }
    }
    problems
}

fn rings(
    polygon_index: usize,
    polygon: &Polygon<f64>,
) -> impl Iterator<Item = (RingRef, &LineString<f64>)> {
    std::iter::once((
        RingRef {
            polygon: polygon_index,
            hole: None,
        },
        polygon.exterior(),
    ))
    .chain(
        polygon
            .interiors()
            .iter()
            .enumerate()
            .map(move |(k, ring)| {
                (
                    RingRef {
                        polygon: polygon_index,
                        hole: Some(k),
                    },
                    ring,
                )
            }),
    )
}

/// Coordinates finite and in range, ring closed and long enough.
pub(crate) fn check_ring_points(
    ring_ref: RingRef,
    ring: &LineString<f64>,
    problems: &mut Vec<ProblemKind>,
) {
    let mut coordinates_ok = true;
    for (position, c) in ring.0.iter().enumerate() {
        if !c.x.is_finite() || !c.y.is_finite() {
            problems.push(ProblemKind::BadCoordinate {
                ring: ring_ref,
                position,
            });
            coordinates_ok = false;
        } else if !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y) {
            problems.push(ProblemKind::CoordinateOutOfRange {
                ring: ring_ref,
                position,
                at: At { lon: c.x, lat: c.y },
            });
            coordinates_ok = false;
        }
    }
    if !coordinates_ok {
        return;
    }
    if ring.0.first() != ring.0.last() {
        problems.push(ProblemKind::RingNotClosed { ring: ring_ref });
        return;
    }
    // Repeated consecutive positions are common in exported data and harmless; three distinct
    // corners are what makes a ring enclose an area.
    let distinct = distinct_len(&ring.0);
    if distinct < 4 {
        problems.push(ProblemKind::RingTooShort {
            ring: ring_ref,
            positions: ring.0.len(),
        });
    }
}

fn distinct_len(coords: &[Coord<f64>]) -> usize {
    let mut n = 0;
    let mut last = None;
    for c in coords {
        if last != Some(c) {
            n += 1;
            last = Some(c);
        }
    }
    n
}

fn dedup(coords: &[Coord<f64>]) -> Vec<Coord<f64>> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(coords.len());
    for &c in coords {
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    out
}

struct Segment {
    ring: usize,
    index: usize,
    line: Line<f64>,
    min_x: f64,
    max_x: f64,
}

/// Self-intersections of each ring and crossings between rings of one polygon, by a sweep over
/// segments sorted by their left end, so long rings do not cost n².
fn check_crossings(polygon_index: usize, polygon: &Polygon<f64>, problems: &mut Vec<ProblemKind>) {
    let ring_list: Vec<(RingRef, Vec<Coord<f64>>)> = rings(polygon_index, polygon)
        .map(|(r, ring)| (r, dedup(&ring.0)))
        .collect();
    let mut segments = Vec::new();
    let mut segment_counts = Vec::with_capacity(ring_list.len());
    for (ring, (_, coords)) in ring_list.iter().enumerate() {
        let lines: Vec<Line<f64>> = coords.windows(2).map(|w| Line::new(w[0], w[1])).collect();
        segment_counts.push(lines.len());
        for (index, line) in lines.into_iter().enumerate() {
            segments.push(Segment {
                ring,
                index,
                min_x: line.start.x.min(line.end.x),
                max_x: line.start.x.max(line.end.x),
                line,
            });
        }
    }
    segments.sort_by(|a, b| a.min_x.total_cmp(&b.min_x));

    let mut reported: HashSet<(usize, usize)> = HashSet::new();
    let mut found: Vec<(usize, usize, Coord<f64>)> = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        for t in &segments[i + 1..] {
            if t.min_x > s.max_x {
                break;
            }
            let key = (s.ring.min(t.ring), s.ring.max(t.ring));
            if reported.contains(&key) {
                continue;
            }
            let Some(hit) = line_intersection(s.line, t.line) else {
                continue;
            };
            let bad = if s.ring == t.ring {
                let n = segment_counts[s.ring];
                let (lo, hi) = (s.index.min(t.index), s.index.max(t.index));
                let adjacent = hi - lo == 1 || (lo == 0 && hi + 1 == n);
                // Neighbouring segments always share a corner; only folding back onto each
                // other (a spike) is wrong. Any other contact makes the ring non-simple.
                !adjacent || matches!(hit, LineIntersection::Collinear { .. })
            } else {
                // Rings may touch at a point, but not cross or share a stretch of border.
                match hit {
                    LineIntersection::SinglePoint { is_proper, .. } => is_proper,
                    LineIntersection::Collinear { .. } => true,
                }
            };
            if bad {
                let at = match hit {
                    LineIntersection::SinglePoint { intersection, .. } => intersection,
                    LineIntersection::Collinear { intersection } => intersection.start,
                };
                reported.insert(key);
                found.push((key.0, key.1, at));
            }
        }
    }
    found.sort_by_key(|&(a, b, _)| (a, b));
    for (a, b, at) in found {
        let at = At {
            lon: at.x,
            lat: at.y,
        };
        if a == b {
            problems.push(ProblemKind::SelfIntersection {
                ring: ring_list[a].0,
                at,
            });
        } else {
            problems.push(ProblemKind::RingsCross {
                ring: ring_list[b].0,
                other: ring_list[a].0,
                at,
            });
        }
    }
}

/// Holes must lie inside the exterior and not inside one another. Crossings are reported by
/// [`check_crossings`]; here one vertex strictly on the wrong side is enough.
fn check_holes(polygon_index: usize, polygon: &Polygon<f64>, problems: &mut Vec<ProblemKind>) {
    let exterior = polygon.exterior();
    for (k, hole) in polygon.interiors().iter().enumerate() {
        let ring = RingRef {
            polygon: polygon_index,
            hole: Some(k),
        };
        let outside = hole
            .0
            .iter()
            .any(|&c| coord_pos_relative_to_ring(c, exterior) == CoordPos::Outside);
        let inside_other = polygon.interiors().iter().enumerate().any(|(m, other)| {
            m != k
                && hole
                    .0
                    .iter()
                    .any(|&c| coord_pos_relative_to_ring(c, other) == CoordPos::Inside)
        });
        if outside || inside_other {
            problems.push(ProblemKind::HoleOutsideExterior { ring });
        }
    }
}
