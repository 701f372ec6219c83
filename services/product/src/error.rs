//! The product service's errors: shared codes, stock, or a database failure.

use kit::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A broken rule or an access decision, with its shared code (and for
    /// input errors the field at fault).
    #[error("{}", .0.message)]
    Api(ApiError),
    /// No location can cover a line; names the SKU.
    #[error("SKU {sku_id} is out of stock for {quantity} unit(s)")]
    OutOfStock { sku_id: String, quantity: i64 },
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
}

kit::service_error_basics!(Error);

impl Error {
    /// The shared code a client will see.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Api(api) => api.code,
            Error::OutOfStock { .. } => ErrorCode::OutOfStock,
            Error::Db(_) => ErrorCode::Internal,
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Api(api) => api,
            Error::OutOfStock { ref sku_id, .. } => {
                let mut api = ApiError::new(ErrorCode::OutOfStock, err.to_string());
                api.field = Some(format!("sku:{sku_id}"));
                api
            }
            Error::Db(db) => ApiError::internal(&db),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
