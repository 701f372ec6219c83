//! Recording touchpoints, with an optional retry key, and those other
//! services report through their feeds.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, Set, TransactionTrait,
};

use super::entities::touchpoint;
use super::{Actor, lock_active, new_id};
use crate::domain::identity::{Channel, ForeignId};
use crate::domain::touchpoint::TouchpointKind;
use crate::error::{Error, Result};
use kit::idempotency::{IdempotencyKey, request_hash, retry_once_on_race};
use kit::time::to_micros;

/// A touchpoint, parsed.
#[derive(Debug, Clone)]
pub struct NewTouchpoint {
    pub member_id: String,
    pub kind: TouchpointKind,
    pub channel: Channel,
    pub store_id: Option<ForeignId>,
    pub occurred_at: DateTime<Utc>,
    pub attributes: serde_json::Value,
    /// The caller's retry key (`kit::idempotency`).
    pub key: Option<IdempotencyKey>,
}

impl NewTouchpoint {
    /// Identifies the request for `member_id` (the live member it is for),
    /// to tell a retry from a reused key.
    fn hash(&self, member_id: &str) -> String {
        request_hash(&serde_json::json!({
            "member": member_id, "kind": self.kind, "channel": self.channel,
            "store": self.store_id.as_ref().map(ForeignId::as_str),
            "occurredAt": to_micros(self.occurred_at), "attributes": self.attributes,
        }))
    }
}

/// The operation touchpoints are recorded exactly once by.
const RECORD_TOUCHPOINT: &str = "recordTouchpoint";

/// Records `new`. With an idempotency key, a retry returns the first record;
/// the same key with different content is a CONFLICT.
pub async fn record_touchpoint(
    db: &DatabaseConnection,
    new: &NewTouchpoint,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<touchpoint::Model> {
    retry_once_on_race(|| attempt(db, new, actor, now)).await
}

async fn attempt(
    db: &DatabaseConnection,
    new: &NewTouchpoint,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<touchpoint::Model> {
    let txn = db.begin().await?;
    let member = lock_active(&txn, &new.member_id).await?;
    let hash = new.hash(&member.id);
    if let Some(key) = &new.key
        && let Some(previous) = key.replayed(&txn, RECORD_TOUCHPOINT, &hash).await?
    {
        return touchpoint::Entity::find_by_id(previous)
            .one(&txn)
            .await?
            .ok_or_else(|| Error::conflict("the touchpoint this key recorded is gone"));
    }
    let row = touchpoint::ActiveModel {
        id: Set(new_id()),
        member_id: Set(member.id.clone()),
        kind: Set(new.kind),
        channel: Set(new.channel),
        store_id: Set(new.store_id.as_ref().map(|s| s.as_str().to_owned())),
        occurred_at: Set(to_micros(new.occurred_at)),
        recorded_at: Set(to_micros(now)),
        attributes: Set(new.attributes.to_string()),
        idempotency_key: Set(new.key.as_ref().map(IdempotencyKey::fingerprint)),
        recorded_by: Set(actor.as_str().to_owned()),
    }
    .insert(&txn)
    .await?;
    if let Some(key) = &new.key {
        key.remember(&txn, RECORD_TOUCHPOINT, &hash, &row.id, to_micros(now))
            .await?;
    }
    txn.commit().await?;
    Ok(row)
}

/// A touchpoint another service's event reports (a coupon claimed, given
/// or used), recorded inside the consumer's transaction (so once): for the
/// member the id names now (a merged one's survivor). A member no longer
/// active (erased) gets none: nothing new is kept about them.
#[allow(clippy::too_many_arguments)]
pub async fn record_reported(
    txn: &DatabaseTransaction,
    member_id: &str,
    kind: TouchpointKind,
    channel: Channel,
    store_id: Option<&str>,
    occurred_at: DateTime<Utc>,
    attributes: serde_json::Value,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    let member = match super::resolve_for_update(txn, member_id).await {
        Ok(member) if member.status == crate::domain::MemberStatus::Active => member,
        Ok(_) => return Ok(()),
        Err(err) if err.code() == kit::ErrorCode::NotFound => {
            tracing::info!(kind = ?kind, "a reported touchpoint names no member here");
            return Ok(());
        }
        Err(err) => return Err(err),
    };
    touchpoint::ActiveModel {
        id: Set(new_id()),
        member_id: Set(member.id),
        kind: Set(kind),
        channel: Set(channel),
        store_id: Set(store_id.map(ToOwned::to_owned)),
        occurred_at: Set(to_micros(occurred_at)),
        recorded_at: Set(to_micros(now)),
        attributes: Set(attributes.to_string()),
        idempotency_key: Set(None),
        recorded_by: Set(actor.as_str().to_owned()),
    }
    .insert(txn)
    .await?;
    Ok(())
}
