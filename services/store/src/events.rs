//! What this service does with other services' events.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kit::auth::Actor;
use kit::events::consumer::{EventHandler, HandlerError, caught_up_at};
use kit::events::schema::{MemberEvent, OrderEvent, OrderPlaced};
use kit::time::to_micros;
use sea_orm::DatabaseTransaction;

use crate::domain::attribution::{BindingCause, binding_settled};
use crate::store::attribution::{self, OrderAttribution};
use crate::store::commissions;

/// The member service's feed: a registration through a guide's code binds
/// the member to that guide; a merge moves the binding to the survivor (the
/// merged id's orders still credit the guide it had: see
/// `attribution::order_attribution`); an erasure drops favourite stores and
/// staff's free-text reasons (`store::export::erase_personal`).
pub struct MemberFeed;

/// The position name of this consumer in the store database.
pub const MEMBER_FEED: &str = "store:member-feed";

#[async_trait]
impl EventHandler for MemberFeed {
    type Events = MemberEvent;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        seq: i64,
        event: MemberEvent,
        now: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        let actor = Actor::system("member-feed");
        match event {
            MemberEvent::Registered(registered) => {
                let Some(code) = registered.guide_code else {
                    return Ok(());
                };
                match attribution::bind_by_code(
                    txn,
                    &registered.member_id,
                    &code,
                    BindingCause::Registration,
                    &actor,
                    now,
                )
                .await
                {
                    Ok(_) => Ok(()),
                    // The code names no active guide (mistyped, rotated, or the
                    // guide left): the member simply has no guide.
                    Err(err) if err.code() == kit::ErrorCode::NotFound => {
                        tracing::info!(seq, "registration with an unknown guide code");
                        Ok(())
                    }
                    Err(err) => Err(err.into()),
                }
            }
            MemberEvent::Merged(merged) => {
                attribution::merge(txn, &merged.survivor_id, &merged.merged_id, &actor, now)
                    .await
                    .map_err(HandlerError::from)
            }
            MemberEvent::Erased(erased) => {
                crate::store::export::erase_personal(txn, &erased.member_ids())
                    .await
                    .map_err(HandlerError::from)
            }
            // Identities and tiers do not change who a member's guide is.
            MemberEvent::IdentityLinked(_) | MemberEvent::TierChanged(_) => Ok(()),
        }
    }
}

/// The product service's feed: orders credit the bound guide; fulfilment
/// opens the after-sales window; cancellations and refunds reverse.
///
/// The two feeds are read independently, so an order may arrive before the
/// registration that binds its member. An order of a member bound to nobody
/// therefore waits (holding the feed behind it) until the member feed has
/// been read past the order's time; see [`binding_settled`].
pub struct OrderFeed {
    /// The position name of this database's member-feed consumer; `None`
    /// when no member feed is read here, so nothing could ever bind and no
    /// order waits.
    pub waits_for: Option<&'static str>,
}

impl OrderFeed {
    /// Whom `order` is attributed to, once that is settled: at once for a
    /// member known here, or for an order with no member; for a member bound
    /// to nobody here, only after the member feed is read past the order.
    async fn settled_attribution(
        &self,
        txn: &DatabaseTransaction,
        order: &OrderPlaced,
    ) -> Result<Option<OrderAttribution>, HandlerError> {
        let Some(member_id) = &order.member_id else {
            return Ok(None);
        };
        let known = attribution::order_attribution(txn, member_id).await?;
        let Some(member_feed) = self.waits_for.filter(|_| known.is_none()) else {
            return Ok(known);
        };
        let caught_up = caught_up_at(txn, member_feed).await?.map(to_micros);
        if binding_settled(to_micros(order.placed_at), caught_up) {
            Ok(None)
        } else {
            Err(HandlerError::NotYet(format!(
                "order {} waits until the member feed is read past it",
                order.order_id
            )))
        }
    }
}

/// The position name of this consumer in the store database.
pub const ORDER_FEED: &str = "store:order-feed";

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
        match event {
            OrderEvent::Placed(placed) => {
                let guide = self
                    .settled_attribution(txn, &placed)
                    .await?
                    .and_then(|a| a.guide_id);
                commissions::on_order_placed(txn, &placed, guide.as_deref(), now)
                    .await
                    .map(|_| ())
            }
            OrderEvent::Fulfilled(fulfilled) => {
                commissions::on_order_fulfilled(txn, &fulfilled, now).await
            }
            OrderEvent::Cancelled(cancelled) => {
                commissions::on_order_cancelled(txn, &cancelled, now).await
            }
            OrderEvent::Refunded(refunded) => {
                commissions::on_order_refunded(txn, &refunded, now).await
            }
            // Coupons change no guide's commission: orders carry what was
            // paid.
            OrderEvent::CouponClaimed(_)
            | OrderEvent::CouponGiven(_)
            | OrderEvent::CouponUsed(_) => Ok(()),
        }
        .map_err(HandlerError::from)
    }
}
