//! Duty items (清单事项) and the rules they obey, as plain types and functions.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

macro_rules! labelled_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $id:literal, $label:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        $(#[$m])*
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $id),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// Reads the Chinese label as written in a spreadsheet.
            pub fn from_label(s: &str) -> Option<$name> {
                let s = s.trim();
                Self::ALL.iter().copied().find(|v| v.label() == s || v.as_str() == s)
            }
        }
    };
}

labelled_enum!(
    /// The three lists of the reform accounts (三张清单).
    ListKind {
        Duties => "duties", "职责任务",
        Services => "services", "公共服务",
        Territorial => "territorial", "属地管理",
    }
);

labelled_enum!(
    /// The national duty-item scheme (乡镇（街道）履行职责事项清单).
    NationalClass {
        Basic => "basic", "基本履职",
        Cooperative => "cooperative", "配合履职",
        Returned => "returned", "上级部门收回",
    }
);

labelled_enum!(
    #[schema(as = ItemCategory)]
    Category {
        Licensing => "licensing", "行政许可",
        Penalty => "penalty", "行政处罚",
        Coercion => "coercion", "行政强制",
        Levy => "levy", "行政征收",
        Inspection => "inspection", "行政检查",
        Confirmation => "confirmation", "行政确认",
        Benefit => "benefit", "行政给付",
        Reward => "reward", "行政奖励",
        Adjudication => "adjudication", "行政裁决",
        OtherPower => "other_power", "其他行政权力",
        PublicService => "public_service", "公共服务",
        PartyBuilding => "party_building", "党的建设",
        OtherDuty => "other_duty", "其他职责",
    }
);

impl Category {
    /// Administrative powers carry their responsibilities on the same list (两单合一) and
    /// must cite a legal basis.
    pub fn is_power(self) -> bool {
        !matches!(
            self,
            Category::PublicService | Category::PartyBuilding | Category::OtherDuty
        )
    }
}

labelled_enum!(
    /// Where a township's power over an item comes from. Named apart from a case's source in
    /// the API document.
    #[schema(as = ItemSource)]
    Source {
        Statutory => "statutory", "法律法规规章授权",
        Entrusted => "entrusted", "上级委托",
        Delegated => "delegated", "区级下放",
        Other => "other", "其他",
    }
);

// Which scheme a district's township lists are shown in.
labelled_enum!(
    Scheme {
        ThreeLists => "three_lists", "三张清单",
        National => "national", "履行职责事项清单",
    }
);

/// Everything an item says, as entered or imported. Text fields are trimmed; empty optional
/// fields are empty strings (spreadsheets have no null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemFields {
    pub code: String,
    pub name: String,
    pub list_kind: ListKind,
    pub national_class: NationalClass,
    pub category: Category,
    pub source: Source,
    /// One or more laws with article numbers, e.g. 《中华人民共和国行政处罚法》第二十四条.
    pub legal_basis: Vec<String>,
    pub content: String,
    /// 两单合一: the responsibilities a power carries.
    pub resp_accept: String,
    pub resp_review: String,
    pub resp_decide: String,
    pub resp_deliver: String,
    pub resp_supervise: String,
    pub resp_other: String,
    pub accountability: String,
    /// The township office that leads.
    pub lead_office: String,
    pub cooperating: Vec<String>,
    pub responsible_person: String,
    pub phone: String,
    /// 属地责任 / 次责: what the township does (territorial and cooperative duties).
    pub township_duty: String,
    /// The district department with 主管责任 / 主责.
    pub lead_department: String,
    pub department_duty: String,
    /// For returned duties: the department that took it back (tasks route there).
    pub returned_to: String,
    /// The document that put the item on a township's list: a handover (交接书) for a
    /// delegated power, an admission reference (准入文号) for admitted work. Lists written
    /// before this field existed read as empty.
    #[serde(default)]
    pub reference: String,
}

/// The columns of the import template and exports, in order, with their Chinese headers.
pub const COLUMNS: &[&str] = &[
    "编码",
    "事项名称",
    "清单",
    "全国清单分类",
    "事项类别",
    "来源",
    "法律依据",
    "事项内容",
    "受理责任",
    "审查责任",
    "决定责任",
    "送达责任",
    "事后监管责任",
    "其他责任",
    "追责情形",
    "牵头科室",
    "配合部门",
    "责任人",
    "咨询电话",
    "乡镇职责",
    "主管部门",
    "部门职责",
    "收回部门",
    "依据文号",
];

/// Columns an import may leave out: files made from the template before they existed.
pub const OPTIONAL_COLUMNS: &[&str] = &["依据文号"];

/// Splits a multi-valued cell: legal bases by `；`/`;`, departments by `、`/`,`/`，`.
pub fn split_list(s: &str, seps: &[char]) -> Vec<String> {
    s.split(|c| seps.contains(&c))
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

pub const BASIS_SEPS: &[char] = &['；', ';', '\n'];
pub const NAME_SEPS: &[char] = &['、', ',', '，', '\n'];

/// A landline or mobile number as people write them: 028-87921234, 02887921234, 13800138000,
/// 12345. Digits and at most two hyphens.
pub fn valid_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let hyphens = s.chars().filter(|c| *c == '-').count();
    s.chars().all(|c| c.is_ascii_digit() || c == '-')
        && hyphens <= 2
        && !s.starts_with('-')
        && !s.ends_with('-')
        && (digits == 5 || (7..=12).contains(&digits))
}

fn valid_code(s: &str) -> bool {
    (1..=40).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// A legal basis must name the instrument in 《》; the article may follow.
fn valid_basis(s: &str) -> bool {
    s.contains('《') && s.contains('》')
}

/// Checks one item; returns every problem found (an import reports them all).
pub fn validate(f: &ItemFields) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let mut err = |field: &str, msg: String| errs.push((field.to_owned(), msg));
    if !valid_code(&f.code) {
        err(
            "code",
            "编码为 1–40 位字母、数字、连字符、下划线或点".to_owned(),
        );
    }
    if f.name.trim().is_empty() {
        err("name", "事项名称不能为空".to_owned());
    } else if f.name.chars().count() > 200 {
        err("name", "事项名称不能超过 200 个字".to_owned());
    }
    if f.category.is_power() && f.legal_basis.is_empty() {
        err(
            "legal_basis",
            format!("「{}」类事项须填写法律依据", f.category.label()),
        );
    }
    if let Some(b) = f.legal_basis.iter().find(|b| !valid_basis(b)) {
        err(
            "legal_basis",
            format!(
                "法律依据「{b}」应写明法律法规名称（用《》），如《中华人民共和国行政处罚法》第二十四条"
            ),
        );
    }
    if !f.phone.is_empty() && !valid_phone(&f.phone) {
        err(
            "phone",
            format!(
                "咨询电话「{}」格式不正确，应如 028-87921234 或 13800138000",
                f.phone
            ),
        );
    }
    if f.national_class == NationalClass::Returned && f.returned_to.trim().is_empty() {
        err("returned_to", "上级部门收回的事项须写明收回部门".to_owned());
    }
    if f.national_class != NationalClass::Returned && !f.returned_to.trim().is_empty() {
        err(
            "returned_to",
            "只有上级部门收回的事项才填写收回部门".to_owned(),
        );
    }
    if f.national_class == NationalClass::Cooperative && f.lead_department.trim().is_empty() {
        err(
            "lead_department",
            "配合履职事项须写明牵头（主管）部门".to_owned(),
        );
    }
    let long = [
        ("content", &f.content),
        ("accountability", &f.accountability),
        ("township_duty", &f.township_duty),
        ("department_duty", &f.department_duty),
    ];
    for (field, v) in long {
        if v.chars().count() > 4000 {
            err(field, "内容过长（不超过 4000 字）".to_owned());
        }
    }
    errs
}

/// The fields that differ between two versions of an item, by Chinese column name.
pub fn changed_fields(a: &ItemFields, b: &ItemFields) -> Vec<&'static str> {
    let pairs: [(&'static str, bool); 24] = [
        ("编码", a.code != b.code),
        ("事项名称", a.name != b.name),
        ("清单", a.list_kind != b.list_kind),
        ("全国清单分类", a.national_class != b.national_class),
        ("事项类别", a.category != b.category),
        ("来源", a.source != b.source),
        ("法律依据", a.legal_basis != b.legal_basis),
        ("事项内容", a.content != b.content),
        ("受理责任", a.resp_accept != b.resp_accept),
        ("审查责任", a.resp_review != b.resp_review),
        ("决定责任", a.resp_decide != b.resp_decide),
        ("送达责任", a.resp_deliver != b.resp_deliver),
        ("事后监管责任", a.resp_supervise != b.resp_supervise),
        ("其他责任", a.resp_other != b.resp_other),
        ("追责情形", a.accountability != b.accountability),
        ("牵头科室", a.lead_office != b.lead_office),
        ("配合部门", a.cooperating != b.cooperating),
        ("责任人", a.responsible_person != b.responsible_person),
        ("咨询电话", a.phone != b.phone),
        ("乡镇职责", a.township_duty != b.township_duty),
        ("主管部门", a.lead_department != b.lead_department),
        ("部门职责", a.department_duty != b.department_duty),
        ("收回部门", a.returned_to != b.returned_to),
        ("依据文号", a.reference != b.reference),
    ];
    pairs
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(n, _)| n)
        .collect()
}

/// Turns one spreadsheet row (cells in [`COLUMNS`] order) into an item, or the reasons it
/// cannot be one.
pub fn from_row(cells: &[String]) -> std::result::Result<ItemFields, Vec<String>> {
    let cell = |i: usize| {
        cells
            .get(i)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    let mut errs = Vec::new();
    let list_kind = ListKind::from_label(&cell(2));
    if list_kind.is_none() {
        errs.push(format!(
            "清单「{}」应为职责任务、公共服务或属地管理",
            cell(2)
        ));
    }
    let national_class = NationalClass::from_label(&cell(3));
    if national_class.is_none() {
        errs.push(format!(
            "全国清单分类「{}」应为基本履职、配合履职或上级部门收回",
            cell(3)
        ));
    }
    let category = Category::from_label(&cell(4));
    if category.is_none() {
        errs.push(format!("事项类别「{}」不是规定的类别", cell(4)));
    }
    let source = Source::from_label(&cell(5));
    if source.is_none() {
        errs.push(format!(
            "来源「{}」应为法律法规规章授权、上级委托、区级下放或其他",
            cell(5)
        ));
    }
    let (Some(list_kind), Some(national_class), Some(category), Some(source)) =
        (list_kind, national_class, category, source)
    else {
        return Err(errs);
    };
    let item = ItemFields {
        code: cell(0),
        name: cell(1),
        list_kind,
        national_class,
        category,
        source,
        legal_basis: split_list(&cell(6), BASIS_SEPS),
        content: cell(7),
        resp_accept: cell(8),
        resp_review: cell(9),
        resp_decide: cell(10),
        resp_deliver: cell(11),
        resp_supervise: cell(12),
        resp_other: cell(13),
        accountability: cell(14),
        lead_office: cell(15),
        cooperating: split_list(&cell(16), NAME_SEPS),
        responsible_person: cell(17),
        phone: cell(18),
        township_duty: cell(19),
        lead_department: cell(20),
        department_duty: cell(21),
        returned_to: cell(22),
        reference: cell(23),
    };
    let problems = validate(&item);
    if problems.is_empty() {
        Ok(item)
    } else {
        Err(problems.into_iter().map(|(_, m)| m).collect())
    }
}

/// The cells of an item in [`COLUMNS`] order, for exports.
pub fn to_row(f: &ItemFields) -> Vec<String> {
    vec![
        f.code.clone(),
        f.name.clone(),
        f.list_kind.label().to_owned(),
        f.national_class.label().to_owned(),
        f.category.label().to_owned(),
        f.source.label().to_owned(),
        f.legal_basis.join("；"),
        f.content.clone(),
        f.resp_accept.clone(),
        f.resp_review.clone(),
        f.resp_decide.clone(),
        f.resp_deliver.clone(),
        f.resp_supervise.clone(),
        f.resp_other.clone(),
        f.accountability.clone(),
        f.lead_office.clone(),
        f.cooperating.join("、"),
        f.responsible_person.clone(),
        f.phone.clone(),
        f.township_duty.clone(),
        f.lead_department.clone(),
        f.department_duty.clone(),
        f.returned_to.clone(),
        f.reference.clone(),
    ]
}

pub fn invalid(errors: Vec<(String, String)>) -> Result<()> {
    match errors.into_iter().next() {
        None => Ok(()),
        Some((field, message)) => Err(Error::Invalid { field, message }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(overrides: &[(usize, &str)]) -> Vec<String> {
        let mut cells: Vec<String> = vec![
            "ZR-100",
            "对占用城市道路从事经营活动的行政处罚",
            "职责任务",
            "基本履职",
            "行政处罚",
            "区级下放",
            "《城市市容和环境卫生管理条例》第三十六条",
            "依法查处",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "综合行政执法办公室",
            "区市场监督管理局、区公安分局",
            "分管副主任",
            "028-87921234",
            "",
            "",
            "",
            "",
            "",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        for (i, v) in overrides {
            cells[*i] = (*v).to_owned();
        }
        cells
    }

    #[test]
    fn a_good_row_becomes_an_item() {
        let item = from_row(&row(&[])).unwrap();
        assert_eq!(item.category, Category::Penalty);
        assert_eq!(item.cooperating, vec!["区市场监督管理局", "区公安分局"]);
        assert_eq!(to_row(&item), row(&[]));
    }

    #[test]
    fn a_power_without_legal_basis_is_refused() {
        let errs = from_row(&row(&[(6, "")])).unwrap_err();
        assert!(errs[0].contains("法律依据"), "{errs:?}");
    }

    #[test]
    fn unknown_category_empty_name_and_bad_phone_are_each_reported() {
        assert!(from_row(&row(&[(4, "行政罚款")])).unwrap_err()[0].contains("事项类别"));
        assert!(from_row(&row(&[(1, " ")])).unwrap_err()[0].contains("名称"));
        assert!(from_row(&row(&[(18, "8792-12a")])).unwrap_err()[0].contains("电话"));
    }

    #[test]
    fn a_returned_duty_names_its_department() {
        let errs = from_row(&row(&[(3, "上级部门收回")])).unwrap_err();
        assert!(errs[0].contains("收回部门"));
        assert!(from_row(&row(&[(3, "上级部门收回"), (22, "区市场监督管理局")])).is_ok());
    }

    #[test]
    fn phones_as_people_write_them() {
        for ok in [
            "028-87921234",
            "02887921234",
            "13800138000",
            "12345",
            "028-8792-1234",
        ] {
            assert!(valid_phone(ok), "{ok}");
        }
        for bad in ["", "abc", "-123456", "1234", "028--87921234x"] {
            assert!(!valid_phone(bad), "{bad}");
        }
    }

    #[test]
    fn changed_fields_are_named_in_chinese() {
        let a = from_row(&row(&[])).unwrap();
        let mut b = a.clone();
        b.phone = "028-87920000".into();
        b.legal_basis
            .push("《中华人民共和国行政处罚法》第二十四条".into());
        assert_eq!(changed_fields(&a, &b), vec!["法律依据", "咨询电话"]);
    }
}
