//! GraphQL inputs, parsed at the edge into the domain's checked types.

use async_graphql::{ID, InputObject};
use chrono::NaiveDate;

use crate::domain::clean_text;
use crate::domain::geo::Coordinates;
use crate::domain::hours::{HoursException, Interval, OpeningHours, Weekday, parse_time_zone};
use crate::domain::store::{StoreKind, StoreStatus, check_franchisee, check_phone};
use crate::error::{Error, Result};
use crate::store::{NewStore, StorePatch};
use kit::input::ForeignId;

#[derive(InputObject, Clone, Copy)]
pub struct LocationInput {
    pub latitude: f64,
    pub longitude: f64,
}

impl LocationInput {
    pub fn parse(self) -> Result<Coordinates> {
        Coordinates::parse(self.latitude, self.longitude).map_err(|e| {
            let field = if e.field.as_deref() == Some("lat") {
                "latitude"
            } else {
                "longitude"
            };
            Error::invalid(field, e.message)
        })
    }
}

#[derive(InputObject, Clone)]
pub struct OpeningIntervalInput {
    pub weekday: Weekday,
    /// HH:MM local time.
    pub opens: String,
    /// HH:MM; at or before `opens` means past midnight; 24:00 allowed.
    pub closes: String,
}

#[derive(InputObject, Clone)]
pub struct TimeIntervalInput {
    pub opens: String,
    pub closes: String,
}

#[derive(InputObject, Clone)]
pub struct HoursExceptionInput {
    pub date: NaiveDate,
    /// Empty: closed that day.
    pub intervals: Vec<TimeIntervalInput>,
}

pub fn parse_hours(
    weekly: Vec<OpeningIntervalInput>,
    exceptions: Vec<HoursExceptionInput>,
) -> Result<OpeningHours> {
    let weekly = weekly
        .into_iter()
        .map(|w| Ok((w.weekday, Interval::parse("hours", &w.opens, &w.closes)?)))
        .collect::<Result<Vec<_>>>()?;
    let exceptions = exceptions
        .into_iter()
        .map(|e| {
            Ok(HoursException {
                date: e.date,
                intervals: e
                    .intervals
                    .iter()
                    .map(|i| Interval::parse("exceptions", &i.opens, &i.closes))
                    .collect::<Result<_>>()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    OpeningHours::new(weekly, exceptions)
}

#[derive(InputObject)]
pub struct StoreInput {
    pub brand_id: ID,
    pub name: String,
    pub kind: StoreKind,
    /// Required for FRANCHISE, absent for DIRECT.
    pub franchisee: Option<String>,
    pub address: String,
    pub location: LocationInput,
    /// IANA name, e.g. Asia/Shanghai.
    pub time_zone: String,
    /// Weekly hours; none means never open until set.
    pub hours: Option<Vec<OpeningIntervalInput>>,
    pub exceptions: Option<Vec<HoursExceptionInput>>,
    pub phone: Option<String>,
    #[graphql(default_with = "StoreStatus::Open")]
    pub status: StoreStatus,
}

impl StoreInput {
    pub fn parse(self) -> Result<NewStore> {
        Ok(NewStore {
            brand_id: ForeignId::parse_live_brand("brandId", &self.brand_id)?,
            name: clean_text("name", &self.name, 128)?,
            kind: self.kind,
            franchisee: check_franchisee(self.kind, self.franchisee.as_deref())?,
            address: clean_text("address", &self.address, 256)?,
            location: self.location.parse()?,
            time_zone: parse_time_zone(&self.time_zone)?,
            hours: parse_hours(
                self.hours.unwrap_or_default(),
                self.exceptions.unwrap_or_default(),
            )?,
            phone: self.phone.as_deref().map(check_phone).transpose()?,
            status: self.status,
        })
    }
}

/// Changes to a store; omitted fields stay.
#[derive(InputObject, Default)]
pub struct StorePatchInput {
    pub name: Option<String>,
    pub kind: Option<StoreKind>,
    pub franchisee: Option<String>,
    pub address: Option<String>,
    pub location: Option<LocationInput>,
    pub time_zone: Option<String>,
    pub phone: Option<String>,
}

impl StorePatchInput {
    /// `current_kind` decides whether a lone franchisee change is valid.
    pub fn parse(self, current_kind: StoreKind) -> Result<StorePatch> {
        let kind = match (self.kind, self.franchisee.as_deref()) {
            (None, None) => None,
            (kind, franchisee) => {
                let kind = kind.unwrap_or(current_kind);
                Some((kind, check_franchisee(kind, franchisee)?))
            }
        };
        let patch = StorePatch {
            name: self
                .name
                .as_deref()
                .map(|n| clean_text("name", n, 128))
                .transpose()?,
            kind,
            address: self
                .address
                .as_deref()
                .map(|a| clean_text("address", a, 256))
                .transpose()?,
            location: self.location.map(LocationInput::parse).transpose()?,
            time_zone: self.time_zone.as_deref().map(parse_time_zone).transpose()?,
            hours: None,
            phone: self.phone.as_deref().map(check_phone).transpose()?,
            status: None,
        };
        Ok(patch)
    }
}
