//! GraphQL inputs, each parsed at the edge into the domain's checked types.

use async_graphql::{ID, InputObject, Json};
use chrono::{DateTime, NaiveDate, Utc};
use kit::Long;

use crate::domain::MemberStatus;
use crate::domain::identity::{Channel, ExternalId, ForeignId, GuideCode, NewIdentity};
use crate::domain::profile::{Birthday, Email, Gender, PersonName, PhoneNumber, ProfilePatch};
use crate::domain::tier::TierCode;
use crate::domain::touchpoint::{TouchpointKind, check_attributes, check_occurred_at};
use crate::error::{Error, Result};
use crate::store::{MemberFilter, NewTouchpoint, Registration};
use kit::time::to_micros;

/// A channel account.
#[derive(InputObject, Clone)]
pub struct IdentityInput {
    pub channel: Channel,
    /// The id the channel knows the person by (openid, account, card number).
    pub external_id: String,
    /// The brand whose channel account this is. Staff and partners may omit
    /// it: their own brand is used.
    pub brand_id: Option<String>,
}

impl IdentityInput {
    pub fn parse(self) -> Result<NewIdentity> {
        Ok(NewIdentity {
            channel: self.channel,
            external_id: ExternalId::parse("externalId", &self.external_id)?,
            brand_id: self
                .brand_id
                .as_deref()
                .map(|b| ForeignId::parse("brandId", b))
                .transpose()?,
        })
    }
}

#[derive(InputObject)]
pub struct RegisterMemberInput {
    /// The first identity. Registering the same identity again returns the
    /// same member.
    pub identity: IdentityInput,
    /// Any common format; numbers without a country code are Chinese. A phone
    /// already held by a member links this identity to that member.
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub gender: Option<Gender>,
    /// The guide QR code the member came through.
    pub guide_code: Option<String>,
    /// The member who referred them (an active member of the same
    /// environment; a merged one's survivor is recorded). Only a new member
    /// records it: an identity already registered, or linked by phone,
    /// ignores it.
    pub referrer_id: Option<ID>,
}

impl RegisterMemberInput {
    /// `now`: by the service's clock (a birthday cannot be after today).
    pub fn parse(self, now: DateTime<Utc>) -> Result<Registration> {
        Ok(Registration {
            identity: self.identity.parse()?,
            phone: self.phone.as_deref().map(PhoneNumber::parse).transpose()?,
            email: self.email.as_deref().map(Email::parse).transpose()?,
            name: self.name.as_deref().map(PersonName::parse).transpose()?,
            birthday: self.birthday.map(|b| Birthday::parse(b, now)).transpose()?,
            gender: self.gender,
            guide_code: self
                .guide_code
                .as_deref()
                .map(GuideCode::parse)
                .transpose()?,
            referrer_id: self
                .referrer_id
                .map(|id| ForeignId::parse("referrerId", &id.0))
                .transpose()?,
            // The resolver sets the caller's.
            environment: kit::auth::Environment::Live,
        })
    }
}

/// Fields to change; omitted fields stay as they are.
#[derive(InputObject)]
pub struct ProfileInput {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub gender: Option<Gender>,
}

impl ProfileInput {
    /// `now`: by the service's clock (a birthday cannot be after today).
    pub fn parse(self, now: DateTime<Utc>) -> Result<ProfilePatch> {
        let patch = ProfilePatch {
            name: self.name.as_deref().map(PersonName::parse).transpose()?,
            phone: self.phone.as_deref().map(PhoneNumber::parse).transpose()?,
            email: self.email.as_deref().map(Email::parse).transpose()?,
            birthday: self.birthday.map(|b| Birthday::parse(b, now)).transpose()?,
            gender: self.gender,
        };
        if patch == ProfilePatch::default() {
            return Err(Error::invalid("input", "give at least one field to change"));
        }
        Ok(patch)
    }
}

#[derive(InputObject, Default)]
pub struct MemberFilterInput {
    pub tag: Option<String>,
    pub tier: Option<String>,
    pub registration_channel: Option<Channel>,
    /// Registered at or after.
    pub registered_from: Option<DateTime<Utc>>,
    /// Registered before.
    pub registered_to: Option<DateTime<Utc>>,
    /// Default ACTIVE.
    pub status: Option<MemberStatus>,
}

impl MemberFilterInput {
    pub fn parse(self) -> Result<MemberFilter> {
        if let (Some(from), Some(to)) = (self.registered_from, self.registered_to)
            && from >= to
        {
            return Err(Error::invalid(
                "registeredTo",
                "registeredTo must be after registeredFrom",
            ));
        }
        Ok(MemberFilter {
            tag: self
                .tag
                .as_deref()
                .map(crate::domain::tag::Tag::parse)
                .transpose()?
                .map(|t| t.as_str().to_owned()),
            tier: self
                .tier
                .as_deref()
                .map(|t| TierCode::parse("tier", t))
                .transpose()?
                .map(|t| t.as_str().to_owned()),
            registration_channel: self.registration_channel,
            registered_from: self.registered_from.map(to_micros),
            registered_to: self.registered_to.map(to_micros),
            status: self.status,
        })
    }
}

#[derive(InputObject)]
pub struct TouchpointInput {
    pub member_id: ID,
    pub kind: TouchpointKind,
    pub channel: Channel,
    pub store_id: Option<String>,
    /// When it happened (at most 5 minutes in the future).
    pub occurred_at: DateTime<Utc>,
    /// A JSON object, at most 4 KiB.
    pub attributes: Option<Json<serde_json::Value>>,
    /// Makes retries safe: the same key returns the first record.
    pub idempotency_key: Option<String>,
}

impl TouchpointInput {
    /// `now`: by the service's clock (how far `occurredAt` may be from it);
    /// the idempotency key is `caller`'s.
    pub fn parse(self, now: DateTime<Utc>, caller: &kit::Caller) -> Result<NewTouchpoint> {
        Ok(NewTouchpoint {
            member_id: self.member_id.0,
            kind: self.kind,
            channel: self.channel,
            store_id: self
                .store_id
                .as_deref()
                .map(|s| ForeignId::parse("storeId", s))
                .transpose()?,
            occurred_at: check_occurred_at(self.occurred_at, now)?,
            attributes: check_attributes(self.attributes.map(|j| j.0))?,
            key: self
                .idempotency_key
                .as_deref()
                .map(|raw| kit::idempotency::IdempotencyKey::parse(caller, raw))
                .transpose()?,
        })
    }
}

#[derive(InputObject)]
pub struct TierLevelInput {
    pub code: String,
    pub name: String,
    pub threshold: Long,
}

/// A reason an operator gives: 1 to 500 characters.
pub fn parse_reason(raw: &str) -> Result<String> {
    crate::domain::clean_text("reason", raw, 500)
}
