//! The kit every bigmember service shares: configuration, database,
//! migrations runner, telemetry, auth, error codes, pagination and the event
//! outbox with its feed and consumer.

pub mod auth;
pub mod catalogue;
pub mod channel;
pub mod config;
pub mod db;
pub mod demo;
pub mod digest;
pub mod edge;
pub mod error;
pub mod events;
pub mod geo;
pub mod graphql_text;
pub mod idempotency;
pub mod input;
pub mod jwks;
pub mod limits;
pub mod loader;
pub mod members;
pub mod metrics;
pub mod migration;
pub mod paging;
pub mod revocation;
pub mod scalar;
pub mod service;
pub mod shutdown;
pub mod subgraph;
pub mod telemetry;
pub mod time;
pub mod tls;

#[cfg(feature = "testing")]
pub mod testing;

pub use auth::Caller;
pub use error::{ApiError, ApiResult, ErrorCode};
pub use scalar::Long;

/// Resolves a field this service contributes to another service's entity
/// (`Brand.stores`, `Member.orders`…) as nullable: if this service fails,
/// the gateway nulls only the field, not the entity holding it.
pub async fn contributed<T>(
    field: impl std::future::Future<Output = ApiResult<T>>,
) -> ApiResult<Option<T>> {
    field.await.map(Some)
}
