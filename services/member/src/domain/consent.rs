//! Marketing consent, per purpose, with the time it was given or withdrawn.

kit::stored_enum! {
    #[derive(async_graphql::Enum, Hash)]
    pub enum ConsentPurpose {
        MarketingSms,
        MarketingWechat,
        MarketingEmail,
    }
}

/// A recorded decision; when two records meet (a merge), the later wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentDecision {
    pub granted: bool,
    pub changed_at: i64,
}

pub fn later(a: ConsentDecision, b: ConsentDecision) -> ConsentDecision {
    if b.changed_at > a.changed_at { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_purpose_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (ConsentPurpose::MarketingSms, "MARKETING_SMS"),
            (ConsentPurpose::MarketingWechat, "MARKETING_WECHAT"),
            (ConsentPurpose::MarketingEmail, "MARKETING_EMAIL"),
        ]);
    }

    #[test]
    fn the_later_decision_wins() {
        let given = ConsentDecision {
            granted: true,
            changed_at: 10,
        };
        let withdrawn = ConsentDecision {
            granted: false,
            changed_at: 20,
        };
        assert_eq!(later(given, withdrawn), withdrawn);
        assert_eq!(later(withdrawn, given), withdrawn);
    }
}
