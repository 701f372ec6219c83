//! Channel identities: how each touchpoint knows the member.

use crate::error::{Error, Result};

pub use kit::channel::Channel;

/// The account id a channel knows the person by (openid, app account,
/// store card number...). Opaque to us; trimmed and bounded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalId(String);

impl ExternalId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(field: &str, raw: &str) -> Result<Self> {
        let value = super::clean_text(field, raw, Self::MAX_LEN)?;
        if value.chars().any(char::is_whitespace) {
            return Err(Error::invalid(field, "externalId must not contain spaces"));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub use kit::input::{ForeignId, is_token};

/// A guide's QR code as scanned: kept for attribution; the store service
/// decides whether it names a guide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuideCode(String);

impl GuideCode {
    pub fn parse(raw: &str) -> Result<Self> {
        let value = raw.trim();
        if is_token(value, 4..=64) {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::invalid(
                "guideCode",
                "guideCode must be 4-64 letters, digits, '-' or '_'",
            ))
        }
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A channel identity, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdentity {
    pub channel: Channel,
    pub external_id: ExternalId,
    /// The brand whose channel account this is (its app, its store card).
    pub brand_id: Option<ForeignId>,
}

impl NewIdentity {
    /// Whose ids these are: a PARTNER identity's brand (each partner
    /// numbers its own customers, so two brands' `cust-1` are two
    /// people); "" for every other channel, whose ids are the channel's.
    pub fn namespace(&self) -> String {
        namespace_of(self.channel, self.brand_id.as_ref().map(ForeignId::as_str))
    }
}

/// The namespace of an identity of `channel` for `brand_id` (see
/// [`NewIdentity::namespace`]).
pub fn namespace_of(channel: Channel, brand_id: Option<&str>) -> String {
    match (channel, brand_id) {
        (Channel::Partner, Some(brand)) => brand.to_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_are_trimmed_and_bounded() {
        assert_eq!(
            ExternalId::parse("externalId", " oAbC123 ")
                .unwrap()
                .as_str(),
            "oAbC123"
        );
        assert!(ExternalId::parse("externalId", "").is_err());
        assert!(ExternalId::parse("externalId", "a b").is_err());
        assert!(ExternalId::parse("externalId", &"x".repeat(129)).is_err());
    }

    #[test]
    fn partner_ids_are_each_brands_own() {
        assert_eq!(namespace_of(Channel::Partner, Some("coffee")), "coffee");
        assert_eq!(namespace_of(Channel::Partner, None), "");
        assert_eq!(namespace_of(Channel::App, Some("coffee")), "");
    }

    #[test]
    fn guide_codes() {
        assert!(GuideCode::parse("Gx7_k2Pq").is_ok());
        assert!(GuideCode::parse("abc").is_err());
        assert!(GuideCode::parse("has space").is_err());
    }
}
