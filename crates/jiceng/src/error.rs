//! The domain layer's error. Every context returns it; the web layer maps it to HTTP once
//! (see `web::error`). Messages are for the user (zh-CN); internal detail goes to the log only.

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input failed validation. `field` names the form field or JSON property.
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with the current state (duplicate code, stale version, …).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("请先登录")]
    Unauthenticated,
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    TooLarge(String),
    /// The session a request was admitted on, as this process remembered it, changed before
    /// its write ([`crate::auth::still_current`]): nothing was stored, and the request is to
    /// be admitted again on the session as the database has it.
    #[error("登录状态或基础数据已变化，请重新提交")]
    SessionChanged,
    #[error("内部错误")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }

    pub fn conflict(msg: impl Into<String>) -> Self {
        Error::Conflict(msg.into())
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        Error::Forbidden(msg.into())
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }

    /// Turns a unique-constraint violation into a conflict with `message`, leaving other
    /// storage errors internal.
    pub fn unique_or(e: DbError, message: &str) -> Self {
        if e.unique_violation().is_some() {
            Error::Conflict(message.to_owned())
        } else {
            e.into()
        }
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Self {
        Error::Internal(e.to_string())
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Internal(DbError::from(e).to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
