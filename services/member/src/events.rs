//! What this service does with other services' events: the facts segments
//! read, and the touchpoints of coupons (claimed, shared, used). Orders (the product service's feed) become purchases; ledger
//! entries (the alliance's feed) become points balances; bindings (the
//! store service's feed) become the store each member is bound to; the
//! alliance's revoked keys join this database's list.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kit::auth::Actor;
use kit::events::consumer::{EventHandler, HandlerError};
use kit::events::schema::{OrderEvent, PartnerEvent, StoreEvent};
use sea_orm::DatabaseTransaction;
use serde_json::json;

use crate::domain::touchpoint::TouchpointKind;
use crate::store::{record_reported, segments};

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
        now: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        let actor = Actor::system("order-feed");
        match event {
            OrderEvent::Placed(placed) => segments::order_placed(txn, &placed).await,
            OrderEvent::Cancelled(cancelled) => segments::order_cancelled(txn, &cancelled).await,
            OrderEvent::Refunded(refunded) => segments::order_refunded(txn, &refunded).await,
            OrderEvent::Fulfilled(_) => Ok(()),
            OrderEvent::CouponClaimed(c) => {
                record_reported(
                    txn,
                    &c.member_id,
                    TouchpointKind::CouponClaimed,
                    c.channel,
                    None,
                    c.claimed_at,
                    json!({ "couponId": c.coupon_id, "brandId": c.brand_id }),
                    &actor,
                    now,
                )
                .await
            }
            // Both members' touchpoints: who gave it, and who received it.
            OrderEvent::CouponGiven(c) => {
                for (member, attributes) in [
                    (
                        &c.from_member_id,
                        json!({ "couponId": c.coupon_id, "brandId": c.brand_id, "toMemberId": c.to_member_id }),
                    ),
                    (
                        &c.to_member_id,
                        json!({ "couponId": c.coupon_id, "brandId": c.brand_id, "fromMemberId": c.from_member_id }),
                    ),
                ] {
                    record_reported(
                        txn,
                        member,
                        TouchpointKind::CouponShared,
                        c.channel,
                        None,
                        c.given_at,
                        attributes,
                        &actor,
                        now,
                    )
                    .await
                    .map_err(HandlerError::from)?;
                }
                Ok(())
            }
            OrderEvent::CouponUsed(c) => {
                record_reported(
                    txn,
                    &c.member_id,
                    TouchpointKind::CouponUsed,
                    c.channel,
                    c.store_id.as_deref(),
                    c.used_at,
                    json!({ "couponId": c.coupon_id, "brandId": c.brand_id, "orderId": c.order_id }),
                    &actor,
                    now,
                )
                .await
            }
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
            | PartnerEvent::RewardRedeemed(_)
            | PartnerEvent::CouponGranted(_) => Ok(()),
        }
    }
}
