//! The member subgraph: GraphQL types and thin resolvers over `store` and
//! `domain`.

mod inputs;
mod loaders;
mod mutation;
mod query;
mod segments;
pub mod standing;
mod types;

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, EmptySubscription, Schema};
use kit::Caller;
use sea_orm::DatabaseConnection;

pub use loaders::MemberLoader;
pub use mutation::Mutation;
pub use query::Query;

pub(crate) use kit::subgraph::{caller, db, now};
pub use types::Member;

use crate::domain::access::{self, Subject, Visibility};
use crate::domain::environment::require_same_environment;
use crate::error::{Error, Result};
use crate::store::entities::{consent, identity, member, tag};
use kit::loader::ChildrenOf;

pub type MemberSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema over `db`; `holders` gives the other services' parts of a
/// member's export.
pub fn build(
    db: DatabaseConnection,
    clock: kit::time::Clock,
    holders: kit::members::MemberDataHolders,
) -> MemberSchema {
    kit::subgraph::federated(Schema::build(Query, Mutation, EmptySubscription))
        .data(DataLoader::new(MemberLoader(db.clone()), tokio::spawn))
        .data(ChildrenOf::<identity::Entity>::new(
            db.clone(),
            identity::Column::MemberId,
        ))
        .data(ChildrenOf::<tag::Entity>::new(
            db.clone(),
            tag::Column::MemberId,
        ))
        .data(ChildrenOf::<consent::Entity>::new(
            db.clone(),
            consent::Column::MemberId,
        ))
        .data(clock)
        .data(holders)
        .data(db)
        .finish()
}

/// The SDL as served, for composition.
pub fn sdl() -> String {
    kit::subgraph::sdl(Schema::build(Query, Mutation, EmptySubscription))
}

/// Loads a member by id (a merged id gives its survivor).
pub(crate) async fn load_member(ctx: &Context<'_>, id: &str) -> Result<member::Model> {
    ctx.data_unchecked::<DataLoader<MemberLoader>>()
        .load_one(id.to_owned())
        .await?
        .ok_or_else(|| Error::member_not_found(id))
}

/// What access rules need to know about `record`, for this caller.
pub(crate) async fn subject_of(
    ctx: &Context<'_>,
    record: &member::Model,
) -> Result<(bool, Vec<String>)> {
    let is_self = match caller(ctx) {
        Caller::Member { member_id } if *member_id == record.id => true,
        // A token issued before a merge still names the merged id.
        Caller::Member { member_id } => load_member(ctx, member_id)
            .await
            .is_ok_and(|m| m.id == record.id),
        _ => false,
    };
    let brands = match caller(ctx) {
        Caller::Staff { .. } => {
            let mut brands: Vec<String> =
                kit::loader::children::<identity::Entity>(ctx, &record.id)
                    .await?
                    .into_iter()
                    .filter_map(|i| i.brand_id)
                    .collect();
            brands.extend(record.registration_brand_id.clone());
            brands
        }
        _ => Vec::new(),
    };
    Ok((is_self, brands))
}

/// The member as this caller may see them; FORBIDDEN if not at all.
pub(crate) async fn view(ctx: &Context<'_>, record: member::Model) -> Result<Member> {
    require_same_environment(caller(ctx), record.environment, &record.id)?;
    let (is_self, brands) = subject_of(ctx, &record).await?;
    let visibility = access::require_visible(
        caller(ctx),
        &Subject {
            is_self,
            brand_ids: &brands,
        },
    )?;
    Ok(Member {
        record: Arc::new(record),
        visibility,
    })
}

/// The member after a change the caller made (they may see it whole, or
/// at least its id).
pub(crate) async fn view_after_change(ctx: &Context<'_>, record: member::Model) -> Result<Member> {
    let (is_self, brands) = subject_of(ctx, &record).await?;
    let visibility = access::visibility(
        caller(ctx),
        &Subject {
            is_self,
            brand_ids: &brands,
        },
    )
    .max(Visibility::Basic);
    Ok(Member {
        record: Arc::new(record),
        visibility,
    })
}

/// Loads a member and checks the caller may act on them with `rule`.
pub(crate) async fn authorize(
    ctx: &Context<'_>,
    member_id: &str,
    rule: fn(&Caller, &Subject<'_>) -> Result<()>,
) -> Result<member::Model> {
    caller(ctx).require_authenticated()?;
    let record = load_member(ctx, member_id).await?;
    require_same_environment(caller(ctx), record.environment, member_id)?;
    let (is_self, brands) = subject_of(ctx, &record).await?;
    rule(
        caller(ctx),
        &Subject {
            is_self,
            brand_ids: &brands,
        },
    )?;
    Ok(record)
}
