//! Coupons as plain rules: where one stands, who may use it, and what it
//! takes off an order's lines. Amounts in fen. A coupon's discount is
//! spread over the lines it applies to in proportion to what they cost,
//! so each line shows its share and refunds and points follow what was
//! paid.
//!
//! States: ISSUED (in the member's wallet, still shareable) → CLAIMED
//! (kept) → RESERVED (by a placed order) → USED (the order was handed
//! over); a cancelled order gives it back (CLAIMED). EXPIRED once its last
//! day is over unless reserved or used; VOIDED by its brand or an
//! operator.

use chrono::{DateTime, Utc};
use kit::events::schema::{CouponBenefit, CouponTerms};

use crate::error::{Error, Result};
use kit::catalogue::in_category;

kit::stored_enum! {
    /// Where a coupon stands.
    #[derive(async_graphql::Enum, Hash)]
    pub enum CouponState {
        /// In the member's wallet; can still be given to another member.
        Issued,
        /// Kept by the member.
        Claimed,
        /// Held by a placed order.
        Reserved,
        /// Spent on an order that was handed over.
        Used,
        /// Its last day is over (never stored: read from `validUntil`).
        Expired,
        /// Withdrawn by its brand or an operator.
        Voided,
    }
}

/// The state shown at `now`: an unspent coupon past its last day is
/// EXPIRED.
pub fn state_at(
    stored: CouponState,
    valid_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> CouponState {
    match stored {
        CouponState::Issued | CouponState::Claimed if now >= valid_until => CouponState::Expired,
        other => other,
    }
}

/// Whether `member` may put the coupon on an order at `now`: FORBIDDEN if
/// it is another member's, CONFLICT unless it is ISSUED or CLAIMED and
/// within its days.
pub fn check_use(
    owner: &str,
    member: &str,
    state: CouponState,
    valid_from: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    if owner != member {
        return Err(Error::forbidden("this coupon is another member's"));
    }
    match state_at(state, valid_until, now) {
        CouponState::Issued | CouponState::Claimed if now >= valid_from => Ok(()),
        CouponState::Issued | CouponState::Claimed => {
            Err(Error::conflict("this coupon is not valid yet"))
        }
        CouponState::Reserved => Err(Error::conflict("this coupon is held by another order")),
        CouponState::Used => Err(Error::conflict("this coupon was already used")),
        CouponState::Expired => Err(Error::conflict("this coupon has expired")),
        CouponState::Voided => Err(Error::conflict("this coupon was voided")),
    }
}

/// One line of an order as a coupon sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponLine {
    pub sku_id: String,
    pub brand_id: String,
    pub category: Option<String>,
    pub unit_price_fen: i64,
    /// Unit price × quantity.
    pub amount_fen: i64,
}

fn applies_to(terms: &CouponTerms, issuer: &str, line: &CouponLine) -> bool {
    let brand = if terms.brand_ids.is_empty() {
        line.brand_id == issuer
    } else {
        terms.brand_ids.contains(&line.brand_id)
    };
    let sku = terms.sku_ids.is_empty() || terms.sku_ids.contains(&line.sku_id);
    let category = terms.category_ids.is_empty()
        || line
            .category
            .as_deref()
            .is_some_and(|c| terms.category_ids.iter().any(|t| in_category(c, t)));
    brand && sku && category
}

/// What the coupon takes off each line (same order as `lines`; 0 for
/// lines it does not apply to). BAD_USER_INPUT (`couponCode`) when it
/// applies to none of them, or they come to less than its minimum spend,
/// or a free item's SKU is not among them.
pub fn discounts(terms: &CouponTerms, issuer: &str, lines: &[CouponLine]) -> Result<Vec<i64>> {
    let eligible: Vec<usize> = (0..lines.len())
        .filter(|&i| applies_to(terms, issuer, &lines[i]))
        .collect();
    if eligible.is_empty() {
        return Err(Error::invalid(
            "couponCode",
            "the coupon applies to none of the order's lines",
        ));
    }
    let base: i64 = eligible.iter().map(|&i| lines[i].amount_fen.max(0)).sum();
    if base < terms.min_spend_fen {
        return Err(Error::invalid(
            "couponCode",
            format!(
                "the coupon needs {} fen of the lines it applies to; these come to {base}",
                terms.min_spend_fen
            ),
        ));
    }
    let mut off = vec![0; lines.len()];
    match &terms.benefit {
        CouponBenefit::FreeItem { sku_id } => {
            let Some(&i) = eligible.iter().find(|&&i| &lines[i].sku_id == sku_id) else {
                return Err(Error::invalid(
                    "couponCode",
                    format!("the coupon gives {sku_id} free: add it to the order"),
                ));
            };
            off[i] = lines[i].unit_price_fen.clamp(0, lines[i].amount_fen.max(0));
        }
        CouponBenefit::AmountOff { amount_fen } => {
            spread(
                (*amount_fen).clamp(0, base),
                base,
                &eligible,
                lines,
                &mut off,
            );
        }
        CouponBenefit::PercentOff { percent, cap_fen } => {
            let mut total = (i128::from(base) * i128::from((*percent).clamp(0, 100)) / 100) as i64;
            if let Some(cap) = cap_fen {
                total = total.min((*cap).max(0));
            }
            spread(total, base, &eligible, lines, &mut off);
        }
    }
    Ok(off)
}

/// Spreads `total` (at most `base`) over the eligible lines in proportion
/// to their amounts, rounding down, the remainder one fen at a time from
/// the first line with room.
fn spread(total: i64, base: i64, eligible: &[usize], lines: &[CouponLine], off: &mut [i64]) {
    if base <= 0 || total <= 0 {
        return;
    }
    let mut given = 0;
    for &i in eligible {
        let share =
            (i128::from(total) * i128::from(lines[i].amount_fen.max(0)) / i128::from(base)) as i64;
        off[i] = share;
        given += share;
    }
    let mut left = total - given;
    for &i in eligible {
        if left == 0 {
            break;
        }
        let room = lines[i].amount_fen.max(0) - off[i];
        let extra = room.min(left);
        off[i] += extra;
        left -= extra;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    fn line(sku: &str, brand: &str, category: &str, unit: i64, quantity: i64) -> CouponLine {
        CouponLine {
            sku_id: sku.into(),
            brand_id: brand.into(),
            category: Some(category.into()),
            unit_price_fen: unit,
            amount_fen: unit * quantity,
        }
    }

    #[test]
    fn an_amount_off_spreads_over_the_issuing_brands_lines_by_what_they_cost() {
        let lines = [
            line("beans", "coffee", "coffee/beans", 3_000, 1),
            line("cup", "coffee", "coffee/drinks", 1_000, 1),
            line("tee", "apparel", "apparel/tops", 9_900, 1),
        ];
        let off = discounts(
            &terms(CouponBenefit::AmountOff { amount_fen: 500 }),
            "coffee",
            &lines,
        )
        .unwrap();
        assert_eq!(off, vec![375, 125, 0]);
        let mut beans_only = terms(CouponBenefit::AmountOff { amount_fen: 500 });
        beans_only.category_ids = vec!["coffee/beans".into()];
        beans_only.min_spend_fen = 3_000;
        assert_eq!(
            discounts(&beans_only, "coffee", &lines).unwrap(),
            vec![500, 0, 0]
        );
        beans_only.min_spend_fen = 3_001;
        let short = discounts(&beans_only, "coffee", &lines).unwrap_err();
        assert_eq!(short.field(), Some("couponCode"));
        let elsewhere = discounts(
            &terms(CouponBenefit::AmountOff { amount_fen: 500 }),
            "cinema",
            &lines,
        );
        assert!(
            elsewhere.is_err(),
            "another brand's coupon applies to none of these"
        );
    }

    #[test]
    fn percentages_are_capped_and_free_items_need_their_sku() {
        let lines = [line("beans", "coffee", "coffee/beans", 3_333, 3)];
        let capped = terms(CouponBenefit::PercentOff {
            percent: 20,
            cap_fen: Some(1_000),
        });
        assert_eq!(discounts(&capped, "coffee", &lines).unwrap(), vec![1_000]);
        let uncapped = terms(CouponBenefit::PercentOff {
            percent: 20,
            cap_fen: None,
        });
        assert_eq!(discounts(&uncapped, "coffee", &lines).unwrap(), vec![1_999]);
        let free = terms(CouponBenefit::FreeItem {
            sku_id: "beans".into(),
        });
        assert_eq!(discounts(&free, "coffee", &lines).unwrap(), vec![3_333]);
        let missing = terms(CouponBenefit::FreeItem {
            sku_id: "mug".into(),
        });
        assert!(discounts(&missing, "coffee", &lines).is_err());
    }

    #[test]
    fn only_the_owner_uses_an_unspent_coupon_in_its_days() {
        let from = at("2026-12-01T00:00:00Z");
        let until = at("2026-12-31T00:00:00Z");
        let now = at("2026-12-07T00:00:00Z");
        assert!(check_use("m1", "m1", CouponState::Issued, from, until, now).is_ok());
        assert!(check_use("m1", "m1", CouponState::Claimed, from, until, now).is_ok());
        let code = |r: Result<()>| r.unwrap_err().code();
        assert_eq!(
            code(check_use(
                "m1",
                "m2",
                CouponState::Claimed,
                from,
                until,
                now
            )),
            kit::ErrorCode::Forbidden
        );
        for state in [
            CouponState::Reserved,
            CouponState::Used,
            CouponState::Voided,
        ] {
            assert_eq!(
                code(check_use("m1", "m1", state, from, until, now)),
                kit::ErrorCode::Conflict
            );
        }
        assert_eq!(
            code(check_use(
                "m1",
                "m1",
                CouponState::Claimed,
                from,
                until,
                until
            )),
            kit::ErrorCode::Conflict
        );
        assert_eq!(
            state_at(CouponState::Claimed, until, until),
            CouponState::Expired
        );
        assert_eq!(state_at(CouponState::Used, until, until), CouponState::Used);
        assert_eq!(
            code(check_use(
                "m1",
                "m1",
                CouponState::Issued,
                from,
                until,
                at("2026-11-30T00:00:00Z")
            )),
            kit::ErrorCode::Conflict
        );
    }

    fn any_benefit() -> impl Strategy<Value = CouponBenefit> {
        prop_oneof![
            (0i64..2_000_000).prop_map(|amount_fen| CouponBenefit::AmountOff { amount_fen }),
            (1i64..=100, proptest::option::of(1i64..100_000))
                .prop_map(|(percent, cap_fen)| CouponBenefit::PercentOff { percent, cap_fen }),
            (0usize..4).prop_map(|i| CouponBenefit::FreeItem {
                sku_id: format!("sku-{i}")
            }),
        ]
    }

    fn any_lines() -> impl Strategy<Value = Vec<CouponLine>> {
        proptest::collection::vec((0usize..4, 0usize..2, 1i64..100_000, 1i64..20), 1..6).prop_map(
            |raw| {
                raw.into_iter()
                    .enumerate()
                    .map(|(n, (sku, brand, unit, quantity))| CouponLine {
                        sku_id: format!("sku-{sku}-{n}"),
                        brand_id: ["coffee", "cinema"][brand].into(),
                        category: Some("coffee/beans".into()),
                        unit_price_fen: unit,
                        amount_fen: unit * quantity,
                    })
                    .collect()
            },
        )
    }

    proptest! {
        #[test]
        fn no_discount_is_negative_beyond_its_line_or_beyond_the_benefit(
            benefit in any_benefit(),
            lines in any_lines(),
        ) {
            let t = terms(benefit.clone());
            if let Ok(off) = discounts(&t, "coffee", &lines) {
                let total: i64 = off.iter().sum();
                for (o, l) in off.iter().zip(&lines) {
                    prop_assert!(*o >= 0 && *o <= l.amount_fen);
                    if l.brand_id != "coffee" { prop_assert_eq!(*o, 0); }
                }
                let base: i64 = lines.iter().filter(|l| l.brand_id == "coffee").map(|l| l.amount_fen).sum();
                match benefit {
                    CouponBenefit::AmountOff { amount_fen } => prop_assert_eq!(total, amount_fen.min(base)),
                    CouponBenefit::PercentOff { percent, cap_fen } => {
                        let expected = base * percent / 100;
                        prop_assert_eq!(total, cap_fen.map_or(expected, |c| expected.min(c)));
                    }
                    CouponBenefit::FreeItem { .. } => prop_assert!(total > 0),
                }
            }
        }
    }
}
