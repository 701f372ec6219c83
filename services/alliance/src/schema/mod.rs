//! The alliance subgraph: GraphQL types and thin resolvers over `store` and
//! `domain`.

mod access;
mod mutation;
mod query;
mod types;

use async_graphql::{Context, EmptySubscription, Schema};
use kit::Caller;
use kit::loader::{ById, ChildrenOf};
use sea_orm::DatabaseConnection;

pub use mutation::Mutation;
pub use query::Query;

use crate::store::entities::{account, brand, lot, member_alias, order_earn, programme};

pub type AllianceSchema = Schema<Query, Mutation, EmptySubscription>;

const MAX_DEPTH: usize = 12;
const MAX_COMPLEXITY: usize = 5_000;

/// Settings resolvers need beyond the database.
#[derive(Clone)]
pub struct Settings {
    pub quote_ttl: std::time::Duration,
    pub keys: kit::auth::JwtKeys,
}

pub fn build(db: DatabaseConnection, settings: Settings) -> AllianceSchema {
    Schema::build(Query, Mutation, EmptySubscription)
        .enable_federation()
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .data(ById::<brand::Entity>::new(db.clone()))
        .data(ById::<programme::Entity>::new(db.clone()))
        .data(ById::<member_alias::Entity>::new(db.clone()))
        .data(ById::<lot::Entity>::new(db.clone()))
        .data(ChildrenOf::<programme::Entity>::new(
            db.clone(),
            programme::Column::BrandId,
        ))
        .data(ChildrenOf::<account::Entity>::new(
            db.clone(),
            account::Column::MemberId,
        ))
        .data(ChildrenOf::<order_earn::Entity>::new(
            db.clone(),
            order_earn::Column::OrderId,
        ))
        .data(settings)
        .data(db)
        .finish()
}

/// The SDL as served, for composition.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, EmptySubscription)
        .enable_federation()
        .finish()
        .sdl_with_options(
            async_graphql::SDLExportOptions::new()
                .federation()
                .compose_directive(),
        )
}

pub(crate) fn caller<'a>(ctx: &Context<'a>) -> &'a Caller {
    ctx.data_unchecked::<Caller>()
}

pub(crate) fn db<'a>(ctx: &Context<'a>) -> &'a DatabaseConnection {
    ctx.data_unchecked::<DatabaseConnection>()
}

pub(crate) fn settings<'a>(ctx: &Context<'a>) -> &'a Settings {
    ctx.data_unchecked::<Settings>()
}
