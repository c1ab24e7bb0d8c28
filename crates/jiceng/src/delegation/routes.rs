//! Pages and API of delegated powers, duty admission and inspection items. The process steps
//! themselves are taken on the work pages (`/work/{id}`, `/api/v1/work/{id}/actions`).

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::model::{self, AdmissionKind};
use super::store::{AdmissionRow, InspectionRow, PowerRow};
use super::{AdmissionDetail, HandoverDetail, InspectionReport, PowerDetail};
use crate::auth::Role;
use crate::catalog::model::{
    BASIS_SEPS, Category, ItemFields, ListKind, NAME_SEPS, NationalClass, Source, split_list,
};
use crate::catalog::routes::{download, file_bytes};
use crate::error::Error;
use crate::orgs::{self, OrgQuery, model::Org, model::OrgKind};
use crate::web::AppState;
use crate::web::access::{Access, Routes};
use crate::web::error::{ApiResult, PageResult, form_status};
use crate::web::extract::{FormBody, JsonBody, Path, Query, value, values};
use crate::web::page::{ApiCtx, Ctx, Pager, Shell, redirect_with};

const FILERS: Access = Access::Roles(&[Role::DepartmentOfficer, Role::EstablishmentOffice]);
const DEPARTMENTS: Access = Access::Roles(&[Role::DepartmentOfficer]);

pub fn routes() -> Routes {
    Routes::new()
        .get("/delegation/powers", Access::SignedIn, powers_page)
        .get("/delegation/powers/new", FILERS, power_new_page)
        .post("/delegation/powers", FILERS, power_submit)
        .get("/delegation/powers/{id}", Access::SignedIn, power_page)
        .post(
            "/delegation/powers/{id}/handovers",
            DEPARTMENTS,
            handover_submit,
        )
        .post(
            "/delegation/powers/{id}/supervision",
            DEPARTMENTS,
            supervision_submit,
        )
        .get(
            "/delegation/handovers/{id}",
            Access::SignedIn,
            handover_page,
        )
        .get("/delegation/admissions", Access::SignedIn, admissions_page)
        .get("/delegation/admissions/new", FILERS, admission_new_page)
        .post("/delegation/admissions", FILERS, admission_submit)
        .get(
            "/delegation/admissions/{id}",
            Access::SignedIn,
            admission_page,
        )
        .get(
            "/delegation/inspections",
            Access::SignedIn,
            inspections_page,
        )
        .post("/delegation/inspections", FILERS, inspection_submit)
        .get(
            "/delegation/inspections/export",
            Access::SignedIn,
            inspections_export,
        )
        .get(
            "/delegation/inspections/{id}",
            Access::SignedIn,
            inspection_page,
        )
        .get("/api/v1/delegation/powers", Access::SignedIn, api_powers)
        .post("/api/v1/delegation/powers", FILERS, api_power_create)
        .get(
            "/api/v1/delegation/powers/{id}",
            Access::SignedIn,
            api_power,
        )
        .post(
            "/api/v1/delegation/powers/{id}/handovers",
            DEPARTMENTS,
            api_handovers_create,
        )
        .post(
            "/api/v1/delegation/powers/{id}/supervision",
            DEPARTMENTS,
            api_supervision_create,
        )
        .get(
            "/api/v1/delegation/handovers/{id}",
            Access::SignedIn,
            api_handover,
        )
        .get(
            "/api/v1/delegation/admissions",
            Access::SignedIn,
            api_admissions,
        )
        .post(
            "/api/v1/delegation/admissions",
            FILERS,
            api_admission_create,
        )
        .get(
            "/api/v1/delegation/admissions/{id}",
            Access::SignedIn,
            api_admission,
        )
        .get(
            "/api/v1/delegation/inspections",
            Access::SignedIn,
            api_inspections,
        )
        .post(
            "/api/v1/delegation/inspections",
            FILERS,
            api_inspection_create,
        )
}

type Pairs = Vec<(String, String)>;

/// The active townships and departments of the principal's district, for choosers.
async fn choices(state: &AppState, ctx: &Ctx, kind: OrgKind) -> Result<Vec<Org>, Error> {
    Ok(orgs::list(
        &state.db,
        &ctx.principal,
        OrgQuery {
            kind: Some(kind),
            limit: 1000,
            ..Default::default()
        },
    )
    .await?
    .0
    .into_iter()
    .filter(Org::is_active)
    .collect())
}

fn this_year() -> i64 {
    crate::time::Timestamp::now().local_year()
}

fn ids(pairs: &Pairs, name: &str) -> Vec<i64> {
    values(pairs, name).filter_map(|v| v.parse().ok()).collect()
}

fn optional_id(pairs: &Pairs, name: &str) -> Option<i64> {
    value(pairs, name).trim().parse().ok()
}

/// Re-shows a form page with its error, in the error's status.
fn with_status(page: PageResult, error: Option<&Error>) -> PageResult {
    let mut resp = page?;
    *resp.status_mut() = form_status(error);
    Ok(resp)
}

/// Errors a user can correct on the form; anything else is an error page.
fn correctable(e: &Error) -> bool {
    matches!(
        e,
        Error::Invalid { .. } | Error::Conflict(_) | Error::Forbidden(_)
    )
}

// ---------- delegated powers ----------

/// Whether the delegation pages link a handover's, admission's or indicator's process page
/// (`/work/N`): the district's departments and offices open it; a township's people, who are
/// no party to these processes (but for their own handovers, on the handover page), see the
/// step it is at rather than a link they would be refused.
fn work_links(p: &crate::auth::Principal) -> bool {
    p.scope == crate::auth::Scope::District
}

#[derive(Template)]
#[template(path = "delegation/powers.html")]
struct PowersPage {
    shell: Shell,
    powers: Vec<PowerRow>,
    can_create: bool,
}

async fn powers_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    let powers = super::powers(&state.db, &ctx.principal)
        .await
        .map_err(|e| ctx.fail(e))?;
    ctx.render(&PowersPage {
        shell: ctx.shell("下放权力事项"),
        powers,
        can_create: ctx
            .principal
            .has_any(&[Role::DepartmentOfficer, Role::EstablishmentOffice]),
    })
}

#[derive(Template)]
#[template(path = "delegation/power_form.html")]
struct PowerForm {
    shell: Shell,
    error: Option<String>,
    f: Pairs,
    categories: Vec<Category>,
    departments: Vec<Org>,
    choose_department: bool,
}

impl PowerForm {
    fn v(&self, name: &str) -> &str {
        value(&self.f, name)
    }
}

async fn render_power_form(
    state: &AppState,
    ctx: &Ctx,
    f: Pairs,
    error: Option<Error>,
) -> PageResult {
    let choose_department = !ctx.principal.has(Role::DepartmentOfficer);
    let departments = if choose_department {
        choices(state, ctx, OrgKind::Department)
            .await
            .map_err(|e| ctx.fail(e))?
    } else {
        Vec::new()
    };
    with_status(
        ctx.render(&PowerForm {
            shell: ctx.shell("新增下放事项"),
            error: error.as_ref().map(ToString::to_string),
            f,
            categories: Category::ALL
                .iter()
                .copied()
                .filter(|c| c.is_power())
                .collect(),
            departments,
            choose_department,
        }),
        error.as_ref(),
    )
}

async fn power_new_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    render_power_form(&state, &ctx, Vec::new(), None).await
}

fn power_input(f: &Pairs) -> model::PowerInput {
    let v = |n: &str| value(f, n).to_owned();
    model::PowerInput {
        department_id: optional_id(f, "department_id"),
        code: v("code"),
        name: v("name"),
        category: v("category"),
        legal_basis: v("legal_basis"),
        content: v("content"),
        resp_accept: v("resp_accept"),
        resp_review: v("resp_review"),
        resp_decide: v("resp_decide"),
        resp_deliver: v("resp_deliver"),
        resp_supervise: v("resp_supervise"),
        accountability: v("accountability"),
        lead_office: v("lead_office"),
        phone: v("phone"),
        effective_date: v("effective_date"),
    }
}

async fn power_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<Pairs>,
) -> PageResult {
    match super::create_power(&state.db, &ctx.principal, &ctx.actor, power_input(&f)).await {
        Ok(id) => Ok(redirect_with(
            &format!("/delegation/powers/{id}"),
            "下放事项已登记，可起草交接书",
        )),
        Err(e) if correctable(&e) => render_power_form(&state, &ctx, f, Some(e)).await,
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Template)]
#[template(path = "delegation/power.html")]
struct PowerPage {
    shell: Shell,
    /// Whether to link the process page ([`work_links`]).
    work_links: bool,
    d: PowerDetail,
    /// The handovers with their state's label.
    handovers: Vec<(super::store::HandoverRow, String)>,
    item: ItemFields,
    error: Option<String>,
    speaks_for: bool,
    townships: Vec<Org>,
    kinds: &'static [&'static str],
    today: String,
}

async fn render_power(state: &AppState, ctx: &Ctx, id: i64, error: Option<Error>) -> PageResult {
    let d = super::power_detail(&state.db, &ctx.principal, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let speaks_for = super::speaks_for(&ctx.principal, d.power.department_id);
    let townships = if speaks_for {
        choices(state, ctx, OrgKind::Township)
            .await
            .map_err(|e| ctx.fail(e))?
    } else {
        Vec::new()
    };
    let now = crate::time::Timestamp::now().local();
    let handovers = d
        .handovers
        .iter()
        .map(|h| {
            let label = state_label(state, super::HANDOVER_PROCESS, h.state.as_deref());
            (h.clone(), label)
        })
        .collect();
    with_status(
        ctx.render(&PowerPage {
            shell: ctx.shell(&d.power.name),
            work_links: work_links(&ctx.principal),
            handovers,
            item: d.item.clone(),
            d,
            error: error.as_ref().map(ToString::to_string),
            speaks_for,
            townships,
            kinds: model::SUPERVISION_KINDS,
            today: now.get(..10).unwrap_or("").to_owned(),
        }),
        error.as_ref(),
    )
}

async fn power_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    render_power(&state, &ctx, id, None).await
}

fn handover_input(f: &Pairs) -> model::HandoverInput {
    model::HandoverInput {
        direction: value(f, "direction").to_owned(),
        townships: ids(f, "townships"),
        files: value(f, "files").to_owned(),
        training: value(f, "training").to_owned(),
        staff: value(f, "staff").to_owned(),
        supervision: value(f, "supervision").to_owned(),
    }
}

async fn handover_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<Pairs>,
) -> PageResult {
    match super::draft_handovers(
        &state.db,
        &state.processes,
        &ctx.principal,
        &ctx.actor,
        id,
        handover_input(&f),
    )
    .await
    {
        Ok(made) => Ok(redirect_with(
            &format!("/delegation/powers/{id}"),
            &format!("已起草 {} 份交接书，请逐份提交乡镇（街道）", made.len()),
        )),
        Err(e) if correctable(&e) => render_power(&state, &ctx, id, Some(e)).await,
        Err(e) => Err(ctx.fail(e)),
    }
}

fn supervision_input(f: &Pairs) -> model::SupervisionInput {
    model::SupervisionInput {
        township_id: optional_id(f, "township_id"),
        kind: value(f, "kind").to_owned(),
        happened_on: value(f, "happened_on").to_owned(),
        content: value(f, "content").to_owned(),
    }
}

async fn supervision_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<Pairs>,
) -> PageResult {
    match super::record_supervision(
        &state.db,
        &ctx.principal,
        &ctx.actor,
        id,
        supervision_input(&f),
    )
    .await
    {
        Ok(_) => Ok(redirect_with(
            &format!("/delegation/powers/{id}"),
            "指导监督记录已保存",
        )),
        Err(e) if correctable(&e) => render_power(&state, &ctx, id, Some(e)).await,
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Template)]
#[template(path = "delegation/handover.html")]
struct HandoverPage {
    shell: Shell,
    d: HandoverDetail,
    state_label: String,
    reference: String,
}

async fn handover_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let d = super::handover_detail(&state.db, &ctx.principal, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    ctx.render(&HandoverPage {
        shell: ctx.shell(&model::handover_reference(d.handover.id)),
        state_label: state_label(&state, super::HANDOVER_PROCESS, d.handover.state.as_deref()),
        reference: model::handover_reference(d.handover.id),
        d,
    })
}

// ---------- duty admission ----------

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    pub page: Option<u32>,
}

#[derive(Template)]
#[template(path = "delegation/admissions.html")]
struct AdmissionsPage {
    shell: Shell,
    /// Whether to link the process page ([`work_links`]).
    work_links: bool,
    rows: Vec<AdmissionRow>,
    pager: Pager,
    can_file: bool,
}

const PER_PAGE: u32 = 30;

async fn admissions_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let page = q.page.unwrap_or(1).max(1);
    let (rows, total) = super::admissions(&state.db, &ctx.principal, page, PER_PAGE)
        .await
        .map_err(|e| ctx.fail(e))?;
    ctx.render(&AdmissionsPage {
        shell: ctx.shell("事务准入"),
        work_links: work_links(&ctx.principal),
        rows,
        pager: Pager::new(page, PER_PAGE, total, String::new()),
        can_file: ctx
            .principal
            .has_any(&[Role::DepartmentOfficer, Role::EstablishmentOffice]),
    })
}

#[derive(Template)]
#[template(path = "delegation/admission_form.html")]
struct AdmissionForm {
    shell: Shell,
    error: Option<String>,
    f: Pairs,
    kinds: [AdmissionKind; 3],
    lists: &'static [ListKind],
    classes: &'static [NationalClass],
    categories: &'static [Category],
    sources: &'static [Source],
    townships: Vec<Org>,
    departments: Vec<Org>,
    choose_department: bool,
}

impl AdmissionForm {
    fn v(&self, name: &str) -> &str {
        value(&self.f, name)
    }

    fn ticked(&self, township: &Org) -> bool {
        let id = township.id.0.to_string();
        values(&self.f, "townships").any(|v| v == id)
    }
}

async fn render_admission_form(
    state: &AppState,
    ctx: &Ctx,
    f: Pairs,
    error: Option<Error>,
) -> PageResult {
    let choose_department = !ctx.principal.has(Role::DepartmentOfficer);
    let departments = if choose_department {
        choices(state, ctx, OrgKind::Department)
            .await
            .map_err(|e| ctx.fail(e))?
    } else {
        Vec::new()
    };
    let townships = choices(state, ctx, OrgKind::Township)
        .await
        .map_err(|e| ctx.fail(e))?;
    with_status(
        ctx.render(&AdmissionForm {
            shell: ctx.shell("事务准入申请"),
            error: error.as_ref().map(ToString::to_string),
            f,
            kinds: AdmissionKind::ALL,
            lists: ListKind::ALL,
            classes: NationalClass::ALL,
            categories: Category::ALL,
            sources: Source::ALL,
            townships,
            departments,
            choose_department,
        }),
        error.as_ref(),
    )
}

async fn admission_new_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    render_admission_form(&state, &ctx, Vec::new(), None).await
}

/// Reads the form's item; a choice left unset becomes a reason on the form, not a default.
fn admission_input(f: &Pairs) -> Result<model::AdmissionInput, Error> {
    let v = |n: &str| value(f, n).trim().to_owned();
    let kind = v("kind");
    let withdraw = kind == AdmissionKind::Withdraw.as_str();
    let pick = |name: &str, label: &str| -> Result<String, Error> {
        let s = v(name);
        if s.is_empty() && !withdraw {
            Err(Error::invalid(name, format!("请选择{label}")))
        } else {
            Ok(s)
        }
    };
    let list_kind = ListKind::parse(&pick("list_kind", "清单")?).unwrap_or(ListKind::Duties);
    let national_class = NationalClass::parse(&pick("national_class", "全国清单分类")?)
        .unwrap_or(NationalClass::Basic);
    let category = Category::parse(&pick("category", "事项类别")?).unwrap_or(Category::OtherDuty);
    let source = Source::parse(&pick("source", "来源")?).unwrap_or(Source::Other);
    Ok(model::AdmissionInput {
        department_id: optional_id(f, "department_id"),
        kind,
        title: v("title"),
        item: ItemFields {
            code: v("code"),
            name: v("name"),
            list_kind,
            national_class,
            category,
            source,
            legal_basis: split_list(&v("legal_basis"), BASIS_SEPS),
            content: v("content"),
            resp_accept: String::new(),
            resp_review: String::new(),
            resp_decide: String::new(),
            resp_deliver: String::new(),
            resp_supervise: String::new(),
            resp_other: String::new(),
            accountability: String::new(),
            lead_office: v("lead_office"),
            cooperating: split_list(&v("cooperating"), NAME_SEPS),
            responsible_person: v("responsible_person"),
            phone: v("phone"),
            township_duty: v("township_duty"),
            lead_department: v("lead_department"),
            department_duty: v("department_duty"),
            returned_to: v("returned_to"),
            reference: String::new(),
        },
        funding: v("funding"),
        staffing: v("staffing"),
        reasons: v("reasons"),
        townships: ids(f, "townships"),
    })
}

async fn admission_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<Pairs>,
) -> PageResult {
    let filed = match admission_input(&f) {
        Ok(input) => {
            super::file_admission(
                &state.db,
                &state.processes,
                &ctx.principal,
                &ctx.actor,
                input,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match filed {
        Ok(id) => Ok(redirect_with(
            &format!("/delegation/admissions/{id}"),
            "申请已保存，请提交审查",
        )),
        Err(e) if correctable(&e) => render_admission_form(&state, &ctx, f, Some(e)).await,
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Template)]
#[template(path = "delegation/admission.html")]
struct AdmissionPage {
    shell: Shell,
    /// Whether to link the process page ([`work_links`]).
    work_links: bool,
    d: AdmissionDetail,
    item: ItemFields,
    state_label: String,
}

fn state_label(state: &AppState, process: &str, id: Option<&str>) -> String {
    id.and_then(|s| {
        state
            .processes
            .get(process)
            .and_then(|d| d.state(s))
            .map(|st| st.label.clone())
    })
    .unwrap_or_else(|| "—".to_owned())
}

async fn admission_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> PageResult {
    let d = super::admission_detail(&state.db, &ctx.principal, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    ctx.render(&AdmissionPage {
        shell: ctx.shell(&d.admission.title),
        work_links: work_links(&ctx.principal),
        item: d.item.clone(),
        state_label: state_label(
            &state,
            super::ADMISSION_PROCESS,
            d.admission.state.as_deref(),
        ),
        d,
    })
}

// ---------- inspection items ----------

#[derive(Deserialize, utoipa::IntoParams)]
pub struct YearQuery {
    pub year: Option<i64>,
    /// xlsx | csv, for exports.
    pub format: Option<String>,
}

/// The year asked for by the API, which answers JSON (the export is at
/// `/delegation/inspections/export`).
#[derive(Deserialize, utoipa::IntoParams)]
pub struct ApiYearQuery {
    pub year: Option<i64>,
}

#[derive(Template)]
#[template(path = "delegation/inspections.html")]
struct InspectionsPage {
    shell: Shell,
    /// Whether to link the process page ([`work_links`]).
    work_links: bool,
    year: i64,
    years: Vec<i64>,
    rows: Vec<(InspectionRow, String)>,
    report: Vec<InspectionReport>,
    error: Option<String>,
    can_propose: bool,
    departments: Vec<Org>,
    choose_department: bool,
    f: Pairs,
}

impl InspectionsPage {
    fn v(&self, name: &str) -> &str {
        value(&self.f, name)
    }
}

async fn render_inspections(
    state: &AppState,
    ctx: &Ctx,
    year: i64,
    f: Pairs,
    error: Option<Error>,
) -> PageResult {
    let (rows, report) = super::inspection_report_for(&state.db, &ctx.principal, year)
        .await
        .map_err(|e| ctx.fail(e))?;
    let rows = rows
        .into_iter()
        .map(|r| {
            let label = state_label(state, super::INSPECTION_PROCESS, r.state.as_deref());
            (r, label)
        })
        .collect();
    let p = &ctx.principal;
    let choose_department = p.has(Role::EstablishmentOffice) && !p.has(Role::DepartmentOfficer);
    let departments = if choose_department {
        choices(state, ctx, OrgKind::Department)
            .await
            .map_err(|e| ctx.fail(e))?
    } else {
        Vec::new()
    };
    let now = this_year();
    with_status(
        ctx.render(&InspectionsPage {
            shell: ctx.shell("考核事项"),
            work_links: work_links(&ctx.principal),
            year,
            years: vec![now - 1, now, now + 1],
            rows,
            report,
            error: error.as_ref().map(ToString::to_string),
            can_propose: p.has_any(&[Role::DepartmentOfficer, Role::EstablishmentOffice]),
            departments,
            choose_department,
            f,
        }),
        error.as_ref(),
    )
}

async fn inspections_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<YearQuery>,
) -> PageResult {
    render_inspections(
        &state,
        &ctx,
        q.year.unwrap_or_else(this_year),
        Vec::new(),
        None,
    )
    .await
}

fn inspection_input(f: &Pairs) -> model::InspectionInput {
    model::InspectionInput {
        department_id: optional_id(f, "department_id"),
        name: value(f, "name").to_owned(),
        basis: value(f, "basis").to_owned(),
        standard: value(f, "standard").to_owned(),
        points: value(f, "points").to_owned(),
        year: value(f, "year").trim().parse().unwrap_or(0),
    }
}

async fn inspection_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<Pairs>,
) -> PageResult {
    let input = inspection_input(&f);
    let year = if input.year == 0 {
        this_year()
    } else {
        input.year
    };
    match super::propose_inspection(
        &state.db,
        &state.processes,
        &ctx.principal,
        &ctx.actor,
        input,
    )
    .await
    {
        Ok(_) => Ok(redirect_with(
            &format!("/delegation/inspections?year={year}"),
            "考核指标已报送编办审核",
        )),
        Err(e) if correctable(&e) => {
            render_inspections(&state, &ctx, this_year(), f, Some(e)).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

async fn inspections_export(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<YearQuery>,
) -> Result<Response, crate::web::error::PageError> {
    let year = q.year.unwrap_or_else(this_year);
    let (_, report) = super::inspection_report_for(&state.db, &ctx.principal, year)
        .await
        .map_err(|e| ctx.fail(e))?;
    let header = [
        "部门",
        "报送指标数",
        "批准数",
        "不予批准数",
        "清理数",
        "撤回数",
        "待审核数",
        "现行指标数",
        "现行分值",
    ];
    let rows: Vec<Vec<String>> = report
        .iter()
        .map(|r| {
            vec![
                r.department.clone(),
                r.proposed.to_string(),
                r.approved.to_string(),
                r.rejected.to_string(),
                r.retired.to_string(),
                r.withdrawn.to_string(),
                r.pending.to_string(),
                r.in_force.to_string(),
                r.points(),
            ]
        })
        .collect();
    let (bytes, ct, ext) = file_bytes(
        q.format.as_deref(),
        "考核事项",
        &header,
        &rows,
        crate::catalog::io::Cells::Figures,
    )
    .map_err(|e| ctx.fail(e))?;
    Ok(download(&format!("考核事项统计-{year}.{ext}"), ct, bytes))
}

#[derive(Template)]
#[template(path = "delegation/inspection.html")]
struct InspectionPage {
    shell: Shell,
    /// Whether to link the process page ([`work_links`]).
    work_links: bool,
    r: InspectionRow,
    state_label: String,
}

async fn inspection_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> PageResult {
    let r = super::inspection(&state.db, &ctx.principal, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    ctx.render(&InspectionPage {
        shell: ctx.shell(&r.name),
        work_links: work_links(&ctx.principal),
        state_label: state_label(&state, super::INSPECTION_PROCESS, r.state.as_deref()),
        r,
    })
}

// ---------- API ----------

#[utoipa::path(get, path = "/api/v1/delegation/powers", tag = "下放权力与事务准入", responses((status = 200, body = Vec<PowerRow>)))]
pub async fn api_powers(
    State(state): State<AppState>,
    ctx: ApiCtx,
) -> ApiResult<Json<Vec<PowerRow>>> {
    Ok(Json(super::powers(&state.db, &ctx.principal).await?))
}

#[utoipa::path(post, path = "/api/v1/delegation/powers", tag = "下放权力与事务准入", request_body = model::PowerInput,
    responses((status = 201, body = PowerDetail), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_power_create(
    State(state): State<AppState>,
    ctx: ApiCtx,
    JsonBody(input): JsonBody<model::PowerInput>,
) -> ApiResult<(axum::http::StatusCode, Json<PowerDetail>)> {
    let id = super::create_power(&state.db, &ctx.principal, &ctx.actor, input).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(super::power_detail(&state.db, &ctx.principal, id).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/delegation/powers/{id}", tag = "下放权力与事务准入", params(("id" = i64, Path)),
    responses((status = 200, body = PowerDetail), (status = 404, body = crate::web::error::ErrorBody)))]
pub async fn api_power(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
) -> ApiResult<Json<PowerDetail>> {
    Ok(Json(
        super::power_detail(&state.db, &ctx.principal, id).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/delegation/powers/{id}/handovers", tag = "下放权力与事务准入", params(("id" = i64, Path)),
    request_body = model::HandoverInput,
    responses((status = 201, body = Vec<HandoverDetail>), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn api_handovers_create(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(input): JsonBody<model::HandoverInput>,
) -> ApiResult<(axum::http::StatusCode, Json<Vec<HandoverDetail>>)> {
    let made = super::draft_handovers(
        &state.db,
        &state.processes,
        &ctx.principal,
        &ctx.actor,
        id,
        input,
    )
    .await?;
    let mut out = Vec::new();
    for h in made {
        out.push(super::handover_detail(&state.db, &ctx.principal, h).await?);
    }
    Ok((axum::http::StatusCode::CREATED, Json(out)))
}

#[utoipa::path(post, path = "/api/v1/delegation/powers/{id}/supervision", tag = "下放权力与事务准入", params(("id" = i64, Path)),
    request_body = model::SupervisionInput, responses((status = 201, body = PowerDetail)))]
pub async fn api_supervision_create(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(input): JsonBody<model::SupervisionInput>,
) -> ApiResult<(axum::http::StatusCode, Json<PowerDetail>)> {
    super::record_supervision(&state.db, &ctx.principal, &ctx.actor, id, input).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(super::power_detail(&state.db, &ctx.principal, id).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/delegation/handovers/{id}", tag = "下放权力与事务准入", params(("id" = i64, Path)),
    responses((status = 200, body = HandoverDetail)))]
pub async fn api_handover(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
) -> ApiResult<Json<HandoverDetail>> {
    Ok(Json(
        super::handover_detail(&state.db, &ctx.principal, id).await?,
    ))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AdmissionPageJson {
    pub items: Vec<AdmissionRow>,
    pub total: i64,
    pub page: u32,
}

#[utoipa::path(get, path = "/api/v1/delegation/admissions", tag = "下放权力与事务准入", params(PageQuery),
    responses((status = 200, body = AdmissionPageJson)))]
pub async fn api_admissions(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<AdmissionPageJson>> {
    let page = q.page.unwrap_or(1).max(1);
    let (items, total) = super::admissions(&state.db, &ctx.principal, page, PER_PAGE).await?;
    Ok(Json(AdmissionPageJson { items, total, page }))
}

#[utoipa::path(post, path = "/api/v1/delegation/admissions", tag = "下放权力与事务准入", request_body = model::AdmissionInput,
    responses((status = 201, body = AdmissionDetail), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_admission_create(
    State(state): State<AppState>,
    ctx: ApiCtx,
    JsonBody(input): JsonBody<model::AdmissionInput>,
) -> ApiResult<(axum::http::StatusCode, Json<AdmissionDetail>)> {
    let id = super::file_admission(
        &state.db,
        &state.processes,
        &ctx.principal,
        &ctx.actor,
        input,
    )
    .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(super::admission_detail(&state.db, &ctx.principal, id).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/delegation/admissions/{id}", tag = "下放权力与事务准入", params(("id" = i64, Path)),
    responses((status = 200, body = AdmissionDetail)))]
pub async fn api_admission(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
) -> ApiResult<Json<AdmissionDetail>> {
    Ok(Json(
        super::admission_detail(&state.db, &ctx.principal, id).await?,
    ))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct InspectionsJson {
    pub year: i64,
    pub items: Vec<InspectionRow>,
    pub report: Vec<InspectionReport>,
}

#[utoipa::path(get, path = "/api/v1/delegation/inspections", tag = "下放权力与事务准入", params(ApiYearQuery),
    responses((status = 200, body = InspectionsJson)))]
pub async fn api_inspections(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Query(q): Query<ApiYearQuery>,
) -> ApiResult<Json<InspectionsJson>> {
    let year = q.year.unwrap_or_else(this_year);
    let (items, report) = super::inspection_report_for(&state.db, &ctx.principal, year).await?;
    Ok(Json(InspectionsJson {
        year,
        items,
        report,
    }))
}

#[utoipa::path(post, path = "/api/v1/delegation/inspections", tag = "下放权力与事务准入", request_body = model::InspectionInput,
    responses((status = 201, body = InspectionRow), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_inspection_create(
    State(state): State<AppState>,
    ctx: ApiCtx,
    JsonBody(input): JsonBody<model::InspectionInput>,
) -> ApiResult<(axum::http::StatusCode, Json<InspectionRow>)> {
    let id = super::propose_inspection(
        &state.db,
        &state.processes,
        &ctx.principal,
        &ctx.actor,
        input,
    )
    .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(super::inspection(&state.db, &ctx.principal, id).await?),
    ))
}
