//! Pages and API of the grids context: maps, boundary import, a grid's page with its workers
//! and tasks, the grid worker's mobile page with the patrol log, and the register.

use askama::Template;
use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::model::{OUTSIDE_MESSAGE, PLACE_KINDS};
use super::store::{
    AssignmentRow, BuildingRow, PatrolRow, PointRow, ProblemRow, TaskRow, WorkerAccount,
};
use super::{
    AssignInput, HouseholdFull, HouseholdInput, HouseholdView, Located, MapLink, MapTarget, MyGrid,
    Period, PlaceInput, PlaceView,
};
use crate::auth::Role;
use crate::error::Error;
use crate::ids::OrgId;
use crate::orgs::model::Org;
use crate::time::Timestamp;
use crate::web::AppState;
use crate::web::access::{Access, Routes};
use crate::web::error::{ApiResult, PageResult, form_status};
use crate::web::extract::{FormBody, JsonBody, Path, Query};
use crate::web::page::{ApiCtx, Ctx, Shell, redirect_with};

const IMPORTERS: Access = Access::Roles(&[Role::TownshipOfficer, Role::SystemAdmin]);
const STAFF: Access = Access::Roles(&[Role::TownshipLeader, Role::TownshipOfficer]);
const WORKERS: Access = Access::Roles(&[Role::GridWorker]);
const WORKERS_AND_STAFF: Access = Access::Roles(&[
    Role::GridWorker,
    Role::TownshipLeader,
    Role::TownshipOfficer,
]);
const REVEALERS: Access = Access::Roles(&[Role::GridWorker, Role::TownshipLeader]);

pub fn routes() -> Routes {
    Routes::new()
        .get("/grids/map", Access::SignedIn, map_page)
        .get("/grids/import", IMPORTERS, import_page)
        .upload("/grids/import", IMPORTERS, import_submit)
        .get("/grids/mine", WORKERS, mine_page)
        .post("/grids/patrols", WORKERS, patrol_start)
        .post("/grids/patrols/{id}/points", WORKERS, patrol_point)
        .post("/grids/patrols/{id}/problems", WORKERS, patrol_problem)
        .post("/grids/patrols/{id}/finish", WORKERS, patrol_finish)
        .get("/grids/{id}", Access::SignedIn, grid_page)
        .post("/grids/{id}/workers", STAFF, assign_submit)
        .post("/grids/assignments/{id}/end", STAFF, unassign_submit)
        .post("/grids/{id}/tasks", STAFF, task_submit)
        .post("/grids/tasks/{id}/done", WORKERS_AND_STAFF, task_done)
        .get("/grids/{id}/register", WORKERS_AND_STAFF, register_page)
        .post(
            "/grids/{id}/households",
            WORKERS_AND_STAFF,
            household_submit,
        )
        .post("/grids/{id}/buildings", WORKERS_AND_STAFF, building_submit)
        .post("/grids/{id}/places", WORKERS_AND_STAFF, place_submit)
        .post("/grids/households/{id}/reveal", REVEALERS, reveal_submit)
        .get("/api/v1/grids/locate", Access::SignedIn, api_locate)
        .get("/api/v1/grids/{id}/workers", Access::SignedIn, api_workers)
        .post("/api/v1/grids/{id}/workers", STAFF, api_assign)
        .get(
            "/api/v1/grids/{id}/households",
            WORKERS_AND_STAFF,
            api_households,
        )
}

/// Errors a user corrects on the form come back as a message on the page they came from.
fn back(ctx: &Ctx, to: &str, e: Error) -> PageResult {
    match e {
        Error::Invalid { .. } | Error::Conflict(_) => Ok(redirect_with(to, &e.to_string())),
        other => Err(ctx.fail(other)),
    }
}

// ---------- maps ----------

#[derive(Deserialize)]
struct MapQuery {
    township: Option<i64>,
    community: Option<i64>,
    view: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Template)]
#[template(path = "grids/map.html")]
struct MapPage {
    shell: Shell,
    svg: String,
    parts: Vec<MapLink>,
    up: Option<MapLink>,
    missing: Vec<String>,
    heat: bool,
    heat_total: i64,
    base_query: String,
    from: String,
    to: String,
    can_import: bool,
}

async fn map_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<MapQuery>,
) -> PageResult {
    let target = match (q.community, q.township) {
        (Some(c), _) => MapTarget::Community(OrgId(c)),
        (None, Some(t)) => MapTarget::Township(OrgId(t)),
        _ => MapTarget::Default,
    };
    let heat = q.view.as_deref() == Some("heat");
    let today = Timestamp::now().start_of_local_day();
    let from_text = q.from.clone().filter(|s| !s.trim().is_empty());
    let to_text = q.to.clone().filter(|s| !s.trim().is_empty());
    let period = if heat {
        let from = match &from_text {
            Some(s) => Timestamp::parse_local_date(s)
                .ok_or_else(|| ctx.fail(Error::invalid("from", "起始日期应为 YYYY-MM-DD")))?,
            None => today.plus_seconds(-30 * 86_400),
        };
        let to = match &to_text {
            Some(s) => Timestamp::parse_local_date(s)
                .ok_or_else(|| ctx.fail(Error::invalid("to", "截止日期应为 YYYY-MM-DD")))?
                .plus_seconds(86_400),
            None => today.plus_seconds(86_400),
        };
        if to <= from {
            return Err(ctx.fail(Error::invalid("to", "截止日期不能早于起始日期")));
        }
        Some(Period { from, to })
    } else {
        None
    };
    let view = super::map(&state.db, &ctx.principal, target, period)
        .await
        .map_err(|e| ctx.fail(e))?;
    ctx.render(&MapPage {
        shell: ctx.shell(&view.title),
        svg: view.svg,
        parts: view.parts,
        up: view.up,
        missing: view.missing,
        heat,
        heat_total: view.heat_total.unwrap_or(0),
        base_query: view.base_query,
        from: period
            .map(|p| p.from.local()[..10].to_owned())
            .unwrap_or_default(),
        to: period
            .map(|p| p.to.plus_seconds(-1).local()[..10].to_owned())
            .unwrap_or_default(),
        can_import: ctx
            .principal
            .has_any(&[Role::TownshipOfficer, Role::SystemAdmin]),
    })
}

// ---------- import ----------

#[derive(Template)]
#[template(path = "grids/import.html")]
struct ImportPage {
    shell: Shell,
    error: Option<String>,
    problems: Vec<String>,
}

async fn import_page(ctx: Ctx) -> PageResult {
    ctx.render(&ImportPage {
        shell: ctx.shell("导入网格边界"),
        error: None,
        problems: Vec::new(),
    })
}

fn import_failed(ctx: &Ctx, e: Error) -> PageResult {
    let status = form_status(Some(&e));
    let text = e.to_string();
    let mut lines = text.lines().map(str::to_owned);
    let first = lines.next().unwrap_or_default();
    let mut resp = ctx.render(&ImportPage {
        shell: ctx.shell("导入网格边界"),
        error: Some(first),
        problems: lines.collect(),
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

async fn import_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult {
    let Ok(mut mp) = mp else {
        return import_failed(
            &ctx,
            Error::invalid(
                "file",
                "请通过页面的上传表单提交文件（multipart/form-data）",
            ),
        );
    };
    let mut file: Option<Vec<u8>> = None;
    let mut gcj02 = false;
    loop {
        match mp.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                let Ok(data) = field.bytes().await else {
                    return import_failed(&ctx, Error::invalid("file", "上传的文件无法读取或过大"));
                };
                match name.as_str() {
                    "file" => file = Some(data.to_vec()),
                    "gcj02" => gcj02 = !data.is_empty() && data.as_ref() != b"0",
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => return import_failed(&ctx, Error::invalid("file", "上传的内容无法读取")),
        }
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return import_failed(&ctx, Error::invalid("file", "请选择要导入的 GeoJSON 文件"));
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return import_failed(&ctx, Error::invalid("file", "GeoJSON 文件应为 UTF-8 编码"));
    };
    let within = super::import_scope(&ctx.principal);
    match super::import_boundaries(
        &state.db,
        &state.grid_index,
        &ctx.actor,
        &within,
        &text,
        gcj02,
    )
    .await
    {
        Ok(s) => Ok(redirect_with(
            "/grids/map",
            &format!(
                "已导入 {} 个村（社区）、{} 个网格的边界",
                s.communities, s.grids
            ),
        )),
        Err(e @ Error::Invalid { .. }) => import_failed(&ctx, e),
        Err(e) => Err(ctx.fail(e)),
    }
}

// ---------- a grid's page ----------

#[derive(Template)]
#[template(path = "grids/grid.html")]
struct GridPage {
    shell: Shell,
    grid: Org,
    community: Option<Org>,
    svg: Option<String>,
    workers: Vec<AssignmentRow>,
    history: Vec<AssignmentRow>,
    tasks: Vec<TaskRow>,
    patrols: Vec<PatrolRow>,
    problems: Vec<ProblemRow>,
    accounts: Vec<WorkerAccount>,
    can_assign: bool,
    can_work: bool,
    can_register: bool,
}

async fn grid_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let d = super::grid_detail(&state.db, &ctx.principal, OrgId(id))
        .await
        .map_err(|e| ctx.fail(e))?;
    ctx.render(&GridPage {
        shell: ctx.shell(&d.grid.name),
        grid: d.grid,
        community: d.community,
        svg: d.svg,
        workers: d.workers,
        history: d.history,
        tasks: d.tasks,
        patrols: d.patrols,
        problems: d.problems,
        accounts: d.accounts,
        can_assign: d.can_assign,
        can_work: d.can_work,
        can_register: d.can_register,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AssignForm {
    user_id: String,
    worker_name: String,
    employment: String,
    duties: String,
    replaces: String,
}

impl From<AssignForm> for AssignInput {
    fn from(f: AssignForm) -> Self {
        AssignInput {
            user_id: f.user_id.trim().parse().ok(),
            worker_name: f.worker_name,
            employment: f.employment,
            duties: f.duties,
            replaces: f.replaces.trim().parse().ok(),
        }
    }
}

async fn assign_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<AssignForm>,
) -> PageResult {
    let to = format!("/grids/{id}");
    match super::assign(&state.db, &ctx.principal, &ctx.actor, OrgId(id), f.into()).await {
        Ok(_) => Ok(redirect_with(&to, "已配备网格员")),
        Err(e) => back(&ctx, &to, e),
    }
}

async fn unassign_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> PageResult {
    match super::end_assignment(&state.db, &ctx.principal, &ctx.actor, id).await {
        Ok(super::Ended::Now(grid)) => Ok(redirect_with(
            &format!("/grids/{grid}"),
            "网格员已离任，任职记录已保留",
        )),
        Ok(super::Ended::Before(grid)) => Ok(redirect_with(
            &format!("/grids/{grid}"),
            "该网格员此前已经离任，无需再次操作",
        )),
        Err(e) => back(&ctx, "/grids/map", e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TaskForm {
    title: String,
    detail: String,
    due_date: String,
}

async fn task_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<TaskForm>,
) -> PageResult {
    let to = format!("/grids/{id}");
    match super::add_task(
        &state.db,
        &ctx.principal,
        &ctx.actor,
        OrgId(id),
        &f.title,
        &f.detail,
        &f.due_date,
    )
    .await
    {
        Ok(_) => Ok(redirect_with(&to, "已布置任务")),
        Err(e) => back(&ctx, &to, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DoneForm {
    done: String,
    back: String,
}

async fn task_done(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<DoneForm>,
) -> PageResult {
    let done = f.done != "0";
    match super::set_task_done(&state.db, &ctx.principal, &ctx.actor, id, done).await {
        Ok(grid) => {
            let to = if f.back == "mine" {
                "/grids/mine".to_owned()
            } else {
                format!("/grids/{grid}")
            };
            Ok(redirect_with(
                &to,
                if done {
                    "任务已完成"
                } else {
                    "任务改为未完成"
                },
            ))
        }
        Err(e) => back(&ctx, "/grids/mine", e),
    }
}

// ---------- the worker's mobile page ----------

#[derive(Template)]
#[template(path = "grids/mine.html")]
struct MinePage {
    shell: Shell,
    grids: Vec<MyGrid>,
    patrol: Option<PatrolRow>,
    points: Vec<PointRow>,
    problems: Vec<ProblemRow>,
    recent: Vec<PatrolRow>,
    typed: PatrolTyped,
}

/// A patrol form that was refused, shown again with its message and what was typed; a worker
/// on the street should not have to type a problem twice.
#[derive(Default)]
struct PatrolTyped {
    error: Option<Error>,
    point: PointForm,
    problem: ProblemForm,
    summary: String,
}

async fn mine_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    render_mine(&state, &ctx, PatrolTyped::default()).await
}

async fn render_mine(state: &AppState, ctx: &Ctx, typed: PatrolTyped) -> PageResult {
    let w = super::my_work(&state.db, &ctx.principal)
        .await
        .map_err(|e| ctx.fail(e))?;
    let status = form_status(typed.error.as_ref());
    let mut resp = ctx.render(&MinePage {
        shell: ctx.shell("我的网格"),
        grids: w.grids,
        patrol: w.patrol,
        points: w.points,
        problems: w.problems,
        recent: w.recent,
        typed,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

/// After a patrol step: back to my work, or, refused for what was typed, my work again with
/// the form as it was sent.
async fn patrolled(
    state: &AppState,
    ctx: &Ctx,
    outcome: Result<(), Error>,
    done: &str,
    keep: impl FnOnce(&mut PatrolTyped),
) -> PageResult {
    match outcome {
        Ok(()) => Ok(redirect_with("/grids/mine", done)),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => {
            let mut typed = PatrolTyped {
                error: Some(e),
                ..PatrolTyped::default()
            };
            keep(&mut typed);
            render_mine(state, ctx, typed).await
        }
        Err(other) => Err(ctx.fail(other)),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StartForm {
    grid_id: String,
}

async fn patrol_start(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<StartForm>,
) -> PageResult {
    let Ok(grid) = f.grid_id.trim().parse::<i64>() else {
        return back(
            &ctx,
            "/grids/mine",
            Error::invalid("grid_id", "请选择要巡查的网格"),
        );
    };
    match super::start_patrol(&state.db, &ctx.principal, &ctx.actor, OrgId(grid)).await {
        Ok(_) => Ok(redirect_with("/grids/mine", "巡查已开始")),
        Err(e) => back(&ctx, "/grids/mine", e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PointForm {
    lon: String,
    lat: String,
    note: String,
}

async fn patrol_point(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<PointForm>,
) -> PageResult {
    let outcome = super::add_point(
        &state.db,
        &ctx.principal,
        &ctx.actor,
        id,
        &f.lon,
        &f.lat,
        &f.note,
    )
    .await
    .map(drop);
    patrolled(&state, &ctx, outcome, "已记录巡查点位", |t| {
        t.point = f
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ProblemForm {
    category: String,
    description: String,
    lon: String,
    lat: String,
}

async fn patrol_problem(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<ProblemForm>,
) -> PageResult {
    let input = super::ProblemInput {
        category: f.category.clone(),
        description: f.description.clone(),
        lon: f.lon.clone(),
        lat: f.lat.clone(),
    };
    let outcome = super::add_problem(&state.db, &ctx.principal, &ctx.actor, id, input)
        .await
        .map(drop);
    patrolled(&state, &ctx, outcome, "已记录发现的问题", |t| {
        t.problem = f
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FinishForm {
    summary: String,
}

async fn patrol_finish(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<FinishForm>,
) -> PageResult {
    let outcome = super::finish_patrol(&state.db, &ctx.principal, &ctx.actor, id, &f.summary).await;
    patrolled(&state, &ctx, outcome, "巡查已结束", |t| {
        t.summary = f.summary
    })
    .await
}

// ---------- the register ----------

#[derive(Deserialize)]
struct RegisterQuery {
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "grids/register.html")]
struct RegisterPage {
    shell: Shell,
    grid: Org,
    q: String,
    buildings: Vec<BuildingRow>,
    households: Vec<HouseholdView>,
    places: Vec<PlaceView>,
    can_edit: bool,
    can_reveal: bool,
    place_kinds: &'static [(&'static str, &'static str)],
    typed: Typed,
}

/// A registration form that was refused, shown again open with its message and what was
/// typed in it; the other forms start empty.
#[derive(Default)]
struct Typed {
    error: Option<Error>,
    /// Which form was refused: `household`, `building` or `place`.
    open: &'static str,
    household: HouseholdForm,
    building: BuildingForm,
    place: PlaceForm,
}

async fn register_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<RegisterQuery>,
) -> PageResult {
    let q = q.q.unwrap_or_default();
    render_register(&state, &ctx, id, &q, Typed::default()).await
}

async fn render_register(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    q: &str,
    typed: Typed,
) -> PageResult {
    let r = super::register(&state.db, &ctx.principal, OrgId(id), q)
        .await
        .map_err(|e| ctx.fail(e))?;
    let status = form_status(typed.error.as_ref());
    let mut resp = ctx.render(&RegisterPage {
        shell: ctx.shell(&format!("{} · 基础信息", r.grid.name)),
        grid: r.grid,
        q: r.q,
        buildings: r.buildings,
        households: r.households,
        places: r.places,
        can_edit: r.can_edit,
        can_reveal: r.can_reveal,
        place_kinds: &PLACE_KINDS,
        typed,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

/// After a registration: back to the register, or, refused for what was typed, the register
/// again with the form as it was sent.
async fn registered(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    outcome: Result<(), Error>,
    done: &str,
    keep: impl FnOnce(&mut Typed),
) -> PageResult {
    match outcome {
        Ok(()) => Ok(redirect_with(&format!("/grids/{id}/register"), done)),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => {
            let mut typed = Typed {
                error: Some(e),
                ..Typed::default()
            };
            keep(&mut typed);
            render_register(state, ctx, id, "", typed).await
        }
        Err(other) => Err(ctx.fail(other)),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HouseholdForm {
    building_id: String,
    head_name: String,
    id_number: String,
    phone: String,
    members: String,
    address: String,
    note: String,
}

async fn household_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<HouseholdForm>,
) -> PageResult {
    let input = HouseholdInput {
        building_id: f.building_id.trim().parse().ok(),
        head_name: f.head_name.clone(),
        id_number: f.id_number.clone(),
        phone: f.phone.clone(),
        members: f.members.clone(),
        address: f.address.clone(),
        note: f.note.clone(),
    };
    let outcome = super::add_household(
        &state.db,
        &state.personal_data,
        &ctx.principal,
        &ctx.actor,
        OrgId(id),
        input,
    )
    .await
    .map(drop);
    registered(&state, &ctx, id, outcome, "已登记住户", |t| {
        (t.open, t.household) = ("household", f)
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BuildingForm {
    name: String,
    address: String,
    floors: String,
    note: String,
}

async fn building_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<BuildingForm>,
) -> PageResult {
    let input = super::BuildingInput {
        name: f.name.clone(),
        address: f.address.clone(),
        floors: f.floors.clone(),
        note: f.note.clone(),
    };
    let outcome = super::add_building(&state.db, &ctx.principal, &ctx.actor, OrgId(id), input)
        .await
        .map(drop);
    registered(&state, &ctx, id, outcome, "已登记楼栋", |t| {
        (t.open, t.building) = ("building", f)
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PlaceForm {
    kind: String,
    name: String,
    address: String,
    contact_name: String,
    contact_phone: String,
    note: String,
}

async fn place_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<PlaceForm>,
) -> PageResult {
    let input = PlaceInput {
        kind: f.kind.clone(),
        name: f.name.clone(),
        address: f.address.clone(),
        contact_name: f.contact_name.clone(),
        contact_phone: f.contact_phone.clone(),
        note: f.note.clone(),
    };
    let outcome = super::add_place(&state.db, &ctx.principal, &ctx.actor, OrgId(id), input)
        .await
        .map(drop);
    registered(&state, &ctx, id, outcome, "已登记重点场所", |t| {
        (t.open, t.place) = ("place", f)
    })
    .await
}

#[derive(Template)]
#[template(path = "grids/household.html")]
struct HouseholdPage {
    shell: Shell,
    full: HouseholdFull,
}

/// A POST, not a link: showing the full data writes an audit row.
async fn reveal_submit(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let full = super::reveal_household(
        &state.db,
        &state.personal_data,
        &ctx.principal,
        &ctx.actor,
        id,
    )
    .await
    .map_err(|e| ctx.fail(e))?;
    let mut resp = ctx.render(&HouseholdPage {
        shell: ctx.shell("住户完整信息"),
        full,
    })?;
    // Personal data must not linger in caches.
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

// ---------- API ----------

#[derive(Deserialize, utoipa::IntoParams)]
pub struct LocateQuery {
    /// Longitude, WGS-84 degrees.
    lon: Option<f64>,
    /// Latitude, WGS-84 degrees.
    lat: Option<f64>,
}

/// Where a point lies: `inside` with the grid, community and township, or not inside with
/// the message to show.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LocateAnswer {
    pub inside: bool,
    #[serde(flatten)]
    pub located: Option<Located>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Finds the grid containing a WGS-84 point.
#[utoipa::path(get, path = "/api/v1/grids/locate", tag = "grids", params(LocateQuery),
    responses((status = 200, body = LocateAnswer), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_locate(
    State(state): State<AppState>,
    _ctx: ApiCtx,
    q: Result<Query<LocateQuery>, crate::web::extract::ParamRejection>,
) -> ApiResult<Json<LocateAnswer>> {
    let (lon, lat) = match q {
        Ok(Query(LocateQuery {
            lon: Some(lon),
            lat: Some(lat),
        })) => (lon, lat),
        _ => {
            return Err(
                Error::invalid("lon", "请提供数字形式的经度 lon 和纬度 lat（WGS-84）").into(),
            );
        }
    };
    let found = super::locate(&state.db, &state.grid_index, lon, lat).await?;
    Ok(Json(LocateAnswer {
        inside: found.is_some(),
        message: found.is_none().then(|| OUTSIDE_MESSAGE.to_owned()),
        located: found,
    }))
}

/// Every worker assignment of a grid, current ones first (`to_at` empty), then history.
#[utoipa::path(get, path = "/api/v1/grids/{id}/workers", tag = "grids",
    params(("id" = i64, Path, description = "grid id")),
    responses((status = 200, body = [AssignmentRow]), (status = 404, body = crate::web::error::ErrorBody)))]
pub async fn api_workers(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<AssignmentRow>>> {
    Ok(Json(
        super::assignments(&state.db, &ctx.principal, OrgId(id)).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AssignBody {
    /// An account with the grid worker role; or leave out and give `worker_name`.
    user_id: Option<i64>,
    #[serde(default)]
    worker_name: String,
    /// full_time | part_time
    employment: String,
    duties: String,
    /// The current assignment of this grid that the new one replaces.
    replaces: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Created {
    pub id: i64,
}

/// Assigns a worker to a grid (optionally replacing a current one).
#[utoipa::path(post, path = "/api/v1/grids/{id}/workers", tag = "grids",
    params(("id" = i64, Path, description = "grid id")), request_body = AssignBody,
    responses((status = 201, body = Created), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_assign(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(b): JsonBody<AssignBody>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let id = super::assign(
        &state.db,
        &ctx.principal,
        &ctx.actor,
        OrgId(id),
        AssignInput {
            user_id: b.user_id,
            worker_name: b.worker_name,
            employment: b.employment,
            duties: b.duties,
            replaces: b.replaces,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct HouseholdQuery {
    /// Part of the head's name or the address.
    q: Option<String>,
}

/// A grid's households, phone and ID numbers masked.
#[utoipa::path(get, path = "/api/v1/grids/{id}/households", tag = "grids",
    params(("id" = i64, Path, description = "grid id"), HouseholdQuery),
    responses((status = 200, body = [HouseholdView]), (status = 403, body = crate::web::error::ErrorBody)))]
pub async fn api_households(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    Query(q): Query<HouseholdQuery>,
) -> ApiResult<Json<Vec<HouseholdView>>> {
    let r = super::register(
        &state.db,
        &ctx.principal,
        OrgId(id),
        q.q.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(Json(r.households))
}
