//! The one place where domain errors become HTTP responses: JSON for the API, a page for
//! browsers. Internal errors are logged with their detail and answered with a generic message.

use askama::Template;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use super::page::Shell;
use crate::error::Error;

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) | Error::SessionChanged => StatusCode::CONFLICT,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::Unauthenticated => StatusCode::UNAUTHORIZED,
        Error::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
        Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The status of a page re-shown with a form error (or 200 without one): the same mapping as
/// every other error response.
pub fn form_status(error: Option<&Error>) -> StatusCode {
    error.map(status_of).unwrap_or(StatusCode::OK)
}

fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        422 => "invalid",
        429 => "too_many_requests",
        503 => "unavailable",
        _ => "internal",
    }
}

fn log_internal(e: &Error) {
    if let Error::Internal(detail) = e {
        tracing::error!(detail = %detail, "internal error");
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: invalid, not_found, conflict, forbidden, unauthenticated, …
    pub code: String,
    /// For the user, in Chinese.
    pub message: String,
    /// The offending field, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

pub fn json_error(status: StatusCode, message: &str, field: Option<String>) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code_of(status).to_owned(),
            message: message.to_owned(),
            field,
        },
    };
    (status, Json(body)).into_response()
}

#[derive(Template)]
#[template(path = "web/error.html")]
struct ErrorPage<'a> {
    shell: Shell,
    status: u16,
    message: &'a str,
}

pub fn error_page(status: StatusCode, message: &str, shell: Option<Shell>) -> Response {
    let page = ErrorPage {
        shell: shell.unwrap_or_else(|| Shell::anonymous("出错了")),
        status: status.as_u16(),
        message,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            (status, message.to_owned()).into_response()
        }
    }
}

/// An error from a JSON API handler.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        log_internal(&self.0);
        let status = status_of(&self.0);
        let field = match &self.0 {
            Error::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };
        let mut resp = json_error(status, &self.0.to_string(), field);
        if matches!(self.0, Error::SessionChanged) {
            resp.extensions_mut().insert(AdmitAgain);
        }
        resp
    }
}

/// Marks the answer to a request whose write found its remembered session changed
/// ([`Error::SessionChanged`]): the access middleware admits it again on a fresh read.
#[derive(Debug, Clone, Copy)]
pub struct AdmitAgain;

/// An error from a page handler; carries the page shell so the error page keeps the menu.
#[derive(Debug)]
pub struct PageError(pub Error, pub Option<Box<Shell>>);

impl<E: Into<Error>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into(), None)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        log_internal(&self.0);
        if matches!(self.0, Error::Unauthenticated) {
            return axum::response::Redirect::to("/login").into_response();
        }
        error_page(status_of(&self.0), &self.0.to_string(), self.1.map(|b| *b))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
pub type PageResult<T = Response> = Result<T, PageError>;
