//! The store database: entities, reads and the commands that change it.

pub mod attribution;
pub mod commissions;
pub mod entities;
pub mod guides;
mod stores;

pub use stores::*;

/// A fresh id: UUIDv7, so ids sort by creation time.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
