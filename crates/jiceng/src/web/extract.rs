//! Body extractors whose rejections speak the platform's language: a malformed JSON or form
//! body is a 4xx with a Chinese reason, never axum's English plain text.

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::error::{ApiError, PageError};
use crate::error::Error;

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(e) => Err(ApiError(json_rejection(e))),
        }
    }
}

fn json_rejection(e: JsonRejection) -> Error {
    match e {
        JsonRejection::MissingJsonContentType(_) => {
            Error::invalid("body", "请求须为 JSON（Content-Type: application/json）")
        }
        JsonRejection::JsonSyntaxError(e) => {
            Error::invalid("body", format!("JSON 格式错误：{}", e.body_text()))
        }
        JsonRejection::JsonDataError(e) => Error::invalid(
            "body",
            format!("JSON 字段缺失或类型不符：{}", e.body_text()),
        ),
        JsonRejection::BytesRejection(e)
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            Error::TooLarge("提交的内容过大".to_owned())
        }
        JsonRejection::BytesRejection(_) => Error::invalid("body", "请求体无法读取"),
        other => Error::invalid("body", other.body_text()),
    }
}

pub struct FormBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for FormBody<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(FormBody(v)),
            Err(e) => Err(PageError(form_rejection(e), None)),
        }
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
