//! GraphQL types of a brand's rewards catalogue: the reward, the input
//! that adds one (parsed here into the store's draft), and a redemption.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use kit::events::schema::{CouponBenefit, CouponKind, CouponTerms};
use kit::input::ForeignId;
use kit::time::from_micros;
use kit::{ApiResult, Long};

use super::db;
use super::types::LedgerEntry;
use crate::domain::campaigns::{Window, parse_day};
use crate::domain::rewards::{
    Availability, DropStatus, RewardGives, check_coupon_terms, parse_per_member_limit,
    parse_points_price, parse_stock, parse_tiers,
};
use crate::error::{Error, Result};
use crate::store::entities::{coupon_drop, reward, reward_redemption};
use crate::store::ledger;
use crate::store::rewards::{RewardDraft, RewardItem, availability_of, coupon_terms_of};

/// A reward in a brand's catalogue: what it costs in the programme's
/// points and what it gives.
pub struct Reward(pub reward::Model);

#[Object]
impl Reward {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn programme_id(&self) -> ID {
        ID(self.0.programme_id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Points debited per redemption.
    async fn points_price(&self) -> Long {
        self.0.points_price.into()
    }
    /// Units it started with; null: unlimited.
    async fn stock(&self) -> Option<Long> {
        self.0.stock.map(Into::into)
    }
    /// Units left; null: unlimited.
    async fn remaining(&self) -> Option<Long> {
        self.0.remaining.map(Into::into)
    }
    async fn kind(&self) -> RewardGives {
        self.0.gives
    }
    /// Of a COUPON reward: the coupon each redemption issues.
    async fn coupon(&self) -> ApiResult<Option<RewardCoupon>> {
        Ok(coupon_terms_of(&self.0)?.map(RewardCoupon))
    }
    /// Of a GIFT reward: what the member collects in a store.
    async fn gift(&self) -> Option<&str> {
        self.0.gift.as_deref()
    }
    /// Tier codes that may redeem it; empty: every tier.
    async fn eligible_tiers(&self) -> ApiResult<Vec<String>> {
        Ok(availability_of(&self.0)?.tiers.into_iter().collect())
    }
    /// The segment whose members alone may redeem it; null: anyone.
    async fn eligible_segment_id(&self) -> Option<ID> {
        self.0.eligible_segment_id.clone().map(ID)
    }
    /// Redemptions per member; null: no limit.
    async fn per_member_limit(&self) -> Option<i64> {
        self.0.per_member_limit
    }
    /// When it can be redeemed from; null: always.
    async fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.0.starts_at.map(from_micros)
    }
    /// Exclusive; null: always.
    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.ends_at.map(from_micros)
    }
}

/// The coupon a reward issues: what it takes off, from which lines of an
/// order, from what spend, for how long. Amounts in fen.
pub struct RewardCoupon(CouponTerms);

#[Object]
impl RewardCoupon {
    async fn kind(&self) -> CouponKind {
        self.0.benefit.kind()
    }
    async fn amount_off_fen(&self) -> Option<Long> {
        match self.0.benefit {
            CouponBenefit::AmountOff { amount_fen } => Some(amount_fen.into()),
            _ => None,
        }
    }
    async fn percent_off(&self) -> Option<i64> {
        match self.0.benefit {
            CouponBenefit::PercentOff { percent, .. } => Some(percent),
            _ => None,
        }
    }
    async fn cap_fen(&self) -> Option<Long> {
        match self.0.benefit {
            CouponBenefit::PercentOff { cap_fen, .. } => cap_fen.map(Into::into),
            _ => None,
        }
    }
    async fn free_sku_id(&self) -> Option<ID> {
        match &self.0.benefit {
            CouponBenefit::FreeItem { sku_id } => Some(ID(sku_id.clone())),
            _ => None,
        }
    }
    async fn min_spend_fen(&self) -> Long {
        self.0.min_spend_fen.into()
    }
    /// Brands whose lines it applies to; empty: the issuing brand's.
    async fn brand_ids(&self) -> &[String] {
        &self.0.brand_ids
    }
    async fn sku_ids(&self) -> &[String] {
        &self.0.sku_ids
    }
    async fn category_ids(&self) -> &[String] {
        &self.0.category_ids
    }
    /// Whole days in the programme's zone, the day of issue first.
    async fn valid_days(&self) -> i64 {
        self.0.valid_days
    }
    /// Whether a fully refunded order gives the coupon back.
    async fn restore_on_refund(&self) -> bool {
        self.0.restore_on_refund
    }
}

/// A reward to add to a programme's catalogue: give exactly one of
/// `coupon` and `gift`.
#[derive(InputObject)]
pub struct RewardInput {
    pub programme_id: ID,
    /// 1-120 characters.
    pub name: String,
    /// Up to 500 characters.
    #[graphql(default)]
    pub description: String,
    /// 1 to 100,000,000 points.
    pub points_price: Long,
    /// Units, 0 to 10,000,000; omit for unlimited.
    pub stock: Option<Long>,
    /// 1-1000 redemptions per member; omit for no limit.
    pub per_member_limit: Option<i64>,
    /// Tier codes that may redeem it (`GOLD`...); empty: every tier.
    #[graphql(default)]
    pub eligible_tiers: Vec<String>,
    /// A segment (operators define them at the member service) whose
    /// members alone may redeem it.
    pub eligible_segment_id: Option<ID>,
    /// First day it can be redeemed, `YYYY-MM-DD` in the programme's
    /// zone; give both days or neither (always).
    pub first_day: Option<String>,
    /// Last day it can be redeemed, `YYYY-MM-DD`, inclusive.
    pub last_day: Option<String>,
    pub coupon: Option<CouponTermsInput>,
    /// What the member collects in a store, 1-500 characters.
    pub gift: Option<String>,
}

/// A coupon's terms: give exactly one of `amountOffFen`, `percentOff` and
/// `freeSkuId`.
#[derive(InputObject)]
pub struct CouponTermsInput {
    /// A fixed amount off, 1 to 10,000,000 fen.
    pub amount_off_fen: Option<Long>,
    /// A percentage off, 1-100.
    pub percent_off: Option<i64>,
    /// With `percentOff`: at most this much off, in fen.
    pub cap_fen: Option<Long>,
    /// One unit of this SKU free, when the order holds it.
    pub free_sku_id: Option<ID>,
    /// What its lines must come to first, in fen (default 0).
    #[graphql(default)]
    pub min_spend_fen: Long,
    /// Brands whose lines it applies to; empty: the issuing brand's.
    #[graphql(default)]
    pub brand_ids: Vec<String>,
    /// If named, only these SKUs' lines.
    #[graphql(default)]
    pub sku_ids: Vec<String>,
    /// If named, only lines under these categories (`coffee` holds
    /// `coffee/beans`).
    #[graphql(default)]
    pub category_ids: Vec<String>,
    /// 1-366 whole days in the programme's zone, the day of issue first.
    pub valid_days: i64,
    /// Whether a fully refunded order gives the coupon back (default no).
    #[graphql(default)]
    pub restore_on_refund: bool,
}

impl CouponTermsInput {
    fn parse(self) -> Result<CouponTerms> {
        let benefit = match (self.amount_off_fen, self.percent_off, self.free_sku_id) {
            (Some(amount), None, None) => CouponBenefit::AmountOff {
                amount_fen: amount.get(),
            },
            (None, Some(percent), None) => CouponBenefit::PercentOff {
                percent,
                cap_fen: self.cap_fen.map(Long::get),
            },
            (None, None, Some(sku)) => CouponBenefit::FreeItem {
                sku_id: sku.0.trim().to_owned(),
            },
            _ => {
                return Err(Error::invalid(
                    "coupon",
                    "give exactly one of amountOffFen, percentOff and freeSkuId",
                ));
            }
        };
        if self.cap_fen.is_some() && !matches!(benefit, CouponBenefit::PercentOff { .. }) {
            return Err(Error::invalid("capFen", "capFen goes with percentOff"));
        }
        let trim = |ids: Vec<String>| ids.into_iter().map(|i| i.trim().to_owned()).collect();
        let terms = CouponTerms {
            benefit,
            min_spend_fen: self.min_spend_fen.get(),
            brand_ids: trim(self.brand_ids),
            sku_ids: trim(self.sku_ids),
            category_ids: trim(self.category_ids),
            valid_days: self.valid_days,
            restore_on_refund: self.restore_on_refund,
        };
        check_coupon_terms(&terms)?;
        Ok(terms)
    }
}

impl RewardInput {
    /// The draft, its days read in `zone` (the programme's).
    pub fn parse(self, programme_id: String, zone: Tz) -> Result<RewardDraft> {
        let name = kit::input::clean_text("name", &self.name, 120)?;
        let description = self.description.trim().to_owned();
        if description.chars().count() > 500 {
            return Err(Error::invalid(
                "description",
                "description is at most 500 characters",
            ));
        }
        let window = match (self.first_day, self.last_day) {
            (None, None) => None,
            (Some(first), Some(last)) => {
                let first = parse_day("firstDay", &first)?;
                let last = parse_day("lastDay", &last)?;
                if last < first {
                    return Err(Error::invalid(
                        "lastDay",
                        "lastDay must not be before firstDay",
                    ));
                }
                Some(Window::days(first, last, zone)?)
            }
            (None, Some(_)) => {
                return Err(Error::invalid("firstDay", "give firstDay with lastDay"));
            }
            (Some(_), None) => return Err(Error::invalid("lastDay", "give lastDay with firstDay")),
        };
        let item = match (self.coupon, self.gift) {
            (Some(coupon), None) => RewardItem::Coupon(coupon.parse()?),
            (None, Some(gift)) => RewardItem::Gift(kit::input::clean_text("gift", &gift, 500)?),
            _ => {
                return Err(Error::invalid(
                    "coupon",
                    "give exactly one of coupon and gift",
                ));
            }
        };
        Ok(RewardDraft {
            programme_id,
            name,
            description,
            points_price: parse_points_price(self.points_price.get())?,
            stock: parse_stock(self.stock.map(Long::get))?,
            item,
            availability: Availability {
                window,
                tiers: parse_tiers(self.eligible_tiers)?,
                segment_id: self
                    .eligible_segment_id
                    .map(|s| ForeignId::parse("eligibleSegmentId", &s).map(ForeignId::into_string))
                    .transpose()?,
                per_member_limit: parse_per_member_limit(self.per_member_limit)?,
            },
        })
    }
}

/// One redemption of a reward: the points it took and the coupon it gave.
pub struct RewardRedemption(pub reward_redemption::Model);

#[Object]
impl RewardRedemption {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn reward_id(&self) -> ID {
        ID(self.0.reward_id.clone())
    }
    async fn member_id(&self) -> ID {
        ID(self.0.member_id.clone())
    }
    async fn points(&self) -> Long {
        self.0.points.into()
    }
    /// The REDEEM entry that took the points.
    async fn entry(&self, ctx: &Context<'_>) -> ApiResult<LedgerEntry> {
        Ok(LedgerEntry(
            ledger::entry_by_id(db(ctx), &self.0.entry_id).await?,
        ))
    }
    /// Of a COUPON reward: the coupon issued (in the member's wallet as
    /// soon as the product service has read the redemption).
    async fn coupon(&self) -> Option<IssuedCouponRef> {
        Some(IssuedCouponRef {
            id: ID(self.0.coupon_id.clone()?),
            code: self.0.coupon_code.clone()?,
        })
    }
    async fn redeemed_at(&self) -> DateTime<Utc> {
        from_micros(self.0.created_at)
    }
}

/// The coupon a redemption issued: its id and the code the member shows.
#[derive(SimpleObject)]
pub struct IssuedCouponRef {
    pub id: ID,
    pub code: String,
}

/// A reward's coupon given, without points, to every member of a segment:
/// granted a page at a time in the background, one coupon per member.
pub struct CouponDrop(pub coupon_drop::Model);

#[Object]
impl CouponDrop {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn programme_id(&self) -> ID {
        ID(self.0.programme_id.clone())
    }
    /// The reward whose coupon terms each member gets.
    async fn reward_id(&self) -> ID {
        ID(self.0.reward_id.clone())
    }
    /// The member service's segment, read as the drop runs.
    async fn segment_id(&self) -> ID {
        ID(self.0.segment_id.clone())
    }
    async fn status(&self) -> DropStatus {
        self.0.status
    }
    /// Members granted their coupon so far.
    async fn granted(&self) -> Long {
        self.0.granted.into()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        from_micros(self.0.created_at)
    }
    /// Why it FAILED (the segment is unknown).
    async fn failure(&self) -> Option<&str> {
        self.0.failure.as_deref()
    }
    /// When the last page was granted (DONE), or it FAILED.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at.map(from_micros)
    }
}
