//! GeoJSON FeatureCollection → [`Area`]s, collecting every problem.

use std::collections::HashMap;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use geojson::{Feature, GeometryValue, Position};
use serde_json::Value;

use crate::error::{Error, Problem, ProblemKind, Problems, Result, RingRef};
use crate::validate::{Area, DEFAULT_TOLERANCE_M2, check_shape};

/// Where the parser finds each feature's codes.
#[derive(Debug, Clone, Copy)]
pub struct ParseOptions<'a> {
    /// Name of the property holding the area's code (a string, or a number taken as its digits).
    pub code_property: &'a str,
    /// Name of the property holding the parent's code, if the file carries one.
    pub parent_property: Option<&'a str>,
}

impl<'a> ParseOptions<'a> {
    /// Codes in `code_property`, no parent codes.
    pub fn new(code_property: &'a str) -> Self {
        ParseOptions {
            code_property,
            parent_property: None,
        }
    }

    /// Parent codes in `parent_property`.
    #[must_use]
    pub fn with_parent(mut self, parent_property: &'a str) -> Self {
        self.parent_property = Some(parent_property);
        self
    }
}

/// What is wrong with text that is not JSON, in words for the person who exported the file
/// (serde's own message is English, and its position is given apart).
fn json_problem(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "内容在中途结束，文件可能不完整",
        serde_json::error::Category::Syntax => {
            "此处不符合 JSON 语法（检查逗号、引号和括号是否成对），或文件不是 GeoJSON"
        }
        serde_json::error::Category::Data | serde_json::error::Category::Io => {
            "内容无法按 JSON 读取"
        }
    }
}

/// Parses a GeoJSON FeatureCollection of Polygon/MultiPolygon features in WGS-84 lon/lat.
///
/// Checks everything that can be judged from the file alone — the GeoJSON grammar, a code on
/// every feature and no duplicates, rings closed with ≥ 4 positions, coordinates finite and in
/// range, no self-intersections, holes inside their exterior — and returns *all* problems in
/// [`Error::Invalid`]. Relations with the outside world (known codes, parents) are for
/// [`validate`](crate::validate); sibling overlaps too, since which features are siblings may
/// depend on the caller.
///
/// A 3-D position keeps its first two numbers. Features come back in file order.
pub fn parse_areas(text: &str, options: &ParseOptions<'_>) -> Result<Vec<Area>> {
    let document: Value = serde_json::from_str(text).map_err(|e| Error::Json {
        line: e.line(),
        column: e.column(),
        message: json_problem(&e).to_owned(),
    })?;
    let Value::Object(mut document) = document else {
        return Err(Error::NotFeatureCollection("顶层不是 JSON 对象".into()));
    };
    match document.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => {}
        Some(other) => {
            return Err(Error::NotFeatureCollection(format!("顶层类型为 {other}")));
        }
        None => return Err(Error::NotFeatureCollection("缺少 type 字段".into())),
    }
    let Some(Value::Array(features)) = document.remove("features") else {
        return Err(Error::NotFeatureCollection("缺少 features 数组".into()));
    };

    let mut problems = Vec::new();
    let mut areas = Vec::with_capacity(features.len());
    let mut first_by_code: HashMap<String, usize> = HashMap::new();
    for (index, raw) in features.into_iter().enumerate() {
        let mut report = |code: Option<&str>, kind| {
            problems.push(Problem {
                index: Some(index),
                code: code.map(str::to_owned),
                kind,
            });
        };
        let feature: Feature = match serde_json::from_value(raw) {
            Ok(f) => f,
            Err(e) => {
                report(None, ProblemKind::MalformedFeature(e.to_string()));
                continue;
            }
        };
        let code = property_text(&feature, options.code_property);
        let code = match code {
            Some(Some(c)) if !c.trim().is_empty() => Some(c),
            _ => None,
        };
        if code.is_none() {
            report(None, ProblemKind::NoCode(options.code_property.to_owned()));
        }
        let parent = match options.parent_property {
            None => None,
            Some(name) => match property_text(&feature, name) {
                None => None,
                Some(Some(p)) if p.trim().is_empty() => None,
                Some(Some(p)) => Some(p),
                Some(None) => {
                    report(code.as_deref(), ProblemKind::BadParentCode(name.to_owned()));
                    None
                }
            },
        };
        if let Some(c) = &code {
            if let Some(&first) = first_by_code.get(c) {
                report(Some(c), ProblemKind::DuplicateCode { first_index: first });
            } else {
                first_by_code.insert(c.clone(), index);
            }
        }

        let polygons: Vec<&Vec<Vec<Position>>> = match feature.geometry.as_ref().map(|g| &g.value) {
            None => {
                report(code.as_deref(), ProblemKind::NoGeometry);
                continue;
            }
            Some(GeometryValue::Polygon { coordinates }) => vec![coordinates],
            Some(GeometryValue::MultiPolygon { coordinates }) => coordinates.iter().collect(),
            Some(other) => {
                report(
                    code.as_deref(),
                    ProblemKind::UnsupportedGeometry(other.type_name().into()),
                );
                continue;
            }
        };

        // geo closes rings silently, so closure and length are judged on the raw positions.
        let mut raw_problems = Vec::new();
        let mut geometry = Vec::with_capacity(polygons.len());
        for (p, rings) in polygons.iter().enumerate() {
            let mut converted = Vec::with_capacity(rings.len());
            for (k, ring) in rings.iter().enumerate() {
                let ring_ref = RingRef {
                    polygon: p,
                    hole: k.checked_sub(1),
                };
                let line = LineString::new(ring.iter().map(to_coord).collect());
                let before = raw_problems.len();
                crate::validate::check_ring_points(ring_ref, &line, &mut raw_problems);
                if raw_problems.len() == before && ring.len() < 4 {
                    raw_problems.push(ProblemKind::RingTooShort {
                        ring: ring_ref,
                        positions: ring.len(),
                    });
                }
                converted.push(line);
            }
            let mut converted = converted.into_iter();
            if let Some(exterior) = converted.next() {
                geometry.push(Polygon::new(exterior, converted.collect()));
            } else {
                raw_problems.push(ProblemKind::RingTooShort {
                    ring: RingRef {
                        polygon: p,
                        hole: None,
                    },
                    positions: 0,
                });
            }
        }
        let geometry = MultiPolygon::new(geometry);
        if raw_problems.is_empty() {
            raw_problems = check_shape(&geometry, DEFAULT_TOLERANCE_M2);
        }
        let sound = raw_problems.is_empty();
        for kind in raw_problems {
            report(code.as_deref(), kind);
        }
        if let (Some(code), true) = (code, sound) {
            areas.push(Area {
                code,
                parent,
                geometry,
                feature_index: Some(index),
            });
        }
    }
    if problems.is_empty() {
        Ok(areas)
    } else {
        Err(Error::Invalid(Problems(problems)))
    }
}

/// `None`: no such property (or null). `Some(None)`: present but neither string nor number.
fn property_text(feature: &Feature, name: &str) -> Option<Option<String>> {
    match feature.property(name)? {
        Value::Null => None,
        Value::String(s) => Some(Some(s.trim().to_owned())),
        Value::Number(n) => Some(Some(n.to_string())),
        _ => Some(None),
    }
}

fn to_coord(position: &Position) -> Coord<f64> {
    // geojson guarantees at least two numbers per position.
    let p = position.as_slice();
    Coord {
        x: p.first().copied().unwrap_or(f64::NAN),
        y: p.get(1).copied().unwrap_or(f64::NAN),
    }
}
