//! The alliance subgraph: GraphQL types and thin resolvers over `store` and
//! `domain`.

mod access;
mod campaigns;
mod mutation;
mod query;
mod rewards;
mod statements;
mod types;
mod webhooks;

use async_graphql::{Context, EmptySubscription, Schema};
use kit::loader::{ById, ChildrenOf};
use sea_orm::DatabaseConnection;

pub use mutation::Mutation;
pub use query::Query;

pub(crate) use kit::subgraph::{caller, db, now};

use crate::store::entities::{
    account, brand, earn_award, lot, member_alias, order_earn, programme,
};

pub type AllianceSchema = Schema<Query, Mutation, EmptySubscription>;

/// Settings resolvers need beyond the database.
#[derive(Clone)]
pub struct Settings {
    pub quote_ttl: std::time::Duration,
    pub keys: kit::auth::JwtKeys,
    /// `webhooks.allow_private_urls`.
    pub webhook_private_urls: bool,
}

pub fn build(
    db: DatabaseConnection,
    clock: kit::time::Clock,
    settings: Settings,
    members: kit::members::MemberDirectory,
) -> AllianceSchema {
    kit::subgraph::federated(Schema::build(Query, Mutation, EmptySubscription))
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
        .data(ChildrenOf::<earn_award::Entity>::new(
            db.clone(),
            earn_award::Column::EntryId,
        ))
        .data(ChildrenOf::<order_earn::Entity>::new(
            db.clone(),
            order_earn::Column::OrderId,
        ))
        .data(settings)
        .data(clock)
        .data(members)
        .data(db)
        .finish()
}

/// The SDL as served, for composition.
pub fn sdl() -> String {
    kit::subgraph::sdl(Schema::build(Query, Mutation, EmptySubscription))
}

pub(crate) fn settings<'a>(ctx: &Context<'a>) -> &'a Settings {
    ctx.data_unchecked::<Settings>()
}
