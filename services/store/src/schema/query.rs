use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object};
use kit::ApiResult;
use kit::paging::{PageRequest, encode_cursor};

use super::commissions::{CommissionRuleView, CommissionStatement, PeriodInput, resolve_period};
use super::guides::{AttributionRulesView, Guide, MemberRef};
use super::types::{Brand, Distance, Store, StoreNearConnection, open_at};
use super::{caller, db, load_guide, load_store};
use crate::domain::geo::{Coordinates, RadiusKm};
use crate::domain::store::StoreKind;
use crate::error::Error;
use crate::store::{self, NearFilter, attribution, commissions, guides};
use kit::input::ForeignId;

pub struct Query;

#[Object]
impl Query {
    /// A store by id. Store information is public.
    async fn store(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Store> {
        Ok(Store(Arc::new(load_store(ctx, &id).await?)))
    }

    /// Stores within `radiusKm` (at most 50) of a point, nearest first, each
    /// with its distance. Permanently closed stores are left out.
    #[allow(clippy::too_many_arguments)]
    async fn stores_near(
        &self,
        ctx: &Context<'_>,
        lat: f64,
        lng: f64,
        radius_km: f64,
        brand_id: Option<ID>,
        kind: Option<StoreKind>,
        #[graphql(desc = "Only stores open right now (in their own time zone).")] open_now: Option<
            bool,
        >,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<StoreNearConnection> {
        let centre = Coordinates::parse(lat, lng)?;
        let radius = RadiusKm::parse(radius_km)?;
        let page = PageRequest::parse(first, after)?;
        let filter = NearFilter {
            brand_id: brand_id
                .map(|b| ForeignId::parse("brandId", &b).map(ForeignId::into_string))
                .transpose()?,
            kind,
        };
        let wanted_open = open_now.unwrap_or(false);
        let now = super::now(ctx);
        let (hits, has_next) =
            store::near_page(db(ctx), centre, radius.metres(), &filter, &page, |row| {
                !wanted_open || open_at(row, now)
            })
            .await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(hits.into_iter().map(|hit| {
            let cursor = encode_cursor(&hit.cursor());
            Edge::with_additional_fields(
                cursor,
                Store(Arc::new(hit.store)),
                Distance {
                    distance_meters: hit.distance_m,
                },
            )
        }));
        Ok(connection)
    }

    /// Federation: Store entities by id.
    #[graphql(entity)]
    async fn find_store_by_id(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Store> {
        Ok(Store(Arc::new(load_store(ctx, &id).await?)))
    }

    /// A guide by id (name, store and status are public).
    async fn guide(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Guide> {
        Ok(Guide(Arc::new(load_guide(ctx, &id).await?)))
    }

    /// The active guide a QR code names; NOT_FOUND for a rotated or unknown
    /// code.
    async fn guide_by_code(&self, ctx: &Context<'_>, code: String) -> ApiResult<Guide> {
        let guide = guides::guide_by_code(db(ctx), code.trim())
            .await?
            .ok_or_else(|| Error::not_found("no active guide has this code"))?;
        Ok(Guide(Arc::new(guide)))
    }

    /// A brand's attribution rules (defaults if never set).
    async fn attribution_rules(
        &self,
        ctx: &Context<'_>,
        brand_id: ID,
    ) -> ApiResult<AttributionRulesView> {
        caller(ctx).require_authenticated()?;
        let brand = ForeignId::parse("brandId", &brand_id)?;
        let rules = attribution::rules_for(db(ctx), brand.as_str()).await?;
        Ok(AttributionRulesView::new(brand.as_str(), rules))
    }

    /// A store's commission statement (its staff, operators); default
    /// period: this calendar month in the store's zone.
    async fn store_commission_statement(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        period: Option<PeriodInput>,
    ) -> ApiResult<CommissionStatement> {
        caller(ctx).require_store_staff(Some(&store_id))?;
        let store = load_store(ctx, &store_id).await?;
        let zone = crate::domain::hours::parse_time_zone(&store.time_zone)?;
        let period = resolve_period(period, super::now(ctx), zone)?;
        let lines = commissions::store_statement(db(ctx), &store_id, period.period).await?;
        Ok(CommissionStatement::new(&store_id, period, lines)?)
    }

    /// A brand's commission rules.
    async fn commission_rules(
        &self,
        ctx: &Context<'_>,
        brand_id: ID,
    ) -> ApiResult<Vec<CommissionRuleView>> {
        caller(ctx).require_authenticated()?;
        let brand = ForeignId::parse("brandId", &brand_id)?;
        Ok(commissions::rules_of_brand(db(ctx), brand.as_str())
            .await?
            .into_iter()
            .map(CommissionRuleView::from)
            .collect())
    }

    /// Federation: Guide entities by id.
    #[graphql(entity)]
    async fn find_guide_by_id(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Guide> {
        Ok(Guide(Arc::new(load_guide(ctx, &id).await?)))
    }

    /// Federation: a Member (owned by the member service) to hang attribution
    /// and favourite stores on.
    #[graphql(entity)]
    async fn find_member_by_id(&self, id: ID) -> MemberRef {
        MemberRef { id: id.0 }
    }

    /// Federation: a Brand (owned by the alliance service) to hang its stores on.
    #[graphql(entity)]
    async fn find_brand_by_id(&self, id: ID) -> Brand {
        Brand { id: id.0 }
    }
}
