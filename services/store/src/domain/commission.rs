//! Guide commissions in fen.
//!
//! Rounding: a commission is ⌊base × bp ÷ 10 000⌋, rounded down (in the
//! payer's favour), on the line's paid amount. After a refund it is
//! recomputed on what remains sold, never by subtracting rounded parts, so
//! any sequence of partial refunds ends at exactly the commission on the
//! remainder (zero once all is refunded).
//!
//! While PENDING (the after-sales window is open) a refund reduces the
//! pending amount. Once APPROVED, a refund creates a negative clawback entry
//! for the difference.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Result};

/// The calendar month holding `now` in `zone`, as the instants [from, to):
/// a statement's period when none is asked for. Midnight that does not
/// exist locally (a DST jump) is the first instant after it.
pub fn month_containing(now: DateTime<Utc>, zone: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let local = now.with_timezone(&zone).date_naive();
    let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap_or(local);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    let start = |day: NaiveDate| {
        (0..=2)
            .find_map(|h| {
                zone.from_local_datetime(&day.and_hms_opt(h, 0, 0)?)
                    .earliest()
            })
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    (start(first), start(next))
}

/// A rate in basis points: 0 to 10 000 (100 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasisPoints(u32);

impl BasisPoints {
    pub fn parse(bp: i32) -> Result<Self> {
        if (0..=10_000).contains(&bp) {
            Ok(Self(bp as u32))
        } else {
            Err(Error::invalid(
                "basisPoints",
                "basisPoints must be between 0 and 10000",
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// ⌊base × bp ÷ 10 000⌋ for a non-negative base.
pub fn commission_fen(base_fen: i64, bp: BasisPoints) -> i64 {
    let base = i128::from(base_fen.max(0));
    (base * i128::from(bp.0) / 10_000) as i64
}

kit::stored_enum! {
    #[derive(async_graphql::Enum)]
    pub enum CommissionStatus {
        Pending,
        Approved,
        Cancelled,
    }
}

kit::stored_enum! {
    /// What a refund or cancellation did to a commission (recorded with each).
    pub enum AdjustmentKind {
        /// A pending commission shrank with a partial refund.
        Reduced,
        /// The order was cancelled before the commission was approved.
        Cancelled,
        /// An approved commission was taken back in part or whole.
        Clawback,
    }
}

/// A commission as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commission {
    pub base_fen: i64,
    pub refunded_fen: i64,
    pub bp: BasisPoints,
    pub status: CommissionStatus,
    /// The pending amount, or the amount approved.
    pub amount_fen: i64,
    /// Clawed back after approval so far.
    pub clawed_back_fen: i64,
}

/// What a refund does to a commission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundEffect {
    /// Pending amount lowered to `amount_fen` (by `by_fen`).
    Reduced {
        amount_fen: i64,
        by_fen: i64,
    },
    /// Approved: `fen` (positive) is clawed back by a negative entry.
    ClawedBack {
        fen: i64,
    },
    Unchanged,
}

/// Applies a refund of `refund_fen` of the line's paid amount. Refunds past
/// the base are capped at the base.
pub fn apply_refund(c: &Commission, refund_fen: i64) -> (i64, RefundEffect) {
    let refunded = (c.refunded_fen + refund_fen.max(0)).min(c.base_fen);
    let due = commission_fen(c.base_fen - refunded, c.bp);
    let effect = match c.status {
        CommissionStatus::Pending if due < c.amount_fen => RefundEffect::Reduced {
            amount_fen: due,
            by_fen: c.amount_fen - due,
        },
        CommissionStatus::Approved if c.amount_fen - c.clawed_back_fen > due => {
            RefundEffect::ClawedBack {
                fen: c.amount_fen - c.clawed_back_fen - due,
            }
        }
        _ => RefundEffect::Unchanged,
    };
    (refunded, effect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjustment_kind_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (AdjustmentKind::Reduced, "REDUCED"),
            (AdjustmentKind::Cancelled, "CANCELLED"),
            (AdjustmentKind::Clawback, "CLAWBACK"),
        ]);
    }

    #[test]
    fn commission_status_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (CommissionStatus::Pending, "PENDING"),
            (CommissionStatus::Approved, "APPROVED"),
            (CommissionStatus::Cancelled, "CANCELLED"),
        ]);
    }

    #[test]
    fn the_default_period_is_the_month_in_the_stores_zone() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let rfc = |(a, b): (DateTime<Utc>, DateTime<Utc>)| (a.to_rfc3339(), b.to_rfc3339());
        let shanghai = chrono_tz::Asia::Shanghai;
        assert_eq!(
            rfc(month_containing(at("2026-11-30T22:00:00Z"), shanghai)),
            (
                "2026-11-30T16:00:00+00:00".to_owned(),
                "2026-12-31T16:00:00+00:00".to_owned()
            ),
            "already December there"
        );
        assert_eq!(
            rfc(month_containing(at("2028-02-29T12:00:00Z"), chrono_tz::UTC)),
            (
                "2028-02-01T00:00:00+00:00".to_owned(),
                "2028-03-01T00:00:00+00:00".to_owned()
            ),
            "29 days"
        );
        let dst = at("2027-03-28T01:30:00Z");
        let (from, to) = month_containing(dst, chrono_tz::Europe::Paris);
        assert!(from <= dst && dst < to);
    }

    fn pending(base: i64, bp: i32) -> Commission {
        let bp = BasisPoints::parse(bp).unwrap();
        Commission {
            base_fen: base,
            refunded_fen: 0,
            bp,
            status: CommissionStatus::Pending,
            amount_fen: commission_fen(base, bp),
            clawed_back_fen: 0,
        }
    }

    #[test]
    fn commission_rounds_down() {
        let bp = BasisPoints::parse(200).unwrap();
        assert_eq!(commission_fen(12_345, bp), 246, "246.9 fen rounds down");
        assert_eq!(commission_fen(49, bp), 0);
        assert_eq!(
            commission_fen(i64::MAX, BasisPoints::parse(10_000).unwrap()),
            i64::MAX
        );
        assert!(BasisPoints::parse(10_001).is_err());
        assert!(BasisPoints::parse(-1).is_err());
    }

    #[test]
    fn a_partial_refund_reduces_a_pending_commission_on_the_remainder() {
        let c = pending(10_000, 500); // 500 fen
        let (refunded, effect) = apply_refund(&c, 3_333);
        assert_eq!(refunded, 3_333);
        assert_eq!(
            effect,
            RefundEffect::Reduced {
                amount_fen: 333,
                by_fen: 167
            },
            "5% of 6 667 = 333.35"
        );
    }

    #[test]
    fn successive_refunds_end_at_exactly_zero() {
        let mut c = pending(9_999, 333);
        for refund in [1_000, 2_345, 3_333, 5_000] {
            let (refunded, effect) = apply_refund(&c, refund);
            c.refunded_fen = refunded;
            if let RefundEffect::Reduced { amount_fen, .. } = effect {
                c.amount_fen = amount_fen;
            }
        }
        assert_eq!(c.refunded_fen, 9_999, "capped at the base");
        assert_eq!(c.amount_fen, 0);
    }

    #[test]
    fn after_approval_a_refund_is_clawed_back() {
        let mut c = pending(10_000, 200); // 200 fen
        c.status = CommissionStatus::Approved;
        let (refunded, effect) = apply_refund(&c, 2_500);
        assert_eq!(effect, RefundEffect::ClawedBack { fen: 50 });
        c.refunded_fen = refunded;
        c.clawed_back_fen = 50;
        let (_, effect) = apply_refund(&c, 10_000);
        assert_eq!(
            effect,
            RefundEffect::ClawedBack { fen: 150 },
            "the rest, never more than approved"
        );
        c.clawed_back_fen += 150;
        assert_eq!(apply_refund(&c, 1).1, RefundEffect::Unchanged);
    }
}

/// One guide's line in a store's statement for a period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatementLine {
    pub guide_id: String,
    /// Earned in the period, window still open.
    pub pending_fen: i64,
    /// Earned in the period and approved.
    pub approved_fen: i64,
    /// Clawed back in the period (refunds after approval).
    pub clawed_back_fen: i64,
}

impl StatementLine {
    /// What the guide is owed for the period: approved less clawbacks.
    pub fn net_fen(&self) -> i64 {
        self.approved_fen - self.clawed_back_fen
    }
}

/// Sums commissions `(guide, status, amount)` and clawbacks `(guide, fen)`
/// per guide, ordered by guide id.
pub fn statement(
    commissions: &[(String, CommissionStatus, i64)],
    clawbacks: &[(String, i64)],
) -> Vec<StatementLine> {
    use std::collections::BTreeMap;
    fn line<'a>(
        lines: &'a mut BTreeMap<String, StatementLine>,
        guide: &str,
    ) -> &'a mut StatementLine {
        lines
            .entry(guide.to_owned())
            .or_insert_with(|| StatementLine {
                guide_id: guide.to_owned(),
                ..Default::default()
            })
    }
    let mut lines = BTreeMap::new();
    for (guide, status, amount) in commissions {
        let l = line(&mut lines, guide);
        match status {
            CommissionStatus::Pending => l.pending_fen += amount,
            CommissionStatus::Approved => l.approved_fen += amount,
            CommissionStatus::Cancelled => {}
        }
    }
    for (guide, fen) in clawbacks {
        line(&mut lines, guide).clawed_back_fen += fen;
    }
    lines.into_values().collect()
}

#[cfg(test)]
mod statement_tests {
    use super::*;

    #[test]
    fn statements_sum_per_guide() {
        let lines = statement(
            &[
                ("g1".into(), CommissionStatus::Approved, 200),
                ("g1".into(), CommissionStatus::Pending, 50),
                ("g2".into(), CommissionStatus::Cancelled, 0),
                ("g1".into(), CommissionStatus::Approved, 100),
            ],
            &[("g1".into(), 30), ("g3".into(), 5)],
        );
        assert_eq!(lines.len(), 3);
        assert_eq!(
            (
                lines[0].approved_fen,
                lines[0].pending_fen,
                lines[0].clawed_back_fen,
                lines[0].net_fen()
            ),
            (300, 50, 30, 270)
        );
        assert_eq!(
            lines[2].net_fen(),
            -5,
            "a clawback in a later period can make it negative"
        );
    }
}
