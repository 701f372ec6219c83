//! What every service's GraphQL schema shares: Federation v2, the limits on
//! one request, the SDL as composed, and the context its resolvers read.

use async_graphql::{Context, ObjectType, SDLExportOptions, SchemaBuilder, SubscriptionType};
use sea_orm::DatabaseConnection;

use crate::config::OperationLimits;
use crate::time::Clock;
use crate::{ApiError, Caller};

/// Limits that keep one request from asking for unbounded work: the
/// gateway's default limits with the headroom its subgraph fetches need
/// ([`OperationLimits::for_subgraphs`]), measured before async-graphql
/// validates anything ([`past_limits`]; its validation expands every
/// fragment spread), and async-graphql's own depth and complexity limits
/// as a second line.
pub fn limits() -> OperationLimits {
    OperationLimits::default().for_subgraphs()
}
pub const MAX_COMPLEXITY: usize = 5_000;

/// Why `request` is past the subgraphs' [`limits`], as a message; None
/// when within them, or when it does not parse (the engine refuses that
/// with its own message).
pub fn past_limits(request: &mut async_graphql::Request) -> Option<String> {
    let limits = limits();
    if request.query.len() > limits.max_bytes {
        return Some(format!(
            "the operation is {} bytes; at most {} are allowed",
            request.query.len(),
            limits.max_bytes
        ));
    }
    let document = request.parsed_query().ok()?;
    crate::limits::measure(document).first_past(&limits)
}

/// A service's schema builder with federation and the request limits on.
pub fn federated<Q, M, S>(builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    builder
        .enable_federation()
        .limit_depth(limits().max_depth as usize)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The SDL a service serves to the composer (`bigmember compose`).
pub fn sdl<Q, M, S>(builder: SchemaBuilder<Q, M, S>) -> String
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    federated(builder)
        .finish()
        .sdl_with_options(SDLExportOptions::new().federation().compose_directive())
}

/// Who is calling: the service's routes put the verified caller in every
/// request.
pub fn caller<'a>(ctx: &Context<'a>) -> &'a Caller {
    ctx.data_unchecked::<Caller>()
}

/// The id a write for `member_id` acts for, asked of the member service
/// now (see [`crate::members`]): the survivor of a merge, NOT_FOUND for an
/// unknown id, FORBIDDEN for an erased or suspended member. Every schema
/// but the member service's is built with a directory.
pub async fn acting_member(ctx: &Context<'_>, member_id: &str) -> Result<String, ApiError> {
    match ctx.data_opt::<crate::members::MemberDirectory>() {
        Some(directory) => directory.acting_member(member_id).await,
        None => Err(ApiError::internal(&"no member directory in this schema")),
    }
}

/// [`acting_member`] for a write in `environment` (the programme's):
/// a member of the other environment is NOT_FOUND.
pub async fn acting_member_in(
    ctx: &Context<'_>,
    member_id: &str,
    environment: crate::auth::Environment,
) -> Result<String, ApiError> {
    match ctx.data_opt::<crate::members::MemberDirectory>() {
        Some(directory) => directory.acting_member_in(member_id, environment).await,
        None => Err(ApiError::internal(&"no member directory in this schema")),
    }
}

/// [`acting_member_in`], with the member's tier.
pub async fn acting_in(
    ctx: &Context<'_>,
    member_id: &str,
    environment: crate::auth::Environment,
) -> Result<crate::members::ActingMember, ApiError> {
    match ctx.data_opt::<crate::members::MemberDirectory>() {
        Some(directory) => directory.acting_in(member_id, environment).await,
        None => Err(ApiError::internal(&"no member directory in this schema")),
    }
}

/// [`MemberDirectory::in_segment`](crate::members::MemberDirectory::in_segment).
pub async fn in_segment(
    ctx: &Context<'_>,
    member_id: &str,
    segment_id: &str,
) -> Result<bool, ApiError> {
    match ctx.data_opt::<crate::members::MemberDirectory>() {
        Some(directory) => directory.in_segment(member_id, segment_id).await,
        None => Err(ApiError::internal(&"no member directory in this schema")),
    }
}

/// Whether a member token naming `member_id` speaks for `owner`'s data:
/// the same id, or a merged id whose survivor is `owner` (the member
/// service is asked only when the ids differ, so a member's own reads
/// never wait on it).
pub async fn speaks_for(ctx: &Context<'_>, member_id: &str, owner: &str) -> bool {
    if member_id == owner {
        return true;
    }
    match ctx.data_opt::<crate::members::MemberDirectory>() {
        Some(directory) => directory
            .survivor_of(member_id)
            .await
            .is_some_and(|survivor| survivor == owner),
        None => false,
    }
}

/// The service's database: every schema is built with it.
pub fn db<'a>(ctx: &Context<'a>) -> &'a DatabaseConnection {
    ctx.data_unchecked::<DatabaseConnection>()
}

/// The service's clock: every schema is built with it.
pub fn clock<'a>(ctx: &Context<'a>) -> &'a Clock {
    ctx.data_unchecked::<Clock>()
}

/// Now, by the service's clock.
pub fn now(ctx: &Context<'_>) -> chrono::DateTime<chrono::Utc> {
    clock(ctx).now()
}
