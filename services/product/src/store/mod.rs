//! The product database: entities, and the commands that change it (each
//! writes its facts, its audit rows and its events in one transaction).

pub mod catalogue;
pub mod entities;
pub mod inventory;
pub mod orders;

/// A fresh id: UUIDv7, so ids sort by creation time.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
