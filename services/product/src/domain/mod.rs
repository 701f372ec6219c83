//! The product domain's rules as plain Rust: catalogue values, where stock
//! comes from, and what an order may do next. Nothing here touches the
//! database.

pub mod catalogue;
pub mod coupons;
pub mod order;
pub mod sourcing;

/// Free text, checked (see `kit::input::clean_text`).
pub(crate) fn clean_text(field: &str, raw: &str, max: usize) -> crate::error::Result<String> {
    Ok(kit::input::clean_text(field, raw, max)?)
}
