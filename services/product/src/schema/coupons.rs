//! GraphQL types of coupons: what a member holds, and its terms.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use kit::events::schema::{CouponBenefit, CouponKind, CouponTerms};
use kit::time::from_micros;
use kit::{ApiResult, Long};

use super::now;
use crate::domain::coupons::{CouponState, state_at};
use crate::store::coupons::terms_of;
use crate::store::entities::coupon;

/// A member's coupon: a code they show, the terms it applies by, and where
/// it stands. Amounts in fen.
pub struct Coupon {
    row: coupon::Model,
    /// Read once from the row (INTERNAL_SERVER_ERROR if unreadable).
    terms: CouponTerms,
}

impl Coupon {
    pub fn new(row: coupon::Model) -> ApiResult<Self> {
        let terms = terms_of(&row)?;
        Ok(Self { row, terms })
    }
}

#[Object]
impl Coupon {
    async fn id(&self) -> ID {
        ID(self.row.id.clone())
    }
    /// What the member shows or types at the till or in the app.
    async fn code(&self) -> &str {
        &self.row.code
    }
    /// The member it belongs to now.
    async fn member_id(&self) -> ID {
        ID(self.row.member_id.clone())
    }
    /// The brand that issued it.
    async fn brand_id(&self) -> ID {
        ID(self.row.brand_id.clone())
    }
    /// The reward redemption that issued it.
    async fn reward_redemption_id(&self) -> ID {
        ID(self.row.source_id.clone())
    }
    /// By the service's clock: EXPIRED once its last day is over.
    async fn state(&self, ctx: &Context<'_>) -> CouponState {
        state_at(self.row.state, from_micros(self.row.valid_until), now(ctx))
    }
    async fn kind(&self) -> CouponKind {
        self.row.kind
    }
    async fn amount_off_fen(&self) -> ApiResult<Option<Long>> {
        Ok(match self.terms.benefit.clone() {
            CouponBenefit::AmountOff { amount_fen } => Some(amount_fen.into()),
            _ => None,
        })
    }
    async fn percent_off(&self) -> ApiResult<Option<i64>> {
        Ok(match self.terms.benefit.clone() {
            CouponBenefit::PercentOff { percent, .. } => Some(percent),
            _ => None,
        })
    }
    async fn cap_fen(&self) -> ApiResult<Option<Long>> {
        Ok(match self.terms.benefit.clone() {
            CouponBenefit::PercentOff { cap_fen, .. } => cap_fen.map(Into::into),
            _ => None,
        })
    }
    async fn free_sku_id(&self) -> ApiResult<Option<ID>> {
        Ok(match self.terms.benefit.clone() {
            CouponBenefit::FreeItem { sku_id } => Some(ID(sku_id)),
            _ => None,
        })
    }
    /// What the lines it applies to must come to first.
    async fn min_spend_fen(&self) -> ApiResult<Long> {
        Ok(self.terms.min_spend_fen.into())
    }
    /// Brands whose lines it applies to; empty: the issuing brand's.
    async fn brand_ids(&self) -> ApiResult<Vec<String>> {
        Ok(self.terms.brand_ids.clone())
    }
    async fn sku_ids(&self) -> ApiResult<Vec<String>> {
        Ok(self.terms.sku_ids.clone())
    }
    async fn category_ids(&self) -> ApiResult<Vec<String>> {
        Ok(self.terms.category_ids.clone())
    }
    /// Whether a fully refunded order gives it back.
    async fn restore_on_refund(&self) -> ApiResult<bool> {
        Ok(self.terms.restore_on_refund)
    }
    async fn valid_from(&self) -> DateTime<Utc> {
        from_micros(self.row.valid_from)
    }
    /// Exclusive: the end of its last day in the issuing programme's zone.
    async fn valid_until(&self) -> DateTime<Utc> {
        from_micros(self.row.valid_until)
    }
    /// The order holding it (RESERVED) or that used it (USED).
    async fn order_id(&self) -> Option<ID> {
        self.row.order_id.clone().map(ID)
    }
    /// The member who gave it, if it was given.
    async fn given_by_member_id(&self) -> Option<ID> {
        self.row.given_by.clone().map(ID)
    }
    async fn issued_at(&self) -> DateTime<Utc> {
        from_micros(self.row.issued_at)
    }
}
