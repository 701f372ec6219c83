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
use kit::time::to_micros;

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

pub async fn create_store(
    db: &DatabaseConnection,
    new: &NewStore,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<store::Model> {
    create_store_with_id(db, &new_id(), new, now).await
}

/// Creates a store under a chosen id (demo data keeps stable ids).
pub async fn create_store_with_id(
    db: &DatabaseConnection,
    id: &str,
    new: &NewStore,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<store::Model> {
    let now = to_micros(now);
    Ok(store::ActiveModel {
        id: Set(id.to_owned()),
        brand_id: Set(new.brand_id.as_str().to_owned()),
        name: Set(new.name.clone()),
        kind: Set(new.kind),
        franchisee: Set(new.franchisee.clone()),
        address: Set(new.address.clone()),
        latitude: Set(new.location.lat()),
        longitude: Set(new.location.lng()),
        time_zone: Set(new.time_zone.name().to_owned()),
        hours: Set(hours_json(&new.hours)),
        phone: Set(new.phone.clone()),
        status: Set(new.status),
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
    now: chrono::DateTime<chrono::Utc>,
) -> Result<store::Model> {
    let current = store_by_id(db, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("store {id} not found")))?;
    let mut row = current.into_active_model();
    if let Some(name) = &patch.name {
        row.name = Set(name.clone());
    }
    if let Some((kind, franchisee)) = &patch.kind {
        row.kind = Set(*kind);
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
        row.status = Set(status);
    }
    row.updated_at = Set(to_micros(now));
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
        cursor_of(self.distance_m, &self.store.id)
    }
}

fn cursor_of(distance_m: f64, id: &str) -> String {
    format!("{:016x}:{id}", distance_m.to_bits())
}

/// A candidate: just an id and its exact distance.
#[derive(Debug, Clone, PartialEq)]
struct Candidate {
    id: String,
    distance_m: f64,
}

/// One page of the stores (not permanently CLOSED) within `radius_m` of
/// `centre`, nearest first, ties by id, after `page.after`, keeping only
/// those `keep` accepts (e.g. open now).
///
/// The database reads only the circle's bounding box (an index range on
/// latitude, then longitude), and only ids and coordinates; distances are
/// exact great-circle distances computed here; full rows are loaded for the
/// page alone. A search over a dense city thus moves a few thousand small
/// tuples, not a few thousand stores.
pub async fn near_page<C: ConnectionTrait>(
    db: &C,
    centre: Coordinates,
    radius_m: f64,
    filter: &NearFilter,
    page: &PageRequest,
    keep: impl Fn(&store::Model) -> bool,
) -> Result<(Vec<NearHit>, bool)> {
    let candidates = candidates_near(db, centre, radius_m, filter).await?;
    let start = match &page.after {
        None => 0,
        Some(cursor) => {
            let (bits, id) = cursor
                .split_once(':')
                .and_then(|(b, id)| Some((u64::from_str_radix(b, 16).ok()?, id)))
                .ok_or_else(|| Error::invalid("after", "after is not a storesNear cursor"))?;
            let d = f64::from_bits(bits);
            candidates
                .iter()
                .position(|c| {
                    c.distance_m
                        .total_cmp(&d)
                        .then_with(|| c.id.as_str().cmp(id))
                        .is_gt()
                })
                .unwrap_or(candidates.len())
        }
    };
    let wanted = page.fetch_limit() as usize;
    let mut hits = Vec::with_capacity(wanted);
    // Load in chunks until the page (plus one, to know if more follow) is
    // full: one chunk unless `keep` rejects stores.
    for chunk in candidates[start..].chunks(wanted.max(20)) {
        let ids: Vec<String> = chunk.iter().map(|c| c.id.clone()).collect();
        let mut rows = stores_by_ids(db, &ids).await?;
        for c in chunk {
            if let Some(row) = rows.remove(&c.id)
                && keep(&row)
            {
                hits.push(NearHit {
                    store: row,
                    distance_m: c.distance_m,
                });
                if hits.len() == wanted {
                    return Ok(split_page(hits, page));
                }
            }
        }
    }
    Ok(split_page(hits, page))
}

async fn candidates_near<C: ConnectionTrait>(
    db: &C,
    centre: Coordinates,
    radius_m: f64,
    filter: &NearFilter,
) -> Result<Vec<Candidate>> {
    let bbox = BoundingBox::around(centre, radius_m);
    let between = |(a, b): (f64, f64)| {
        Condition::all()
            .add(store::Column::Longitude.gte(a))
            .add(store::Column::Longitude.lte(b))
    };
    let mut condition = Condition::all()
        .add(store::Column::Latitude.gte(bbox.lat_min))
        .add(store::Column::Latitude.lte(bbox.lat_max))
        .add(store::Column::Status.ne(StoreStatus::Closed));
    condition = match bbox.lng {
        LngRanges::All => condition,
        LngRanges::One(a, b) => condition.add(between((a, b))),
        LngRanges::Two(r1, r2) => condition.add(Condition::any().add(between(r1)).add(between(r2))),
    };
    if let Some(brand) = &filter.brand_id {
        condition = condition.add(store::Column::BrandId.eq(brand.as_str()));
    }
    if let Some(kind) = filter.kind {
        condition = condition.add(store::Column::Kind.eq(kind));
    }
    let points: Vec<(String, f64, f64)> = store::Entity::find()
        .select_only()
        .column(store::Column::Id)
        .column(store::Column::Latitude)
        .column(store::Column::Longitude)
        .filter(condition)
        .into_tuple()
        .all(db)
        .await?;
    let mut within: Vec<Candidate> = points
        .into_iter()
        .filter_map(|(id, lat, lng)| {
            let distance_m = distance_m(centre, Coordinates::parse(lat, lng).ok()?);
            (distance_m <= radius_m).then_some(Candidate { id, distance_m })
        })
        .collect();
    within.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(within)
}
