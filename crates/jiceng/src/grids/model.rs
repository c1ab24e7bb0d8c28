//! Pure rules of the grids context: boundary encoding, code levels, ID numbers (GB 11643),
//! phone numbers, masking and the small vocabularies. No database here.

use geo::{BoundingRect, Coord, LineString, MapCoords, MultiPolygon, Polygon};
use serde::Serialize;

use crate::error::{Error, Result};

/// What the locator answers for a point in no grid.
pub const OUTSIDE_MESSAGE: &str = "该位置不在本区网格范围内";

/// A boundary as a GeoJSON MultiPolygon geometry object (the form stored in the database).
pub fn geometry_to_json(g: &MultiPolygon<f64>) -> String {
    let ring = |l: &LineString<f64>| -> Vec<[f64; 2]> {
        // Seven decimals is about a centimetre: finer than any boundary survey.
        l.0.iter().map(|c| [round7(c.x), round7(c.y)]).collect()
    };
    let polygons: Vec<Vec<Vec<[f64; 2]>>> =
        g.0.iter()
            .map(|p| {
                std::iter::once(ring(p.exterior()))
                    .chain(p.interiors().iter().map(ring))
                    .collect()
            })
            .collect();
    serde_json::json!({ "type": "MultiPolygon", "coordinates": polygons }).to_string()
}

fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// Reads what [`geometry_to_json`] wrote (a Polygon object is accepted too).
pub fn geometry_from_json(text: &str) -> Result<MultiPolygon<f64>> {
    #[derive(serde::Deserialize)]
    struct Raw {
        #[serde(rename = "type")]
        kind: String,
        coordinates: serde_json::Value,
    }
    let bad = |e: &dyn std::fmt::Display| Error::internal(format!("stored boundary: {e}"));
    let raw: Raw = serde_json::from_str(text).map_err(|e| bad(&e))?;
    let to_polygon = |rings: Vec<Vec<[f64; 2]>>| {
        let mut rings = rings
            .into_iter()
            .map(|r| LineString::new(r.into_iter().map(|[x, y]| Coord { x, y }).collect()));
        let exterior = rings.next().unwrap_or_else(|| LineString::new(vec![]));
        Polygon::new(exterior, rings.collect())
    };
    match raw.kind.as_str() {
        "MultiPolygon" => {
            let polys: Vec<Vec<Vec<[f64; 2]>>> =
                serde_json::from_value(raw.coordinates).map_err(|e| bad(&e))?;
            Ok(MultiPolygon::new(
                polys.into_iter().map(to_polygon).collect(),
            ))
        }
        "Polygon" => {
            let rings: Vec<Vec<[f64; 2]>> =
                serde_json::from_value(raw.coordinates).map_err(|e| bad(&e))?;
            Ok(MultiPolygon::new(vec![to_polygon(rings)]))
        }
        other => Err(bad(&other)),
    }
}

/// (min_lon, min_lat, max_lon, max_lat); zeros for an empty shape.
pub fn bbox(g: &MultiPolygon<f64>) -> (f64, f64, f64, f64) {
    g.bounding_rect()
        .map(|r| (r.min().x, r.min().y, r.max().x, r.max().y))
        .unwrap_or((0.0, 0.0, 0.0, 0.0))
}

/// Moves a shape drawn on a Chinese web map (AMap, Tencent: GCJ-02) onto WGS-84.
pub fn gcj02_to_wgs84(g: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    g.map_coords(|c| {
        let (x, y) = geometry::coords::gcj02_to_wgs84(c.x, c.y);
        Coord { x, y }
    })
}

/// Which level an imported code names: 12 digits a community (村/社区), 15 a grid. Township
/// codes (ending in 000) are not imported: their outline is their communities'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Community,
    Grid,
}

pub fn level_of(code: &str) -> Option<Level> {
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match code.len() {
        12 if !code.ends_with("000") => Some(Level::Community),
        15 => Some(Level::Grid),
        _ => None,
    }
}

/// A resident identity card number (公民身份号码, GB 11643-1999), checksum verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdNumber(String);

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

impl IdNumber {
    pub fn parse(s: &str) -> Result<IdNumber> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let shape_ok = b.len() == 18
            && b[..17].iter().all(u8::is_ascii_digit)
            && (b[17].is_ascii_digit() || b[17] == b'X');
        if !shape_ok {
            return Err(Error::invalid(
                "id_number",
                "身份证号码应为 18 位，前 17 位为数字，最后一位为数字或 X",
            ));
        }
        let birth = &s[6..14];
        if chrono::NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
            return Err(Error::invalid("id_number", "身份证号码中的出生日期无效"));
        }
        let sum: u32 = b[..17]
            .iter()
            .zip(ID_WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        if ID_CHECK[(sum % 11) as usize] != b[17] {
            return Err(Error::invalid(
                "id_number",
                "身份证号码校验位不正确，请核对",
            ));
        }
        Ok(IdNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// 110105********1234: the region and the last four stay, the birth date goes.
    pub fn masked(&self) -> String {
        mask_id(&self.0)
    }
}

pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 10 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

/// A phone number: an 11-digit mobile number, or a landline of digits and hyphens.
pub fn parse_phone(s: &str, field: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(String::new());
    }
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    let ok = s.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && if s.starts_with('1') && !s.contains('-') {
            digits == 11
        } else {
            (7..=13).contains(&digits)
        };
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Error::invalid(
            field,
            "电话号码应为 11 位手机号或带区号的固定电话",
        ))
    }
}

/// 138****5678 for a mobile number; other numbers keep their first three and last four.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// Full-time (专职) or part-time (兼职) grid worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Employment {
    FullTime,
    PartTime,
}

impl Employment {
    pub fn parse(s: &str) -> Result<Employment> {
        match s.trim() {
            "full_time" | "专职" => Ok(Employment::FullTime),
            "part_time" | "兼职" => Ok(Employment::PartTime),
            _ => Err(Error::invalid("employment", "请选择专职或兼职")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Employment::FullTime => "full_time",
            Employment::PartTime => "part_time",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Employment::FullTime => "专职",
            Employment::PartTime => "兼职",
        }
    }
}

/// Kinds of key place (重点场所) a grid keeps.
pub const PLACE_KINDS: [(&str, &str); 6] = [
    ("shop", "沿街商铺"),
    ("construction_site", "建筑工地"),
    ("school", "学校"),
    ("hospital", "医疗机构"),
    ("factory", "企业厂房"),
    ("other", "其他"),
];

pub fn place_kind(s: &str) -> Result<&'static str> {
    PLACE_KINDS
        .iter()
        .find(|(k, _)| *k == s.trim())
        .map(|(k, _)| *k)
        .ok_or_else(|| Error::invalid("kind", "请选择场所类型"))
}

pub fn place_kind_label(s: &str) -> &'static str {
    PLACE_KINDS
        .iter()
        .find(|(k, _)| *k == s)
        .map(|(_, l)| *l)
        .unwrap_or("其他")
}

/// Trimmed text that must be present and not longer than `max` characters.
pub fn required(field: &str, label: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, format!("请填写{label}")));
    }
    optional(field, label, v, max)
}

/// Trimmed text, possibly empty, not longer than `max` characters.
pub fn optional(field: &str, label: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(Error::invalid(field, format!("{label}不能超过 {max} 个字")));
    }
    Ok(v.to_owned())
}

/// An optional longitude/latitude pair typed by the worker (or filled from the phone): both
/// or neither, WGS-84, within China's rough extent.
pub fn parse_position(lon: &str, lat: &str) -> Result<Option<(f64, f64)>> {
    let (lon, lat) = (lon.trim(), lat.trim());
    if lon.is_empty() && lat.is_empty() {
        return Ok(None);
    }
    let parse = |s: &str, field: &str| {
        s.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| Error::invalid(field, "经纬度应为数字，例如 103.9312 和 30.7581"))
    };
    let (x, y) = (parse(lon, "lon")?, parse(lat, "lat")?);
    if !(73.0..=136.0).contains(&x) || !(3.0..=54.0).contains(&y) {
        return Err(Error::invalid(
            "lon",
            "经纬度不在中国境内，请检查是否填反了经度和纬度",
        ));
    }
    Ok(Some((x, y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_round_trip_through_json() {
        let square = Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (1.0, 0.0),
                (1.0, 1.0),
                (0.0, 1.0),
                (0.0, 0.0),
            ]),
            vec![LineString::from(vec![
                (0.2, 0.2),
                (0.4, 0.2),
                (0.4, 0.4),
                (0.2, 0.2),
            ])],
        );
        let g = MultiPolygon::new(vec![square]);
        let back = geometry_from_json(&geometry_to_json(&g)).unwrap();
        assert_eq!(back, g);
        assert_eq!(bbox(&g), (0.0, 0.0, 1.0, 1.0));
        assert!(geometry_from_json("{\"type\":\"Point\",\"coordinates\":[1,2]}").is_err());
    }

    #[test]
    fn codes_name_their_level() {
        assert_eq!(level_of("510117006001"), Some(Level::Community));
        assert_eq!(level_of("510117006001001"), Some(Level::Grid));
        assert_eq!(level_of("510117006000"), None);
        assert_eq!(level_of("51011700600A"), None);
        assert_eq!(level_of("5101"), None);
    }

    #[test]
    fn id_numbers_are_checked_and_masked() {
        // 11010519491231002X is the standard's own example.
        let id = IdNumber::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.masked(), "110105********002X");
        assert!(
            IdNumber::parse("110105194912310021").is_err(),
            "bad check digit"
        );
        assert!(IdNumber::parse("110105194913310023").is_err(), "month 13");
        assert!(IdNumber::parse("1101051949123100").is_err(), "too short");
        assert!(IdNumber::parse("").is_err());
    }

    #[test]
    fn phones_are_checked_and_masked() {
        assert_eq!(parse_phone("13812345678", "phone").unwrap(), "13812345678");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(
            parse_phone("028-87654321", "phone").unwrap(),
            "028-87654321"
        );
        assert!(parse_phone("1381234567", "phone").is_err());
        assert!(parse_phone("abc", "phone").is_err());
        assert_eq!(parse_phone(" ", "phone").unwrap(), "");
    }

    #[test]
    fn positions_are_both_or_neither_and_in_china() {
        assert_eq!(parse_position("", "").unwrap(), None);
        assert_eq!(
            parse_position("103.9", "30.8").unwrap(),
            Some((103.9, 30.8))
        );
        assert!(parse_position("30.8", "103.9").is_err(), "swapped");
        assert!(parse_position("103.9", "").is_err());
        assert!(parse_position("NaN", "30").is_err());
    }

    #[test]
    fn gcj02_shapes_move_back_onto_wgs84() {
        let (gx, gy) = geometry::coords::wgs84_to_gcj02(103.9, 30.8);
        let g = MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![(gx, gy), (gx + 0.01, gy), (gx, gy + 0.01), (gx, gy)]),
            vec![],
        )]);
        let w = gcj02_to_wgs84(&g);
        let c = w.0[0].exterior().0[0];
        assert!(
            (c.x - 103.9).abs() < 1e-5 && (c.y - 30.8).abs() < 1e-5,
            "{c:?}"
        );
    }
}
