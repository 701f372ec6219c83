//! Recording touchpoints, with an optional retry key.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};

use super::entities::touchpoint;
use super::{Actor, lock_active, new_id};
use crate::domain::identity::{Channel, ForeignId};
use crate::domain::touchpoint::TouchpointKind;
use crate::error::{Error, Result};
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
    pub idempotency_key: Option<String>,
}

impl NewTouchpoint {
    /// Whether a stored row records this same touchpoint (for key replays).
    fn matches(&self, row: &touchpoint::Model, member_id: &str) -> bool {
        row.member_id == member_id
            && row.kind == self.kind.as_str()
            && row.channel == self.channel.as_str()
            && row.store_id.as_deref() == self.store_id.as_ref().map(ForeignId::as_str)
            && row.occurred_at == to_micros(self.occurred_at)
            && serde_json::from_str::<serde_json::Value>(&row.attributes)
                .ok()
                .as_ref()
                == Some(&self.attributes)
    }
}

/// Records `new`. With an idempotency key, a retry returns the first record;
/// the same key with different content is a CONFLICT.
pub async fn record_touchpoint(
    db: &DatabaseConnection,
    new: &NewTouchpoint,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<touchpoint::Model> {
    match attempt(db, new, actor, now).await {
        Err(Error::Db(err)) if kit::db::is_unique_violation(&err) => {
            attempt(db, new, actor, now).await
        }
        other => other,
    }
}

async fn attempt(
    db: &DatabaseConnection,
    new: &NewTouchpoint,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<touchpoint::Model> {
    let txn = db.begin().await?;
    let member = lock_active(&txn, &new.member_id).await?;
    if let Some(key) = &new.idempotency_key
        && let Some(previous) = touchpoint::Entity::find()
            .filter(touchpoint::Column::IdempotencyKey.eq(key.as_str()))
            .one(&txn)
            .await?
    {
        return if new.matches(&previous, &member.id) {
            Ok(previous)
        } else {
            Err(Error::conflict(
                "idempotencyKey was already used for a different touchpoint",
            ))
        };
    }
    let row = touchpoint::ActiveModel {
        id: Set(new_id()),
        member_id: Set(member.id.clone()),
        kind: Set(new.kind.as_str().to_owned()),
        channel: Set(new.channel.as_str().to_owned()),
        store_id: Set(new.store_id.as_ref().map(|s| s.as_str().to_owned())),
        occurred_at: Set(to_micros(new.occurred_at)),
        recorded_at: Set(to_micros(now)),
        attributes: Set(new.attributes.to_string()),
        idempotency_key: Set(new.idempotency_key.clone()),
        recorded_by: Set(actor.as_str().to_owned()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(row)
}
