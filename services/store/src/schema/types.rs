//! GraphQL output types of the store subgraph.

use std::sync::Arc;

use super::db;
use async_graphql::connection::{Connection, ConnectionNameType, Edge, EdgeNameType, EmptyFields};
use async_graphql::{Context, ID, Object, OutputType, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use kit::ApiResult;
use kit::paging::{PageRequest, encode_cursor};

use crate::domain::hours::{Interval, Weekday, parse_time_zone};
use crate::domain::store::{StoreKind, StoreStatus};
use crate::store::{self, entities::store as store_row, hours_of};

/// A store of a brand: direct or franchise, with a place and opening hours.
#[derive(Clone)]
pub struct Store(pub Arc<store_row::Model>);

#[Object]
impl Store {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn brand(&self) -> Brand {
        Brand {
            id: self.0.brand_id.clone(),
        }
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn kind(&self) -> StoreKind {
        self.0.kind
    }

    /// Who runs a FRANCHISE store.
    async fn franchisee(&self) -> Option<&str> {
        self.0.franchisee.as_deref()
    }

    async fn address(&self) -> &str {
        &self.0.address
    }

    async fn location(&self) -> Location {
        Location {
            latitude: self.0.latitude,
            longitude: self.0.longitude,
        }
    }

    /// IANA time zone the opening hours are in.
    async fn time_zone(&self) -> &str {
        &self.0.time_zone
    }

    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }

    async fn status(&self) -> StoreStatus {
        self.0.status
    }

    /// Weekly hours, Monday first; a day without intervals is closed.
    async fn opening_hours(&self) -> Vec<DayHours> {
        let hours = hours_of(&self.0);
        Weekday::ALL
            .iter()
            .zip(hours.weekly.iter())
            .map(|(day, intervals)| DayHours {
                weekday: *day,
                intervals: intervals.iter().map(TimeInterval::from).collect(),
            })
            .collect()
    }

    /// Dates that differ from the weekly hours (holidays).
    async fn hours_exceptions(&self) -> Vec<HoursExceptionView> {
        hours_of(&self.0)
            .exceptions
            .iter()
            .map(|e| HoursExceptionView {
                date: e.date,
                closed: e.intervals.is_empty(),
                intervals: e.intervals.iter().map(TimeInterval::from).collect(),
            })
            .collect()
    }

    /// The store's guides (its staff and operators).
    async fn guides(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, super::guides::Guide, EmptyFields, EmptyFields>> {
        super::caller(ctx).require_store_staff(Some(&self.0.id))?;
        let page = PageRequest::parse(first, after)?;
        let db = db(ctx);
        let (rows, has_next) = crate::store::guides::guides_of_store(db, &self.0.id, &page).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|g| Edge::new(encode_cursor(&g.id), super::guides::Guide(Arc::new(g)))),
        );
        Ok(connection)
    }

    /// Open right now, in the store's own time zone (and its status is OPEN).
    async fn open_now(&self, ctx: &Context<'_>) -> bool {
        open_at(&self.0, super::now(ctx))
    }
}

/// Whether the store is open at `now`, in its own time zone (and OPEN).
pub fn open_at(row: &store_row::Model, now: DateTime<Utc>) -> bool {
    row.status == StoreStatus::Open
        && parse_time_zone(&row.time_zone).is_ok_and(|tz| hours_of(row).is_open(tz, now))
}

#[derive(SimpleObject, Clone, Copy)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(SimpleObject, Clone)]
pub struct DayHours {
    pub weekday: Weekday,
    pub intervals: Vec<TimeInterval>,
}

/// Local times as HH:MM; `closes` at or before `opens` runs past midnight.
#[derive(SimpleObject, Clone)]
pub struct TimeInterval {
    pub opens: String,
    pub closes: String,
}

impl From<&Interval> for TimeInterval {
    fn from(i: &Interval) -> Self {
        Self {
            opens: Interval::format(i.opens),
            closes: Interval::format(i.closes),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct HoursExceptionView {
    pub date: NaiveDate,
    pub closed: bool,
    pub intervals: Vec<TimeInterval>,
}

/// How far a store is from the point searched.
#[derive(SimpleObject, Clone, Copy)]
pub struct Distance {
    /// Great-circle distance, metres.
    pub distance_meters: f64,
}

/// `storesNear` results: edges carry the distance, so the types get their
/// own names (a plain `StoreConnection` is `Brand.stores`).
pub type StoreNearConnection =
    Connection<String, Store, EmptyFields, Distance, StoreNearName, StoreNearEdgeName>;

pub struct StoreNearName;

impl ConnectionNameType for StoreNearName {
    fn type_name<T: OutputType>() -> String {
        "StoreNearConnection".to_owned()
    }
}

pub struct StoreNearEdgeName;

impl EdgeNameType for StoreNearEdgeName {
    fn type_name<T: OutputType>() -> String {
        "StoreNearEdge".to_owned()
    }
}

/// A brand of the alliance (owned by the alliance service); this service
/// adds its stores.
pub struct Brand {
    pub id: String,
}

#[Object]
impl Brand {
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }

    /// The brand's stores, oldest first.
    async fn stores(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Option<Connection<String, Store, EmptyFields, EmptyFields>>> {
        kit::contributed(async {
            let page = PageRequest::parse(first, after)?;
            let db = db(ctx);
            let (rows, has_next) = store::stores_of_brand(db, &self.id, &page).await?;
            let mut connection = Connection::new(page.after.is_some(), has_next);
            connection.edges.extend(
                rows.into_iter()
                    .map(|row| Edge::new(encode_cursor(&row.id), Store(Arc::new(row)))),
            );
            Ok(connection)
        })
        .await
    }
}
