//! The store domain's rules as plain Rust: geography, opening hours, store
//! kinds; nothing here touches the database.

pub mod attribution;
pub mod commission;
pub mod geo;
pub mod guide;
pub mod hours;
pub mod store;

/// Free text, checked (see `kit::input::clean_text`).
pub(crate) fn clean_text(field: &str, raw: &str, max: usize) -> crate::error::Result<String> {
    Ok(kit::input::clean_text(field, raw, max)?)
}
