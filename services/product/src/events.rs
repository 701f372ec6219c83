//! What this service does with other services' events.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kit::events::consumer::{EventHandler, HandlerError};
use kit::events::schema::{MemberEvent, PartnerEvent};
use sea_orm::DatabaseTransaction;

use crate::store::{coupons, export, orders};

/// The member service's feed: an erasure clears where the member's orders
/// were delivered (the orders themselves are financial records and stay);
/// a merge gives the merged member's orders and coupons to the survivor.
pub struct MemberFeed;

/// The position name of this consumer in the product database.
pub const MEMBER_FEED: &str = "product:member-feed";

#[async_trait]
impl EventHandler for MemberFeed {
    type Events = MemberEvent;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        seq: i64,
        event: MemberEvent,
        _now: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        match event {
            MemberEvent::Erased(erased) => {
                let cleared = export::erase_personal(txn, &erased.member_ids())
                    .await
                    .map_err(HandlerError::from)?;
                tracing::info!(seq, cleared, "erasure: delivery locations cleared");
                Ok(())
            }
            MemberEvent::Merged(merged) => {
                let moved = orders::merge_member(txn, &merged.survivor_id, &merged.merged_id)
                    .await
                    .map_err(HandlerError::from)?;
                let coupons = coupons::merge_member(txn, &merged.survivor_id, &merged.merged_id)
                    .await
                    .map_err(HandlerError::from)?;
                tracing::info!(
                    seq,
                    moved,
                    coupons,
                    "merge: orders and coupons moved to the survivor"
                );
                Ok(())
            }
            MemberEvent::Registered(_)
            | MemberEvent::IdentityLinked(_)
            | MemberEvent::TierChanged(_) => Ok(()),
        }
    }
}

/// The alliance's feed: revoked partner keys (this database's copy of the
/// list), and redeemed rewards, whose coupons are issued here.
pub struct AllianceFeed;

#[async_trait]
impl EventHandler for AllianceFeed {
    type Events = PartnerEvent;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        seq: i64,
        event: PartnerEvent,
        _now: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        match event {
            PartnerEvent::KeyRevoked(revoked) => Ok(kit::revocation::record(txn, &revoked).await?),
            PartnerEvent::RewardRedeemed(redeemed) => {
                let issued = coupons::issue(txn, &redeemed)
                    .await
                    .map_err(HandlerError::from)?;
                tracing::info!(seq, issued, "reward redeemed: coupon issued");
                Ok(())
            }
            PartnerEvent::CouponGranted(granted) => {
                let issued = coupons::issue_granted(txn, &granted)
                    .await
                    .map_err(HandlerError::from)?;
                tracing::info!(seq, issued, "coupon granted: coupon issued");
                Ok(())
            }
            PartnerEvent::PointsPosted(_)
            | PartnerEvent::PointsExpiringSoon(_)
            | PartnerEvent::TermsChanged(_)
            | PartnerEvent::StatementClosed(_) => Ok(()),
        }
    }
}
