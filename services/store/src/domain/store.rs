//! A store: brand, kind, franchisee, status.

use crate::error::{Error, Result};

kit::stored_enum! {
    #[derive(async_graphql::Enum, Hash)]
    pub enum StoreKind {
        Direct,
        Franchise,
    }
}

kit::stored_enum! {
    #[derive(async_graphql::Enum)]
    pub enum StoreStatus {
        Open,
        TemporarilyClosed,
        Closed,
    }
}

/// A franchise names its franchisee; a directly operated store has none.
pub fn check_franchisee(kind: StoreKind, franchisee: Option<&str>) -> Result<Option<String>> {
    match (kind, franchisee.map(str::trim)) {
        (StoreKind::Franchise, None | Some("")) => Err(Error::invalid(
            "franchisee",
            "a FRANCHISE store needs its franchisee",
        )),
        (StoreKind::Franchise, Some(name)) => Ok(Some(super::clean_text("franchisee", name, 128)?)),
        (StoreKind::Direct, None | Some("")) => Ok(None),
        (StoreKind::Direct, Some(_)) => Err(Error::invalid(
            "franchisee",
            "a DIRECT store has no franchisee",
        )),
    }
}

/// A store phone number: digits, spaces, `+`, `-`, parentheses; 5 to 32.
pub fn check_phone(raw: &str) -> Result<String> {
    let value = raw.trim();
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let ok = (5..=32).contains(&value.len())
        && digits >= 5
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()".contains(c));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid("phone", "phone is not a phone number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_status_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (StoreStatus::Open, "OPEN"),
            (StoreStatus::TemporarilyClosed, "TEMPORARILY_CLOSED"),
            (StoreStatus::Closed, "CLOSED"),
        ]);
    }

    #[test]
    fn store_kind_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (StoreKind::Direct, "DIRECT"),
            (StoreKind::Franchise, "FRANCHISE"),
        ]);
    }

    #[test]
    fn franchisee_follows_the_kind() {
        assert_eq!(
            check_franchisee(StoreKind::Franchise, Some(" Zhang Ltd "))
                .unwrap()
                .as_deref(),
            Some("Zhang Ltd")
        );
        assert!(check_franchisee(StoreKind::Franchise, None).is_err());
        assert!(check_franchisee(StoreKind::Direct, Some("Zhang Ltd")).is_err());
        assert_eq!(check_franchisee(StoreKind::Direct, None).unwrap(), None);
    }

    #[test]
    fn store_phones() {
        assert!(check_phone("+86 21 6321-8888").is_ok());
        assert!(check_phone("call us").is_err());
        assert!(check_phone("123").is_err());
    }
}
