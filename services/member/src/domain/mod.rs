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
/// one keeps its id and non-personal history; a suspended one keeps
/// everything but may not act (no writes for it, by anyone) until an
/// operator reinstates it.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    Active,
    Suspended,
    Merged,
    Erased,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "ACTIVE",
            MemberStatus::Suspended => "SUSPENDED",
            MemberStatus::Merged => "MERGED",
            MemberStatus::Erased => "ERASED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ACTIVE" => Some(MemberStatus::Active),
            "SUSPENDED" => Some(MemberStatus::Suspended),
            "MERGED" => Some(MemberStatus::Merged),
            "ERASED" => Some(MemberStatus::Erased),
            _ => None,
        }
    }
}

/// Free text, checked (see `kit::input::clean_text`).
pub(crate) fn clean_text(field: &str, raw: &str, max: usize) -> crate::error::Result<String> {
    Ok(kit::input::clean_text(field, raw, max)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips() {
        for s in [
            MemberStatus::Active,
            MemberStatus::Suspended,
            MemberStatus::Merged,
            MemberStatus::Erased,
        ] {
            assert_eq!(MemberStatus::parse(s.as_str()), Some(s));
        }
    }
}
