//! "My work" (inbox), an instance's timeline with its action forms, metrics: pages and API.

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::{Acted, ActionInput, InstanceDetail, Metrics, WorkItem};
use crate::error::Error;
use crate::ids::{InstanceId, OrgId};
use crate::time::Timestamp;
use crate::web::AppState;
use crate::web::access::{Access, Routes};
use crate::web::error::{ApiResult, PageResult};
use crate::web::extract::{FormBody, JsonBody, Path, Query, value};
use crate::web::page::{ApiCtx, Ctx, Pager, Shell, redirect_with};

pub fn routes() -> Routes {
    Routes::new()
        .get("/work", Access::SignedIn, inbox_page)
        .get("/work/metrics", Access::SignedIn, metrics_page)
        .get("/work/{id}", Access::SignedIn, detail_page)
        .post("/work/{id}/act", Access::SignedIn, act_submit)
        .get("/api/v1/work", Access::SignedIn, api_inbox)
        .get("/api/v1/work/metrics", Access::SignedIn, api_metrics)
        .get("/api/v1/work/{id}", Access::SignedIn, api_detail)
        .post("/api/v1/work/{id}/actions", Access::SignedIn, api_act)
}

const PER_PAGE: u32 = 30;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    page: Option<u32>,
}

#[derive(Template)]
#[template(path = "workflow/inbox.html")]
struct InboxPage {
    shell: Shell,
    items: Vec<WorkItem>,
    notices: Vec<super::Notice>,
    pager: Pager,
}

async fn inbox_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let page = q.page.unwrap_or(1).max(1);
    let inbox = super::inbox(&state.db, &state.processes, &ctx.principal, page, PER_PAGE)
        .await
        .map_err(|e| ctx.fail(e))?;
    ctx.render(&InboxPage {
        shell: ctx.shell("我的待办"),
        pager: Pager::new(page, PER_PAGE, inbox.total, String::new()),
        items: inbox.items,
        notices: inbox.notices,
    })
}

#[derive(Template)]
#[template(path = "workflow/detail.html")]
struct DetailPage {
    shell: Shell,
    d: InstanceDetail,
    idempotency_key: String,
    error: Option<String>,
}

async fn render_detail(
    state: &AppState,
    ctx: &Ctx,
    id: InstanceId,
    error: Option<Error>,
) -> PageResult {
    let d = super::detail(&state.db, &state.processes, &ctx.principal, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let status = crate::web::error::form_status(error.as_ref());
    let title = d.instance.subject.clone();
    let mut resp = ctx.render(&DetailPage {
        shell: ctx.shell(&title),
        d,
        idempotency_key: crate::auth::random_token(),
        error: error.map(|e| e.to_string()),
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

async fn detail_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    let d = super::detail(&state.db, &state.processes, &ctx.principal, InstanceId(id))
        .await
        .map_err(|e| ctx.fail(e))?;
    // A context-driven instance is handled on its context's page, with its own forms.
    if let Some(url) = super::context_url(&d.instance) {
        return Ok(axum::response::Redirect::to(&url).into_response());
    }
    render_detail(&state, &ctx, InstanceId(id), None).await
}

fn input_from_form(pairs: &[(String, String)]) -> Result<ActionInput, Error> {
    let expected_version = value(pairs, "expected_version")
        .parse()
        .map_err(|_| Error::invalid("expected_version", "页面已过期，请刷新后重试"))?;
    let fields = pairs
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("field.").map(|f| (f.to_owned(), v.clone())))
        .collect();
    let reassign_to = match value(pairs, "reassign_to").trim() {
        "" => None,
        v => {
            Some(OrgId(v.parse().map_err(|_| {
                Error::invalid("reassign_to", "请选择承办单位")
            })?))
        }
    };
    Ok(ActionInput {
        action: value(pairs, "action").to_owned(),
        expected_version,
        comment: Some(value(pairs, "comment").to_owned()).filter(|c| !c.trim().is_empty()),
        attachments: Vec::new(),
        fields,
        reassign_to,
        idempotency_key: Some(value(pairs, "idempotency_key").to_owned()).filter(|k| !k.is_empty()),
    })
}

async fn act_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(pairs): FormBody<Vec<(String, String)>>,
) -> PageResult {
    let id = InstanceId(id);
    let result = match input_from_form(&pairs) {
        Ok(input) => {
            super::act(
                &state.db,
                &state.processes,
                &ctx.principal,
                &ctx.actor,
                id,
                input,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(a) if a.replayed => Ok(redirect_with(
            &format!("/work/{id}"),
            "该操作已提交过，未重复办理",
        )),
        Ok(_) => Ok(redirect_with(&format!("/work/{id}"), "已办理")),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_) | Error::Forbidden(_))) => {
            render_detail(&state, &ctx, id, Some(e)).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct MetricsQuery {
    /// Process name.
    process: Option<String>,
    /// Organisation id; default the caller's township (or the whole district).
    org: Option<i64>,
    /// First day, YYYY-MM-DD (default: 1 January of this year).
    from: Option<String>,
    /// Last day, inclusive (default: today).
    to: Option<String>,
}

struct MetricsRequest {
    process: String,
    org: Option<crate::orgs::model::Org>,
    from: Timestamp,
    to: Timestamp,
}

async fn parse_metrics(
    state: &AppState,
    p: &crate::auth::Principal,
    q: &MetricsQuery,
) -> Result<MetricsRequest, Error> {
    let process = match q.process.as_deref().filter(|s| !s.is_empty()) {
        Some(name) if state.processes.get(name).is_some() => name.to_owned(),
        Some(name) => {
            return Err(Error::invalid(
                "process",
                format!("没有名为「{name}」的流程"),
            ));
        }
        None => state
            .processes
            .names()
            .next()
            .map(str::to_owned)
            .ok_or_else(|| Error::invalid("process", "尚未定义任何流程"))?,
    };
    let day = |s: &Option<String>, field: &str| -> Result<Option<Timestamp>, Error> {
        match s.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(d) => Timestamp::parse_local_date(d)
                .map(Some)
                .ok_or_else(|| Error::invalid(field, format!("日期「{d}」格式应为 YYYY-MM-DD"))),
        }
    };
    let today = Timestamp::now().start_of_local_day();
    let to = day(&q.to, "to")?.unwrap_or(today).plus_seconds(86_400);
    let year_start = Timestamp::parse_local_date(&format!(
        "{}-01-01",
        today.local().get(..4).unwrap_or("2026")
    ))
    .unwrap_or(today);
    let from = day(&q.from, "from")?.unwrap_or(year_start);
    if from >= to {
        return Err(Error::invalid("from", "起始日期应早于截止日期"));
    }
    let org = match q.org {
        Some(id) => {
            // Seeing an organisation (the district above, a department beside) is not
            // overseeing its work: the figures are for organisations within one's scope.
            let org = crate::orgs::get_visible(&state.db, p, OrgId(id)).await?;
            if !p.scope.covers(&org) {
                return Err(Error::forbidden("该组织不在您的管辖范围内"));
            }
            Some(org)
        }
        None => match &p.scope {
            crate::auth::Scope::District => None,
            crate::auth::Scope::Township { township_id, .. } => {
                Some(crate::orgs::get_visible(&state.db, p, *township_id).await?)
            }
        },
    };
    Ok(MetricsRequest {
        process,
        org,
        from,
        to,
    })
}

/// Parses a metrics request and answers it: the organisation it covers and the figures.
async fn compute_metrics(
    state: &AppState,
    p: &crate::auth::Principal,
    q: &MetricsQuery,
) -> Result<(Option<crate::orgs::model::Org>, Metrics), Error> {
    let r = parse_metrics(state, p, q).await?;
    let m = super::metrics(
        &state.db,
        &state.processes,
        &r.process,
        r.org.as_ref(),
        r.from,
        r.to,
    )
    .await?;
    Ok((r.org, m))
}

#[derive(Template)]
#[template(path = "workflow/metrics.html")]
struct MetricsPage {
    shell: Shell,
    m: Option<Metrics>,
    /// The figures' states as the process names them, in the process's order.
    by_state: Vec<(String, i64)>,
    org_name: String,
    processes: Vec<(String, String)>,
    q_process: String,
    /// The organisation asked for, kept by the form.
    q_org: String,
    q_from: String,
    q_to: String,
    avg: String,
    p90: String,
    error: Option<String>,
}

async fn metrics_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<MetricsQuery>,
) -> PageResult {
    let processes: Vec<(String, String)> = state
        .processes
        .iter()
        .map(|d| (d.name().to_owned(), d.label().to_owned()))
        .collect();
    let day_seconds = super::calendar(&state.db)
        .await
        .map_err(|e| ctx.fail(e))?
        .working_hours()
        .day_seconds();
    let (m, org_name, error) = match compute_metrics(&state, &ctx.principal, &q).await {
        Ok((org, m)) => (
            Some(m),
            org.map(|o| o.name).unwrap_or_else(|| "全区".into()),
            None,
        ),
        Err(e @ Error::Invalid { .. }) => (None, String::new(), Some(e.to_string())),
        Err(e) => return Err(ctx.fail(e)),
    };
    let by_state = m
        .as_ref()
        .and_then(|m| {
            let def = state.processes.get(&m.process)?;
            Some(
                def.states()
                    .iter()
                    .filter_map(|s| Some((s.label.clone(), *m.by_state.get(&s.id)?)))
                    .collect(),
            )
        })
        .unwrap_or_default();
    let avg = super::working_duration(
        m.as_ref().and_then(|m| m.avg_working_seconds),
        i64::from(day_seconds),
    );
    let p90 = super::working_duration(
        m.as_ref().and_then(|m| m.p90_working_seconds),
        i64::from(day_seconds),
    );
    ctx.render(&MetricsPage {
        shell: ctx.shell("办理统计"),
        m,
        by_state,
        org_name,
        processes,
        q_process: q.process.unwrap_or_default(),
        q_org: q.org.map(|o| o.to_string()).unwrap_or_default(),
        q_from: q.from.unwrap_or_default(),
        q_to: q.to.unwrap_or_default(),
        avg,
        p90,
        error,
    })
}

// ---------- JSON API ----------

#[derive(Serialize, utoipa::ToSchema)]
pub struct InboxBody {
    pub items: Vec<WorkItem>,
    pub total: i64,
    pub notices: Vec<super::Notice>,
}

/// My work: instances waiting on an action my roles and organisation allow, soonest first.
#[utoipa::path(get, path = "/api/v1/work", tag = "待办", params(PageQuery), responses((status = 200, body = InboxBody)))]
pub async fn api_inbox(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<InboxBody>> {
    let inbox = super::inbox(
        &state.db,
        &state.processes,
        &ctx.principal,
        q.page.unwrap_or(1),
        PER_PAGE,
    )
    .await?;
    Ok(Json(InboxBody {
        items: inbox.items,
        total: inbox.total,
        notices: inbox.notices,
    }))
}

/// An instance, its timeline and the actions I may take.
#[utoipa::path(get, path = "/api/v1/work/{id}", operation_id = "work_detail", tag = "待办", params(("id" = i64, Path)),
    responses((status = 200, body = InstanceDetail), (status = 403, body = crate::web::error::ErrorBody),
              (status = 404, body = crate::web::error::ErrorBody)))]
pub async fn api_detail(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
) -> ApiResult<Json<InstanceDetail>> {
    Ok(Json(
        super::detail(&state.db, &state.processes, &ctx.principal, InstanceId(id)).await?,
    ))
}

/// Takes an action. 403 when my role may not, 409 when the instance has moved on (with its
/// current state), 422 naming a missing comment or field.
#[utoipa::path(post, path = "/api/v1/work/{id}/actions", operation_id = "work_act", tag = "待办", params(("id" = i64, Path)), request_body = ActionInput,
    responses((status = 200, body = Acted), (status = 403, body = crate::web::error::ErrorBody),
              (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_act(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(input): JsonBody<ActionInput>,
) -> ApiResult<Json<Acted>> {
    Ok(Json(
        super::act(
            &state.db,
            &state.processes,
            &ctx.principal,
            &ctx.actor,
            InstanceId(id),
            input,
        )
        .await?,
    ))
}

/// Counts by state, on-time completion, average and 90th-percentile working time, overdue.
#[utoipa::path(get, path = "/api/v1/work/metrics", operation_id = "work_metrics", tag = "待办", params(MetricsQuery),
    responses((status = 200, body = Metrics), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_metrics(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Query(q): Query<MetricsQuery>,
) -> ApiResult<Json<Metrics>> {
    Ok(Json(compute_metrics(&state, &ctx.principal, &q).await?.1))
}
