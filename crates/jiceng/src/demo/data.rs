//! The demo district's organisations and accounts, as plain data.
//!
//! The demo district is 郫都区 (510117, 成都市, 四川省) with its real 12 townships and streets and
//! 157 villages and communities (统计用区划代码 2023, copied into `data/*.csv` and embedded at
//! compile time, so the binary never reads the shared data folder). Grids, district departments,
//! stationed agencies and the accounts are fictional but deterministic: the same build always
//! yields the same district.
//!
//! `orgs` is ordered so that every parent (and every department a station belongs to) comes
//! before the orgs that refer to it, so it can be inserted front to back.

/// Townships and streets of 郫都区: `code,"name",areaCode,provinceCode,cityCode`.
const TOWNSHIPS_CSV: &str = include_str!("data/townships.csv");
/// Villages and communities of 郫都区: `code,"name",streetCode,provinceCode,cityCode,areaCode`.
const COMMUNITIES_CSV: &str = include_str!("data/communities.csv");

/// The demo district's 12-digit code.
const DISTRICT_CODE: &str = "510117000000";
/// The demo district's name.
const DISTRICT_NAME: &str = "郫都区";
/// The township every township-level demo account belongs to (犀浦街道).
const DEMO_TOWNSHIP_CODE: &str = "510117006000";

/// The one password of every demo account. It satisfies the password policy: at least 10
/// characters, with lowercase, uppercase, digits and a symbol.
pub const DEMO_PASSWORD: &str = "Jiceng@2026demo";

/// What kind of organisation a [`DemoOrg`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoKind {
    /// 区
    District,
    /// 街道
    Subdistrict,
    /// 镇
    Town,
    /// 乡
    Township,
    /// 村 (村民委员会)
    Village,
    /// 社区 (居民委员会)
    Community,
    /// 网格
    Grid,
    /// 区直部门
    Department,
    /// 派驻机构
    Station,
}

/// One organisation of the demo district.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOrg {
    /// Division code (12 digits), grid code (15 digits), department code (`BM01`…) or station
    /// code (`{township 9 digits}-{department code}`).
    pub code: String,
    pub name: String,
    pub kind: DemoKind,
    /// `None` only for the district.
    pub parent_code: Option<String>,
    /// For stations: the department that stations them. `None` otherwise.
    pub department_code: Option<String>,
}

/// One demo account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUser {
    pub username: String,
    pub display_name: String,
    pub org_code: String,
    pub role: &'static str,
    /// Always [`DEMO_PASSWORD`].
    pub password: String,
}

/// The whole demo district.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoDistrict {
    pub orgs: Vec<DemoOrg>,
    pub users: Vec<DemoUser>,
}

/// 区直部门: code, name, and, when the department keeps a station in every township, the suffix
/// of that station's name (after the township's short name). BM01 and BM02 review admissions;
/// BM02–BM06 keep stations.
const DEPARTMENTS: [(&str, &str, Option<&str>); 15] = [
    ("BM01", "区委编办", None),
    ("BM02", "区司法局", Some("司法所")),
    ("BM03", "区市场监督管理局", Some("市场监管所")),
    ("BM04", "区综合行政执法局", Some("综合行政执法中队")),
    ("BM05", "区规划和自然资源局", Some("自然资源所")),
    ("BM06", "区公安分局", Some("派出所")),
    ("BM07", "区生态环境局", None),
    ("BM08", "区住房和城乡建设局", None),
    ("BM09", "区交通运输局", None),
    ("BM10", "区农业农村局", None),
    ("BM11", "区卫生健康局", None),
    ("BM12", "区民政局", None),
    ("BM13", "区人力资源和社会保障局", None),
    ("BM14", "区应急管理局", None),
    ("BM15", "区行政审批局", None),
];

/// Where a demo account belongs.
enum Place {
    District,
    /// This department.
    Dept(&'static str),
    /// The station of this department in 犀浦街道.
    XipuStation(&'static str),
    /// 犀浦街道 itself.
    Xipu,
    /// The first grid of the first community of 犀浦街道.
    XipuGrid,
}

/// One account per role: username, display name (fictional), role, place.
#[rustfmt::skip]
const ACCOUNTS: [(&str, &str, &str, Place); 13] = [
    ("sysadmin", "周立新", "system_admin", Place::District),
    ("secadmin", "陈思远", "security_admin", Place::District),
    ("auditadmin", "刘慧敏", "audit_admin", Place::District),
    ("bianban", "张文博", "establishment_office", Place::Dept("BM01")),
    ("sifaju", "李静怡", "justice_bureau", Place::Dept("BM02")),
    ("scjg", "赵国栋", "department_officer", Place::Dept("BM03")),
    ("suozhang", "杨晓峰", "station_head", Place::XipuStation("BM03")),
    ("xipu_leader", "何志强", "township_leader", Place::Xipu),
    ("xipu_officer", "吴雨桐", "township_officer", Place::Xipu),
    ("xipu_dispatch", "郑凯", "dispatcher", Place::Xipu),
    ("xipu_window", "黄欣然", "window_clerk", Place::Xipu),
    ("xipu_approver", "罗明辉", "approver", Place::Xipu),
    ("wanggeyuan", "邓春梅", "grid_worker", Place::XipuGrid),
];

/// Builds the demo district from the embedded data.
///
/// Panics only if the embedded CSV files are malformed, which the tests rule out.
pub fn demo_district() -> DemoDistrict {
    let district = DISTRICT_CODE.to_owned();
    let mut orgs = vec![DemoOrg {
        code: district.clone(),
        name: DISTRICT_NAME.to_owned(),
        kind: DemoKind::District,
        parent_code: None,
        department_code: None,
    }];

    for (code, name, _) in DEPARTMENTS {
        orgs.push(DemoOrg {
            code: code.to_owned(),
            name: name.to_owned(),
            kind: DemoKind::Department,
            parent_code: Some(district.clone()),
            department_code: None,
        });
    }

    let townships: Vec<(String, String)> = csv_rows(TOWNSHIPS_CSV, "townships.csv")
        .map(|(code, name, _)| (code.to_owned(), name.to_owned()))
        .collect();
    for (code9, name) in &townships {
        orgs.push(DemoOrg {
            code: format!("{code9}000"),
            name: name.clone(),
            kind: township_kind(code9),
            parent_code: Some(district.clone()),
            department_code: None,
        });
    }

    for (code9, name) in &townships {
        let short = township_short_name(name);
        for (department, _, suffix) in DEPARTMENTS {
            if let Some(suffix) = suffix {
                orgs.push(DemoOrg {
                    code: station_code(code9, department),
                    name: format!("{short}{suffix}"),
                    kind: DemoKind::Station,
                    parent_code: Some(format!("{code9}000")),
                    department_code: Some(department.to_owned()),
                });
            }
        }
    }

    let mut grids = Vec::new();
    for (code, raw_name, street_code) in csv_rows(COMMUNITIES_CSV, "communities.csv") {
        assert!(
            code.len() == 12 && code.starts_with(street_code),
            "embedded communities.csv: {code} does not belong to township {street_code}"
        );
        let name = community_name(raw_name);
        for seq in 1..=grid_count(code) {
            grids.push(DemoOrg {
                code: format!("{code}{seq:03}"),
                name: format!("{name}第{}网格", chinese_numeral(seq)),
                kind: DemoKind::Grid,
                parent_code: Some(code.to_owned()),
                department_code: None,
            });
        }
        orgs.push(DemoOrg {
            code: code.to_owned(),
            name,
            kind: community_kind(code),
            parent_code: Some(format!("{street_code}000")),
            department_code: None,
        });
    }
    orgs.append(&mut grids);

    let demo_township9 = &DEMO_TOWNSHIP_CODE[..9];
    let demo_grid = orgs
        .iter()
        .find(|org| org.kind == DemoKind::Grid && org.code.starts_with(demo_township9))
        .map(|org| org.code.clone())
        .expect("embedded communities.csv has a community in 犀浦街道");

    let users = ACCOUNTS
        .into_iter()
        .map(|(username, display_name, role, place)| DemoUser {
            username: username.to_owned(),
            display_name: display_name.to_owned(),
            org_code: match place {
                Place::District => district.clone(),
                Place::Dept(code) => code.to_owned(),
                Place::XipuStation(department) => station_code(demo_township9, department),
                Place::Xipu => DEMO_TOWNSHIP_CODE.to_owned(),
                Place::XipuGrid => demo_grid.clone(),
            },
            role,
            password: DEMO_PASSWORD.to_owned(),
        })
        .collect();

    DemoDistrict { orgs, users }
}

/// Parses the embedded CSV: skips the header and blank lines, yields the first three fields
/// (code, unquoted name, third column). Fields never contain commas.
fn csv_rows<'a>(
    text: &'a str,
    file: &'static str,
) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> + 'a {
    text.lines()
        .skip(1)
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(move |line| {
            let mut fields = line.split(',');
            let mut next = || {
                fields
                    .next()
                    .unwrap_or_else(|| panic!("embedded {file}: short row {line:?}"))
            };
            let code = next();
            let name = next();
            let third = next();
            let name = name
                .strip_prefix('"')
                .and_then(|n| n.strip_suffix('"'))
                .unwrap_or(name);
            assert!(
                code.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty(),
                "embedded {file}: bad row {line:?}"
            );
            (code, name, third)
        })
}

/// The digits of `code` in `range` (e.g. the 3 after the district), as a number.
fn digits(code: &str, range: std::ops::Range<usize>) -> u32 {
    code.get(range)
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("embedded division code {code:?} is malformed"))
}

/// 001–099 street, 100–199 town, 200–399 township.
fn township_kind(code9: &str) -> DemoKind {
    match digits(code9, 6..9) {
        1..=99 => DemoKind::Subdistrict,
        100..=199 => DemoKind::Town,
        200..=399 => DemoKind::Township,
        _ => panic!("embedded townships.csv: {code9} is not a street, town or township"),
    }
}

/// 001–199 residents' committee (社区), 200–399 villagers' committee (村). Codes of 400 and
/// above (郫都区 has two: 社区工作站 in 西园街道) are urban units and count as communities.
fn community_kind(code12: &str) -> DemoKind {
    match digits(code12, 9..12) {
        200..=399 => DemoKind::Village,
        _ => DemoKind::Community,
    }
}

/// 犀浦街道 → 犀浦, 三道堰镇 → 三道堰.
fn township_short_name(name: &str) -> &str {
    ["街道", "镇", "乡"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .filter(|short| !short.is_empty())
        .unwrap_or(name)
}

/// 菠萝社区居委会 → 菠萝社区, 安龙村村民委员会 → 安龙村, 天瑞社区工作站社区 → 天瑞社区.
fn community_name(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("社区工作站社区") {
        return format!("{stem}社区");
    }
    ["居民委员会", "村民委员会", "居委会", "村委会"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .filter(|stem| !stem.is_empty())
        .unwrap_or(name)
        .to_owned()
}

fn station_code(township9: &str, department: &str) -> String {
    format!("{township9}-{department}")
}

/// 2–5 grids per community, fixed by an FNV-1a hash of its code (stable across builds and
/// platforms, unlike `std`'s `DefaultHasher`).
fn grid_count(code: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in code.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // The remainder is below 4, so the cast cannot truncate.
    2 + (hash % 4) as u32
}

/// 1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 35 → 三十五 (1–99).
fn chinese_numeral(n: u32) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    let (tens, ones) = (n / 10 % 10, n % 10);
    let mut out = String::new();
    if tens > 1 {
        out.push_str(DIGITS[tens as usize]);
    }
    if tens > 0 {
        out.push('十');
    }
    if ones > 0 || tens == 0 {
        out.push_str(DIGITS[ones as usize]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    const ROLES: [&str; 13] = [
        "system_admin",
        "security_admin",
        "audit_admin",
        "establishment_office",
        "justice_bureau",
        "department_officer",
        "station_head",
        "township_leader",
        "township_officer",
        "dispatcher",
        "window_clerk",
        "approver",
        "grid_worker",
    ];

    fn of_kind(district: &DemoDistrict, kinds: &[DemoKind]) -> Vec<DemoOrg> {
        district
            .orgs
            .iter()
            .filter(|org| kinds.contains(&org.kind))
            .cloned()
            .collect()
    }

    fn org<'a>(district: &'a DemoDistrict, code: &str) -> &'a DemoOrg {
        district
            .orgs
            .iter()
            .find(|org| org.code == code)
            .unwrap_or_else(|| panic!("no org {code}"))
    }

    #[test]
    fn is_deterministic() {
        assert_eq!(demo_district(), demo_district());
    }

    #[test]
    fn district_is_pidu() {
        let district = demo_district();
        let first = &district.orgs[0];
        assert_eq!(first.code, "510117000000");
        assert_eq!(first.name, "郫都区");
        assert_eq!(first.kind, DemoKind::District);
        assert_eq!(first.parent_code, None);
        assert_eq!(of_kind(&district, &[DemoKind::District]).len(), 1);
    }

    #[test]
    fn has_the_twelve_real_townships() {
        let district = demo_district();
        let townships = of_kind(
            &district,
            &[DemoKind::Subdistrict, DemoKind::Town, DemoKind::Township],
        );
        assert_eq!(townships.len(), 12);
        assert_eq!(of_kind(&district, &[DemoKind::Subdistrict]).len(), 9);
        assert_eq!(of_kind(&district, &[DemoKind::Town]).len(), 3);
        for township in &townships {
            assert_eq!(township.code.len(), 12);
            assert!(township.code.starts_with("510117") && township.code.ends_with("000"));
            assert_eq!(township.parent_code.as_deref(), Some("510117000000"));
        }
        let xipu = org(&district, "510117006000");
        assert_eq!(
            (xipu.name.as_str(), xipu.kind),
            ("犀浦街道", DemoKind::Subdistrict)
        );
        let sandaoyan = org(&district, "510117106000");
        assert_eq!(
            (sandaoyan.name.as_str(), sandaoyan.kind),
            ("三道堰镇", DemoKind::Town)
        );
    }

    #[test]
    fn has_the_157_real_communities_under_their_townships() {
        let district = demo_district();
        let communities = of_kind(&district, &[DemoKind::Village, DemoKind::Community]);
        assert_eq!(communities.len(), 157);
        for community in &communities {
            assert_eq!(community.code.len(), 12);
            let parent = community
                .parent_code
                .as_deref()
                .expect("community has a parent");
            assert_eq!(parent.len(), 12);
            assert!(community.code.starts_with(&parent[..9]), "{community:?}");
            assert!(
                matches!(
                    org(&district, parent).kind,
                    DemoKind::Subdistrict | DemoKind::Town | DemoKind::Township
                ),
                "{community:?}"
            );
            for suffix in ["委员会", "居委会", "村委会", "工作站"] {
                assert!(!community.name.contains(suffix), "{community:?}");
            }
            let expected = if community.kind == DemoKind::Village {
                "村"
            } else {
                "社区"
            };
            assert!(community.name.ends_with(expected), "{community:?}");
        }
        assert_eq!(org(&district, "510117001012").name, "菠萝社区");
        assert_eq!(org(&district, "510117001210").name, "景岗村");
        assert_eq!(org(&district, "510117004200").name, "安龙村");
        assert_eq!(org(&district, "510117001005").name, "奎星楼社区");
        assert_eq!(org(&district, "510117020400").name, "天瑞社区");
        assert_eq!(org(&district, "510117006201").kind, DemoKind::Village);
        assert_eq!(org(&district, "510117006001").kind, DemoKind::Community);
    }

    #[test]
    fn every_community_has_two_to_five_numbered_grids() {
        let district = demo_district();
        let mut per_community: HashMap<&str, Vec<&DemoOrg>> = HashMap::new();
        for grid in district.orgs.iter().filter(|o| o.kind == DemoKind::Grid) {
            let parent = grid.parent_code.as_deref().expect("grid has a parent");
            assert_eq!(grid.code.len(), 15);
            assert!(grid.code.starts_with(parent), "{grid:?}");
            per_community.entry(parent).or_default().push(grid);
        }
        let communities = of_kind(&district, &[DemoKind::Village, DemoKind::Community]);
        assert_eq!(per_community.len(), communities.len());
        let mut sizes = HashSet::new();
        for community in &communities {
            let grids = &per_community[community.code.as_str()];
            assert!((2..=5).contains(&grids.len()), "{community:?}");
            sizes.insert(grids.len());
            for (i, grid) in grids.iter().enumerate() {
                let seq = u32::try_from(i + 1).expect("small");
                assert_eq!(grid.code, format!("{}{seq:03}", community.code));
                assert_eq!(
                    grid.name,
                    format!("{}第{}网格", community.name, chinese_numeral(seq))
                );
            }
        }
        assert_eq!(sizes.len(), 4, "all of 2, 3, 4 and 5 occur");
        assert_eq!(org(&district, "510117006001001").name, "玉龙社区第一网格");
        assert_eq!(org(&district, "510117006001002").name, "玉龙社区第二网格");
    }

    #[test]
    fn departments_and_stations() {
        let district = demo_district();
        let departments = of_kind(&district, &[DemoKind::Department]);
        assert_eq!(departments.len(), 15);
        for (i, department) in departments.iter().enumerate() {
            assert_eq!(department.code, format!("BM{:02}", i + 1));
            assert_eq!(department.parent_code.as_deref(), Some("510117000000"));
            assert!(department.name.starts_with('区'));
        }
        assert_eq!(org(&district, "BM01").name, "区委编办");
        assert_eq!(org(&district, "BM02").name, "区司法局");

        let stations = of_kind(&district, &[DemoKind::Station]);
        assert_eq!(stations.len(), 12 * 5);
        for station in &stations {
            let parent = station
                .parent_code
                .as_deref()
                .expect("station has a parent");
            let department = station
                .department_code
                .as_deref()
                .expect("station has a department");
            assert_eq!(station.code, format!("{}-{department}", &parent[..9]));
            assert_eq!(org(&district, department).kind, DemoKind::Department);
        }
        let xipu: Vec<&str> = stations
            .iter()
            .filter(|s| s.parent_code.as_deref() == Some("510117006000"))
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            xipu,
            [
                "犀浦司法所",
                "犀浦市场监管所",
                "犀浦综合行政执法中队",
                "犀浦自然资源所",
                "犀浦派出所"
            ]
        );
        assert_eq!(org(&district, "510117006-BM03").name, "犀浦市场监管所");
        assert_eq!(org(&district, "510117106-BM06").name, "三道堰派出所");
        for org in &district.orgs {
            assert_eq!(org.department_code.is_some(), org.kind == DemoKind::Station);
        }
    }

    #[test]
    fn codes_are_unique_and_parents_come_first() {
        let district = demo_district();
        let mut seen = HashSet::new();
        for org in &district.orgs {
            if let Some(parent) = &org.parent_code {
                assert!(
                    seen.contains(parent.as_str()),
                    "parent after child: {org:?}"
                );
            }
            if let Some(department) = &org.department_code {
                assert!(
                    seen.contains(department.as_str()),
                    "department after station: {org:?}"
                );
            }
            assert!(seen.insert(org.code.as_str()), "duplicate code: {org:?}");
            assert!(!org.name.is_empty());
        }
        assert_eq!(
            district
                .orgs
                .iter()
                .filter(|o| o.parent_code.is_none())
                .count(),
            1
        );
    }

    #[test]
    fn one_account_per_role_in_the_right_place() {
        let district = demo_district();
        assert_eq!(district.users.len(), ROLES.len());
        for role in ROLES {
            assert_eq!(
                district.users.iter().filter(|u| u.role == role).count(),
                1,
                "role {role}"
            );
        }
        let mut usernames = HashSet::new();
        let mut people = HashSet::new();
        for user in &district.users {
            assert!(ROLES.contains(&user.role), "{user:?}");
            assert!((3..=32).contains(&user.username.len()), "{user:?}");
            assert!(
                user.username
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b)),
                "{user:?}"
            );
            assert!(usernames.insert(user.username.as_str()), "{user:?}");
            assert!(people.insert(user.display_name.as_str()), "{user:?}");
            assert_eq!(user.password, DEMO_PASSWORD);
            org(&district, &user.org_code);
        }
        let place = |role: &str| {
            let user = district
                .users
                .iter()
                .find(|u| u.role == role)
                .expect("role");
            (
                user.org_code.as_str(),
                org(&district, &user.org_code).name.as_str(),
            )
        };
        for role in ["system_admin", "security_admin", "audit_admin"] {
            assert_eq!(place(role), ("510117000000", "郫都区"));
        }
        assert_eq!(place("establishment_office"), ("BM01", "区委编办"));
        assert_eq!(place("justice_bureau"), ("BM02", "区司法局"));
        assert_eq!(place("department_officer"), ("BM03", "区市场监督管理局"));
        assert_eq!(place("station_head"), ("510117006-BM03", "犀浦市场监管所"));
        for role in [
            "township_leader",
            "township_officer",
            "dispatcher",
            "window_clerk",
            "approver",
        ] {
            assert_eq!(place(role), ("510117006000", "犀浦街道"));
        }
        assert_eq!(
            place("grid_worker"),
            ("510117006001001", "玉龙社区第一网格")
        );
    }

    #[test]
    fn password_satisfies_the_policy() {
        let p = DEMO_PASSWORD;
        assert!(p.chars().count() >= 10);
        let classes = [
            p.chars().any(|c| c.is_ascii_lowercase()),
            p.chars().any(|c| c.is_ascii_uppercase()),
            p.chars().any(|c| c.is_ascii_digit()),
            p.chars().any(|c| !c.is_alphanumeric()),
        ];
        assert!(classes.iter().filter(|c| **c).count() >= 3);
    }

    #[test]
    fn chinese_numerals() {
        let got: Vec<String> = [1, 2, 5, 9, 10, 11, 20, 21, 99].map(chinese_numeral).into();
        assert_eq!(
            got,
            [
                "一",
                "二",
                "五",
                "九",
                "十",
                "十一",
                "二十",
                "二十一",
                "九十九"
            ]
        );
    }

    #[test]
    fn embedded_files_hold_only_pidu() {
        assert_eq!(csv_rows(TOWNSHIPS_CSV, "townships.csv").count(), 12);
        assert_eq!(csv_rows(COMMUNITIES_CSV, "communities.csv").count(), 157);
        for (code, _, area) in csv_rows(TOWNSHIPS_CSV, "townships.csv") {
            assert_eq!((code.len(), area), (9, "510117"));
        }
        for (code, _, street) in csv_rows(COMMUNITIES_CSV, "communities.csv") {
            assert!(code.len() == 12 && code.starts_with(street) && street.starts_with("510117"));
        }
    }
}
