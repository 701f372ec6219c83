//! Tier levels, growth and tier changes. Every change is a row in
//! `tier_changes` and a TierChanged event, in the same transaction.

use sea_orm::ActiveEnum as _;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    IntoActiveModel, Set, TransactionTrait,
};

use super::entities::{member, tier_change, tier_level};
use super::{Actor, lock_active, new_id};
use crate::domain::tier::{TierChangeCause, TierLadder, TierLevel};
use crate::error::{Error, Result};
use kit::events::outbox::publish;
use kit::events::schema::TierChanged;
use kit::time::to_micros;

pub async fn ladder<C: ConnectionTrait>(db: &C) -> Result<TierLadder> {
    let levels = tier_level::Entity::find().all(db).await?;
    Ok(TierLadder::new(
        levels
            .into_iter()
            .map(|l| TierLevel {
                code: l.code,
                name: l.name,
                threshold: l.threshold,
            })
            .collect(),
    ))
}

/// Creates a level or changes its name and threshold. Two levels cannot
/// share a threshold (CONFLICT).
pub async fn upsert_tier_level(db: &DatabaseConnection, level: &TierLevel) -> Result<TierLadder> {
    let row = tier_level::ActiveModel {
        code: Set(level.code.clone()),
        name: Set(level.name.clone()),
        threshold: Set(level.threshold),
    };
    let result = tier_level::Entity::insert(row)
        .on_conflict(
            OnConflict::column(tier_level::Column::Code)
                .update_columns([tier_level::Column::Name, tier_level::Column::Threshold])
                .to_owned(),
        )
        .exec(db)
        .await;
    match result {
        Ok(_) => ladder(db).await,
        Err(err) if kit::db::is_unique_violation(&err) => Err(Error::conflict(format!(
            "another level already starts at {}",
            level.threshold
        ))),
        Err(err) => Err(err.into()),
    }
}

/// Sets a member's tier by an operator's decision.
pub async fn set_tier(
    db: &DatabaseConnection,
    member_id: &str,
    code: &str,
    reason: &str,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<member::Model> {
    let txn = db.begin().await?;
    let ladder = ladder(&txn).await?;
    if ladder.get(code).is_none() {
        return Err(Error::invalid("tier", format!("no tier level {code}")));
    }
    let current = lock_active(&txn, member_id).await?;
    if current.tier == code {
        txn.commit().await?;
        return Ok(current);
    }
    let updated = change_tier(
        &txn,
        current,
        code,
        TierChangeCause::Operator,
        Some(reason),
        actor,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Adds `delta` to a member's growth value; crossing a higher level's
/// threshold promotes.
pub async fn adjust_growth(
    db: &DatabaseConnection,
    member_id: &str,
    delta: i64,
    reason: &str,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<member::Model> {
    let txn = db.begin().await?;
    let ladder = ladder(&txn).await?;
    let current = lock_active(&txn, member_id).await?;
    // Growth never goes below 0, and never past what the graph carries.
    let growth = kit::scalar::checked_sum("the growth value", current.growth_value, delta)?.max(0);
    let promotion = ladder
        .promotion(&current.tier, growth)
        .map(|l| l.code.clone());
    let mut row = current.into_active_model();
    row.growth_value = Set(growth);
    row.updated_at = Set(to_micros(now));
    let mut updated = row.update(&txn).await?;
    if let Some(code) = promotion {
        updated = change_tier(
            &txn,
            updated,
            &code,
            TierChangeCause::Growth,
            Some(reason),
            actor,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(updated)
}

/// Moves `current` to tier `to`, recording the change and its event.
pub(crate) async fn change_tier(
    txn: &DatabaseTransaction,
    current: member::Model,
    to: &str,
    cause: TierChangeCause,
    reason: Option<&str>,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<member::Model> {
    let from = current.tier.clone();
    let member_id = current.id.clone();
    let mut row = current.into_active_model();
    row.tier = Set(to.to_owned());
    row.updated_at = Set(to_micros(now));
    let updated = row.update(txn).await?;
    tier_change::ActiveModel {
        id: Set(new_id()),
        member_id: Set(member_id.clone()),
        from_tier: Set(Some(from.clone())),
        to_tier: Set(to.to_owned()),
        cause: Set(cause),
        reason: Set(reason.map(ToOwned::to_owned)),
        actor: Set(actor.as_str().to_owned()),
        changed_at: Set(to_micros(now)),
    }
    .insert(txn)
    .await?;
    publish(
        txn,
        &TierChanged {
            member_id,
            from_tier: Some(from),
            to_tier: to.to_owned(),
            cause: cause.to_value(),
        },
        now,
    )
    .await?;
    Ok(updated)
}
