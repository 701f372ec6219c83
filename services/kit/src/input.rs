//! Input shapes every service parses at its edge.

use crate::error::ApiError;

/// Trims `raw` and checks it is 1..=max characters without control
/// characters: the shape of every free-text input.
pub fn clean_text(field: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ApiError::bad_input(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if trimmed.chars().count() > max {
        return Err(ApiError::bad_input(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ApiError::bad_input(
            field,
            format!("{field} contains control characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// An ASCII token of letters, digits, `-` and `_`, of a length in `len`:
/// the shape of ids, codes and retry keys that travel between systems.
pub fn is_token(value: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An identifier issued by another service (brand, store, member): 1 to 64
/// of letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ForeignId(String);

impl ForeignId {
    pub fn parse(field: &str, raw: &str) -> Result<Self, ApiError> {
        let value = raw.trim();
        if is_token(value, 1..=64) {
            Ok(Self(value.to_owned()))
        } else {
            Err(ApiError::bad_input(
                field,
                format!("{field} must be 1-64 letters, digits, '-' or '_'"),
            ))
        }
    }

    /// A live brand's id: stores, products, guides and their rules belong
    /// to live brands only (BAD_USER_INPUT for a sandbox's `<id>-sandbox`).
    pub fn parse_live_brand(field: &str, raw: &str) -> Result<Self, ApiError> {
        let id = Self::parse(field, raw)?;
        if crate::auth::Environment::of_brand(id.as_str()) != crate::auth::Environment::Live {
            return Err(ApiError::bad_input(
                field,
                format!(
                    "{} is a partner's sandbox: stores, products and guides belong to live brands",
                    id.as_str()
                ),
            ));
        }
        Ok(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_products_take_live_brands_only() {
        assert_eq!(
            ForeignId::parse_live_brand("brandId", " coffee ")
                .unwrap()
                .as_str(),
            "coffee"
        );
        let err = ForeignId::parse_live_brand("brandId", "coffee-sandbox").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("brandId"));
        assert!(ForeignId::parse_live_brand("brandId", "").is_err());
    }

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
    fn tokens_and_foreign_ids() {
        assert!(is_token("a-b_C9", 1..=64));
        assert!(!is_token("a b", 1..=64));
        assert!(!is_token("abc", 4..=64));
        assert!(ForeignId::parse("brandId", "brand-apparel_1").is_ok());
        let err = ForeignId::parse("brandId", "no spaces").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("brandId"));
    }
}
