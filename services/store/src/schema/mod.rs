//! The store subgraph: GraphQL types and thin resolvers over `store` and
//! `domain`.

mod commissions;
mod guides;
mod inputs;
mod mutation;
mod query;
mod types;

use async_graphql::{Context, EmptySubscription, Schema};
use sea_orm::DatabaseConnection;

pub use mutation::Mutation;
pub use query::Query;

pub(crate) use kit::subgraph::{caller, db, now};

use crate::error::{Error, Result};
use crate::store::entities::{attribution, guide, store as store_row};
use kit::loader::ById;

pub type StoreSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn build(
    db: DatabaseConnection,
    clock: kit::time::Clock,
    members: kit::members::MemberDirectory,
) -> StoreSchema {
    kit::subgraph::federated(Schema::build(Query, Mutation, EmptySubscription))
        .data(ById::<store_row::Entity>::new(db.clone()))
        .data(ById::<guide::Entity>::new(db.clone()))
        .data(ById::<attribution::Entity>::new(db.clone()))
        .data(clock)
        .data(members)
        .data(db)
        .finish()
}

/// The SDL as served, for composition.
pub fn sdl() -> String {
    kit::subgraph::sdl(Schema::build(Query, Mutation, EmptySubscription))
}

pub(crate) async fn load_store(ctx: &Context<'_>, id: &str) -> Result<store_row::Model> {
    kit::loader::by_id::<store_row::Entity>(ctx, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("store {id} not found")))
}

pub(crate) async fn load_guide(ctx: &Context<'_>, id: &str) -> Result<guide::Model> {
    kit::loader::by_id::<guide::Entity>(ctx, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("guide {id} not found")))
}
