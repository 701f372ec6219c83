//! The member service's errors: shared codes, or a database failure.

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

kit::service_error_basics!(Error);

impl Error {
    pub fn member_not_found(id: &str) -> Self {
        Self::not_found(format!("member {id} not found"))
    }

    /// The shared code a client will see.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Api(api) => api.code,
            Error::Db(_) => ErrorCode::Internal,
        }
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
