//! The member database: entities, reads, and the transactional commands
//! that change it (each writes its facts and its events in one transaction).

pub mod entities;
mod erase;
mod identities;
mod merge;
mod profile;
mod reads;
mod register;
pub mod segments;
mod standing;
mod tiers;
mod touchpoints;

pub use erase::{MemberPart, erase, export};
pub use identities::{LinkOutcome, link_identity, unlink_identity};
pub use merge::merge;
pub use profile::{add_tags, remove_tags, set_consent, update_profile};
pub use reads::*;
pub use register::{Registration, RegistrationOutcome, register};
pub use standing::{reinstate, standing, suspend};
pub use tiers::{adjust_growth, ladder, set_tier, upsert_tier_level};
pub use touchpoints::{NewTouchpoint, record_reported, record_touchpoint};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
};

use crate::domain::MemberStatus;
use crate::error::{Error, Result};
use entities::member;

pub use kit::auth::Actor;

/// A fresh id: UUIDv7, so ids sort by creation time.
pub(crate) fn new_id() -> String {
    kit::idempotency::new_id()
}

/// Loads the member `id` resolves to (following a merge) and locks its row
/// for the rest of `txn`. Fails unless that member is active.
pub(crate) async fn lock_active(txn: &DatabaseTransaction, id: &str) -> Result<member::Model> {
    let row = resolve_for_update(txn, id).await?;
    match row.status {
        MemberStatus::Active => Ok(row),
        MemberStatus::Erased => Err(Error::forbidden(format!("member {} was erased", row.id))),
        MemberStatus::Suspended => Err(Error::forbidden(format!("member {} is suspended", row.id))),
        _ => Err(Error::conflict(format!("member {} is not active", row.id))),
    }
}

/// Loads and locks the member `id` resolves to, whatever its status.
pub(crate) async fn resolve_for_update(
    txn: &DatabaseTransaction,
    id: &str,
) -> Result<member::Model> {
    let row = member::Entity::find_by_id(id.to_owned())
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| Error::member_not_found(id))?;
    match (&row.merged_into, row.status) {
        (Some(survivor), MemberStatus::Merged) => member::Entity::find_by_id(survivor.clone())
            .lock_exclusive()
            .one(txn)
            .await?
            .ok_or_else(|| Error::member_not_found(survivor)),
        _ => Ok(row),
    }
}

/// The member holding `phone` (active or suspended), if any.
pub(crate) async fn member_with_phone<C: ConnectionTrait>(
    db: &C,
    phone: &str,
) -> Result<Option<member::Model>> {
    Ok(member::Entity::find()
        .filter(member::Column::Phone.eq(phone))
        // A suspended member still holds their number.
        .filter(member::Column::Status.is_in([MemberStatus::Active, MemberStatus::Suspended]))
        .one(db)
        .await?)
}
