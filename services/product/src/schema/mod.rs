//! The product subgraph: GraphQL types and thin resolvers over `store` and
//! `domain`.

mod inputs;
mod mutation;
mod query;
mod types;

use async_graphql::{Context, EmptySubscription, Schema};
use kit::Caller;
use sea_orm::DatabaseConnection;

pub use mutation::Mutation;
pub use query::Query;

use crate::store::entities::{location, order, order_line, product, sku};
use kit::loader::{ById, ChildrenOf};

pub type ProductSchema = Schema<Query, Mutation, EmptySubscription>;

const MAX_DEPTH: usize = 12;
const MAX_COMPLEXITY: usize = 5_000;

pub fn build(db: DatabaseConnection) -> ProductSchema {
    Schema::build(Query, Mutation, EmptySubscription)
        .enable_federation()
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .data(ById::<product::Entity>::new(db.clone()))
        .data(ById::<sku::Entity>::new(db.clone()))
        .data(ById::<order::Entity>::new(db.clone()))
        .data(ById::<location::Entity>::new(db.clone()))
        .data(ChildrenOf::<sku::Entity>::new(
            db.clone(),
            sku::Column::ProductId,
        ))
        .data(ChildrenOf::<order_line::Entity>::new(
            db.clone(),
            order_line::Column::OrderId,
        ))
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
