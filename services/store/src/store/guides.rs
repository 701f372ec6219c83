//! Guides: staff of one store, each with a personal QR code.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::entities::{attribution, guide};
use super::{attribution as binding, new_id, store_by_id};
use crate::domain::attribution::{BindingCause, DepartureRule};
use crate::domain::guide::{GuideStatus, new_code};
use crate::error::{Error, Result};
use kit::auth::Actor;
use kit::paging::{PageRequest, split_page};
use kit::time::to_micros;

pub async fn create_guide(
    db: &DatabaseConnection,
    store_id: &str,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<guide::Model> {
    create_guide_with(db, &new_id(), store_id, name, new_code(), now).await
}

/// Creates a guide with a chosen id and code. Only demo data chooses codes
/// (so that its members can register through them); real codes are random.
pub async fn create_guide_with(
    db: &DatabaseConnection,
    id: &str,
    store_id: &str,
    name: &str,
    code: String,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<guide::Model> {
    let store = store_by_id(db, store_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("store {store_id} not found")))?;
    let now = to_micros(now);
    Ok(guide::ActiveModel {
        id: Set(id.to_owned()),
        store_id: Set(store.id),
        brand_id: Set(store.brand_id),
        name: Set(name.to_owned()),
        code: Set(code),
        status: Set(GuideStatus::Active),
        created_at: Set(now),
        departed_at: Set(None),
        code_rotated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn guide_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<guide::Model>> {
    Ok(guide::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// The active guide a code names; a rotated-away code, or a departed
/// guide's, names nobody.
pub async fn guide_by_code<C: ConnectionTrait>(db: &C, code: &str) -> Result<Option<guide::Model>> {
    Ok(guide::Entity::find()
        .filter(guide::Column::Code.eq(code))
        .filter(guide::Column::Status.eq(GuideStatus::Active))
        .one(db)
        .await?)
}

pub async fn guides_of_store<C: ConnectionTrait>(
    db: &C,
    store_id: &str,
    page: &PageRequest,
) -> Result<(Vec<guide::Model>, bool)> {
    let mut query = guide::Entity::find().filter(guide::Column::StoreId.eq(store_id));
    if let Some(after) = &page.after {
        query = query.filter(guide::Column::Id.gt(after.as_str()));
    }
    let rows = query
        .order_by_asc(guide::Column::Id)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(split_page(rows, page))
}

/// Gives the guide a new code; the old one stops resolving at once.
pub async fn rotate_code(
    db: &DatabaseConnection,
    guide_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<guide::Model> {
    let current = active_guide(db, guide_id).await?;
    let mut row = current.into_active_model();
    row.code = Set(new_code());
    row.code_rotated_at = Set(to_micros(now));
    Ok(row.update(db).await?)
}

async fn active_guide<C: ConnectionTrait>(db: &C, guide_id: &str) -> Result<guide::Model> {
    let guide = guide_by_id(db, guide_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("guide {guide_id} not found")))?;
    if guide.status != GuideStatus::Active {
        return Err(Error::conflict(format!("guide {guide_id} has left")));
    }
    Ok(guide)
}

/// The guide leaves. Their members follow the brand's rule: they stay with
/// the store, or they are released. Every change is recorded.
pub async fn depart_guide(
    db: &DatabaseConnection,
    guide_id: &str,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<guide::Model> {
    let txn = db.begin().await?;
    let current = active_guide(&txn, guide_id).await?;
    let rules = binding::rules_for(&txn, &current.brand_id).await?;
    let mut row = current.clone().into_active_model();
    row.status = Set(GuideStatus::Departed);
    row.departed_at = Set(Some(to_micros(now)));
    let departed = row.update(&txn).await?;
    let bound = attribution::Entity::find()
        .filter(attribution::Column::GuideId.eq(guide_id))
        .lock_exclusive()
        .all(&txn)
        .await?;
    for held in bound {
        let member_id = held.member_id.clone();
        let after = match rules.on_departure {
            DepartureRule::RebindToStore => {
                let mut kept = held.clone().into_active_model();
                kept.guide_id = Set(None);
                Some(kept.update(&txn).await?)
            }
            DepartureRule::Release => {
                attribution::Entity::delete_by_id(member_id.clone())
                    .exec(&txn)
                    .await?;
                None
            }
        };
        binding::record_change(
            &txn,
            &member_id,
            Some(&held),
            after.as_ref(),
            BindingCause::GuideDeparted,
            None,
            actor,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(departed)
}
