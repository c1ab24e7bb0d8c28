//! Delegated powers (下放行政权力事项) and their handovers (交接书), duty admission (事务准入)
//! and inspection items (考核事项): the three ways work reaches, or is kept from, a township's
//! list besides the establishment office's own edits.
//!
//! Each runs as a workflow process; its domain effect (the township list gaining or losing an
//! item) is written by [`on_transition`] in the same transaction as the step that completes
//! it, so whichever page, API call or timer takes the last step, the list and the process
//! never disagree.

pub mod model;
pub mod routes;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use workflow::Registry;

use crate::audit::{self, Actor};
use crate::auth::{Principal, Role, Scope};
use crate::catalog::{self, Change, model::ItemFields};
use crate::db::{Conn, Db};
use crate::error::{Error, Result};
use crate::ids::{InstanceId, OrgId};
use crate::orgs::{self, model::Org, model::OrgKind};
use crate::time::Timestamp;
use crate::workflow::{self as flow, NewInstance};
use model::{AdmissionKind, Direction};
use store::{AdmissionRow, GrantRow, HandoverRow, InspectionRow, PowerRow, SupervisionRow};

pub const HANDOVER_PROCESS: &str = "power_handover";
pub const ADMISSION_PROCESS: &str = "duty_admission";
pub const INSPECTION_PROCESS: &str = "inspection_item";

fn invalid(errors: Vec<(String, String)>) -> Result<()> {
    catalog::model::invalid(errors)
}

/// The department a principal files for: a department officer's own department, or the one
/// the establishment office names.
async fn filing_department(
    conn: &mut Conn<'_>,
    p: &Principal,
    requested: Option<i64>,
) -> Result<Org> {
    let id = if p.has(Role::DepartmentOfficer) && p.org.kind == OrgKind::Department {
        p.org.id
    } else if p.has(Role::EstablishmentOffice) {
        OrgId(requested.ok_or_else(|| Error::invalid("department_id", "请选择区级部门"))?)
    } else {
        return Err(Error::forbidden("只有区级部门或编办可以填报"));
    };
    let dept = orgs::store::get(conn, id)
        .await?
        .filter(|o| o.kind == OrgKind::Department && o.is_active())
        .ok_or_else(|| Error::invalid("department_id", "所选部门不存在或已撤销"))?;
    if catalog::district_of(&dept) != catalog::district_of(&p.org) {
        return Err(Error::invalid("department_id", "所选部门不属于本区"));
    }
    Ok(dept)
}

/// Checks that every id names an active township of the principal's district.
async fn townships(conn: &mut Conn<'_>, p: &Principal, ids: &[i64]) -> Result<Vec<Org>> {
    let district = catalog::district_of(&p.org);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(*id) {
            continue;
        }
        let t = orgs::store::get(conn, OrgId(*id))
            .await?
            .filter(|o| {
                o.kind == OrgKind::Township && o.is_active() && catalog::district_of(o) == district
            })
            .ok_or_else(|| {
                Error::invalid("townships", format!("编号 {id} 不是本区的镇（街道）"))
            })?;
        out.push(t);
    }
    Ok(out)
}

fn decode_item(json: &str) -> Result<ItemFields> {
    serde_json::from_str(json).map_err(|e| Error::internal(format!("stored item: {e}")))
}

fn encode_item(item: &ItemFields) -> String {
    serde_json::to_string(item).unwrap_or_else(|_| "{}".into())
}

/// The current items of a township's own list, by code.
async fn local_items(
    conn: &mut Conn<'_>,
    district: OrgId,
    township: OrgId,
) -> Result<BTreeMap<String, ItemFields>> {
    Ok(
        match catalog::store::find_list(conn, district, township.0).await? {
            Some(l) => catalog::items_only(
                catalog::store::entries_at(conn, l.id, l.current_version).await?,
            )
            .into_iter()
            .map(|f| (f.code.clone(), f))
            .collect(),
            None => BTreeMap::new(),
        },
    )
}

/// The name of a township whose own list holds an item coded `code`, if any does.
async fn township_using(
    conn: &mut Conn<'_>,
    district: OrgId,
    code: &str,
) -> Result<Option<String>> {
    for list in catalog::store::lists_of(conn, district).await? {
        if list.township_key == 0 {
            continue;
        }
        let township = OrgId(list.township_key);
        let entries = catalog::store::entries_at(conn, list.id, list.current_version).await?;
        if catalog::items_only(entries).iter().any(|i| i.code == code) {
            let name = orgs::store::get(conn, township)
                .await?
                .map_or_else(|| township.0.to_string(), |o| o.name);
            return Ok(Some(name));
        }
    }
    Ok(None)
}

// ---------- delegated powers ----------

pub async fn create_power(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    input: model::PowerInput,
) -> Result<i64> {
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let dept = filing_department(&mut conn, p, input.department_id).await?;
    invalid(model::validate_power(&input, &dept.name))?;
    let item = model::power_item(&input, &dept.name)
        .ok_or_else(|| Error::invalid("category", "请选择权力类别"))?;
    let district = catalog::district_of(&dept);
    if catalog::general_codes(&mut conn, district)
        .await?
        .contains(&item.code)
    {
        return Err(Error::invalid(
            "code",
            format!("编码 {} 已用于通用目录，下放事项请另编码", item.code),
        ));
    }
    // Nor may it take a township's own item: the handover would overwrite it on that list,
    // and a withdrawal would then remove it.
    if let Some(township) = township_using(&mut conn, district, &item.code).await? {
        return Err(Error::invalid(
            "code",
            format!(
                "编码 {} 已用于{township}的清单，下放事项请另编码",
                item.code
            ),
        ));
    }
    let id = store::insert_power(
        &mut conn,
        &store::NewPower {
            district_id: district,
            department_id: dept.id,
            code: &item.code,
            name: &item.name,
            item: &encode_item(&item),
            effective_date: input.effective_date.trim(),
            now: Timestamp::now(),
            by: &actor.name,
        },
    )
    .await
    .map_err(|e| Error::unique_or(e, "该编码的下放事项已存在"))?;
    audit::record(
        &mut conn,
        actor,
        "delegation.power",
        &format!("下放事项 {}", item.code),
        &format!("{}（{}）", item.name, dept.name),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn powers(db: &Db, p: &Principal) -> Result<Vec<PowerRow>> {
    let mut c = db.acquire().await?;
    Ok(store::powers(&mut c.conn(), catalog::district_of(&p.org), None).await?)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PowerDetail {
    pub power: PowerRow,
    pub item: ItemFields,
    pub grants: Vec<GrantRow>,
    pub handovers: Vec<HandoverRow>,
    pub supervision: Vec<SupervisionRow>,
}

async fn power_in_district(conn: &mut Conn<'_>, p: &Principal, id: i64) -> Result<PowerRow> {
    store::power(conn, id)
        .await?
        .filter(|w| w.district_id == catalog::district_of(&p.org))
        .ok_or_else(|| Error::not_found("下放事项不存在"))
}

pub async fn power_detail(db: &Db, p: &Principal, id: i64) -> Result<PowerDetail> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let power = power_in_district(&mut conn, p, id).await?;
    let item = decode_item(&power.item)?;
    let in_scope = |t: OrgId| match &p.scope {
        Scope::District => true,
        Scope::Township { township_id, .. } => *township_id == t,
    };
    let grants = store::grants(&mut conn, id)
        .await?
        .into_iter()
        .filter(|g| in_scope(g.township_id))
        .collect();
    let handovers = store::handovers_of_power(&mut conn, id)
        .await?
        .into_iter()
        .filter(|h| in_scope(h.township_id))
        .collect();
    let supervision = store::supervision(&mut conn, id)
        .await?
        .into_iter()
        .filter(|s| s.township_id.is_none_or(in_scope))
        .collect();
    Ok(PowerDetail {
        power,
        item,
        grants,
        handovers,
        supervision,
    })
}

/// Whether the principal speaks for the department that granted a power.
fn speaks_for(p: &Principal, department: OrgId) -> bool {
    p.has(Role::DepartmentOfficer) && p.org.id == department
}

/// Drafts one handover per township, each its own process (a township accepts or returns
/// only its own). A township that holds the power cannot receive it again, one that does not
/// cannot give it back, and one with a handover of the power under way waits for it.
pub async fn draft_handovers(
    db: &Db,
    registry: &Registry,
    p: &Principal,
    actor: &Actor,
    power_id: i64,
    input: model::HandoverInput,
) -> Result<Vec<i64>> {
    invalid(model::validate_handover(&input))?;
    let direction = Direction::parse(input.direction.trim())
        .ok_or_else(|| Error::invalid("direction", "请选择下放或收回"))?;
    let cal = flow::calendar(db).await?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let power = power_in_district(&mut conn, p, power_id).await?;
    if !speaks_for(p, power.department_id) {
        return Err(Error::forbidden("交接书由下放该事项的部门起草"));
    }
    let targets = townships(&mut conn, p, &input.townships).await?;
    let mut ids = Vec::new();
    let now = Timestamp::now();
    for t in targets {
        let holds = store::grant_status(&mut conn, power.id, t.id)
            .await?
            .as_deref()
            == Some("granted");
        match direction {
            Direction::Delegate if holds => {
                return Err(Error::conflict(format!("{}已承接该事项", t.name)));
            }
            Direction::Withdraw if !holds => {
                return Err(Error::conflict(format!("{}未承接该事项，无需收回", t.name)));
            }
            // The township added an item of this code since the power was filed: taking the
            // power would overwrite it.
            Direction::Delegate
                if local_items(&mut conn, power.district_id, t.id)
                    .await?
                    .contains_key(&power.code) =>
            {
                return Err(Error::conflict(format!(
                    "{}的清单中已有编码为 {} 的事项，请先调整编码再下放",
                    t.name, power.code
                )));
            }
            _ => {}
        }
        if store::open_handover_exists(&mut conn, power.id, t.id).await? {
            return Err(Error::conflict(format!(
                "该事项与{}的交接正在办理中，请办结后再起草",
                t.name
            )));
        }
        let id = store::insert_handover(
            &mut conn,
            &store::NewHandover {
                power_id: power.id,
                township_id: t.id,
                direction: direction.as_str(),
                files: input.files.trim(),
                training: input.training.trim(),
                staff: input.staff.trim(),
                supervision: input.supervision.trim(),
                now,
                by: &actor.name,
            },
        )
        .await?;
        let inst = flow::start(
            &mut conn,
            registry,
            &cal,
            actor,
            NewInstance {
                process: HANDOVER_PROCESS.into(),
                subject: format!("{}{}：{}", direction.label(), t.name, power.name),
                subject_ref: format!("/delegation/handovers/{id}"),
                owner_org: power.department_id,
                assignee_org: Some(t.id),
            },
        )
        .await?;
        store::set_handover_instance(&mut conn, id, inst.id.0).await?;
        ids.push(id);
    }
    tx.commit().await?;
    Ok(ids)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HandoverDetail {
    pub handover: HandoverRow,
    pub power: PowerRow,
}

pub async fn handover_detail(db: &Db, p: &Principal, id: i64) -> Result<HandoverDetail> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let handover = store::handover(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("交接书不存在"))?;
    let power = power_in_district(&mut conn, p, handover.power_id).await?;
    if let Scope::Township { township_id, .. } = &p.scope
        && *township_id != handover.township_id
    {
        return Err(Error::forbidden("该交接书不在您的管辖范围内"));
    }
    Ok(HandoverDetail { handover, power })
}

pub async fn record_supervision(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    power_id: i64,
    input: model::SupervisionInput,
) -> Result<i64> {
    let today = Timestamp::now().local();
    invalid(model::validate_supervision(
        &input,
        today.get(..10).unwrap_or(""),
    ))?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let power = power_in_district(&mut conn, p, power_id).await?;
    if !speaks_for(p, power.department_id) {
        return Err(Error::forbidden("指导监督记录由下放该事项的部门填写"));
    }
    let township = match input.township_id {
        Some(t) => {
            let t = townships(&mut conn, p, &[t]).await?.remove(0);
            // Guidance concerns a township that holds or held the power.
            if store::grant_status(&mut conn, power_id, t.id)
                .await?
                .is_none()
            {
                return Err(Error::invalid(
                    "township_id",
                    format!("{}未承接过该事项，不能记录对其的指导监督", t.name),
                ));
            }
            Some(t.id)
        }
        None => None,
    };
    let id = store::insert_supervision(
        &mut conn,
        &store::NewSupervision {
            power_id,
            township_id: township,
            kind: input.kind.trim(),
            happened_on: input.happened_on.trim(),
            content: input.content.trim(),
            now: Timestamp::now(),
            by: &actor.name,
        },
    )
    .await?;
    audit::record(
        &mut conn,
        actor,
        "delegation.supervision",
        &format!("下放事项 {}", power.code),
        &format!("{}：{}", input.kind.trim(), input.happened_on.trim()),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The handovers a township is party to, newest first.
pub async fn township_handovers(db: &Db, township: OrgId) -> Result<Vec<HandoverRow>> {
    let mut c = db.acquire().await?;
    Ok(store::handovers_of_township(&mut c.conn(), township).await?)
}

// ---------- duty admission ----------

/// Files an application; it starts as the department's draft, submitted from its page.
pub async fn file_admission(
    db: &Db,
    registry: &Registry,
    p: &Principal,
    actor: &Actor,
    mut input: model::AdmissionInput,
) -> Result<i64> {
    input.item.code = input.item.code.trim().to_owned();
    invalid(model::validate_admission(&input))?;
    let kind = AdmissionKind::parse(input.kind.trim())
        .ok_or_else(|| Error::invalid("kind", "请选择申请类型"))?;
    let cal = flow::calendar(db).await?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let dept = filing_department(&mut conn, p, input.department_id).await?;
    let district = catalog::district_of(&dept);
    let targets = townships(&mut conn, p, &input.townships).await?;
    let code = input.item.code.clone();
    if kind == AdmissionKind::Admit
        && catalog::general_codes(&mut conn, district)
            .await?
            .contains(&code)
    {
        return Err(Error::invalid(
            "code",
            format!("编码 {code} 已用于通用目录，准入事项请另编码"),
        ));
    }
    for t in &targets {
        let listed = local_items(&mut conn, district, t.id).await?;
        match (kind, listed.get(&code)) {
            (AdmissionKind::Admit, Some(_)) => {
                return Err(Error::invalid(
                    "code",
                    format!("{}的清单中已有编码为 {code} 的事项，请申请调整", t.name),
                ));
            }
            (AdmissionKind::Adjust | AdmissionKind::Withdraw, None) => {
                return Err(Error::invalid(
                    "code",
                    format!("{}的个性化清单中没有编码为 {code} 的事项", t.name),
                ));
            }
            (AdmissionKind::Withdraw, Some(existing)) => input.item = existing.clone(),
            _ => {}
        }
    }
    let ids: Vec<i64> = targets.iter().map(|t| t.id.0).collect();
    let id = store::insert_admission(
        &mut conn,
        &store::NewAdmission {
            district_id: district,
            department_id: dept.id,
            kind: kind.as_str(),
            title: input.title.trim(),
            item: &encode_item(&input.item),
            funding: input.funding.trim(),
            staffing: input.staffing.trim(),
            reasons: input.reasons.trim(),
            townships: &serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()),
            now: Timestamp::now(),
            by: &actor.name,
        },
    )
    .await?;
    let inst = flow::start(
        &mut conn,
        registry,
        &cal,
        actor,
        NewInstance {
            process: ADMISSION_PROCESS.into(),
            subject: format!("{}：{}（{}）", kind.label(), input.title.trim(), dept.name),
            subject_ref: format!("/delegation/admissions/{id}"),
            owner_org: dept.id,
            assignee_org: None,
        },
    )
    .await?;
    store::set_admission_instance(&mut conn, id, inst.id.0).await?;
    audit::record(
        &mut conn,
        actor,
        "delegation.admission",
        &format!("事务准入申请 {id}"),
        &format!("{}：{}", kind.label(), input.title.trim()),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdmissionDetail {
    pub admission: AdmissionRow,
    pub item: ItemFields,
    pub townships: Vec<String>,
}

pub async fn admission_detail(db: &Db, p: &Principal, id: i64) -> Result<AdmissionDetail> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let admission = store::admission(&mut conn, id)
        .await?
        .filter(|a| a.district_id == catalog::district_of(&p.org))
        .ok_or_else(|| Error::not_found("事务准入申请不存在"))?;
    let ids: Vec<i64> = serde_json::from_str(&admission.townships).unwrap_or_default();
    if let Scope::Township { township_id, .. } = &p.scope
        && !ids.contains(&township_id.0)
    {
        return Err(Error::forbidden("该申请不涉及本镇（街道）"));
    }
    let mut names = Vec::new();
    for t in ids {
        if let Some(o) = orgs::store::get(&mut conn, OrgId(t)).await? {
            names.push(o.name);
        }
    }
    Ok(AdmissionDetail {
        item: decode_item(&admission.item)?,
        admission,
        townships: names,
    })
}

pub async fn admissions(
    db: &Db,
    p: &Principal,
    page: u32,
    per_page: u32,
) -> Result<(Vec<AdmissionRow>, i64)> {
    let mut c = db.acquire().await?;
    let dept =
        (p.has(Role::DepartmentOfficer) && p.org.kind == OrgKind::Department).then_some(p.org.id);
    let offset = i64::from(page.max(1) - 1) * i64::from(per_page);
    let township = match &p.scope {
        Scope::District => None,
        Scope::Township { township_id, .. } => Some(*township_id),
    };
    Ok(store::admissions(
        &mut c.conn(),
        catalog::district_of(&p.org),
        dept,
        township,
        i64::from(per_page),
        offset,
    )
    .await?)
}

// ---------- inspection items ----------

pub async fn propose_inspection(
    db: &Db,
    registry: &Registry,
    p: &Principal,
    actor: &Actor,
    input: model::InspectionInput,
) -> Result<i64> {
    let this_year = Timestamp::now().local_year();
    invalid(model::validate_inspection(&input, this_year))?;
    let points = model::parse_tenths(&input.points)
        .ok_or_else(|| Error::invalid("points", "分值格式不正确"))?;
    let cal = flow::calendar(db).await?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let dept = filing_department(&mut conn, p, input.department_id).await?;
    let name = input.name.trim();
    if store::inspection_name_taken(&mut conn, dept.id, input.year, name).await? {
        return Err(Error::conflict(format!(
            "{}年度已报送名为「{name}」的考核指标",
            input.year
        )));
    }
    let id = store::insert_inspection(
        &mut conn,
        &store::NewInspection {
            district_id: catalog::district_of(&dept),
            department_id: dept.id,
            name,
            basis: input.basis.trim(),
            standard: input.standard.trim(),
            points_tenths: points,
            year: input.year,
            now: Timestamp::now(),
            by: &actor.name,
        },
    )
    .await?;
    let inst = flow::start(
        &mut conn,
        registry,
        &cal,
        actor,
        NewInstance {
            process: INSPECTION_PROCESS.into(),
            subject: format!("考核指标：{name}（{}）", dept.name),
            subject_ref: format!("/delegation/inspections/{id}"),
            owner_org: dept.id,
            assignee_org: None,
        },
    )
    .await?;
    store::set_inspection_instance(&mut conn, id, inst.id.0).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn inspection(db: &Db, p: &Principal, id: i64) -> Result<InspectionRow> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let r = store::inspection(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("考核指标不存在"))?;
    let dept = orgs::store::get(&mut conn, r.department_id)
        .await?
        .ok_or_else(|| Error::not_found("考核指标不存在"))?;
    if catalog::district_of(&dept) != catalog::district_of(&p.org) {
        return Err(Error::not_found("考核指标不存在"));
    }
    Ok(r)
}

pub async fn inspections(db: &Db, p: &Principal, year: i64) -> Result<Vec<InspectionRow>> {
    let dept =
        (p.has(Role::DepartmentOfficer) && p.org.kind == OrgKind::Department).then_some(p.org.id);
    let mut c = db.acquire().await?;
    Ok(store::inspections(&mut c.conn(), catalog::district_of(&p.org), year, dept).await?)
}

/// One department's line of the inspection report.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct InspectionReport {
    pub department: String,
    /// Every indicator the department reported (一事一报).
    pub proposed: i64,
    /// Approved by the district at some point (still in force or since retired).
    pub approved: i64,
    pub rejected: i64,
    /// Found unreasonable and retired by the establishment office.
    pub retired: i64,
    pub withdrawn: i64,
    pub pending: i64,
    pub in_force: i64,
    /// Points of the indicators in force, in tenths.
    pub points_in_force: i64,
}

impl InspectionReport {
    pub fn points(&self) -> String {
        model::format_tenths(self.points_in_force)
    }
}

/// Counts per department (and a 合计 line last) from the indicators' states. A withdrawn
/// indicator counts as approved only if it was in force when withdrawn, which its history
/// tells; the report reads that from `approved_before_withdrawal`.
pub fn inspection_report(
    rows: &[InspectionRow],
    approved_before_withdrawal: &BTreeSet<i64>,
) -> Vec<InspectionReport> {
    let mut by: BTreeMap<(i64, String), InspectionReport> = BTreeMap::new();
    let mut total = InspectionReport {
        department: "合计".into(),
        ..InspectionReport::default()
    };
    for r in rows {
        let line = by
            .entry((r.department_id.0, r.department_name.clone()))
            .or_insert_with(|| InspectionReport {
                department: r.department_name.clone(),
                ..InspectionReport::default()
            });
        for l in [&mut *line, &mut total] {
            l.proposed += 1;
            match r.state.as_deref() {
                Some("in_force") => {
                    l.approved += 1;
                    l.in_force += 1;
                    l.points_in_force += r.points_tenths;
                }
                Some("retired") => {
                    l.approved += 1;
                    l.retired += 1;
                }
                Some("rejected") => l.rejected += 1,
                Some("withdrawn") => {
                    l.withdrawn += 1;
                    if approved_before_withdrawal.contains(&r.id) {
                        l.approved += 1;
                    }
                }
                _ => l.pending += 1,
            }
        }
    }
    let mut out: Vec<InspectionReport> = by.into_values().collect();
    out.push(total);
    out
}

pub async fn inspection_report_for(
    db: &Db,
    p: &Principal,
    year: i64,
) -> Result<(Vec<InspectionRow>, Vec<InspectionReport>)> {
    let rows = inspections(db, p, year).await?;
    let mut approved = BTreeSet::new();
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    for r in rows
        .iter()
        .filter(|r| r.state.as_deref() == Some("withdrawn"))
    {
        if let Some(i) = r.instance_id {
            let history = flow::store::history(&mut conn, InstanceId(i)).await?;
            if history.iter().any(|h| h.action == "approve") {
                approved.insert(r.id);
            }
        }
    }
    let report = inspection_report(&rows, &approved);
    Ok((rows, report))
}

// ---------- effects of completed processes ----------

/// Writes what a process step means for the lists, in the step's transaction. Called for
/// every transition of every process; ignores the ones that are not its own.
pub async fn on_transition(
    conn: &mut Conn<'_>,
    process: &str,
    instance: InstanceId,
    to_state: &str,
    comment: Option<&str>,
    actor: &Actor,
) -> Result<()> {
    match (process, to_state) {
        (HANDOVER_PROCESS, "completed") => handover_completed(conn, instance, actor).await,
        (ADMISSION_PROCESS, "approved") => admission_approved(conn, instance, comment, actor).await,
        (ADMISSION_PROCESS, "rejected") => {
            let a = store::admission_by_instance(conn, instance.0)
                .await?
                .ok_or_else(|| Error::internal("admission of instance missing"))?;
            store::decide_admission(conn, a.id, "rejected", None, Timestamp::now()).await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

async fn township_list(
    conn: &mut Conn<'_>,
    district: OrgId,
    township: OrgId,
) -> Result<catalog::store::ListRow> {
    Ok(catalog::store::ensure_list(conn, district, township.0).await?)
}

async fn handover_completed(
    conn: &mut Conn<'_>,
    instance: InstanceId,
    actor: &Actor,
) -> Result<()> {
    let h = store::handover_by_instance(conn, instance.0)
        .await?
        .ok_or_else(|| Error::internal("handover of instance missing"))?;
    let power = store::power(conn, h.power_id)
        .await?
        .ok_or_else(|| Error::internal("power of handover missing"))?;
    let reference = model::handover_reference(h.id);
    let list = township_list(conn, power.district_id, h.township_id).await?;
    let now = Timestamp::now();
    let version = match Direction::parse(&h.direction) {
        Some(Direction::Delegate) => {
            let mut item = decode_item(&power.item)?;
            item.reference = reference.clone();
            let reason = format!("区级下放：{}（{reference}）", power.name);
            let v = catalog::apply_changes(
                conn,
                &list,
                actor,
                &reason,
                vec![Change::Upsert(Box::new(item))],
                catalog::ChangedBy::Process,
            )
            .await?;
            store::set_grant(conn, power.id, h.township_id, "granted", now, h.id).await?;
            Some(v)
        }
        Some(Direction::Withdraw) => {
            // The township may have dropped the item itself since; then there is nothing to
            // remove, but the power is still withdrawn.
            let listed = local_items(conn, power.district_id, h.township_id).await?;
            let v = if listed.contains_key(&power.code) {
                let reason = format!("部门收回：{}（{reference}）", power.name);
                Some(
                    catalog::apply_changes(
                        conn,
                        &list,
                        actor,
                        &reason,
                        vec![Change::Remove(power.code.clone())],
                        catalog::ChangedBy::Process,
                    )
                    .await?,
                )
            } else {
                None
            };
            store::set_grant(conn, power.id, h.township_id, "withdrawn", now, h.id).await?;
            v
        }
        None => return Err(Error::internal("handover direction")),
    };
    store::complete_handover(conn, h.id, now, version).await?;
    Ok(())
}

async fn admission_approved(
    conn: &mut Conn<'_>,
    instance: InstanceId,
    comment: Option<&str>,
    actor: &Actor,
) -> Result<()> {
    let a = store::admission_by_instance(conn, instance.0)
        .await?
        .ok_or_else(|| Error::internal("admission of instance missing"))?;
    let now = Timestamp::now();
    let year = now.local_year().to_string();
    let prefix = model::admission_reference_prefix(&year);
    let n = store::approved_in_year(conn, a.district_id, &prefix).await? + 1;
    let reference = model::admission_reference(&year, n);
    let mut item = decode_item(&a.item)?;
    item.reference = reference.clone();
    let kind = AdmissionKind::parse(&a.kind).ok_or_else(|| Error::internal("admission kind"))?;
    let ids: Vec<i64> = serde_json::from_str(&a.townships).unwrap_or_default();
    let decision = comment
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .unwrap_or("");
    let reason = format!(
        "事务准入{}（{reference}）：{}；{decision}",
        kind.label(),
        a.title
    );
    for t in ids {
        let list = township_list(conn, a.district_id, OrgId(t)).await?;
        let listed = local_items(conn, a.district_id, OrgId(t)).await?;
        let change = match kind {
            AdmissionKind::Admit | AdmissionKind::Adjust => Change::Upsert(Box::new(item.clone())),
            AdmissionKind::Withdraw if listed.contains_key(&item.code) => {
                Change::Remove(item.code.clone())
            }
            // Already gone from this township's list: nothing to withdraw there.
            AdmissionKind::Withdraw => continue,
        };
        catalog::apply_changes(
            conn,
            &list,
            actor,
            &reason,
            vec![change],
            catalog::ChangedBy::Process,
        )
        .await?;
    }
    store::decide_admission(conn, a.id, "approved", Some(&reference), now).await?;
    Ok(())
}

// ---------- figures ----------

/// What the delegation context adds to a list's figures.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
#[schema(as = DelegationCounts)]
pub struct Counts {
    /// Delegated powers the township holds now (for the district: grants in all).
    pub powers_received: i64,
    /// Applications under review or awaiting the decision.
    pub admissions_pending: i64,
    pub admissions_approved: i64,
    pub admissions_refused: i64,
}

/// Counts per township id, and for the whole district under key 0.
pub async fn counts(conn: &mut Conn<'_>, district: OrgId) -> Result<BTreeMap<i64, Counts>> {
    let mut out: BTreeMap<i64, Counts> = BTreeMap::new();
    for (township, n) in store::grants_per_township(conn, district).await? {
        out.entry(township).or_default().powers_received += n;
        out.entry(0).or_default().powers_received += n;
    }
    for (townships, state, outcome) in store::admission_outcomes(conn, district).await? {
        let ids: Vec<i64> = serde_json::from_str(&townships).unwrap_or_default();
        let bump = |c: &mut Counts| match (outcome.as_deref(), state.as_deref()) {
            (Some("approved"), _) => c.admissions_approved += 1,
            (Some("rejected"), _) => c.admissions_refused += 1,
            (_, Some("in_review" | "eo_passed" | "justice_passed" | "pending_decision")) => {
                c.admissions_pending += 1
            }
            _ => {}
        };
        bump(out.entry(0).or_default());
        for t in ids {
            bump(out.entry(t).or_default());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, dept: i64, state: &str, points: i64) -> InspectionRow {
        InspectionRow {
            id,
            department_id: OrgId(dept),
            department_name: format!("部门{dept}"),
            name: format!("指标{id}"),
            basis: String::new(),
            standard: String::new(),
            points_tenths: points,
            year: 2026,
            instance_id: None,
            state: Some(state.into()),
            created_at: Timestamp::now(),
            created_by: String::new(),
        }
    }

    #[test]
    fn the_inspection_report_counts_each_state_per_department_and_in_total() {
        let rows = vec![
            row(1, 1, "in_force", 25),
            row(2, 1, "retired", 10),
            row(3, 1, "proposed", 5),
            row(4, 2, "rejected", 5),
            row(5, 2, "withdrawn", 5),
            row(6, 2, "withdrawn", 5),
            row(7, 2, "in_force", 30),
        ];
        let report = inspection_report(&rows, &BTreeSet::from([5]));
        assert_eq!(report.len(), 3);
        let a = &report[0];
        assert_eq!(
            (a.proposed, a.approved, a.retired, a.pending),
            (4 - 1, 2, 1, 1)
        );
        assert_eq!(a.points(), "2.5");
        let b = &report[1];
        assert_eq!(
            (b.proposed, b.approved, b.rejected, b.withdrawn),
            (4, 2, 1, 2)
        );
        let total = &report[2];
        assert_eq!(total.department, "合计");
        assert_eq!((total.proposed, total.approved, total.retired), (7, 4, 1));
        assert_eq!(total.points_in_force, 55);
    }
}
