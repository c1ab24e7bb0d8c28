//! The web shell: application state, the router with its middleware, home page, health,
//! static files and the OpenAPI document.

pub mod access;
pub mod error;
pub mod extract;
mod home;
pub mod openapi;
pub mod page;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::Settings;
use crate::db::Db;
use access::{Access, AccessTable, RouteEntry, Routes};

/// What every handler shares, behind one reference count: each request's extractors and
/// middleware clone the state several times, and a clone of the parts themselves touched a
/// dozen counters each time.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub db: Db,
    pub config: Arc<Settings>,
    pub access: Arc<AccessTable>,
    /// The process definitions every workflow instance runs on.
    pub processes: Arc<workflow::Registry>,
    /// Full-text search over duty items (in this process's memory).
    pub catalog_index: Arc<crate::catalog::search::CatalogIndex>,
    /// Open311 filing rate per API key.
    pub open311_limiter: Arc<crate::open311::model::Limiter>,
    /// Public reports per network address.
    pub public_quota: Arc<crate::cases::model::PublicQuota>,
    /// Point → grid lookup (in this process's memory, rebuilt when boundaries change).
    pub grid_index: Arc<crate::grids::GridIndex>,
    /// The key sealing personal data in the grid register, loaded on first use.
    pub personal_data: Arc<crate::grids::PersonalDataKey>,
    /// Case routing suggestions (in this process's memory, built lazily from the database).
    pub case_router: Arc<crate::cases::suggest::CaseRouter>,
}

/// Every route of the platform with its access rule. Contexts contribute theirs here.
pub fn all_routes() -> Routes {
    Routes::new()
        .get("/healthz", Access::Public, healthz)
        .get("/readyz", Access::Public, readyz)
        .get("/static/app.css", Access::Public, stylesheet)
        .get("/static/app.js", Access::Public, script)
        .get("/api/openapi.json", Access::Public, openapi::document)
        .merge(home::routes())
        .merge(crate::auth::routes::routes())
        .merge(crate::orgs::routes::routes())
        .merge(crate::audit::routes::routes())
        .merge(crate::workdays::routes::routes())
        .merge(crate::workflow::routes::routes())
        .merge(crate::catalog::routes::routes())
        .merge(crate::delegation::routes::routes())
        .merge(crate::open311::routes::routes())
        .merge(crate::cases::routes::routes())
        .merge(crate::grids::routes::routes())
}

/// The route table, for the authorisation test and the docs.
pub fn route_table() -> Vec<RouteEntry> {
    all_routes().into_parts().1
}

/// Builds the whole application around a database and settings, with the embedded process
/// definitions (checked by a unit test, so they always load).
pub fn app(db: Db, config: Settings) -> Router {
    app_with(db, config, Arc::new(crate::workflow::embedded_processes()))
}

/// Builds the application with a given set of process definitions.
pub fn app_with(db: Db, config: Settings, processes: Arc<workflow::Registry>) -> Router {
    let (router, table) = all_routes().into_parts();
    let max_body = config.max_body_bytes;
    let timeout = Duration::from_secs(config.request_timeout_seconds);
    let personal_data = Arc::new(crate::grids::PersonalDataKey::new(
        config.personal_data_key.clone(),
        config.data_dir.clone(),
    ));
    let open311_limiter = Arc::new(crate::open311::model::Limiter::new(
        config.open311_requests_per_minute,
    ));
    let public_quota = Arc::new(crate::cases::model::PublicQuota::new(
        config.public_reports_per_hour,
        config.public_upload_mib_per_hour,
    ));
    // One index per database, shared with the contexts that place cases on it.
    let grid_index = db.caches().get::<crate::grids::GridIndex>();
    let state = AppState(Arc::new(Shared {
        db,
        open311_limiter,
        public_quota,
        config: Arc::new(config),
        access: Arc::new(AccessTable::new(&table)),
        processes,
        catalog_index: Arc::new(crate::catalog::search::CatalogIndex::new()),
        grid_index,
        personal_data,
        case_router: Arc::new(crate::cases::suggest::CaseRouter::new()),
    }));
    let x_request_id = HeaderName::from_static("x-request-id");
    router
        .route_layer(from_fn_with_state(state.clone(), access::authorize))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(from_fn_with_state(state.clone(), body_limit))
        .layer(from_fn_with_state(state.clone(), access::request_meta))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; base-uri 'none'; \
                 form-action 'self'; frame-ancestors 'none'",
            ),
        ))
        // Pages and files carry personal data and the signed-in menu: no browser or proxy
        // keeps them (the style sheet and script say otherwise for themselves).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let rid = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", request_id = %rid, method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state)
}

/// The largest upload (spreadsheets, photos): a case's six attachments of up to 5 MiB each
/// (`cases::model`) with the form around them, or as base64 in an API's JSON. The import
/// parsers refuse files over 10 MiB with their own message.
pub const MAX_UPLOAD_BYTES: usize = 48 * 1024 * 1024;

/// Refuses a body announced larger than the limit before reading it, with a message the user
/// can act on (the extractors enforce the same limit on bodies of unknown length).
async fn body_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // Files come as a multipart form or as base64 in JSON; which routes take them is known to
    // the routes (`Routes::upload`), whose own limit then holds the others to the usual one.
    let may_carry_files = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data") || v.starts_with("application/json"));
    let limit = if may_carry_files {
        MAX_UPLOAD_BYTES
    } else {
        state.config.max_body_bytes
    };
    if len.is_some_and(|n| n > limit) {
        let msg = format!("提交的内容过大（上限 {} KB）", limit / 1024);
        return if req.uri().path().starts_with("/api/") {
            error::json_error(StatusCode::PAYLOAD_TOO_LARGE, &msg, None)
        } else {
            error::error_page(StatusCode::PAYLOAD_TOO_LARGE, &msg, None)
        };
    }
    next.run(req).await
}

async fn not_found(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        error::json_error(StatusCode::NOT_FOUND, "接口不存在", None)
    } else {
        error::error_page(StatusCode::NOT_FOUND, "页面不存在", None)
    }
}

/// A path that exists, asked with a method it does not take: answered in the platform's
/// shape, as every other error, not with axum's empty body.
async fn method_not_allowed(req: Request) -> Response {
    let message = format!("该地址不支持 {} 请求", req.method());
    let path = req.uri().path();
    if path.starts_with("/api/") || path.starts_with("/open311/") {
        error::json_error(StatusCode::METHOD_NOT_ALLOWED, &message, None)
    } else {
        error::error_page(StatusCode::METHOD_NOT_ALLOWED, &message, None)
    }
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => axum::Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not ready");
            error::json_error(StatusCode::SERVICE_UNAVAILABLE, "数据库不可用", None)
        }
    }
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("static/app.css"),
    )
}

/// The one script: fills location fields from the device when asked, and sends a form once
/// (same origin, so the CSP's `default-src 'self'` allows it; every page works without it).
async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("static/app.js"),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("无法监听 {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("服务异常退出: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Processes(String),
}

/// Binds the listener and serves until SIGINT/SIGTERM, finishing requests in flight.
pub async fn serve(db: Db, config: Settings) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
    serve_on(listener, db, config).await
}

/// Serves on a bound listener: loads the process definitions (with the district's overrides),
/// starts the deadline scheduler, and answers until SIGINT/SIGTERM.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    db: Db,
    config: Settings,
) -> Result<(), ServeError> {
    let processes = Arc::new(
        crate::workflow::load_processes(config.process_dir.as_deref())
            .map_err(ServeError::Processes)?,
    );
    // A district's override of a context-driven process must keep what the context uses.
    crate::cases::check_process(&processes).map_err(ServeError::Processes)?;
    let every = Duration::from_secs(config.scheduler_interval_seconds.max(1));
    let scheduler = crate::workflow::spawn_scheduler(db.clone(), processes.clone(), every);
    let app = app_with(db, config, processes);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    scheduler.abort();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
