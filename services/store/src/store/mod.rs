//! The store database: entities, reads and the commands that change it.

pub mod attribution;
pub mod commissions;
pub mod entities;
pub mod export;
pub mod guides;
mod stores;

pub use stores::*;

pub(crate) use kit::idempotency::new_id;
