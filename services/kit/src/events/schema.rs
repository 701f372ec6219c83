//! The event schema shared by producers and consumers. Payloads carry ids and
//! facts, never personal data (names, phones, e-mails, external ids), so the
//! outbox needs no erasure.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DomainEvent;

/// A member registered; `guide_code` is the QR code they came through, if
/// any (the store service validates it and attributes the member).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRegistered {
    pub member_id: String,
    pub channel: crate::channel::Channel,
    pub guide_code: Option<String>,
    pub brand_id: Option<String>,
    pub registered_at: DateTime<Utc>,
    /// The member who referred them, if any (checked to exist when they
    /// registered). Absent in events written before the field existed.
    #[serde(default)]
    pub referrer_id: Option<String>,
}

impl DomainEvent for MemberRegistered {
    const KIND: &'static str = "MemberRegistered";
}

/// A channel identity was linked to a member (the external id is not carried).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityLinked {
    pub member_id: String,
    pub channel: crate::channel::Channel,
    pub brand_id: Option<String>,
}

impl DomainEvent for IdentityLinked {
    const KIND: &'static str = "IdentityLinked";
}

/// Two member records were one person: everything of `merged_id` now belongs
/// to `survivor_id`, and `merged_id` resolves to it. Consumers move what they
/// hold for `merged_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberMerged {
    pub survivor_id: String,
    pub merged_id: String,
    pub merged_at: DateTime<Utc>,
}

impl DomainEvent for MemberMerged {
    const KIND: &'static str = "MemberMerged";
}

/// A member's personal data was erased. Consumers drop personal data they
/// hold for the member and keep financial records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberErased {
    pub member_id: String,
    /// Ids merged into the member before: other services may hold the
    /// member's data under them. Absent in events written before the field
    /// existed.
    #[serde(default)]
    pub merged_ids: Vec<String>,
    pub erased_at: DateTime<Utc>,
}

impl MemberErased {
    /// Every id the member's data may be held under.
    pub fn member_ids(&self) -> Vec<String> {
        std::iter::once(self.member_id.clone())
            .chain(self.merged_ids.iter().cloned())
            .collect()
    }
}

impl DomainEvent for MemberErased {
    const KIND: &'static str = "MemberErased";
}

/// A member's tier changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierChanged {
    pub member_id: String,
    pub from_tier: Option<String>,
    pub to_tier: String,
    /// GROWTH, OPERATOR or MERGE.
    pub cause: String,
}

impl DomainEvent for TierChanged {
    const KIND: &'static str = "TierChanged";
}

crate::stored_enum! {
    /// Why a member's binding to a store (and guide) changed.
    #[derive(async_graphql::Enum)]
    pub enum BindingCause {
        /// They registered through a guide's code.
        Registration,
        /// A guide scanned their code.
        Scan,
        /// An operator rebound them.
        Operator,
        /// Their guide left (moved to the store, or released).
        GuideDeparted,
        /// Members were merged.
        Merge,
    }
}

/// A member's binding to a store and guide changed (the store service's
/// attribution). `store_id` and `guide_id` are the binding now: both absent
/// when released. `brand_id` is the store's brand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingChanged {
    pub member_id: String,
    pub store_id: Option<String>,
    pub guide_id: Option<String>,
    pub brand_id: Option<String>,
    pub cause: BindingCause,
    /// When the binding lapses, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    pub changed_at: DateTime<Utc>,
}

impl DomainEvent for BindingChanged {
    const KIND: &'static str = "BindingChanged";
}

/// One line of an order, as the product service reports it. Money in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub line_id: String,
    pub sku_id: String,
    pub brand_id: String,
    pub quantity: i64,
    pub unit_price_fen: i64,
    /// Paid for the line: unit price × quantity.
    pub amount_fen: i64,
    /// Where the stock came from (a store or warehouse id).
    pub source_location_id: Option<String>,
    /// The product's category, e.g. `coffee/beans` (absent in events
    /// written before categories were carried).
    #[serde(default)]
    pub category_id: Option<String>,
}

/// An order was placed (stock reserved, paid amounts known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    pub order_id: String,
    pub member_id: Option<String>,
    pub channel: crate::channel::Channel,
    pub store_id: Option<String>,
    /// SHIP, PICKUP_IN_STORE or IN_STORE.
    pub fulfilment: String,
    pub lines: Vec<OrderLine>,
    pub total_fen: i64,
    pub placed_at: DateTime<Utc>,
}

impl DomainEvent for OrderPlaced {
    const KIND: &'static str = "OrderPlaced";
}

/// The order was handed over; its after-sales window starts now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFulfilled {
    pub order_id: String,
    pub member_id: Option<String>,
    pub fulfilled_at: DateTime<Utc>,
}

impl DomainEvent for OrderFulfilled {
    const KIND: &'static str = "OrderFulfilled";
}

/// The order was cancelled before fulfilment (nothing was sold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    pub order_id: String,
    pub member_id: Option<String>,
    pub cancelled_at: DateTime<Utc>,
}

impl DomainEvent for OrderCancelled {
    const KIND: &'static str = "OrderCancelled";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundedLine {
    pub line_id: String,
    pub quantity: i64,
    pub amount_fen: i64,
}

/// Part or all of an order was refunded. `lines` are this refund's only;
/// `fully_refunded` says whether nothing of the order remains sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRefunded {
    pub order_id: String,
    pub refund_id: String,
    pub member_id: Option<String>,
    pub lines: Vec<RefundedLine>,
    pub amount_fen: i64,
    pub fully_refunded: bool,
    pub refunded_at: DateTime<Utc>,
}

impl DomainEvent for OrderRefunded {
    const KIND: &'static str = "OrderRefunded";
}

/// An operator revoked a partner's API key: tokens minted from it stop
/// working at every service that has applied this event (each keeps a
/// revocation list, [`crate::revocation`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerKeyRevoked {
    pub key_id: String,
    pub brand_id: String,
    pub revoked_at: DateTime<Utc>,
}

impl DomainEvent for PartnerKeyRevoked {
    const KIND: &'static str = "PartnerKeyRevoked";
}

/// A ledger entry was written: points earned, activated, redeemed,
/// reversed, expired, adjusted, exchanged or moved by a merge. One event per
/// entry, in the entry's transaction. Amounts in points; `kind` is the
/// entry kind's stored name (`EARN`, `EXCHANGE_OUT`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointsPosted {
    pub entry_id: String,
    pub account_id: String,
    pub programme_id: String,
    pub member_id: String,
    pub kind: String,
    /// Change to the active balance.
    pub points: i64,
    /// Change to the pending balance.
    pub pending_points: i64,
    pub balance_after: i64,
    pub pending_after: i64,
    /// The order, exchange or reversal the entry belongs to.
    pub reference: String,
    pub posted_at: DateTime<Utc>,
}

impl DomainEvent for PointsPosted {
    const KIND: &'static str = "PointsPosted";
}

/// A lot of active points will expire within the programme's warning
/// window; published once per lot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointsExpiringSoon {
    pub lot_id: String,
    pub account_id: String,
    pub programme_id: String,
    pub member_id: String,
    /// What is left of the lot, in points.
    pub points: i64,
    pub expires_at: DateTime<Utc>,
}

impl DomainEvent for PointsExpiringSoon {
    const KIND: &'static str = "PointsExpiringSoon";
}

/// Exchange terms between two programmes were proposed (a new version) or
/// accepted by one side (`side`: `FROM` or `TO`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeTermsChanged {
    pub terms_id: String,
    pub from_programme_id: String,
    pub to_programme_id: String,
    pub version: i64,
    /// `PROPOSED` or `ACCEPTED`.
    pub change: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
    pub changed_at: DateTime<Utc>,
}

impl DomainEvent for ExchangeTermsChanged {
    const KIND: &'static str = "ExchangeTermsChanged";
}

/// An operator closed a brand's clearing statement for a month: numbered,
/// immutable, ready to settle. Amounts in fen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClearingStatementClosed {
    pub statement_id: String,
    pub brand_id: String,
    pub number: i64,
    /// YYYY-MM in the brand programme's zone.
    pub period: String,
    /// Receivable minus payable: positive when the alliance owes the brand.
    pub net_fen: i64,
    pub closed_at: DateTime<Utc>,
}

impl DomainEvent for ClearingStatementClosed {
    const KIND: &'static str = "ClearingStatementClosed";
}

/// What a coupon takes off an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum CouponBenefit {
    /// A fixed amount off the lines it applies to, in fen.
    AmountOff { amount_fen: i64 },
    /// A percentage (1-100) off the lines it applies to, at most `cap_fen`.
    PercentOff { percent: i64, cap_fen: Option<i64> },
    /// One unit of the SKU free, when the order holds it.
    FreeItem { sku_id: String },
}

crate::stored_enum! {
    /// What kind of thing a coupon takes off.
    #[derive(async_graphql::Enum, Hash)]
    pub enum CouponKind {
        /// A fixed amount off, in fen.
        AmountOff,
        /// A percentage off, up to a cap.
        PercentOff,
        /// One unit of a SKU free.
        FreeItem,
    }
}

impl CouponBenefit {
    pub fn kind(&self) -> CouponKind {
        match self {
            CouponBenefit::AmountOff { .. } => CouponKind::AmountOff,
            CouponBenefit::PercentOff { .. } => CouponKind::PercentOff,
            CouponBenefit::FreeItem { .. } => CouponKind::FreeItem,
        }
    }
}

/// A coupon's terms: what it takes off, from which lines, from what spend,
/// for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CouponTerms {
    pub benefit: CouponBenefit,
    /// What the lines it applies to must come to first, in fen.
    pub min_spend_fen: i64,
    /// The lines it applies to: of these brands (none named: the issuing
    /// brand's), and if named, of these SKUs, and under these categories.
    pub brand_ids: Vec<String>,
    pub sku_ids: Vec<String>,
    pub category_ids: Vec<String>,
    /// Valid this many days from its issue.
    pub valid_days: i64,
    /// Whether a fully refunded order gives the coupon back.
    pub restore_on_refund: bool,
}

/// A coupon issued to a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCoupon {
    pub coupon_id: String,
    /// What the member shows or types: unguessable.
    pub code: String,
    /// The brand that issued it.
    pub brand_id: String,
    pub terms: CouponTerms,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
}

/// A member redeemed points for a reward: the points are debited, and the
/// coupon (or the gift to collect) is theirs. The product service issues
/// the coupon from this event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardRedeemed {
    pub redemption_id: String,
    pub reward_id: String,
    pub programme_id: String,
    pub brand_id: String,
    pub member_id: String,
    pub points: i64,
    pub coupon: Option<IssuedCoupon>,
    pub redeemed_at: DateTime<Utc>,
}

impl DomainEvent for RewardRedeemed {
    const KIND: &'static str = "RewardRedeemed";
}

/// A brand gave a member a coupon without points: one of a coupon drop to
/// a segment. The product service issues the coupon from this event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CouponGranted {
    /// The grant (one per member and drop).
    pub grant_id: String,
    pub drop_id: String,
    /// The reward whose coupon terms it carries.
    pub reward_id: String,
    pub programme_id: String,
    pub brand_id: String,
    pub member_id: String,
    pub coupon: IssuedCoupon,
    pub granted_at: DateTime<Utc>,
}

impl DomainEvent for CouponGranted {
    const KIND: &'static str = "CouponGranted";
}

/// Declares the one type of a feed's events: an enum with a variant per
/// event type, decoded by the type's name on the wire.
macro_rules! feed_events {
    ($(#[$doc:meta])* $name:ident { $($variant:ident($event:ty)),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name {
            $($variant($event)),+
        }

        impl $name {
            /// The event's type name on the wire.
            pub fn kind(&self) -> &'static str {
                match self {
                    $($name::$variant(_) => <$event as super::DomainEvent>::KIND),+
                }
            }
        }

        impl super::FeedEvents for $name {
            fn decode(event: &super::FeedEvent) -> Result<Self, serde_json::Error> {
                $(
                    if event.kind == <$event as super::DomainEvent>::KIND {
                        return serde_json::from_value(event.payload.clone()).map($name::$variant);
                    }
                )+
                Err(<serde_json::Error as serde::de::Error>::custom(format!(
                    "the {} feed carries no event of type {}",
                    stringify!($name),
                    event.kind
                )))
            }
        }
    };
}

feed_events! {
    /// Everything the member service's feed carries.
    MemberEvent {
        Registered(MemberRegistered),
        IdentityLinked(IdentityLinked),
        Merged(MemberMerged),
        Erased(MemberErased),
        TierChanged(TierChanged),
    }
}

/// A member kept a coupon in their wallet (ISSUED → CLAIMED), through
/// `channel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CouponClaimed {
    pub coupon_id: String,
    pub member_id: String,
    /// The brand that issued it.
    pub brand_id: String,
    pub channel: crate::channel::Channel,
    pub claimed_at: DateTime<Utc>,
}

impl DomainEvent for CouponClaimed {
    const KIND: &'static str = "CouponClaimed";
}

/// A member gave an unclaimed coupon to another member, through `channel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CouponGiven {
    pub coupon_id: String,
    pub from_member_id: String,
    pub to_member_id: String,
    pub brand_id: String,
    pub channel: crate::channel::Channel,
    pub given_at: DateTime<Utc>,
}

impl DomainEvent for CouponGiven {
    const KIND: &'static str = "CouponGiven";
}

/// A coupon was spent: the order holding it was handed over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CouponUsed {
    pub coupon_id: String,
    pub member_id: String,
    pub brand_id: String,
    pub order_id: String,
    /// The order's channel and store.
    pub channel: crate::channel::Channel,
    pub store_id: Option<String>,
    pub used_at: DateTime<Utc>,
}

impl DomainEvent for CouponUsed {
    const KIND: &'static str = "CouponUsed";
}

feed_events! {
    /// Everything the store service's feed carries.
    StoreEvent {
        BindingChanged(BindingChanged),
    }
}

feed_events! {
    /// Everything the product service's feed carries: orders, and what
    /// members do with coupons.
    OrderEvent {
        Placed(OrderPlaced),
        Fulfilled(OrderFulfilled),
        Cancelled(OrderCancelled),
        Refunded(OrderRefunded),
        CouponClaimed(CouponClaimed),
        CouponGiven(CouponGiven),
        CouponUsed(CouponUsed),
    }
}

feed_events! {
    /// Everything the alliance service's feed carries.
    PartnerEvent {
        KeyRevoked(PartnerKeyRevoked),
        PointsPosted(PointsPosted),
        PointsExpiringSoon(PointsExpiringSoon),
        TermsChanged(ExchangeTermsChanged),
        StatementClosed(ClearingStatementClosed),
        RewardRedeemed(RewardRedeemed),
        CouponGranted(CouponGranted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{FeedEvent, FeedEvents};

    #[test]
    fn binding_cause_stored_names_stay() {
        crate::testing::stored_names_hold(&[
            (BindingCause::Registration, "REGISTRATION"),
            (BindingCause::Scan, "SCAN"),
            (BindingCause::Operator, "OPERATOR"),
            (BindingCause::GuideDeparted, "GUIDE_DEPARTED"),
            (BindingCause::Merge, "MERGE"),
        ]);
    }

    fn on_the_wire<E: DomainEvent>(event: &E) -> FeedEvent {
        FeedEvent {
            seq: 1,
            id: "e-1".into(),
            kind: E::KIND.into(),
            occurred_at: DateTime::<Utc>::UNIX_EPOCH,
            payload: serde_json::to_value(event).unwrap(),
        }
    }

    #[test]
    fn each_event_decodes_to_its_variant_and_a_stranger_is_an_error() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let erased = MemberErased {
            member_id: "m-1".into(),
            merged_ids: vec!["m-0".into()],
            erased_at: at,
        };
        let decoded = MemberEvent::decode(&on_the_wire(&erased)).unwrap();
        assert_eq!(decoded, MemberEvent::Erased(erased.clone()));
        assert_eq!(decoded.kind(), "MemberErased");
        let merged = MemberMerged {
            survivor_id: "m-1".into(),
            merged_id: "m-2".into(),
            merged_at: at,
        };
        assert_eq!(
            MemberEvent::decode(&on_the_wire(&merged)).unwrap(),
            MemberEvent::Merged(merged)
        );
        let cancelled = OrderCancelled {
            order_id: "o-1".into(),
            member_id: None,
            cancelled_at: at,
        };
        assert_eq!(
            OrderEvent::decode(&on_the_wire(&cancelled)).unwrap(),
            OrderEvent::Cancelled(cancelled)
        );

        // An order event on the member feed, a payload of the wrong shape.
        let stranger = OrderEvent::decode(&on_the_wire(&erased)).unwrap_err();
        assert!(
            stranger
                .to_string()
                .contains("no event of type MemberErased"),
            "{stranger}"
        );
        let mut broken = on_the_wire(&erased);
        broken.payload = serde_json::json!({ "memberId": 7 });
        assert!(MemberEvent::decode(&broken).is_err());
        // Written before `mergedIds` existed: still an erasure.
        let mut older = on_the_wire(&erased);
        older.payload = serde_json::json!({ "memberId": "m-1", "erasedAt": at });
        let MemberEvent::Erased(old) = MemberEvent::decode(&older).unwrap() else {
            panic!("an erasure");
        };
        assert_eq!(old.member_ids(), ["m-1"]);
        // Written before `referrerId` existed: referred by nobody.
        let registered = FeedEvent {
            seq: 1,
            id: "e-2".into(),
            kind: MemberRegistered::KIND.into(),
            occurred_at: at,
            payload: serde_json::json!({
                "memberId": "m-3", "channel": "APP", "guideCode": null, "brandId": "coffee",
                "registeredAt": at,
            }),
        };
        let MemberEvent::Registered(old) = MemberEvent::decode(&registered).unwrap() else {
            panic!("a registration");
        };
        assert_eq!(old.referrer_id, None);
        let bound = BindingChanged {
            member_id: "m-3".into(),
            store_id: Some("s-1".into()),
            guide_id: None,
            brand_id: Some("coffee".into()),
            cause: BindingCause::GuideDeparted,
            expires_at: None,
            changed_at: at,
        };
        let wire = on_the_wire(&bound);
        assert_eq!(wire.payload["cause"], "GUIDE_DEPARTED");
        assert_eq!(
            StoreEvent::decode(&wire).unwrap(),
            StoreEvent::BindingChanged(bound)
        );
    }
}
