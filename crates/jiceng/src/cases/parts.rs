//! The parts of a case that other units handle, each a workflow instance of its own beside the
//! case's ticket:
//!
//! - **summon** (吹哨报到 / 乡呼县应): the township calls the responsible district department,
//!   which reports (报到: accepts and names its officer) within 4 working hours, acts and
//!   replies within 5 working days; the township then scores the response from 1 (很差) to 5
//!   (很好). A 1–5 score rather than 满意/不满意 because it is the department's assessment
//!   (考核) that reads it, and an average of scores ranks departments more finely than a share.
//! - **joint** (联合执法): the unit holding the ticket leads; each co-unit gets a part with its
//!   own deadline and reports its findings. The case cannot close before every co-unit is done
//!   and every summoned department has replied.
//! - **referral** (移送): a matter outside the township's powers goes, with the case's evidence,
//!   to the competent department; the ticket ends as 已移送, and the department acknowledges and
//!   later reports the outcome (移送抄告).

use serde::Serialize;
use workflow::Registry;

use super::store::{self, Fact, PartRow};
use super::{load_visible, number};

use crate::audit::{self, Actor};
use crate::auth::{Principal, Role};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::ids::{CaseId, OrgId};
use crate::orgs::{self, model::Org, model::OrgKind};
use crate::time::Timestamp;
use crate::workflow::{self as wf, ActionInput, AvailableAction, HistoryEntry, Instance};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    Summon,
    Joint,
    Referral,
}

impl PartKind {
    pub const ALL: [PartKind; 3] = [PartKind::Summon, PartKind::Joint, PartKind::Referral];

    pub fn as_str(self) -> &'static str {
        match self {
            PartKind::Summon => "summon",
            PartKind::Joint => "joint",
            PartKind::Referral => "referral",
        }
    }

    pub fn parse(s: &str) -> Option<PartKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            PartKind::Summon => "吹哨报到",
            PartKind::Joint => "联合执法",
            PartKind::Referral => "移送",
        }
    }

    pub fn process(self) -> &'static str {
        match self {
            PartKind::Summon => "case_summon",
            PartKind::Joint => "case_joint",
            PartKind::Referral => "case_referral",
        }
    }
}

/// The score a township gives a summoned department's response.
pub const SCORES: [(i64, &str); 5] = [
    (5, "5 分（很好）"),
    (4, "4 分（较好）"),
    (3, "3 分（一般）"),
    (2, "2 分（较差）"),
    (1, "1 分（很差）"),
];

pub fn parse_score(s: &str) -> Result<i64> {
    match s.trim().parse::<i64>() {
        Ok(n) if (1..=5).contains(&n) => Ok(n),
        _ => Err(Error::invalid("score", "评分为 1–5 分")),
    }
}

/// What the township asks of another unit.
#[derive(Debug, Clone)]
pub struct NewPart {
    pub kind: PartKind,
    pub unit: OrgId,
    pub reason: String,
    /// Joint enforcement: the co-unit's deadline, a local date (the end of that day).
    pub deadline: Option<String>,
}

/// Who may open which part: the dispatcher all three, a township leader may also summon.
fn may_open(p: &Principal, kind: PartKind) -> bool {
    p.has(Role::Dispatcher) || (kind == PartKind::Summon && p.has(Role::TownshipLeader))
}

/// The unit a part may go to: a department for summons and referrals; for joint enforcement a
/// station of the township, the township itself or a department, but not the lead unit.
fn check_unit(kind: PartKind, unit: &Org, township: &Org, lead: Option<OrgId>) -> Result<()> {
    if !unit.is_active() {
        return Err(Error::invalid("unit", "所选单位不存在或已撤销"));
    }
    match kind {
        PartKind::Summon | PartKind::Referral if unit.kind != OrgKind::Department => {
            Err(Error::invalid("unit", "吹哨和移送的对象须为区直部门"))
        }
        PartKind::Joint
            if !(unit.kind == OrgKind::Department
                || unit.id == township.id
                || (unit.kind == OrgKind::Station && unit.parent_id == Some(township.id))) =>
        {
            Err(Error::invalid(
                "unit",
                format!("协办单位须为{}、其派驻机构或区直部门", township.name),
            ))
        }
        PartKind::Joint if lead == Some(unit.id) => {
            Err(Error::invalid("unit", "牵头单位不能同时作为协办单位"))
        }
        _ => Ok(()),
    }
}

/// The latest deadline a joint part may be given, in days from now.
const JOINT_HORIZON_DAYS: i64 = 366;

fn end_of_local_day(date: &str) -> Result<Timestamp> {
    Timestamp::parse_local_date(date.trim())
        .map(|d| d.plus_seconds(86_400 - 1))
        .ok_or_else(|| Error::invalid("deadline", "完成时限应为日期，如 2026-03-31"))
}

/// Opens a part: starts its instance assigned to the unit and, for a referral, ends the
/// ticket as 已移送 — in one transaction with the audit row. Answers the part's id.
pub async fn open(
    db: &Db,
    registry: &Registry,
    p: &Principal,
    actor: &Actor,
    case: CaseId,
    new: NewPart,
) -> Result<i64> {
    if !may_open(p, new.kind) {
        return Err(Error::forbidden(match new.kind {
            PartKind::Summon => "由综合执法办调度员或镇（街道）领导吹哨",
            _ => "由综合执法办调度员组织联合执法或移送",
        }));
    }
    let reason = new.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            match new.kind {
                PartKind::Summon => "请说明需要部门解决的问题",
                PartKind::Joint => "请说明协办任务",
                PartKind::Referral => "请说明移送理由（如：不属于下放给本镇街的执法事项）",
            },
        ));
    }
    if reason.chars().count() > 1000 {
        return Err(Error::invalid("reason", "说明不超过 1000 字"));
    }
    let deadline = match (new.kind, new.deadline.as_deref().map(str::trim)) {
        (PartKind::Joint, Some(d)) if !d.is_empty() => {
            let t = end_of_local_day(d)?;
            if t < Timestamp::now() {
                return Err(Error::invalid("deadline", "完成时限不能早于今天"));
            }
            // A joint task is days or weeks of work; a date years ahead is a typing slip
            // that would keep the case open, never late.
            if t > Timestamp::now().plus_seconds(JOINT_HORIZON_DAYS * 86_400) {
                return Err(Error::invalid(
                    "deadline",
                    format!("完成时限不能晚于 {JOINT_HORIZON_DAYS} 天之后"),
                ));
            }
            Some(t)
        }
        _ => None,
    };
    let (row, township, ticket, unit) = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let row = load_visible(&mut conn, p, case).await?;
        if row.merged_into.is_some() {
            return Err(Error::conflict("该案件已合并，请在原案件办理"));
        }
        let ticket = match row.current_ticket_id {
            Some(t) => store::ticket(&mut conn, t).await?,
            None => None,
        }
        .ok_or_else(|| Error::internal("case without ticket"))?;
        let township = orgs::store::get(&mut conn, row.township_id)
            .await?
            .ok_or_else(|| Error::internal("case township"))?;
        let unit = orgs::store::get(&mut conn, new.unit)
            .await?
            .ok_or_else(|| Error::invalid("unit", "所选单位不存在"))?;
        check_unit(new.kind, &unit, &township, ticket.unit_org_id)?;
        (row, township, ticket, unit)
    };
    let cal = wf::calendar(db).await?;
    let no = number(row.id, row.created_at);
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    // The ticket's state and the case's parts are judged in the transaction that adds the
    // part, with the ticket held: two summonses sent at once would otherwise both find none
    // open, and a part could be added to a ticket closed a moment before.
    let instance = wf::store::get_held(&mut conn, ticket.instance_id)
        .await?
        .ok_or_else(|| Error::internal("ticket instance"))?;
    if instance.terminal {
        return Err(Error::conflict(
            "案件已办结或已移送，不能再吹哨、联合执法或移送",
        ));
    }
    if new.kind == PartKind::Joint && !matches!(instance.state.as_str(), "dispatched" | "handling")
    {
        return Err(Error::conflict("先派遣给牵头单位，再组织联合执法"));
    }
    if new.kind == PartKind::Referral {
        super::refuse_while_parts_open(&mut conn, case, "移送").await?;
    }
    for other in store::parts(&mut conn, case).await? {
        if other.kind == new.kind.as_str() && other.unit_org_id == unit.id {
            let open = wf::store::get(&mut conn, other.instance_id)
                .await?
                .is_some_and(|i| !i.terminal);
            if open {
                return Err(Error::conflict(format!(
                    "{}的{}尚未完成，不能重复发起",
                    unit.name,
                    new.kind.label()
                )));
            }
        }
    }
    let seq = store::count_parts(&mut conn, case, new.kind.as_str()).await? + 1;
    let inst = wf::start(
        &mut conn,
        registry,
        &cal,
        actor,
        wf::NewInstance {
            process: new.kind.process().to_owned(),
            subject: format!("案件 {no} {}：{}", new.kind.label(), unit.name),
            subject_ref: format!("case:{}#{}{seq}", case.0, new.kind.as_str()),
            owner_org: township.id,
            assignee_org: Some(unit.id),
        },
    )
    .await?;
    let id = store::insert_part(
        &mut conn,
        case,
        new.kind.as_str(),
        inst.id,
        unit.id,
        township.id,
        &reason,
        deadline,
        &actor.name,
    )
    .await?;
    if new.kind == PartKind::Referral {
        let input = ActionInput {
            action: "refer".to_owned(),
            expected_version: instance.version,
            comment: Some(reason.clone()),
            fields: [("unit".to_owned(), unit.name.clone())].into(),
            ..ActionInput::default()
        };
        wf::act_in(
            &mut conn,
            registry,
            &cal,
            p,
            actor,
            ticket.instance_id,
            &input,
        )
        .await?;
        store::record_fact(&mut conn, case, Fact::Outcome("referred"), Timestamp::now()).await?;
    }
    audit::record(
        &mut conn,
        actor,
        &format!("case.{}", new.kind.as_str()),
        &format!("案件 {no}"),
        &format!("{}：{}；{reason}", new.kind.label(), unit.name),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// An action on a part, from a page or the API.
#[derive(Debug, Clone, Default)]
pub struct PartAction {
    pub action: String,
    pub expected_version: Option<i64>,
    pub comment: Option<String>,
    /// Summons, `report`: the officer the department names.
    pub officer: Option<String>,
    /// Summons, `rate`: 1–5.
    pub score: Option<String>,
}

/// Takes an action on a part; the engine decides who may, this keeps what it says with the part.
pub async fn act(
    db: &Db,
    registry: &Registry,
    p: &Principal,
    actor: &Actor,
    id: i64,
    a: PartAction,
) -> Result<PartView> {
    let (part, row, instance) = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let part = store::part(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("该协办、吹哨或移送事项不存在"))?;
        let row = load_visible(&mut conn, p, part.case_id).await?;
        let instance = wf::store::get(&mut conn, part.instance_id)
            .await?
            .ok_or_else(|| Error::internal("part instance"))?;
        (part, row, instance)
    };
    let kind = PartKind::parse(&part.kind).ok_or_else(|| Error::internal("part kind"))?;
    let officer = a.officer.as_deref().map(str::trim).unwrap_or("").to_owned();
    if officer.chars().count() > 50 {
        return Err(Error::invalid("officer", "报到人员姓名不超过 50 字"));
    }
    let score = match (kind, a.action.as_str()) {
        (PartKind::Summon, "rate") => Some(parse_score(a.score.as_deref().unwrap_or(""))?),
        _ => None,
    };
    let comment = a
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    if comment.as_ref().is_some_and(|c| c.chars().count() > 2000) {
        return Err(Error::invalid("comment", "说明不超过 2000 字"));
    }
    let mut fields = std::collections::BTreeMap::new();
    if !officer.is_empty() {
        fields.insert("officer".to_owned(), officer.clone());
    }
    if let Some(s) = score {
        fields.insert("score".to_owned(), s.to_string());
    }
    let cal = wf::calendar(db).await?;
    let now = Timestamp::now();
    let late = super::late_in_state(&instance, now);
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let input = ActionInput {
        action: a.action.clone(),
        expected_version: a.expected_version.unwrap_or(instance.version),
        comment: comment.clone(),
        fields,
        ..ActionInput::default()
    };
    let after = wf::act_in(&mut conn, registry, &cal, p, actor, instance.id, &input).await?;
    match (kind, a.action.as_str()) {
        (PartKind::Summon, "report") => {
            store::part_reported(&mut conn, id, &officer, !late, now).await?;
        }
        (PartKind::Joint, "accept") => {
            // The dispatcher's date for this co-unit replaces the process's handling limit.
            if let Some(due) = part.due_at {
                wf::set_deadline(&mut conn, instance.id, due).await?;
            }
        }
        (PartKind::Summon, "reply")
        | (PartKind::Joint, "report")
        | (PartKind::Referral, "conclude") => {
            store::part_done(&mut conn, id, comment.as_deref().unwrap_or(""), now).await?;
        }
        (PartKind::Summon, "rate") => {
            store::part_scored(
                &mut conn,
                id,
                score.unwrap_or(0),
                comment.as_deref().unwrap_or(""),
            )
            .await?;
        }
        _ => {}
    }
    let no = number(row.id, row.created_at);
    let label = registry
        .get(kind.process())
        .and_then(|d| d.action(&a.action))
        .map(|x| x.label.clone())
        .unwrap_or_else(|| a.action.clone());
    audit::record(
        &mut conn,
        actor,
        &format!("case.{}_{}", kind.as_str(), a.action),
        &format!("案件 {no}"),
        &match score {
            Some(s) => format!("{}：{label}，{s} 分", kind.label()),
            None if !officer.is_empty() => format!("{}：{label}，报到人员 {officer}", kind.label()),
            None => format!("{}：{label}", kind.label()),
        },
    )
    .await?;
    tx.commit().await?;
    let _ = after;
    let mut c = db.acquire().await?;
    let part = store::part(&mut c.conn(), id)
        .await?
        .ok_or_else(|| Error::internal("lost part"))?;
    drop(c);
    view(db, registry, p, part).await
}

/// A part as the case page and the API show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartView {
    pub part: PartRow,
    pub kind_label: String,
    pub unit_name: String,
    pub instance: Instance,
    pub state_label: String,
    pub history: Vec<HistoryEntry>,
    /// What the viewer may do on this part now.
    pub actions: Vec<AvailableAction>,
}

pub async fn view(db: &Db, registry: &Registry, p: &Principal, part: PartRow) -> Result<PartView> {
    let kind = PartKind::parse(&part.kind).ok_or_else(|| Error::internal("part kind"))?;
    let (unit_name, instance, history) = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let unit_name = orgs::store::get(&mut conn, part.unit_org_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        let instance = wf::store::get(&mut conn, part.instance_id)
            .await?
            .ok_or_else(|| Error::internal("part instance"))?;
        let history = wf::history(&mut conn, registry, &instance).await?;
        (unit_name, instance, history)
    };
    let actions = match wf::detail(db, registry, p, part.instance_id).await {
        Ok(d) => d.actions,
        Err(Error::Forbidden(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    let state_label = registry
        .get(kind.process())
        .and_then(|d| d.state(&instance.state))
        .map(|s| s.label.clone())
        .unwrap_or_else(|| instance.state.clone());
    Ok(PartView {
        kind_label: kind.label().to_owned(),
        unit_name,
        state_label,
        instance,
        history,
        actions,
        part,
    })
}

pub async fn views(
    db: &Db,
    registry: &Registry,
    p: &Principal,
    case: CaseId,
) -> Result<Vec<PartView>> {
    let rows = {
        let mut c = db.acquire().await?;
        store::parts(&mut c.conn(), case).await?
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(view(db, registry, p, r).await?);
    }
    Ok(out)
}

/// Checks the part processes still have what this module refers to.
pub fn check_processes(registry: &Registry) -> std::result::Result<(), String> {
    let need: [(&str, &[&str], &[&str]); 3] = [
        (
            "case_summon",
            &["summoned", "reported", "replied", "rated"],
            &["report", "reply", "rate"],
        ),
        (
            "case_joint",
            &["assigned", "handling", "done"],
            &["accept", "report"],
        ),
        (
            "case_referral",
            &["referred", "acknowledged", "concluded"],
            &["acknowledge", "conclude"],
        ),
    ];
    let mut errors = Vec::new();
    for (process, states, actions) in need {
        match registry.get(process) {
            None => errors.push(format!("缺少流程 {process}")),
            Some(def) => {
                if let Err(e) = def.require(states, actions) {
                    errors.extend(e.iter().map(|x| x.to_string()));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_part_processes_have_what_this_module_uses() {
        check_processes(&wf::embedded_processes()).unwrap();
    }

    #[test]
    fn scores_run_from_one_to_five() {
        assert_eq!(parse_score("5").unwrap(), 5);
        assert_eq!(parse_score(" 1 ").unwrap(), 1);
        assert!(parse_score("0").is_err());
        assert!(parse_score("6").is_err());
        assert!(parse_score("很好").is_err());
    }

    #[test]
    fn kinds_round_trip() {
        for k in PartKind::ALL {
            assert_eq!(PartKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(PartKind::parse("appeal"), None);
    }
}
