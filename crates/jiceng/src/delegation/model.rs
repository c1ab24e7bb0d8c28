//! What departments file in the delegation context, and the rules it must obey, as plain types
//! and functions.

use serde::{Deserialize, Serialize};

use crate::catalog::model::{
    self, BASIS_SEPS, Category, ItemFields, ListKind, NationalClass, Source, split_list,
};
use crate::time::Timestamp;

/// Which way a handover goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The department hands the power to the township (下放).
    Delegate,
    /// The department takes it back (收回).
    Withdraw,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Delegate => "delegate",
            Direction::Withdraw => "withdraw",
        }
    }

    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "delegate" => Some(Direction::Delegate),
            "withdraw" => Some(Direction::Withdraw),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Direction::Delegate => "下放",
            Direction::Withdraw => "收回",
        }
    }
}

/// What an admission application asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdmissionKind {
    /// New work for the townships (准入).
    Admit,
    /// A change to work admitted before (调整).
    Adjust,
    /// The work leaves the townships' lists (退出).
    Withdraw,
}

impl AdmissionKind {
    pub const ALL: [AdmissionKind; 3] = [
        AdmissionKind::Admit,
        AdmissionKind::Adjust,
        AdmissionKind::Withdraw,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AdmissionKind::Admit => "admit",
            AdmissionKind::Adjust => "adjust",
            AdmissionKind::Withdraw => "withdraw",
        }
    }

    pub fn parse(s: &str) -> Option<AdmissionKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            AdmissionKind::Admit => "新增准入",
            AdmissionKind::Adjust => "调整",
            AdmissionKind::Withdraw => "退出",
        }
    }
}

/// The labels of a stored kind string, for pages.
pub fn admission_kind_label(s: &str) -> &'static str {
    AdmissionKind::parse(s).map_or("—", AdmissionKind::label)
}

pub fn direction_label(s: &str) -> &'static str {
    Direction::parse(s).map_or("—", Direction::label)
}

/// A power a department proposes to delegate, as entered on the form or sent to the API.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PowerInput {
    /// The granting department; the establishment office names it, a department officer's
    /// own department is used otherwise.
    #[serde(default)]
    pub department_id: Option<i64>,
    pub code: String,
    pub name: String,
    /// One of the power categories' identifiers, e.g. `penalty`.
    pub category: String,
    /// One legal basis per line (or separated by ；).
    pub legal_basis: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub resp_accept: String,
    #[serde(default)]
    pub resp_review: String,
    #[serde(default)]
    pub resp_decide: String,
    #[serde(default)]
    pub resp_deliver: String,
    #[serde(default)]
    pub resp_supervise: String,
    #[serde(default)]
    pub accountability: String,
    /// The township office that will do it, e.g. 综合行政执法办公室.
    #[serde(default)]
    pub lead_office: String,
    #[serde(default)]
    pub phone: String,
    /// YYYY-MM-DD.
    pub effective_date: String,
}

/// Every problem with a power, by field; empty when it is valid. The item it will become on
/// a township's list is checked by the catalog's own rules.
pub fn validate_power(input: &PowerInput, department_name: &str) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let category = Category::parse(input.category.trim());
    match category {
        None => errs.push(("category".into(), "请选择权力类别".into())),
        Some(c) if !c.is_power() => errs.push((
            "category".into(),
            format!("「{}」不是行政权力，不能作为下放事项", c.label()),
        )),
        Some(_) => {}
    }
    match Timestamp::parse_local_date(&input.effective_date) {
        None => errs.push((
            "effective_date".into(),
            format!(
                "生效日期「{}」格式应为 YYYY-MM-DD",
                input.effective_date.trim()
            ),
        )),
        // A year far off is a typing slip.
        Some(d) if !plausible(d) => errs.push((
            "effective_date".into(),
            format!("生效日期应在 {EARLIEST_DATE} 至 {LATEST_DATE} 之间"),
        )),
        Some(_) => {}
    }
    if let Some(item) = power_item(input, department_name) {
        errs.extend(model::validate(&item));
    }
    errs
}

/// The duty item a delegated power becomes on a receiving township's list: a basic duty of
/// the township, source 区级下放, with the granting department cooperating.
pub fn power_item(input: &PowerInput, department_name: &str) -> Option<ItemFields> {
    let category = Category::parse(input.category.trim())?;
    Some(ItemFields {
        code: input.code.trim().to_owned(),
        name: input.name.trim().to_owned(),
        list_kind: ListKind::Duties,
        national_class: NationalClass::Basic,
        category,
        source: Source::Delegated,
        legal_basis: split_list(&input.legal_basis, BASIS_SEPS),
        content: input.content.trim().to_owned(),
        resp_accept: input.resp_accept.trim().to_owned(),
        resp_review: input.resp_review.trim().to_owned(),
        resp_decide: input.resp_decide.trim().to_owned(),
        resp_deliver: input.resp_deliver.trim().to_owned(),
        resp_supervise: input.resp_supervise.trim().to_owned(),
        resp_other: String::new(),
        accountability: input.accountability.trim().to_owned(),
        lead_office: input.lead_office.trim().to_owned(),
        cooperating: vec![department_name.to_owned()],
        responsible_person: String::new(),
        phone: input.phone.trim().to_owned(),
        township_duty: String::new(),
        lead_department: String::new(),
        department_duty: String::new(),
        returned_to: String::new(),
        reference: String::new(),
    })
}

/// A handover (交接书) as the department drafts it, for one or more townships.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct HandoverInput {
    /// `delegate` or `withdraw`.
    pub direction: String,
    pub townships: Vec<i64>,
    /// The files handed over (案卷、文书、系统账号 …).
    #[serde(default)]
    pub files: String,
    /// Staff training arranged for the township.
    #[serde(default)]
    pub training: String,
    /// Staff who move with the power (编随事走), if any.
    #[serde(default)]
    pub staff: String,
    /// How the department will guide and supervise the township.
    #[serde(default)]
    pub supervision: String,
}

pub fn validate_handover(input: &HandoverInput) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let direction = Direction::parse(input.direction.trim());
    if direction.is_none() {
        errs.push(("direction".into(), "请选择下放或收回".into()));
    }
    if input.townships.is_empty() {
        errs.push(("townships".into(), "请至少选择一个镇（街道）".into()));
    }
    if input.files.trim().is_empty() {
        errs.push((
            "files".into(),
            "请列明移交的文件、案卷或资料（没有请写「无」）".into(),
        ));
    }
    if direction == Some(Direction::Delegate) {
        if input.training.trim().is_empty() {
            errs.push((
                "training".into(),
                "请写明对乡镇（街道）人员的业务培训安排".into(),
            ));
        }
        if input.supervision.trim().is_empty() {
            errs.push(("supervision".into(), "请写明下放后的指导监督安排".into()));
        }
    }
    for (field, v) in [
        ("files", &input.files),
        ("training", &input.training),
        ("staff", &input.staff),
        ("supervision", &input.supervision),
    ] {
        if v.chars().count() > 4000 {
            errs.push((field.into(), "内容过长（不超过 4000 字）".into()));
        }
    }
    errs
}

/// One entry of a department's guidance and supervision record.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SupervisionInput {
    #[serde(default)]
    pub township_id: Option<i64>,
    /// 业务指导 | 培训 | 监督检查 | 评估
    pub kind: String,
    /// YYYY-MM-DD.
    pub happened_on: String,
    pub content: String,
}

pub const SUPERVISION_KINDS: &[&str] = &["业务指导", "培训", "监督检查", "评估"];

/// The dates a delegation record can plausibly carry.
const EARLIEST_DATE: &str = "2000-01-01";
const LATEST_DATE: &str = "2099-12-31";

fn plausible(d: Timestamp) -> bool {
    let bound = |s: &str| Timestamp::parse_local_date(s);
    bound(EARLIEST_DATE).is_some_and(|from| d >= from)
        && bound(LATEST_DATE).is_some_and(|to| d <= to)
}

pub fn validate_supervision(input: &SupervisionInput, today: &str) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    if !SUPERVISION_KINDS.contains(&input.kind.trim()) {
        errs.push(("kind".into(), "请选择记录类型".into()));
    }
    match Timestamp::parse_local_date(&input.happened_on) {
        None => errs.push((
            "happened_on".into(),
            format!("日期「{}」格式应为 YYYY-MM-DD", input.happened_on.trim()),
        )),
        // Dates compare as text in this format.
        Some(_) if input.happened_on.trim() > today => {
            errs.push(("happened_on".into(), "记录的日期不能晚于今天".into()))
        }
        Some(d) if !plausible(d) => errs.push((
            "happened_on".into(),
            format!("记录的日期不能早于 {EARLIEST_DATE}"),
        )),
        Some(_) => {}
    }
    let n = input.content.trim().chars().count();
    if n == 0 {
        errs.push(("content".into(), "请填写指导监督的内容".into()));
    } else if n > 4000 {
        errs.push(("content".into(), "内容过长（不超过 4000 字）".into()));
    }
    errs
}

/// An admission application (事务准入申请).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AdmissionInput {
    #[serde(default)]
    pub department_id: Option<i64>,
    /// `admit`, `adjust` or `withdraw`.
    pub kind: String,
    /// The work in one line, e.g. 承接城镇燃气安全日常巡查.
    pub title: String,
    /// The duty item the townships would take on (for a withdrawal, only its code matters).
    pub item: ItemFields,
    /// The funding that comes with the work (权随事转), e.g. 每镇每年 8 万元，列入区财政预算.
    pub funding: String,
    /// The staff or establishment that come with it (编随事走).
    pub staffing: String,
    /// Why the townships, not the department, should do it.
    pub reasons: String,
    pub townships: Vec<i64>,
}

pub fn validate_admission(input: &AdmissionInput) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let kind = AdmissionKind::parse(input.kind.trim());
    if kind.is_none() {
        errs.push((
            "kind".into(),
            "请选择申请类型（新增准入、调整或退出）".into(),
        ));
    }
    let title = input.title.trim().chars().count();
    if title == 0 {
        errs.push(("title".into(), "请填写申请准入的事项".into()));
    } else if title > 200 {
        errs.push(("title".into(), "事项不能超过 200 个字".into()));
    }
    if input.townships.is_empty() {
        errs.push(("townships".into(), "请至少选择一个镇（街道）".into()));
    }
    if kind != Some(AdmissionKind::Withdraw) {
        if input.funding.trim().is_empty() {
            errs.push((
                "funding".into(),
                "请写明随事项转移的经费保障（权随事转），没有请说明理由".into(),
            ));
        }
        if input.staffing.trim().is_empty() {
            errs.push((
                "staffing".into(),
                "请写明随事项转移的人员编制（编随事走），没有请说明理由".into(),
            ));
        }
        if input.item.legal_basis.is_empty() {
            errs.push(("legal_basis".into(), "请写明事项的法律法规依据".into()));
        }
        errs.extend(model::validate(&input.item));
    } else if input.item.code.trim().is_empty() {
        errs.push(("code".into(), "请填写退出事项的编码".into()));
    }
    if input.reasons.trim().is_empty() {
        errs.push((
            "reasons".into(),
            "请说明由乡镇（街道）承担的理由（合法性、合理性）".into(),
        ));
    }
    errs
}

/// The admission reference (准入文号) of the `n`-th approval of a year: 准入〔2026〕3号.
pub fn admission_reference(year: &str, n: i64) -> String {
    format!("{}{n}号", admission_reference_prefix(year))
}

pub fn admission_reference_prefix(year: &str) -> String {
    format!("准入〔{year}〕")
}

/// The handover's number as cited on the list: 交接书第 12 号.
pub fn handover_reference(id: i64) -> String {
    format!("下放权力交接书第 {id} 号")
}

/// An inspection indicator (考核指标) a department proposes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct InspectionInput {
    #[serde(default)]
    pub department_id: Option<i64>,
    pub name: String,
    /// The document that requires the assessment.
    pub basis: String,
    /// How it is scored.
    pub standard: String,
    /// Points with at most one decimal, e.g. 2.5.
    pub points: String,
    pub year: i64,
}

/// Reads points written with at most one decimal into tenths: "2.5" → 25. Scores are added
/// up in tenths so the totals are exact.
pub fn parse_tenths(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty() || whole.len() > 4 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 1 || !frac.bytes().all(|b| b.is_ascii_digit()) || (s.ends_with('.')) {
        return None;
    }
    let w: i64 = whole.parse().ok()?;
    let f: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    Some(w * 10 + f)
}

pub fn format_tenths(t: i64) -> String {
    if t % 10 == 0 {
        (t / 10).to_string()
    } else {
        format!("{}.{}", t / 10, t % 10)
    }
}

pub fn validate_inspection(input: &InspectionInput, this_year: i64) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let n = input.name.trim().chars().count();
    if n == 0 {
        errs.push(("name".into(), "请填写考核指标名称".into()));
    } else if n > 200 {
        errs.push(("name".into(), "指标名称不能超过 200 个字".into()));
    }
    if input.basis.trim().is_empty() {
        errs.push(("basis".into(), "请写明设置该指标的文件依据".into()));
    }
    if input.standard.trim().is_empty() {
        errs.push(("standard".into(), "请写明评分标准".into()));
    }
    match parse_tenths(&input.points) {
        Some(t) if (1..=1000).contains(&t) => {}
        _ => errs.push((
            "points".into(),
            format!(
                "分值「{}」应为 0.1 至 100 之间、最多一位小数的数",
                input.points.trim()
            ),
        )),
    }
    if !(this_year - 1..=this_year + 1).contains(&input.year) {
        errs.push((
            "year".into(),
            format!("考核年度应为 {} 至 {} 年", this_year - 1, this_year + 1),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn power() -> PowerInput {
        PowerInput {
            code: "XF-001".into(),
            name: "对擅自占用城市道路的行政处罚".into(),
            category: "penalty".into(),
            legal_basis: "《城市道路管理条例》第四十二条".into(),
            effective_date: "2026-12-01".into(),
            ..PowerInput::default()
        }
    }

    #[test]
    fn a_power_becomes_a_delegated_basic_duty_of_the_township() {
        let item = power_item(&power(), "区住房建设局").unwrap();
        assert_eq!(item.source, Source::Delegated);
        assert_eq!(item.national_class, NationalClass::Basic);
        assert_eq!(item.cooperating, vec!["区住房建设局".to_owned()]);
        assert!(validate_power(&power(), "区住房建设局").is_empty());
    }

    #[test]
    fn a_power_needs_a_power_category_a_basis_and_a_date() {
        let mut p = power();
        p.category = "public_service".into();
        let fields: Vec<String> = validate_power(&p, "区").into_iter().map(|e| e.0).collect();
        assert_eq!(fields, vec!["category"]);
        let mut p = power();
        p.legal_basis = String::new();
        p.effective_date = "2026/12/01".into();
        let fields: Vec<String> = validate_power(&p, "区").into_iter().map(|e| e.0).collect();
        assert_eq!(fields, vec!["effective_date", "legal_basis"]);
        for far in ["0001-01-01", "9999-12-31"] {
            let mut p = power();
            p.effective_date = far.into();
            let fields: Vec<String> = validate_power(&p, "区").into_iter().map(|e| e.0).collect();
            assert_eq!(fields, vec!["effective_date"], "{far}");
        }
    }

    #[test]
    fn a_delegating_handover_needs_files_training_and_supervision() {
        let h = HandoverInput {
            direction: "delegate".into(),
            townships: vec![1],
            ..HandoverInput::default()
        };
        let fields: Vec<String> = validate_handover(&h).into_iter().map(|e| e.0).collect();
        assert_eq!(fields, vec!["files", "training", "supervision"]);
        let back = HandoverInput {
            direction: "withdraw".into(),
            townships: vec![1],
            files: "案卷 12 件".into(),
            ..HandoverInput::default()
        };
        assert!(validate_handover(&back).is_empty());
    }

    #[test]
    fn points_are_read_in_tenths() {
        assert_eq!(parse_tenths("2.5"), Some(25));
        assert_eq!(parse_tenths("10"), Some(100));
        assert_eq!(parse_tenths(" 0.1 "), Some(1));
        for bad in ["", "2.55", "-1", "1e2", "2.", ".5", "abc", "１"] {
            assert_eq!(parse_tenths(bad), None, "{bad}");
        }
        assert_eq!(format_tenths(25), "2.5");
        assert_eq!(format_tenths(30), "3");
    }

    #[test]
    fn references_read_as_documents() {
        assert_eq!(admission_reference("2026", 3), "准入〔2026〕3号");
        assert!(admission_reference("2026", 3).starts_with(&admission_reference_prefix("2026")));
        assert_eq!(handover_reference(12), "下放权力交接书第 12 号");
    }

    #[test]
    fn supervision_cannot_be_recorded_in_the_future() {
        let s = SupervisionInput {
            township_id: None,
            kind: "培训".into(),
            happened_on: "2026-12-01".into(),
            content: "执法文书制作培训".into(),
        };
        assert!(validate_supervision(&s, "2026-12-01").is_empty());
        assert_eq!(validate_supervision(&s, "2026-11-30")[0].0, "happened_on");
        let long_ago = SupervisionInput {
            happened_on: "0001-01-01".into(),
            ..s
        };
        assert_eq!(
            validate_supervision(&long_ago, "2026-12-01")[0].0,
            "happened_on"
        );
    }
}
