//! The alliance database: entities, and the commands that change it. Every
//! command writes its entries, lot movements, idempotency record and
//! clearing rows in one transaction, or nothing.

pub mod audit;
pub mod campaigns;
pub mod drops;
pub mod entities;
pub mod exchange;
pub mod export;
pub mod ledger;
pub mod orders;
pub mod programmes;
pub mod registrations;
pub mod rewards;
pub mod statements;
pub mod webhooks;

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::error::Result;
use entities::member_alias;

pub(crate) use kit::idempotency::new_id;

pub(crate) use kit::digest::sha256_hex;

pub use kit::idempotency::{IdempotencyKey, retry_once_on_race};

/// The surviving id of a member who may have been merged away.
pub(crate) async fn survivor_of<C: ConnectionTrait>(db: &C, member_id: &str) -> Result<String> {
    Ok(member_alias::Entity::find_by_id(member_id.to_owned())
        .one(db)
        .await?
        .map_or_else(|| member_id.to_owned(), |alias| alias.survivor_id))
}
