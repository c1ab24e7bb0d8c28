//! Open311 GeoReport v2 (`/open311/v2/…`), so that existing 311 clients can file and follow
//! cases unchanged: services are the district's case categories, a service request is a case
//! (its id is the case number people quote), and its status, agency and dates come from the
//! case's current ticket. Filing needs an API key issued by the district; reading is public
//! and shows what a receipt code would — no reporter, no description.

pub mod model;
pub mod routes;
pub mod store;

use std::time::Instant;

use workflow::Registry;

use crate::audit::{self, Actor};
use crate::cases::{self, NewCase, Reporter, model::Source, model::Urgency};
use crate::catalog;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::grids;
use crate::ids::{CaseId, OrgId};
use crate::time::Timestamp;
use model::{Limiter, Open311Error, Value};
use store::{KeyRow, RequestRow};

type O311<T> = std::result::Result<T, Open311Error>;

/// Requests `GET requests` answers when it is given no period (the spec's default).
const DEFAULT_DAYS: i64 = 90;
const MAX_RESULTS: i64 = 1000;

/// The district a request is about: the one named by `jurisdiction_id` (its code), or the
/// only one.
pub async fn jurisdiction(db: &Db, id: Option<&str>) -> O311<OrgId> {
    let id = id.map(str::trim).filter(|s| !s.is_empty());
    catalog::district_by_code(db, id)
        .await
        .map_err(|e| match (id, e) {
            (Some(code), Error::Invalid { .. }) => {
                Open311Error::new(404, format!("jurisdiction_id「{code}」不存在"))
            }
            (None, Error::Invalid { message, .. }) => Open311Error::new(400, message),
            (_, other) => other.into(),
        })
}

// ---------- API keys ----------

/// Issues a key; the key is returned once and only its hash is kept.
pub async fn create_key(
    db: &Db,
    actor: &Actor,
    district: OrgId,
    name: &str,
) -> Result<(i64, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid(
            "name",
            "请填写使用该密钥的应用或单位名称（不超过 100 字）",
        ));
    }
    let key = model::new_key();
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let id = store::insert_key(
        &mut conn,
        &store::NewKey {
            district_id: district,
            name,
            key_hash: &model::hash_key(&key),
            prefix: key.get(..9).unwrap_or(&key),
            now: Timestamp::now(),
            by: &actor.name,
        },
    )
    .await?;
    audit::record(
        &mut conn,
        actor,
        "open311.key_create",
        &format!("Open311 密钥 {id}"),
        name,
    )
    .await?;
    tx.commit().await?;
    Ok((id, key))
}

pub async fn revoke_key(db: &Db, actor: &Actor, district: OrgId, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let key = store::key(&mut conn, id)
        .await?
        .filter(|k| k.district_id == district)
        .ok_or_else(|| Error::not_found("密钥不存在"))?;
    if !store::revoke_key(&mut conn, id, Timestamp::now(), &actor.name).await? {
        return Err(Error::conflict("该密钥已停用"));
    }
    audit::record(
        &mut conn,
        actor,
        "open311.key_revoke",
        &format!("Open311 密钥 {id}"),
        &key.name,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn keys(db: &Db, district: OrgId) -> Result<Vec<KeyRow>> {
    let mut c = db.acquire().await?;
    Ok(store::keys(&mut c.conn(), district).await?)
}

/// The live key a request names, within its rate.
async fn authenticate(
    db: &Db,
    limiter: &Limiter,
    district: OrgId,
    key: Option<&str>,
) -> O311<KeyRow> {
    let key = key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            Open311Error::new(403, "缺少 api_key：提交服务请求须使用区里发放的 API 密钥")
        })?;
    let mut c = db.acquire().await.map_err(Error::from)?;
    let row = store::key_by_hash(&mut c.conn(), &model::hash_key(key))
        .await
        .map_err(Error::from)?
        .filter(|k| k.district_id == district)
        .ok_or_else(|| Open311Error::new(403, "api_key 无效或已停用"))?;
    if !limiter.allow(row.id, Instant::now()) {
        return Err(Open311Error::new(
            429,
            "该 API 密钥的请求过于频繁，请稍后再试",
        ));
    }
    Ok(row)
}

// ---------- services ----------

fn service(c: &cases::model::CategoryFields) -> Value {
    Value::Object(vec![
        ("service_code", Value::text(c.code.clone())),
        ("service_name", Value::text(c.minor.clone())),
        ("description", Value::text(c.name())),
        ("metadata", Value::Bool(true)),
        ("type", Value::text("realtime")),
        ("keywords", Value::text(format!("{},{}", c.major, c.minor))),
        ("group", Value::text(c.major.clone())),
    ])
}

pub async fn services(db: &Db, district: OrgId) -> O311<Value> {
    let all = cases::categories(db, district).await?;
    Ok(Value::List(
        "service",
        all.iter().filter(|c| c.active).map(service).collect(),
    ))
}

/// A service's attributes: where the problem is (the township, unless a point inside the
/// district says it) and how urgent it is.
pub async fn service_definition(db: &Db, district: OrgId, code: &str) -> O311<Value> {
    let category = cases::categories(db, district)
        .await?
        .into_iter()
        .find(|c| c.active && c.code == code)
        .ok_or_else(|| Open311Error::new(404, format!("service_code「{code}」不存在")))?;
    let townships = cases::public_townships(db).await?;
    let township_values = townships
        .iter()
        .filter(|t| catalog::district_of(t) == district)
        .map(|t| {
            Value::Object(vec![
                ("key", Value::text(t.code.clone())),
                ("name", Value::text(t.name.clone())),
            ])
        })
        .collect();
    let urgency_values = Urgency::ALL
        .iter()
        .map(|u| {
            Value::Object(vec![
                ("key", Value::text(u.as_str())),
                ("name", Value::text(u.label())),
            ])
        })
        .collect();
    Ok(Value::Object(vec![
        ("service_code", Value::text(category.code.clone())),
        (
            "attributes",
            Value::List(
                "attribute",
                vec![
                    Value::Object(vec![
                        ("variable", Value::Bool(true)),
                        ("code", Value::text("township")),
                        ("datatype", Value::text("singlevaluelist")),
                        // The point (lat, long) finds the township when it is in the district.
                        ("required", Value::Bool(false)),
                        (
                            "datatype_description",
                            Value::text(
                                "问题所在镇（街道）的 12 位统计用区划代码；提供本区范围内的 lat、long 时可不填",
                            ),
                        ),
                        ("order", Value::Int(1)),
                        ("description", Value::text("镇（街道）")),
                        ("values", Value::List("value", township_values)),
                    ]),
                    Value::Object(vec![
                        ("variable", Value::Bool(true)),
                        ("code", Value::text("urgency")),
                        ("datatype", Value::text("singlevaluelist")),
                        ("required", Value::Bool(false)),
                        ("datatype_description", Value::text("不填为一般")),
                        ("order", Value::Int(2)),
                        ("description", Value::text("紧急程度")),
                        ("values", Value::List("value", urgency_values)),
                    ]),
                ],
            ),
        ),
    ]))
}

// ---------- requests ----------

/// The value of a form parameter, trimmed; repeated parameters take the first.
pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Files a service request as a case from the citizen API.
/// What filing a request works with besides the database.
pub struct Filing<'a> {
    pub registry: &'a std::sync::Arc<Registry>,
    pub router: &'a cases::suggest::CaseRouter,
    pub grid_index: &'a grids::GridIndex,
    pub limiter: &'a Limiter,
}

pub async fn post_request(
    db: &Db,
    with: Filing<'_>,
    actor: &Actor,
    params: &[(String, String)],
) -> O311<Value> {
    let Filing {
        registry,
        router,
        grid_index,
        limiter,
    } = with;
    let district = jurisdiction(db, param(params, "jurisdiction_id")).await?;
    let key = authenticate(db, limiter, district, param(params, "api_key")).await?;
    let code =
        param(params, "service_code").ok_or_else(|| Open311Error::new(400, "缺少 service_code"))?;
    if !cases::categories(db, district)
        .await?
        .iter()
        .any(|c| c.active && c.code == code)
    {
        return Err(Open311Error::new(
            400,
            format!("service_code「{code}」不存在"),
        ));
    }
    let (lat, lon) = (param(params, "lat"), param(params, "long"));
    let address = param(params, "address_string").or(param(params, "address_id"));
    if (lat.is_none() || lon.is_none()) && address.is_none() {
        return Err(Open311Error::new(
            400,
            "须提供位置：lat 和 long，或 address_string，或 address_id",
        ));
    }
    // A point inside the district names its grid and township; the attribute is then only
    // checked against it. Without a point (or before boundaries exist) it is required.
    let located = match (lat, lon) {
        (Some(la), Some(lo)) => {
            let (Ok(la), Ok(lo)) = (la.parse::<f64>(), lo.parse::<f64>()) else {
                return Err(Open311Error::new(400, "lat、long 应为十进制度数"));
            };
            // A miss is outside the district, or there are no boundaries yet.
            let boundaries = grids::boundaries(db, grid_index).await?;
            match boundaries.locate(lo, la)? {
                Some(l) => Some(l),
                None if boundaries.any() => {
                    return Err(Open311Error::new(400, grids::model::OUTSIDE_MESSAGE));
                }
                None => None,
            }
        }
        _ => None,
    };
    let attribute = param(params, "attribute[township]");
    let (township, grid) = match (&located, attribute) {
        (Some(l), Some(t)) if t != l.township.code => {
            return Err(Open311Error::new(
                400,
                format!(
                    "attribute[township]「{t}」与位置所在的{}不符",
                    l.township.name
                ),
            ));
        }
        (Some(l), _) => (l.township.code.clone(), Some(l.grid.code.clone())),
        (None, Some(t)) => (t.to_owned(), None),
        (None, None) => {
            return Err(Open311Error::new(
                400,
                "缺少属性 attribute[township]（镇（街道）代码），或请提供本区范围内的 lat、long",
            ));
        }
    };
    let urgency = match param(params, "attribute[urgency]") {
        None => None,
        Some(u) => Some(Urgency::parse(u).ok_or_else(|| {
            Open311Error::new(
                400,
                format!("attribute[urgency]「{u}」应为 normal 或 urgent"),
            )
        })?),
    };
    let name = [param(params, "last_name"), param(params, "first_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("");
    let mut description = param(params, "description").unwrap_or_default().to_owned();
    if let Some(url) = param(params, "media_url") {
        // Fetching a client's URL from inside a government network is not wanted; keep it.
        description.push_str(&format!("\n（图片链接：{url}）"));
    }
    let actor = Actor {
        name: format!("Open311：{}", key.name),
        ..actor.clone()
    };
    let created = cases::intake(
        db,
        registry,
        router,
        &actor,
        Reporter::Public(Source::CitizenApi),
        NewCase {
            township_code: Some(township),
            grid_code: grid,
            category_code: code.to_owned(),
            urgency,
            description,
            address: address.unwrap_or_default().to_owned(),
            lon: lon.unwrap_or_default().to_owned(),
            lat: lat.unwrap_or_default().to_owned(),
            reporter_name: name,
            reporter_phone: param(params, "phone").unwrap_or_default().to_owned(),
            ..NewCase::default()
        },
        None,
    )
    .await?;
    {
        let mut c = db.acquire().await.map_err(Error::from)?;
        store::touch_key(&mut c.conn(), key.id, Timestamp::now())
            .await
            .map_err(Error::from)?;
    }
    Ok(Value::List(
        "request",
        vec![Value::Object(vec![
            ("service_request_id", Value::text(created.number.clone())),
            ("token", Value::text(created.receipt_code.clone())),
            (
                "service_notice",
                Value::text(format!(
                    "已受理。请保存查询码 {}，凭此查询办理进度并评价",
                    created.receipt_code
                )),
            ),
            ("account_id", Value::Null),
        ])],
    ))
}

/// Reads a case number `2026-000123` into its id.
fn parse_number(s: &str) -> Option<(i64, &str)> {
    let (year, id) = s.trim().split_once('-')?;
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((id.parse().ok().filter(|n: &i64| *n > 0)?, year))
}

fn status_notes(r: &RequestRow, merged_number: Option<String>) -> String {
    if let Some(n) = merged_number {
        return format!("与 {n} 反映的是同一问题，已合并办理");
    }
    match r.state.as_str() {
        "pending" => "已受理，等待派遣".to_owned(),
        "dispatched" => "已派遣，等待承办单位签收".to_owned(),
        "handling" => "承办单位处置中".to_owned(),
        "checking" => "处置完毕，等待核查".to_owned(),
        "closed" => r
            .report
            .clone()
            .map(|t| format!("已办结：{t}"))
            .unwrap_or_else(|| "已办结".to_owned()),
        "dismissed" => "不予立案".to_owned(),
        _ => "办理中".to_owned(),
    }
}

fn request_value(r: &RequestRow) -> Value {
    let merged = r
        .merged_into
        .zip(r.merged_created_at)
        .map(|(id, at)| cases::number(CaseId(id), at));
    let coordinate = |v: Option<i64>| v.map_or(Value::Null, Value::Degrees);
    Value::Object(vec![
        (
            "service_request_id",
            Value::text(cases::number(CaseId(r.id), r.created_at)),
        ),
        (
            "status",
            Value::text(if r.terminal { "closed" } else { "open" }),
        ),
        ("status_notes", Value::text(status_notes(r, merged))),
        ("service_name", Value::opt_text(r.minor.clone())),
        ("service_code", Value::text(r.category_code.clone())),
        // The reporter's words stay with the case: a merged reporter's too.
        ("description", Value::Null),
        (
            "agency_responsible",
            Value::text(
                r.unit_name
                    .clone()
                    .unwrap_or_else(|| r.township_name.clone()),
            ),
        ),
        ("service_notice", Value::Null),
        ("requested_datetime", Value::text(model::iso(r.created_at))),
        ("updated_datetime", Value::text(model::iso(r.updated_at))),
        (
            "expected_datetime",
            match r.deadline.filter(|_| !r.terminal) {
                Some(d) => Value::text(model::iso(d)),
                None => Value::Null,
            },
        ),
        ("address", Value::text(r.address.clone())),
        ("address_id", Value::Null),
        ("zipcode", Value::Null),
        ("lat", coordinate(r.lat_e7)),
        ("long", coordinate(r.lon_e7)),
        ("media_url", Value::Null),
    ])
}

fn list(values: Vec<Value>) -> Value {
    Value::List("request", values)
}

/// `GET requests` with the spec's filters: `service_request_id` and `service_code` (comma
/// lists), `start_date`/`end_date` (ISO 8601; the last 90 days by default), `status`.
pub async fn requests(db: &Db, params: &[(String, String)]) -> O311<Value> {
    let district = jurisdiction(db, param(params, "jurisdiction_id")).await?;
    let mut f = store::RequestFilter {
        limit: MAX_RESULTS,
        ..Default::default()
    };
    if let Some(ids) = param(params, "service_request_id") {
        for n in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (id, _) = parse_number(n).ok_or_else(|| {
                Open311Error::new(
                    400,
                    format!("service_request_id「{n}」格式应如 2026-000123"),
                )
            })?;
            f.ids.push(id);
        }
    }
    if let Some(codes) = param(params, "service_code") {
        f.service_codes = codes
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
    }
    let date = |name: &str| -> O311<Option<Timestamp>> {
        match param(params, name) {
            None => Ok(None),
            Some(s) => model::parse_iso(s).map(Some).ok_or_else(|| {
                Open311Error::new(
                    400,
                    format!(
                        "{name}「{s}」应为带时区的 ISO 8601 时间，如 2026-11-21T08:00:00+08:00"
                    ),
                )
            }),
        }
    };
    f.from = date("start_date")?;
    f.to = date("end_date")?;
    if f.from.is_none() && f.to.is_none() && f.ids.is_empty() {
        f.from = Some(Timestamp::now().plus_seconds(-DEFAULT_DAYS * 86_400));
    }
    if let Some(status) = param(params, "status") {
        let wanted: Vec<&str> = status.split(',').map(str::trim).collect();
        let open = wanted.contains(&"open");
        let closed = wanted.contains(&"closed");
        if wanted.iter().any(|s| *s != "open" && *s != "closed") {
            return Err(Open311Error::new(400, "status 应为 open 或 closed"));
        }
        f.open = match (open, closed) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        };
    }
    let rows = {
        let mut c = db.acquire().await.map_err(Error::from)?;
        store::requests(&mut c.conn(), district, &f)
            .await
            .map_err(Error::from)?
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows
        .iter()
        .filter(|r| f.ids.is_empty() || asked_number_matches(params, r))
    {
        out.push(request_value(r));
    }
    Ok(list(out))
}

/// A number names a case only with the year it came in: 2025-000123 is not 2026-000123.
fn asked_number_matches(params: &[(String, String)], r: &RequestRow) -> bool {
    let number = cases::number(CaseId(r.id), r.created_at);
    param(params, "service_request_id")
        .is_some_and(|ids| ids.split(',').any(|n| n.trim() == number))
}

/// `GET requests/{id}`: one request, as a list of one.
pub async fn request(db: &Db, params: &[(String, String)], number: &str) -> O311<Value> {
    let district = jurisdiction(db, param(params, "jurisdiction_id")).await?;
    let not_found = || Open311Error::new(404, format!("service_request_id「{number}」不存在"));
    let (id, _) = parse_number(number).ok_or_else(not_found)?;
    let rows = {
        let mut c = db.acquire().await.map_err(Error::from)?;
        store::requests(
            &mut c.conn(),
            district,
            &store::RequestFilter {
                ids: vec![id],
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .map_err(Error::from)?
    };
    let r = rows
        .into_iter()
        .find(|r| cases::number(CaseId(r.id), r.created_at) == number.trim())
        .ok_or_else(not_found)?;
    Ok(list(vec![request_value(&r)]))
}

/// `GET tokens/{token}`: the request a token (the receipt code) belongs to.
pub async fn token(db: &Db, token: &str) -> O311<Value> {
    let not_found = || Open311Error::new(404, "token 不存在");
    let code = cases::model::normalize_receipt_code(token).ok_or_else(not_found)?;
    let mut c = db.acquire().await.map_err(Error::from)?;
    let (id, created) = store::case_by_receipt(&mut c.conn(), &code)
        .await
        .map_err(Error::from)?
        .ok_or_else(not_found)?;
    Ok(Value::List(
        "request",
        vec![Value::Object(vec![
            (
                "service_request_id",
                Value::text(cases::number(CaseId(id), created)),
            ),
            ("token", Value::text(token.trim())),
        ])],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_numbers_read_back() {
        assert_eq!(parse_number("2026-000123"), Some((123, "2026")));
        assert_eq!(parse_number(" 2026-7 "), Some((7, "2026")));
        for bad in [
            "",
            "2026",
            "26-000123",
            "2026-",
            "2026-abc",
            "2026-0",
            "x026-1",
        ] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }
}
