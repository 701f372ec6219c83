//! What this service does with other services' events: the facts segments
//! read. Orders (the product service's feed) become purchases; ledger
//! entries (the alliance's feed) become points balances; bindings (the
//! store service's feed) become the store each member is bound to; the
//! alliance's revoked keys join this database's list.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kit::events::consumer::{EventHandler, HandlerError};
use kit::events::schema::{OrderEvent, PartnerEvent, StoreEvent};
use sea_orm::DatabaseTransaction;

use crate::store::segments;

/// The product service's order feed.
pub struct OrderFeed;

/// The position name of this consumer in the member database.
pub const ORDER_FEED: &str = "member:order-feed";

#[async_trait]
impl EventHandler for OrderFeed {
    type Events = OrderEvent;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        _seq: i64,
        event: OrderEvent,
        _now: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        match event {
            OrderEvent::Placed(placed) => segments::order_placed(txn, &placed).await,
            OrderEvent::Cancelled(cancelled) => segments::order_cancelled(txn, &cancelled).await,
            OrderEvent::Refunded(refunded) => segments::order_refunded(txn, &refunded).await,
            OrderEvent::Fulfilled(_) => Ok(()),
        }
        .map_err(HandlerError::from)
    }
}

/// The store service's feed: which store each member is bound to.
pub struct StoreFeed;

/// The position name of this consumer in the member database.
pub const STORE_FEED: &str = "member:store-feed";

#[async_trait]
impl EventHandler for StoreFeed {
    type Events = StoreEvent;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        _seq: i64,
        event: StoreEvent,
        _now: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        match event {
            StoreEvent::BindingChanged(changed) => segments::binding_changed(txn, &changed).await,
        }
        .map_err(HandlerError::from)
    }
}

/// The alliance's feed: points balances, and revoked partner keys.
pub struct AllianceFeed;

#[async_trait]
impl EventHandler for AllianceFeed {
    type Events = PartnerEvent;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        _seq: i64,
        event: PartnerEvent,
        _now: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        match event {
            PartnerEvent::KeyRevoked(revoked) => Ok(kit::revocation::record(txn, &revoked).await?),
            PartnerEvent::PointsPosted(posted) => segments::points_posted(txn, &posted)
                .await
                .map_err(HandlerError::from),
            PartnerEvent::PointsExpiringSoon(_)
            | PartnerEvent::TermsChanged(_)
            | PartnerEvent::StatementClosed(_)
            | PartnerEvent::RewardRedeemed(_) => Ok(()),
        }
    }
}
