//! The ledger's vocabulary and the one rule that keeps lots and balance
//! equal when a balance is negative.

/// What a ledger entry did.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
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

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earn => "EARN",
            EntryKind::Activate => "ACTIVATE",
            EntryKind::Redeem => "REDEEM",
            EntryKind::Expire => "EXPIRE",
            EntryKind::ExchangeOut => "EXCHANGE_OUT",
            EntryKind::ExchangeIn => "EXCHANGE_IN",
            EntryKind::Reversal => "REVERSAL",
            EntryKind::Adjustment => "ADJUSTMENT",
            EntryKind::MergeIn => "MERGE_IN",
            EntryKind::MergeOut => "MERGE_OUT",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            EntryKind::Earn,
            EntryKind::Activate,
            EntryKind::Redeem,
            EntryKind::Expire,
            EntryKind::ExchangeOut,
            EntryKind::ExchangeIn,
            EntryKind::Reversal,
            EntryKind::Adjustment,
            EntryKind::MergeIn,
            EntryKind::MergeOut,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Where a lot's points stand.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LotState {
    /// Earned, not yet spendable.
    Pending,
    /// Spendable until it expires.
    Active,
    /// The negative lot of a balance below zero (ALLOW_NEGATIVE only).
    Arrears,
}

impl LotState {
    pub fn as_str(self) -> &'static str {
        match self {
            LotState::Pending => "PENDING",
            LotState::Active => "ACTIVE",
            LotState::Arrears => "ARREARS",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "PENDING" => Some(LotState::Pending),
            "ACTIVE" => Some(LotState::Active),
            "ARREARS" => Some(LotState::Arrears),
            _ => None,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn arrears_are_paid_first() {
        assert_eq!(settle_arrears(-30, 100), (30, 70));
        assert_eq!(settle_arrears(-300, 100), (100, 0));
        assert_eq!(settle_arrears(0, 100), (0, 100));
        for k in ["EARN", "MERGE_OUT", "EXCHANGE_IN"] {
            assert_eq!(EntryKind::parse(k).unwrap().as_str(), k);
        }
        assert_eq!(EntryKind::parse("nope"), None);
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
