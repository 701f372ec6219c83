//! Refunds reverse earned points, proportionally, under the programme's
//! return policy for points already spent.
//!
//! Rounding: after refunds totalling R of a paid amount P, the points to
//! have reversed are ⌊earned × R ÷ P⌋ (down), computed on the cumulative
//! refund, so partial reversals add up exactly and never exceed what was
//! earned; a full refund reverses all of it.

kit::stored_enum! {
    /// What a refund takes back. Stored as the names below.
    #[derive(async_graphql::Enum)]
    pub enum ReturnPolicy {
        /// Only points still pending are taken back; the rest is forgiven.
        OnlyPending,
        /// Pending first, then active points down to zero; the rest is forgiven.
        WithinBalance,
        /// Pending first, then active points, even below zero.
        AllowNegative,
    }
}

/// Why earned points are being taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReversalCause {
    /// A paid, handed-over order was (partly) refunded: the programme's
    /// return policy decides what happens to points already spent.
    Refund,
    /// The order was cancelled before hand-over: nothing was sold, so
    /// everything it earned goes back. A cancellation is not a return.
    Cancellation,
}

/// The policy a reversal runs under: the programme's for a refund; for a
/// cancellation everything is taken back, whatever the programme says.
pub fn reversal_policy(cause: ReversalCause, programme: ReturnPolicy) -> ReturnPolicy {
    match cause {
        ReversalCause::Refund => programme,
        ReversalCause::Cancellation => ReturnPolicy::AllowNegative,
    }
}

/// Points still to reverse after this refund.
pub fn reversal_due(
    earned: i64,
    paid_fen: i64,
    refunded_total_fen: i64,
    already_reversed: i64,
) -> i64 {
    if earned <= 0 || paid_fen <= 0 {
        return 0;
    }
    let refunded = refunded_total_fen.clamp(0, paid_fen);
    let target = (i128::from(earned) * i128::from(refunded) / i128::from(paid_fen)) as i64;
    (target - already_reversed).max(0)
}

/// Where a reversal's points come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReversalPlan {
    pub from_pending: i64,
    pub from_active: i64,
    /// Not taken back, by policy.
    pub forgiven: i64,
}

/// Splits `due` between the order's points still pending, the active
/// balance, and what the policy forgives.
pub fn plan_reversal(
    due: i64,
    pending_left: i64,
    active_balance: i64,
    policy: ReturnPolicy,
) -> ReversalPlan {
    let from_pending = due.min(pending_left.max(0));
    let rest = due - from_pending;
    let from_active = match policy {
        ReturnPolicy::OnlyPending => 0,
        ReturnPolicy::WithinBalance => rest.min(active_balance.max(0)),
        ReturnPolicy::AllowNegative => rest,
    };
    ReversalPlan {
        from_pending,
        from_active,
        forgiven: rest - from_active,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_cancellation_takes_back_everything_whatever_the_policy() {
        for programme in [
            ReturnPolicy::OnlyPending,
            ReturnPolicy::WithinBalance,
            ReturnPolicy::AllowNegative,
        ] {
            assert_eq!(reversal_policy(ReversalCause::Refund, programme), programme);
            let policy = reversal_policy(ReversalCause::Cancellation, programme);
            // Even with the points already active and spent, nothing is
            // forgiven.
            let plan = plan_reversal(136, 0, 0, policy);
            assert_eq!((plan.from_active, plan.forgiven), (136, 0), "{programme:?}");
        }
    }

    #[test]
    fn proportional_and_exact() {
        assert_eq!(reversal_due(100, 10_000, 3_333, 0), 33);
        assert_eq!(reversal_due(100, 10_000, 6_666, 33), 33, "66 in total");
        assert_eq!(
            reversal_due(100, 10_000, 10_000, 66),
            34,
            "the rest on the full refund"
        );
        assert_eq!(
            reversal_due(100, 10_000, 20_000, 100),
            0,
            "never beyond what was earned"
        );
    }

    #[test]
    fn each_policy() {
        assert_eq!(
            plan_reversal(50, 20, 100, ReturnPolicy::OnlyPending),
            ReversalPlan {
                from_pending: 20,
                from_active: 0,
                forgiven: 30
            }
        );
        assert_eq!(
            plan_reversal(50, 20, 10, ReturnPolicy::WithinBalance),
            ReversalPlan {
                from_pending: 20,
                from_active: 10,
                forgiven: 20
            }
        );
        assert_eq!(
            plan_reversal(50, 20, 10, ReturnPolicy::AllowNegative),
            ReversalPlan {
                from_pending: 20,
                from_active: 30,
                forgiven: 0
            }
        );
    }

    proptest! {
        #[test]
        fn partial_reversals_add_up_and_never_exceed(earned in 0i64..1_000_000, paid in 1i64..10_000_000, cuts in prop::collection::vec(1u32..100, 1..8)) {
            let mut refunded = 0i64;
            let mut reversed = 0i64;
            for cut in cuts {
                refunded = (refunded + paid * i64::from(cut) / 100).min(paid);
                let due = reversal_due(earned, paid, refunded, reversed);
                prop_assert!(due >= 0);
                reversed += due;
                prop_assert!(reversed <= earned);
            }
            let last = reversal_due(earned, paid, paid, reversed);
            prop_assert_eq!(reversed + last, earned, "a full refund reverses exactly what was earned");
        }

        #[test]
        fn policies_keep_their_promises(due in 0i64..10_000, pending in 0i64..10_000, active in -1_000i64..10_000) {
            for policy in [ReturnPolicy::OnlyPending, ReturnPolicy::WithinBalance, ReturnPolicy::AllowNegative] {
                let p = plan_reversal(due, pending, active, policy);
                prop_assert_eq!(p.from_pending + p.from_active + p.forgiven, due);
                prop_assert!(p.from_pending <= pending && p.from_pending >= 0 && p.forgiven >= 0 && p.from_active >= 0);
                match policy {
                    ReturnPolicy::OnlyPending => prop_assert_eq!(p.from_active, 0),
                    ReturnPolicy::WithinBalance => prop_assert!(active.max(0) - p.from_active >= 0, "never below zero"),
                    ReturnPolicy::AllowNegative => prop_assert_eq!(p.forgiven, 0),
                }
            }
        }
    }
}
