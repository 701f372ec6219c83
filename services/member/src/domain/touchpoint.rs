//! Touchpoints: every interaction leaves a record on the member's timeline.

use chrono::{DateTime, Duration, Utc};

use crate::error::{Error, Result};

kit::stored_enum! {
    #[derive(async_graphql::Enum, Hash)]
    pub enum TouchpointKind {
        Registered,
        GuideCodeScanned,
        CouponClaimed,
        CouponUsed,
        CouponShared,
        StoreVisit,
        Purchase,
    }
}

/// Clocks drift; a touchpoint may be this far in the future, no more.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);
pub const MAX_ATTRIBUTES_BYTES: usize = 4096;
pub const MAX_ATTRIBUTE_KEYS: usize = 50;

/// Checks when a touchpoint happened.
pub fn check_occurred_at(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if at > now + MAX_CLOCK_SKEW {
        return Err(Error::invalid("occurredAt", "occurredAt is in the future"));
    }
    if at
        < DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")
            .map(|d| d.to_utc())
            .unwrap_or(now)
    {
        return Err(Error::invalid("occurredAt", "occurredAt is before 2000"));
    }
    Ok(at)
}

/// Attributes must be a small JSON object (what was claimed, which coupon...).
pub fn check_attributes(value: Option<serde_json::Value>) -> Result<serde_json::Value> {
    let value = value.unwrap_or_else(|| serde_json::json!({}));
    let Some(object) = value.as_object() else {
        return Err(Error::invalid(
            "attributes",
            "attributes must be a JSON object",
        ));
    };
    if object.len() > MAX_ATTRIBUTE_KEYS {
        return Err(Error::invalid(
            "attributes",
            format!("attributes has more than {MAX_ATTRIBUTE_KEYS} keys"),
        ));
    }
    if value.to_string().len() > MAX_ATTRIBUTES_BYTES {
        return Err(Error::invalid(
            "attributes",
            format!("attributes is larger than {MAX_ATTRIBUTES_BYTES} bytes"),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touchpoint_kind_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (TouchpointKind::Registered, "REGISTERED"),
            (TouchpointKind::GuideCodeScanned, "GUIDE_CODE_SCANNED"),
            (TouchpointKind::CouponClaimed, "COUPON_CLAIMED"),
            (TouchpointKind::CouponUsed, "COUPON_USED"),
            (TouchpointKind::CouponShared, "COUPON_SHARED"),
            (TouchpointKind::StoreVisit, "STORE_VISIT"),
            (TouchpointKind::Purchase, "PURCHASE"),
        ]);
    }

    #[test]
    fn occurred_at_may_not_be_in_the_future() {
        let now = DateTime::parse_from_rfc3339("2028-02-29T23:58:00Z")
            .unwrap()
            .to_utc();
        assert!(check_occurred_at(now - Duration::days(3), now).is_ok());
        assert!(check_occurred_at(now + Duration::minutes(4), now).is_ok());
        assert!(check_occurred_at(now + Duration::minutes(6), now).is_err());
        let old = DateTime::parse_from_rfc3339("1999-12-31T23:59:59Z")
            .unwrap()
            .to_utc();
        assert!(check_occurred_at(old, now).is_err());
    }

    #[test]
    fn attributes_are_a_small_object() {
        assert_eq!(check_attributes(None).unwrap(), serde_json::json!({}));
        assert!(check_attributes(Some(serde_json::json!({"coupon": "C1"}))).is_ok());
        assert!(check_attributes(Some(serde_json::json!([1, 2]))).is_err());
        let big = serde_json::json!({ "x": "y".repeat(5000) });
        assert!(check_attributes(Some(big)).is_err());
    }
}
