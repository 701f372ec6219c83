//! The member domain's rules as plain Rust over plain types: parsing inputs
//! into values that can only be valid, and deciding access, tiers and merges.
//! Nothing here touches the database.

pub mod access;
pub mod consent;
pub mod identity;
pub mod merge;
pub mod profile;
pub mod tag;
pub mod tier;
pub mod touchpoint;

/// Member lifecycle: a merged record only points at its survivor; an erased
/// one keeps its id and non-personal history.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    Active,
    Merged,
    Erased,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "ACTIVE",
            MemberStatus::Merged => "MERGED",
            MemberStatus::Erased => "ERASED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACTIVE" => Some(MemberStatus::Active),
            "MERGED" => Some(MemberStatus::Merged),
            "ERASED" => Some(MemberStatus::Erased),
            _ => None,
        }
    }
}

/// Trims `raw` and checks it is 1..=max characters without control
/// characters: the shape of every free-text input.
pub(crate) fn clean_text(field: &str, raw: &str, max: usize) -> crate::error::Result<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(crate::error::Error::invalid(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if trimmed.chars().count() > max {
        return Err(crate::error::Error::invalid(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(crate::error::Error::invalid(
            field,
            format!("{field} contains control characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_trims_and_bounds() {
        assert_eq!(clean_text("name", "  Li Lei ", 10).unwrap(), "Li Lei");
        assert!(clean_text("name", "   ", 10).is_err());
        assert!(clean_text("name", "abcdefghijk", 10).is_err());
        assert!(clean_text("name", "a\u{0}b", 10).is_err());
        // Characters, not bytes.
        assert_eq!(clean_text("name", "李雷李雷", 4).unwrap(), "李雷李雷");
    }

    #[test]
    fn status_round_trips() {
        for s in [
            MemberStatus::Active,
            MemberStatus::Merged,
            MemberStatus::Erased,
        ] {
            assert_eq!(MemberStatus::parse(s.as_str()), Some(s));
        }
    }
}
