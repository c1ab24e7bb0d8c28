//! The working-day calendar's pages and API: the system administrator lists, corrects, imports
//! and exports the holiday arrangement; any signed-in client may ask how a date counts and
//! where a deadline falls.

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use calendar::CsvLineError;
use chrono::Datelike;
use serde::{Deserialize, Serialize};

use super::model::{self, Arrangement, DayCheck, Deadline};
use super::{CalendarAdmin, DayOutcome, ImportError, ImportOutcome, YearView};
use crate::auth::{Principal, Role};
use crate::error::Error;
use crate::web::AppState;
use crate::web::access::{Access, Routes};
use crate::web::error::{ApiResult, ErrorDetail, PageResult};
use crate::web::extract::{FormBody, JsonBody, Path, Query};
use crate::web::page::{ApiCtx, Ctx, Shell, redirect_with};

const ADMINS: Access = Access::Roles(&[Role::SystemAdmin]);

pub fn routes() -> Routes {
    Routes::new()
        .get("/admin/workdays", ADMINS, year_page)
        .post("/admin/workdays", ADMINS, set_submit)
        .post("/admin/workdays/reset", ADMINS, reset_submit)
        .post("/admin/workdays/import", ADMINS, import_submit)
        .get("/admin/workdays/export.csv", ADMINS, export_csv)
        .get("/api/v1/workdays", ADMINS, api_list)
        .get("/api/v1/workdays/check", Access::SignedIn, api_check)
        .get("/api/v1/workdays/add", Access::SignedIn, api_add)
        .post("/api/v1/workdays/import", ADMINS, api_import)
        .put("/api/v1/workdays/{date}", ADMINS, api_set)
        .delete("/api/v1/workdays/{date}", ADMINS, api_reset)
}

fn admin(p: &Principal) -> Result<CalendarAdmin<'_>, Error> {
    Principal::require(super::calendar_admin(p))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
pub struct YearQuery {
    /// The year to list (2000–2099); this year when absent.
    year: Option<String>,
    /// Pages only: a date to fill into the correction form.
    #[param(ignore)]
    date: Option<String>,
}

// ---------- pages ----------

#[derive(Deserialize, Default, Clone)]
struct SetForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    festival: String,
}

#[derive(Deserialize, Default)]
struct ResetForm {
    #[serde(default)]
    date: String,
}

#[derive(Deserialize, Default)]
struct ImportForm {
    #[serde(default)]
    csv: String,
}

/// What a page shows besides the year: the forms as submitted and their errors.
#[derive(Default)]
struct Forms {
    set: SetForm,
    set_error: Option<String>,
    csv: String,
    import_error: Option<String>,
    import_rows: Vec<CsvLineError>,
}

#[derive(Template)]
#[template(path = "workdays/year.html")]
struct YearPage {
    shell: Shell,
    view: YearView,
    prev: Option<i32>,
    next: Option<i32>,
    /// The first year after the covered ones, offered for entry.
    next_uncovered: Option<i32>,
    kinds: [Arrangement; 3],
    forms: Forms,
}

async fn render_year(
    state: &AppState,
    ctx: &Ctx,
    year: i32,
    forms: Forms,
    status: StatusCode,
) -> PageResult {
    let view = super::year_view(&state.db, year)
        .await
        .map_err(|e| ctx.fail(e))?;
    let next_uncovered = view
        .covered_years
        .last()
        .map(|y| y + 1)
        .filter(|y| *y <= model::LAST_YEAR && *y != year);
    let mut resp = ctx.render(&YearPage {
        shell: ctx.shell(&format!("工作日历 · {year} 年")),
        prev: Some(year - 1).filter(|y| *y >= model::FIRST_YEAR),
        next: Some(year + 1).filter(|y| *y <= model::LAST_YEAR),
        next_uncovered,
        view,
        kinds: Arrangement::ALL,
        forms,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

async fn year_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<YearQuery>,
) -> PageResult {
    admin(&ctx.principal).map_err(|e| ctx.fail(e))?;
    let year =
        model::parse_year(q.year.as_deref(), super::today().year()).map_err(|e| ctx.fail(e))?;
    // "更正" links carry the date, so the form starts from what the date says now.
    let mut forms = Forms::default();
    if let Some(date) = q.date.as_deref().filter(|d| !d.trim().is_empty()) {
        let date = model::parse_date("date", date).map_err(|e| ctx.fail(e))?;
        let row = super::day_row(&state.db, date)
            .await
            .map_err(|e| ctx.fail(e))?;
        forms.set = SetForm {
            date: date.to_string(),
            kind: row.as_ref().map(|r| r.kind.as_str()).unwrap_or("").into(),
            festival: row.map(|r| r.festival).unwrap_or_default(),
        };
    }
    render_year(&state, &ctx, year, forms, StatusCode::OK).await
}

/// The year to show again with a refused form: the form's own date's year when it has one.
fn year_of(date: &str) -> i32 {
    model::parse_date("date", date)
        .map(|d| d.year())
        .unwrap_or_else(|_| super::today().year())
}

fn refused(e: &Error) -> Option<StatusCode> {
    match e {
        Error::Invalid { .. } => Some(StatusCode::UNPROCESSABLE_ENTITY),
        Error::NotFound(_) => Some(StatusCode::NOT_FOUND),
        _ => None,
    }
}

async fn set_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<SetForm>,
) -> PageResult {
    let cap = admin(&ctx.principal).map_err(|e| ctx.fail(e))?;
    let result = match model::validate_change(&f.date, &f.kind, &f.festival) {
        Ok(change) => super::set_day(&state.db, &cap, &ctx.actor, change).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(done) => Ok(redirect_with(
            &format!("/admin/workdays?year={}", done.day.date.year()),
            &format!(
                "已将 {}（{}）设为{}，现为{}",
                done.day.date,
                done.day.weekday,
                model::Arrangement::parse(&f.kind).map_or("", |k| k.label()),
                if done.day.working_day {
                    "工作日"
                } else {
                    "休息日"
                }
            ),
        )),
        Err(e) => match refused(&e) {
            Some(status) => {
                let year = year_of(&f.date);
                let forms = Forms {
                    set: f,
                    set_error: Some(e.to_string()),
                    ..Forms::default()
                };
                render_year(&state, &ctx, year, forms, status).await
            }
            None => Err(ctx.fail(e)),
        },
    }
}

async fn reset_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<ResetForm>,
) -> PageResult {
    let cap = admin(&ctx.principal).map_err(|e| ctx.fail(e))?;
    let result = match model::parse_date("date", &f.date) {
        Ok(date) => super::reset_day(&state.db, &cap, &ctx.actor, date).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(done) => Ok(redirect_with(
            &format!("/admin/workdays?year={}", done.day.date.year()),
            &format!(
                "已撤销 {} 的更正，现为{}",
                done.day.date, done.day.kind_label
            ),
        )),
        Err(e) => match refused(&e) {
            Some(status) => {
                let forms = Forms {
                    set_error: Some(e.to_string()),
                    ..Forms::default()
                };
                render_year(&state, &ctx, year_of(&f.date), forms, status).await
            }
            None => Err(ctx.fail(e)),
        },
    }
}

async fn import_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<ImportForm>,
) -> PageResult {
    let cap = admin(&ctx.principal).map_err(|e| ctx.fail(e))?;
    match super::import(&state.db, &cap, &ctx.actor, &f.csv).await {
        Ok(done) => {
            let year = done
                .years
                .first()
                .copied()
                .unwrap_or_else(|| super::today().year());
            let years: Vec<String> = done.years.iter().map(|y| format!("{y} 年")).collect();
            Ok(redirect_with(
                &format!("/admin/workdays?year={year}"),
                &format!("已导入 {} 行（{}）", done.imported, years.join("、")),
            ))
        }
        Err(ImportError::Rows(rows)) => {
            let forms = Forms {
                csv: f.csv,
                import_error: Some(format!(
                    "导入内容有 {} 处错误，未导入任何一行，请修改后重新提交：",
                    rows.len()
                )),
                import_rows: rows,
                ..Forms::default()
            };
            let year = super::today().year();
            render_year(&state, &ctx, year, forms, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ImportError::Failed(e)) => Err(ctx.fail(e)),
    }
}

async fn export_csv(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<YearQuery>,
) -> PageResult {
    admin(&ctx.principal).map_err(|e| ctx.fail(e))?;
    let year = match q.year.as_deref().filter(|y| !y.trim().is_empty()) {
        Some(y) => Some(model::parse_year(Some(y), 0).map_err(|e| ctx.fail(e))?),
        None => None,
    };
    let body = super::export_csv(&state.db, year)
        .await
        .map_err(|e| ctx.fail(e))?;
    let name = match year {
        Some(y) => format!("workdays-{y}.csv"),
        None => "workdays.csv".to_owned(),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

// ---------- JSON API ----------

/// Lists a year's holidays, make-up working days and corrections (system administrator).
#[utoipa::path(get, path = "/api/v1/workdays", operation_id = "workdays_list", tag = "工作日历", params(YearQuery),
    responses((status = 200, body = YearView), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_list(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Query(q): Query<YearQuery>,
) -> ApiResult<Json<YearView>> {
    admin(&ctx.principal)?;
    let year = model::parse_year(q.year.as_deref(), super::today().year())?;
    Ok(Json(super::year_view(&state.db, year).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CheckQuery {
    /// `YYYY-MM-DD`.
    date: Option<String>,
}

/// How a date counts: working day or not, and why.
#[utoipa::path(get, path = "/api/v1/workdays/check", operation_id = "workdays_check", tag = "工作日历", params(CheckQuery),
    responses((status = 200, body = DayCheck), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_check(
    State(state): State<AppState>,
    _ctx: ApiCtx,
    Query(q): Query<CheckQuery>,
) -> ApiResult<Json<DayCheck>> {
    let date = model::parse_any_date("date", q.date.as_deref().unwrap_or(""))?;
    Ok(Json(super::check(&state.db, date).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AddQuery {
    /// The start: RFC 3339 (`2026-02-13T10:00:00+08:00`, with `+` written `%2B`) or a date.
    from: Option<String>,
    /// Working days to add, 0–1000. The start's own day never counts.
    working_days: Option<String>,
}

/// The deadline a number of working days after a start: close of business (17:30 Beijing time)
/// of the last working day.
#[utoipa::path(get, path = "/api/v1/workdays/add", operation_id = "workdays_add", tag = "工作日历", params(AddQuery),
    responses((status = 200, body = Deadline), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_add(
    State(state): State<AppState>,
    _ctx: ApiCtx,
    Query(q): Query<AddQuery>,
) -> ApiResult<Json<Deadline>> {
    let from = model::parse_instant(q.from.as_deref())?;
    let n = model::parse_working_days(q.working_days.as_deref())?;
    Ok(Json(super::deadline(&state.db, from, n).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SetDay {
    /// holiday (放假), workday (调休上班) or normal (恢复正常: the Monday-to-Friday rule).
    #[serde(default)]
    pub kind: String,
    /// The festival (元旦, 春节 …); required for holiday and workday.
    #[serde(default)]
    pub festival: String,
}

/// Sets one date, overriding the embedded arrangement (system administrator).
#[utoipa::path(put, path = "/api/v1/workdays/{date}", operation_id = "workdays_set", tag = "工作日历",
    params(("date" = String, Path, description = "YYYY-MM-DD")), request_body = SetDay,
    responses((status = 200, body = DayOutcome), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_set(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(date): Path<String>,
    JsonBody(body): JsonBody<SetDay>,
) -> ApiResult<Json<DayOutcome>> {
    let cap = admin(&ctx.principal)?;
    let change = model::validate_change(&date, &body.kind, &body.festival)?;
    Ok(Json(
        super::set_day(&state.db, &cap, &ctx.actor, change).await?,
    ))
}

/// Removes an administrator's correction of a date, restoring the embedded arrangement.
#[utoipa::path(delete, path = "/api/v1/workdays/{date}", operation_id = "workdays_reset", tag = "工作日历",
    params(("date" = String, Path, description = "YYYY-MM-DD")),
    responses((status = 200, body = DayOutcome), (status = 404, body = crate::web::error::ErrorBody),
              (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_reset(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(date): Path<String>,
) -> ApiResult<Json<DayOutcome>> {
    let cap = admin(&ctx.principal)?;
    let date = model::parse_date("date", &date)?;
    Ok(Json(
        super::reset_day(&state.db, &cap, &ctx.actor, date).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ImportBody {
    /// `date,kind,festival` rows, as in the exported file; a header line and `#` comments are
    /// allowed.
    #[serde(default)]
    pub csv: String,
}

/// One refused row of an import.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// 1-based line number in `csv`.
    pub line: usize,
    pub reason: String,
}

/// The error body of a refused import: the usual error, plus every bad row.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportErrorBody {
    pub error: ErrorDetail,
    pub rows: Vec<RowError>,
}

/// Imports an arrangement: all rows or none (system administrator).
#[utoipa::path(post, path = "/api/v1/workdays/import", operation_id = "workdays_import", tag = "工作日历", request_body = ImportBody,
    responses((status = 200, body = ImportOutcome), (status = 422, body = ImportErrorBody)))]
pub async fn api_import(
    State(state): State<AppState>,
    ctx: ApiCtx,
    JsonBody(body): JsonBody<ImportBody>,
) -> ApiResult<Response> {
    let cap = admin(&ctx.principal)?;
    match super::import(&state.db, &cap, &ctx.actor, &body.csv).await {
        Ok(done) => Ok(Json(done).into_response()),
        Err(ImportError::Rows(rows)) => {
            let body = ImportErrorBody {
                error: ErrorDetail {
                    code: "invalid".to_owned(),
                    message: ImportError::message(&rows),
                    field: Some("csv".to_owned()),
                },
                rows: rows
                    .into_iter()
                    .map(|r| RowError {
                        line: r.line,
                        reason: r.reason,
                    })
                    .collect(),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response())
        }
        Err(ImportError::Failed(e)) => Err(e.into()),
    }
}
