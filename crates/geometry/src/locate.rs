//! Point → area lookup: an R-tree over polygon bounding boxes, then exact point-in-polygon.

use geo::{
    BoundingRect, Coord, CoordinatePosition, MultiPolygon, Polygon, coordinate_position::CoordPos,
};
use rstar::{AABB, RTree, RTreeObject};

use crate::error::{Error, Problem, ProblemKind, Problems, Result};

struct Entry {
    /// Index into `AreaIndex::codes`; codes are sorted, so a smaller slot is a smaller code.
    slot: usize,
    polygon: Polygon<f64>,
    envelope: AABB<[f64; 2]>,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// Answers "which area contains this point?" for a fixed set of areas.
///
/// # Boundary rule
///
/// Areas are closed sets: a point on an area's border, including the border of one of its holes,
/// belongs to it. When several areas contain the point, one whose *interior* contains it wins
/// over those that merely have it on their border; among equals the smallest code (byte-wise
/// string order, which is numeric order for codes of equal length) wins. So a point on the edge
/// shared by two grids belongs to the grid with the smaller code, a point on the outer edge of
/// the whole set belongs to the area whose edge it is, and the answer never depends on the order
/// the areas were given in. A point inside a hole that no other area fills is in no area.
pub struct AreaIndex {
    codes: Vec<String>,
    tree: RTree<Entry>,
}

impl AreaIndex {
    /// Builds the index. Each polygon of a MultiPolygon is indexed by its own bounding box so a
    /// scattered area costs no more than a compact one.
    ///
    /// Fails, listing every offender (`Problem::index` is its position in `areas`), on a
    /// non-finite coordinate (which would poison the tree)
    /// or a repeated code (which would make answers ambiguous). Shapes are otherwise not judged:
    /// run [`validate`](crate::validate) first if the data is untrusted.
    pub fn new(areas: Vec<(String, MultiPolygon<f64>)>) -> Result<Self> {
        // Sorted by code so that "smallest slot" means "smallest code"; the original positions
        // are kept for messages.
        let mut areas: Vec<(usize, (String, MultiPolygon<f64>))> =
            areas.into_iter().enumerate().collect();
        areas.sort_by(|a, b| a.1.0.cmp(&b.1.0).then(a.0.cmp(&b.0)));
        let mut problems = Vec::new();
        let mut first = 0;
        for i in 1..areas.len() {
            if areas[i].1.0 == areas[first].1.0 {
                problems.push(Problem {
                    index: Some(areas[i].0),
                    code: Some(areas[i].1.0.clone()),
                    kind: ProblemKind::DuplicateCode {
                        first_index: areas[first].0,
                    },
                });
            } else {
                first = i;
            }
        }
        let mut codes = Vec::with_capacity(areas.len());
        let mut entries = Vec::with_capacity(areas.len());
        for (slot, (original, (code, geometry))) in areas.into_iter().enumerate() {
            for polygon in geometry {
                let finite = polygon
                    .exterior()
                    .0
                    .iter()
                    .chain(polygon.interiors().iter().flat_map(|r| r.0.iter()))
                    .position(|c| !c.x.is_finite() || !c.y.is_finite());
                if let Some(position) = finite {
                    problems.push(Problem {
                        index: Some(original),
                        code: Some(code.clone()),
                        kind: ProblemKind::BadCoordinate {
                            ring: crate::error::RingRef {
                                polygon: 0,
                                hole: None,
                            },
                            position,
                        },
                    });
                    continue;
                }
                let Some(rect) = polygon.bounding_rect() else {
                    continue;
                };
                entries.push(Entry {
                    slot,
                    envelope: AABB::from_corners(
                        [rect.min().x, rect.min().y],
                        [rect.max().x, rect.max().y],
                    ),
                    polygon,
                });
            }
            codes.push(code);
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(Problems(problems)));
        }
        Ok(AreaIndex {
            codes,
            tree: RTree::bulk_load(entries),
        })
    }

    /// Number of areas.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// True when the index holds no area.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The code of the area containing (`lon`, `lat`) under the boundary rule above, or `None`
    /// when no area contains it (or the point is not finite).
    pub fn locate(&self, lon: f64, lat: f64) -> Option<&str> {
        if !lon.is_finite() || !lat.is_finite() {
            return None;
        }
        let coord = Coord { x: lon, y: lat };
        let mut best_inside: Option<usize> = None;
        let mut best_border: Option<usize> = None;
        for entry in self
            .tree
            .locate_in_envelope_intersecting(&AABB::from_point([lon, lat]))
        {
            if best_inside.is_some_and(|b| b <= entry.slot) {
                continue;
            }
            match entry.polygon.coordinate_position(&coord) {
                CoordPos::Inside => best_inside = Some(entry.slot),
                CoordPos::OnBoundary => {
                    best_border = Some(best_border.map_or(entry.slot, |b| b.min(entry.slot)));
                }
                CoordPos::Outside => {}
            }
        }
        best_inside
            .or(best_border)
            .map(|slot| self.codes[slot].as_str())
    }

    /// Codes of every area whose closed set contains the point, smallest first. For valid data
    /// this is one code inside an area and two or more only on borders.
    pub fn locate_all(&self, lon: f64, lat: f64) -> Vec<&str> {
        if !lon.is_finite() || !lat.is_finite() {
            return Vec::new();
        }
        let coord = Coord { x: lon, y: lat };
        let mut slots: Vec<usize> = self
            .tree
            .locate_in_envelope_intersecting(&AABB::from_point([lon, lat]))
            .filter(|e| e.polygon.coordinate_position(&coord) != CoordPos::Outside)
            .map(|e| e.slot)
            .collect();
        slots.sort_unstable();
        slots.dedup();
        slots.into_iter().map(|s| self.codes[s].as_str()).collect()
    }
}
