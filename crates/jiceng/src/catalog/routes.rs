//! Duty-list pages (staff and public) and API.

use askama::Template;
use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::model::{self, Category, ItemFields, ListKind, NationalClass, Scheme, Source};
use super::{Change, Diff, EffectiveItem, EffectiveList, ListInfo, io, store};
use crate::auth::Role;
use crate::error::Error;
use crate::ids::OrgId;
use crate::orgs::{self, OrgQuery, model::Org, model::OrgKind};
use crate::web::AppState;
use crate::web::access::{Access, Routes};
use crate::web::error::{ApiResult, PageResult};
use crate::web::extract::{FormBody, JsonBody, Path, Query};
use crate::web::page::{
    ApiCtx, Ctx, MaybeCtx, Pager, Shell, query_string, redirect_with, render_with_flash,
};

const EDITORS: Access = Access::Roles(&[
    Role::EstablishmentOffice,
    Role::TownshipLeader,
    Role::TownshipOfficer,
]);
const PUBLISHERS: Access = Access::Roles(&[Role::EstablishmentOffice]);

pub fn routes() -> Routes {
    Routes::new()
        .get("/catalog", Access::SignedIn, catalog_page)
        .get("/catalog/template.xlsx", Access::SignedIn, template)
        .post("/catalog/scheme", PUBLISHERS, scheme_submit)
        .get("/catalog/figures", Access::SignedIn, figures_page)
        .get("/catalog/figures/export", Access::SignedIn, figures_export)
        .get("/api/v1/catalog/figures", Access::SignedIn, api_figures)
        .get("/catalog/lists/{id}", Access::SignedIn, list_page)
        .get("/catalog/lists/{id}/items", Access::SignedIn, version_page)
        .get(
            "/catalog/lists/{id}/items/{code}",
            Access::SignedIn,
            item_page,
        )
        .get("/catalog/lists/{id}/diff", Access::SignedIn, diff_page)
        .get("/catalog/lists/{id}/export", Access::SignedIn, export)
        .get(
            "/catalog/lists/{id}/diff/export",
            Access::SignedIn,
            diff_export,
        )
        .upload("/catalog/lists/{id}/import", EDITORS, import_submit)
        .post("/catalog/lists/{id}/publish", PUBLISHERS, publish_submit)
        .post("/catalog/lists/{id}/exclude", EDITORS, exclude_submit)
        .get("/public/lists", Access::Public, public_index)
        .get("/public/lists/{code}", Access::Public, public_list)
        .get("/api/v1/catalog/lists", Access::SignedIn, api_lists)
        .get(
            "/api/v1/catalog/lists/{id}/versions",
            Access::SignedIn,
            api_versions,
        )
        .get(
            "/api/v1/catalog/lists/{id}/items",
            Access::SignedIn,
            api_items,
        )
        .get(
            "/api/v1/catalog/lists/{id}/diff",
            Access::SignedIn,
            api_diff,
        )
        .post("/api/v1/catalog/lists/{id}/changes", EDITORS, api_change)
        .post(
            "/api/v1/catalog/lists/{id}/publish",
            PUBLISHERS,
            api_publish,
        )
        .get(
            "/api/v1/catalog/townships/{id}/items",
            Access::SignedIn,
            api_township_items,
        )
        .get(
            "/api/v1/public/townships/{code}/items",
            Access::Public,
            api_public_items,
        )
}

/// Filters shared by the pages and the API.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ItemFilter {
    /// Words to look for in the name, content and legal basis.
    pub q: Option<String>,
    /// duties | services | territorial
    pub list: Option<String>,
    /// basic | cooperative | returned
    pub class: Option<String>,
    /// One of the 13 categories' identifiers, e.g. penalty.
    pub category: Option<String>,
    /// statutory | entrusted | delegated | other
    pub source: Option<String>,
    /// Read from text too: the page's query flattens this filter into its own, and serde
    /// hands a flattened struct its query values as strings.
    #[serde(default, deserialize_with = "crate::web::extract::page_number")]
    pub page: Option<u32>,
}

/// Keeps the items matching `f`, ranked by the full-text search when it has words: Chinese is
/// matched by segmented words, not substrings. A query that is an item code also finds it.
async fn search_items(
    state: &AppState,
    items: Vec<EffectiveItem>,
    f: &ItemFilter,
    general_list: Option<i64>,
    local_list: Option<i64>,
    published: bool,
) -> Result<Vec<EffectiveItem>, Error> {
    f.check()?;
    let others = ItemFilter {
        q: None,
        ..f.clone()
    };
    let items: Vec<EffectiveItem> = items
        .into_iter()
        .filter(|e| others.matches(&e.item))
        .collect();
    let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(items);
    };
    let lists: Vec<i64> = general_list.into_iter().chain(local_list).collect();
    let found = state
        .catalog_index
        .find(&state.db, text, &lists, published)
        .await?;
    let rank: std::collections::HashMap<(bool, &str), usize> = found
        .iter()
        .enumerate()
        .map(|(i, h)| ((Some(h.list_id) == local_list, h.code.as_str()), i))
        .collect();
    let mut ranked: Vec<(usize, EffectiveItem)> = items
        .into_iter()
        .filter_map(|e| {
            let by_code = e.item.code.eq_ignore_ascii_case(text).then_some(0);
            let by_words = rank
                .get(&(e.origin == "local", e.item.code.as_str()))
                .map(|r| r + 1);
            by_code.or(by_words).map(|r| (r, e))
        })
        .collect();
    ranked.sort_by_key(|(r, _)| *r);
    Ok(ranked.into_iter().map(|(_, e)| e).collect())
}

impl ItemFilter {
    /// Refuses a filter value no item can have, by name, rather than finding nothing.
    fn check(&self) -> Result<(), Error> {
        let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let known = [
            (
                "list",
                given(&self.list).map(|v| (ListKind::parse(&v).is_some(), v)),
            ),
            (
                "class",
                given(&self.class).map(|v| (NationalClass::parse(&v).is_some(), v)),
            ),
            (
                "category",
                given(&self.category).map(|v| (Category::parse(&v).is_some(), v)),
            ),
            (
                "source",
                given(&self.source).map(|v| (Source::parse(&v).is_some(), v)),
            ),
        ];
        for (name, value) in known {
            if let Some((false, v)) = value {
                return Err(Error::invalid(
                    name,
                    format!("查询参数 {name} 的取值「{v}」无效"),
                ));
            }
        }
        Ok(())
    }

    /// Matches everything but the words (those go through the search index).
    fn matches(&self, f: &ItemFields) -> bool {
        let eq = |want: &Option<String>, have: &str| {
            want.as_deref()
                .filter(|s| !s.is_empty())
                .is_none_or(|w| w == have)
        };
        eq(&self.list, f.list_kind.as_str())
            && eq(&self.class, f.national_class.as_str())
            && eq(&self.category, f.category.as_str())
            && eq(&self.source, f.source.as_str())
    }

    fn query(&self) -> String {
        query_string(&[
            ("q", self.q.as_deref()),
            ("list", self.list.as_deref()),
            ("class", self.class.as_deref()),
            ("category", self.category.as_deref()),
            ("source", self.source.as_deref()),
        ])
    }
}

const PER_PAGE: usize = 50;

/// One group of a township's list under the district's scheme.
pub struct Group {
    pub title: &'static str,
    pub count: usize,
}

fn groups(scheme: Scheme, items: &[EffectiveItem]) -> Vec<Group> {
    let live = items.iter().filter(|e| e.excluded.is_none());
    match scheme {
        Scheme::ThreeLists => ListKind::ALL
            .iter()
            .map(|k| Group {
                title: k.label(),
                count: live.clone().filter(|e| e.item.list_kind == *k).count(),
            })
            .collect(),
        Scheme::National => NationalClass::ALL
            .iter()
            .map(|k| Group {
                title: k.label(),
                count: live.clone().filter(|e| e.item.national_class == *k).count(),
            })
            .collect(),
    }
}

pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
}

fn choices<T: Copy>(
    all: &[T],
    value: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<Choice> {
    all.iter()
        .map(|v| Choice {
            value: value(*v),
            label: label(*v),
        })
        .collect()
}

pub struct FilterChoices {
    pub lists: Vec<Choice>,
    pub classes: Vec<Choice>,
    pub categories: Vec<Choice>,
    pub sources: Vec<Choice>,
}

fn filter_choices() -> FilterChoices {
    FilterChoices {
        lists: choices(ListKind::ALL, ListKind::as_str, ListKind::label),
        classes: choices(
            NationalClass::ALL,
            NationalClass::as_str,
            NationalClass::label,
        ),
        categories: choices(Category::ALL, Category::as_str, Category::label),
        sources: choices(Source::ALL, Source::as_str, Source::label),
    }
}

#[derive(Template)]
#[template(path = "catalog/list.html")]
struct CatalogPage {
    shell: Shell,
    general: ListInfo,
    local: Option<ListInfo>,
    townships: Vec<Org>,
    township_id: i64,
    scheme: Scheme,
    groups: Vec<Group>,
    items: Vec<EffectiveItem>,
    pager: Pager,
    f: ItemFilter,
    choices: FilterChoices,
    can_publish: bool,
}

#[derive(Deserialize)]
struct CatalogQuery {
    township: Option<i64>,
    #[serde(flatten)]
    f: ItemFilter,
}

async fn townships(state: &AppState, p: &crate::auth::Principal) -> Result<Vec<Org>, Error> {
    let q = OrgQuery {
        kind: Some(OrgKind::Township),
        limit: 1000,
        ..Default::default()
    };
    Ok(orgs::list(&state.db, p, q).await?.0)
}

async fn catalog_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<CatalogQuery>,
) -> PageResult {
    let p = &ctx.principal;
    let (general, local) = super::lists_for(&state.db, p, q.township.map(OrgId))
        .await
        .map_err(|e| ctx.fail(e))?;
    let district = general.list.district_id;
    let scheme = super::scheme(&state.db, district)
        .await
        .map_err(|e| ctx.fail(e))?;
    let all: Vec<EffectiveItem> = match &local {
        Some(l) => {
            super::effective(&state.db, district, OrgId(l.list.township_key), false)
                .await
                .map_err(|e| ctx.fail(e))?
                .items
        }
        None => super::combine(
            &super::items_only(
                super::entries_at(&state.db, general.list.id, general.list.current_version)
                    .await
                    .map_err(|e| ctx.fail(e))?,
            ),
            Vec::new(),
        ),
    };
    let groups = groups(scheme, &all);
    let local_id = local.as_ref().map(|l| l.list.id);
    let matching = search_items(&state, all, &q.f, Some(general.list.id), local_id, false)
        .await
        .map_err(|e| ctx.fail(e))?;
    let page = q.f.page.unwrap_or(1).max(1) as usize;
    let pager = Pager::new(page as u32, PER_PAGE as u32, matching.len() as i64, {
        let mut base = q.f.query();
        if let Some(t) = q.township {
            base = format!("township={t}&{base}");
        }
        base
    });
    let items = matching
        .into_iter()
        .skip((pager.page as usize - 1) * PER_PAGE)
        .take(PER_PAGE)
        .collect();
    ctx.render(&CatalogPage {
        shell: ctx.shell("权责清单"),
        township_id: local.as_ref().map(|l| l.list.township_key).unwrap_or(0),
        townships: townships(&state, p).await.map_err(|e| ctx.fail(e))?,
        general,
        local,
        scheme,
        groups,
        items,
        pager,
        f: q.f,
        choices: filter_choices(),
        can_publish: p.has(Role::EstablishmentOffice),
    })
}

async fn template() -> Result<Response, crate::web::error::PageError> {
    let bytes = io::template_xlsx(false).map_err(Error::internal)?;
    Ok(xlsx_response("清单导入模板.xlsx", bytes))
}

fn xlsx_response(name: &str, bytes: Vec<u8>) -> Response {
    download(
        name,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        bytes,
    )
}

pub(crate) fn download(name: &str, content_type: &'static str, bytes: Vec<u8>) -> Response {
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    // The plain name is for clients that cannot read `filename*`: ASCII, with the extension.
    let extension = name.rsplit_once('.').map_or("", |(_, e)| e);
    let fallback = if extension.is_empty() || !extension.is_ascii() {
        "export".to_owned()
    } else {
        format!("export.{extension}")
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Deserialize)]
struct SchemeForm {
    #[serde(default)]
    scheme: String,
}

async fn scheme_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    FormBody(f): FormBody<SchemeForm>,
) -> PageResult {
    let scheme = Scheme::parse(&f.scheme)
        .ok_or_else(|| ctx.fail(Error::invalid("scheme", "请选择清单体例")))?;
    super::set_scheme(&state.db, &ctx.principal, &ctx.actor, scheme)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(redirect_with(
        "/catalog",
        &format!("清单体例已设为「{}」", scheme.label()),
    ))
}

#[derive(Template)]
#[template(path = "catalog/versions.html")]
struct ListPage {
    shell: Shell,
    info: ListInfo,
    versions: Vec<store::VersionRow>,
    can_edit: bool,
    can_publish: bool,
    error: Option<String>,
    refused: Refused,
}

/// Why an import or an exclusion was refused, with what was typed into its form.
#[derive(Default)]
struct Refused {
    /// An import's bad rows, one line each.
    row_errors: Vec<String>,
    import_reason: String,
    exclude_code: String,
    exclude_reason: String,
}

async fn render_list(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    error: Option<Error>,
    refused: Refused,
) -> PageResult {
    let info = super::readable_list(&state.db, &ctx.principal, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let versions = {
        let mut c = state.db.acquire().await.map_err(|e| ctx.fail(e))?;
        store::versions(&mut c.conn(), id)
            .await
            .map_err(|e| ctx.fail(e))?
    };
    let status = crate::web::error::form_status(error.as_ref());
    let p = &ctx.principal;
    let mut resp = ctx.render(&ListPage {
        shell: ctx.shell(&info.title),
        can_edit: super::may_edit(p, &info.list),
        can_publish: p.has(Role::EstablishmentOffice),
        info,
        versions,
        error: error.map(|e| e.to_string()),
        refused,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

async fn list_page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> PageResult {
    render_list(&state, &ctx, id, None, Refused::default()).await
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct VersionQuery {
    /// A version number (default: the current one).
    version: Option<i64>,
    /// Or a date, YYYY-MM-DD: the list as it stood at the end of that day.
    date: Option<String>,
}

async fn resolve_version(
    state: &AppState,
    list: &store::ListRow,
    q: &VersionQuery,
) -> Result<i64, Error> {
    match (q.version, q.date.as_deref().filter(|d| !d.is_empty())) {
        (Some(v), _) if v < 0 || v > list.current_version => Err(Error::invalid(
            "version",
            format!("版本 {v} 不存在（当前为第 {} 版）", list.current_version),
        )),
        (Some(v), _) => Ok(v),
        (None, Some(d)) => super::version_on(&state.db, list, d, false).await,
        (None, None) => Ok(list.current_version),
    }
}

#[derive(Template)]
#[template(path = "catalog/version.html")]
struct VersionPage {
    shell: Shell,
    info: ListInfo,
    version: i64,
    date: String,
    entries: Vec<store::Entry>,
}

async fn version_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<VersionQuery>,
) -> PageResult {
    let info = super::readable_list(&state.db, &ctx.principal, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let version = resolve_version(&state, &info.list, &q)
        .await
        .map_err(|e| ctx.fail(e))?;
    let entries = super::entries_at(&state.db, id, version)
        .await
        .map_err(|e| ctx.fail(e))?;
    ctx.render(&VersionPage {
        shell: ctx.shell(&format!("{} 第 {version} 版", info.title)),
        info,
        version,
        date: q.date.unwrap_or_default(),
        entries,
    })
}

#[derive(Template)]
#[template(path = "catalog/item.html")]
struct ItemPage {
    shell: Shell,
    info: ListInfo,
    item: ItemFields,
}

async fn item_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((id, code)): Path<(i64, String)>,
) -> PageResult {
    let info = super::readable_list(&state.db, &ctx.principal, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let items = super::items_only(
        super::entries_at(&state.db, id, info.list.current_version)
            .await
            .map_err(|e| ctx.fail(e))?,
    );
    let item = items
        .into_iter()
        .find(|f| f.code == code)
        .ok_or_else(|| ctx.fail(Error::not_found(format!("清单中没有编码为 {code} 的事项"))))?;
    ctx.render(&ItemPage {
        shell: ctx.shell(&item.name),
        info,
        item,
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
}

fn diff_range(list: &store::ListRow, q: &DiffQuery) -> (i64, i64) {
    let to = q.to.unwrap_or(list.current_version);
    (q.from.unwrap_or((to - 1).max(0)), to)
}

#[derive(Template)]
#[template(path = "catalog/diff.html")]
struct DiffPage {
    shell: Shell,
    info: ListInfo,
    d: Diff,
}

async fn diff_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<DiffQuery>,
) -> PageResult {
    let info = super::readable_list(&state.db, &ctx.principal, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let (from, to) = diff_range(&info.list, &q);
    let d = super::diff(&state.db, &info.list, from, to)
        .await
        .map_err(|e| ctx.fail(e))?;
    ctx.render(&DiffPage {
        shell: ctx.shell(&format!("{} 版本比较", info.title)),
        info,
        d,
    })
}

#[derive(Deserialize)]
struct ExportQuery {
    version: Option<i64>,
    date: Option<String>,
    format: Option<String>,
}

pub(crate) fn file_bytes(
    format: Option<&str>,
    sheet: &str,
    header: &[&str],
    rows: &[Vec<String>],
    cells: io::Cells,
) -> Result<(Vec<u8>, &'static str, &'static str), Error> {
    match format.unwrap_or("xlsx") {
        "csv" => Ok((
            io::write_csv(header, rows),
            "text/csv; charset=utf-8",
            "csv",
        )),
        "xlsx" => Ok((
            io::write_xlsx_cells(sheet, header, rows, cells).map_err(Error::internal)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        )),
        other => Err(Error::invalid(
            "format",
            format!("不支持的格式「{other}」：请选择 xlsx 或 csv"),
        )),
    }
}

async fn export(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> PageResult {
    let info = super::readable_list(&state.db, &ctx.principal, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let vq = VersionQuery {
        version: q.version,
        date: q.date.clone(),
    };
    let version = resolve_version(&state, &info.list, &vq)
        .await
        .map_err(|e| ctx.fail(e))?;
    let items = super::items_only(
        super::entries_at(&state.db, id, version)
            .await
            .map_err(|e| ctx.fail(e))?,
    );
    let rows: Vec<Vec<String>> = items.iter().map(model::to_row).collect();
    let (bytes, ct, ext) = file_bytes(
        q.format.as_deref(),
        "清单",
        model::COLUMNS,
        &rows,
        io::Cells::Text,
    )
    .map_err(|e| ctx.fail(e))?;
    Ok(download(
        &format!("{}-第{version}版.{ext}", info.title),
        ct,
        bytes,
    ))
}

async fn diff_export(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<DiffExportQuery>,
) -> PageResult {
    let info = super::readable_list(&state.db, &ctx.principal, id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let (from, to) = diff_range(
        &info.list,
        &DiffQuery {
            from: q.from,
            to: q.to,
        },
    );
    let d = super::diff(&state.db, &info.list, from, to)
        .await
        .map_err(|e| ctx.fail(e))?;
    let mut header = vec!["变化", "变化字段"];
    header.extend_from_slice(model::COLUMNS);
    let mut rows = Vec::new();
    let with = |kind: &str, fields: String, f: &ItemFields| {
        let mut r = vec![kind.to_owned(), fields];
        r.extend(model::to_row(f));
        r
    };
    rows.extend(d.added.iter().map(|f| with("新增", String::new(), f)));
    rows.extend(d.removed.iter().map(|f| with("删除", String::new(), f)));
    for c in &d.changed {
        rows.push(with("修改前", c.fields.join("、"), &c.before));
        rows.push(with("修改后", c.fields.join("、"), &c.after));
    }
    let (bytes, ct, ext) = file_bytes(
        q.format.as_deref(),
        "版本比较",
        &header,
        &rows,
        io::Cells::Text,
    )
    .map_err(|e| ctx.fail(e))?;
    Ok(download(
        &format!("{}-第{from}版与第{to}版比较.{ext}", info.title),
        ct,
        bytes,
    ))
}

#[derive(Deserialize)]
struct DiffExportQuery {
    from: Option<i64>,
    to: Option<i64>,
    format: Option<String>,
}

async fn import_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult {
    let Ok(mut mp) = mp else {
        let e = Error::invalid(
            "file",
            "请通过页面的上传表单提交文件（multipart/form-data）",
        );
        return render_list(&state, &ctx, id, Some(e), Refused::default()).await;
    };
    let mut file: Option<Vec<u8>> = None;
    let mut reason = String::new();
    loop {
        match mp.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                let data = field
                    .bytes()
                    .await
                    .map_err(|_| ctx.fail(Error::invalid("file", "上传的文件无法读取或过大")))?;
                match name.as_str() {
                    "file" => file = Some(data.to_vec()),
                    "reason" => reason = String::from_utf8_lossy(&data).into_owned(),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => {
                return render_list(
                    &state,
                    &ctx,
                    id,
                    Some(Error::invalid("file", "上传的内容无法读取")),
                    Refused::default(),
                )
                .await;
            }
        }
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return render_list(
            &state,
            &ctx,
            id,
            Some(Error::invalid("file", "请选择要导入的 .xlsx 或 .csv 文件")),
            Refused {
                import_reason: reason,
                ..Refused::default()
            },
        )
        .await;
    };
    // Reading a large workbook takes a while: keep it off the async threads.
    let parsed = tokio::task::spawn_blocking(move || {
        io::read_table(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|t| io::parse_items(&t, false).map_err(|e| e.to_string()))
    })
    .await
    .map_err(|e| ctx.fail(Error::internal(e)))?;
    let items = match parsed {
        Ok(items) => items,
        Err(msg) => {
            let lines: Vec<String> = msg.lines().map(str::to_owned).collect();
            return render_list(
                &state,
                &ctx,
                id,
                Some(Error::invalid("file", "导入失败，未导入任何事项：")),
                Refused {
                    row_errors: lines,
                    import_reason: reason,
                    ..Refused::default()
                },
            )
            .await;
        }
    };
    let n = items.len();
    match super::import(
        &state.db,
        &ctx.principal,
        &ctx.actor,
        id,
        items.into_iter().map(|p| p.item).collect(),
        &reason,
    )
    .await
    {
        Ok(v) => Ok(redirect_with(
            &format!("/catalog/lists/{id}"),
            &format!("已导入 {n} 项，生成第 {v} 版（草稿，待编办发布）"),
        )),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_) | Error::Forbidden(_))) => {
            let refused = Refused {
                import_reason: reason,
                ..Refused::default()
            };
            render_list(&state, &ctx, id, Some(e), refused).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

async fn publish_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> PageResult {
    match super::publish(&state.db, &ctx.principal, &ctx.actor, id).await {
        Ok(v) => Ok(redirect_with(
            &format!("/catalog/lists/{id}"),
            &format!("第 {v} 版已发布，公众可以查看"),
        )),
        Err(e @ (Error::Conflict(_) | Error::Forbidden(_))) => {
            render_list(&state, &ctx, id, Some(e), Refused::default()).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Deserialize)]
struct ExcludeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    reason: String,
    /// `include` puts a previously excluded item back.
    #[serde(default)]
    undo: String,
}

async fn exclude_submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    FormBody(f): FormBody<ExcludeForm>,
) -> PageResult {
    let (change, why) = if f.undo == "1" {
        (
            Change::Include(f.code.trim().to_owned()),
            "恢复适用".to_owned(),
        )
    } else {
        (
            Change::Exclude {
                code: f.code.trim().to_owned(),
                reason: f.reason.clone(),
            },
            format!("标注不适用：{}", f.reason.trim()),
        )
    };
    match super::change(
        &state.db,
        &ctx.principal,
        &ctx.actor,
        id,
        &why,
        vec![change],
    )
    .await
    {
        Ok(v) => Ok(redirect_with(
            &format!("/catalog/lists/{id}"),
            &format!("已生成第 {v} 版"),
        )),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_) | Error::Forbidden(_))) => {
            let refused = Refused {
                exclude_code: f.code,
                exclude_reason: f.reason,
                ..Refused::default()
            };
            render_list(&state, &ctx, id, Some(e), refused).await
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

#[derive(Template)]
#[template(path = "catalog/figures.html")]
struct FiguresPage {
    shell: Shell,
    rows: Vec<super::Figures>,
    lists: Vec<&'static str>,
    classes: Vec<&'static str>,
    categories: Vec<&'static str>,
    sources: Vec<&'static str>,
}

fn figure_columns() -> (
    Vec<&'static str>,
    Vec<&'static str>,
    Vec<&'static str>,
    Vec<&'static str>,
) {
    (
        ListKind::ALL.iter().map(|k| k.label()).collect(),
        NationalClass::ALL.iter().map(|k| k.label()).collect(),
        Category::ALL.iter().map(|k| k.label()).collect(),
        Source::ALL.iter().map(|k| k.label()).collect(),
    )
}

async fn figures_page(State(state): State<AppState>, ctx: Ctx) -> PageResult {
    let rows = super::figures(&state.db, &ctx.principal)
        .await
        .map_err(|e| ctx.fail(e))?;
    let (lists, classes, categories, sources) = figure_columns();
    ctx.render(&FiguresPage {
        shell: ctx.shell("清单统计"),
        rows,
        lists,
        classes,
        categories,
        sources,
    })
}

#[derive(Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

async fn figures_export(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<FormatQuery>,
) -> PageResult {
    let rows = super::figures(&state.db, &ctx.principal)
        .await
        .map_err(|e| ctx.fail(e))?;
    let (lists, classes, categories, sources) = figure_columns();
    let mut header = vec![
        "清单",
        "事项总数",
        "个性化事项",
        "不适用事项",
        "承接下放权力",
        "准入申请审查中",
        "准入申请已准入",
        "准入申请不予准入",
    ];
    header.extend(
        lists
            .iter()
            .chain(&classes)
            .chain(&categories)
            .chain(&sources),
    );
    let count = |m: &std::collections::BTreeMap<String, usize>, k: &str| {
        m.get(k).copied().unwrap_or(0).to_string()
    };
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = vec![
                r.name.clone(),
                r.total.to_string(),
                r.local.to_string(),
                r.excluded.to_string(),
                r.delegation.powers_received.to_string(),
                r.delegation.admissions_pending.to_string(),
                r.delegation.admissions_approved.to_string(),
                r.delegation.admissions_refused.to_string(),
            ];
            row.extend(lists.iter().map(|k| count(&r.by_list, k)));
            row.extend(classes.iter().map(|k| count(&r.by_class, k)));
            row.extend(categories.iter().map(|k| count(&r.by_category, k)));
            row.extend(sources.iter().map(|k| count(&r.by_source, k)));
            row
        })
        .collect();
    let (bytes, ct, ext) = file_bytes(
        q.format.as_deref(),
        "清单统计",
        &header,
        &table,
        io::Cells::Figures,
    )
    .map_err(|e| ctx.fail(e))?;
    Ok(download(&format!("清单统计.{ext}"), ct, bytes))
}

/// Item counts per township and for the general catalog, by list, class, category and source.
#[utoipa::path(get, path = "/api/v1/catalog/figures", tag = "权责清单", responses((status = 200, body = Vec<super::Figures>)))]
pub async fn api_figures(
    State(state): State<AppState>,
    ctx: ApiCtx,
) -> ApiResult<Json<Vec<super::Figures>>> {
    Ok(Json(super::figures(&state.db, &ctx.principal).await?))
}

// ---------- public pages ----------

#[derive(Template)]
#[template(path = "catalog/public_index.html")]
struct PublicIndex {
    shell: Shell,
    townships: Vec<Org>,
}

async fn public_townships(state: &AppState) -> Result<Vec<Org>, Error> {
    let mut c = state.db.acquire().await?;
    let q = OrgQuery {
        kind: Some(OrgKind::Township),
        limit: 1000,
        ..Default::default()
    };
    Ok(orgs::store::list(&mut c.conn(), &q).await?.0)
}

fn public_shell(ctx: &MaybeCtx, title: &str) -> Shell {
    match &ctx.principal {
        Some(p) => Shell::for_principal(title, p, ctx.flash.clone()),
        None => Shell::anonymous(title),
    }
}

async fn public_index(State(state): State<AppState>, ctx: MaybeCtx) -> PageResult {
    let townships = public_townships(&state).await?;
    render_with_flash(
        &PublicIndex {
            shell: public_shell(&ctx, "镇（街道）权责清单公开"),
            townships,
        },
        false,
    )
}

#[derive(Template)]
#[template(path = "catalog/public_list.html")]
struct PublicList {
    shell: Shell,
    township: Org,
    scheme: Scheme,
    published_at: String,
    groups: Vec<Group>,
    items: Vec<EffectiveItem>,
    pager: Pager,
    f: ItemFilter,
    choices: FilterChoices,
}

/// The published list of a township: only what the establishment office published.
async fn published_for(
    state: &AppState,
    code: &str,
) -> Result<(Org, Scheme, EffectiveList, String), Error> {
    let mut c = state.db.acquire().await?;
    let mut conn = c.conn();
    let township = orgs::store::get_by_code(&mut conn, code)
        .await?
        .filter(|o| o.kind == OrgKind::Township && o.is_active())
        .ok_or_else(|| Error::not_found("没有这个镇（街道）"))?;
    let district = super::district_of(&township);
    let scheme = store::scheme(&mut conn, district).await?;
    let general = store::find_list(&mut conn, district, 0).await?;
    let published_at = match &general {
        Some(g) if g.published_version > 0 => store::versions(&mut conn, g.id)
            .await?
            .into_iter()
            .find(|v| v.version == g.published_version)
            .and_then(|v| v.published_at)
            .map(|t| t.local())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let list = super::effective(&state.db, district, township.id, true).await?;
    Ok((township, scheme, list, published_at))
}

async fn public_list(
    State(state): State<AppState>,
    ctx: MaybeCtx,
    Path(code): Path<String>,
    Query(f): Query<ItemFilter>,
) -> PageResult {
    let (township, scheme, list, published_at) = published_for(&state, &code).await?;
    let (general_id, local_id) = (list.general_list_id, list.local_list_id);
    let live: Vec<EffectiveItem> = list
        .items
        .into_iter()
        .filter(|e| e.excluded.is_none())
        .collect();
    let groups = groups(scheme, &live);
    let matching = search_items(&state, live, &f, general_id, local_id, true).await?;
    let pager = Pager::new(
        f.page.unwrap_or(1),
        PER_PAGE as u32,
        matching.len() as i64,
        f.query(),
    );
    let items = matching
        .into_iter()
        .skip((pager.page as usize - 1) * PER_PAGE)
        .take(PER_PAGE)
        .collect();
    render_with_flash(
        &PublicList {
            shell: public_shell(&ctx, &format!("{}权责清单", township.name)),
            township,
            scheme,
            published_at,
            groups,
            items,
            pager,
            f,
            choices: filter_choices(),
        },
        false,
    )
}

// ---------- JSON API ----------

/// The district's general catalog and the township lists the caller may read.
#[utoipa::path(get, path = "/api/v1/catalog/lists", tag = "权责清单", responses((status = 200, body = Vec<ListInfo>)))]
pub async fn api_lists(
    State(state): State<AppState>,
    ctx: ApiCtx,
) -> ApiResult<Json<Vec<ListInfo>>> {
    let p = &ctx.principal;
    super::lists_for(&state.db, p, None).await?;
    let mut c = state.db.acquire().await?;
    let mut conn = c.conn();
    let mut out = Vec::new();
    for l in store::lists_of(&mut conn, super::district_of(&p.org)).await? {
        let info = super::list_info(&mut conn, l).await?;
        if info.township.as_ref().is_none_or(|t| p.scope.covers(t)) {
            out.push(info);
        }
    }
    Ok(Json(out))
}

/// Versions of a list, newest first, with who, when, why and whether published.
#[utoipa::path(get, path = "/api/v1/catalog/lists/{id}/versions", tag = "权责清单", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<store::VersionRow>)))]
pub async fn api_versions(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<store::VersionRow>>> {
    super::readable_list(&state.db, &ctx.principal, id).await?;
    let mut c = state.db.acquire().await?;
    Ok(Json(store::versions(&mut c.conn(), id).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemsBody {
    pub version: i64,
    pub items: Vec<ItemFields>,
    /// Codes of general items this township marked not applicable, with reasons.
    pub exclusions: Vec<(String, String)>,
}

/// A list's items at a version, or as it stood on a date.
#[utoipa::path(get, path = "/api/v1/catalog/lists/{id}/items", tag = "权责清单", params(("id" = i64, Path), VersionQuery),
    responses((status = 200, body = ItemsBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_items(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<ItemsBody>> {
    let info = super::readable_list(&state.db, &ctx.principal, id).await?;
    let version = resolve_version(&state, &info.list, &q).await?;
    let mut items = Vec::new();
    let mut exclusions = Vec::new();
    for e in super::entries_at(&state.db, id, version).await? {
        match e {
            store::Entry::Item(f) => items.push(*f),
            store::Entry::Exclusion { code, reason } => exclusions.push((code, reason)),
        }
    }
    Ok(Json(ItemsBody {
        version,
        items,
        exclusions,
    }))
}

/// The difference between two versions, item by item.
#[utoipa::path(get, path = "/api/v1/catalog/lists/{id}/diff", tag = "权责清单", params(("id" = i64, Path), DiffQuery),
    responses((status = 200, body = Diff)))]
pub async fn api_diff(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    Query(q): Query<DiffQuery>,
) -> ApiResult<Json<Diff>> {
    let info = super::readable_list(&state.db, &ctx.principal, id).await?;
    let (from, to) = diff_range(&info.list, &q);
    Ok(Json(super::diff(&state.db, &info.list, from, to).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChangeRequest {
    /// Why (e.g. the law that changed). Required.
    pub reason: String,
    #[serde(default)]
    pub upsert: Vec<ItemFields>,
    #[serde(default)]
    pub remove: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<ExcludeItem>,
    #[serde(default)]
    pub include: Vec<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ExcludeItem {
    pub code: String,
    pub reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VersionBody {
    pub version: i64,
}

/// Changes a list; the changes form one new (draft) version.
#[utoipa::path(post, path = "/api/v1/catalog/lists/{id}/changes", tag = "权责清单", params(("id" = i64, Path)), request_body = ChangeRequest,
    responses((status = 200, body = VersionBody), (status = 409, body = crate::web::error::ErrorBody), (status = 422, body = crate::web::error::ErrorBody)))]
pub async fn api_change(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    JsonBody(r): JsonBody<ChangeRequest>,
) -> ApiResult<Json<VersionBody>> {
    let mut changes: Vec<Change> = r
        .upsert
        .into_iter()
        .map(|f| Change::Upsert(Box::new(f)))
        .collect();
    changes.extend(r.remove.into_iter().map(Change::Remove));
    changes.extend(r.exclude.into_iter().map(|e| Change::Exclude {
        code: e.code,
        reason: e.reason,
    }));
    changes.extend(r.include.into_iter().map(Change::Include));
    let version = super::change(
        &state.db,
        &ctx.principal,
        &ctx.actor,
        id,
        &r.reason,
        changes,
    )
    .await?;
    Ok(Json(VersionBody { version }))
}

/// Publishes the current version (establishment office).
#[utoipa::path(post, path = "/api/v1/catalog/lists/{id}/publish", tag = "权责清单", params(("id" = i64, Path)),
    responses((status = 200, body = VersionBody), (status = 409, body = crate::web::error::ErrorBody)))]
pub async fn api_publish(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
) -> ApiResult<Json<VersionBody>> {
    Ok(Json(VersionBody {
        version: super::publish(&state.db, &ctx.principal, &ctx.actor, id).await?,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct EffectiveQuery {
    /// `true` for the published lists only (default: current drafts).
    published: Option<bool>,
}

/// A township's effective list: general items (marked if not applicable) plus local additions.
#[utoipa::path(get, path = "/api/v1/catalog/townships/{id}/items", tag = "权责清单", params(("id" = i64, Path), EffectiveQuery),
    responses((status = 200, body = EffectiveList)))]
pub async fn api_township_items(
    State(state): State<AppState>,
    ctx: ApiCtx,
    Path(id): Path<i64>,
    Query(q): Query<EffectiveQuery>,
) -> ApiResult<Json<EffectiveList>> {
    let t = orgs::get_visible(&state.db, &ctx.principal, OrgId(id)).await?;
    if t.kind != OrgKind::Township {
        return Err(Error::invalid("id", format!("「{}」不是镇（街道）", t.name)).into());
    }
    Ok(Json(
        super::effective(
            &state.db,
            super::district_of(&t),
            t.id,
            q.published.unwrap_or(false),
        )
        .await?,
    ))
}

/// The published list of a township, by its 12-digit code (no sign-in).
#[utoipa::path(get, path = "/api/v1/public/townships/{code}/items", tag = "权责清单", params(("code" = String, Path)),
    responses((status = 200, body = EffectiveList), (status = 404, body = crate::web::error::ErrorBody)))]
pub async fn api_public_items(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Json<EffectiveList>> {
    let (_, _, mut list, _) = published_for(&state, &code).await?;
    list.items.retain(|e| e.excluded.is_none());
    Ok(Json(list))
}
