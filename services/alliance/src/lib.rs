//! The alliance subgraph: points programmes, an exact ledger, and
//! cross-brand exchange.
//!
//! This first step holds the domain rules (plain Rust, property-tested);
//! the database, GraphQL schema and feeds follow the same layout as the
//! other services.

pub mod domain;
pub mod error;
