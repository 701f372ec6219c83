//! The ledger's vocabulary and the one rule that keeps lots and balance
//! equal when a balance is negative.

kit::stored_enum! {
    /// What a ledger entry did. Stored as the names below (a stored name that
    /// is none of them is a database error, never a client's).
    #[derive(async_graphql::Enum)]
    pub enum EntryKind {
        /// Points earned, PENDING until the programme's window passes.
        Earn,
        /// PENDING points became ACTIVE.
        Activate,
        Redeem,
        Expire,
        ExchangeOut,
        ExchangeIn,
        /// Takes back (part of) an earlier entry, which it names.
        Reversal,
        /// An operator's correction.
        Adjustment,
        MergeIn,
        MergeOut,
    }
}

kit::stored_enum! {
    /// Where a lot's points stand. Stored as the names below.
    #[derive(async_graphql::Enum)]
    pub enum LotState {
        /// Earned, not yet spendable.
        Pending,
        /// Spendable until it expires.
        Active,
        /// The negative lot of a balance below zero (ALLOW_NEGATIVE only).
        Arrears,
    }
}

/// Points arriving in an account that owes points (`arrears` < 0) pay the
/// debt first; returns (paid towards the arrears, left in the new lot). So
/// an account never holds spendable lots and arrears at once, and its
/// balance is always the sum of its lots.
pub fn settle_arrears(arrears: i64, incoming: i64) -> (i64, i64) {
    let owed = (-arrears).max(0);
    let paid = owed.min(incoming.max(0));
    (paid, incoming - paid)
}

/// An account's books as read back after a ledger command: its balances
/// and sequence counter, and the sums of its entries and lots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Books {
    pub active_balance: i64,
    pub pending_balance: i64,
    /// The sequence number the next entry gets.
    pub next_seq: i64,
    /// Σ entry points and Σ entry pending points.
    pub entry_points: i64,
    pub entry_pending_points: i64,
    /// How many entries, and the smallest and largest sequence numbers.
    pub entries: i64,
    pub min_seq: i64,
    pub max_seq: i64,
    /// Σ remaining of ACTIVE and ARREARS lots, and of PENDING lots.
    pub active_lots: i64,
    pub pending_lots: i64,
}

/// The ledger's invariants: each balance equals the sum of its entries and
/// of its lots, and entries are numbered 1..n without gaps (n = next − 1).
/// Returns what does not hold.
pub fn check_books(b: &Books) -> Result<(), String> {
    let mut broken = Vec::new();
    if b.active_balance != b.entry_points || b.active_balance != b.active_lots {
        broken.push(format!(
            "active balance {} but entries sum to {} and lots to {}",
            b.active_balance, b.entry_points, b.active_lots
        ));
    }
    if b.pending_balance != b.entry_pending_points || b.pending_balance != b.pending_lots {
        broken.push(format!(
            "pending balance {} but entries sum to {} and lots to {}",
            b.pending_balance, b.entry_pending_points, b.pending_lots
        ));
    }
    let numbered = if b.entries == 0 {
        b.next_seq == 1
    } else {
        b.min_seq == 1 && b.max_seq == b.entries && b.next_seq == b.entries + 1
    };
    if !numbered {
        broken.push(format!(
            "{} entries numbered {}..={} with {} next",
            b.entries, b.min_seq, b.max_seq, b.next_seq
        ));
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(broken.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn books_balance_or_say_what_broke() {
        let good = Books {
            active_balance: 70,
            pending_balance: 30,
            next_seq: 4,
            entry_points: 70,
            entry_pending_points: 30,
            entries: 3,
            min_seq: 1,
            max_seq: 3,
            active_lots: 70,
            pending_lots: 30,
        };
        assert_eq!(check_books(&good), Ok(()));
        assert_eq!(
            check_books(&Books {
                next_seq: 1,
                ..Books::default()
            }),
            Ok(())
        );
        let lots_off = Books {
            active_lots: 69,
            ..good
        };
        assert!(
            check_books(&lots_off)
                .unwrap_err()
                .contains("active balance 70")
        );
        let pending_off = Books {
            entry_pending_points: 31,
            ..good
        };
        assert!(
            check_books(&pending_off)
                .unwrap_err()
                .contains("pending balance 30")
        );
        let gap = Books {
            max_seq: 4,
            next_seq: 5,
            ..good
        };
        assert!(check_books(&gap).unwrap_err().contains("numbered 1..=4"));
        let counter_behind = Books {
            next_seq: 3,
            ..good
        };
        assert!(check_books(&counter_behind).is_err());
        assert!(
            check_books(&Books {
                next_seq: 2,
                ..Books::default()
            })
            .is_err()
        );
    }

    #[test]
    fn arrears_are_paid_first() {
        assert_eq!(settle_arrears(-30, 100), (30, 70));
        assert_eq!(settle_arrears(-300, 100), (100, 0));
        assert_eq!(settle_arrears(0, 100), (0, 100));
    }

    #[test]
    fn entry_kind_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (EntryKind::Earn, "EARN"),
            (EntryKind::Activate, "ACTIVATE"),
            (EntryKind::Redeem, "REDEEM"),
            (EntryKind::Expire, "EXPIRE"),
            (EntryKind::ExchangeOut, "EXCHANGE_OUT"),
            (EntryKind::ExchangeIn, "EXCHANGE_IN"),
            (EntryKind::Reversal, "REVERSAL"),
            (EntryKind::Adjustment, "ADJUSTMENT"),
            (EntryKind::MergeIn, "MERGE_IN"),
            (EntryKind::MergeOut, "MERGE_OUT"),
        ]);
    }

    #[test]
    fn lot_state_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (LotState::Pending, "PENDING"),
            (LotState::Active, "ACTIVE"),
            (LotState::Arrears, "ARREARS"),
        ]);
    }

    proptest! {
        #[test]
        fn settling_conserves_points(arrears in -10_000i64..=0, incoming in 0i64..10_000) {
            let (paid, kept) = settle_arrears(arrears, incoming);
            prop_assert_eq!(paid + kept, incoming);
            prop_assert!(arrears + paid <= 0, "never overpays");
            prop_assert!(kept == 0 || arrears + paid == 0, "keeps points only once the debt is paid");
        }
    }
}
