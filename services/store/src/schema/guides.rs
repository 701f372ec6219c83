//! Guides, attribution and favourites in the graph.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use kit::paging::{PageRequest, encode_cursor};
use kit::time::from_micros;
use kit::{ApiResult, Caller};

use super::types::{Brand, Store};
use super::{caller, db, load_store};
use crate::domain::attribution::{BindingCause, DepartureRule};
use crate::domain::guide::GuideStatus;
use crate::error::{Error, Result};
use crate::store::attribution::{self, ScanResult};
use crate::store::entities::{
    attribution as attribution_row, attribution_change, guide as guide_row,
};

/// A member of staff with a personal QR code.
#[derive(Clone)]
pub struct Guide(pub Arc<guide_row::Model>);

/// The guide themself, their store's staff, or an operator.
pub(crate) fn require_guide_or_store(caller: &Caller, guide: &guide_row::Model) -> Result<()> {
    caller.require_authenticated()?;
    match caller {
        Caller::Operator { .. } => Ok(()),
        Caller::Staff {
            guide_id, store_id, ..
        } if *guide_id == guide.id || *store_id == guide.store_id => Ok(()),
        _ => Err(Error::forbidden(
            "only the guide, their store's staff or an operator may see this",
        )),
    }
}

#[Object]
impl Guide {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn status(&self) -> GuideStatus {
        self.0.status
    }

    async fn store(&self, ctx: &Context<'_>) -> ApiResult<Store> {
        Ok(Store(Arc::new(load_store(ctx, &self.0.store_id).await?)))
    }

    async fn brand(&self) -> Brand {
        Brand {
            id: self.0.brand_id.clone(),
        }
    }

    /// The personal QR code (the guide, their store's staff, operators).
    async fn code(&self, ctx: &Context<'_>) -> ApiResult<&str> {
        require_guide_or_store(caller(ctx), &self.0)?;
        Ok(&self.0.code)
    }

    /// Commissions earned in a period (the guide, their store's staff,
    /// operators); default: this calendar month in the store's zone.
    async fn commissions(
        &self,
        ctx: &Context<'_>,
        period: Option<super::commissions::PeriodInput>,
        status: Option<crate::domain::commission::CommissionStatus>,
    ) -> ApiResult<super::commissions::GuideCommissions> {
        require_guide_or_store(caller(ctx), &self.0)?;
        let store = super::load_store(ctx, &self.0.store_id).await?;
        let zone = crate::domain::hours::parse_time_zone(&store.time_zone)?;
        let period = super::commissions::resolve_period(period, super::now(ctx), zone)?;
        Ok(super::commissions::guide_commissions(ctx, &self.0.id, period, status).await?)
    }

    /// Members bound to this guide.
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, MemberAttribution, EmptyFields, EmptyFields>> {
        require_guide_or_store(caller(ctx), &self.0)?;
        let page = PageRequest::parse(first, after)?;
        let (rows, has_next) = attribution::members_of_guide(db(ctx), &self.0.id, &page).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(encode_cursor(&row.member_id), MemberAttribution(row))),
        );
        Ok(connection)
    }
}

/// A member's binding: to a guide (and their store), or to a store alone
/// after the guide left.
#[derive(Clone)]
pub struct MemberAttribution(pub attribution_row::Model);

#[Object(name = "Attribution")]
impl MemberAttribution {
    async fn member(&self) -> MemberRef {
        MemberRef {
            id: self.0.member_id.clone(),
        }
    }

    async fn guide(&self, ctx: &Context<'_>) -> ApiResult<Option<Guide>> {
        guide_of(ctx, self.0.guide_id.as_deref()).await
    }

    async fn store(&self, ctx: &Context<'_>) -> ApiResult<Option<Store>> {
        match &self.0.store_id {
            Some(id) => Ok(Some(Store(Arc::new(load_store(ctx, id).await?)))),
            None => Ok(None),
        }
    }

    async fn bound_at(&self) -> DateTime<Utc> {
        from_micros(self.0.bound_at)
    }

    /// Null: permanent.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at.map(from_micros)
    }

    /// Until then no other guide can take the member.
    async fn protected_until(&self) -> Option<DateTime<Utc>> {
        self.0.protected_until.map(from_micros)
    }

    async fn cause(&self) -> BindingCause {
        self.0.cause
    }
}

async fn guide_of(ctx: &Context<'_>, id: Option<&str>) -> ApiResult<Option<Guide>> {
    match id {
        Some(id) => Ok(kit::loader::by_id::<guide_row::Entity>(ctx, id)
            .await?
            .map(|g| Guide(Arc::new(g)))),
        None => Ok(None),
    }
}

#[derive(SimpleObject)]
pub struct AttributionChange {
    pub from_guide_id: Option<ID>,
    pub from_store_id: Option<ID>,
    pub to_guide_id: Option<ID>,
    pub to_store_id: Option<ID>,
    pub cause: BindingCause,
    pub reason: Option<String>,
    pub changed_at: DateTime<Utc>,
}

impl From<attribution_change::Model> for AttributionChange {
    fn from(row: attribution_change::Model) -> Self {
        Self {
            from_guide_id: row.from_guide_id.map(ID),
            from_store_id: row.from_store_id.map(ID),
            to_guide_id: row.to_guide_id.map(ID),
            to_store_id: row.to_store_id.map(ID),
            cause: row.cause,
            reason: row.reason,
            changed_at: from_micros(row.changed_at),
        }
    }
}

/// A member (owned by the member service); this service adds who brought
/// them and their favourite stores.
pub struct MemberRef {
    pub id: String,
}

impl MemberRef {
    /// The member, staff of the store they are bound to, or operators.
    async fn require_reader(&self, ctx: &Context<'_>) -> Result<Option<attribution_row::Model>> {
        let caller = caller(ctx).require_authenticated()?;
        let binding = kit::loader::by_id::<attribution_row::Entity>(ctx, &self.id).await?;
        match caller {
            Caller::Operator { .. } => Ok(binding),
            Caller::Member { member_id }
                if kit::subgraph::speaks_for(ctx, member_id, &self.id).await =>
            {
                Ok(binding)
            }
            Caller::Staff { store_id, .. }
                if binding.as_ref().and_then(|b| b.store_id.as_deref())
                    == Some(store_id.as_str()) =>
            {
                Ok(binding)
            }
            _ => Err(Error::forbidden(
                "you may not read this member's attribution",
            )),
        }
    }
}

#[Object(name = "Member")]
impl MemberRef {
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }

    /// The guide who brought the member (null if none, or the guide left).
    async fn referred_by(&self, ctx: &Context<'_>) -> ApiResult<Option<Guide>> {
        let binding = self.require_reader(ctx).await?;
        guide_of(ctx, binding.as_ref().and_then(|b| b.guide_id.as_deref())).await
    }

    async fn attribution(&self, ctx: &Context<'_>) -> ApiResult<Option<MemberAttribution>> {
        Ok(self.require_reader(ctx).await?.map(MemberAttribution))
    }

    /// Every binding change, most recent first.
    async fn attribution_history(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<Vec<AttributionChange>>> {
        kit::contributed(async {
            self.require_reader(ctx).await?;
            Ok(attribution::attribution_history(db(ctx), &self.id)
                .await?
                .into_iter()
                .map(AttributionChange::from)
                .collect())
        })
        .await
    }

    /// Stores the member keeps as favourites (the member or operators).
    async fn favorite_stores(&self, ctx: &Context<'_>) -> ApiResult<Option<Vec<Store>>> {
        kit::contributed(async {
            match caller(ctx).require_authenticated()? {
                Caller::Operator { .. } => {}
                Caller::Member { member_id }
                    if kit::subgraph::speaks_for(ctx, member_id, &self.id).await => {}
                _ => return Err(Error::forbidden("favourite stores are the member's own").into()),
            }
            let ids = attribution::favorites_of(db(ctx), &self.id).await?;
            let mut by_id = crate::store::stores_by_ids(db(ctx), &ids).await?;
            Ok(ids
                .iter()
                .filter_map(|id| by_id.remove(id))
                .map(|s| Store(Arc::new(s)))
                .collect())
        })
        .await
    }
}

#[derive(SimpleObject)]
pub struct ScanPayload {
    pub result: ScanResult,
    pub attribution: Option<MemberAttribution>,
}

#[derive(SimpleObject)]
pub struct AttributionRulesView {
    pub brand_id: ID,
    /// Null: bindings are permanent.
    pub binding_days: Option<i32>,
    /// Null: no protection period.
    pub protection_days: Option<i32>,
    pub on_guide_departure: DepartureRule,
}

impl AttributionRulesView {
    pub fn new(brand_id: &str, rules: crate::domain::attribution::AttributionRules) -> Self {
        Self {
            brand_id: ID(brand_id.to_owned()),
            binding_days: rules.binding_days.map(|d| d as i32),
            protection_days: rules.protection_days.map(|d| d as i32),
            on_guide_departure: rules.on_departure,
        }
    }
}
