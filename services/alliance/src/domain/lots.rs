//! Lots: each credit of active points is a lot with its own expiry. A debit
//! (redeem, exchange out, expire) consumes lots soonest-expiry first:
//! ordered by (expires_at ascending, never-expiring last; created_at
//! ascending; id), and records how much it took from each.

use std::cmp::Ordering;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    pub id: String,
    pub remaining: i64,
    /// None: never expires.
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

/// The burn order.
pub fn burn_order(a: &Lot, b: &Lot) -> Ordering {
    let expiry = match (a.expires_at, b.expires_at) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    expiry
        .then_with(|| a.created_at.cmp(&b.created_at))
        .then_with(|| a.id.cmp(&b.id))
}

/// How much of each lot a debit of `amount` takes, in burn order. Lots
/// expired at `now` are not spendable. Fails, taking nothing, if they do
/// not cover the amount.
pub fn consume(lots: &[Lot], amount: i64, now: i64) -> Result<Vec<(String, i64)>> {
    if amount <= 0 {
        return Err(Error::invalid("points", "points must be at least 1"));
    }
    let mut spendable: Vec<&Lot> = lots
        .iter()
        .filter(|l| l.remaining > 0 && l.expires_at.is_none_or(|e| e > now))
        .collect();
    spendable.sort_by(|a, b| burn_order(a, b));
    let available: i64 = spendable.iter().map(|l| l.remaining).sum();
    if available < amount {
        return Err(Error::InsufficientPoints {
            available,
            wanted: amount,
        });
    }
    let mut left = amount;
    let mut taken = Vec::new();
    for lot in spendable {
        if left == 0 {
            break;
        }
        let take = lot.remaining.min(left);
        taken.push((lot.id.clone(), take));
        left -= take;
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lot(id: &str, remaining: i64, expires_at: Option<i64>, created_at: i64) -> Lot {
        Lot {
            id: id.into(),
            remaining,
            expires_at,
            created_at,
        }
    }

    #[test]
    fn soonest_expiry_first_never_expiring_last() {
        let lots = [
            lot("never", 100, None, 1),
            lot("late", 50, Some(300), 2),
            lot("soon", 30, Some(200), 3),
            lot("old-soon", 10, Some(200), 0),
        ];
        assert_eq!(
            consume(&lots, 45, 100).unwrap(),
            [
                ("old-soon".to_string(), 10),
                ("soon".to_string(), 30),
                ("late".to_string(), 5)
            ]
        );
        assert_eq!(
            consume(&lots, 190, 100).unwrap().last().unwrap(),
            &("never".to_string(), 100)
        );
        assert!(matches!(
            consume(&lots, 191, 100),
            Err(Error::InsufficientPoints {
                available: 190,
                wanted: 191
            })
        ));
        // At 250 the two lots expiring at 200 are gone.
        assert_eq!(consume(&lots, 10, 250).unwrap(), [("late".to_string(), 10)]);
    }

    fn arb_lots() -> impl Strategy<Value = Vec<Lot>> {
        prop::collection::vec(
            (0i64..1_000, prop::option::of(0i64..1_000), 0i64..1_000),
            0..12,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (r, e, c))| lot(&format!("l{i:02}"), r, e, c))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn consumption_takes_exactly_the_amount_in_burn_order(lots in arb_lots(), amount in 1i64..5_000, now in 0i64..1_000) {
            let spendable: i64 = lots.iter().filter(|l| l.expires_at.is_none_or(|e| e > now)).map(|l| l.remaining).sum();
            match consume(&lots, amount, now) {
                Err(Error::InsufficientPoints { available, .. }) => prop_assert!(available < amount && available == spendable),
                Err(other) => prop_assert!(false, "{other}"),
                Ok(taken) => {
                    prop_assert_eq!(taken.iter().map(|(_, t)| t).sum::<i64>(), amount);
                    let by_id = |id: &str| lots.iter().find(|l| l.id == id).unwrap();
                    for (id, t) in &taken {
                        let l = by_id(id);
                        prop_assert!(*t > 0 && *t <= l.remaining, "never more than a lot holds");
                        prop_assert!(l.expires_at.is_none_or(|e| e > now), "never an expired lot");
                    }
                    // Every lot before the last one touched was emptied, and no
                    // untouched spendable lot comes before a touched one.
                    for pair in taken.windows(2) {
                        prop_assert!(burn_order(by_id(&pair[0].0), by_id(&pair[1].0)) == Ordering::Less);
                        prop_assert_eq!(pair[0].1, by_id(&pair[0].0).remaining);
                    }
                    let last = by_id(&taken.last().unwrap().0);
                    for l in lots.iter().filter(|l| l.remaining > 0 && l.expires_at.is_none_or(|e| e > now)) {
                        if !taken.iter().any(|(id, _)| *id == l.id) {
                            prop_assert!(burn_order(l, last) == Ordering::Greater, "skipped {} before {}", l.id, last.id);
                        }
                    }
                }
            }
        }
    }
}
