//! Merging two member records found to be one person.

use crate::error::{Error, Result};

/// The checked request: two different members and a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequest {
    pub survivor_id: String,
    pub merged_id: String,
    pub reason: String,
}

impl MergeRequest {
    pub fn parse(survivor_id: &str, merged_id: &str, reason: &str) -> Result<Self> {
        let survivor_id = survivor_id.trim();
        let merged_id = merged_id.trim();
        if survivor_id.is_empty() {
            return Err(Error::invalid("survivorId", "survivorId must not be empty"));
        }
        if merged_id.is_empty() {
            return Err(Error::invalid("mergedId", "mergedId must not be empty"));
        }
        if survivor_id == merged_id {
            return Err(Error::invalid(
                "mergedId",
                "a member cannot be merged into itself",
            ));
        }
        let reason = super::clean_text("reason", reason, 500)?;
        Ok(Self {
            survivor_id: survivor_id.to_owned(),
            merged_id: merged_id.to_owned(),
            reason,
        })
    }
}

/// Personal fields as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub birthday: Option<chrono::NaiveDate>,
    pub gender: Option<super::profile::Gender>,
}

/// The survivor keeps what it has; fields it lacks come from the merged
/// record.
pub fn fill_gaps(survivor: Profile, merged: Profile) -> Profile {
    Profile {
        name: survivor.name.or(merged.name),
        phone: survivor.phone.or(merged.phone),
        email: survivor.email.or(merged.email),
        birthday: survivor.birthday.or(merged.birthday),
        gender: survivor.gender.or(merged.gender),
    }
}

/// Growth values add up: both records earned it. A merge is a fact and
/// cannot be refused, so the sum stops at the largest value the graph
/// carries exactly (kit::scalar::MAX_SAFE, 2^53 − 1), far past any tier.
pub fn merged_growth(survivor: i64, merged: i64) -> i64 {
    survivor.saturating_add(merged).min(kit::scalar::MAX_SAFE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_growth_adds_up_and_stays_in_the_graph_range() {
        assert_eq!(merged_growth(1_200, 800), 2_000);
        assert_eq!(
            merged_growth(kit::scalar::MAX_SAFE, 1),
            kit::scalar::MAX_SAFE
        );
        assert_eq!(merged_growth(i64::MAX, i64::MAX), kit::scalar::MAX_SAFE);
    }

    #[test]
    fn requests_are_checked() {
        assert!(MergeRequest::parse("a", "b", "same phone at the till").is_ok());
        assert!(
            matches!(MergeRequest::parse("a", "a", "x"), Err(e) if e.code() == kit::ErrorCode::BadUserInput && e.field() == Some("mergedId"))
        );
        assert!(
            matches!(MergeRequest::parse("a", "b", "  "), Err(e) if e.code() == kit::ErrorCode::BadUserInput && e.field() == Some("reason"))
        );
        assert!(MergeRequest::parse("", "b", "x").is_err());
    }

    #[test]
    fn survivor_keeps_its_fields_and_fills_gaps() {
        let survivor = Profile {
            name: Some("Li Lei".into()),
            phone: None,
            ..Profile::default()
        };
        let merged = Profile {
            name: Some("L. Lei".into()),
            phone: Some("+8613812345678".into()),
            ..Profile::default()
        };
        let result = fill_gaps(survivor, merged);
        assert_eq!(result.name.as_deref(), Some("Li Lei"));
        assert_eq!(result.phone.as_deref(), Some("+8613812345678"));
        assert_eq!(result.email, None);
        assert_eq!(merged_growth(100, 250), 350);
    }
}
