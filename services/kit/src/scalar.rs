//! `Long`: how every 64-bit quantity travels through the graph.
//!
//! GraphQL's `Int` is 32-bit: an order total of 3,000,000,000 fen, a
//! balance or a stock level past 2,147,483,647 does not fit it, and strict
//! clients overflow or refuse the answer. Bounding each amount at the edge
//! does not help, because sums of bounded amounts (totals, balances,
//! statements) pass any bound. So money (fen), points, balances, stock
//! levels and growth values are `Long`: a signed integer, in JSON a plain
//! number, declared once here and used the same way by every subgraph.
//!
//! Its range is ±(2^53 − 1), the integers every JSON reader (JavaScript's
//! `Number` included) holds exactly. An input beyond it is refused with
//! BAD_USER_INPUT; writes whose result would leave it (a balance, a stock
//! level) are refused before anything is written (LIMIT_EXCEEDED), so an
//! answer never carries a number a client would round.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

use crate::error::{ApiError, ErrorCode};

/// The largest magnitude a `Long` carries: 2^53 − 1 = 9,007,199,254,740,991.
pub const MAX_SAFE: i64 = (1 << 53) - 1;

/// A signed 64-bit quantity within ±[`MAX_SAFE`] (fen, points, units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Long(i64);

impl Long {
    /// `value` if it is within ±[`MAX_SAFE`].
    pub fn new(value: i64) -> Option<Self> {
        (value.unsigned_abs() <= MAX_SAFE as u64).then_some(Self(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// Stored values are kept in range by the writes (see [`checked_sum`]), so
/// a value read back is carried as it is.
impl From<i64> for Long {
    fn from(value: i64) -> Self {
        Self(value)
    }
}

impl From<Long> for i64 {
    fn from(value: Long) -> Self {
        value.0
    }
}

/// `a + b` if the result is a `Long`, else LIMIT_EXCEEDED naming `what`:
/// how a write that accumulates (a balance, a stock level, a statement's
/// total) refuses to leave the range, before anything is written.
pub fn checked_sum(what: &str, a: i64, b: i64) -> Result<i64, ApiError> {
    a.checked_add(b)
        .filter(|sum| Long::new(*sum).is_some())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::LimitExceeded,
                format!("{what} would pass {MAX_SAFE}, the largest amount the graph carries"),
            )
        })
}

/// Sums `values` like [`checked_sum`].
pub fn checked_total(what: &str, values: impl IntoIterator<Item = i64>) -> Result<i64, ApiError> {
    values
        .into_iter()
        .try_fold(0, |total, v| checked_sum(what, total, v))
}

/// The scalar's name in the graph. The gateway checks inputs of this
/// scalar with [`Long::from_number`] before any subgraph sees them, so a
/// mutation is never half applied because a later field's amount is out
/// of range.
pub const LONG: &str = "Long";

impl Long {
    /// `n` as a `Long`, or why it is not one (not an integer, or beyond
    /// ±[`MAX_SAFE`]). The one rule, for the subgraphs and the gateway.
    pub fn from_number(n: &serde_json::Number) -> Result<Self, String> {
        let beyond = || {
            format!(
                "{n} is beyond ±{MAX_SAFE}, the largest integer every JSON client reads exactly"
            )
        };
        match n.as_i64() {
            Some(v) => Long::new(v).ok_or_else(beyond),
            None if n.is_u64() => Err(beyond()),
            None => Err(format!("{n} is not an integer")),
        }
    }
}

/// A signed integer within ±(2^53 − 1) = ±9007199254740991, as a JSON
/// number: money in fen, points, balances, stock levels. GraphQL's Int is
/// 32-bit; these quantities and their sums are not.
#[Scalar(name = "Long")]
impl ScalarType for Long {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::Number(n) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        Long::from_number(n).map_err(InputValueError::custom)
    }

    /// Any number passes validation; its range is checked when the value
    /// is read, so that a number too large is BAD_USER_INPUT on its field.
    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::Number(_))
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_what_json_holds_exactly() {
        for ok in [
            0,
            -1,
            i64::from(i32::MAX),
            i64::from(i32::MAX) + 1,
            MAX_SAFE,
            -MAX_SAFE,
        ] {
            assert_eq!(Long::new(ok).map(Long::get), Some(ok));
            assert_eq!(
                <Long as ScalarType>::parse(Value::Number(ok.into()))
                    .map(Long::get)
                    .ok(),
                Some(ok)
            );
        }
        for beyond in [MAX_SAFE + 1, -MAX_SAFE - 1, i64::MAX, i64::MIN] {
            assert_eq!(Long::new(beyond), None);
            assert!(<Long as ScalarType>::parse(Value::Number(beyond.into())).is_err());
        }
        assert!(<Long as ScalarType>::parse(Value::Number(u64::MAX.into())).is_err());
        let float = serde_json::Number::from_f64(1.5).unwrap();
        assert!(<Long as ScalarType>::parse(Value::Number(float)).is_err());
        assert!(<Long as ScalarType>::parse(Value::String("1".into())).is_err());
    }

    #[test]
    fn sums_that_leave_the_range_are_refused() {
        assert_eq!(checked_sum("balance", MAX_SAFE - 1, 1).unwrap(), MAX_SAFE);
        let err = checked_sum("balance", MAX_SAFE, 1).unwrap_err();
        assert_eq!(err.code, ErrorCode::LimitExceeded);
        assert!(checked_sum("balance", -MAX_SAFE, -1).is_err());
        assert!(
            checked_sum("balance", i64::MAX, 1).is_err(),
            "no wrap-around"
        );
        assert_eq!(checked_total("total", [1, 2, 3]).unwrap(), 6);
        assert!(checked_total("total", [MAX_SAFE, 1, -5]).is_err());
    }
}
