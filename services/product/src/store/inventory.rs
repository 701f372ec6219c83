//! Locations and stock. Every change to on-hand or reserved writes a
//! movement row (kind, deltas, reason, reference, actor) in the same
//! transaction.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use super::entities::{inventory, location, movement, sku};
use super::new_id;
use crate::domain::sourcing::LocationKind;
use crate::error::{Error, Result};
use kit::auth::Actor;
use kit::time::to_micros;

/// Creates or moves a location. Stores keep the store service's id.
pub async fn upsert_location(
    db: &DatabaseConnection,
    id: &str,
    kind: LocationKind,
    name: &str,
    lat: f64,
    lng: f64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<location::Model> {
    let row = location::ActiveModel {
        id: Set(id.to_owned()),
        kind: Set(kind),
        name: Set(name.to_owned()),
        latitude: Set(lat),
        longitude: Set(lng),
        updated_at: Set(to_micros(now)),
    };
    location::Entity::insert(row)
        .on_conflict(
            OnConflict::column(location::Column::Id)
                .update_columns([
                    location::Column::Name,
                    location::Column::Latitude,
                    location::Column::Longitude,
                    location::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    location_by_id(db, id)
        .await?
        .ok_or_else(|| Error::not_found("location vanished"))
}

pub async fn location_by_id<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<location::Model>> {
    Ok(location::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn all_locations<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
) -> Result<Vec<location::Model>> {
    Ok(location::Entity::find()
        .filter(location::Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?)
}

kit::stored_enum! {
    #[derive(async_graphql::Enum)]
    pub enum MovementKind {
        Receive,
        Adjust,
        Reserve,
        Release,
        Ship,
    }
}

/// A movement to record.
pub struct Movement<'a> {
    pub sku_id: &'a str,
    pub location_id: &'a str,
    pub kind: MovementKind,
    pub on_hand_delta: i64,
    pub reserved_delta: i64,
    pub reason: &'a str,
    pub reference: Option<&'a str>,
}

pub(crate) async fn record(
    txn: &DatabaseTransaction,
    m: Movement<'_>,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    movement::ActiveModel {
        id: Set(new_id()),
        sku_id: Set(m.sku_id.to_owned()),
        location_id: Set(m.location_id.to_owned()),
        kind: Set(m.kind),
        on_hand_delta: Set(m.on_hand_delta),
        reserved_delta: Set(m.reserved_delta),
        reason: Set(m.reason.to_owned()),
        reference: Set(m.reference.map(ToOwned::to_owned)),
        actor: Set(actor.as_str().to_owned()),
        at: Set(to_micros(now)),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Receives `quantity` units, or adjusts on-hand by `delta` (a count after
/// a stocktake, damage...). On-hand never drops below what is reserved.
#[allow(clippy::too_many_arguments)]
pub async fn change_stock(
    db: &DatabaseConnection,
    sku_id: &str,
    location_id: &str,
    delta: i64,
    kind: MovementKind,
    reason: &str,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<inventory::Model> {
    if sku::Entity::find_by_id(sku_id.to_owned())
        .one(db)
        .await?
        .is_none()
    {
        return Err(Error::not_found(format!("SKU {sku_id} not found")));
    }
    if location_by_id(db, location_id).await?.is_none() {
        return Err(Error::not_found(format!(
            "location {location_id} not found"
        )));
    }
    let txn = db.begin().await?;
    let at = to_micros(now);
    let row = inventory::ActiveModel {
        sku_id: Set(sku_id.to_owned()),
        location_id: Set(location_id.to_owned()),
        on_hand: Set(0),
        reserved: Set(0),
        updated_at: Set(at),
    };
    match inventory::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([inventory::Column::SkuId, inventory::Column::LocationId])
                .do_nothing()
                .to_owned(),
        )
        .exec(&txn)
        .await
    {
        Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => {}
        Err(e) => return Err(e.into()),
    }
    let moved = inventory::Entity::update_many()
        .col_expr(
            inventory::Column::OnHand,
            Expr::col(inventory::Column::OnHand).add(delta),
        )
        .col_expr(inventory::Column::UpdatedAt, at.into())
        .filter(inventory::Column::SkuId.eq(sku_id))
        .filter(inventory::Column::LocationId.eq(location_id))
        .filter(
            Expr::expr(Expr::col(inventory::Column::OnHand).add(delta))
                .gte(Expr::col(inventory::Column::Reserved)),
        )
        // Never past what the graph carries exactly (kit::scalar).
        .filter(
            Expr::expr(Expr::col(inventory::Column::OnHand).add(delta)).lte(kit::scalar::MAX_SAFE),
        )
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        let current = inventory::Entity::find_by_id((sku_id.to_owned(), location_id.to_owned()))
            .one(&txn)
            .await?
            .map_or(0, |r| r.on_hand);
        kit::scalar::checked_sum("on hand", current, delta)?;
        return Err(Error::conflict("on hand cannot go below what is reserved"));
    }
    record(
        &txn,
        Movement {
            sku_id,
            location_id,
            kind,
            on_hand_delta: delta,
            reserved_delta: 0,
            reason,
            reference: None,
        },
        actor,
        now,
    )
    .await?;
    let after = inventory::Entity::find_by_id((sku_id.to_owned(), location_id.to_owned()))
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found("inventory row vanished"))?;
    txn.commit().await?;
    Ok(after)
}

/// Stock rows of a location, for some SKUs (or all).
pub async fn stock_at<C: ConnectionTrait>(
    db: &C,
    location_id: &str,
    sku_ids: Option<&[String]>,
) -> Result<Vec<inventory::Model>> {
    let mut query = inventory::Entity::find().filter(inventory::Column::LocationId.eq(location_id));
    if let Some(ids) = sku_ids {
        query = query.filter(inventory::Column::SkuId.is_in(ids.iter().cloned()));
    }
    Ok(query.order_by_asc(inventory::Column::SkuId).all(db).await?)
}

/// The most of a SKU available (on hand less reserved) at `location`, or
/// at any one location; 0 where none is held.
pub async fn most_available<C: ConnectionTrait>(
    db: &C,
    sku_id: &str,
    location: Option<&str>,
) -> Result<i64> {
    let mut query = inventory::Entity::find().filter(inventory::Column::SkuId.eq(sku_id));
    if let Some(location) = location {
        query = query.filter(inventory::Column::LocationId.eq(location));
    }
    Ok(query
        .all(db)
        .await?
        .iter()
        .map(|r| r.on_hand - r.reserved)
        .max()
        .unwrap_or(0)
        .max(0))
}

/// Where a SKU has at least `quantity` available, with each location.
pub async fn holders<C: ConnectionTrait>(
    db: &C,
    sku_id: &str,
    quantity: i64,
) -> Result<Vec<(inventory::Model, location::Model)>> {
    let rows = inventory::Entity::find()
        .filter(inventory::Column::SkuId.eq(sku_id))
        .filter(
            Expr::expr(
                Expr::col(inventory::Column::OnHand).sub(Expr::col(inventory::Column::Reserved)),
            )
            .gte(quantity),
        )
        .all(db)
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.location_id.clone()).collect();
    let locations = all_locations(db, &ids).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let loc = locations.iter().find(|l| l.id == r.location_id)?.clone();
            Some((r, loc))
        })
        .collect())
}

/// Reserves `quantity` at one location if, at this instant, enough is
/// available: a single conditional UPDATE, so two orders racing for the
/// last unit cannot both succeed.
pub(crate) async fn try_reserve(
    txn: &DatabaseTransaction,
    sku_id: &str,
    location_id: &str,
    quantity: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool> {
    let done = inventory::Entity::update_many()
        .col_expr(
            inventory::Column::Reserved,
            Expr::col(inventory::Column::Reserved).add(quantity),
        )
        .col_expr(inventory::Column::UpdatedAt, to_micros(now).into())
        .filter(inventory::Column::SkuId.eq(sku_id))
        .filter(inventory::Column::LocationId.eq(location_id))
        .filter(
            Expr::expr(
                Expr::col(inventory::Column::OnHand).sub(Expr::col(inventory::Column::Reserved)),
            )
            .gte(quantity),
        )
        .exec(txn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Releases a reservation (`ship` also takes the units off hand).
pub(crate) async fn settle(
    txn: &DatabaseTransaction,
    sku_id: &str,
    location_id: &str,
    quantity: i64,
    ship: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let mut update = inventory::Entity::update_many()
        .col_expr(
            inventory::Column::Reserved,
            Expr::col(inventory::Column::Reserved).sub(quantity),
        )
        .col_expr(inventory::Column::UpdatedAt, to_micros(now).into());
    if ship {
        update = update.col_expr(
            inventory::Column::OnHand,
            Expr::col(inventory::Column::OnHand).sub(quantity),
        );
    }
    let done = update
        .filter(inventory::Column::SkuId.eq(sku_id))
        .filter(inventory::Column::LocationId.eq(location_id))
        .filter(inventory::Column::Reserved.gte(quantity))
        .exec(txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(Error::conflict("the reservation to settle is not there"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movement_kind_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (MovementKind::Receive, "RECEIVE"),
            (MovementKind::Adjust, "ADJUST"),
            (MovementKind::Reserve, "RESERVE"),
            (MovementKind::Release, "RELEASE"),
            (MovementKind::Ship, "SHIP"),
        ]);
    }
}
