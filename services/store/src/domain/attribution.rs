//! "Whoever brings the member gets the benefit": who a member is bound to,
//! and when another guide may take them.
//!
//! Per brand (the brand of the guide who holds the binding):
//! - a binding lasts forever, or N days;
//! - an optional protection period during which nobody else can take it;
//! - when the guide leaves, the member is re-bound to the guide's store, or
//!   released.
//!
//! The default is first touch wins, permanently. While a binding is valid,
//! another guide's scan takes the member only once a configured protection
//! period has passed; without one, never. An expired or released binding is
//! free for the next scan.

use crate::error::{Error, Result};

const DAY_US: i64 = 86_400_000_000;

kit::stored_enum! {
    #[derive(async_graphql::Enum)]
    pub enum DepartureRule {
        /// The guide's members stay with the guide's store.
        RebindToStore,
        /// The guide's members become free.
        Release,
    }
}

/// A brand's attribution rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributionRules {
    /// None: the binding is permanent.
    pub binding_days: Option<u32>,
    /// None: no protection period.
    pub protection_days: Option<u32>,
    pub on_departure: DepartureRule,
}

impl Default for AttributionRules {
    /// First touch wins, permanently; a departing guide's members stay with
    /// the store.
    fn default() -> Self {
        Self {
            binding_days: None,
            protection_days: None,
            on_departure: DepartureRule::RebindToStore,
        }
    }
}

impl AttributionRules {
    pub fn parse(
        binding_days: Option<i32>,
        protection_days: Option<i32>,
        on_departure: DepartureRule,
    ) -> Result<Self> {
        let days = |field: &str, v: Option<i32>| -> Result<Option<u32>> {
            match v {
                None => Ok(None),
                Some(d) if (1..=3650).contains(&d) => Ok(Some(d as u32)),
                Some(_) => Err(Error::invalid(
                    field,
                    format!("{field} must be between 1 and 3650"),
                )),
            }
        };
        let rules = Self {
            binding_days: days("bindingDays", binding_days)?,
            protection_days: days("protectionDays", protection_days)?,
            on_departure,
        };
        if let (Some(b), Some(p)) = (rules.binding_days, rules.protection_days)
            && p > b
        {
            return Err(Error::invalid(
                "protectionDays",
                "protectionDays cannot exceed bindingDays",
            ));
        }
        Ok(rules)
    }

    /// When a binding made at `at` under these rules expires and stops being
    /// protected.
    pub fn terms(&self, at: i64) -> (Option<i64>, Option<i64>) {
        (
            self.binding_days.map(|d| at + i64::from(d) * DAY_US),
            self.protection_days.map(|d| at + i64::from(d) * DAY_US),
        )
    }
}

/// A member's current binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// None after the guide left and the member stayed with the store.
    pub guide_id: Option<String>,
    pub store_id: Option<String>,
    pub expires_at: Option<i64>,
    pub protected_until: Option<i64>,
}

impl Binding {
    pub fn is_valid(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }
}

/// What a guide's scan (or a registration through a guide's code) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanOutcome {
    /// Bind the member to the scanning guide.
    Bind,
    /// Already bound to this guide: nothing changes.
    AlreadyBound,
    /// Another binding holds; the reason says why.
    Kept(&'static str),
}

/// Decides a scan by `guide_id` of store `store_id`.
pub fn decide_scan(
    current: Option<&Binding>,
    guide_id: &str,
    store_id: &str,
    now: i64,
) -> ScanOutcome {
    let Some(binding) = current else {
        return ScanOutcome::Bind;
    };
    if binding.guide_id.as_deref() == Some(guide_id) {
        return ScanOutcome::AlreadyBound;
    }
    if !binding.is_valid(now) {
        return ScanOutcome::Bind;
    }
    // A member kept by a store after its guide left is that store's to give
    // to one of its own guides.
    if binding.guide_id.is_none() && binding.store_id.as_deref() == Some(store_id) {
        return ScanOutcome::Bind;
    }
    match binding.protected_until {
        Some(until) if now < until => {
            ScanOutcome::Kept("the member is protected by another guide's binding")
        }
        Some(_) => ScanOutcome::Bind,
        None => ScanOutcome::Kept("the member already belongs to another guide (first touch wins)"),
    }
}

/// Why a binding changed (recorded with every change, and published).
pub use kit::events::schema::BindingCause;

/// How far apart the clocks of the member, product and store services may
/// be. The store trusts its own clock ([`binding_settled`]) only this far.
pub const CLOCK_MARGIN_US: i64 = 1_000_000;

/// Whether an order placed at `placed_at` by a member bound to nobody here
/// may be taken as unbound: the member feed was last found drained at
/// `member_feed_caught_up_at` (both in micros), and a registration through
/// a guide's code commits before its member can order, so once that instant
/// is past the order (by more than the clocks may differ) the binding, if
/// any, has been applied. Until then the order must wait, or the guide's
/// commission would be lost to the order the two feeds are read in.
pub fn binding_settled(placed_at: i64, member_feed_caught_up_at: Option<i64>) -> bool {
    member_feed_caught_up_at
        .is_some_and(|caught_up| caught_up >= placed_at.saturating_add(CLOCK_MARGIN_US))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departure_rule_stored_names_stay() {
        kit::testing::stored_names_hold(&[
            (DepartureRule::RebindToStore, "REBIND_TO_STORE"),
            (DepartureRule::Release, "RELEASE"),
        ]);
    }

    #[test]
    fn an_unbound_members_order_waits_until_the_member_feed_is_read_past_it() {
        let placed = 1_000_000_000;
        assert!(!binding_settled(placed, None), "never read: wait");
        assert!(!binding_settled(placed, Some(placed - 1)));
        assert!(
            !binding_settled(placed, Some(placed + CLOCK_MARGIN_US - 1)),
            "within the clocks' margin: wait"
        );
        assert!(binding_settled(placed, Some(placed + CLOCK_MARGIN_US)));
        assert!(binding_settled(i64::MAX - 1, Some(i64::MAX)));
    }

    fn bound(guide: &str, expires: Option<i64>, protected: Option<i64>) -> Binding {
        Binding {
            guide_id: Some(guide.into()),
            store_id: Some("s1".into()),
            expires_at: expires,
            protected_until: protected,
        }
    }

    #[test]
    fn first_touch_wins_permanently_by_default() {
        let (expires, protected) = AttributionRules::default().terms(0);
        let b = bound("g1", expires, protected);
        assert_eq!(decide_scan(None, "g1", "s1", 0), ScanOutcome::Bind);
        assert_eq!(
            decide_scan(Some(&b), "g1", "s1", 10),
            ScanOutcome::AlreadyBound
        );
        assert!(matches!(
            decide_scan(Some(&b), "g2", "s2", 10 * 365 * DAY_US),
            ScanOutcome::Kept(_)
        ));
    }

    #[test]
    fn a_binding_for_n_days_frees_the_member_afterwards() {
        let rules = AttributionRules::parse(Some(30), None, DepartureRule::Release).unwrap();
        let (expires, protected) = rules.terms(0);
        let b = bound("g1", expires, protected);
        assert!(matches!(
            decide_scan(Some(&b), "g2", "s2", 29 * DAY_US),
            ScanOutcome::Kept(_)
        ));
        assert_eq!(
            decide_scan(Some(&b), "g2", "s2", 30 * DAY_US),
            ScanOutcome::Bind
        );
    }

    #[test]
    fn a_protection_period_blocks_then_allows_another_guide() {
        let rules = AttributionRules::parse(None, Some(7), DepartureRule::RebindToStore).unwrap();
        let (expires, protected) = rules.terms(0);
        let b = bound("g1", expires, protected);
        assert!(matches!(
            decide_scan(Some(&b), "g2", "s2", 6 * DAY_US),
            ScanOutcome::Kept(_)
        ));
        assert_eq!(
            decide_scan(Some(&b), "g2", "s2", 7 * DAY_US),
            ScanOutcome::Bind
        );
    }

    #[test]
    fn a_store_kept_member_goes_to_that_stores_guides_only() {
        let b = Binding {
            guide_id: None,
            store_id: Some("s1".into()),
            expires_at: None,
            protected_until: None,
        };
        assert_eq!(decide_scan(Some(&b), "g9", "s1", 0), ScanOutcome::Bind);
        assert!(matches!(
            decide_scan(Some(&b), "g9", "s2", 0),
            ScanOutcome::Kept(_)
        ));
    }

    #[test]
    fn rules_are_checked() {
        assert!(AttributionRules::parse(Some(0), None, DepartureRule::Release).is_err());
        assert!(AttributionRules::parse(Some(10), Some(20), DepartureRule::Release).is_err());
        assert!(AttributionRules::parse(Some(20), Some(10), DepartureRule::Release).is_ok());
    }
}
