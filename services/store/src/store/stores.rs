//! Stores: create, change, find by id, by brand, and near a point.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::entities::store;
use super::new_id;
use crate::domain::geo::{BoundingBox, Coordinates, LngRanges, distance_m};
use crate::domain::hours::OpeningHours;
use crate::domain::store::{StoreKind, StoreStatus};
use crate::error::{Error, Result};
use kit::input::ForeignId;
use kit::paging::{PageRequest, split_page};
use kit::time::now_micros;

/// A store as an operator describes it, parsed.
#[derive(Debug, Clone)]
pub struct NewStore {
    pub brand_id: ForeignId,
    pub name: String,
    pub kind: StoreKind,
    pub franchisee: Option<String>,
    pub address: String,
    pub location: Coordinates,
    pub time_zone: chrono_tz::Tz,
    pub hours: OpeningHours,
    pub phone: Option<String>,
    pub status: StoreStatus,
}

/// Changes to a store; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct StorePatch {
    pub name: Option<String>,
    /// Kind and franchisee change together (checked as a pair).
    pub kind: Option<(StoreKind, Option<String>)>,
    pub address: Option<String>,
    pub location: Option<Coordinates>,
    pub time_zone: Option<chrono_tz::Tz>,
    pub hours: Option<OpeningHours>,
    pub phone: Option<String>,
    pub status: Option<StoreStatus>,
}

fn hours_json(hours: &OpeningHours) -> String {
    serde_json::to_string(hours).unwrap_or_else(|_| "{}".into())
}

/// The opening hours stored with a store (unreadable JSON reads as "no
/// hours": never open, rather than a failed request).
pub fn hours_of(row: &store::Model) -> OpeningHours {
    serde_json::from_str(&row.hours).unwrap_or_default()
}

pub async fn create_store(db: &DatabaseConnection, new: &NewStore) -> Result<store::Model> {
    create_store_with_id(db, &new_id(), new).await
}

/// Creates a store under a chosen id (demo data keeps stable ids).
pub async fn create_store_with_id(
    db: &DatabaseConnection,
    id: &str,
    new: &NewStore,
) -> Result<store::Model> {
    let now = now_micros();
    Ok(store::ActiveModel {
        id: Set(id.to_owned()),
        brand_id: Set(new.brand_id.as_str().to_owned()),
        name: Set(new.name.clone()),
        kind: Set(new.kind.as_str().to_owned()),
        franchisee: Set(new.franchisee.clone()),
        address: Set(new.address.clone()),
        latitude: Set(new.location.lat()),
        longitude: Set(new.location.lng()),
        time_zone: Set(new.time_zone.name().to_owned()),
        hours: Set(hours_json(&new.hours)),
        phone: Set(new.phone.clone()),
        status: Set(new.status.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

pub async fn update_store(
    db: &DatabaseConnection,
    id: &str,
    patch: &StorePatch,
) -> Result<store::Model> {
    let current = store_by_id(db, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("store {id} not found")))?;
    let mut row = current.into_active_model();
    if let Some(name) = &patch.name {
        row.name = Set(name.clone());
    }
    if let Some((kind, franchisee)) = &patch.kind {
        row.kind = Set(kind.as_str().to_owned());
        row.franchisee = Set(franchisee.clone());
    }
    if let Some(address) = &patch.address {
        row.address = Set(address.clone());
    }
    if let Some(location) = patch.location {
        row.latitude = Set(location.lat());
        row.longitude = Set(location.lng());
    }
    if let Some(tz) = patch.time_zone {
        row.time_zone = Set(tz.name().to_owned());
    }
    if let Some(hours) = &patch.hours {
        row.hours = Set(hours_json(hours));
    }
    if let Some(phone) = &patch.phone {
        row.phone = Set(Some(phone.clone()));
    }
    if let Some(status) = patch.status {
        row.status = Set(status.as_str().to_owned());
    }
    row.updated_at = Set(now_micros());
    Ok(row.update(db).await?)
}

pub async fn store_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<store::Model>> {
    Ok(store::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// Stores by id, one query.
pub async fn stores_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
) -> Result<HashMap<String, store::Model>> {
    let rows = store::Entity::find()
        .filter(store::Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|s| (s.id.clone(), s)).collect())
}

/// A brand's stores, oldest first.
pub async fn stores_of_brand<C: ConnectionTrait>(
    db: &C,
    brand_id: &str,
    page: &PageRequest,
) -> Result<(Vec<store::Model>, bool)> {
    let mut query = store::Entity::find().filter(store::Column::BrandId.eq(brand_id));
    if let Some(after) = &page.after {
        query = query.filter(store::Column::Id.gt(after.as_str()));
    }
    let rows = query
        .order_by_asc(store::Column::Id)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(split_page(rows, page))
}

/// What narrows a radius search besides the circle.
#[derive(Debug, Clone, Default)]
pub struct NearFilter {
    pub brand_id: Option<String>,
    pub kind: Option<StoreKind>,
}

/// A store found by a radius search, with its distance from the centre.
#[derive(Debug, Clone)]
pub struct NearHit {
    pub store: store::Model,
    pub distance_m: f64,
}

impl NearHit {
    /// Cursor of a result: the exact distance and the id.
    pub fn cursor(&self) -> String {
        format!("{:016x}:{}", self.distance_m.to_bits(), self.store.id)
    }
}

/// Every store (not permanently CLOSED) within `radius_m` of `centre`,
/// nearest first, ties by id. The database reads only the bounding box
/// (an index range on latitude, then longitude); distances are exact
/// great-circle distances computed here.
pub async fn stores_near<C: ConnectionTrait>(
    db: &C,
    centre: Coordinates,
    radius_m: f64,
    filter: &NearFilter,
) -> Result<Vec<NearHit>> {
    let bbox = BoundingBox::around(centre, radius_m);
    let between = |(a, b): (f64, f64)| {
        Condition::all()
            .add(store::Column::Longitude.gte(a))
            .add(store::Column::Longitude.lte(b))
    };
    let mut condition = Condition::all()
        .add(store::Column::Latitude.gte(bbox.lat_min))
        .add(store::Column::Latitude.lte(bbox.lat_max))
        .add(store::Column::Status.ne(StoreStatus::Closed.as_str()));
    condition = match bbox.lng {
        LngRanges::All => condition,
        LngRanges::One(a, b) => condition.add(between((a, b))),
        LngRanges::Two(r1, r2) => condition.add(Condition::any().add(between(r1)).add(between(r2))),
    };
    if let Some(brand) = &filter.brand_id {
        condition = condition.add(store::Column::BrandId.eq(brand.as_str()));
    }
    if let Some(kind) = filter.kind {
        condition = condition.add(store::Column::Kind.eq(kind.as_str()));
    }
    let candidates = store::Entity::find().filter(condition).all(db).await?;
    let mut within: Vec<NearHit> = candidates
        .into_iter()
        .filter_map(|store| {
            let at = Coordinates::parse(store.latitude, store.longitude).ok()?;
            let distance_m = distance_m(centre, at);
            (distance_m <= radius_m).then_some(NearHit { store, distance_m })
        })
        .collect();
    within.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then_with(|| a.store.id.cmp(&b.store.id))
    });
    Ok(within)
}

/// The hits after `cursor` (see [`NearHit::cursor`]), then one page of them.
pub fn page_after(hits: Vec<NearHit>, page: &PageRequest) -> Result<(Vec<NearHit>, bool)> {
    let start = match &page.after {
        None => 0,
        Some(cursor) => {
            let (bits, id) = cursor
                .split_once(':')
                .and_then(|(b, id)| Some((u64::from_str_radix(b, 16).ok()?, id)))
                .ok_or_else(|| Error::invalid("after", "after is not a storesNear cursor"))?;
            let d = f64::from_bits(bits);
            hits.iter()
                .position(|h| {
                    h.distance_m
                        .total_cmp(&d)
                        .then_with(|| h.store.id.as_str().cmp(id))
                        .is_gt()
                })
                .unwrap_or(hits.len())
        }
    };
    let rest: Vec<_> = hits
        .into_iter()
        .skip(start)
        .take(page.fetch_limit() as usize)
        .collect();
    Ok(split_page(rest, page))
}
