//! Bounded work per request: before an operation is validated or planned,
//! the whole document (every operation, every fragment) is measured against
//! configurable limits (`gateway.limits.*`), and one past them is refused
//! with `LIMIT_EXCEEDED`. The measuring is the platform's own
//! ([`kit::limits`]): the subgraphs measure what they are sent the same way.

pub use kit::limits::{Size, measure};

/// The limits, with their defaults: the platform's configuration type
/// (`gateway.limits.*`), one definition for both.
pub use kit::config::OperationLimits as Limits;

/// Measures `text` as the subgraphs' parser reads it; an error when that
/// parser refuses it (the subgraphs would).
pub fn measure_text(text: &str) -> Result<Size, String> {
    async_graphql::parser::parse_query(text)
        .map(|document| measure(&document))
        .map_err(|e| e.to_string())
}
