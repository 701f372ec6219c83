//! The product service's errors, each mapped onto a shared code.

use kit::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input violated a rule; names the field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// No location can cover a line; names the SKU.
    #[error("SKU {sku_id} is out of stock for {quantity} unit(s)")]
    OutOfStock { sku_id: String, quantity: i64 },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict(message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden(message.into())
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid { field, message } => ApiError::bad_input(field, message),
            Error::OutOfStock { ref sku_id, .. } => {
                let mut api = ApiError::new(ErrorCode::OutOfStock, err.to_string());
                api.field = Some(format!("sku:{sku_id}"));
                api
            }
            Error::NotFound(m) => ApiError::not_found(m),
            Error::Conflict(m) => ApiError::conflict(m),
            Error::Forbidden(m) => ApiError::forbidden(m),
            Error::Unauthenticated(m) => ApiError::unauthenticated(m),
            Error::Db(db) => ApiError::internal(&db),
        }
    }
}

impl From<ApiError> for Error {
    fn from(err: ApiError) -> Self {
        match err.code {
            ErrorCode::BadUserInput => Error::Invalid {
                field: err.field.unwrap_or_default(),
                message: err.message,
            },
            ErrorCode::Unauthenticated => Error::Unauthenticated(err.message),
            ErrorCode::Forbidden => Error::Forbidden(err.message),
            ErrorCode::NotFound => Error::NotFound(err.message),
            _ => Error::Conflict(err.message),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
