//! What this service does with other services' events.

use async_trait::async_trait;
use kit::auth::Actor;
use kit::events::consumer::{EventHandler, HandlerError};
use kit::events::schema::{MemberEvent, MemberMerged, OrderEvent};
use kit::time::to_micros;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};

use crate::error::Error;
use crate::store::entities::member_alias;
use crate::store::{ledger, orders};

/// The member service's feed: a merge moves the merged member's accounts
/// (as MERGE_OUT/MERGE_IN entries, lots keeping their expiry) to the
/// survivor, and the merged id keeps resolving to it.
pub struct MemberFeed;

/// The position name of this consumer in the alliance database.
pub const MEMBER_FEED: &str = "alliance:member-feed";

#[async_trait]
impl EventHandler for MemberFeed {
    type Events = MemberEvent;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        _seq: i64,
        event: MemberEvent,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), HandlerError> {
        match event {
            MemberEvent::Merged(merged) => {
                record_alias(txn, &merged)
                    .await
                    .map_err(HandlerError::from)?;
                ledger::merge_member(
                    txn,
                    &merged.survivor_id,
                    &merged.merged_id,
                    &Actor::system("member-feed"),
                    to_micros(merged.merged_at),
                )
                .await
                .map_err(HandlerError::from)
            }
            // Ledgers are financial records: an erasure leaves them whole
            // (they name members by id only). Registrations, identities and
            // tiers earn nothing here.
            MemberEvent::Erased(_)
            | MemberEvent::Registered(_)
            | MemberEvent::IdentityLinked(_)
            | MemberEvent::TierChanged(_) => Ok(()),
        }
    }
}

/// The merged id, and every id merged into it before, now resolve to the
/// survivor.
async fn record_alias(txn: &DatabaseTransaction, merged: &MemberMerged) -> Result<(), Error> {
    member_alias::Entity::update_many()
        .col_expr(
            member_alias::Column::SurvivorId,
            Expr::value(merged.survivor_id.clone()),
        )
        .filter(member_alias::Column::SurvivorId.eq(merged.merged_id.as_str()))
        .exec(txn)
        .await?;
    member_alias::Entity::insert(member_alias::ActiveModel {
        merged_id: Set(merged.merged_id.clone()),
        survivor_id: Set(merged.survivor_id.clone()),
        merged_at: Set(to_micros(merged.merged_at)),
    })
    .on_conflict(
        OnConflict::column(member_alias::Column::MergedId)
            .update_column(member_alias::Column::SurvivorId)
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// The product service's feed: orders earn PENDING points per brand, whose
/// window starts at hand-over; refunds reverse them under each programme's
/// policy, cancellations entirely.
pub struct OrderFeed;

/// The position name of this consumer in the alliance database.
pub const ORDER_FEED: &str = "alliance:order-feed";

#[async_trait]
impl EventHandler for OrderFeed {
    type Events = OrderEvent;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        _seq: i64,
        event: OrderEvent,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), HandlerError> {
        let actor = Actor::system("order-feed");
        match event {
            OrderEvent::Placed(placed) => orders::on_order_placed(txn, &placed, &actor).await,
            OrderEvent::Fulfilled(fulfilled) => {
                orders::on_order_fulfilled(txn, &fulfilled, &actor).await
            }
            OrderEvent::Cancelled(cancelled) => {
                orders::on_order_cancelled(txn, &cancelled, &actor, now).await
            }
            OrderEvent::Refunded(refunded) => {
                orders::on_order_refunded(txn, &refunded, &actor, now).await
            }
        }
        .map_err(HandlerError::from)
    }
}
