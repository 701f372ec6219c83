//! What this service does with other services' events.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kit::events::consumer::{EventHandler, HandlerError};
use kit::events::schema::MemberEvent;
use sea_orm::DatabaseTransaction;

use crate::store::{export, orders};

/// The member service's feed: an erasure clears where the member's orders
/// were delivered (the orders themselves are financial records and stay);
/// a merge gives the merged member's orders to the survivor.
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
                tracing::info!(seq, moved, "merge: orders moved to the survivor");
                Ok(())
            }
            MemberEvent::Registered(_)
            | MemberEvent::IdentityLinked(_)
            | MemberEvent::TierChanged(_) => Ok(()),
        }
    }
}
