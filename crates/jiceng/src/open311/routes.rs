//! The GeoReport v2 endpoints under `/open311/` and the key administration page.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::model::{self, Format, Open311Error, Value};
use super::store::KeyRow;
use crate::audit::Actor;
use crate::auth::Role;
use crate::catalog;
use crate::error::Error;
use crate::web::AppState;
use crate::web::access::{Access, Routes};
use crate::web::error::PageResult;
use crate::web::extract::{FormBody, Path, value};
use crate::web::page::{Ctx, Shell, redirect_with};

const ADMINS: Access = Access::Roles(&[Role::SystemAdmin]);

pub fn routes() -> Routes {
    Routes::new()
        .get("/open311/discovery.json", Access::Public, discovery_json)
        .get("/open311/discovery.xml", Access::Public, discovery_xml)
        .get("/open311/v2/services.json", Access::Public, services_json)
        .get("/open311/v2/services.xml", Access::Public, services_xml)
        .get(
            "/open311/v2/services/{id}",
            Access::Public,
            service_definition,
        )
        .post("/open311/v2/requests.json", Access::ApiKey, post_json)
        .post("/open311/v2/requests.xml", Access::ApiKey, post_xml)
        .get("/open311/v2/requests.json", Access::Public, requests_json)
        .get("/open311/v2/requests.xml", Access::Public, requests_xml)
        .get("/open311/v2/requests/{id}", Access::Public, request_one)
        .get("/open311/v2/tokens/{id}", Access::Public, token)
        .get("/admin/open311", ADMINS, keys_page)
        .post("/admin/open311/keys", ADMINS, key_create)
        .post("/admin/open311/keys/{id}/revoke", ADMINS, key_revoke)
}

type Params = Vec<(String, String)>;

fn query(q: Option<String>) -> Result<Params, Open311Error> {
    serde_urlencoded::from_str(q.as_deref().unwrap_or(""))
        .map_err(|_| Open311Error::new(400, "查询参数格式有误"))
}

fn document(status: StatusCode, format: Format, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

/// The answer in the asked format: the document, or the spec's error list with its code.
fn respond(format: Format, root: &str, result: Result<Value, Open311Error>) -> Response {
    match result {
        Ok(v) => document(StatusCode::OK, format, v.render(root, format)),
        Err(e) => {
            if e.code >= 500 {
                tracing::error!(code = e.code, "open311 request failed");
            }
            let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST);
            document(status, format, model::errors(&e).render("errors", format))
        }
    }
}

/// The answer for a resource named without `.json` or `.xml`, in JSON.
fn unknown_format() -> Response {
    respond(
        Format::Json,
        "errors",
        Err(Open311Error::new(404, "请在资源名后加 .json 或 .xml")),
    )
}

fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let configured = state.config.public_url.trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn discovery(state: &AppState, headers: &HeaderMap) -> Value {
    let changeset = "2026-11-21T00:00:00+08:00";
    Value::Object(vec![
        ("changeset", Value::text(changeset)),
        ("contact", Value::text("区综合行政执法局（12345 热线）")),
        (
            "key_service",
            Value::text(
                "API 密钥由区系统管理员发放（/admin/open311 或 jiceng open311 key create）",
            ),
        ),
        (
            "endpoints",
            Value::List(
                "endpoint",
                vec![Value::Object(vec![
                    (
                        "specification",
                        Value::text("http://wiki.open311.org/GeoReport_v2"),
                    ),
                    (
                        "url",
                        Value::text(format!("{}/open311/v2", base_url(state, headers))),
                    ),
                    ("changeset", Value::text(changeset)),
                    ("type", Value::text("production")),
                    (
                        "formats",
                        Value::List(
                            "format",
                            vec![Value::text("text/xml"), Value::text("application/json")],
                        ),
                    ),
                ])],
            ),
        ),
    ])
}

async fn discovery_json(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(Format::Json, "discovery", Ok(discovery(&state, &headers)))
}

async fn discovery_xml(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(Format::Xml, "discovery", Ok(discovery(&state, &headers)))
}

async fn services(state: &AppState, q: Option<String>, format: Format) -> Response {
    let result = async {
        let params = query(q)?;
        let district =
            super::jurisdiction(&state.db, super::param(&params, "jurisdiction_id")).await?;
        super::services(&state.db, district).await
    }
    .await;
    respond(format, "services", result)
}

async fn services_json(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    services(&state, q, Format::Json).await
}

async fn services_xml(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    services(&state, q, Format::Xml).await
}

async fn service_definition(
    State(state): State<AppState>,
    Path(code): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some((code, format)) = model::split_format(&code) else {
        return unknown_format();
    };
    let result = async {
        let params = query(q)?;
        let district =
            super::jurisdiction(&state.db, super::param(&params, "jurisdiction_id")).await?;
        super::service_definition(&state.db, district, code).await
    }
    .await;
    respond(format, "service_definition", result)
}

async fn post(
    state: &AppState,
    actor: Actor,
    headers: &HeaderMap,
    q: Option<String>,
    body: Bytes,
    format: Format,
) -> Response {
    let result = async {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if !form && !body.is_empty() {
            return Err(Open311Error::new(
                400,
                "请以 application/x-www-form-urlencoded 提交服务请求",
            ));
        }
        let mut params: Params = serde_urlencoded::from_bytes(&body)
            .map_err(|_| Open311Error::new(400, "请求参数格式有误"))?;
        // The key may also come in the query string, as some clients send it.
        params.extend(query(q)?);
        crate::typed::check_fields(&params)?;
        super::post_request(
            &state.db,
            super::Filing {
                registry: &state.processes,
                router: &state.case_router,
                grid_index: &state.grid_index,
                limiter: &state.open311_limiter,
            },
            &actor,
            &params,
        )
        .await
    }
    .await;
    let created = result.is_ok();
    let mut resp = respond(format, "service_requests", result);
    if created {
        *resp.status_mut() = StatusCode::CREATED;
    }
    resp
}

async fn post_json(
    State(state): State<AppState>,
    axum::Extension(actor): axum::Extension<Actor>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    post(&state, actor, &headers, q, body, Format::Json).await
}

async fn post_xml(
    State(state): State<AppState>,
    axum::Extension(actor): axum::Extension<Actor>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    post(&state, actor, &headers, q, body, Format::Xml).await
}

async fn requests(state: &AppState, q: Option<String>, format: Format) -> Response {
    let result = async {
        let params = query(q)?;
        super::requests(&state.db, &params).await
    }
    .await;
    respond(format, "service_requests", result)
}

async fn requests_json(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    requests(&state, q, Format::Json).await
}

async fn requests_xml(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    requests(&state, q, Format::Xml).await
}

async fn request_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some((id, format)) = model::split_format(&id) else {
        return unknown_format();
    };
    let result = async {
        let params = query(q)?;
        super::request(&state.db, &params, id).await
    }
    .await;
    respond(format, "service_requests", result)
}

async fn token(State(state): State<AppState>, Path(t): Path<String>) -> Response {
    let Some((t, format)) = model::split_format(&t) else {
        return unknown_format();
    };
    respond(format, "service_requests", super::token(&state.db, t).await)
}

// ---------- key administration ----------

#[derive(Template)]
#[template(path = "open311/keys.html")]
struct KeysPage {
    shell: Shell,
    keys: Vec<KeyRow>,
    /// A key just made: shown this once.
    new_key: Option<(String, String)>,
    error: Option<String>,
}

async fn render_keys(
    state: &AppState,
    ctx: &Ctx,
    new_key: Option<(String, String)>,
    error: Option<Error>,
) -> PageResult {
    let district = catalog::district_of(&ctx.principal.org);
    let keys = super::keys(&state.db, district)
        .await
        .map_err(|e| ctx.fail(e))?;
    let status = crate::web::error::form_status(error.as_ref());
    let mut resp = ctx.render(&KeysPage {
        shell: ctx.shell("Open311 接口密钥"),
        keys,
        new_key,
        error: error.map(|e| e.to_string()),
    })?;
    *resp.status_mut() = status;
    // The page may carry a key: keep it out of caches.
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

async fn keys_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    render_keys(&state, &ctx, None, None).await
}

async fn key_create(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<Params>,
) -> PageResult {
    let district = catalog::district_of(&ctx.principal.org);
    let name = value(&f, "name").trim().to_owned();
    match super::create_key(&state.db, &ctx.actor, district, &name).await {
        Ok((_, key)) => render_keys(&state, &ctx, Some((name, key)), None).await,
        Err(e @ Error::Invalid { .. }) => render_keys(&state, &ctx, None, Some(e)).await,
        Err(e) => Err(ctx.fail(e)),
    }
}

async fn key_revoke(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let district = catalog::district_of(&ctx.principal.org);
    match super::revoke_key(&state.db, &ctx.actor, district, id).await {
        Ok(()) => Ok(redirect_with("/admin/open311", "密钥已停用")),
        Err(e @ (Error::Conflict(_) | Error::NotFound(_))) => {
            render_keys(&state, &ctx, None, Some(e)).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}
