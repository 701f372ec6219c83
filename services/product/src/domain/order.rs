//! Orders: how they are fulfilled, what may happen next, and refund bounds.

use crate::error::{Error, Result};
use sea_orm::ActiveEnum as _;

kit::stored_enum! {
    #[derive(async_graphql::Enum)]
    pub enum Fulfilment {
        /// Delivered to a point; stock from the nearest location, warehouses first.
        Ship,
        /// Reserved at the chosen store until collected.
        PickupInStore,
        /// Sold at the till; a store may sell what it does not hold (cloud shelf).
        InStore,
    }
}

kit::stored_enum! {
    #[derive(async_graphql::Enum)]
    pub enum OrderStatus {
        Placed,
        Fulfilled,
        PartiallyRefunded,
        Refunded,
        Cancelled,
    }
}

/// What is asked of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAction {
    Fulfil,
    Cancel,
    Refund,
}

/// PLACED → FULFILLED → PARTIALLY_REFUNDED/REFUNDED, or PLACED → CANCELLED.
/// Anything else is a CONFLICT.
pub fn check_transition(status: OrderStatus, action: OrderAction) -> Result<()> {
    let allowed = matches!(
        (status, action),
        (
            OrderStatus::Placed,
            OrderAction::Fulfil | OrderAction::Cancel
        ) | (
            OrderStatus::Fulfilled | OrderStatus::PartiallyRefunded,
            OrderAction::Refund
        )
    );
    if allowed {
        Ok(())
    } else {
        Err(Error::conflict(format!(
            "a {} order cannot be {}",
            status.to_value(),
            match action {
                OrderAction::Fulfil => "fulfilled",
                OrderAction::Cancel => "cancelled",
                OrderAction::Refund => "refunded",
            }
        )))
    }
}

/// A line as sold, and how much of it is already refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoldLine {
    pub quantity: i64,
    pub refunded: i64,
    /// What the whole line was paid, in fen: unit price × quantity, less
    /// its share of a coupon.
    pub paid_fen: i64,
}

/// Checks a refund of `quantity` of a line; returns its amount in fen:
/// the paid amount of those units, so that refunding every unit, in any
/// steps, gives back exactly what the line was paid.
pub fn refund_amount(line: SoldLine, quantity: i64) -> Result<i64> {
    if quantity < 1 {
        return Err(Error::invalid(
            "lines",
            "refund quantities must be at least 1",
        ));
    }
    if quantity > line.quantity - line.refunded {
        return Err(Error::invalid(
            "lines",
            format!(
                "only {} unit(s) of this line are left to refund",
                line.quantity - line.refunded
            ),
        ));
    }
    // What the first n units were paid, rounding down; each refund is
    // the difference, so the steps add up to the line's paid amount.
    let paid_for = |n: i64| {
        (i128::from(line.paid_fen) * i128::from(n) / i128::from(line.quantity.max(1))) as i64
    };
    Ok(paid_for(line.refunded + quantity) - paid_for(line.refunded))
}

/// The status after a refund: REFUNDED once nothing remains sold.
pub fn status_after_refund(lines: &[SoldLine]) -> OrderStatus {
    if lines.iter().all(|l| l.refunded >= l.quantity) {
        OrderStatus::Refunded
    } else {
        OrderStatus::PartiallyRefunded
    }
}

pub const MAX_LINES: usize = 50;
pub const MAX_LINE_QUANTITY: i64 = 1_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_status_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (OrderStatus::Placed, "PLACED"),
            (OrderStatus::Fulfilled, "FULFILLED"),
            (OrderStatus::PartiallyRefunded, "PARTIALLY_REFUNDED"),
            (OrderStatus::Refunded, "REFUNDED"),
            (OrderStatus::Cancelled, "CANCELLED"),
        ]);
    }

    #[test]
    fn fulfilment_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (Fulfilment::Ship, "SHIP"),
            (Fulfilment::PickupInStore, "PICKUP_IN_STORE"),
            (Fulfilment::InStore, "IN_STORE"),
        ]);
    }

    #[test]
    fn transitions() {
        assert!(check_transition(OrderStatus::Placed, OrderAction::Fulfil).is_ok());
        assert!(check_transition(OrderStatus::Placed, OrderAction::Cancel).is_ok());
        assert!(check_transition(OrderStatus::Fulfilled, OrderAction::Refund).is_ok());
        assert!(check_transition(OrderStatus::PartiallyRefunded, OrderAction::Refund).is_ok());
        for (s, a) in [
            (OrderStatus::Placed, OrderAction::Refund),
            (OrderStatus::Fulfilled, OrderAction::Cancel),
            (OrderStatus::Fulfilled, OrderAction::Fulfil),
            (OrderStatus::Cancelled, OrderAction::Fulfil),
            (OrderStatus::Refunded, OrderAction::Refund),
        ] {
            assert!(
                matches!(check_transition(s, a), Err(e) if e.code() == kit::ErrorCode::Conflict),
                "{s:?} {a:?}"
            );
        }
    }

    #[test]
    fn refunds_never_exceed_what_was_sold() {
        let line = SoldLine {
            quantity: 3,
            refunded: 1,
            paid_fen: 5_997,
        };
        assert_eq!(refund_amount(line, 2).unwrap(), 3_998);
        // A discounted line gives back what was paid, one unit at a time.
        let discounted = SoldLine {
            quantity: 3,
            refunded: 0,
            paid_fen: 5_000,
        };
        let steps: Vec<i64> = (0..3)
            .map(|r| {
                refund_amount(
                    SoldLine {
                        refunded: r,
                        ..discounted
                    },
                    1,
                )
                .unwrap()
            })
            .collect();
        assert_eq!(steps, vec![1_666, 1_667, 1_667]);
        assert_eq!(steps.iter().sum::<i64>(), 5_000);
        assert!(refund_amount(line, 3).is_err());
        assert!(refund_amount(line, 0).is_err());
        assert_eq!(
            status_after_refund(&[SoldLine {
                refunded: 3,
                ..line
            }]),
            OrderStatus::Refunded
        );
        assert_eq!(status_after_refund(&[line]), OrderStatus::PartiallyRefunded);
    }
}
