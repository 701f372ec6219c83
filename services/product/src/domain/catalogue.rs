//! Catalogue values: categories, SKU attributes, barcodes, prices.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// A category slug: `apparel/tops`, `coffee/beans` (lowercase letters,
/// digits, `-` and `/`, up to 64).
pub fn parse_category(raw: &str) -> Result<String> {
    let value = raw.trim();
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'/')
        && !value.starts_with('/')
        && !value.ends_with('/');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            "category",
            "category must look like apparel/tops",
        ))
    }
}

/// SKU attributes (size, colour...): up to 10 pairs of short text.
pub fn parse_attributes(pairs: &[(String, String)]) -> Result<BTreeMap<String, String>> {
    if pairs.len() > 10 {
        return Err(Error::invalid("attributes", "at most 10 attributes"));
    }
    let mut out = BTreeMap::new();
    for (name, value) in pairs {
        let name = super::clean_text("attributes", name, 32)?;
        let value = super::clean_text("attributes", value, 64)?;
        if out.insert(name.clone(), value).is_some() {
            return Err(Error::invalid(
                "attributes",
                format!("attribute {name} given twice"),
            ));
        }
    }
    Ok(out)
}

/// A barcode: 8 to 14 digits (EAN-8, UPC-A, EAN-13, GTIN-14).
pub fn parse_barcode(raw: &str) -> Result<String> {
    let value = raw.trim();
    if (8..=14).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid("barcode", "barcode must be 8-14 digits"))
    }
}

/// A list price in fen: 1 fen to 10 million yuan.
pub fn parse_price(fen: i64) -> Result<i64> {
    if (1..=1_000_000_000).contains(&fen) {
        Ok(fen)
    } else {
        Err(Error::invalid(
            "listPriceFen",
            "listPriceFen must be between 1 and 1000000000",
        ))
    }
}

/// A stock quantity moved by a person: 1 to 1 000 000.
pub fn parse_quantity(field: &str, q: i64) -> Result<i64> {
    if (1..=1_000_000).contains(&q) {
        Ok(q)
    } else {
        Err(Error::invalid(
            field,
            format!("{field} must be between 1 and 1000000"),
        ))
    }
}

kit::stored_enum! {
    #[derive(async_graphql::Enum)]
    pub enum SkuStatus {
        Active,
        Discontinued,
    }
}

/// Escapes `%`, `_` and `\\` so user text matches literally in LIKE.
pub fn like_pattern(search: &str) -> String {
    let mut out = String::with_capacity(search.len() + 2);
    out.push('%');
    for c in search.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sku_status_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (SkuStatus::Active, "ACTIVE"),
            (SkuStatus::Discontinued, "DISCONTINUED"),
        ]);
    }

    #[test]
    fn catalogue_values_are_checked() {
        assert_eq!(parse_category("apparel/tops").unwrap(), "apparel/tops");
        assert!(parse_category("Apparel").is_err());
        assert!(parse_category("/x").is_err());
        assert!(parse_barcode("6901234567892").is_ok());
        assert!(parse_barcode("12345").is_err());
        assert!(parse_price(0).is_err());
        assert!(parse_quantity("quantity", 0).is_err());
        let attrs =
            parse_attributes(&[("size".into(), "M".into()), ("colour".into(), "red".into())])
                .unwrap();
        assert_eq!(attrs.get("size").map(String::as_str), Some("M"));
        assert!(
            parse_attributes(&[("size".into(), "M".into()), ("size".into(), "L".into())]).is_err()
        );
    }

    #[test]
    fn search_text_matches_literally() {
        assert_eq!(like_pattern(" Tee "), "%tee%");
        assert_eq!(like_pattern("100%_"), "%100\\%\\_%");
    }
}
