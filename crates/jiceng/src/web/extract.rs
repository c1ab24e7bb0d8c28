//! Extractors whose rejections speak the platform's language: a malformed JSON or form body,
//! query string or path parameter is a 4xx with a Chinese reason, never axum's English plain
//! text.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::Extensions;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::{ApiError, PageError};
use super::page::Shell;
use crate::auth::Principal;
use crate::error::Error;
use crate::typed::{check_fields, check_typed};

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json);
        if !json {
            return Err(ApiError(Error::invalid(
                "body",
                "请求须为 JSON（Content-Type: application/json）",
            )));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                ApiError(if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    Error::TooLarge("提交的内容过大".to_owned())
                } else {
                    Error::invalid("body", "请求体无法读取")
                })
            })?;
        read_json(&bytes).map(JsonBody).map_err(ApiError)
    }
}

/// `application/json`, or a JSON-based type such as `application/merge-patch+json`.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads a JSON body into `T`, naming what is wrong where: the line and column of a syntax
/// error, the field of a missing or mistyped value.
pub fn read_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| json_error(".", &e))?;
    // Walked once without a path; only a document that fails is walked again to name where.
    if !all_typed(&value) {
        check_json_text("", &value)?;
    }
    read_json_value(value)
}

fn all_typed(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => crate::typed::is_typed(s),
        serde_json::Value::Array(items) => items.iter().all(all_typed),
        serde_json::Value::Object(fields) => fields.values().all(all_typed),
        _ => true,
    }
}

/// Every string of a JSON document passes [`check_typed`], named by its path.
fn check_json_text(path: &str, v: &serde_json::Value) -> Result<(), Error> {
    match v {
        serde_json::Value::String(s) => check_typed(if path.is_empty() { "body" } else { path }, s),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| check_json_text(&format!("{path}[{i}]"), x)),
        serde_json::Value::Object(fields) => fields.iter().try_for_each(|(k, x)| {
            let path = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            check_json_text(&path, x)
        }),
        _ => Ok(()),
    }
}

/// Reads a JSON value already parsed (one a handler completed, say) as [`read_json`] reads
/// bytes: a missing or mistyped field is named.
pub fn read_json_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| json_error(&e.path().to_string(), e.inner()))
}

/// The field serde's "missing field `name`" error names (its only way of saying which).
fn missing_field(error: &str) -> Option<&str> {
    error
        .strip_prefix("missing field `")
        .and_then(|r| r.split_once('`'))
        .map(|(name, _)| name)
}

/// `path` is where in the document the error is, `.` for its top.
fn json_error(path: &str, e: &serde_json::Error) -> Error {
    if !e.is_data() {
        return Error::invalid(
            "body",
            format!("JSON 格式错误（第 {} 行第 {} 列）", e.line(), e.column()),
        );
    }
    let text = e.to_string();
    if let Some(name) = missing_field(&text) {
        let field = match path {
            "." => name.to_owned(),
            parent => format!("{parent}.{name}"),
        };
        return Error::invalid(&field, format!("缺少字段 {field}"));
    }
    let field = match path {
        "." => "body",
        p => p,
    };
    if text.starts_with("unknown variant") {
        return Error::invalid(field, format!("字段 {field} 的取值不在可选范围内"));
    }
    Error::invalid(field, format!("字段 {field} 的类型或取值不符"))
}

pub struct FormBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for FormBody<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let shell = signed_in_shell(req.extensions());
        // Read as pairs first, so that every value is checked before any is taken.
        let pairs = match axum::Form::<Vec<(String, String)>>::from_request(req, state).await {
            Ok(axum::Form(pairs)) => pairs,
            Err(e) => return Err(PageError(form_rejection(e), shell)),
        };
        let read = || {
            check_fields(&pairs)?;
            let encoded = serde_urlencoded::to_string(&pairs)
                .map_err(|_| Error::invalid("form", "提交的内容无法读取"))?;
            serde_urlencoded::from_str::<T>(&encoded)
                .map_err(|e| Error::invalid("form", format!("表单内容不完整或格式有误：{e}")))
        };
        read().map(FormBody).map_err(|e| PageError(e, shell))
    }
}

fn form_rejection(e: FormRejection) -> Error {
    match e {
        FormRejection::FailedToDeserializeForm(e) => Error::invalid(
            "form",
            format!("表单内容不完整或格式有误：{}", e.body_text()),
        ),
        FormRejection::FailedToDeserializeFormBody(e) => Error::invalid(
            "form",
            format!("表单内容不完整或格式有误：{}", e.body_text()),
        ),
        FormRejection::InvalidFormContentType(_) => Error::invalid("form", "请通过页面表单提交"),
        FormRejection::BytesRejection(e)
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            Error::TooLarge("提交的内容过大".to_owned())
        }
        FormRejection::BytesRejection(_) => Error::invalid("form", "提交的内容无法读取"),
        other => Error::invalid("form", other.body_text()),
    }
}

/// Splits a form's `roles` values: browsers send one pair per ticked box, which serde's
/// urlencoded reader cannot gather into a Vec, so forms carrying lists are read as pairs.
pub fn values<'a>(pairs: &'a [(String, String)], name: &str) -> impl Iterator<Item = &'a str> {
    let name = name.to_owned();
    pairs
        .iter()
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v.as_str())
}

pub fn value<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    values(pairs, name).next().unwrap_or("")
}

/// A query string or path parameter that cannot be read: JSON under `/api/`, a page elsewhere.
#[derive(Debug)]
pub struct ParamRejection {
    error: Error,
    /// None under `/api/`; else the error page's shell, the menu of whoever is signed in.
    page: Option<Option<Box<Shell>>>,
}

impl ParamRejection {
    fn new(parts: &Parts, error: Error) -> Self {
        ParamRejection {
            error,
            page: (!parts.uri.path().starts_with("/api/"))
                .then(|| signed_in_shell(&parts.extensions)),
        }
    }
}

impl IntoResponse for ParamRejection {
    fn into_response(self) -> Response {
        match self.page {
            None => ApiError(self.error).into_response(),
            Some(shell) => PageError(self.error, shell).into_response(),
        }
    }
}

/// The error page's shell for a request refused before its handler ran: with the menu of the
/// one signed in (the access layer has admitted them), not a signed-out page.
fn signed_in_shell(extensions: &Extensions) -> Option<Box<Shell>> {
    extensions
        .get::<Arc<Principal>>()
        .map(|p| Box::new(Shell::for_principal("出错了", p, None)))
}

/// The query string, read into `T`. A filter form's "all" choice sends an empty value
/// (`grid=`), which means "not given": a query that cannot be read as sent is read again
/// without its empty values before it is refused.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ParamRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        read_query(parts.uri.query().unwrap_or(""))
            .map(Query)
            .map_err(|e| ParamRejection::new(parts, e))
    }
}

fn read_query<T: DeserializeOwned>(raw: &str) -> Result<T, Error> {
    let read = |query: &str| {
        serde_path_to_error::deserialize::<_, T>(serde_urlencoded::Deserializer::new(
            form_urlencoded::parse(query.as_bytes()),
        ))
    };
    read(raw).or_else(|first| {
        let given = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form_urlencoded::parse(raw.as_bytes()).filter(|(_, v)| !v.is_empty()))
            .finish();
        read(&given).map_err(|_| query_error(&first))
    })
}

fn query_error(e: &serde_path_to_error::Error<serde_urlencoded::de::Error>) -> Error {
    if let Some(name) = missing_field(&e.inner().to_string()) {
        return Error::invalid(name, format!("缺少查询参数 {name}"));
    }
    match e.path().to_string() {
        // Inside a flattened filter serde loses the name.
        p if p == "." => Error::invalid("query", "查询参数的取值无效"),
        field => Error::invalid(&field, format!("查询参数 {field} 的取值无效")),
    }
}

/// A path parameter, read into `T`. An address whose parameter cannot be read (a number that
/// is not one) names nothing there is: not found.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ParamRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e) => {
                let error = match e {
                    PathRejection::FailedToDeserializePathParams(_) => {
                        Error::not_found("找不到该记录：地址中的编号无效")
                    }
                    other => Error::internal(other.body_text()),
                };
                Err(ParamRejection::new(parts, error))
            }
        }
    }
}

/// A page number given as a number or as text (see [`crate::catalog`]'s item filter).
pub fn page_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    struct PageNumber;

    impl serde::de::Visitor<'_> for PageNumber {
        type Value = Option<u32>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a page number")
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            u32::try_from(v).map(Some).map_err(E::custom)
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u32::try_from(v).map(Some).map_err(E::custom)
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim().parse().map(Some).map_err(E::custom)
        }
    }

    d.deserialize_any(PageNumber)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Filter {
        q: Option<String>,
        grid: Option<i64>,
        page: Option<u32>,
    }

    #[test]
    fn an_empty_query_value_is_no_filter_and_a_bad_one_is_named() {
        let f: Filter = read_query("q=%E7%8A%80%E6%B5%A6&grid=&page=2").unwrap();
        assert_eq!(
            f,
            Filter {
                q: Some("犀浦".to_owned()),
                grid: None,
                page: Some(2)
            }
        );
        // An empty text stays as it was sent when nothing else is wrong.
        let f: Filter = read_query("q=").unwrap();
        assert_eq!(f.q.as_deref(), Some(""));
        match read_query::<Filter>("grid=abc") {
            Err(Error::Invalid { field, message }) => {
                assert_eq!(field, "grid");
                assert!(message.contains("grid"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        action: String,
        files: Vec<File>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct File {
        name: String,
    }

    fn refusal(json: &str) -> (String, String) {
        match read_json::<Body>(json.as_bytes()) {
            Err(Error::Invalid { field, message }) => (field, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_json_body_error_says_where_in_chinese() {
        assert_eq!(
            refusal(r#"{"files": []}"#),
            ("action".to_owned(), "缺少字段 action".to_owned())
        );
        assert_eq!(
            refusal(r#"{"action": "x", "files": [{}]}"#),
            (
                "files[0].name".to_owned(),
                "缺少字段 files[0].name".to_owned()
            )
        );
        assert_eq!(refusal(r#"{"action": 1, "files": []}"#).0, "action");
        let (field, message) = refusal("{\n\"action\": ");
        assert_eq!(field, "body");
        assert!(
            message.contains("JSON 格式错误") && message.contains("第 2 行"),
            "{message}"
        );
        assert!(
            refusal(r#"{"action": "x", "files": []} trailing"#)
                .1
                .contains("JSON 格式错误")
        );
    }

    #[test]
    fn text_nobody_types_is_refused_where_it_is() {
        for (json, field) in [
            (r#"{"action": "\u0000", "files": []}"#, "action"),
            (r#"{"action": "a\u001b[31m", "files": []}"#, "action"),
            (
                r#"{"action": "x", "files": [{"name": "a\u202egpj.exe"}]}"#,
                "files[0].name",
            ),
            (r#"{"action": "\u200b\ufeff ", "files": []}"#, "action"),
        ] {
            assert_eq!(refusal(json).0, field, "{json}");
        }
        // Line breaks, tabs, and a zero-width joiner inside an emoji are typed.
        let ok = read_json::<Body>(
            "{\"action\": \"第一行\\r\\n\\t第二行 👨\u{200d}👩\", \"files\": []}".as_bytes(),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }
}
