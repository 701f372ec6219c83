//! A brand's rewards catalogue as plain rules: what a reward costs, how
//! many there are, who may have one and how often, and the coupon it
//! gives. Redeeming debits points through the ledger (soonest-expiring
//! lots first), exactly once per idempotency key; the store applies these
//! checks inside that one transaction.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use kit::ErrorCode;
use kit::events::schema::{CouponBenefit, CouponTerms};

use super::campaigns::Window;
use crate::error::{Error, Result};

/// The dearest reward, in points.
pub const MAX_POINTS_PRICE: i64 = 100_000_000;
/// The most units a limited reward starts with.
pub const MAX_STOCK: i64 = 10_000_000;
/// The most times one member may redeem one reward.
pub const MAX_PER_MEMBER: i64 = 1_000;
/// The longest a coupon stays valid, in days.
pub const MAX_VALID_DAYS: i64 = 366;
/// The largest fixed amount off, in fen (100,000 yuan).
pub const MAX_AMOUNT_OFF_FEN: i64 = 10_000_000;
/// The most ids one list of a coupon's terms names.
pub const MAX_TERM_IDS: usize = 200;

kit::stored_enum! {
    /// What a reward gives.
    #[derive(async_graphql::Enum, Hash)]
    #[graphql(name = "RewardKind")]
    pub enum RewardGives {
        /// A coupon in the member's wallet.
        Coupon,
        /// A gift the member collects in a store.
        Gift,
    }
}

kit::stored_enum! {
    /// Where a coupon drop stands.
    #[derive(async_graphql::Enum, Hash)]
    #[graphql(name = "CouponDropStatus")]
    pub enum DropStatus {
        /// Members are being granted their coupons, a page at a time.
        Running,
        /// Every member the segment listed has theirs.
        Done,
        /// The member service knows no such segment: nothing was granted.
        Failed,
    }
}

/// Who may redeem a reward, and when: the rules checked at redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    /// None: always.
    pub window: Option<Window>,
    /// Tier codes that may redeem it; empty: every tier.
    pub tiers: BTreeSet<String>,
    /// A segment (the member service's) its redeemers must be in.
    pub segment_id: Option<String>,
    /// None: as often as the member likes.
    pub per_member_limit: Option<i64>,
}

impl Availability {
    /// Whether a member of `tier` who already redeemed it `redeemed` times
    /// may redeem it once more at `now`, stock aside: CONFLICT outside its
    /// window, FORBIDDEN for a tier it is not for (or an unknown tier when
    /// it names any) or outside its segment (`in_segment`: whether the
    /// member service said they are in it; ignored when it names none),
    /// LIMIT_EXCEEDED past the member's limit.
    pub fn check(
        &self,
        now: DateTime<Utc>,
        tier: Option<&str>,
        in_segment: bool,
        redeemed: i64,
    ) -> Result<()> {
        if let Some(window) = self.window
            && !window.contains(now)
        {
            return Err(Error::conflict("this reward is not available now"));
        }
        if !self.tiers.is_empty() && !tier.is_some_and(|t| self.tiers.contains(t)) {
            return Err(Error::forbidden(format!(
                "this reward is for members of {} only",
                self.tiers.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        if let Some(segment) = &self.segment_id
            && !in_segment
        {
            return Err(Error::forbidden(format!(
                "this reward is for the members of segment {segment}"
            )));
        }
        if let Some(limit) = self.per_member_limit
            && redeemed >= limit
        {
            return Err(Error::LimitExceeded(format!(
                "this reward can be redeemed {limit} time(s) per member"
            )));
        }
        Ok(())
    }
}

/// Why a limited reward cannot be had: OUT_OF_STOCK.
pub fn out_of_stock(reward_id: &str) -> Error {
    Error::Api(kit::ApiError::new(
        ErrorCode::OutOfStock,
        format!("reward {reward_id} is out of stock"),
    ))
}

/// A price in points: 1 to [`MAX_POINTS_PRICE`].
pub fn parse_points_price(points: i64) -> Result<i64> {
    if !(1..=MAX_POINTS_PRICE).contains(&points) {
        return Err(Error::invalid(
            "pointsPrice",
            format!("pointsPrice must be between 1 and {MAX_POINTS_PRICE}"),
        ));
    }
    Ok(points)
}

/// Units of a limited reward (None: unlimited): 0 to [`MAX_STOCK`].
pub fn parse_stock(stock: Option<i64>) -> Result<Option<i64>> {
    match stock {
        Some(n) if !(0..=MAX_STOCK).contains(&n) => Err(Error::invalid(
            "stock",
            format!("stock must be between 0 and {MAX_STOCK}, or null for unlimited"),
        )),
        other => Ok(other),
    }
}

pub fn parse_per_member_limit(limit: Option<i64>) -> Result<Option<i64>> {
    match limit {
        Some(n) if !(1..=MAX_PER_MEMBER).contains(&n) => Err(Error::invalid(
            "perMemberLimit",
            format!("perMemberLimit must be between 1 and {MAX_PER_MEMBER}, or null"),
        )),
        other => Ok(other),
    }
}

/// Tier codes as the member service spells them (A-Z, 0-9, `_`).
pub fn parse_tiers(tiers: Vec<String>) -> Result<BTreeSet<String>> {
    tiers
        .into_iter()
        .map(|t| {
            let t = t.trim().to_owned();
            let ok = (1..=32).contains(&t.len())
                && t.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if ok {
                Ok(t)
            } else {
                Err(Error::invalid(
                    "eligibleTiers",
                    "tier codes are 1-32 of A-Z, 0-9 or _",
                ))
            }
        })
        .collect()
}

/// A coupon's terms, checked: BAD_USER_INPUT naming the field at fault.
pub fn check_coupon_terms(terms: &CouponTerms) -> Result<()> {
    match &terms.benefit {
        CouponBenefit::AmountOff { amount_fen } => {
            if !(1..=MAX_AMOUNT_OFF_FEN).contains(amount_fen) {
                return Err(Error::invalid(
                    "amountOffFen",
                    format!("amountOffFen must be between 1 and {MAX_AMOUNT_OFF_FEN}"),
                ));
            }
        }
        CouponBenefit::PercentOff { percent, cap_fen } => {
            if !(1..=100).contains(percent) {
                return Err(Error::invalid(
                    "percentOff",
                    "percentOff must be between 1 and 100",
                ));
            }
            if cap_fen.is_some_and(|c| !(1..=MAX_AMOUNT_OFF_FEN).contains(&c)) {
                return Err(Error::invalid(
                    "capFen",
                    format!("capFen must be between 1 and {MAX_AMOUNT_OFF_FEN}"),
                ));
            }
        }
        CouponBenefit::FreeItem { sku_id } => {
            if sku_id.trim().is_empty() || sku_id.len() > 64 {
                return Err(Error::invalid("freeSkuId", "freeSkuId must be an id"));
            }
        }
    }
    if !(0..=MAX_AMOUNT_OFF_FEN * 10).contains(&terms.min_spend_fen) {
        return Err(Error::invalid(
            "minSpendFen",
            "minSpendFen must be between 0 and 100,000,000",
        ));
    }
    if !(1..=MAX_VALID_DAYS).contains(&terms.valid_days) {
        return Err(Error::invalid(
            "validDays",
            format!("validDays must be between 1 and {MAX_VALID_DAYS}"),
        ));
    }
    for (field, ids) in [
        ("brandIds", &terms.brand_ids),
        ("skuIds", &terms.sku_ids),
        ("categoryIds", &terms.category_ids),
    ] {
        if ids.len() > MAX_TERM_IDS
            || ids
                .iter()
                .any(|id| id.trim().is_empty() || id.len() > 120 || id.trim() != id)
        {
            return Err(Error::invalid(
                field,
                format!("{field}: at most {MAX_TERM_IDS} ids of 1-120 characters, no blanks"),
            ));
        }
    }
    Ok(())
}

/// A coupon issued at `at` is valid to the end of its `valid_days`th day
/// in `zone` (the issuing programme's), the day of issue counting as the
/// first.
pub fn coupon_valid_until(at: DateTime<Utc>, valid_days: i64, zone: Tz) -> Result<DateTime<Utc>> {
    let first: NaiveDate = at.with_timezone(&zone).date_naive();
    let after_last = first
        .checked_add_signed(Duration::days(valid_days))
        .ok_or_else(|| Error::invalid("validDays", "validDays is out of range"))?;
    zone.from_local_datetime(&after_last.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| Error::invalid("validDays", "the coupon's last day has no end"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHANGHAI: Tz = chrono_tz::Asia::Shanghai;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn terms(benefit: CouponBenefit) -> CouponTerms {
        CouponTerms {
            benefit,
            min_spend_fen: 0,
            brand_ids: vec![],
            sku_ids: vec![],
            category_ids: vec![],
            valid_days: 30,
            restore_on_refund: false,
        }
    }

    #[test]
    fn availability_checks_window_tier_and_limit_in_that_order() {
        let week = Window::days(
            NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 13).unwrap(),
            SHANGHAI,
        )
        .unwrap();
        let gold_once = Availability {
            window: Some(week),
            tiers: ["GOLD".to_string()].into(),
            segment_id: Some("regulars".into()),
            per_member_limit: Some(1),
        };
        let inside = at("2026-12-08T00:00:00Z");
        assert!(gold_once.check(inside, Some("GOLD"), true, 0).is_ok());
        let code = |r: Result<()>| r.unwrap_err().code();
        assert_eq!(
            code(gold_once.check(at("2026-12-13T16:00:00Z"), Some("GOLD"), true, 0)),
            ErrorCode::Conflict
        );
        assert_eq!(
            code(gold_once.check(inside, Some("SILVER"), true, 0)),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(gold_once.check(inside, None, true, 0)),
            ErrorCode::Forbidden,
            "unknown tier"
        );
        assert_eq!(
            code(gold_once.check(inside, Some("GOLD"), false, 0)),
            ErrorCode::Forbidden,
            "outside the segment"
        );
        assert_eq!(
            code(gold_once.check(inside, Some("GOLD"), true, 1)),
            ErrorCode::LimitExceeded
        );
        let anyone = Availability {
            window: None,
            tiers: BTreeSet::new(),
            segment_id: None,
            per_member_limit: None,
        };
        assert!(anyone.check(inside, None, false, 1_000_000).is_ok());
    }

    #[test]
    fn coupon_terms_are_checked_field_by_field() {
        let field = |t: CouponTerms| {
            check_coupon_terms(&t)
                .unwrap_err()
                .field()
                .map(str::to_owned)
        };
        assert!(check_coupon_terms(&terms(CouponBenefit::AmountOff { amount_fen: 500 })).is_ok());
        assert_eq!(
            field(terms(CouponBenefit::AmountOff { amount_fen: 0 })).as_deref(),
            Some("amountOffFen")
        );
        assert_eq!(
            field(terms(CouponBenefit::PercentOff {
                percent: 101,
                cap_fen: None
            }))
            .as_deref(),
            Some("percentOff")
        );
        assert_eq!(
            field(terms(CouponBenefit::PercentOff {
                percent: 20,
                cap_fen: Some(0)
            }))
            .as_deref(),
            Some("capFen")
        );
        assert_eq!(
            field(terms(CouponBenefit::FreeItem { sku_id: " ".into() })).as_deref(),
            Some("freeSkuId")
        );
        let mut t = terms(CouponBenefit::AmountOff { amount_fen: 500 });
        t.valid_days = 0;
        assert_eq!(field(t).as_deref(), Some("validDays"));
        let mut t = terms(CouponBenefit::AmountOff { amount_fen: 500 });
        t.category_ids = vec!["".into()];
        assert_eq!(field(t).as_deref(), Some("categoryIds"));
        let mut t = terms(CouponBenefit::AmountOff { amount_fen: 500 });
        t.min_spend_fen = -1;
        assert_eq!(field(t).as_deref(), Some("minSpendFen"));
    }

    #[test]
    fn a_coupon_lasts_whole_days_in_the_programmes_zone() {
        // Issued at 23:30 on 30 November in Shanghai (15:30 UTC): day one is
        // 30 November there, so 2 days run to midnight starting 2 December.
        let until = coupon_valid_until(at("2026-11-30T15:30:00Z"), 2, SHANGHAI).unwrap();
        assert_eq!(until, at("2026-12-01T16:00:00Z"));
        // The same instant is 1 December in Shanghai from 16:00 UTC.
        let until = coupon_valid_until(at("2026-11-30T16:30:00Z"), 1, SHANGHAI).unwrap();
        assert_eq!(until, at("2026-12-01T16:00:00Z"));
    }

    #[test]
    fn prices_stock_limits_and_tiers_are_bounded() {
        assert!(parse_points_price(0).is_err());
        assert!(parse_points_price(MAX_POINTS_PRICE + 1).is_err());
        assert_eq!(parse_stock(None).unwrap(), None);
        assert_eq!(parse_stock(Some(0)).unwrap(), Some(0));
        assert!(parse_stock(Some(-1)).is_err());
        assert!(parse_per_member_limit(Some(0)).is_err());
        assert_eq!(
            parse_tiers(vec![" GOLD ".into(), "GOLD".into()]).unwrap(),
            ["GOLD".to_string()].into()
        );
        assert!(parse_tiers(vec!["gold".into()]).is_err());
    }
}
