//! The product subgraph: GraphQL types and thin resolvers over `store` and
//! `domain`.

mod coupons;
mod inputs;
mod mutation;
mod query;
mod types;

use async_graphql::{EmptySubscription, Schema};
use sea_orm::DatabaseConnection;

pub use mutation::Mutation;
pub use query::Query;

pub(crate) use kit::subgraph::{caller, db, now};

use crate::store::entities::{location, order, order_line, product, sku};
use kit::loader::{ById, ChildrenOf};

pub type ProductSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn build(
    db: DatabaseConnection,
    clock: kit::time::Clock,
    members: kit::members::MemberDirectory,
) -> ProductSchema {
    kit::subgraph::federated(Schema::build(Query, Mutation, EmptySubscription))
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
        .data(clock)
        .data(members)
        .data(db)
        .finish()
}

/// The SDL as served, for composition.
pub fn sdl() -> String {
    kit::subgraph::sdl(Schema::build(Query, Mutation, EmptySubscription))
}
