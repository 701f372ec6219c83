//! What this service does with other services' events.

use async_trait::async_trait;
use kit::auth::Actor;
use kit::events::consumer::{EventHandler, HandlerError};
use kit::events::schema::{
    BindingCause, MemberEvent, MemberMerged, OrderEvent, PartnerEvent, StoreEvent,
};
use kit::members::MemberDirectory;
use kit::time::to_micros;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};

use crate::domain::ledger::EntryKind;
use crate::domain::webhooks::WebhookEventType;
use crate::error::Error;
use crate::store::entities::member_alias;
use crate::store::registrations::{self, Introduction};
use crate::store::webhooks::{self, Announcement};
use crate::store::{ledger, orders};

/// The member service's feed: a merge moves the merged member's accounts
/// (as MERGE_OUT/MERGE_IN entries, lots keeping their expiry) to the
/// survivor, and the merged id keeps resolving to it. A registration
/// naming a referrer earns the brand's referral campaigns (segments asked
/// of the member directory, when one is given).
#[derive(Clone, Default)]
pub struct MemberFeed {
    members: Option<MemberDirectory>,
}

impl MemberFeed {
    /// A feed that asks `members` about segments.
    pub fn asking(members: MemberDirectory) -> Self {
        Self {
            members: Some(members),
        }
    }
}

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
        now: chrono::DateTime<chrono::Utc>,
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
                .map_err(HandlerError::from)?;
                // After the move: the survivor's accounts name the brands.
                let brands =
                    webhooks::brands_of_members(txn, std::slice::from_ref(&merged.survivor_id))
                        .await
                        .map_err(HandlerError::from)?;
                let announcement = Announcement {
                    event_type: WebhookEventType::MemberMerged,
                    data: serde_json::json!({
                        "survivorId": merged.survivor_id,
                        "mergedId": merged.merged_id,
                    }),
                    occurred_at: merged.merged_at,
                };
                webhooks::enqueue(txn, &brands, &announcement, now)
                    .await
                    .map_err(HandlerError::from)?;
                Ok(())
            }
            // Ledgers are financial records: an erasure leaves them whole
            // (they name members by id only); the brands holding accounts
            // are told, by id only.
            MemberEvent::Erased(erased) => {
                let ids = erased.member_ids();
                let brands = webhooks::brands_of_members(txn, &ids)
                    .await
                    .map_err(HandlerError::from)?;
                let announcement = Announcement {
                    event_type: WebhookEventType::MemberErased,
                    data: serde_json::json!({ "memberIds": ids }),
                    occurred_at: erased.erased_at,
                };
                webhooks::enqueue(txn, &brands, &announcement, now)
                    .await
                    .map_err(HandlerError::from)?;
                Ok(())
            }
            // A referral earns by the brand's referral campaigns.
            MemberEvent::Registered(registered) => {
                let (Some(referrer_id), Some(brand_id)) =
                    (&registered.referrer_id, &registered.brand_id)
                else {
                    return Ok(());
                };
                registrations::on_registered(
                    txn,
                    &registered.member_id,
                    brand_id,
                    registered.registered_at,
                    Introduction::Referral { referrer_id },
                    self.members.as_ref(),
                    &Actor::system("member-feed"),
                )
                .await
                .map_err(HandlerError::from)
            }
            // Identities and tiers earn nothing here.
            MemberEvent::IdentityLinked(_) | MemberEvent::TierChanged(_) => Ok(()),
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

/// The store service's feed: a member its guide bound on registering earns
/// the guide-registration campaigns of the guide's brand (as of when the
/// store service bound them; segments asked of the member directory, when
/// one is given).
#[derive(Clone, Default)]
pub struct StoreFeed {
    members: Option<MemberDirectory>,
}

impl StoreFeed {
    /// A feed that asks `members` about segments.
    pub fn asking(members: MemberDirectory) -> Self {
        Self {
            members: Some(members),
        }
    }
}

/// The position name of this consumer in the alliance database.
pub const STORE_FEED: &str = "alliance:store-feed";

#[async_trait]
impl EventHandler for StoreFeed {
    type Events = StoreEvent;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        _seq: i64,
        event: StoreEvent,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), HandlerError> {
        match event {
            StoreEvent::BindingChanged(changed) => {
                let (BindingCause::Registration, Some(brand_id), Some(_guide)) =
                    (changed.cause, &changed.brand_id, &changed.guide_id)
                else {
                    return Ok(());
                };
                registrations::on_registered(
                    txn,
                    &changed.member_id,
                    brand_id,
                    changed.changed_at,
                    Introduction::Guide,
                    self.members.as_ref(),
                    &Actor::system("store-feed"),
                )
                .await
                .map_err(HandlerError::from)
            }
        }
    }
}

/// The product service's feed: orders earn PENDING points per brand, whose
/// window starts at hand-over; refunds reverse them under each programme's
/// policy, cancellations entirely. Birthday months are asked of the member
/// directory, when one is given ([`OrderFeed::asking`]).
#[derive(Clone, Default)]
pub struct OrderFeed {
    members: Option<MemberDirectory>,
}

impl OrderFeed {
    /// A feed that asks `members` for birthday months.
    pub fn asking(members: MemberDirectory) -> Self {
        Self {
            members: Some(members),
        }
    }
}

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
            OrderEvent::Placed(placed) => {
                orders::on_order_placed(txn, &placed, self.members.as_ref(), &actor).await
            }
            OrderEvent::Fulfilled(fulfilled) => {
                orders::on_order_fulfilled(txn, &fulfilled, &actor).await
            }
            OrderEvent::Cancelled(cancelled) => {
                orders::on_order_cancelled(txn, &cancelled, &actor, now).await
            }
            OrderEvent::Refunded(refunded) => {
                orders::on_order_refunded(txn, &refunded, &actor, now).await
            }
            // Coupons earn nothing: orders carry what was paid.
            OrderEvent::CouponClaimed(_)
            | OrderEvent::CouponGiven(_)
            | OrderEvent::CouponUsed(_) => Ok(()),
        }
        .map_err(HandlerError::from)
    }
}

/// The alliance's own feed, read back from its outbox: each ledger entry,
/// expiry warning and change of terms becomes one delivery per endpoint
/// of the brands concerned that listens to its type
/// (`crate::webhooks` sends them). The consumer's position commits with the
/// deliveries, so an event is queued once, crash or not.
pub struct WebhookFanOut;

/// The position name of this consumer (and its reader name for pruning).
pub const WEBHOOK_FEED: &str = "alliance:webhooks";

#[async_trait]
impl EventHandler for WebhookFanOut {
    type Events = PartnerEvent;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        _seq: i64,
        event: PartnerEvent,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), HandlerError> {
        let (brands, announcement) = match event {
            PartnerEvent::PointsPosted(posted) => {
                let kind: EntryKind = serde_json::from_value(serde_json::json!(posted.kind))?;
                let Some(event_type) = WebhookEventType::of_entry(kind) else {
                    return Ok(());
                };
                let brands = webhooks::brands_of_programmes(txn, &[&posted.programme_id]).await?;
                let data = serde_json::json!({
                    "memberId": posted.member_id,
                    "accountId": posted.account_id,
                    "programmeId": posted.programme_id,
                    "entryId": posted.entry_id,
                    "points": posted.points,
                    "pendingPoints": posted.pending_points,
                    "balance": posted.balance_after,
                    "pendingBalance": posted.pending_after,
                    "reference": posted.reference,
                });
                (
                    brands,
                    Announcement {
                        event_type,
                        data,
                        occurred_at: posted.posted_at,
                    },
                )
            }
            PartnerEvent::PointsExpiringSoon(soon) => {
                let brands = webhooks::brands_of_programmes(txn, &[&soon.programme_id]).await?;
                let data = serde_json::json!({
                    "memberId": soon.member_id,
                    "accountId": soon.account_id,
                    "programmeId": soon.programme_id,
                    "lotId": soon.lot_id,
                    "points": soon.points,
                    "expiresAt": soon.expires_at,
                });
                let announcement = Announcement {
                    event_type: WebhookEventType::PointsExpiringSoon,
                    data,
                    occurred_at: now,
                };
                (brands, announcement)
            }
            PartnerEvent::TermsChanged(changed) => {
                let event_type = match changed.change.as_str() {
                    "PROPOSED" => WebhookEventType::TermsProposed,
                    "ACCEPTED" => WebhookEventType::TermsAccepted,
                    other => {
                        return Err(HandlerError::Rule(format!("no change of terms {other}")));
                    }
                };
                let brands = webhooks::brands_of_programmes(
                    txn,
                    &[&changed.from_programme_id, &changed.to_programme_id],
                )
                .await?;
                let data = serde_json::json!({
                    "termsId": changed.terms_id,
                    "fromProgrammeId": changed.from_programme_id,
                    "toProgrammeId": changed.to_programme_id,
                    "version": changed.version,
                    "side": changed.side,
                });
                (
                    brands,
                    Announcement {
                        event_type,
                        data,
                        occurred_at: changed.changed_at,
                    },
                )
            }
            PartnerEvent::StatementClosed(closed) => {
                let data = serde_json::json!({
                    "statementId": closed.statement_id,
                    "number": closed.number,
                    "period": closed.period,
                    "netFen": closed.net_fen,
                });
                let announcement = Announcement {
                    event_type: WebhookEventType::StatementClosed,
                    data,
                    occurred_at: closed.closed_at,
                };
                (vec![closed.brand_id], announcement)
            }
            // Revocations are for the other services' lists; a reward's
            // points went out as its REDEEM entry's POINTS_REDEEMED, and its
            // coupon is the product service's.
            PartnerEvent::KeyRevoked(_)
            | PartnerEvent::RewardRedeemed(_)
            | PartnerEvent::CouponGranted(_) => return Ok(()),
        };
        webhooks::enqueue(txn, &brands, &announcement, now).await?;
        Ok(())
    }
}
