//! The alliance database: entities, and the commands that change it. Every
//! command writes its entries, lot movements, idempotency record and
//! clearing rows in one transaction, or nothing.

pub mod entities;
pub mod exchange;
pub mod export;
pub mod ledger;
pub mod orders;
pub mod programmes;

use sea_orm::{ConnectionTrait, EntityTrait};
use sha2::{Digest, Sha256};

use crate::error::Result;
use entities::member_alias;

pub(crate) use kit::idempotency::new_id;

/// SHA-256 of the parts, hex: fingerprints a request or an API key.
pub(crate) fn sha256_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0x1f]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub use kit::idempotency::{IdempotencyKey, retry_once_on_race};

/// The surviving id of a member who may have been merged away.
pub(crate) async fn survivor_of<C: ConnectionTrait>(db: &C, member_id: &str) -> Result<String> {
    Ok(member_alias::Entity::find_by_id(member_id.to_owned())
        .one(db)
        .await?
        .map_or_else(|| member_id.to_owned(), |alias| alias.survivor_id))
}
