//! Sign-in, sign-out, one's own password, and the security administrator's account pages and
//! API. Handlers parse, authorise (capability), call the domain and render.

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::model::{Principal, Role};
use super::{Account, AccountAction, AccountUpdate, LoginError, NewAccount};
use crate::error::Error;
use crate::ids::{OrgId, UserId};
use crate::orgs::model::{Org, depth, sort_as_tree};
use crate::orgs::{self, OrgQuery};
use crate::web::AppState;
use crate::web::access::{Access, PRE_CSRF_COOKIE, Routes, SESSION_COOKIE};
use crate::web::error::{ApiResult, PageError, PageResult};
use crate::web::extract::{FormBody, JsonBody, Path, Query, value, values};
use crate::web::page::{
    ApiCtx, Ctx, MaybeCtx, Pager, Shell, query_string, redirect_with, render_with_flash,
};

const SECURITY: Access = Access::Roles(&[Role::SecurityAdmin]);

pub fn routes() -> Routes {
    Routes::new()
        .get("/login", Access::Public, login_page)
        .post("/login", Access::Public, login_submit)
        .post("/logout", Access::SignedIn, logout)
        .get("/account/password", Access::SignedIn, password_page)
        .post("/account/password", Access::SignedIn, password_submit)
        .get("/users", SECURITY, users_page)
        .get("/users/new", SECURITY, new_user_page)
        .post("/users", SECURITY, create_user_submit)
        .get("/users/{id}", SECURITY, user_page)
        .post("/users/{id}", SECURITY, update_user_submit)
        .post("/users/{id}/password", SECURITY, reset_password_submit)
        .post("/users/{id}/unlock", SECURITY, unlock_submit)
        .post("/users/{id}/disable", SECURITY, disable_submit)
        .post("/users/{id}/enable", SECURITY, enable_submit)
        .post("/api/v1/session", Access::Public, api_login)
        .delete("/api/v1/session", Access::SignedIn, api_logout)
        .get("/api/v1/me", Access::SignedIn, api_me)
        .put("/api/v1/me/password", Access::SignedIn, api_change_password)
        .get("/api/v1/users", SECURITY, api_list_users)
        .post("/api/v1/users", SECURITY, api_create_user)
        .get("/api/v1/users/{id}", SECURITY, api_get_user)
        .put("/api/v1/users/{id}", SECURITY, api_update_user)
        .post("/api/v1/users/{id}/password", SECURITY, api_reset_password)
        .post("/api/v1/users/{id}/unlock", SECURITY, api_unlock)
        .post("/api/v1/users/{id}/disable", SECURITY, api_disable)
        .post("/api/v1/users/{id}/enable", SECURITY, api_enable)
}

fn session_cookie(state: &AppState, token: &str) -> HeaderValue {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static("jiceng_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
}

/// Only same-site paths may follow sign-in, never another host.
fn safe_next(next: &str) -> &str {
    // Browsers drop tabs and line breaks from a URL, so `/\t/evil.example` becomes
    // `//evil.example`: a path with any control character or space goes home instead (and a
    // CR, LF or NUL could not be put in the Location header anyway).
    let plain = !next.chars().any(|c| c.is_control() || c.is_whitespace());
    if plain && next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

// ---------- sign-in pages ----------

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    shell: Shell,
    csrf: String,
    username: String,
    next: String,
    error: Option<String>,
    notice: Option<String>,
    /// The password was reset by an administrator: the form asks for a new one as well.
    renew: bool,
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
}

fn login_response(
    state: &AppState,
    mut page: LoginPage,
    status: StatusCode,
    existing_token: Option<String>,
) -> PageResult {
    let token = existing_token.unwrap_or_else(super::random_token);
    page.csrf = token.clone();
    let mut resp = render_with_flash(&page, page.shell.flash.is_some())?;
    *resp.status_mut() = status;
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
    Ok(resp)
}

async fn login_page(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    Query(q): Query<LoginQuery>,
) -> PageResult {
    if ctx.principal.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let page = LoginPage {
        shell: Shell {
            flash: ctx.flash.clone(),
            ..Shell::anonymous("登录")
        },
        csrf: String::new(),
        username: String::new(),
        next: q.next.unwrap_or_default(),
        error: None,
        notice: q
            .expired
            .map(|_| "会话已超时（30 分钟无操作），请重新登录".to_owned()),
        renew: false,
    };
    login_response(&state, page, StatusCode::OK, ctx.pre_csrf)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// After an administrator's reset: the password the owner chooses.
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    next: String,
}

async fn login_submit(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    FormBody(f): FormBody<LoginForm>,
) -> PageResult {
    let renewing = !f.new_password.is_empty();
    let fail = |msg: String, status: StatusCode, renew: bool| {
        let page = LoginPage {
            shell: Shell::anonymous("登录"),
            csrf: String::new(),
            // Shown again to be corrected, not a megabyte of it.
            username: f.username.chars().take(64).collect(),
            next: f.next.clone(),
            error: Some(msg),
            notice: None,
            renew,
        };
        login_response(&state, page, status, ctx.pre_csrf.clone())
    };
    if f.username.trim().is_empty() || f.password.is_empty() {
        return fail(
            "请输入用户名和密码".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            renewing,
        );
    }
    match super::login(
        &state.db,
        &f.username,
        &f.password,
        Some(f.new_password.as_str()).filter(|p| !p.is_empty()),
        &ctx.actor,
        &ctx.user_agent,
    )
    .await
    {
        Ok(s) => {
            let mut resp = Redirect::to(safe_next(&f.next)).into_response();
            resp.headers_mut()
                .append(header::SET_COOKIE, session_cookie(&state, &s.token));
            Ok(resp)
        }
        Err(LoginError::Other(e @ Error::Invalid { .. })) => {
            fail(e.to_string(), StatusCode::UNPROCESSABLE_ENTITY, renewing)
        }
        Err(LoginError::Other(e)) => Err(PageError(e, None)),
        Err(e @ LoginError::BadCredentials) => {
            fail(e.to_string(), StatusCode::UNAUTHORIZED, renewing)
        }
        Err(e @ LoginError::MustChangePassword) => fail(e.to_string(), StatusCode::FORBIDDEN, true),
        Err(e) => fail(e.to_string(), StatusCode::FORBIDDEN, false),
    }
}

async fn logout(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    super::logout(&state.db, &ctx.principal, &ctx.actor)
        .await
        .map_err(|e| ctx.fail(e))?;
    let mut resp = redirect_with("/login", "您已安全退出");
    resp.headers_mut()
        .append(header::SET_COOKIE, clear_session_cookie());
    Ok(resp)
}

#[derive(Template)]
#[template(path = "auth/password.html")]
struct PasswordPage {
    shell: Shell,
    error: Option<String>,
}

async fn password_page(ctx: Ctx) -> PageResult {
    ctx.render(&PasswordPage {
        shell: ctx.shell("修改密码"),
        error: None,
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm: String,
}

async fn password_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<PasswordForm>,
) -> PageResult {
    let result = if f.new_password != f.confirm {
        Err(Error::invalid("confirm", "两次输入的新密码不一致"))
    } else {
        super::change_own_password(
            &state.db,
            &ctx.principal,
            &ctx.actor,
            &f.old_password,
            &f.new_password,
        )
        .await
    };
    match result {
        Ok(()) => Ok(redirect_with("/", "密码已修改")),
        Err(Error::Invalid { message, .. }) => {
            let mut resp = ctx.render(&PasswordPage {
                shell: ctx.shell("修改密码"),
                error: Some(message),
            })?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

// ---------- accounts (security administrator) ----------

#[derive(Deserialize, utoipa::IntoParams)]
pub struct UserListQuery {
    /// Part of the username or name.
    q: Option<String>,
    /// Organisation id.
    org: Option<i64>,
    /// Role identifier, e.g. `grid_worker`.
    role: Option<String>,
    page: Option<u32>,
}

const PER_PAGE: u32 = 30;

#[derive(Template)]
#[template(path = "auth/users.html")]
struct UsersPage {
    shell: Shell,
    items: Vec<Account>,
    pager: Pager,
    q: String,
    role: String,
    roles: Vec<Role>,
}

async fn users_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<UserListQuery>,
) -> PageResult {
    let cap = Principal::require(ctx.principal.account_manager()).map_err(|e| ctx.fail(e))?;
    let role = q.role.as_deref().and_then(Role::parse);
    let page = q.page.unwrap_or(1).max(1);
    let list = super::list_accounts(
        &state.db,
        &cap,
        q.q.clone(),
        q.org.map(OrgId),
        role,
        page,
        PER_PAGE,
    )
    .await
    .map_err(|e| ctx.fail(e))?;
    let base = query_string(&[("q", q.q.as_deref()), ("role", q.role.as_deref())]);
    ctx.render(&UsersPage {
        shell: ctx.shell("账号管理"),
        items: list.items,
        pager: Pager::new(page, PER_PAGE, list.total, base),
        q: q.q.unwrap_or_default(),
        role: q.role.unwrap_or_default(),
        roles: Role::grantable().collect(),
    })
}

pub struct OrgOption {
    pub id: i64,
    pub label: String,
}

async fn org_options(state: &AppState, p: &Principal) -> Result<Vec<OrgOption>, Error> {
    let (mut all, _) = orgs::list(
        &state.db,
        p,
        OrgQuery {
            limit: 100_000,
            ..Default::default()
        },
    )
    .await?;
    sort_as_tree(&mut all);
    Ok(all
        .iter()
        .map(|o: &Org| OrgOption {
            id: o.id.0,
            label: format!(
                "{}{}（{}）",
                "　".repeat(depth(o.kind)),
                o.name,
                o.kind_label()
            ),
        })
        .collect())
}

#[derive(Template)]
#[template(path = "auth/user_form.html")]
struct UserFormPage {
    shell: Shell,
    error: Option<String>,
    orgs: Vec<OrgOption>,
    roles: Vec<Role>,
    username: String,
    display_name: String,
    org_id: i64,
    chosen: Vec<Role>,
}

async fn new_user_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    let orgs = org_options(&state, &ctx.principal)
        .await
        .map_err(|e| ctx.fail(e))?;
    ctx.render(&UserFormPage {
        shell: ctx.shell("新建账号"),
        error: None,
        orgs,
        roles: Role::grantable().collect(),
        username: String::new(),
        display_name: String::new(),
        org_id: 0,
        chosen: Vec::new(),
    })
}

fn parse_roles(pairs: &[(String, String)]) -> Vec<Role> {
    values(pairs, "roles").filter_map(Role::parse).collect()
}

fn parse_org(pairs: &[(String, String)]) -> Result<OrgId, Error> {
    value(pairs, "org_id")
        .parse::<i64>()
        .map(OrgId)
        .map_err(|_| Error::invalid("org_id", "请选择所属组织"))
}

async fn create_user_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(pairs): FormBody<Vec<(String, String)>>,
) -> PageResult {
    let cap = Principal::require(ctx.principal.account_manager()).map_err(|e| ctx.fail(e))?;
    let roles = parse_roles(&pairs);
    let result = match parse_org(&pairs) {
        Ok(org_id) => {
            let new = NewAccount {
                username: value(&pairs, "username").to_owned(),
                display_name: value(&pairs, "display_name").to_owned(),
                org_id,
                roles: roles.clone(),
                password: value(&pairs, "password").to_owned(),
            };
            super::create_account(&state.db, &cap, &ctx.actor, new).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(a) => Ok(redirect_with(
            &format!("/users/{}", a.id),
            &format!("已新建账号 {}", a.username),
        )),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => {
            let orgs = org_options(&state, &ctx.principal)
                .await
                .map_err(|e| ctx.fail(e))?;
            let mut resp = ctx.render(&UserFormPage {
                shell: ctx.shell("新建账号"),
                error: Some(e.to_string()),
                orgs,
                roles: Role::grantable().collect(),
                username: value(&pairs, "username").to_owned(),
                display_name: value(&pairs, "display_name").to_owned(),
                org_id: value(&pairs, "org_id").parse().unwrap_or(0),
                chosen: roles,
            })?;
            *resp.status_mut() = if matches!(e, Error::Conflict(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Ok(resp)
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Template)]
#[template(path = "auth/user.html")]
struct UserPage {
    shell: Shell,
    error: Option<String>,
    account: Account,
    orgs: Vec<OrgOption>,
    roles: Vec<Role>,
    display_name: String,
    org_id: i64,
    chosen: Vec<Role>,
}

async fn render_user(
    state: &AppState,
    ctx: &Ctx,
    id: UserId,
    error: Option<(Error, Vec<(String, String)>)>,
) -> PageResult {
    let cap = Principal::require(ctx.principal.account_manager()).map_err(|e| ctx.fail(e))?;
    let account = super::get_account(&state.db, &cap, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let orgs = org_options(state, &ctx.principal)
        .await
        .map_err(|e| ctx.fail(e))?;
    let (status, error, display_name, org_id, chosen) = match error {
        Some((e, pairs)) => (
            if matches!(e, Error::Conflict(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            Some(e.to_string()),
            value(&pairs, "display_name").to_owned(),
            value(&pairs, "org_id").parse().unwrap_or(account.org_id.0),
            parse_roles(&pairs),
        ),
        None => (
            StatusCode::OK,
            None,
            account.display_name.clone(),
            account.org_id.0,
            account.roles.clone(),
        ),
    };
    let title = format!("账号 {}", account.username);
    let mut resp = ctx.render(&UserPage {
        shell: ctx.shell(&title),
        error,
        account,
        orgs,
        roles: Role::grantable().collect(),
        display_name,
        org_id,
        chosen,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

async fn user_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    render_user(&state, &ctx, UserId(id), None).await
}

async fn update_user_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(pairs): FormBody<Vec<(String, String)>>,
) -> PageResult {
    let cap = Principal::require(ctx.principal.account_manager()).map_err(|e| ctx.fail(e))?;
    let result = match parse_org(&pairs) {
        Ok(org_id) => {
            let upd = AccountUpdate {
                display_name: value(&pairs, "display_name").to_owned(),
                org_id,
                roles: parse_roles(&pairs),
            };
            super::update_account(&state.db, &cap, &ctx.actor, UserId(id), upd)
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    };
    finish_user_form(&state, &ctx, UserId(id), result, pairs, "账号已保存").await
}

async fn finish_user_form(
    state: &AppState,
    ctx: &Ctx,
    id: UserId,
    result: Result<(), Error>,
    pairs: Vec<(String, String)>,
    done: &str,
) -> PageResult {
    match result {
        Ok(()) => Ok(redirect_with(&format!("/users/{id}"), done)),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => {
            render_user(state, ctx, id, Some((e, pairs))).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

async fn reset_password_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(pairs): FormBody<Vec<(String, String)>>,
) -> PageResult {
    let cap = Principal::require(ctx.principal.account_manager()).map_err(|e| ctx.fail(e))?;
    let result = super::reset_password(
        &state.db,
        &cap,
        &ctx.actor,
        UserId(id),
        value(&pairs, "password"),
    )
    .await;
    finish_user_form(
        &state,
        &ctx,
        UserId(id),
        result,
        pairs,
        "密码已重置，本人下次登录时须改设自己的密码",
    )
    .await
}

async fn account_action(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    action: AccountAction,
    done: &str,
) -> PageResult {
    let cap = Principal::require(ctx.principal.account_manager()).map_err(|e| ctx.fail(e))?;
    let result = super::apply_account_action(&state.db, &cap, &ctx.actor, UserId(id), action).await;
    finish_user_form(state, ctx, UserId(id), result, Vec::new(), done).await
}

async fn unlock_submit(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    account_action(&state, &ctx, id, AccountAction::Unlock, "已解除锁定").await
}

async fn disable_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> PageResult {
    account_action(&state, &ctx, id, AccountAction::Disable, "账号已停用").await
}

async fn enable_submit(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    account_action(&state, &ctx, id, AccountAction::Enable, "账号已启用").await
}

// ---------- JSON API ----------

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Required while the password is one the security administrator or the operators set (a
    /// new account, a reset, `jiceng account create|password`; without it the answer is 403
    /// naming the field `new_password`): the password the owner chooses.
    #[serde(default)]
    pub new_password: Option<String>,
}

/// The signed-in account, with the token to send as `X-CSRF-Token` on every change.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    #[schema(value_type = i64)]
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    #[schema(value_type = i64)]
    pub org_id: OrgId,
    pub org_name: String,
    pub roles: Vec<Role>,
    pub csrf_token: String,
}

impl From<&Principal> for Me {
    fn from(p: &Principal) -> Self {
        Me {
            user_id: p.user_id,
            username: p.username.clone(),
            display_name: p.display_name.clone(),
            org_id: p.org.id,
            org_name: p.org.name.clone(),
            roles: p.roles.clone(),
            csrf_token: p.csrf_token.clone(),
        }
    }
}

/// Signs in and sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "账号", request_body = LoginRequest,
    responses((status = 200, body = Me), (status = 401, body = crate::web::error::ErrorBody),
              (status = 403, description = "账号锁定或停用", body = crate::web::error::ErrorBody)))]
pub async fn api_login(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Response {
    match super::login(
        &state.db,
        &req.username,
        &req.password,
        req.new_password.as_deref().filter(|p| !p.is_empty()),
        &ctx.actor,
        &ctx.user_agent,
    )
    .await
    {
        Ok(s) => {
            let mut resp = Json(Me::from(&s.principal)).into_response();
            resp.headers_mut()
                .append(header::SET_COOKIE, session_cookie(&state, &s.token));
            resp
        }
        Err(LoginError::Other(e)) => crate::web::error::ApiError(e).into_response(),
        Err(e @ LoginError::MustChangePassword) => crate::web::error::json_error(
            StatusCode::FORBIDDEN,
            &e.to_string(),
            Some("new_password".to_owned()),
        ),
        Err(e @ LoginError::BadCredentials) => {
            crate::web::error::json_error(StatusCode::UNAUTHORIZED, &e.to_string(), None)
        }
        Err(e) => crate::web::error::json_error(StatusCode::FORBIDDEN, &e.to_string(), None),
    }
}

/// Signs out.
#[utoipa::path(delete, path = "/api/v1/session", tag = "账号", responses((status = 204)))]
pub async fn api_logout(State(state): State<AppState>, ctx: ApiCtx) -> ApiResult<Response> {
    super::logout(&state.db, &ctx.principal, &ctx.actor).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .append(header::SET_COOKIE, clear_session_cookie());
    Ok(resp)
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/me", tag = "账号", responses((status = 200, body = Me)))]
pub async fn api_me(ctx: ApiCtx) -> Json<Me> {
    Json(Me::from(ctx.principal.as_ref()))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChangePassword {
    pub old_password: String,
    pub new_password: String,
}

/// Changes one's own password.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "账号", request_body = ChangePassword,
    responses((status = 204), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_change_password(
    State(state): State<AppState>,
    ctx: ApiCtx,
    JsonBody(req): JsonBody<ChangePassword>,
) -> ApiResult<StatusCode> {
    super::change_own_password(
        &state.db,
        &ctx.principal,
        &ctx.actor,
        &req.old_password,
        &req.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountListBody {
    pub items: Vec<Account>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

/// Lists accounts (security administrator).
#[utoipa::path(get, path = "/api/v1/users", tag = "账号", params(UserListQuery),
    responses((status = 200, body = AccountListBody)))]
pub async fn api_list_users(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Query(q): Query<UserListQuery>,
) -> ApiResult<Json<AccountListBody>> {
    let cap = Principal::require(ctx.principal.account_manager())?;
    let role = match q.role.as_deref() {
        Some(r) => {
            Some(Role::parse(r).ok_or_else(|| Error::invalid("role", format!("未知角色 {r}")))?)
        }
        None => None,
    };
    let page = q.page.unwrap_or(1).max(1);
    let list =
        super::list_accounts(&state.db, &cap, q.q, q.org.map(OrgId), role, page, PER_PAGE).await?;
    Ok(Json(AccountListBody {
        items: list.items,
        total: list.total,
        page,
        per_page: PER_PAGE,
    }))
}

/// Creates an account.
#[utoipa::path(post, path = "/api/v1/users", tag = "账号", request_body = NewAccount,
    responses((status = 201, body = Account), (status = 409, body = crate::web::error::ErrorBody),
              (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_create_user(
    State(state): State<AppState>,
    ctx: ApiCtx,
    JsonBody(new): JsonBody<NewAccount>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    let cap = Principal::require(ctx.principal.account_manager())?;
    let a = super::create_account(&state.db, &cap, &ctx.actor, new).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "账号", params(("id" = i64, Path)),
    responses((status = 200, body = Account), (status = 404, body = crate::web::error::ErrorBody)))]
pub async fn api_get_user(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
) -> ApiResult<Json<Account>> {
    let cap = Principal::require(ctx.principal.account_manager())?;
    Ok(Json(super::get_account(&state.db, &cap, UserId(id)).await?))
}

/// Changes an account's name, organisation and roles.
#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "账号", params(("id" = i64, Path)), request_body = AccountUpdate,
    responses((status = 200, body = Account), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_update_user(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(upd): JsonBody<AccountUpdate>,
) -> ApiResult<Json<Account>> {
    let cap = Principal::require(ctx.principal.account_manager())?;
    Ok(Json(
        super::update_account(&state.db, &cap, &ctx.actor, UserId(id), upd).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetPassword {
    pub password: String,
}

/// Sets a new password for an account and ends its sessions.
#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "账号", params(("id" = i64, Path)),
    request_body = ResetPassword, responses((status = 204), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_reset_password(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(req): JsonBody<ResetPassword>,
) -> ApiResult<StatusCode> {
    let cap = Principal::require(ctx.principal.account_manager())?;
    super::reset_password(&state.db, &cap, &ctx.actor, UserId(id), &req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_action(
    state: &AppState,
    ctx: &ApiCtx,
    id: i64,
    action: AccountAction,
) -> ApiResult<StatusCode> {
    let cap = Principal::require(ctx.principal.account_manager())?;
    super::apply_account_action(&state.db, &cap, &ctx.actor, UserId(id), action).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a lockout.
#[utoipa::path(post, path = "/api/v1/users/{id}/unlock", tag = "账号", params(("id" = i64, Path)), responses((status = 204)))]
pub async fn api_unlock(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    api_action(&state, &ctx, id, AccountAction::Unlock).await
}

/// Disables an account and ends its sessions.
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", tag = "账号", params(("id" = i64, Path)), responses((status = 204)))]
pub async fn api_disable(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    api_action(&state, &ctx, id, AccountAction::Disable).await
}

/// Enables a disabled account.
#[utoipa::path(post, path = "/api/v1/users/{id}/enable", tag = "账号", params(("id" = i64, Path)), responses((status = 204)))]
pub async fn api_enable(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    api_action(&state, &ctx, id, AccountAction::Enable).await
}
