//! The audit administrator's pages and API: search, CSV export, chain verification.

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{AuditFilter, AuditRecord, VerifyReport};
use crate::auth::{Principal, Role};
use crate::error::Error;
use crate::web::AppState;
use crate::web::access::{Access, Routes};
use crate::web::error::{ApiResult, PageResult};
use crate::web::extract::Query;
use crate::web::page::{ApiCtx, Ctx, Pager, Shell, query_string};

const AUDITORS: Access = Access::Roles(&[Role::AuditAdmin]);

pub fn routes() -> Routes {
    Routes::new()
        .get("/audit", AUDITORS, search_page)
        .get("/audit/export.csv", AUDITORS, export_csv)
        .get("/audit/verify", AUDITORS, verify_page)
        .get("/api/v1/audit", AUDITORS, api_search)
        .get("/api/v1/audit/verify", AUDITORS, api_verify)
}

/// The actions offered in the search form.
const ACTIONS: &[&str] = &[
    "login",
    "login_failed",
    "logout",
    "session_expired",
    "permission_denied",
    "csrf_rejected",
    "user.",
    "org.",
    "workdays.",
    "catalog.",
    "delegation.",
    "workflow.",
    "case.",
    "grids.",
    "open311.",
    "account.password_change",
    "account.password_change_failed",
    "audit.",
    "demo.",
];

pub struct ActionOption {
    pub value: &'static str,
    pub label: &'static str,
}

fn action_options() -> Vec<ActionOption> {
    ACTIONS
        .iter()
        .map(|a| ActionOption {
            value: a,
            label: match *a {
                "user." => "账号管理（全部）",
                "org." => "组织机构（全部）",
                "audit." => "审计管理（全部）",
                "workdays." => "工作日历（全部）",
                "catalog." => "权责清单（全部）",
                "workflow." => "流程办理（全部）",
                "delegation." => "赋权下放（全部）",
                "case." => "案件办理（全部）",
                "grids." => "网格管理（全部）",
                "open311." => "Open311 接口（全部）",
                "demo." => "演示数据（全部）",
                other => super::action_label(other),
            },
        })
        .collect()
}

#[derive(Template)]
#[template(path = "audit/search.html")]
struct SearchPage {
    shell: Shell,
    rows: Vec<AuditRecord>,
    pager: Pager,
    f: AuditFilter,
    actions: Vec<ActionOption>,
    export_query: String,
    error: Option<String>,
}

fn filter_query(f: &AuditFilter) -> String {
    query_string(&[
        ("actor", f.actor.as_deref()),
        ("action", f.action.as_deref()),
        ("target", f.target.as_deref()),
        ("from", f.from.as_deref()),
        ("to", f.to.as_deref()),
    ])
}

fn check_dates(f: &AuditFilter) -> Result<(), Error> {
    for (field, v) in [("from", &f.from), ("to", &f.to)] {
        if let Some(d) = v.as_deref().filter(|s| !s.trim().is_empty())
            && crate::time::Timestamp::parse_local_date(d).is_none()
        {
            return Err(Error::invalid(
                field,
                format!("日期「{d}」格式应为 YYYY-MM-DD"),
            ));
        }
    }
    Ok(())
}

async fn search_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(f): Query<AuditFilter>,
) -> PageResult {
    Principal::require(ctx.principal.auditor()).map_err(|e| ctx.fail(e))?;
    // A date mistyped comes back on the form with the other filters, and no rows.
    let (found, error) = match check_dates(&f) {
        Ok(()) => {
            let page = super::search(&state.db, &f)
                .await
                .map_err(|e| ctx.fail(Error::from(e)))?;
            (Some(page), None)
        }
        Err(e) => (None, Some(e)),
    };
    let base = filter_query(&f);
    let status = crate::web::error::form_status(error.as_ref());
    let (pager, rows) = match found {
        Some(page) => (
            Pager::new(page.page, page.per_page, page.total, base.clone()),
            page.rows,
        ),
        None => (Pager::new(1, 1, 0, String::new()), Vec::new()),
    };
    let mut resp = ctx.render(&SearchPage {
        shell: ctx.shell("审计日志"),
        pager,
        rows,
        f,
        actions: action_options(),
        export_query: base,
        error: error.map(|e| e.to_string()),
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

async fn export_csv(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(f): Query<AuditFilter>,
) -> PageResult {
    Principal::require(ctx.principal.auditor()).map_err(|e| ctx.fail(e))?;
    check_dates(&f).map_err(|e| ctx.fail(e))?;
    // A BOM so that Excel on Chinese Windows opens the UTF-8 file correctly.
    let mut out: Vec<u8> = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record([
            "序号",
            "时间（北京时间）",
            "操作人",
            "操作",
            "操作代码",
            "对象",
            "详情",
            "来源 IP",
            "请求编号",
            "哈希",
        ])
        .map_err(|e| ctx.fail(Error::internal(e)))?;
        // Actor, target and detail carry what people typed (a username tried at the login,
        // say), and older rows kept a client's request id as sent: Excel must not run any of
        // it as a formula when the auditor opens the file.
        let typed = |s: &str| crate::catalog::io::formula_guarded(s).into_owned();
        super::stream_for_export(&state.db, &f, |r| {
            w.write_record([
                r.seq.to_string(),
                r.at.local_seconds(),
                typed(&r.actor),
                r.action_label().to_owned(),
                r.action.clone(),
                typed(&r.target),
                typed(&r.detail),
                typed(&r.ip),
                typed(&r.request_id),
                r.hash.clone(),
            ])
            .map_err(std::io::Error::other)
        })
        .await
        .map_err(|e| ctx.fail(Error::from(e)))?;
        w.flush().map_err(|e| ctx.fail(Error::internal(e)))?;
    }
    super::record_alone(
        &state.db,
        &ctx.actor,
        "audit.export",
        "audit_log",
        &filter_query(&f),
    )
    .await
    .map_err(|e| ctx.fail(e))?;
    // Named by Beijing time, as every time the auditor sees.
    let name = format!(
        "audit-{}.csv",
        crate::time::Timestamp::now()
            .local_seconds()
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        out,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "audit/verify.html")]
struct VerifyPage {
    shell: Shell,
    report: VerifyReport,
}

async fn verify_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    Principal::require(ctx.principal.auditor()).map_err(|e| ctx.fail(e))?;
    let report = super::verify(&state.db).await.map_err(|e| ctx.fail(e))?;
    ctx.render(&VerifyPage {
        shell: ctx.shell("校验审计链"),
        report,
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditRecord>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

/// Searches the audit trail (audit administrator).
#[utoipa::path(get, path = "/api/v1/audit", tag = "审计", params(AuditFilter),
    responses((status = 200, body = AuditList), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_search(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Query(f): Query<AuditFilter>,
) -> ApiResult<Json<AuditList>> {
    Principal::require(ctx.principal.auditor())?;
    check_dates(&f)?;
    let p = super::search(&state.db, &f).await?;
    Ok(Json(AuditList {
        items: p.rows,
        total: p.total,
        page: p.page,
        per_page: p.per_page,
    }))
}

/// Verifies the hash chain.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "审计", responses((status = 200, body = VerifyReport)))]
pub async fn api_verify(State(state): State<AppState>, ctx: ApiCtx) -> ApiResult<Response> {
    Principal::require(ctx.principal.auditor())?;
    Ok(Json(super::verify(&state.db).await?).into_response())
}
