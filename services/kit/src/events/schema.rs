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
    pub channel: String,
    pub guide_code: Option<String>,
    pub brand_id: Option<String>,
    pub registered_at: DateTime<Utc>,
}

impl DomainEvent for MemberRegistered {
    const KIND: &'static str = "MemberRegistered";
}

/// A channel identity was linked to a member (the external id is not carried).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityLinked {
    pub member_id: String,
    pub channel: String,
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
    pub erased_at: DateTime<Utc>,
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
}

/// An order was placed (stock reserved, paid amounts known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    pub order_id: String,
    pub member_id: Option<String>,
    /// APP, WECHAT_MINI_PROGRAM, ECOMMERCE, STORE_POS...
    pub channel: String,
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
