//! The product subgraph: one catalogue, one stock picture, orders that never
//! oversell.
//!
//! Layout, as in every service: `schema/` (GraphQL, thin), `domain/` (rules,
//! no I/O), `store/` (sea-orm entities and commands), `migration/`.

pub mod domain;
pub mod error;
