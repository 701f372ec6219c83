//! Earning and valuing points.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::error::{Error, Result};

/// Points per yuan paid, an exact non-negative decimal (e.g. 1, 0.5, 2.25).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarnRate(Decimal);

impl EarnRate {
    pub fn parse(rate: Decimal) -> Result<Self> {
        if rate.is_sign_negative() || rate > Decimal::from(1_000) {
            return Err(Error::invalid(
                "pointsPerYuan",
                "pointsPerYuan must be between 0 and 1000",
            ));
        }
        Ok(Self(rate))
    }

    pub fn get(self) -> Decimal {
        self.0
    }
}

/// Points earned on `paid_fen`: ⌊paid ÷ 100 × rate⌋, rounded down.
pub fn points_earned(paid_fen: i64, rate: EarnRate) -> i64 {
    if paid_fen <= 0 {
        return 0;
    }
    (Decimal::from(paid_fen) / Decimal::from(100) * rate.0)
        .floor()
        .to_i64()
        .unwrap_or(i64::MAX)
}

/// A programme's declared cash value of one point, in fen (e.g. 0.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CashValue(Decimal);

impl CashValue {
    pub fn parse(fen_per_point: Decimal) -> Result<Self> {
        if fen_per_point <= Decimal::ZERO || fen_per_point > Decimal::from(100_000) {
            return Err(Error::invalid(
                "cashValueFen",
                "cashValueFen must be more than 0 and at most 100000",
            ));
        }
        Ok(Self(fen_per_point))
    }

    pub fn get(self) -> Decimal {
        self.0
    }
}

/// The cash value of `points`, in fen, rounded half away from zero to the
/// fen (a liability is stated to the nearest fen, the same way both sides).
/// LIMIT_EXCEEDED if it would pass what the graph carries (kit::scalar).
pub fn value_fen(points: i64, value: CashValue) -> Result<i64> {
    (Decimal::from(points) * value.0)
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
        .filter(|fen| kit::Long::new(*fen).is_some())
        .ok_or_else(|| {
            Error::LimitExceeded(format!(
                "{points} points are worth more than {} fen, the largest amount the graph carries",
                kit::scalar::MAX_SAFE
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn earning_rounds_down() {
        let one = EarnRate::parse(d("1")).unwrap();
        assert_eq!(points_earned(12_345, one), 123, "123.45 yuan earns 123");
        assert_eq!(points_earned(99, one), 0);
        assert_eq!(points_earned(-500, one), 0);
        assert_eq!(
            points_earned(10_000, EarnRate::parse(d("0.5")).unwrap()),
            50
        );
        assert!(EarnRate::parse(d("-1")).is_err());
    }

    #[test]
    fn values_round_half_away_from_zero() {
        let half = CashValue::parse(d("0.5")).unwrap();
        assert_eq!(value_fen(3, half).unwrap(), 2, "1.5 fen rounds to 2");
        assert_eq!(value_fen(-3, half).unwrap(), -2);
        assert_eq!(value_fen(4, half).unwrap(), 2);
        let most = CashValue::parse(Decimal::from(100_000)).unwrap();
        assert!(
            value_fen(kit::scalar::MAX_SAFE, most).is_err(),
            "never a made-up amount"
        );
        assert!(CashValue::parse(d("0")).is_err());
    }

    proptest! {
        #[test]
        fn earning_never_exceeds_the_exact_amount(paid in 0i64..10_000_000_000, rate_cents in 0u32..100_000) {
            let rate = Decimal::new(i64::from(rate_cents), 2);
            let earned = points_earned(paid, EarnRate::parse(rate).unwrap());
            let exact = Decimal::from(paid) / Decimal::from(100) * rate;
            prop_assert!(Decimal::from(earned) <= exact);
            prop_assert!(exact - Decimal::from(earned) < Decimal::ONE);
        }

        #[test]
        fn a_value_is_within_half_a_fen(points in -1_000_000_000i64..1_000_000_000, milli in 1u32..100_000) {
            let v = Decimal::new(i64::from(milli), 3);
            let fen = value_fen(points, CashValue::parse(v).unwrap()).unwrap();
            let exact = Decimal::from(points) * v;
            prop_assert!((Decimal::from(fen) - exact).abs() <= Decimal::new(5, 1));
        }
    }
}
