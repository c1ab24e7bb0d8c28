use std::fmt;

/// Everything that can stop a whole operation of this crate.
///
/// Per-feature problems are not returned one by one: they are collected into [`Problems`] so the
/// person fixing a file sees all of them at once.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not JSON at all. Line and column are 1-based, as editors show them.
    #[error("GeoJSON 不是合法的 JSON（第 {line} 行第 {column} 列）：{message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },

    /// The JSON is fine but the document is not a GeoJSON FeatureCollection.
    #[error("GeoJSON 必须是 FeatureCollection：{0}")]
    NotFeatureCollection(String),

    /// One or more features (or their relations) are wrong; every problem found is listed.
    #[error("{0}")]
    Invalid(Problems),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One problem with one feature (or between two features).
///
/// `index` is the 0-based position of the feature in the input; the Display message counts from 1
/// ("第 3 个要素") because that is what a person reading the file counts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Problem {
    /// 0-based index of the feature in the input, when the area came from a feature list.
    pub index: Option<usize>,
    /// The area's code, when it has one.
    pub code: Option<String>,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.index, &self.code) {
            (Some(i), Some(code)) => write!(f, "第 {} 个要素（编码 {code}）：", i + 1)?,
            (Some(i), None) => write!(f, "第 {} 个要素：", i + 1)?,
            (None, Some(code)) => write!(f, "区域 {code}：")?,
            (None, None) => {}
        }
        write!(f, "{}", self.kind)
    }
}

/// Which ring of a polygon a problem is in. Polygon and hole numbers are 1-based in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingRef {
    /// 0-based index of the polygon inside a MultiPolygon (always 0 for a Polygon).
    pub polygon: usize,
    /// `None` for the exterior ring, `Some(k)` for the k-th (0-based) hole.
    pub hole: Option<usize>,
}

impl fmt::Display for RingRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.polygon > 0 {
            write!(f, "第 {} 个多边形的", self.polygon + 1)?;
        }
        match self.hole {
            None => write!(f, "外环"),
            Some(k) => write!(f, "第 {} 个内环（洞）", k + 1),
        }
    }
}

/// A longitude/latitude position, used to say where a problem is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct At {
    pub lon: f64,
    pub lat: f64,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:.6}, {:.6})", self.lon, self.lat)
    }
}

/// The kinds of problem the parser and [`validate`](crate::validate) report.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProblemKind {
    /// The feature object itself does not follow the GeoJSON grammar.
    #[error("要素格式错误：{0}")]
    MalformedFeature(String),
    /// The feature has no geometry.
    #[error("缺少几何图形")]
    NoGeometry,
    /// Only areas can be areas.
    #[error("几何类型为 {0}，只接受 Polygon 或 MultiPolygon")]
    UnsupportedGeometry(String),
    /// The polygon (or multipolygon) has no rings at all.
    #[error("几何图形为空")]
    EmptyGeometry,
    /// The code property is missing, empty, or not a string or number.
    #[error("缺少编码属性 `{0}`")]
    NoCode(String),
    /// The parent code property is present but not a string or number.
    #[error("上级编码属性 `{0}` 不是字符串或数字")]
    BadParentCode(String),
    /// Two features carry the same code.
    #[error("编码重复（与第 {} 个要素相同）", first_index + 1)]
    DuplicateCode { first_index: usize },
    /// The caller's list of known codes does not contain this code.
    #[error("编码不在已知编码中")]
    UnknownCode,
    /// First and last positions of a ring differ.
    #[error("{ring}未闭合")]
    RingNotClosed { ring: RingRef },
    /// A ring needs at least four positions (three distinct corners and the closing one).
    #[error("{ring}只有 {positions} 个坐标，至少需要 4 个（首尾相同）")]
    RingTooShort { ring: RingRef, positions: usize },
    /// A position has fewer than two numbers, or is NaN/infinite.
    #[error("{ring}第 {} 个坐标无效", position + 1)]
    BadCoordinate { ring: RingRef, position: usize },
    /// A position is outside lon −180..180 / lat −90..90 (often: lat and lon swapped, or projected metres).
    #[error("{ring}第 {} 个坐标 {at} 超出经纬度范围（经度 −180..180，纬度 −90..90）", position + 1)]
    CoordinateOutOfRange {
        ring: RingRef,
        position: usize,
        at: At,
    },
    /// A ring crosses or touches itself.
    #[error("{ring}自相交，位置 {at}")]
    SelfIntersection { ring: RingRef, at: At },
    /// Two rings of one polygon cross or run along each other.
    #[error("{ring}与{other}相交，位置 {at}")]
    RingsCross {
        ring: RingRef,
        other: RingRef,
        at: At,
    },
    /// A hole lies (partly) outside its polygon's exterior ring, or inside another hole.
    #[error("{ring}不在外环之内，或落在另一个洞里")]
    HoleOutsideExterior { ring: RingRef },
    /// Two polygons of one MultiPolygon overlap.
    #[error("第 {} 与第 {} 个多边形重叠 {area_m2:.1} 平方米", first + 1, second + 1)]
    PartsOverlap {
        first: usize,
        second: usize,
        area_m2: f64,
    },
    /// The area names no parent but the rules require one.
    #[error("缺少上级编码")]
    NoParent,
    /// The parent code has no geometry among those the caller supplied.
    #[error("上级区域 {0} 没有边界")]
    UnknownParent(String),
    /// Part of the area lies outside its parent's area.
    #[error("超出上级区域 {parent} 约 {area_m2:.1} 平方米，位置约 {at}")]
    OutsideParent {
        parent: String,
        area_m2: f64,
        at: At,
    },
    /// Two children of one parent overlap.
    #[error("与区域 {other} 重叠约 {area_m2:.1} 平方米，位置约 {at}")]
    Overlap { other: String, area_m2: f64, at: At },
}

/// A non-empty list of problems, displayed one per line.
#[derive(Debug, Clone, PartialEq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "共 {} 个问题", self.0.len())?;
        for p in &self.0 {
            write!(f, "\n{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}
