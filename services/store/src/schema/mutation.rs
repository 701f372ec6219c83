use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use kit::ApiResult;

use super::commissions::CommissionRuleView;
use super::guides::{
    AttributionRulesView, Guide, MemberAttribution, MemberRef, ScanPayload, require_guide_or_store,
};
use super::inputs::{
    HoursExceptionInput, OpeningIntervalInput, StoreInput, StorePatchInput, parse_hours,
};
use super::now;
use super::types::Store;
use super::{caller, db, load_guide, load_store};
use crate::domain::attribution::{AttributionRules, DepartureRule};
use crate::domain::clean_text;
use crate::domain::commission::BasisPoints;
use crate::domain::store::{StoreKind, StoreStatus};
use crate::error::Error;
use crate::store::commissions::{self, CommissionRule};
use crate::store::{self, StorePatch, attribution, guides};
use kit::Caller;
use kit::auth::Actor;
use kit::auth::Environment;
use kit::input::ForeignId;

pub struct Mutation;

/// The signed-in member, if they may act now (a merged id acts as its
/// survivor). Stores and guides are live: a sandbox's test member is
/// NOT_FOUND here.
async fn acting_member_of(ctx: &Context<'_>) -> ApiResult<String> {
    match caller(ctx).require_authenticated()? {
        Caller::Member { member_id } => {
            kit::subgraph::acting_member_in(ctx, member_id, Environment::Live).await
        }
        _ => Err(Error::forbidden("this is for signed-in members").into()),
    }
}

#[Object]
impl Mutation {
    /// The store's staff or operators: adds a guide, with a fresh QR code.
    async fn create_guide(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        name: String,
    ) -> ApiResult<Guide> {
        caller(ctx).require_store_staff(Some(&store_id))?;
        let name = clean_text("name", &name, 64)?;
        Ok(Guide(Arc::new(
            guides::create_guide(db(ctx), &store_id, &name, now(ctx)).await?,
        )))
    }

    /// The guide, their store's staff or operators: a new QR code; the old
    /// one stops resolving.
    async fn rotate_guide_code(&self, ctx: &Context<'_>, guide_id: ID) -> ApiResult<Guide> {
        let guide = load_guide(ctx, &guide_id).await?;
        require_guide_or_store(caller(ctx), &guide)?;
        Ok(Guide(Arc::new(
            guides::rotate_code(db(ctx), &guide_id, now(ctx)).await?,
        )))
    }

    /// The store's staff or operators: the guide leaves; their members follow
    /// the brand's departure rule.
    async fn depart_guide(&self, ctx: &Context<'_>, guide_id: ID) -> ApiResult<Guide> {
        let guide = load_guide(ctx, &guide_id).await?;
        caller(ctx).require_store_staff(Some(&guide.store_id))?;
        Ok(Guide(Arc::new(
            guides::depart_guide(db(ctx), &guide_id, &Actor::of(caller(ctx)), now(ctx)).await?,
        )))
    }

    /// A signed-in member scans a guide's QR code.
    async fn record_guide_scan(&self, ctx: &Context<'_>, code: String) -> ApiResult<ScanPayload> {
        let member = acting_member_of(ctx).await?;
        let (result, binding) = attribution::scan(
            db(ctx),
            &member,
            code.trim(),
            &Actor::of(caller(ctx)),
            now(ctx),
        )
        .await?;
        Ok(ScanPayload {
            result,
            attribution: binding.map(MemberAttribution),
        })
    }

    /// Operators: binds a member to a guide, with a reason, whatever the rules.
    async fn rebind_member(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        guide_id: ID,
        reason: String,
    ) -> ApiResult<MemberAttribution> {
        caller(ctx).require_operator()?;
        let member = ForeignId::parse("memberId", &member_id)?;
        let member =
            kit::subgraph::acting_member_in(ctx, member.as_str(), Environment::Live).await?;
        let reason = clean_text("reason", &reason, 500)?;
        let bound = attribution::rebind(
            db(ctx),
            &member,
            &guide_id,
            &reason,
            &Actor::of(caller(ctx)),
            now(ctx),
        )
        .await?;
        Ok(MemberAttribution(bound))
    }

    /// Operators: a brand's attribution rules (for bindings made from now on).
    async fn set_attribution_rules(
        &self,
        ctx: &Context<'_>,
        brand_id: ID,
        #[graphql(desc = "Null: permanent.")] binding_days: Option<i32>,
        #[graphql(desc = "Null: none.")] protection_days: Option<i32>,
        on_guide_departure: DepartureRule,
    ) -> ApiResult<AttributionRulesView> {
        caller(ctx).require_operator()?;
        let brand = ForeignId::parse_live_brand("brandId", &brand_id)?;
        let rules = AttributionRules::parse(binding_days, protection_days, on_guide_departure)?;
        let saved = attribution::set_rules(db(ctx), brand.as_str(), &rules, now(ctx)).await?;
        Ok(AttributionRulesView::new(brand.as_str(), saved))
    }

    /// Operators: a brand's commission rate for guides of one store kind, in
    /// basis points of the paid amount, and its after-sales window.
    async fn set_commission_rule(
        &self,
        ctx: &Context<'_>,
        brand_id: ID,
        store_kind: StoreKind,
        basis_points: i32,
        #[graphql(default = 7)] after_sales_days: i32,
    ) -> ApiResult<Vec<CommissionRuleView>> {
        caller(ctx).require_operator()?;
        let brand = ForeignId::parse_live_brand("brandId", &brand_id)?;
        let bp = BasisPoints::parse(basis_points)?;
        if !(0..=365).contains(&after_sales_days) {
            return Err(Error::invalid(
                "afterSalesDays",
                "afterSalesDays must be between 0 and 365",
            )
            .into());
        }
        let rule = CommissionRule {
            bp,
            after_sales_days: after_sales_days as u32,
        };
        commissions::set_rule(db(ctx), brand.as_str(), store_kind, rule, now(ctx)).await?;
        Ok(commissions::rules_of_brand(db(ctx), brand.as_str())
            .await?
            .into_iter()
            .map(CommissionRuleView::from)
            .collect())
    }

    /// Operators: approves commissions whose after-sales window has closed
    /// (also done every minute by the service). Returns how many.
    async fn approve_due_commissions(&self, ctx: &Context<'_>) -> ApiResult<kit::Long> {
        caller(ctx).require_operator()?;
        let approved = commissions::approve_due(db(ctx), kit::time::to_micros(now(ctx))).await?;
        Ok((approved as i64).into())
    }

    /// The signed-in member keeps a store as a favourite.
    async fn add_favorite_store(&self, ctx: &Context<'_>, store_id: ID) -> ApiResult<MemberRef> {
        let member = acting_member_of(ctx).await?;
        attribution::add_favorite(db(ctx), &member, &store_id, now(ctx)).await?;
        Ok(MemberRef { id: member })
    }

    async fn remove_favorite_store(&self, ctx: &Context<'_>, store_id: ID) -> ApiResult<MemberRef> {
        let member = acting_member_of(ctx).await?;
        attribution::remove_favorite(db(ctx), &member, &store_id).await?;
        Ok(MemberRef { id: member })
    }

    /// Operators: opens a store record.
    async fn create_store(&self, ctx: &Context<'_>, input: StoreInput) -> ApiResult<Store> {
        caller(ctx).require_operator()?;
        let new = input.parse()?;
        Ok(Store(Arc::new(
            store::create_store(db(ctx), &new, now(ctx)).await?,
        )))
    }

    /// Operators: changes a store's description.
    async fn update_store(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: StorePatchInput,
    ) -> ApiResult<Store> {
        caller(ctx).require_operator()?;
        let current = load_store(ctx, &id).await?;
        let patch = input.parse(current.kind)?;
        Ok(Store(Arc::new(
            store::update_store(db(ctx), &id, &patch, now(ctx)).await?,
        )))
    }

    /// The store's staff or operators: replaces the opening hours.
    async fn set_store_hours(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        hours: Vec<OpeningIntervalInput>,
        #[graphql(desc = "Dated exceptions; none if omitted.")] exceptions: Option<
            Vec<HoursExceptionInput>,
        >,
    ) -> ApiResult<Store> {
        caller(ctx).require_store_staff(Some(&store_id))?;
        let hours = parse_hours(hours, exceptions.unwrap_or_default())?;
        let patch = StorePatch {
            hours: Some(hours),
            ..StorePatch::default()
        };
        Ok(Store(Arc::new(
            store::update_store(db(ctx), &store_id, &patch, now(ctx)).await?,
        )))
    }

    /// The store's staff or operators: OPEN, TEMPORARILY_CLOSED or CLOSED.
    async fn set_store_status(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        status: StoreStatus,
    ) -> ApiResult<Store> {
        caller(ctx).require_store_staff(Some(&store_id))?;
        let patch = StorePatch {
            status: Some(status),
            ..StorePatch::default()
        };
        Ok(Store(Arc::new(
            store::update_store(db(ctx), &store_id, &patch, now(ctx)).await?,
        )))
    }
}
