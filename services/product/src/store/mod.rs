//! The product database: entities, and the commands that change it (each
//! writes its facts, its audit rows and its events in one transaction).

pub mod catalogue;
pub mod coupons;
pub mod entities;
pub mod export;
pub mod inventory;
pub mod orders;

pub(crate) use kit::idempotency::new_id;
