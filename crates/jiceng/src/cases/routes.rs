//! Case pages (staff and public) and the JSON API. Handlers parse, call the domain, render.

use std::sync::Arc;

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::model::{self, CategoryFields, Rating, Source, Upload, Urgency};
use super::store::{CaseFilter, CaseListRow, Settings};
use super::{Acted, CaseAction, CaseDetail, Created, NewCase, PublicView, Rated, Rater, Reporter};
use crate::auth::{self, Role};
use crate::catalog;
use crate::error::Error;
use crate::ids::{CaseId, OrgId};
use crate::orgs::model::Org;
use crate::time::Timestamp;
use crate::web::AppState;
use crate::web::access::{Access, PRE_CSRF_COOKIE, Routes};
use crate::web::error::{ApiResult, PageError, PageResult, form_status};
use crate::web::extract::{FormBody, JsonBody, Path, Query, value};
use crate::web::page::{
    ApiCtx, Ctx, MaybeCtx, Pager, Shell, query_string, redirect_with, render_with_flash,
};

const VIEWERS: Access = Access::Roles(&[
    Role::Dispatcher,
    Role::TownshipLeader,
    Role::TownshipOfficer,
    Role::StationHead,
    Role::DepartmentOfficer,
    Role::GridWorker,
]);
const INTAKE: Access = Access::Roles(&[Role::Dispatcher, Role::TownshipOfficer, Role::GridWorker]);
const ACTORS: Access = Access::Roles(&[
    Role::Dispatcher,
    Role::StationHead,
    Role::TownshipOfficer,
    Role::DepartmentOfficer,
    Role::GridWorker,
]);
const DISPATCHER: Access = Access::Roles(&[Role::Dispatcher]);
/// Who reads the metrics and the departments' summons assessment.
const METRICS_VIEWERS: Access = Access::Roles(&[
    Role::Dispatcher,
    Role::TownshipLeader,
    Role::TownshipOfficer,
    Role::StationHead,
    Role::DepartmentOfficer,
    Role::EstablishmentOffice,
]);
/// Who opens parts: the dispatcher (all kinds) and township leaders (summons).
const PART_OPENERS: Access = Access::Roles(&[Role::Dispatcher, Role::TownshipLeader]);
/// Who acts on parts: the units asked, and the township that rates a summons.
const PART_ACTORS: Access = Access::Roles(&[
    Role::Dispatcher,
    Role::TownshipLeader,
    Role::StationHead,
    Role::TownshipOfficer,
    Role::DepartmentOfficer,
]);
const CATEGORY_EDITORS: Access = Access::Roles(&[Role::EstablishmentOffice]);

// The intake and report forms and their APIs take every attachment a case may carry in one
// request; in JSON, base64 makes four bytes of three.
const _: () = assert!(
    crate::web::MAX_UPLOAD_BYTES > model::MAX_ATTACHMENTS * model::MAX_ATTACHMENT_BYTES * 4 / 3
);

pub fn routes() -> Routes {
    Routes::new()
        .get("/cases", VIEWERS, list_page)
        .get("/cases/export.csv", VIEWERS, export_csv)
        .get("/cases/new", INTAKE, new_page)
        .upload("/cases", INTAKE, intake_submit)
        .upload("/cases/import", DISPATCHER, import_submit)
        .get("/cases/categories", Access::SignedIn, categories_page)
        .post("/cases/categories", CATEGORY_EDITORS, category_submit)
        .post("/cases/settings", CATEGORY_EDITORS, settings_submit)
        .get("/cases/attachments/{id}", VIEWERS, attachment)
        .get("/cases/{id}", VIEWERS, detail_page)
        .upload("/cases/{id}/act", ACTORS, act_submit)
        .post("/cases/{id}/merge", DISPATCHER, merge_submit)
        .post("/cases/{id}/classify", DISPATCHER, classify_submit)
        .post("/cases/{id}/rate", DISPATCHER, rate_submit)
        .post("/cases/{id}/parts", PART_OPENERS, part_open_submit)
        .get("/cases/metrics", METRICS_VIEWERS, metrics_page)
        .get("/cases/metrics.xlsx", METRICS_VIEWERS, metrics_export)
        .get("/cases/summons", METRICS_VIEWERS, summons_page)
        .post("/cases/parts/{id}/act", PART_ACTORS, part_act_submit)
        .get("/public/cases/new", Access::Public, public_new)
        .upload("/public/cases", Access::Public, public_submit)
        .get("/public/cases/received", Access::Public, public_received)
        .get("/public/cases/track", Access::Public, public_track)
        .post("/public/cases/rate", Access::Public, public_rate)
        .get("/api/v1/cases", VIEWERS, api_list)
        .upload("/api/v1/cases", INTAKE, api_intake)
        .checked_in_write()
        .get("/api/v1/cases/categories", Access::SignedIn, api_categories)
        .post(
            "/api/v1/cases/categories",
            CATEGORY_EDITORS,
            api_add_category,
        )
        .put(
            "/api/v1/cases/categories/{code}",
            CATEGORY_EDITORS,
            api_update_category,
        )
        .get("/api/v1/cases/{id}", VIEWERS, api_detail)
        .upload("/api/v1/cases/{id}/actions", ACTORS, api_act)
        .post("/api/v1/cases/{id}/merge", DISPATCHER, api_merge)
        .post("/api/v1/cases/{id}/classify", DISPATCHER, api_classify)
        .post("/api/v1/cases/{id}/rating", DISPATCHER, api_rate)
        .post("/api/v1/cases/{id}/parts", PART_OPENERS, api_open_part)
        .get("/api/v1/cases/metrics", METRICS_VIEWERS, api_metrics)
        .get("/api/v1/cases/summons", METRICS_VIEWERS, api_summons)
        .post(
            "/api/v1/cases/parts/{id}/actions",
            PART_ACTORS,
            api_act_part,
        )
        .upload("/api/v1/public/cases", Access::Public, api_public_intake)
        .get("/api/v1/public/cases/{code}", Access::Public, api_track)
        .post(
            "/api/v1/public/cases/{code}/rating",
            Access::Public,
            api_public_rate,
        )
}

const PER_PAGE: u32 = 30;

fn district_of(p: &crate::auth::Principal) -> OrgId {
    catalog::district_of(&p.org)
}

/// Text fields and files of a multipart form.
struct Parts {
    fields: Vec<(String, String)>,
    files: Vec<Upload>,
}

impl Parts {
    fn get(&self, name: &str) -> &str {
        value(&self.fields, name)
    }
}

async fn read_parts(mp: Result<Multipart, MultipartRejection>) -> Result<Parts, Error> {
    let mut mp =
        mp.map_err(|_| Error::invalid("form", "请通过页面表单提交（multipart/form-data）"))?;
    let mut parts = Parts {
        fields: Vec::new(),
        files: Vec::new(),
    };
    loop {
        match mp.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                let filename = field.file_name().map(str::to_owned);
                let data = field
                    .bytes()
                    .await
                    .map_err(|_| Error::invalid("attachments", "上传的文件无法读取或过大"))?;
                match filename {
                    Some(f) if name == "attachments" || name == "file" => {
                        parts.files.push(Upload {
                            filename: f,
                            bytes: data.to_vec(),
                        })
                    }
                    _ => parts
                        .fields
                        .push((name, String::from_utf8_lossy(&data).into_owned())),
                }
            }
            Ok(None) => return Ok(parts),
            Err(_) => return Err(Error::invalid("form", "提交的内容无法读取")),
        }
    }
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The text of a multipart form, checked as the JSON and form readers check theirs: after
/// reading rather than while, so that a refusal re-shows what was typed.
fn check_parts(parts: &Parts) -> Result<(), Error> {
    crate::typed::check_fields(&parts.fields)?;
    for f in &parts.files {
        crate::typed::check_typed("attachments", &f.filename)?;
    }
    Ok(())
}

fn new_case_from(parts: &Parts) -> Result<NewCase, Error> {
    check_parts(parts)?;
    let source = match parts.get("source").trim() {
        "" => None,
        s => Some(Source::parse(s).ok_or_else(|| Error::invalid("source", "案件来源无效"))?),
    };
    let urgency = match parts.get("urgency").trim() {
        "" => None,
        s => Some(Urgency::parse(s).ok_or_else(|| Error::invalid("urgency", "紧急程度无效"))?),
    };
    let grid_id = match parts.get("grid_id").trim() {
        "" => None,
        s => Some(OrgId(
            s.parse()
                .map_err(|_| Error::invalid("grid", "请选择网格"))?,
        )),
    };
    Ok(NewCase {
        source,
        township_code: opt(parts.get("township_code")),
        grid_id,
        category_code: parts.get("category").to_owned(),
        urgency,
        description: parts.get("description").to_owned(),
        address: parts.get("address").to_owned(),
        lon: parts.get("lon").to_owned(),
        lat: parts.get("lat").to_owned(),
        reporter_name: parts.get("reporter_name").to_owned(),
        reporter_phone: parts.get("reporter_phone").to_owned(),
        external_ref: opt(parts.get("external_ref")),
        attachments: parts.files.clone(),
        ..NewCase::default()
    })
}

/// Keeps what the user typed when a form comes back with an error.
#[derive(Default, Clone)]
struct Typed {
    source: String,
    township_code: String,
    grid_id: String,
    category: String,
    urgency: String,
    description: String,
    address: String,
    lon: String,
    lat: String,
    reporter_name: String,
    reporter_phone: String,
    external_ref: String,
}

impl Typed {
    fn from(parts: &Parts) -> Typed {
        Typed {
            source: parts.get("source").to_owned(),
            township_code: parts.get("township_code").to_owned(),
            grid_id: parts.get("grid_id").to_owned(),
            category: parts.get("category").to_owned(),
            urgency: parts.get("urgency").to_owned(),
            description: parts.get("description").to_owned(),
            address: parts.get("address").to_owned(),
            lon: parts.get("lon").to_owned(),
            lat: parts.get("lat").to_owned(),
            reporter_name: parts.get("reporter_name").to_owned(),
            reporter_phone: parts.get("reporter_phone").to_owned(),
            external_ref: parts.get("external_ref").to_owned(),
        }
    }
}

fn with_status(mut resp: Response, status: StatusCode) -> Response {
    *resp.status_mut() = status;
    resp
}

// ---------- list and export ----------

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Words in the description or address.
    pub q: Option<String>,
    /// Ticket state: pending, dispatched, handling, checking, closed, merged, dismissed.
    pub status: Option<String>,
    /// A category code (0102) or a major (01).
    pub category: Option<String>,
    pub source: Option<String>,
    pub grid: Option<i64>,
    /// `1` for overdue cases only.
    pub overdue: Option<String>,
    pub page: Option<u32>,
}

impl ListQuery {
    /// The filter asked for; a status or source the list does not know is refused by name
    /// rather than answered with an empty list.
    fn filter(&self, limit: i64, offset: i64) -> Result<CaseFilter, Error> {
        if let Some(s) = self.status.as_deref().filter(|s| !s.is_empty())
            && !STATES.iter().any(|(id, _)| *id == s)
        {
            return Err(Error::invalid("status", format!("未知的案件状态「{s}」")));
        }
        if let Some(s) = self.source.as_deref().filter(|s| !s.is_empty())
            && Source::parse(s).is_none()
        {
            return Err(Error::invalid("source", format!("未知的案件来源「{s}」")));
        }
        Ok(CaseFilter {
            q: self.q.clone(),
            status: self.status.clone(),
            category: self.category.clone(),
            source: self.source.clone(),
            grid: self.grid.map(OrgId),
            overdue: self.overdue.as_deref() == Some("1"),
            limit,
            offset,
        })
    }

    fn query(&self) -> String {
        let grid = self.grid.map(|g| g.to_string());
        query_string(&[
            ("q", self.q.as_deref()),
            ("status", self.status.as_deref()),
            ("category", self.category.as_deref()),
            ("source", self.source.as_deref()),
            ("grid", grid.as_deref()),
            ("overdue", self.overdue.as_deref()),
        ])
    }
}

pub struct Row {
    pub r: CaseListRow,
    pub number: String,
    pub source_label: String,
    pub state_label: String,
    pub urgent: bool,
}

fn rows(state: &AppState, list: Vec<CaseListRow>) -> Vec<Row> {
    list.into_iter()
        .map(|r| Row {
            number: super::number(r.id, r.created_at),
            source_label: Source::parse(&r.source)
                .map(|s| s.label().to_owned())
                .unwrap_or_default(),
            state_label: super::state_label(&state.processes, &r.state),
            urgent: r.urgency == "urgent",
            r,
        })
        .collect()
}

const STATES: &[(&str, &str)] = &[
    ("pending", "待派遣"),
    ("dispatched", "已派遣"),
    ("handling", "处置中"),
    ("checking", "待核查"),
    ("closed", "已结案"),
    ("merged", "已合并"),
    ("dismissed", "不予立案"),
    ("referred", "已移送"),
];

#[derive(Template)]
#[template(path = "cases/list.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<Row>,
    pager: Pager,
    q: ListQuery,
    query: String,
    states: &'static [(&'static str, &'static str)],
    sources: &'static [Source],
    categories: Vec<CategoryFields>,
    grids: Vec<Org>,
    may_intake: bool,
    may_see_metrics: bool,
}

impl ListPage {
    /// Whether a filter holds this value, for `selected` in the filter form.
    fn is(&self, current: &Option<String>, v: impl AsRef<str>) -> bool {
        current.as_deref() == Some(v.as_ref())
    }

    fn is_grid(&self, id: impl std::borrow::Borrow<i64>) -> bool {
        self.q.grid == Some(*id.borrow())
    }
}

async fn township_grids(state: &AppState, p: &crate::auth::Principal) -> Result<Vec<Org>, Error> {
    match &p.scope {
        crate::auth::Scope::Township { township_id, .. } => {
            let t = crate::orgs::get_visible(&state.db, p, *township_id).await?;
            super::grids_of(&state.db, &t).await
        }
        crate::auth::Scope::District => Ok(Vec::new()),
    }
}

async fn list_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let page = q.page.unwrap_or(1).max(1);
    let f = q
        .filter(
            i64::from(PER_PAGE),
            i64::from(page - 1) * i64::from(PER_PAGE),
        )
        .map_err(|e| ctx.fail(e))?;
    let list = super::list(&state.db, &ctx.principal, &f)
        .await
        .map_err(|e| ctx.fail(e))?;
    let categories = super::categories(&state.db, district_of(&ctx.principal))
        .await
        .map_err(|e| ctx.fail(e))?;
    let grids = township_grids(&state, &ctx.principal)
        .await
        .map_err(|e| ctx.fail(e))?;
    ctx.render(&ListPage {
        shell: ctx.shell("案件"),
        pager: Pager::new(page, PER_PAGE, list.total, q.query()),
        rows: rows(&state, list.rows),
        query: q.query(),
        q,
        states: STATES,
        sources: Source::ALL,
        categories,
        grids,
        may_intake: ctx.principal.has_any(&[
            Role::Dispatcher,
            Role::TownshipOfficer,
            Role::GridWorker,
        ]),
        may_see_metrics: METRICS_VIEWERS.allows(Some(&ctx.principal)),
    })
}

async fn export_csv(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let f = q.filter(100_000, 0).map_err(|e| ctx.fail(e))?;
    let list = super::list(&state.db, &ctx.principal, &f)
        .await
        .map_err(|e| ctx.fail(e))?;
    let header = [
        "案件编号",
        "受理时间",
        "来源",
        "类别",
        "紧急程度",
        "网格",
        "地址",
        "问题描述",
        "当前环节",
        "承办单位",
        "办理时限",
        "是否逾期",
    ];
    let data: Vec<Vec<String>> = rows(&state, list.rows)
        .into_iter()
        .map(|r| {
            vec![
                r.number,
                r.r.created_at.local(),
                r.source_label,
                r.r.category_name.unwrap_or(r.r.category_code),
                if r.urgent { "紧急" } else { "一般" }.to_owned(),
                r.r.grid_name.unwrap_or_default(),
                r.r.address,
                r.r.description,
                r.state_label,
                r.r.unit_name.unwrap_or_default(),
                r.r.deadline.map(|d| d.local()).unwrap_or_default(),
                if r.r.overdue { "是" } else { "否" }.to_owned(),
            ]
        })
        .collect();
    let bytes = catalog::io::write_csv(&header, &data);
    super::record_export(
        &state.db,
        &ctx.actor,
        "case.export",
        &format!("案件列表 {} 件", data.len()),
    )
    .await
    .map_err(|e| ctx.fail(e))?;
    let name =
        percent_encoding::utf8_percent_encode("案件.csv", percent_encoding::NON_ALPHANUMERIC);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"cases.csv\"; filename*=UTF-8''{name}"),
            ),
        ],
        bytes,
    )
        .into_response())
}

// ---------- staff intake ----------

#[derive(Template)]
#[template(path = "cases/new.html")]
struct NewPage {
    shell: Shell,
    township: Org,
    grids: Vec<Org>,
    categories: Vec<CategoryFields>,
    sources: &'static [Source],
    t: Typed,
    error: Option<String>,
    import_error: Vec<String>,
    may_import: bool,
    columns: String,
}

async fn render_new(
    state: &AppState,
    ctx: &Ctx,
    t: Typed,
    error: Option<Error>,
    import_error: Vec<String>,
) -> PageResult {
    let p = &ctx.principal;
    let township = match &p.scope {
        crate::auth::Scope::Township { township_id, .. } => {
            crate::orgs::get_visible(&state.db, p, *township_id)
                .await
                .map_err(|e| ctx.fail(e))?
        }
        crate::auth::Scope::District => {
            return Err(ctx.fail(Error::forbidden("案件由镇（街道）受理")));
        }
    };
    let grids = super::grids_of(&state.db, &township)
        .await
        .map_err(|e| ctx.fail(e))?;
    let categories = super::categories(&state.db, district_of(p))
        .await
        .map_err(|e| ctx.fail(e))?;
    let mut t = t;
    if t.grid_id.is_empty() && p.org.kind == crate::orgs::model::OrgKind::Grid {
        t.grid_id = p.org.id.to_string();
    }
    let status = form_status(error.as_ref());
    let resp = ctx.render(&NewPage {
        shell: ctx.shell("受理案件"),
        township,
        grids,
        categories: categories.into_iter().filter(|c| c.active).collect(),
        sources: Source::STAFF,
        t,
        error: error.map(|e| e.to_string()),
        import_error,
        may_import: p.has(Role::Dispatcher),
        columns: super::HOTLINE_COLUMNS.join(","),
    })?;
    Ok(with_status(resp, status))
}

async fn new_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    render_new(&state, &ctx, Typed::default(), None, Vec::new()).await
}

fn created_message(c: &Created) -> String {
    let mut m = format!("已受理，案件编号 {}，查询码 {}", c.number, c.receipt_code);
    if !c.duplicates.is_empty() {
        m.push_str(&format!(
            "；发现 {} 件疑似重复案件，请调度员核实",
            c.duplicates.len()
        ));
    }
    m
}

async fn intake_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    mp: Result<Multipart, MultipartRejection>,
) -> PageResult {
    let parts = match read_parts(mp).await {
        Ok(p) => p,
        Err(e) => return render_new(&state, &ctx, Typed::default(), Some(e), Vec::new()).await,
    };
    let typed = Typed::from(&parts);
    let result = match new_case_from(&parts) {
        Ok(new) => {
            super::intake(
                &state.db,
                &state.processes,
                &state.case_router,
                &ctx.actor,
                Reporter::Staff(&ctx.principal),
                new,
                None,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(c) => Ok(redirect_with(
            &format!("/cases/{}", c.id),
            &created_message(&c),
        )),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => {
            render_new(&state, &ctx, typed, Some(e), Vec::new()).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

async fn import_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    mp: Result<Multipart, MultipartRejection>,
) -> PageResult {
    let parts = match read_parts(mp).await {
        Ok(p) => p,
        Err(e) => return render_new(&state, &ctx, Typed::default(), Some(e), Vec::new()).await,
    };
    let Some(file) = parts.files.first().filter(|f| !f.bytes.is_empty()) else {
        let e = Error::invalid("file", "请选择 12345 工单导出文件（.csv 或 .xlsx）");
        return render_new(&state, &ctx, Typed::default(), Some(e), Vec::new()).await;
    };
    match super::import_hotline(
        &state.db,
        &state.processes,
        &state.case_router,
        &ctx.principal,
        &ctx.actor,
        &file.bytes,
    )
    .await
    {
        Ok(created) => {
            let dups = created.iter().filter(|c| !c.duplicates.is_empty()).count();
            Ok(redirect_with(
                "/cases?source=hotline",
                &format!(
                    "已导入 12345 工单 {} 件{}",
                    created.len(),
                    if dups > 0 {
                        format!("，其中 {dups} 件疑似重复")
                    } else {
                        String::new()
                    }
                ),
            ))
        }
        Err(Error::Invalid { message, .. }) => {
            let mut lines = message.lines().map(str::to_owned);
            let first = lines.next().unwrap_or_default();
            render_new(
                &state,
                &ctx,
                Typed::default(),
                Some(Error::invalid("file", first)),
                lines.collect(),
            )
            .await
        }
        Err(e @ Error::Conflict(_)) => {
            render_new(&state, &ctx, Typed::default(), Some(e), Vec::new()).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

// ---------- detail and actions ----------

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DetailQuery {
    /// `contact` shows the reporter's name and phone in full (dispatcher and township leader
    /// only; audited).
    reveal: Option<String>,
}

#[derive(Template)]
#[template(path = "cases/detail.html")]
struct DetailPage {
    shell: Shell,
    d: CaseDetail,
    error: Option<String>,
    key: String,
    typed: ActTyped,
}

/// An action form that was refused, shown again as it was sent (files must be chosen again).
#[derive(Default)]
struct ActTyped {
    action: String,
    unit: String,
    item: String,
    comment: String,
}

impl ActTyped {
    fn from(parts: &Parts) -> ActTyped {
        ActTyped {
            action: parts.get("action").to_owned(),
            unit: parts.get("unit").to_owned(),
            item: parts.get("item").to_owned(),
            comment: parts.get("comment").to_owned(),
        }
    }
}

impl DetailPage {
    fn attachments_of(&self, ticket: Option<i64>) -> Vec<&super::store::AttachmentMeta> {
        self.d
            .attachments
            .iter()
            .filter(|a| a.ticket_id.map(|t| t.0) == ticket)
            .collect()
    }

    fn evidence_of(
        &self,
        ticket: impl std::borrow::Borrow<i64>,
    ) -> Vec<&super::store::AttachmentMeta> {
        self.attachments_of(Some(*ticket.borrow()))
    }

    fn rating_label(&self, r: &str) -> &'static str {
        Rating::parse(r).map(|r| r.label()).unwrap_or("")
    }

    /// The category preselected for the dispatcher: the suggestion, or the case's own.
    fn is_suggested(&self, code: &str) -> bool {
        let pick = self
            .d
            .suggestion
            .category_code
            .as_deref()
            .unwrap_or(&self.d.case.category_code);
        pick == code
    }

    fn has_joint(&self) -> bool {
        self.d.parts.iter().any(|v| v.part.kind == "joint")
    }

    fn scores(&self) -> &'static [(i64, &'static str)] {
        &super::parts::SCORES
    }
}

async fn render_detail(
    state: &AppState,
    ctx: &Ctx,
    id: CaseId,
    reveal: bool,
    error: Option<Error>,
) -> PageResult {
    render_detail_typed(state, ctx, id, reveal, error, ActTyped::default()).await
}

async fn render_detail_typed(
    state: &AppState,
    ctx: &Ctx,
    id: CaseId,
    reveal: bool,
    error: Option<Error>,
    typed: ActTyped,
) -> PageResult {
    let d = super::detail(
        &state.db,
        &state.processes,
        &ctx.principal,
        &ctx.actor,
        id,
        reveal,
    )
    .await
    .map_err(|e| ctx.fail(e))?;
    let status = form_status(error.as_ref());
    let title = format!("案件 {}", d.case.number);
    let resp = ctx.render(&DetailPage {
        shell: ctx.shell(&title),
        d,
        error: error.map(|e| e.to_string()),
        key: crate::auth::random_token(),
        typed,
    })?;
    Ok(with_status(resp, status))
}

async fn detail_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> PageResult {
    render_detail(
        &state,
        &ctx,
        CaseId(id),
        q.reveal.as_deref() == Some("contact"),
        None,
    )
    .await
}

fn action_from(parts: &Parts) -> Result<CaseAction, Error> {
    check_parts(parts)?;
    let expected_version = match parts.get("expected_version").trim() {
        "" => None,
        v => Some(
            v.parse()
                .map_err(|_| Error::invalid("expected_version", "页面已过期，请刷新后重试"))?,
        ),
    };
    let unit = match parts.get("unit").trim() {
        "" => None,
        v => Some(OrgId(
            v.parse()
                .map_err(|_| Error::invalid("unit", "请选择承办单位"))?,
        )),
    };
    Ok(CaseAction {
        action: parts.get("action").trim().to_owned(),
        expected_version,
        comment: opt(parts.get("comment")),
        unit,
        item_code: opt(parts.get("item")),
        attachments: parts.files.clone(),
        idempotency_key: opt(parts.get("idempotency_key")),
    })
}

fn refusable(e: &Error) -> bool {
    matches!(
        e,
        Error::Invalid { .. } | Error::Conflict(_) | Error::Forbidden(_)
    )
}

async fn act_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    mp: Result<Multipart, MultipartRejection>,
) -> PageResult {
    let id = CaseId(id);
    let parts = read_parts(mp).await;
    let typed = parts.as_ref().map(ActTyped::from).unwrap_or_default();
    let result = match parts.and_then(|p| action_from(&p)) {
        Ok(a) => {
            super::act(
                &state.db,
                &state.processes,
                &state.case_router,
                &ctx.principal,
                &ctx.actor,
                id,
                a,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(a) if a.replayed => Ok(redirect_with(
            &format!("/cases/{id}"),
            "该操作已提交过，未重复办理",
        )),
        Ok(a) => Ok(redirect_with(
            &format!("/cases/{id}"),
            &match a.unit_name {
                Some(u) => format!("已派遣至{u}"),
                None => format!("已办理，当前环节：{}", a.state_label),
            },
        )),
        Err(e) if refusable(&e) => {
            render_detail_typed(&state, &ctx, id, false, Some(e), typed).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Deserialize)]
struct MergeForm {
    #[serde(default)]
    into: String,
}

async fn merge_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<MergeForm>,
) -> PageResult {
    let id = CaseId(id);
    let result = match f.into.trim().parse::<i64>() {
        Ok(into) => super::merge(
            &state.db,
            &state.processes,
            &ctx.principal,
            &ctx.actor,
            id,
            CaseId(into),
        )
        .await
        .map(|()| into),
        Err(_) => Err(Error::invalid("into", "请选择要合并到的原案件")),
    };
    match result {
        Ok(into) => Ok(redirect_with(
            &format!("/cases/{into}"),
            "已合并，重复案件的反映人将随本案件获知办理结果",
        )),
        Err(e) if refusable(&e) => render_detail(&state, &ctx, id, false, Some(e)).await,
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Deserialize)]
struct RateForm {
    #[serde(default)]
    rating: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    code: String,
}

fn parse_rating(s: &str) -> Result<Rating, Error> {
    Rating::parse(s.trim()).ok_or_else(|| Error::invalid("rating", "请选择满意、基本满意或不满意"))
}

async fn rate_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<RateForm>,
) -> PageResult {
    let id = CaseId(id);
    let result = match parse_rating(&f.rating) {
        Ok(r) => {
            super::rate(
                &state.db,
                &state.processes,
                &ctx.actor,
                Rater::Staff {
                    principal: &ctx.principal,
                    case: id,
                },
                r,
                &f.comment,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => Ok(redirect_with(&format!("/cases/{id}"), &r.message)),
        Err(e) if refusable(&e) => render_detail(&state, &ctx, id, false, Some(e)).await,
        Err(e) => Err(ctx.fail(e)),
    }
}

async fn attachment(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let (meta, data) = super::attachment(&state.db, &ctx.principal, &ctx.actor, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let name =
        percent_encoding::utf8_percent_encode(&meta.filename, percent_encoding::NON_ALPHANUMERIC);
    // Served as a download with its sniffed type: never rendered inline as HTML.
    Ok((
        [
            (header::CONTENT_TYPE, meta.content_type.clone()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"attachment\"; filename*=UTF-8''{name}"),
            ),
        ],
        data,
    )
        .into_response())
}

// ---------- categories ----------

#[derive(Template)]
#[template(path = "cases/categories.html")]
struct CategoriesPage {
    shell: Shell,
    categories: Vec<CategoryFields>,
    settings: Settings,
    may_edit: bool,
    error: Option<String>,
    typed: CategoryTyped,
}

/// The category form as typed (kept when refused), or as it starts.
struct CategoryTyped {
    fields: CategoryFields,
    new: bool,
}

impl Default for CategoryTyped {
    fn default() -> Self {
        CategoryTyped {
            fields: CategoryFields {
                code: String::new(),
                major: String::new(),
                minor: String::new(),
                respond_normal: "1d".to_owned(),
                respond_urgent: "2h".to_owned(),
                handle_normal: "5d".to_owned(),
                handle_urgent: "1d".to_owned(),
                department_code: String::new(),
                duty_item_code: String::new(),
                active: true,
            },
            new: true,
        }
    }
}

async fn render_categories(
    state: &AppState,
    ctx: &Ctx,
    error: Option<Error>,
    typed: CategoryTyped,
) -> PageResult {
    let district = district_of(&ctx.principal);
    let categories = super::categories(&state.db, district)
        .await
        .map_err(|e| ctx.fail(e))?;
    let settings = super::settings(&state.db, district)
        .await
        .map_err(|e| ctx.fail(e))?;
    let status = form_status(error.as_ref());
    let resp = ctx.render(&CategoriesPage {
        shell: ctx.shell("事件类别"),
        categories,
        settings,
        may_edit: super::may_edit_categories(&ctx.principal),
        error: error.map(|e| e.to_string()),
        typed,
    })?;
    Ok(with_status(resp, status))
}

async fn categories_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    render_categories(&state, &ctx, None, CategoryTyped::default()).await
}

#[derive(Deserialize)]
struct CategoryForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    major: String,
    #[serde(default)]
    minor: String,
    #[serde(default)]
    respond_normal: String,
    #[serde(default)]
    respond_urgent: String,
    #[serde(default)]
    handle_normal: String,
    #[serde(default)]
    handle_urgent: String,
    #[serde(default)]
    department_code: String,
    #[serde(default)]
    duty_item_code: String,
    /// `on` when ticked; absent means the category is withdrawn from intake.
    #[serde(default)]
    active: String,
    /// `new` to add, anything else to change.
    #[serde(default)]
    mode: String,
}

async fn category_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<CategoryForm>,
) -> PageResult {
    let fields = CategoryFields {
        code: f.code,
        major: f.major,
        minor: f.minor,
        respond_normal: f.respond_normal,
        respond_urgent: f.respond_urgent,
        handle_normal: f.handle_normal,
        handle_urgent: f.handle_urgent,
        department_code: f.department_code,
        duty_item_code: f.duty_item_code,
        active: !f.active.is_empty(),
    };
    let typed = CategoryTyped {
        fields: fields.clone(),
        new: f.mode == "new",
    };
    match super::save_category(&state.db, &ctx.principal, &ctx.actor, fields, typed.new).await {
        Ok(()) => Ok(redirect_with(
            "/cases/categories",
            &format!("事件类别 {} 已保存", typed.fields.code.trim()),
        )),
        Err(e) if refusable(&e) || matches!(e, Error::NotFound(_)) => {
            render_categories(&state, &ctx, Some(e), typed).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    duplicate_window_hours: String,
    #[serde(default)]
    duplicate_threshold_permille: String,
}

async fn settings_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<SettingsForm>,
) -> PageResult {
    let parsed = match (
        f.duplicate_window_hours.trim().parse(),
        f.duplicate_threshold_permille.trim().parse(),
    ) {
        (Ok(w), Ok(t)) => Ok(Settings {
            duplicate_window_hours: w,
            duplicate_threshold_permille: t,
        }),
        _ => Err(Error::invalid(
            "duplicate_window_hours",
            "请填写整数的时间窗口（小时）和相似度阈值（千分比）",
        )),
    };
    let result = match parsed {
        Ok(s) => super::save_settings(&state.db, &ctx.principal, &ctx.actor, s).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(redirect_with("/cases/categories", "重复案件识别设置已保存")),
        Err(e) if refusable(&e) => {
            render_categories(&state, &ctx, Some(e), CategoryTyped::default()).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

// ---------- public pages ----------

/// The visitor's token for the public forms: the session's when signed in, else the
/// pre-sign-in one (created here if the browser has none yet).
fn public_token(ctx: &MaybeCtx) -> (String, bool) {
    match (&ctx.principal, &ctx.pre_csrf) {
        (Some(p), _) => (p.csrf_token.clone(), false),
        (None, Some(t)) if !t.is_empty() => (t.clone(), false),
        _ => (crate::auth::random_token(), true),
    }
}

fn public_shell(ctx: &MaybeCtx, title: &str) -> Shell {
    match &ctx.principal {
        Some(p) => Shell::for_principal(title, p, ctx.flash.clone()),
        None => Shell {
            flash: ctx.flash.clone(),
            ..Shell::anonymous(title)
        },
    }
}

fn set_token_cookie(state: &AppState, resp: &mut Response, token: &str) {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{PRE_CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Template)]
#[template(path = "cases/public_new.html")]
struct PublicNewPage {
    shell: Shell,
    townships: Vec<Org>,
    categories: Vec<CategoryFields>,
    token: String,
    issued: i64,
    stamp: String,
    t: Typed,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "cases/public_done.html")]
struct PublicDonePage {
    shell: Shell,
    number: String,
    receipt_code: String,
}

async fn render_public_new(
    state: &AppState,
    ctx: &MaybeCtx,
    t: Typed,
    error: Option<Error>,
) -> PageResult {
    let townships = super::public_townships(&state.db).await?;
    let categories = match townships.first() {
        Some(t) => super::categories(&state.db, catalog::district_of(t)).await?,
        None => Vec::new(),
    };
    let (token, fresh) = public_token(ctx);
    let issued = Timestamp::now().as_micros();
    let status = form_status(error.as_ref());
    let mut resp = render_with_flash(
        &PublicNewPage {
            shell: public_shell(ctx, "反映问题"),
            townships,
            categories: categories.into_iter().filter(|c| c.active).collect(),
            stamp: model::form_stamp(&token, issued),
            token: token.clone(),
            issued,
            t,
            error: error.map(|e| e.to_string()),
        },
        ctx.flash.is_some(),
    )?;
    if fresh {
        set_token_cookie(state, &mut resp, &token);
    }
    Ok(with_status(resp, status))
}

async fn public_new(State(state): State<AppState>, ctx: MaybeCtx) -> PageResult {
    render_public_new(&state, &ctx, Typed::default(), None).await
}

async fn public_submit(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    mp: Result<Multipart, MultipartRejection>,
) -> PageResult {
    let parts = match read_parts(mp).await {
        Ok(p) => p,
        Err(e) => return render_public_new(&state, &ctx, Typed::default(), Some(e)).await,
    };
    let typed = Typed::from(&parts);
    let (token, _) = public_token(&ctx);
    let result = async {
        model::check_human(
            &token,
            parts.get("website"),
            parts.get("issued"),
            parts.get("stamp"),
            Timestamp::now().as_micros(),
        )?;
        let new = NewCase {
            source: None,
            ..new_case_from(&parts)?
        };
        public_intake(&state, &ctx, Source::CitizenWeb, new).await
    }
    .await;
    match result {
        // Answered by a redirect to a page of its own: reloading the receipt must not send
        // the report again.
        Ok(c) => {
            let code = percent_encoding::utf8_percent_encode(
                &c.receipt_code,
                percent_encoding::NON_ALPHANUMERIC,
            );
            Ok(Redirect::to(&format!("/public/cases/received?code={code}")).into_response())
        }
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_) | Error::TooManyRequests(_))) => {
            render_public_new(&state, &ctx, typed, Some(e)).await
        }
        Err(e) => Err(PageError(e, None)),
    }
}

#[derive(Deserialize)]
struct TrackQuery {
    code: Option<String>,
}

#[derive(Template)]
#[template(path = "cases/public_track.html")]
struct TrackPage {
    shell: Shell,
    code: String,
    v: Option<PublicView>,
    token: String,
    error: Option<String>,
}

async fn render_track(
    state: &AppState,
    ctx: &MaybeCtx,
    code: &str,
    error: Option<Error>,
) -> PageResult {
    let (v, error) = if code.trim().is_empty() {
        (None, error)
    } else {
        match super::track(&state.db, &state.processes, code).await {
            Ok(v) => (Some(v), error),
            Err(e @ Error::NotFound(_)) => (None, Some(e)),
            Err(e) => return Err(PageError(e, None)),
        }
    };
    let (token, fresh) = public_token(ctx);
    let status = form_status(error.as_ref());
    let mut resp = render_with_flash(
        &TrackPage {
            shell: public_shell(ctx, "办理进度查询"),
            code: code.trim().to_owned(),
            v,
            token: token.clone(),
            error: error.map(|e| e.to_string()),
        },
        ctx.flash.is_some(),
    )?;
    if fresh {
        set_token_cookie(state, &mut resp, &token);
    }
    Ok(with_status(resp, status))
}

/// The receipt of a report just sent: its number and the code to follow it with.
async fn public_received(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    Query(q): Query<TrackQuery>,
) -> PageResult {
    let code = q.code.as_deref().unwrap_or("").trim();
    match super::track(&state.db, &state.processes, code).await {
        Ok(v) => render_with_flash(
            &PublicDonePage {
                shell: public_shell(&ctx, "已收到您反映的问题"),
                number: v.number,
                // The code was found, so it reads as one.
                receipt_code: model::normalize_receipt_code(code)
                    .map_or_else(|| code.to_owned(), |c| model::format_receipt_code(&c)),
            },
            false,
        ),
        Err(e @ Error::NotFound(_)) => render_track(&state, &ctx, code, Some(e)).await,
        Err(e) => Err(PageError(e, None)),
    }
}

async fn public_track(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    Query(q): Query<TrackQuery>,
) -> PageResult {
    render_track(&state, &ctx, q.code.as_deref().unwrap_or(""), None).await
}

async fn public_rate(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    FormBody(f): FormBody<RateForm>,
) -> PageResult {
    let result = match parse_rating(&f.rating) {
        Ok(r) => {
            super::rate(
                &state.db,
                &state.processes,
                &ctx.actor,
                Rater::Reporter {
                    receipt_code: &f.code,
                },
                r,
                &f.comment,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(r) => {
            let code = percent_encoding::utf8_percent_encode(
                f.code.trim(),
                percent_encoding::NON_ALPHANUMERIC,
            );
            Ok(redirect_with(
                &format!("/public/cases/track?code={code}"),
                &r.message,
            ))
        }
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_) | Error::NotFound(_))) => {
            render_track(&state, &ctx, &f.code, Some(e)).await
        }
        Err(e) => Err(PageError(e, None)),
    }
}

// ---------- JSON API ----------

#[derive(Serialize, utoipa::ToSchema)]
pub struct CaseListBody {
    pub items: Vec<CaseListRow>,
    pub total: i64,
}

/// Cases I may see (my township's, my unit's, my grids'), newest first, with filters.
#[utoipa::path(get, path = "/api/v1/cases", operation_id = "cases_list", tag = "案件", params(ListQuery),
    responses((status = 200, body = CaseListBody)))]
pub async fn api_list(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<CaseListBody>> {
    let page = q.page.unwrap_or(1).max(1);
    let list = super::list(
        &state.db,
        &ctx.principal,
        &q.filter(
            i64::from(PER_PAGE),
            i64::from(page - 1) * i64::from(PER_PAGE),
        )?,
    )
    .await?;
    Ok(Json(CaseListBody {
        items: list.rows,
        total: list.total,
    }))
}

/// An attachment in a JSON body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AttachmentIn {
    pub filename: String,
    /// The file's bytes, base64 (standard alphabet).
    pub content_base64: String,
}

/// A case reported through the API.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CaseIn {
    /// grid_worker, patrol, hotline or platform (staff); ignored on the public API.
    #[serde(default)]
    pub source: Option<String>,
    /// The township's 12-digit division code (staff: default their own township).
    #[serde(default)]
    pub township_code: Option<String>,
    #[serde(default)]
    pub grid_id: Option<i64>,
    #[serde(default)]
    pub category: String,
    /// normal or urgent.
    #[serde(default)]
    pub urgency: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub address: String,
    /// Decimal degrees, as text or number.
    #[serde(default)]
    pub lon: Option<serde_json::Value>,
    #[serde(default)]
    pub lat: Option<serde_json::Value>,
    #[serde(default)]
    pub reporter_name: String,
    #[serde(default)]
    pub reporter_phone: String,
    /// The sending system's own number (a hotline ticket number).
    #[serde(default)]
    pub external_ref: Option<String>,
    #[serde(default)]
    pub attachments: Vec<AttachmentIn>,
}

/// A coordinate sent as a number or as text; a list or an object is refused, not dropped.
fn coordinate(field: &str, v: &Option<serde_json::Value>) -> Result<String, Error> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(String::new()),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(Error::invalid(
            field,
            "经纬度应为数字（WGS-84 度，如 103.97），或不填",
        )),
    }
}

impl CaseIn {
    fn into_new(self) -> Result<NewCase, Error> {
        let source = match self.source.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => {
                Some(Source::parse(s).ok_or_else(|| Error::invalid("source", "案件来源无效"))?)
            }
        };
        let urgency = match self.urgency.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(
                Urgency::parse(s)
                    .ok_or_else(|| Error::invalid("urgency", "紧急程度应为 normal 或 urgent"))?,
            ),
        };
        let mut attachments = Vec::new();
        for a in &self.attachments {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(a.content_base64.trim())
                .map_err(|_| {
                    Error::invalid(
                        "attachments",
                        format!("附件「{}」不是有效的 base64", a.filename),
                    )
                })?;
            // A form's empty file field means "no file"; here an empty file was sent on
            // purpose, and dropping it would lose evidence without a word.
            if bytes.is_empty() {
                return Err(Error::invalid(
                    "attachments",
                    format!("附件「{}」是空文件", a.filename),
                ));
            }
            attachments.push(Upload {
                filename: a.filename.clone(),
                bytes,
            });
        }
        Ok(NewCase {
            source,
            township_code: self.township_code.clone(),
            grid_id: self.grid_id.map(OrgId),
            category_code: self.category.clone(),
            urgency,
            description: self.description.clone(),
            address: self.address.clone(),
            lon: coordinate("lon", &self.lon)?,
            lat: coordinate("lat", &self.lat)?,
            reporter_name: self.reporter_name.clone(),
            reporter_phone: self.reporter_phone.clone(),
            external_ref: self.external_ref.clone(),
            attachments,
            ..NewCase::default()
        })
    }
}

/// Takes in a case (staff, or the 12345 hotline's system with a dispatcher's account).
#[utoipa::path(post, path = "/api/v1/cases", tag = "案件", request_body = CaseIn,
    responses((status = 201, body = Created), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_intake(
    State(state): State<AppState>,
    ctx: ApiCtx,
    recalled: Option<Extension<Arc<auth::Recalled>>>,
    JsonBody(body): JsonBody<CaseIn>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let c = super::intake(
        &state.db,
        &state.processes,
        &state.case_router,
        &ctx.actor,
        Reporter::Staff(&ctx.principal),
        body.into_new()?,
        recalled.map(|Extension(r)| r),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// A case with its tickets, timeline, attachments, duplicates and the actions I may take.
#[utoipa::path(get, path = "/api/v1/cases/{id}", operation_id = "cases_detail", tag = "案件", params(("id" = i64, Path), DetailQuery),
    responses((status = 200, body = CaseDetail), (status = 403, body = crate::web::error::ErrorBody),
              (status = 404, body = crate::web::error::ErrorBody)))]
pub async fn api_detail(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> ApiResult<Json<CaseDetail>> {
    Ok(Json(
        super::detail(
            &state.db,
            &state.processes,
            &ctx.principal,
            &ctx.actor,
            CaseId(id),
            q.reveal.as_deref() == Some("contact"),
        )
        .await?,
    ))
}

/// An action on a case's current ticket.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ActionIn {
    /// dispatch, return, accept, report, close, rework, dismiss.
    pub action: String,
    #[serde(default)]
    pub expected_version: Option<i64>,
    #[serde(default)]
    pub comment: Option<String>,
    /// dispatch: the station's or township's organisation id.
    #[serde(default)]
    pub unit_id: Option<i64>,
    /// dispatch: the duty item's code on the township's list.
    #[serde(default)]
    pub item_code: Option<String>,
    /// report: evidence.
    #[serde(default)]
    pub attachments: Vec<AttachmentIn>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Takes an action. 403 when my role or unit may not, 409 when the ticket moved on or a unit
/// returns twice, 422 naming a missing reason or an item not on the township's list.
#[utoipa::path(post, path = "/api/v1/cases/{id}/actions", operation_id = "cases_act", tag = "案件", params(("id" = i64, Path)),
    request_body = ActionIn,
    responses((status = 200, body = Acted), (status = 403, body = crate::web::error::ErrorBody),
              (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_act(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<ActionIn>,
) -> ApiResult<Json<Acted>> {
    let files = CaseIn {
        attachments: b.attachments.clone(),
        ..CaseIn::default()
    }
    .into_new()?
    .attachments;
    let a = CaseAction {
        action: b.action,
        expected_version: b.expected_version,
        comment: b.comment,
        unit: b.unit_id.map(OrgId),
        item_code: b.item_code,
        attachments: files,
        idempotency_key: b.idempotency_key,
    };
    Ok(Json(
        super::act(
            &state.db,
            &state.processes,
            &state.case_router,
            &ctx.principal,
            &ctx.actor,
            CaseId(id),
            a,
        )
        .await?,
    ))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct MergeIn {
    /// The original case this one duplicates.
    pub into: i64,
}

/// Merges this case (a duplicate waiting for dispatch) into the original.
#[utoipa::path(post, path = "/api/v1/cases/{id}/merge", tag = "案件", params(("id" = i64, Path)),
    request_body = MergeIn, responses((status = 204), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn api_merge(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<MergeIn>,
) -> ApiResult<StatusCode> {
    super::merge(
        &state.db,
        &state.processes,
        &ctx.principal,
        &ctx.actor,
        CaseId(id),
        CaseId(b.into),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RatingIn {
    /// satisfied, basic or dissatisfied.
    pub rating: String,
    #[serde(default)]
    pub comment: String,
}

/// Rates the closed case on behalf of its reporter (revisit by phone).
#[utoipa::path(post, path = "/api/v1/cases/{id}/rating", tag = "案件", params(("id" = i64, Path)),
    request_body = RatingIn, responses((status = 200, body = Rated), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn api_rate(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<RatingIn>,
) -> ApiResult<Json<Rated>> {
    Ok(Json(
        super::rate(
            &state.db,
            &state.processes,
            &ctx.actor,
            Rater::Staff {
                principal: &ctx.principal,
                case: CaseId(id),
            },
            parse_rating(&b.rating)?,
            &b.comment,
        )
        .await?,
    ))
}

/// The district's event categories with their time limits and default routing.
#[utoipa::path(get, path = "/api/v1/cases/categories", tag = "案件",
    responses((status = 200, body = Vec<CategoryFields>)))]
pub async fn api_categories(
    State(state): State<AppState>,
    ctx: ApiCtx,
) -> ApiResult<Json<Vec<CategoryFields>>> {
    Ok(Json(
        super::categories(&state.db, district_of(&ctx.principal)).await?,
    ))
}

/// Adds a category (409 if the code exists).
#[utoipa::path(post, path = "/api/v1/cases/categories", tag = "案件", request_body = CategoryFields,
    responses((status = 201), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_add_category(
    State(state): State<AppState>,
    ctx: ApiCtx,
    JsonBody(f): JsonBody<CategoryFields>,
) -> ApiResult<StatusCode> {
    super::save_category(&state.db, &ctx.principal, &ctx.actor, f, true).await?;
    Ok(StatusCode::CREATED)
}

/// Changes a category (the code in the path wins over the body's).
#[utoipa::path(put, path = "/api/v1/cases/categories/{code}", tag = "案件", params(("code" = String, Path)),
    request_body = CategoryFields,
    responses((status = 204), (status = 404, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_update_category(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(code): Path<String>,
    JsonBody(mut f): JsonBody<serde_json::Value>,
) -> ApiResult<StatusCode> {
    // The code is the address's; the body need not repeat it.
    if let serde_json::Value::Object(m) = &mut f {
        m.insert("code".to_owned(), serde_json::Value::String(code.clone()));
    }
    let mut f: CategoryFields = crate::web::extract::read_json_value(f)?;
    f.code = code;
    super::save_category(&state.db, &ctx.principal, &ctx.actor, f, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A citizen reports a problem (no sign-in). Answers the receipt code to follow it with.
#[utoipa::path(post, path = "/api/v1/public/cases", tag = "公众", request_body = CaseIn,
    responses((status = 201, body = PublicCreated), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_public_intake(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    JsonBody(body): JsonBody<CaseIn>,
) -> ApiResult<(StatusCode, Json<PublicCreated>)> {
    let c = public_intake(&state, &ctx, Source::CitizenApi, body.into_new()?).await?;
    Ok((
        StatusCode::CREATED,
        Json(PublicCreated {
            number: c.number,
            receipt_code: c.receipt_code,
        }),
    ))
}

/// Takes in a public report, counted against its network address's hour (signed-in staff
/// are not counted: they are known and audited); a report refused as bad input or a
/// conflict is given back.
async fn public_intake(
    state: &AppState,
    ctx: &MaybeCtx,
    source: Source,
    new: NewCase,
) -> Result<Created, Error> {
    let counted = ctx.principal.is_none();
    let bytes = new.attachments.iter().map(|a| a.bytes.len() as u64).sum();
    if counted {
        state
            .public_quota
            .take(&ctx.actor.ip, bytes, std::time::Instant::now())?;
    }
    let result = super::intake(
        &state.db,
        &state.processes,
        &state.case_router,
        &ctx.actor,
        Reporter::Public(source),
        new,
        None,
    )
    .await;
    if counted && matches!(result, Err(Error::Invalid { .. } | Error::Conflict(_))) {
        state.public_quota.give_back(&ctx.actor.ip, bytes);
    }
    result
}

/// What the public API answers: no internal ids, no other cases.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicCreated {
    pub number: String,
    pub receipt_code: String,
}

/// Progress of a case by its receipt code: what happened, who handles it, when it is due.
#[utoipa::path(get, path = "/api/v1/public/cases/{code}", tag = "公众", params(("code" = String, Path)),
    responses((status = 200, body = PublicView), (status = 404, body = crate::web::error::ErrorBody)))]
pub async fn api_track(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Json<PublicView>> {
    Ok(Json(
        super::track(&state.db, &state.processes, &code).await?,
    ))
}

/// The reporter rates the outcome; 不满意 reopens the case once.
#[utoipa::path(post, path = "/api/v1/public/cases/{code}/rating", tag = "公众", params(("code" = String, Path)),
    request_body = RatingIn,
    responses((status = 200, body = Rated), (status = 404, body = crate::web::error::ErrorBody),
              (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn api_public_rate(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    Path(code): Path<String>,
    JsonBody(b): JsonBody<RatingIn>,
) -> ApiResult<Json<Rated>> {
    Ok(Json(
        super::rate(
            &state.db,
            &state.processes,
            &ctx.actor,
            Rater::Reporter {
                receipt_code: &code,
            },
            parse_rating(&b.rating)?,
            &b.comment,
        )
        .await?,
    ))
}

// ---------- summons, joint enforcement, referrals ----------

/// Summons a department, adds a joint enforcement co-unit, or refers the case.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PartIn {
    /// summon, joint or referral.
    #[serde(default)]
    pub kind: String,
    /// The department (summon, referral) or co-unit (joint) organisation id.
    #[serde(default)]
    pub unit_id: Option<i64>,
    #[serde(default)]
    pub reason: String,
    /// joint: the co-unit's deadline, YYYY-MM-DD.
    #[serde(default)]
    pub deadline: Option<String>,
}

impl PartIn {
    fn into_new(self) -> Result<super::parts::NewPart, Error> {
        Ok(super::parts::NewPart {
            kind: super::parts::PartKind::parse(&self.kind).ok_or_else(|| {
                Error::invalid(
                    "kind",
                    "应为吹哨（summon）、联合执法（joint）或移送（referral）",
                )
            })?,
            unit: OrgId(
                self.unit_id
                    .ok_or_else(|| Error::invalid("unit", "请选择单位"))?,
            ),
            reason: self.reason,
            deadline: self.deadline,
        })
    }
}

#[derive(Deserialize)]
struct PartForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    deadline: String,
}

async fn part_open_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<PartForm>,
) -> PageResult {
    let id = CaseId(id);
    let input = PartIn {
        kind: f.kind,
        unit_id: f.unit.trim().parse().ok(),
        reason: f.reason,
        deadline: opt(&f.deadline),
    };
    let result = match input.into_new() {
        Ok(n) => {
            let label = n.kind.label();
            super::parts::open(
                &state.db,
                &state.processes,
                &ctx.principal,
                &ctx.actor,
                id,
                n,
            )
            .await
            .map(|_| label)
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(label) => Ok(redirect_with(
            &format!("/cases/{id}"),
            &format!("已{label}"),
        )),
        Err(e) if refusable(&e) => render_detail(&state, &ctx, id, false, Some(e)).await,
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Deserialize)]
struct PartActForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    expected_version: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    officer: String,
    #[serde(default)]
    score: String,
}

async fn part_act_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<PartActForm>,
) -> PageResult {
    let a = super::parts::PartAction {
        action: f.action.trim().to_owned(),
        expected_version: f.expected_version.trim().parse().ok(),
        comment: opt(&f.comment),
        officer: opt(&f.officer),
        score: opt(&f.score),
    };
    let case = {
        let mut c = state.db.acquire().await.map_err(|e| ctx.fail(e))?;
        super::store::part(&mut c.conn(), id)
            .await
            .map_err(|e| ctx.fail(e))?
            .map(|p| p.case_id)
            .ok_or_else(|| ctx.fail(Error::not_found("该事项不存在")))?
    };
    match super::parts::act(
        &state.db,
        &state.processes,
        &ctx.principal,
        &ctx.actor,
        id,
        a,
    )
    .await
    {
        Ok(v) => Ok(redirect_with(
            &format!("/cases/{case}"),
            &format!("{}：{}", v.kind_label, v.state_label),
        )),
        Err(e) if refusable(&e) => render_detail(&state, &ctx, case, false, Some(e)).await,
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartOpened {
    pub part_id: i64,
}

/// Summons a district department (吹哨报到), adds a joint enforcement co-unit, or refers the
/// case to the competent department (移送; the ticket ends as 已移送).
#[utoipa::path(post, path = "/api/v1/cases/{id}/parts", tag = "案件", params(("id" = i64, Path)),
    request_body = PartIn,
    responses((status = 201, body = PartOpened), (status = 403, body = crate::web::error::ErrorBody),
              (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_open_part(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<PartIn>,
) -> ApiResult<(StatusCode, Json<PartOpened>)> {
    let part_id = super::parts::open(
        &state.db,
        &state.processes,
        &ctx.principal,
        &ctx.actor,
        CaseId(id),
        b.into_new()?,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(PartOpened { part_id })))
}

/// An action on a part: summon report (with `officer`), reply, rate (with `score` 1–5); joint
/// accept, report; referral acknowledge, conclude.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct PartActionIn {
    pub action: String,
    #[serde(default)]
    pub expected_version: Option<i64>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub officer: Option<String>,
    #[serde(default)]
    pub score: Option<i64>,
}

#[utoipa::path(post, path = "/api/v1/cases/parts/{id}/actions", tag = "案件", params(("id" = i64, Path)),
    request_body = PartActionIn,
    responses((status = 200, body = super::parts::PartView), (status = 403, body = crate::web::error::ErrorBody),
              (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_act_part(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<PartActionIn>,
) -> ApiResult<Json<super::parts::PartView>> {
    let a = super::parts::PartAction {
        action: b.action,
        expected_version: b.expected_version,
        comment: b.comment,
        officer: b.officer,
        score: b.score.map(|s| s.to_string()),
    };
    Ok(Json(
        super::parts::act(
            &state.db,
            &state.processes,
            &ctx.principal,
            &ctx.actor,
            id,
            a,
        )
        .await?,
    ))
}

// ---------- metrics ----------

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct MetricsQuery {
    /// A township, station or department (organisation id); by default the viewer's own.
    #[serde(default)]
    org: Option<String>,
    /// First day, YYYY-MM-DD (default: 1 January of this year).
    #[serde(default)]
    from: Option<String>,
    /// Last day, inclusive (default: today).
    #[serde(default)]
    to: Option<String>,
}

impl MetricsQuery {
    fn org(&self) -> Result<Option<OrgId>, Error> {
        match self.org.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s
                .parse()
                .map(|v| Some(OrgId(v)))
                .map_err(|_| Error::invalid("org", "单位无效")),
        }
    }

    fn query(&self) -> String {
        query_string(&[
            ("org", self.org.as_deref()),
            ("from", self.from.as_deref()),
            ("to", self.to.as_deref()),
        ])
    }
}

async fn compute_metrics(
    state: &AppState,
    p: &crate::auth::Principal,
    q: &MetricsQuery,
) -> Result<super::metrics::Report, Error> {
    let (from, to) = super::metrics::period(q.from.as_deref(), q.to.as_deref())?;
    let (scope, name) = super::metrics::scope_for(&state.db, p, q.org()?).await?;
    super::metrics::report(&state.db, &scope, &name, from, to).await
}

#[derive(Template)]
#[template(path = "cases/metrics.html")]
struct MetricsPage {
    shell: Shell,
    r: super::metrics::Report,
    error: Option<String>,
    orgs: Vec<Org>,
    district: bool,
    selected: Option<i64>,
    from: String,
    to: String,
    query: String,
    width: i64,
    height: i64,
    rate_height: i64,
    rate_bars: Vec<super::metrics::Bar>,
    month_bars: Vec<super::metrics::Bar>,
    month_labels: Vec<(i64, String)>,
    sections: Vec<(&'static str, Vec<super::metrics::Line>)>,
}

impl MetricsPage {
    fn is_org(&self, id: impl std::borrow::Borrow<i64>) -> bool {
        self.selected == Some(*id.borrow())
    }

    fn rate(&self, p: impl std::borrow::Borrow<Option<i64>>) -> String {
        super::metrics::percent(*p.borrow())
    }

    fn pct(&self, p: &i64) -> String {
        super::metrics::percent(Some(*p))
    }
}

/// The townships, stations and departments a viewer may pick.
async fn metric_orgs(state: &AppState, p: &crate::auth::Principal) -> Result<Vec<Org>, Error> {
    use crate::orgs::model::OrgKind;
    if !p.has_any(&[
        Role::Dispatcher,
        Role::TownshipLeader,
        Role::TownshipOfficer,
        Role::EstablishmentOffice,
    ]) {
        return Ok(Vec::new());
    }
    let mut c = state.db.acquire().await?;
    let mut conn = c.conn();
    let mut out = Vec::new();
    match &p.scope {
        crate::auth::Scope::Township { township_id, .. } => {
            if let Some(t) = crate::orgs::store::get(&mut conn, *township_id).await? {
                out = super::units_of(&mut conn, &t).await?;
            }
        }
        crate::auth::Scope::District => {
            for kind in [OrgKind::Township, OrgKind::Department] {
                let (list, _) = crate::orgs::store::list(
                    &mut conn,
                    &crate::orgs::OrgQuery {
                        kind: Some(kind),
                        limit: 500,
                        ..Default::default()
                    },
                )
                .await?;
                out.extend(list);
            }
        }
    }
    Ok(out)
}

fn local_date(t: Timestamp) -> String {
    t.local().get(..10).unwrap_or("").to_owned()
}

async fn metrics_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<MetricsQuery>,
) -> PageResult {
    use super::metrics as m;
    let (r, error) = match compute_metrics(&state, &ctx.principal, &q).await {
        Ok(r) => (r, None),
        Err(e) if refusable(&e) => {
            let fallback = compute_metrics(&state, &ctx.principal, &MetricsQuery::default())
                .await
                .map_err(|e| ctx.fail(e))?;
            (fallback, Some(e))
        }
        Err(e) => return Err(ctx.fail(e)),
    };
    let orgs = metric_orgs(&state, &ctx.principal)
        .await
        .map_err(|e| ctx.fail(e))?;
    let n = r.by_month.len().max(1) as i64;
    let month_labels = r
        .by_month
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                i as i64 * (m::CHART_WIDTH / n) + 2,
                l.name.get(5..).unwrap_or("").to_owned(),
            )
        })
        .collect();
    let rates = r.total.rates();
    let status = form_status(error.as_ref());
    let resp = ctx.render(&MetricsPage {
        shell: ctx.shell("案件统计"),
        error: error.map(|e| e.to_string()),
        district: ctx.principal.scope == crate::auth::Scope::District,
        selected: q.org().ok().flatten().map(|o| o.0),
        from: local_date(r.from),
        to: local_date(r.to.plus_seconds(-1)),
        query: q.query(),
        width: m::CHART_WIDTH,
        height: m::CHART_HEIGHT,
        rate_height: 6 * 28,
        rate_bars: m::rate_bars(&rates),
        month_bars: m::month_bars(&r.by_month),
        month_labels,
        sections: vec![
            (
                "镇（街道）",
                if r.by_township.len() > 1 {
                    r.by_township.clone()
                } else {
                    Vec::new()
                },
            ),
            ("承办单位", r.by_unit.clone()),
            ("事件类别", r.by_category.clone()),
            ("来源", r.by_source.clone()),
            ("月份", r.by_month.clone()),
        ],
        orgs,
        r,
    })?;
    Ok(with_status(resp, status))
}

async fn metrics_export(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<MetricsQuery>,
) -> PageResult {
    let r = compute_metrics(&state, &ctx.principal, &q)
        .await
        .map_err(|e| ctx.fail(e))?;
    let rows = super::metrics::export_rows(&r);
    super::record_export(
        &state.db,
        &ctx.actor,
        "case.metrics_export",
        &format!(
            "{}：{} 起至 {} 前",
            r.scope_name,
            r.from.local(),
            r.to.local()
        ),
    )
    .await
    .map_err(|e| ctx.fail(e))?;
    let (bytes, content_type, ext) = crate::catalog::routes::file_bytes(
        Some("xlsx"),
        "案件统计",
        &super::metrics::EXPORT_HEADER,
        &rows,
        catalog::io::Cells::Figures,
    )
    .map_err(|e| ctx.fail(e))?;
    Ok(crate::catalog::routes::download(
        &format!("案件统计-{}.{ext}", r.scope_name),
        content_type,
        bytes,
    ))
}

/// The case metrics of a township, station, department or the district over a period.
#[utoipa::path(get, path = "/api/v1/cases/metrics", operation_id = "cases_metrics", tag = "案件", params(MetricsQuery),
    responses((status = 200, body = super::metrics::Report), (status = 403, body = crate::web::error::ErrorBody),
              (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_metrics(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Query(q): Query<MetricsQuery>,
) -> ApiResult<Json<super::metrics::Report>> {
    Ok(Json(compute_metrics(&state, &ctx.principal, &q).await?))
}

#[derive(Template)]
#[template(path = "cases/summons.html")]
struct SummonsPage {
    shell: Shell,
    rows: Vec<super::metrics::SummonLine>,
    error: Option<String>,
    from: String,
    to: String,
}

impl SummonsPage {
    fn rate(&self, p: impl std::borrow::Borrow<Option<i64>>) -> String {
        super::metrics::percent(*p.borrow())
    }
}

async fn summons_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<MetricsQuery>,
) -> PageResult {
    let (period, error) = match super::metrics::period(q.from.as_deref(), q.to.as_deref()) {
        Ok(p) => (p, None),
        Err(e) => (
            super::metrics::period(None, None).map_err(|e| ctx.fail(e))?,
            Some(e),
        ),
    };
    let rows = super::metrics::summons(&state.db, &ctx.principal, period.0, period.1)
        .await
        .map_err(|e| ctx.fail(e))?;
    let status = form_status(error.as_ref());
    let resp = ctx.render(&SummonsPage {
        shell: ctx.shell("区直部门吹哨报到考核"),
        rows,
        error: error.map(|e| e.to_string()),
        from: local_date(period.0),
        to: local_date(period.1.plus_seconds(-1)),
    })?;
    Ok(with_status(resp, status))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SummonsOut {
    pub departments: Vec<super::metrics::SummonLine>,
}

/// Each department's summons over a period: count, on-time reports, replies, scores (1–5).
#[utoipa::path(get, path = "/api/v1/cases/summons", tag = "案件", params(MetricsQuery),
    responses((status = 200, body = SummonsOut), (status = 403, body = crate::web::error::ErrorBody)))]
pub async fn api_summons(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Query(q): Query<MetricsQuery>,
) -> ApiResult<Json<SummonsOut>> {
    let (from, to) = super::metrics::period(q.from.as_deref(), q.to.as_deref())?;
    Ok(Json(SummonsOut {
        departments: super::metrics::summons(&state.db, &ctx.principal, from, to).await?,
    }))
}

// ---------- routing: confirm or correct the category ----------

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ClassifyIn {
    /// The category code the dispatcher confirms (the suggestion) or corrects to.
    #[serde(default)]
    pub category: String,
}

async fn classify_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<ClassifyIn>,
) -> PageResult {
    let id = CaseId(id);
    match super::classify(
        &state.db,
        &state.case_router,
        &ctx.principal,
        &ctx.actor,
        id,
        &f.category,
    )
    .await
    {
        Ok(()) => Ok(redirect_with(&format!("/cases/{id}"), "已确认分类")),
        Err(e) if refusable(&e) => render_detail(&state, &ctx, id, false, Some(e)).await,
        Err(e) => Err(ctx.fail(e)),
    }
}

/// Confirms or corrects a case's category before dispatch; the router learns from it.
#[utoipa::path(post, path = "/api/v1/cases/{id}/classify", tag = "案件", params(("id" = i64, Path)),
    request_body = ClassifyIn,
    responses((status = 204), (status = 409, body = crate::web::error::ErrorBody),
              (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_classify(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<ClassifyIn>,
) -> ApiResult<StatusCode> {
    super::classify(
        &state.db,
        &state.case_router,
        &ctx.principal,
        &ctx.actor,
        CaseId(id),
        &b.category,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_filter_offers_every_state_of_a_ticket() {
        let registry = crate::workflow::embedded_processes();
        let def = registry.get(super::super::PROCESS).unwrap();
        let offered: Vec<(String, String)> = STATES
            .iter()
            .map(|(id, label)| ((*id).to_owned(), (*label).to_owned()))
            .collect();
        let states: Vec<(String, String)> = def
            .states()
            .iter()
            .map(|s| (s.id.clone(), s.label.clone()))
            .collect();
        assert_eq!(offered, states);
    }
}
