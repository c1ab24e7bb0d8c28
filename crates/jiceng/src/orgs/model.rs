//! Organisations: the tree district → township → community → grid, plus departments and the
//! stations they keep in townships. Rules here are plain functions, testable without a database.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::OrgId;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    District,
    Township,
    Community,
    Grid,
    Department,
    Station,
}

impl OrgKind {
    pub const ALL: [OrgKind; 6] = [
        OrgKind::District,
        OrgKind::Township,
        OrgKind::Community,
        OrgKind::Grid,
        OrgKind::Department,
        OrgKind::Station,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::District => "district",
            OrgKind::Township => "township",
            OrgKind::Community => "community",
            OrgKind::Grid => "grid",
            OrgKind::Department => "department",
            OrgKind::Station => "station",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            OrgKind::District => "区（县）",
            OrgKind::Township => "镇（乡、街道）",
            OrgKind::Community => "村（社区）",
            OrgKind::Grid => "网格",
            OrgKind::Department => "区直部门",
            OrgKind::Station => "派驻机构",
        }
    }

    /// The kind an organisation of this kind must sit under; `None` for the top.
    pub fn parent_kind(self) -> Option<OrgKind> {
        match self {
            OrgKind::District => None,
            OrgKind::Township | OrgKind::Department => Some(OrgKind::District),
            OrgKind::Community | OrgKind::Station => Some(OrgKind::Township),
            OrgKind::Grid => Some(OrgKind::Community),
        }
    }

    pub fn subkinds(self) -> &'static [Subkind] {
        match self {
            OrgKind::Township => &[Subkind::Town, Subkind::Township, Subkind::Subdistrict],
            OrgKind::Community => &[Subkind::Village, Subkind::Community],
            _ => &[],
        }
    }
}

/// Town, township or subdistrict for a township; village or community for a community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Subkind {
    Town,
    Township,
    Subdistrict,
    Village,
    Community,
}

impl Subkind {
    pub fn as_str(self) -> &'static str {
        match self {
            Subkind::Town => "town",
            Subkind::Township => "township",
            Subkind::Subdistrict => "subdistrict",
            Subkind::Village => "village",
            Subkind::Community => "community",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Subkind::Town,
            Subkind::Township,
            Subkind::Subdistrict,
            Subkind::Village,
            Subkind::Community,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Subkind::Town => "镇",
            Subkind::Township => "乡",
            Subkind::Subdistrict => "街道",
            Subkind::Village => "村",
            Subkind::Community => "社区",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    Active,
    Retired,
}

/// An organisation as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Org {
    #[schema(value_type = i64)]
    pub id: OrgId,
    pub kind: OrgKind,
    pub subkind: Option<Subkind>,
    pub code: String,
    pub name: String,
    #[schema(value_type = Option<i64>)]
    pub parent_id: Option<OrgId>,
    /// For a station: the department it belongs to.
    #[schema(value_type = Option<i64>)]
    pub department_id: Option<OrgId>,
    #[serde(skip)]
    pub path: String,
    pub status: OrgStatus,
    #[schema(value_type = Option<String>)]
    pub retired_at: Option<Timestamp>,
    pub retired_reason: Option<String>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
}

impl Org {
    pub fn is_active(&self) -> bool {
        self.status == OrgStatus::Active
    }

    /// e.g. 街道 for a subdistrict, 派驻机构 for a station.
    pub fn kind_label(&self) -> &'static str {
        match self.subkind {
            Some(s) => s.label(),
            None => self.kind.label(),
        }
    }

    /// The ids on the path from the top down to this organisation, itself included.
    pub fn lineage(&self) -> Vec<OrgId> {
        self.path
            .split('/')
            .filter_map(|s| s.parse().ok())
            .map(OrgId)
            .collect()
    }

    pub fn is_within(&self, ancestor: &Org) -> bool {
        self.path.starts_with(&ancestor.path)
    }
}

/// A 12-digit statistical division code (统计用区划代码): 2 province + 2 prefecture +
/// 2 district + 3 township + 3 village.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DivisionCode([u8; 12]);

impl DivisionCode {
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let bytes = s.as_bytes();
        if bytes.len() != 12 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(Error::invalid(
                "code",
                "区划代码应为 12 位数字（统计用区划代码）",
            ));
        }
        let mut b = [0u8; 12];
        b.copy_from_slice(bytes);
        let code = DivisionCode(b);
        if code.part(0, 2) == "00" || code.part(2, 4) == "00" {
            return Err(Error::invalid("code", "区划代码的省级、地级部分不能为 00"));
        }
        Ok(code)
    }

    fn part(&self, from: usize, to: usize) -> &str {
        // The bytes are ASCII digits, checked in `parse`.
        std::str::from_utf8(&self.0[from..to]).unwrap_or("")
    }

    pub fn as_str(&self) -> &str {
        self.part(0, 12)
    }

    /// The level the code denotes, judged by which trailing parts are zero.
    pub fn level(&self) -> Option<OrgKind> {
        let (district, township, village) = (self.part(4, 6), self.part(6, 9), self.part(9, 12));
        match (district == "00", township == "000", village == "000") {
            (false, true, true) => Some(OrgKind::District),
            (false, false, true) => Some(OrgKind::Township),
            (false, false, false) => Some(OrgKind::Community),
            _ => None,
        }
    }

    pub fn district_prefix(&self) -> &str {
        self.part(0, 6)
    }

    pub fn township_prefix(&self) -> &str {
        self.part(0, 9)
    }

    /// The subkinds the national convention allows for this township or community code:
    /// township codes 001–099 are subdistricts, 100–199 towns, 200–399 townships; community
    /// codes 001–199 are residents' committees, 200–399 villagers' committees. Other ranges
    /// (development zones, farms) may be any.
    pub fn allowed_subkinds(&self, kind: OrgKind) -> &'static [Subkind] {
        let n = |s: &str| s.parse::<u32>().unwrap_or(0);
        match kind {
            OrgKind::Township => match n(self.part(6, 9)) {
                1..=99 => &[Subkind::Subdistrict],
                100..=199 => &[Subkind::Town],
                200..=399 => &[Subkind::Township],
                _ => kind.subkinds(),
            },
            OrgKind::Community => match n(self.part(9, 12)) {
                1..=199 => &[Subkind::Community],
                200..=399 => &[Subkind::Village],
                _ => kind.subkinds(),
            },
            _ => &[],
        }
    }
}

/// What the caller asks to create, already trimmed.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewOrg {
    pub kind: OrgKind,
    pub subkind: Option<Subkind>,
    pub code: String,
    pub name: String,
    #[schema(value_type = Option<i64>)]
    pub parent_id: Option<OrgId>,
    #[schema(value_type = Option<i64>)]
    pub department_id: Option<OrgId>,
}

pub fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "名称不能为空"));
    }
    if name.chars().count() > 64 {
        return Err(Error::invalid("name", "名称不能超过 64 个字"));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid("name", "名称含有不可见字符"));
    }
    Ok(name.to_owned())
}

fn is_short_code(s: &str) -> bool {
    (2..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Checks that `code` is well formed for an organisation of `kind` under `parent`, and that
/// the subkind fits. Returns the normalised code.
pub fn validate_code(
    kind: OrgKind,
    subkind: Option<Subkind>,
    code: &str,
    parent: Option<&Org>,
) -> Result<String> {
    let code = code.trim();
    if code.is_empty() {
        return Err(Error::invalid("code", "编码不能为空"));
    }
    match kind {
        OrgKind::District | OrgKind::Township | OrgKind::Community => {
            let dc = DivisionCode::parse(code)?;
            if dc.level() != Some(kind) {
                return Err(Error::invalid(
                    "code",
                    format!("{} 不是{}级区划代码", code, kind.label()),
                ));
            }
            if let Some(p) = parent {
                let pc = DivisionCode::parse(&p.code)?;
                let (mine, theirs) = match kind {
                    OrgKind::Township => (dc.district_prefix(), pc.district_prefix()),
                    _ => (dc.township_prefix(), pc.township_prefix()),
                };
                if mine != theirs {
                    return Err(Error::invalid(
                        "code",
                        format!("区划代码 {code} 与上级「{}」（{}）不一致", p.name, p.code),
                    ));
                }
            }
            let allowed = dc.allowed_subkinds(kind);
            match subkind {
                Some(s) if !allowed.contains(&s) => Err(Error::invalid(
                    "subkind",
                    format!("区划代码 {code} 对应的类型应为{}", labels(allowed)),
                )),
                None if !allowed.is_empty() => Err(Error::invalid(
                    "subkind",
                    format!("请选择类型：{}", labels(allowed)),
                )),
                _ => Ok(code.to_owned()),
            }
        }
        OrgKind::Grid => {
            let p =
                parent.ok_or_else(|| Error::invalid("parent_id", "网格必须属于一个村（社区）"))?;
            let ok = code.len() == 15
                && code.bytes().all(|b| b.is_ascii_digit())
                && code.starts_with(&p.code)
                && &code[12..] != "000";
            if !ok {
                return Err(Error::invalid(
                    "code",
                    format!(
                        "网格编码应为所属村（社区）代码 {} 加 3 位顺序号，共 15 位",
                        p.code
                    ),
                ));
            }
            Ok(code.to_owned())
        }
        OrgKind::Department => {
            if !is_short_code(code) {
                return Err(Error::invalid(
                    "code",
                    "部门编码应为 2–20 位字母、数字或连字符",
                ));
            }
            Ok(code.to_owned())
        }
        OrgKind::Station => {
            let p = parent
                .ok_or_else(|| Error::invalid("parent_id", "派驻机构必须属于一个镇（街道）"))?;
            let prefix = format!("{}-", &p.code[..p.code.len().min(9)]);
            match code.strip_prefix(&prefix) {
                Some(rest) if is_short_code(rest) => Ok(code.to_owned()),
                _ => Err(Error::invalid(
                    "code",
                    format!("派驻机构编码应为「{prefix}」加部门编码，例如 {prefix}BM03"),
                )),
            }
        }
    }
}

fn labels(kinds: &[Subkind]) -> String {
    kinds
        .iter()
        .map(|k| k.label())
        .collect::<Vec<_>>()
        .join("或")
}

/// Checks that `parent` may hold an organisation of `kind`.
pub fn validate_parent(kind: OrgKind, parent: Option<&Org>) -> Result<()> {
    match (kind.parent_kind(), parent) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(Error::invalid("parent_id", "区（县）不能有上级组织")),
        (Some(k), None) => Err(Error::invalid(
            "parent_id",
            format!("请选择上级{}", k.label()),
        )),
        (Some(k), Some(p)) if p.kind != k => Err(Error::invalid(
            "parent_id",
            format!(
                "{}的上级应为{}，「{}」是{}",
                kind.label(),
                k.label(),
                p.name,
                p.kind.label()
            ),
        )),
        (Some(_), Some(p)) if !p.is_active() => Err(Error::invalid(
            "parent_id",
            format!("上级组织「{}」已撤销", p.name),
        )),
        _ => Ok(()),
    }
}

/// A station belongs to a department; no other kind names one.
pub fn validate_department(kind: OrgKind, department: Option<&Org>) -> Result<()> {
    match (kind, department) {
        (OrgKind::Station, None) => Err(Error::invalid(
            "department_id",
            "派驻机构须注明所属区直部门",
        )),
        (OrgKind::Station, Some(d)) if d.kind != OrgKind::Department => Err(Error::invalid(
            "department_id",
            format!("「{}」不是区直部门", d.name),
        )),
        (OrgKind::Station, Some(d)) if !d.is_active() => Err(Error::invalid(
            "department_id",
            format!("部门「{}」已撤销", d.name),
        )),
        (OrgKind::Station, Some(_)) => Ok(()),
        (_, Some(_)) => Err(Error::invalid("department_id", "只有派驻机构才有所属部门")),
        (_, None) => Ok(()),
    }
}

/// The code a descendant takes when an ancestor's division code changes on a move: the
/// ancestor's old code is replaced as a prefix (grid and community codes embed their parents').
pub fn recode(child_code: &str, old_prefix: &str, new_prefix: &str) -> Option<String> {
    child_code
        .strip_prefix(old_prefix)
        .map(|rest| format!("{new_prefix}{rest}"))
}

/// The significant prefix of a division code that children embed: 6 digits for a district,
/// 9 for a township, all 12 for a community.
pub fn embedded_prefix(kind: OrgKind, code: &str) -> Option<&str> {
    let n = match kind {
        OrgKind::District => 6,
        OrgKind::Township => 9,
        OrgKind::Community => 12,
        _ => return None,
    };
    code.get(..n)
}

/// Sorts organisations the way people read the tree: the district, its departments, then each
/// township followed by its stations and its communities (each community followed by its grids).
pub fn sort_as_tree(orgs: &mut [Org]) {
    orgs.sort_by(|a, b| tree_key(a).cmp(&tree_key(b)));
}

fn tree_key(o: &Org) -> (u8, &str, u8, &str) {
    let township = o.code.get(..9).unwrap_or(&o.code);
    match o.kind {
        OrgKind::District => (0, &o.code, 0, &o.code),
        OrgKind::Department => (1, &o.code, 0, &o.code),
        OrgKind::Township => (2, township, 0, &o.code),
        OrgKind::Station => (2, township, 1, &o.code),
        OrgKind::Community | OrgKind::Grid => (2, township, 2, &o.code),
    }
}

/// How far to indent an organisation in a flat list shown as a tree.
pub fn depth(kind: OrgKind) -> usize {
    match kind {
        OrgKind::District => 0,
        OrgKind::Township | OrgKind::Department => 1,
        OrgKind::Community | OrgKind::Station => 2,
        OrgKind::Grid => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(kind: OrgKind, code: &str) -> Org {
        Org {
            id: OrgId(1),
            kind,
            subkind: None,
            code: code.into(),
            name: "上级".into(),
            parent_id: None,
            department_id: None,
            path: "/1/".into(),
            status: OrgStatus::Active,
            retired_at: None,
            retired_reason: None,
            created_at: Timestamp::from_micros(0),
            updated_at: Timestamp::from_micros(0),
        }
    }

    #[test]
    fn a_division_code_must_have_twelve_digits() {
        assert!(DivisionCode::parse("51011700600").is_err());
        assert!(DivisionCode::parse("51011700600a").is_err());
        assert!(DivisionCode::parse("510117006000").is_ok());
    }

    #[test]
    fn the_level_follows_the_zero_parts() {
        let l = |s| DivisionCode::parse(s).unwrap().level();
        assert_eq!(l("510117000000"), Some(OrgKind::District));
        assert_eq!(l("510117006000"), Some(OrgKind::Township));
        assert_eq!(l("510117006001"), Some(OrgKind::Community));
        assert_eq!(l("510100000000"), None);
    }

    #[test]
    fn a_township_code_must_share_its_district_prefix() {
        let d = org(OrgKind::District, "510117000000");
        let ok = validate_code(
            OrgKind::Township,
            Some(Subkind::Subdistrict),
            "510117006000",
            Some(&d),
        );
        assert_eq!(ok.unwrap(), "510117006000");
        let bad = validate_code(
            OrgKind::Township,
            Some(Subkind::Subdistrict),
            "510118006000",
            Some(&d),
        );
        assert!(matches!(bad, Err(Error::Invalid { field, .. }) if field == "code"));
    }

    #[test]
    fn the_subkind_must_match_the_code_range() {
        let d = org(OrgKind::District, "510117000000");
        let town_as_street = validate_code(
            OrgKind::Township,
            Some(Subkind::Subdistrict),
            "510117104000",
            Some(&d),
        );
        assert!(matches!(town_as_street, Err(Error::Invalid { field, .. }) if field == "subkind"));
        assert!(
            validate_code(
                OrgKind::Township,
                Some(Subkind::Town),
                "510117104000",
                Some(&d)
            )
            .is_ok()
        );
        let t = org(OrgKind::Township, "510117104000");
        assert!(
            validate_code(
                OrgKind::Community,
                Some(Subkind::Village),
                "510117104201",
                Some(&t)
            )
            .is_ok()
        );
        assert!(
            validate_code(
                OrgKind::Community,
                Some(Subkind::Community),
                "510117104201",
                Some(&t)
            )
            .is_err()
        );
    }

    #[test]
    fn a_grid_code_is_its_community_code_and_a_sequence() {
        let c = org(OrgKind::Community, "510117006001");
        assert!(validate_code(OrgKind::Grid, None, "510117006001003", Some(&c)).is_ok());
        assert!(validate_code(OrgKind::Grid, None, "510117006002003", Some(&c)).is_err());
        assert!(validate_code(OrgKind::Grid, None, "510117006001000", Some(&c)).is_err());
    }

    #[test]
    fn a_station_code_starts_with_its_township() {
        let t = org(OrgKind::Township, "510117006000");
        assert!(validate_code(OrgKind::Station, None, "510117006-BM03", Some(&t)).is_ok());
        assert!(validate_code(OrgKind::Station, None, "510117004-BM03", Some(&t)).is_err());
    }

    #[test]
    fn a_community_cannot_sit_under_a_district() {
        let d = org(OrgKind::District, "510117000000");
        assert!(validate_parent(OrgKind::Community, Some(&d)).is_err());
        assert!(validate_parent(OrgKind::Township, Some(&d)).is_ok());
        assert!(validate_parent(OrgKind::District, None).is_ok());
        assert!(validate_parent(OrgKind::Grid, None).is_err());
    }

    #[test]
    fn nothing_may_be_placed_under_a_retired_parent() {
        let mut d = org(OrgKind::District, "510117000000");
        d.status = OrgStatus::Retired;
        assert!(validate_parent(OrgKind::Township, Some(&d)).is_err());
    }

    #[test]
    fn only_stations_name_a_department() {
        let dept = org(OrgKind::Department, "BM03");
        assert!(validate_department(OrgKind::Station, Some(&dept)).is_ok());
        assert!(validate_department(OrgKind::Station, None).is_err());
        assert!(validate_department(OrgKind::Township, Some(&dept)).is_err());
    }

    #[test]
    fn recoding_replaces_the_embedded_prefix() {
        assert_eq!(
            recode("510117006001003", "510117006001", "510117004009").as_deref(),
            Some("510117004009003")
        );
        assert_eq!(
            embedded_prefix(OrgKind::Township, "510117006000"),
            Some("510117006")
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("  犀浦街道 ").unwrap(), "犀浦街道");
        assert!(validate_name("  ").is_err());
        assert!(validate_name(&"字".repeat(65)).is_err());
    }
}
