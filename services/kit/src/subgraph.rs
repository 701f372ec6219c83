//! What every service's GraphQL schema shares: Federation v2, the limits on
//! one request, the SDL as composed, and the context its resolvers read.

use async_graphql::{Context, ObjectType, SDLExportOptions, SchemaBuilder, SubscriptionType};
use sea_orm::DatabaseConnection;

use crate::Caller;
use crate::time::Clock;

/// Limits that keep one request from asking for unbounded work.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 5_000;

/// A service's schema builder with federation and the request limits on.
pub fn federated<Q, M, S>(builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    builder
        .enable_federation()
        .limit_depth(MAX_DEPTH)
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
