//! What this service does with other services' events.

use async_trait::async_trait;
use kit::auth::Actor;
use kit::events::FeedEvent;
use kit::events::consumer::{EventHandler, HandlerError};
use kit::events::schema::{
    MemberMerged, MemberRegistered, OrderCancelled, OrderFulfilled, OrderPlaced, OrderRefunded,
};
use sea_orm::DatabaseTransaction;

use crate::domain::attribution::BindingCause;
use crate::store::{attribution, commissions};

/// The member service's feed: a registration through a guide's code binds
/// the member to that guide; a merge moves the binding to the survivor.
pub struct MemberFeed;

/// The position name of this consumer in the store database.
pub const MEMBER_FEED: &str = "store:member-feed";

#[async_trait]
impl EventHandler for MemberFeed {
    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        event: &FeedEvent,
    ) -> Result<(), HandlerError> {
        let actor = Actor::system("member-feed");
        if let Some(registered) = event.decode::<MemberRegistered>() {
            let registered = registered?;
            if let Some(code) = registered.guide_code {
                match attribution::bind_by_code(
                    txn,
                    &registered.member_id,
                    &code,
                    BindingCause::Registration,
                    &actor,
                )
                .await
                {
                    Ok(_) => {}
                    // The code names no active guide (mistyped, rotated, or the
                    // guide left): the member simply has no guide.
                    Err(err) if err.code() == kit::ErrorCode::NotFound => {
                        tracing::info!(seq = event.seq, "registration with an unknown guide code")
                    }
                    Err(err) => return Err(err.into()),
                }
            }
        } else if let Some(merged) = event.decode::<MemberMerged>() {
            let merged = merged?;
            attribution::merge(txn, &merged.survivor_id, &merged.merged_id, &actor)
                .await
                .map_err(HandlerError::from)?;
        }
        Ok(())
    }
}

/// The product service's feed: orders credit the bound guide; fulfilment
/// opens the after-sales window; cancellations and refunds reverse.
pub struct OrderFeed;

/// The position name of this consumer in the store database.
pub const ORDER_FEED: &str = "store:order-feed";

#[async_trait]
impl EventHandler for OrderFeed {
    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        event: &FeedEvent,
    ) -> Result<(), HandlerError> {
        let result = if let Some(placed) = event.decode::<OrderPlaced>() {
            commissions::on_order_placed(txn, &placed?)
                .await
                .map(|_| ())
        } else if let Some(fulfilled) = event.decode::<OrderFulfilled>() {
            commissions::on_order_fulfilled(txn, &fulfilled?).await
        } else if let Some(cancelled) = event.decode::<OrderCancelled>() {
            commissions::on_order_cancelled(txn, &cancelled?).await
        } else if let Some(refunded) = event.decode::<OrderRefunded>() {
            commissions::on_order_refunded(txn, &refunded?).await
        } else {
            Ok(())
        };
        result.map_err(HandlerError::from)
    }
}
