//! Organisation pages and API.

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::model::{NewOrg, Org, OrgKind, Subkind, sort_as_tree};
use super::{OrgQuery, store};
use crate::auth::{Principal, Role};
use crate::error::Error;
use crate::ids::OrgId;
use crate::web::AppState;
use crate::web::access::{Access, Routes};
use crate::web::error::{ApiResult, PageResult};
use crate::web::extract::{FormBody, JsonBody, Path, Query};
use crate::web::page::{ApiCtx, Ctx, Pager, Shell, query_string, redirect_with};

const MANAGERS: Access = Access::Roles(&[Role::SystemAdmin, Role::EstablishmentOffice]);

pub fn routes() -> Routes {
    Routes::new()
        .get("/orgs", Access::SignedIn, tree_page)
        .get("/orgs/new", MANAGERS, new_page)
        .post("/orgs", MANAGERS, create_submit)
        .get("/orgs/{id}", Access::SignedIn, detail_page)
        .post("/orgs/{id}/rename", MANAGERS, rename_submit)
        .post("/orgs/{id}/move", MANAGERS, move_submit)
        .post("/orgs/{id}/retire", MANAGERS, retire_submit)
        .get("/api/v1/orgs", Access::SignedIn, api_list)
        .post("/api/v1/orgs", MANAGERS, api_create)
        .get("/api/v1/orgs/{id}", Access::SignedIn, api_get)
        .patch("/api/v1/orgs/{id}", MANAGERS, api_update)
        .post("/api/v1/orgs/{id}/retire", MANAGERS, api_retire)
}

/// An organisation with its children, for the tree page.
pub struct Node {
    pub org: Org,
    pub children: Vec<Node>,
}

impl Node {
    pub fn count(&self, kind: &str) -> usize {
        self.children
            .iter()
            .map(|c| usize::from(c.org.kind.as_str() == kind) + c.count(kind))
            .sum()
    }
}

fn build_tree(orgs: Vec<Org>) -> Vec<Node> {
    // Orgs arrive sorted as a tree; attach each to its parent if the parent is present.
    let ids: std::collections::HashSet<OrgId> = orgs.iter().map(|o| o.id).collect();
    let mut children: std::collections::HashMap<OrgId, Vec<Org>> = std::collections::HashMap::new();
    let mut roots = Vec::new();
    for o in orgs {
        match o.parent_id.filter(|p| ids.contains(p)) {
            Some(p) => children.entry(p).or_default().push(o),
            None => roots.push(o),
        }
    }
    fn attach(o: Org, children: &mut std::collections::HashMap<OrgId, Vec<Org>>) -> Node {
        let kids = children.remove(&o.id).unwrap_or_default();
        Node {
            children: kids.into_iter().map(|k| attach(k, children)).collect(),
            org: o,
        }
    }
    roots
        .into_iter()
        .map(|r| attach(r, &mut children))
        .collect()
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
pub struct ListQuery {
    /// Part of the name or code.
    q: Option<String>,
    /// district, township, community, grid, department or station.
    kind: Option<String>,
    parent_id: Option<i64>,
    /// `1` or `true` to include retired organisations.
    include_retired: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

impl ListQuery {
    fn to_query(&self) -> Result<OrgQuery, Error> {
        let kind = match self.kind.as_deref().filter(|k| !k.is_empty()) {
            Some(k) => Some(
                OrgKind::parse(k)
                    .ok_or_else(|| Error::invalid("kind", format!("未知的组织类型 {k}")))?,
            ),
            None => None,
        };
        let per_page = i64::from(self.per_page.unwrap_or(50).clamp(1, 500));
        Ok(OrgQuery {
            q: self.q.clone(),
            kind,
            parent_id: self.parent_id.map(OrgId),
            department_id: None,
            within: None,
            include_retired: matches!(self.include_retired.as_deref(), Some("1" | "true" | "on")),
            limit: per_page,
            offset: i64::from(self.page.unwrap_or(1).max(1) - 1) * per_page,
        })
    }

    fn filtered(&self) -> bool {
        self.q.as_deref().is_some_and(|s| !s.trim().is_empty())
            || self.kind.as_deref().is_some_and(|s| !s.is_empty())
            || self.parent_id.is_some()
            || self.page.is_some()
    }
}

#[derive(Template)]
#[template(path = "orgs/tree.html")]
struct TreePage {
    shell: Shell,
    can_manage: bool,
    roots: Vec<Node>,
    results: Option<Vec<Org>>,
    pager: Pager,
    q: String,
    kind: String,
    include_retired: bool,
    kinds: Vec<OrgKind>,
}

async fn tree_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(lq): Query<ListQuery>,
) -> PageResult {
    let q = lq.to_query().map_err(|e| ctx.fail(e))?;
    let include_retired = q.include_retired;
    let (roots, results, pager) = if lq.filtered() {
        let (items, total) = super::list(&state.db, &ctx.principal, q.clone())
            .await
            .map_err(|e| ctx.fail(e))?;
        let base = query_string(&[
            ("q", lq.q.as_deref()),
            ("kind", lq.kind.as_deref()),
            ("include_retired", lq.include_retired.as_deref()),
        ]);
        let pager = Pager::new(lq.page.unwrap_or(1), q.limit as u32, total, base);
        (Vec::new(), Some(items), pager)
    } else {
        let all_q = OrgQuery {
            include_retired,
            limit: 100_000,
            ..Default::default()
        };
        let (mut all, total) = super::list(&state.db, &ctx.principal, all_q)
            .await
            .map_err(|e| ctx.fail(e))?;
        sort_as_tree(&mut all);
        (
            build_tree(all),
            None,
            Pager::new(1, 100_000, total, String::new()),
        )
    };
    ctx.render(&TreePage {
        shell: ctx.shell("组织机构"),
        can_manage: ctx.principal.org_manager().is_some(),
        roots,
        results,
        pager,
        q: lq.q.clone().unwrap_or_default(),
        kind: lq.kind.clone().unwrap_or_default(),
        include_retired,
        kinds: OrgKind::ALL.to_vec(),
    })
}

#[derive(Template)]
#[template(path = "orgs/detail.html")]
struct DetailPage {
    shell: Shell,
    org: Org,
    parent: Option<Org>,
    department: Option<Org>,
    children: Vec<Org>,
    can_manage: bool,
    error: Option<String>,
    typed: Typed,
}

/// What was typed into the organisation's forms, shown again when one is refused.
#[derive(Default)]
struct Typed {
    name: Option<String>,
    parent_code: String,
    new_code: String,
    reason: String,
}

async fn render_detail(
    state: &AppState,
    ctx: &Ctx,
    id: OrgId,
    error: Option<Error>,
    typed: Typed,
) -> PageResult {
    let org = super::get_visible(&state.db, &ctx.principal, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let mut pooled = state.db.acquire().await.map_err(|e| ctx.fail(e))?;
    let mut conn = pooled.conn();
    let parent = match org.parent_id {
        Some(p) => store::get(&mut conn, p).await.map_err(|e| ctx.fail(e))?,
        None => None,
    };
    let department = match org.department_id {
        Some(d) => store::get(&mut conn, d).await.map_err(|e| ctx.fail(e))?,
        None => None,
    };
    // A department's "children" are the stations it keeps in townships.
    let (parent_id, department_id) = if org.kind == OrgKind::Department {
        (None, Some(org.id))
    } else {
        (Some(org.id), None)
    };
    let mut children = store::list(
        &mut conn,
        &OrgQuery {
            parent_id,
            department_id,
            include_retired: true,
            limit: 10_000,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| ctx.fail(e))?
    .0;
    children.retain(|c| super::visible(&ctx.principal.scope, c));
    let status = crate::web::error::form_status(error.as_ref());
    let mut resp = ctx.render(&DetailPage {
        shell: ctx.shell(&org.name),
        can_manage: ctx.principal.org_manager().is_some() && ctx.principal.scope.covers(&org),
        org,
        parent,
        department,
        children,
        error: error.map(|e| e.to_string()),
        typed,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

async fn detail_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    render_detail(&state, &ctx, OrgId(id), None, Typed::default()).await
}

#[derive(Template)]
#[template(path = "orgs/new.html")]
struct NewPage {
    shell: Shell,
    parent: Option<Org>,
    kinds: Vec<OrgKind>,
    departments: Vec<Org>,
    error: Option<String>,
    form: CreateForm,
}

#[derive(Deserialize, Default, Clone)]
struct CreateForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    subkind: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    department_id: String,
}

#[derive(Deserialize)]
struct NewQuery {
    parent_id: Option<i64>,
}

async fn render_new(
    state: &AppState,
    ctx: &Ctx,
    form: CreateForm,
    error: Option<Error>,
) -> PageResult {
    let parent = match form.parent_id.parse::<i64>() {
        Ok(id) => Some(
            super::get_visible(&state.db, &ctx.principal, OrgId(id))
                .await
                .map_err(|e| ctx.fail(e))?,
        ),
        Err(_) => None,
    };
    let kinds: Vec<OrgKind> = OrgKind::ALL
        .into_iter()
        .filter(|k| k.parent_kind() == parent.as_ref().map(|p| p.kind))
        .collect();
    let departments = if kinds.contains(&OrgKind::Station) {
        let q = OrgQuery {
            kind: Some(OrgKind::Department),
            limit: 1000,
            ..Default::default()
        };
        super::list(&state.db, &ctx.principal, q)
            .await
            .map_err(|e| ctx.fail(e))?
            .0
    } else {
        Vec::new()
    };
    let status = crate::web::error::form_status(error.as_ref());
    let mut resp = ctx.render(&NewPage {
        shell: ctx.shell("新建组织"),
        parent,
        kinds,
        departments,
        error: error.map(|e| e.to_string()),
        form,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

async fn new_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<NewQuery>,
) -> PageResult {
    let form = CreateForm {
        parent_id: q.parent_id.map(|p| p.to_string()).unwrap_or_default(),
        ..Default::default()
    };
    render_new(&state, &ctx, form, None).await
}

fn parse_create(f: &CreateForm) -> Result<NewOrg, Error> {
    let kind = OrgKind::parse(&f.kind).ok_or_else(|| Error::invalid("kind", "请选择组织类型"))?;
    let subkind = match f.subkind.as_str() {
        "" => None,
        s => Some(Subkind::parse(s).ok_or_else(|| Error::invalid("subkind", "类型无效"))?),
    };
    let id = |s: &str, field: &str| -> Result<Option<OrgId>, Error> {
        match s.trim() {
            "" => Ok(None),
            v => v
                .parse()
                .map(|n| Some(OrgId(n)))
                .map_err(|_| Error::invalid(field, "组织编号无效")),
        }
    };
    Ok(NewOrg {
        kind,
        subkind,
        code: f.code.clone(),
        name: f.name.clone(),
        parent_id: id(&f.parent_id, "parent_id")?,
        department_id: id(&f.department_id, "department_id")?,
    })
}

async fn create_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<CreateForm>,
) -> PageResult {
    let cap = Principal::require(ctx.principal.org_manager()).map_err(|e| ctx.fail(e))?;
    let result = match parse_create(&f) {
        Ok(new) => super::create(&state.db, &cap, &ctx.actor, new).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(org) => Ok(redirect_with(
            &format!("/orgs/{}", org.id),
            &format!("已新建「{}」", org.name),
        )),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => {
            render_new(&state, &ctx, f, Some(e)).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Deserialize)]
struct RenameForm {
    #[serde(default)]
    name: String,
}

async fn finish(
    state: &AppState,
    ctx: &Ctx,
    id: OrgId,
    result: Result<Org, Error>,
    done: &str,
    typed: Typed,
) -> PageResult {
    match result {
        Ok(_) => Ok(redirect_with(&format!("/orgs/{id}"), done)),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => {
            render_detail(state, ctx, id, Some(e), typed).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

async fn rename_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<RenameForm>,
) -> PageResult {
    let cap = Principal::require(ctx.principal.org_manager()).map_err(|e| ctx.fail(e))?;
    let r = super::rename(&state.db, &cap, &ctx.actor, OrgId(id), &f.name).await;
    let typed = Typed {
        name: Some(f.name),
        ..Typed::default()
    };
    finish(&state, &ctx, OrgId(id), r, "已更名", typed).await
}

#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    parent_code: String,
    #[serde(default)]
    new_code: String,
}

async fn move_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<MoveForm>,
) -> PageResult {
    let cap = Principal::require(ctx.principal.org_manager()).map_err(|e| ctx.fail(e))?;
    let parent = {
        let mut c = state.db.acquire().await.map_err(|e| ctx.fail(e))?;
        store::get_by_code(&mut c.conn(), f.parent_code.trim())
            .await
            .map_err(|e| ctx.fail(e))?
    };
    let r = match parent {
        Some(p) => {
            let code = Some(f.new_code.as_str()).filter(|s| !s.trim().is_empty());
            super::move_to(&state.db, &cap, &ctx.actor, OrgId(id), p.id, code).await
        }
        None => Err(Error::invalid(
            "parent_code",
            format!("找不到编码为「{}」的组织", f.parent_code.trim()),
        )),
    };
    let typed = Typed {
        parent_code: f.parent_code,
        new_code: f.new_code,
        ..Typed::default()
    };
    finish(&state, &ctx, OrgId(id), r, "已调整隶属关系", typed).await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RetireForm {
    #[serde(default)]
    pub reason: String,
}

async fn retire_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<RetireForm>,
) -> PageResult {
    let cap = Principal::require(ctx.principal.org_manager()).map_err(|e| ctx.fail(e))?;
    let r = super::retire(&state.db, &cap, &ctx.actor, OrgId(id), &f.reason).await;
    let typed = Typed {
        reason: f.reason,
        ..Typed::default()
    };
    finish(&state, &ctx, OrgId(id), r, "已撤销", typed).await
}

// ---------- JSON API ----------

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgList {
    pub items: Vec<Org>,
    pub total: i64,
}

/// Lists organisations within the caller's scope, with filters and pagination.
#[utoipa::path(get, path = "/api/v1/orgs", operation_id = "orgs_list", tag = "组织机构", params(ListQuery),
    responses((status = 200, body = OrgList), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_list(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Query(lq): Query<ListQuery>,
) -> ApiResult<Json<OrgList>> {
    let q = lq.to_query()?;
    let (items, total) = super::list(&state.db, &ctx.principal, q).await?;
    Ok(Json(OrgList { items, total }))
}

/// Creates an organisation.
#[utoipa::path(post, path = "/api/v1/orgs", tag = "组织机构", request_body = NewOrg,
    responses((status = 201, body = Org), (status = 409, body = crate::web::error::ErrorBody),
              (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_create(
    State(state): State<AppState>,
    ctx: ApiCtx,
    JsonBody(new): JsonBody<NewOrg>,
) -> ApiResult<(StatusCode, Json<Org>)> {
    let cap = Principal::require(ctx.principal.org_manager())?;
    Ok((
        StatusCode::CREATED,
        Json(super::create(&state.db, &cap, &ctx.actor, new).await?),
    ))
}

/// One organisation.
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "组织机构", params(("id" = i64, Path)),
    responses((status = 200, body = Org), (status = 403, body = crate::web::error::ErrorBody),
              (status = 404, body = crate::web::error::ErrorBody)))]
pub async fn api_get(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
) -> ApiResult<Json<Org>> {
    Ok(Json(
        super::get_visible(&state.db, &ctx.principal, OrgId(id)).await?,
    ))
}

/// Renames and/or moves an organisation. Moving a township or community under a parent with
/// another division code needs `code`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct OrgUpdate {
    pub name: Option<String>,
    #[schema(value_type = Option<i64>)]
    pub parent_id: Option<OrgId>,
    pub code: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/orgs/{id}", tag = "组织机构", params(("id" = i64, Path)), request_body = OrgUpdate,
    responses((status = 200, body = Org), (status = 409, body = crate::web::error::ErrorBody),
              (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_update(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(upd): JsonBody<OrgUpdate>,
) -> ApiResult<Json<Org>> {
    let cap = Principal::require(ctx.principal.org_manager())?;
    // One change per request, so that a failure never leaves half of it applied.
    match (&upd.name, &upd.parent_id) {
        (None, None) => return Err(Error::invalid("body", "请提供 name 或 parent_id").into()),
        (Some(_), Some(_)) => {
            return Err(Error::invalid("body", "更名与调整隶属请分两次提交").into());
        }
        _ => {}
    }
    if upd.code.is_some() && upd.parent_id.is_none() {
        return Err(Error::invalid("code", "只有调整隶属时才能修改编码").into());
    }
    let org = match (upd.name, upd.parent_id) {
        (Some(name), _) => super::rename(&state.db, &cap, &ctx.actor, OrgId(id), &name).await?,
        (None, Some(parent)) => {
            super::move_to(
                &state.db,
                &cap,
                &ctx.actor,
                OrgId(id),
                parent,
                upd.code.as_deref(),
            )
            .await?
        }
        (None, None) => unreachable!("checked above"),
    };
    Ok(Json(org))
}

/// Retires an organisation (never deleted: history refers to it).
#[utoipa::path(post, path = "/api/v1/orgs/{id}/retire", tag = "组织机构", params(("id" = i64, Path)), request_body = RetireForm,
    responses((status = 200, body = Org), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn api_retire(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(f): JsonBody<RetireForm>,
) -> ApiResult<Json<Org>> {
    let cap = Principal::require(ctx.principal.org_manager())?;
    Ok(Json(
        super::retire(&state.db, &cap, &ctx.actor, OrgId(id), &f.reason).await?,
    ))
}
