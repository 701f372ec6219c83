//! The alliance service's errors: shared codes, the points-specific
//! refusals, or a database failure.

use kit::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A broken rule or an access decision, with its shared code (and for
    /// input errors the field at fault).
    #[error("{}", .0.message)]
    Api(ApiError),
    #[error("not enough points: {available} available, {wanted} wanted")]
    InsufficientPoints { available: i64, wanted: i64 },
    #[error("{0}")]
    LimitExceeded(String),
    #[error("the quote expired; ask for a new one")]
    QuoteExpired,
    #[error("the quote was already used")]
    QuoteUsed,
    /// The ledger's books did not balance after a command: it is rolled
    /// back, and the detail is logged as an invariant break.
    #[error("ledger invariant broken: {0}")]
    InvariantBroken(String),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
}

kit::service_error_basics!(Error);

impl Error {
    /// The shared code a client will see.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Api(api) => api.code,
            Error::InsufficientPoints { .. } => ErrorCode::InsufficientPoints,
            Error::LimitExceeded(_) => ErrorCode::LimitExceeded,
            Error::QuoteExpired => ErrorCode::QuoteExpired,
            Error::QuoteUsed => ErrorCode::QuoteUsed,
            Error::Db(_) | Error::InvariantBroken(_) => ErrorCode::Internal,
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Api(api) => api,
            Error::Db(db) => ApiError::internal(&db),
            Error::InvariantBroken(detail) => ApiError::internal(&detail),
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
