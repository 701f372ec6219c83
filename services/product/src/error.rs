//! The product service's errors: shared codes, stock, or a database failure.

use kit::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A broken rule or an access decision, with its shared code (and for
    /// input errors the field at fault).
    #[error("{}", .0.message)]
    Api(ApiError),
    /// No location can cover a line; names the SKU, and how many units
    /// are available where the order could take them from (public, as
    /// `availability` and `Store.inventory` are): at `location`, or at best
    /// at any one location when it could come from several.
    #[error("SKU {sku_id} is out of stock for {quantity} unit(s): {available} available {}", where_from(location.as_deref()))]
    OutOfStock {
        sku_id: String,
        quantity: i64,
        available: i64,
        location: Option<String>,
    },
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
            Error::OutOfStock {
                ref sku_id,
                available,
                ..
            } => {
                let mut api = ApiError::new(ErrorCode::OutOfStock, err.to_string())
                    .with_detail("skuId", sku_id.clone())
                    .with_detail("available", available);
                api.field = Some(format!("sku:{sku_id}"));
                api
            }
            Error::Db(db) => ApiError::internal(&db),
        }
    }
}

fn where_from(location: Option<&str>) -> String {
    match location {
        Some(location) => format!("at {location}"),
        None => "at any one location".to_owned(),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
