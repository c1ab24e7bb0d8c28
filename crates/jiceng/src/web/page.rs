//! What every page shares: the shell (title, account, menu, CSRF token, flash message) and the
//! extractors that hand handlers the signed-in principal and the audit actor.

use std::sync::Arc;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

use super::access::PRE_CSRF_COOKIE;
use super::error::{PageError, PageResult};
use crate::audit::Actor;
use crate::auth::{Principal, Role};
use crate::error::Error;

pub const FLASH_COOKIE: &str = "jiceng_flash";

#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
}

#[derive(Debug, Clone)]
pub struct ShellUser {
    pub display_name: String,
    pub org_name: String,
    pub role_labels: String,
}

/// The frame around every page.
#[derive(Debug, Clone)]
pub struct Shell {
    pub title: String,
    pub user: Option<ShellUser>,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub flash: Option<String>,
}

impl Shell {
    pub fn anonymous(title: &str) -> Shell {
        Shell {
            title: title.to_owned(),
            user: None,
            csrf: String::new(),
            nav: Vec::new(),
            flash: None,
        }
    }

    pub fn for_principal(title: &str, p: &Principal, flash: Option<String>) -> Shell {
        Shell {
            title: title.to_owned(),
            user: Some(ShellUser {
                display_name: p.display_name.clone(),
                org_name: p.org.name.clone(),
                role_labels: p.role_labels(),
            }),
            csrf: p.csrf_token.clone(),
            nav: nav_for(p),
            flash,
        }
    }
}

/// The menu a principal sees: only what its roles may open.
pub fn nav_for(p: &Principal) -> Vec<NavItem> {
    let mut nav = vec![
        NavItem {
            href: "/",
            label: "我的工作",
        },
        NavItem {
            href: "/work",
            label: "待办事项",
        },
        NavItem {
            href: "/catalog",
            label: "权责清单",
        },
    ];
    if crate::cases::visibility(p).is_some() {
        nav.push(NavItem {
            href: "/cases",
            label: "案件",
        });
    }
    nav.push(NavItem {
        href: "/orgs",
        label: "组织机构",
    });
    if p.has_any(&[
        Role::EstablishmentOffice,
        Role::JusticeBureau,
        Role::DepartmentOfficer,
        Role::TownshipLeader,
        Role::TownshipOfficer,
    ]) {
        nav.push(NavItem {
            href: "/delegation/powers",
            label: "下放与准入",
        });
    }
    if p.has(Role::GridWorker) {
        nav.push(NavItem {
            href: "/grids/mine",
            label: "我的网格",
        });
    }
    nav.push(NavItem {
        href: "/grids/map",
        label: "网格地图",
    });
    if p.has(Role::SystemAdmin) {
        nav.push(NavItem {
            href: "/admin/workdays",
            label: "工作日历",
        });
    }
    if p.has(Role::SecurityAdmin) {
        nav.push(NavItem {
            href: "/users",
            label: "账号管理",
        });
    }
    if p.has(Role::AuditAdmin) {
        nav.push(NavItem {
            href: "/audit",
            label: "审计日志",
        });
    }
    nav.push(NavItem {
        href: "/account/password",
        label: "修改密码",
    });
    nav
}

/// A signed-in request: the principal (placed by the access middleware), the audit actor and
/// any flash message from the previous redirect.
pub struct Ctx {
    pub principal: Arc<Principal>,
    pub actor: Actor,
    pub flash: Option<String>,
}

impl Ctx {
    pub fn shell(&self, title: &str) -> Shell {
        Shell::for_principal(title, &self.principal, self.flash.clone())
    }

    /// Renders a page, clearing the flash message it has just shown.
    pub fn render(&self, tpl: &impl Template) -> PageResult {
        render_with_flash(tpl, self.flash.is_some())
    }

    /// A page error that keeps this user's menu around the message.
    pub fn fail(&self, e: impl Into<Error>) -> PageError {
        PageError(e.into(), Some(Box::new(self.shell("出错了"))))
    }
}

pub fn render_with_flash(tpl: &impl Template, clear_flash: bool) -> PageResult {
    let html = tpl.render().map_err(Error::internal)?;
    let mut resp = Html(html).into_response();
    if clear_flash {
        resp.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_static("jiceng_flash=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"),
        );
    }
    Ok(resp)
}

fn read_flash(parts: &Parts) -> Option<String> {
    let jar = CookieJar::from_headers(&parts.headers);
    let raw = jar.get(FLASH_COOKIE)?.value().to_owned();
    percent_encoding::percent_decode_str(&raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let principal = parts
            .extensions
            .get::<Arc<Principal>>()
            .cloned()
            .ok_or(PageError(Error::Unauthenticated, None))?;
        let actor = parts.extensions.get::<Actor>().cloned().unwrap_or_default();
        Ok(Ctx {
            principal,
            actor,
            flash: read_flash(parts),
        })
    }
}

/// For API handlers: the principal and actor, or 401.
pub struct ApiCtx {
    pub principal: Arc<Principal>,
    pub actor: Actor,
}

impl<S: Send + Sync> FromRequestParts<S> for ApiCtx {
    type Rejection = super::error::ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let principal = parts
            .extensions
            .get::<Arc<Principal>>()
            .cloned()
            .ok_or(super::error::ApiError(Error::Unauthenticated))?;
        let actor = parts.extensions.get::<Actor>().cloned().unwrap_or_default();
        Ok(ApiCtx { principal, actor })
    }
}

/// A request that may or may not be signed in (public pages, the login form).
pub struct MaybeCtx {
    pub principal: Option<Arc<Principal>>,
    pub actor: Actor,
    pub flash: Option<String>,
    /// The pre-sign-in CSRF token, if the browser already holds one.
    pub pre_csrf: Option<String>,
    pub user_agent: String,
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeCtx {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        Ok(MaybeCtx {
            principal: parts.extensions.get::<Arc<Principal>>().cloned(),
            actor: parts.extensions.get::<Actor>().cloned().unwrap_or_default(),
            flash: read_flash(parts),
            pre_csrf: jar.get(PRE_CSRF_COOKIE).map(|c| c.value().to_owned()),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .chars()
                .take(200)
                .collect(),
        })
    }
}

/// Redirects (303, so a reload does not re-post) and shows `message` on the next page.
pub fn redirect_with(to: &str, message: &str) -> Response {
    let value = percent_encoding::utf8_percent_encode(message, percent_encoding::NON_ALPHANUMERIC);
    let mut resp = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{FLASH_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax"
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// Page numbers for a list: 1-based current page, total pages, and the links' query string
/// without the page number.
#[derive(Debug, Clone)]
pub struct Pager {
    pub page: u32,
    pub pages: u32,
    pub total: i64,
    pub base_query: String,
    /// The page asked for lies past the last one: the list shows nothing, and the pager
    /// says so and links to the last page.
    pub past_end: bool,
}

impl Pager {
    pub fn new(page: u32, per_page: u32, total: i64, base_query: String) -> Pager {
        let pages = ((total.max(0) as u64).div_ceil(u64::from(per_page.max(1)))).max(1) as u32;
        Pager {
            page: page.clamp(1, pages),
            pages,
            total,
            base_query,
            past_end: page > pages && total > 0,
        }
    }

    pub fn has_prev(&self) -> bool {
        self.page > 1 && !self.past_end
    }

    pub fn has_next(&self) -> bool {
        self.page < self.pages
    }

    pub fn prev(&self) -> u32 {
        self.page.saturating_sub(1).max(1)
    }

    pub fn next(&self) -> u32 {
        (self.page + 1).min(self.pages)
    }
}

/// Builds a query string from the non-empty pairs, for pagination links that keep the filters.
pub fn query_string(pairs: &[(&str, Option<&str>)]) -> String {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter_map(|(k, v)| v.filter(|s| !s.is_empty()).map(|v| (*k, v)))
        .collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pager_counts_pages_and_clamps() {
        let p = Pager::new(3, 50, 101, String::new());
        assert_eq!((p.page, p.pages), (3, 3));
        assert!(p.has_prev() && !p.has_next() && !p.past_end);
        // Past the end the list is empty: the pager says so rather than "page 3 of 3".
        let past = Pager::new(9, 50, 101, String::new());
        assert_eq!((past.page, past.pages), (3, 3));
        assert!(past.past_end && !past.has_prev() && !past.has_next());
        let empty = Pager::new(1, 50, 0, String::new());
        assert_eq!(empty.pages, 1);
        assert!(!empty.past_end && !Pager::new(2, 50, 0, String::new()).past_end);
    }

    #[test]
    fn query_string_drops_empty_filters() {
        assert_eq!(
            query_string(&[("q", Some("犀浦")), ("kind", Some("")), ("x", None)]),
            "q=%E7%8A%80%E6%B5%A6"
        );
    }
}
