//! Generic area geometry for Jiceng: parse, validate, locate, convert, draw and (for demos) tile
//! areas identified by opaque string codes. The crate knows nothing of townships or grids.
//!
//! * [`parse_areas`] reads a GeoJSON FeatureCollection of Polygon/MultiPolygon features in
//!   WGS-84 lon/lat and reports *every* problem, each with its feature number and code, in
//!   zh-CN ("第 3 个要素（编码 510117001001001）：外环未闭合").
//! * [`validate`] checks shapes, codes, containment in parents and overlaps between siblings.
//! * [`AreaIndex`] answers point → code.
//! * [`coords`] converts GCJ-02 / BD-09 to WGS-84 and back.
//! * [`svg`] draws areas and points (and heat maps) as CSP-friendly SVG.
//! * [`tile()`] cuts a polygon into n irregular cells, deterministically, for demo data.
//!
//! # Boundary rule
//!
//! Areas are closed sets. A point strictly inside an area belongs to it; a point only on borders
//! belongs to the area with the smallest code among those whose border it is on (shared edges:
//! lowest code wins; the outer edge of the whole set: the area whose edge it is). Points in no
//! area give `None`. See [`AreaIndex`].
//!
//! # Areas in square metres
//!
//! Overlaps and excursions are measured on a local equirectangular projection through each
//! polygon's middle latitude, with the WGS-84 radii of curvature there (see [`area_m2`]): under
//! 0.1 % off at district scale, and free of the orientation trouble geodesic ring areas have with
//! zero-width slivers. Overlaps up to
//! [`DEFAULT_TOLERANCE_M2`] are treated as rounding along shared borders; touching edges are never
//! overlaps. Drawing uses an equirectangular projection scaled by cos(latitude) at the centre of
//! the drawing, which keeps shapes true at district scale.
//!
//! # Coordinate systems
//!
//! Everything here is WGS-84. Chinese web maps are not: AMap (高德) and Tencent use GCJ-02,
//! Baidu uses BD-09 (an offset of GCJ-02), Tianditu (天地图) uses CGCS2000, which is within
//! centimetres of WGS-84. Convert on import, with [`coords::gcj02_to_wgs84`] or
//! [`coords::bd09_to_wgs84`], and store WGS-84; an unconverted GCJ-02 file sits a few hundred
//! metres off and puts border points in the wrong grid.
//!
//! ```
//! use geometry::{AreaIndex, ParseOptions, Rules, parse_areas, validate};
//!
//! let text = r#"{"type": "FeatureCollection", "features": [
//!   {"type": "Feature", "properties": {"code": "A"},
//!    "geometry": {"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1],[0,0]]]}},
//!   {"type": "Feature", "properties": {"code": "B"},
//!    "geometry": {"type": "Polygon", "coordinates": [[[1,0],[2,0],[2,1],[1,1],[1,0]]]}}
//! ]}"#;
//! let areas = parse_areas(text, &ParseOptions::new("code"))?;
//! assert!(validate(&areas, &Rules::new()).is_empty());
//! let index = AreaIndex::new(areas.into_iter().map(|a| (a.code, a.geometry)).collect())?;
//! assert_eq!(index.locate(0.5, 0.5), Some("A"));
//! assert_eq!(index.locate(1.0, 0.5), Some("A")); // shared edge: lowest code
//! assert_eq!(index.locate(2.0, 0.5), Some("B")); // outer edge counts as inside
//! assert_eq!(index.locate(3.0, 0.5), None);
//! # Ok::<(), geometry::Error>(())
//! ```

pub mod coords;
mod error;
mod locate;
mod parse;
pub mod svg;
mod tile;
mod validate;

pub use error::{At, Error, Problem, ProblemKind, Problems, Result, RingRef};
pub use locate::AreaIndex;
pub use parse::{ParseOptions, parse_areas};
pub use tile::tile;
pub use validate::{Area, DEFAULT_TOLERANCE_M2, Rules, area_m2, validate};

/// Re-exported so callers build geometries with the same version of geo-types.
pub use geo::{Coord, LineString, MultiPolygon, Polygon};
