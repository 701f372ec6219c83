//! The alliance service's errors, each mapped onto a shared code.

use kit::{ApiError, ErrorCode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An input violated a rule; names the field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("not enough points: {available} available, {wanted} wanted")]
    InsufficientPoints { available: i64, wanted: i64 },
    #[error("{0}")]
    LimitExceeded(String),
    #[error("the quote expired")]
    QuoteExpired,
    #[error("the quote was already used")]
    QuoteUsed,
    #[error("{0}")]
    Conflict(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let code = match &err {
            Error::Invalid { field, message } => {
                return ApiError::bad_input(field.clone(), message.clone());
            }
            Error::InsufficientPoints { .. } => ErrorCode::InsufficientPoints,
            Error::LimitExceeded(_) => ErrorCode::LimitExceeded,
            Error::QuoteExpired => ErrorCode::QuoteExpired,
            Error::QuoteUsed => ErrorCode::QuoteUsed,
            Error::Conflict(_) => ErrorCode::Conflict,
        };
        ApiError::new(code, err.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
