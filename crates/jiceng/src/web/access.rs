//! Route registration with an access rule per route, and the one middleware that enforces
//! them: it resumes the session, checks CSRF on every state-changing request, and answers
//! 401/403 (audited) before a handler runs. Because routes can only be added together with
//! their rule, the authorisation test can list every route and check it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::MethodRouter;
use axum_extra::extract::cookie::CookieJar;

use super::AppState;
use super::error::{AdmitAgain, error_page, json_error};
use crate::audit::{self, Actor};
use crate::auth::{self, Principal, Role, SessionState};

pub const SESSION_COOKIE: &str = "jiceng_session";
/// Double-submit token for forms shown before sign-in (the login form).
pub const PRE_CSRF_COOKIE: &str = "jiceng_csrf";
pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in account.
    SignedIn,
    /// Signed-in accounts holding one of these roles.
    Roles(&'static [Role]),
    /// Machine clients (Open311) that name their key in the request. Cookies are not read, so
    /// neither the session nor CSRF applies; the handler checks the key.
    ApiKey,
}

impl Access {
    pub fn allows(&self, p: Option<&Principal>) -> bool {
        match (self, p) {
            (Access::Public | Access::ApiKey, _) => true,
            (Access::SignedIn, Some(_)) => true,
            (Access::Roles(roles), Some(p)) => p.has_any(roles),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    /// The handler's write checks the session it was admitted on ([`auth::still_current`]),
    /// so the request may be admitted on the session as this process remembers it.
    pub checked_in_write: bool,
}

/// A router under construction together with its access table.
pub struct Routes {
    router: Router<AppState>,
    table: Vec<RouteEntry>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! verb {
    ($name:ident, $method:expr, $route_fn:path) => {
        pub fn $name<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
        where
            H: axum::handler::Handler<T, AppState>,
            T: 'static,
        {
            self.add($method, path, access, $route_fn(handler))
        }
    };
}

impl Routes {
    pub fn new() -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    fn add(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        mr: MethodRouter<AppState>,
    ) -> Self {
        self.router = self.router.route(path, mr);
        self.table.push(RouteEntry {
            method,
            path,
            access,
            checked_in_write: false,
        });
        self
    }

    /// Marks the route added last as one whose handler hands the request's
    /// [`auth::Recalled`] session (when it has one) to a write that checks it, and answers
    /// [`crate::error::Error::SessionChanged`] if it changed.
    pub fn checked_in_write(mut self) -> Self {
        if let Some(e) = self.table.last_mut() {
            e.checked_in_write = true;
        }
        self
    }

    /// A POST route that receives files, as a multipart form or as base64 in JSON: its body
    /// may be as large as [`super::MAX_UPLOAD_BYTES`] instead of the usual limit.
    pub fn upload<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        let mr = axum::routing::post(handler).layer(axum::extract::DefaultBodyLimit::max(
            super::MAX_UPLOAD_BYTES,
        ));
        self.add(Method::POST, path, access, mr)
    }

    verb!(get, Method::GET, axum::routing::get);
    verb!(post, Method::POST, axum::routing::post);
    verb!(put, Method::PUT, axum::routing::put);
    verb!(patch, Method::PATCH, axum::routing::patch);
    verb!(delete, Method::DELETE, axum::routing::delete);

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteEntry>) {
        (self.router, self.table)
    }
}

/// The access table looked up by the middleware: (method, route pattern) → rule, and whether
/// the handler's write checks the session.
#[derive(Debug, Default)]
pub struct AccessTable(HashMap<(Method, &'static str), (Access, bool)>);

impl AccessTable {
    pub fn new(entries: &[RouteEntry]) -> Self {
        AccessTable(
            entries
                .iter()
                .map(|e| ((e.method.clone(), e.path), (e.access, e.checked_in_write)))
                .collect(),
        )
    }

    fn get(&self, method: &Method, path: &str) -> Option<(Access, bool)> {
        let m = if method == Method::HEAD {
            Method::GET
        } else {
            method.clone()
        };
        self.0
            .iter()
            .find(|((mm, p), _)| *mm == m && *p == path)
            .map(|(_, a)| *a)
    }
}

/// Request facts every handler and audit row needs.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub ip: String,
    pub request_id: String,
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/open311/")
}

fn unsafe_method(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The browser's Origin, when sent, must be this site: checked against the Host header (and
/// the configured public URL, for deployments behind a proxy that rewrites Host).
fn origin_ok(headers: &HeaderMap, public_url: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let authority = origin.split_once("://").map(|(_, a)| a).unwrap_or("");
    if authority.is_empty() {
        return false;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let public = public_url
        .split_once("://")
        .map(|(_, a)| a.trim_end_matches('/'))
        .unwrap_or("");
    authority == host || authority == public
}

fn query_param(uri: &axum::http::Uri, name: &str) -> Option<String> {
    let q = uri.query()?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Finds the CSRF token in the header, the query string or a urlencoded form body. The body is
/// read (within the body limit) and put back for the handler.
async fn find_token(req: Request, limit: usize) -> Result<(Request, Option<String>), Response> {
    if let Some(t) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        let t = t.to_owned();
        return Ok((req, Some(t)));
    }
    if let Some(t) = query_param(req.uri(), CSRF_FIELD) {
        return Ok((req, Some(t)));
    }
    if !is_form(req.headers()) {
        return Ok((req, None));
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|_| error_page(StatusCode::PAYLOAD_TOO_LARGE, "提交的内容过大", None))?;
    let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(k, _)| k == CSRF_FIELD)
                .map(|(_, v)| v)
        });
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

fn deny(api: bool, status: StatusCode, message: &str) -> Response {
    if api {
        json_error(status, message, None)
    } else {
        error_page(status, message, None)
    }
}

pub async fn authorize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let method = req.method().clone();
    let api = is_api(req.uri().path());
    let meta = req
        .extensions()
        .get::<RequestMeta>()
        .cloned()
        .unwrap_or(RequestMeta {
            ip: "-".into(),
            request_id: "-".into(),
        });
    let actor0 = Actor {
        name: "匿名".into(),
        ip: meta.ip.clone(),
        request_id: meta.request_id.clone(),
        ..Default::default()
    };
    let Some((access, checked_in_write)) = state.access.get(&method, &path) else {
        // Not in the table means not routed (404/405 follow): nothing to authorise.
        return next.run(req).await;
    };
    if access == Access::ApiKey {
        let mut req = req;
        req.extensions_mut().insert(actor0);
        return next.run(req).await;
    }
    let gate = Gate {
        state: &state,
        access,
        path: &path,
        api,
        actor0: &actor0,
    };

    let jar = CookieJar::from_headers(req.headers());
    let token = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned());
    let idle = state.config.session_idle_seconds();
    let mut req = req;
    if let Some(t) = token.as_deref().filter(|_| checked_in_write)
        && let Some((p, recalled)) = auth::recall(&state.db, t, idle)
        // Refusing is left to a fresh read: only a write checks the recalled session.
        && access.allows(Some(&p))
    {
        // Kept until the answer is known: if the write finds the session changed, the same
        // request is admitted again.
        let (parts, body) = req.into_parts();
        let Ok(bytes) = to_bytes(body, state.config.max_body_bytes).await else {
            return deny(api, StatusCode::PAYLOAD_TOO_LARGE, "提交的内容过大");
        };
        let mut first = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
        first.extensions_mut().insert(Arc::new(recalled));
        let resp = gate.admit(first, next.clone(), Some(p), false).await;
        if resp.extensions().get::<AdmitAgain>().is_none() {
            return resp;
        }
        auth::forget(&state.db, &auth::token_hash(t));
        req = Request::from_parts(parts, Body::from(bytes));
    }

    let mut principal: Option<Principal> = None;
    let mut expired = false;
    if let Some(t) = &token {
        match auth::resume(&state.db, t, idle, &actor0, checked_in_write).await {
            Ok(SessionState::Active(p)) => principal = Some(*p),
            Ok(SessionState::Expired) => expired = true,
            Ok(SessionState::Missing) => {}
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                return deny(
                    api,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "暂时无法验证登录状态，请稍后再试",
                );
            }
        }
    }
    gate.admit(req, next, principal, expired).await
}

/// What admitting a request to its route needs besides the request and its session.
struct Gate<'a> {
    state: &'a AppState,
    access: Access,
    path: &'a str,
    api: bool,
    actor0: &'a Actor,
}

impl Gate<'_> {
    /// Checks CSRF and the route's rule for the request's principal (if any), then runs it.
    async fn admit(
        &self,
        req: Request,
        next: Next,
        principal: Option<Principal>,
        expired: bool,
    ) -> Response {
        let Gate {
            state,
            access,
            path,
            api,
            actor0,
        } = *self;
        let method = req.method().clone();
        let jar = CookieJar::from_headers(req.headers());
        let actor = match &principal {
            Some(p) => Actor {
                user_id: Some(p.user_id),
                name: p.username.clone(),
                org_id: Some(p.org.id),
                ..actor0.clone()
            },
            None => actor0.clone(),
        };

        let mut req = req;
        if unsafe_method(&method) {
            let origin_good = origin_ok(req.headers(), &state.config.public_url);
            let expected = match &principal {
                Some(p) => Some(p.csrf_token.clone()),
                None => jar.get(PRE_CSRF_COOKIE).map(|c| c.value().to_owned()),
            };
            // Without a session, a JSON body cannot come from a cross-site form and a
            // cross-site script would need a CORS preflight we never grant: no token needed.
            let needs_token = principal.is_some() || !is_json(req.headers());
            let (r, token) = match find_token(req, state.config.max_body_bytes).await {
                Ok(x) => x,
                Err(resp) => return resp,
            };
            req = r;
            let token_good = !needs_token
                || matches!((&expected, &token), (Some(e), Some(t)) if !e.is_empty() && e == t);
            if !origin_good || !token_good {
                let why = if origin_good {
                    "缺少或无效的 CSRF 令牌"
                } else {
                    "请求来源与本站不符"
                };
                if let Err(e) =
                    audit::record_alone(&state.db, &actor, "csrf_rejected", path, why).await
                {
                    tracing::error!(error = %e, "audit write failed");
                }
                let msg = "页面已过期或请求来源无效，请刷新页面后重新提交";
                return deny(api, StatusCode::FORBIDDEN, msg);
            }
        }

        if !access.allows(principal.as_ref()) {
            if principal.is_none() {
                if api {
                    let msg = if expired {
                        "会话已超时，请重新登录"
                    } else {
                        "请先登录"
                    };
                    return json_error(StatusCode::UNAUTHORIZED, msg, None);
                }
                let next_path = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let target = format!(
                    "/login?next={}{}",
                    percent_encoding::utf8_percent_encode(
                        next_path,
                        percent_encoding::NON_ALPHANUMERIC
                    ),
                    if expired { "&expired=1" } else { "" }
                );
                return Redirect::to(&target).into_response();
            }
            let detail = format!("{method} {path}");
            if let Err(e) =
                audit::record_alone(&state.db, &actor, "permission_denied", path, &detail).await
            {
                tracing::error!(error = %e, "audit write failed");
            }
            return deny(api, StatusCode::FORBIDDEN, "您的角色无权访问此功能");
        }

        if let Some(p) = principal {
            req.extensions_mut().insert(Arc::new(p));
        }
        req.extensions_mut().insert(actor);
        let mut resp = next.run(req).await;
        if expired && !api {
            // Clear the dead cookie so the browser stops sending it.
            resp.headers_mut().append(
                header::SET_COOKIE,
                format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
                    .parse()
                    .expect("static cookie header"),
            );
        }
        resp
    }
}

/// Records the client address and request id for the handlers and the audit trail.
pub async fn request_meta(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // A client may send its own request id (a proxy's, say); it goes into the audit trail
    // only if it looks like one.
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
        .unwrap_or("-")
        .to_owned();
    // The last address is the one the trusted proxy added: those before it are whatever the
    // client wrote, and would let it be anyone (and dodge every per-address limit).
    let forwarded = state
        .config
        .trust_forwarded_for
        .then(|| {
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
        })
        .flatten()
        .and_then(|v| v.rsplit(',').next())
        .and_then(|s| s.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| ip.to_string());
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let ip = forwarded.or(peer).unwrap_or_else(|| "-".to_owned());
    req.extensions_mut().insert(RequestMeta { ip, request_id });
    next.run(req).await
}
