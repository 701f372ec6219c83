//! The store service's errors: shared codes, or a database failure.

use kit::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A broken rule or an access decision, with its shared code (and for
    /// input errors the field at fault).
    #[error("{}", .0.message)]
    Api(ApiError),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Api(ApiError::bad_input(field, message))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::Api(ApiError::not_found(message))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Api(ApiError::conflict(message))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Api(ApiError::forbidden(message))
    }

    /// The shared code a client will see.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Api(api) => api.code,
            Error::Db(_) => ErrorCode::Internal,
        }
    }

    /// The input field at fault, for BAD_USER_INPUT.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.field.as_deref(),
            _ => None,
        }
    }
}

impl From<ApiError> for Error {
    fn from(err: ApiError) -> Self {
        Error::Api(err)
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Api(api) => api,
            Error::Db(db) => ApiError::internal(&db),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
