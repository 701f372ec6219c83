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
