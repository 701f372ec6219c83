//! The member domain's rules as plain Rust over plain types: parsing inputs
//! into values that can only be valid, and deciding access, tiers and merges.
//! Nothing here touches the database.

pub mod access;
pub mod consent;
pub mod environment;
pub mod identity;
pub mod merge;
pub mod profile;
pub mod segment;
pub mod tag;
pub mod tier;
pub mod touchpoint;

kit::stored_enum! {
    /// Member lifecycle: a merged record only points at its survivor; an erased
    /// one keeps its id and non-personal history; a suspended one keeps
    /// everything but may not act (no writes for it, by anyone) until an
    /// operator reinstates it.
    #[derive(async_graphql::Enum)]
    pub enum MemberStatus {
        Active,
        Suspended,
        Merged,
        Erased,
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
    fn member_status_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (MemberStatus::Active, "ACTIVE"),
            (MemberStatus::Suspended, "SUSPENDED"),
            (MemberStatus::Merged, "MERGED"),
            (MemberStatus::Erased, "ERASED"),
        ]);
    }
}
