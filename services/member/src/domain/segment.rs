//! Segments: rule-based groups of members, over what the platform knows
//! about them (tier, tags, channel identities, purchases, points). A
//! segment's rules all hold for a member in it (AND); within one rule, any
//! of its values (OR). Evaluated on demand, over facts the member service
//! keeps up to date from the order and points feeds.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use kit::channel::Channel;

use super::tag::Tag;
use crate::error::{Error, Result};

/// The longest look-back of a purchase rule, in days.
pub const MAX_DAYS: i64 = 3_650;
/// The most values one rule names.
pub const MAX_VALUES: usize = 50;

/// Spend over a window: at least `fen` paid (after coupons, less refunds)
/// in the last `days` days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendRule {
    pub fen: i64,
    pub days: i64,
}

/// A points balance: at least `points` ACTIVE in `programme_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointsRule {
    pub programme_id: String,
    pub points: i64,
}

/// A segment's rules, parsed: at least one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SegmentRules {
    /// The member's tier is one of these.
    pub tiers: BTreeSet<String>,
    /// The member has every one of these tags.
    pub tags: BTreeSet<Tag>,
    /// The member has an identity on one of these channels.
    pub channels: BTreeSet<Channel>,
    /// The member bought something in the last N days.
    pub purchased_within_days: Option<i64>,
    /// The member bought nothing in the last N days (lapsed).
    pub not_purchased_within_days: Option<i64>,
    pub min_spend: Option<SpendRule>,
    pub min_points: Option<PointsRule>,
    /// The member is bound to one of these stores (by a guide or a store,
    /// the binding not lapsed).
    pub bound_stores: BTreeSet<String>,
}

fn days(field: &str, n: i64) -> Result<i64> {
    if !(1..=MAX_DAYS).contains(&n) {
        return Err(Error::invalid(
            field,
            format!("{field} must be between 1 and {MAX_DAYS} days"),
        ));
    }
    Ok(n)
}

/// A segment's rules as given, before [`SegmentRules::parse`].
#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    pub tiers: Vec<String>,
    pub tags: Vec<String>,
    pub channels: Vec<Channel>,
    pub purchased_within_days: Option<i64>,
    pub not_purchased_within_days: Option<i64>,
    /// (fen, days).
    pub min_spend: Option<(i64, i64)>,
    /// (programme id, points).
    pub min_points: Option<(String, i64)>,
    pub bound_store_ids: Vec<String>,
}

impl SegmentRules {
    /// BAD_USER_INPUT naming the rule at fault; `rules` when none is given.
    pub fn parse(input: RuleInput) -> Result<Self> {
        let RuleInput {
            tiers,
            tags,
            channels,
            purchased_within_days,
            not_purchased_within_days,
            min_spend,
            min_points,
            bound_store_ids,
        } = input;
        for (field, n) in [
            ("tiers", tiers.len()),
            ("tags", tags.len()),
            ("channels", channels.len()),
            ("boundStoreIds", bound_store_ids.len()),
        ] {
            if n > MAX_VALUES {
                return Err(Error::invalid(
                    field,
                    format!("{field}: at most {MAX_VALUES}"),
                ));
            }
        }
        let tiers = tiers
            .into_iter()
            .map(|t| super::tier::TierCode::parse("tiers", &t).map(|c| c.as_str().to_owned()))
            .collect::<Result<_>>()?;
        let tags = tags.iter().map(|t| Tag::parse(t)).collect::<Result<_>>()?;
        let min_spend = match min_spend {
            Some((fen, n)) => {
                if !(1..=10_000_000_000).contains(&fen) {
                    return Err(Error::invalid(
                        "minSpendFen",
                        "minSpendFen must be between 1 and 10,000,000,000",
                    ));
                }
                Some(SpendRule {
                    fen,
                    days: days("spendWithinDays", n)?,
                })
            }
            None => None,
        };
        let min_points = match min_points {
            Some((programme_id, points)) => {
                let programme_id =
                    kit::input::ForeignId::parse("programmeId", &programme_id)?.into_string();
                if !(1..=1_000_000_000).contains(&points) {
                    return Err(Error::invalid(
                        "minPoints",
                        "minPoints must be between 1 and 1,000,000,000",
                    ));
                }
                Some(PointsRule {
                    programme_id,
                    points,
                })
            }
            None => None,
        };
        let rules = Self {
            tiers,
            tags,
            channels: channels.into_iter().collect(),
            purchased_within_days: purchased_within_days
                .map(|n| days("purchasedWithinDays", n))
                .transpose()?,
            not_purchased_within_days: not_purchased_within_days
                .map(|n| days("notPurchasedWithinDays", n))
                .transpose()?,
            min_spend,
            min_points,
            bound_stores: bound_store_ids
                .iter()
                .map(|id| Ok(kit::input::ForeignId::parse("boundStoreIds", id)?.into_string()))
                .collect::<Result<_>>()?,
        };
        if rules == Self::default() {
            return Err(Error::invalid("rules", "a segment needs at least one rule"));
        }
        Ok(rules)
    }
}

/// One purchase as segments see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purchase {
    pub at: DateTime<Utc>,
    /// Paid, less what was refunded; a cancelled order is no purchase.
    pub paid_fen: i64,
}

/// What segments read about one member.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberFacts {
    pub tier: String,
    pub tags: BTreeSet<String>,
    pub channels: BTreeSet<Channel>,
    pub purchases: Vec<Purchase>,
    /// ACTIVE balance per programme.
    pub points: Vec<(String, i64)>,
    /// The store the member is bound to, and when that binding lapses.
    pub bound_store: Option<(String, Option<DateTime<Utc>>)>,
}

/// The instant a look-back of `days` starts at `now`.
pub fn since(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    now - Duration::days(days)
}

/// Whether a member with these facts is in the segment at `now`: the
/// rules as plain code, unit tested here. The listing query
/// (`store::segments`) says the same in SQL; `tests/api/segments.rs` holds
/// it to the same cases through the subgraph.
pub fn matches(rules: &SegmentRules, facts: &MemberFacts, now: DateTime<Utc>) -> bool {
    let bought_since = |days: i64| {
        facts
            .purchases
            .iter()
            .any(|p| p.at >= since(now, days) && p.at <= now)
    };
    (rules.tiers.is_empty() || rules.tiers.contains(&facts.tier))
        && rules.tags.iter().all(|t| facts.tags.contains(t.as_str()))
        && (rules.channels.is_empty() || rules.channels.iter().any(|c| facts.channels.contains(c)))
        && rules.purchased_within_days.is_none_or(bought_since)
        && rules
            .not_purchased_within_days
            .is_none_or(|d| !bought_since(d))
        && rules.min_spend.is_none_or(|s| {
            facts
                .purchases
                .iter()
                .filter(|p| p.at >= since(now, s.days) && p.at <= now)
                .map(|p| p.paid_fen)
                .sum::<i64>()
                >= s.fen
        })
        && rules.min_points.as_ref().is_none_or(|r| {
            facts
                .points
                .iter()
                .any(|(programme, balance)| *programme == r.programme_id && *balance >= r.points)
        })
        && (rules.bound_stores.is_empty()
            || facts.bound_store.as_ref().is_some_and(|(store, lapses)| {
                rules.bound_stores.contains(store) && lapses.is_none_or(|at| at > now)
            }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn facts() -> MemberFacts {
        MemberFacts {
            tier: "GOLD".into(),
            tags: ["coffee-lover".to_string()].into(),
            channels: [Channel::App].into(),
            purchases: vec![
                Purchase {
                    at: at("2026-12-01T00:00:00Z"),
                    paid_fen: 5_000,
                },
                Purchase {
                    at: at("2026-11-01T00:00:00Z"),
                    paid_fen: 9_000,
                },
            ],
            points: vec![("coffee-points".into(), 300)],
            bound_store: Some(("store-1".into(), Some(at("2027-01-01T00:00:00Z")))),
        }
    }

    fn rules() -> SegmentRules {
        SegmentRules::default()
    }

    #[test]
    fn each_rule_holds_or_not() {
        let now = at("2026-12-07T00:00:00Z");
        let f = facts();
        let gold = SegmentRules {
            tiers: ["GOLD".into(), "PLATINUM".into()].into(),
            ..rules()
        };
        assert!(matches(&gold, &f, now));
        let basic = SegmentRules {
            tiers: ["BASIC".into()].into(),
            ..rules()
        };
        assert!(!matches(&basic, &f, now));
        let tagged = SegmentRules {
            tags: [Tag::parse("coffee-lover").unwrap()].into(),
            ..rules()
        };
        assert!(matches(&tagged, &f, now));
        let both_tags = SegmentRules {
            tags: [
                Tag::parse("coffee-lover").unwrap(),
                Tag::parse("vip").unwrap(),
            ]
            .into(),
            ..rules()
        };
        assert!(!matches(&both_tags, &f, now), "every tag");
        let wechat = SegmentRules {
            channels: [Channel::WechatMiniProgram].into(),
            ..rules()
        };
        assert!(!matches(&wechat, &f, now));
        let recent = SegmentRules {
            purchased_within_days: Some(7),
            ..rules()
        };
        assert!(matches(&recent, &f, now));
        let lapsed = SegmentRules {
            not_purchased_within_days: Some(7),
            ..rules()
        };
        assert!(!matches(&lapsed, &f, now));
        let lapsed_long = SegmentRules {
            not_purchased_within_days: Some(3),
            ..rules()
        };
        assert!(matches(&lapsed_long, &f, now));
        let spend = |fen, days| SegmentRules {
            min_spend: Some(SpendRule { fen, days }),
            ..rules()
        };
        assert!(matches(&spend(5_000, 7), &f, now));
        assert!(!matches(&spend(5_001, 7), &f, now));
        assert!(
            matches(&spend(14_000, 40), &f, now),
            "both purchases in 40 days"
        );
        let points = |p| SegmentRules {
            min_points: Some(PointsRule {
                programme_id: "coffee-points".into(),
                points: p,
            }),
            ..rules()
        };
        assert!(matches(&points(300), &f, now));
        assert!(!matches(&points(301), &f, now));
    }

    #[test]
    fn rules_are_parsed_field_by_field() {
        let field = |r: Result<SegmentRules>| r.unwrap_err().field().map(str::to_owned);
        assert_eq!(
            field(SegmentRules::parse(RuleInput {
                ..Default::default()
            }))
            .as_deref(),
            Some("rules")
        );
        assert_eq!(
            field(SegmentRules::parse(RuleInput {
                tiers: vec!["gold".into()],
                ..Default::default()
            }))
            .as_deref(),
            Some("tiers")
        );
        assert_eq!(
            field(SegmentRules::parse(RuleInput {
                tags: vec!["no spaces".into()],
                ..Default::default()
            }))
            .as_deref(),
            Some("tags")
        );
        assert_eq!(
            field(SegmentRules::parse(RuleInput {
                purchased_within_days: Some(0),
                ..Default::default()
            }))
            .as_deref(),
            Some("purchasedWithinDays")
        );
        assert_eq!(
            field(SegmentRules::parse(RuleInput {
                min_spend: Some((0, 30)),
                ..Default::default()
            }))
            .as_deref(),
            Some("minSpendFen")
        );
        assert_eq!(
            field(SegmentRules::parse(RuleInput {
                min_spend: Some((100, 9_999)),
                ..Default::default()
            }))
            .as_deref(),
            Some("spendWithinDays")
        );
        assert_eq!(
            field(SegmentRules::parse(RuleInput {
                min_points: Some(("p".into(), 0)),
                ..Default::default()
            }))
            .as_deref(),
            Some("minPoints")
        );
        assert_eq!(
            field(SegmentRules::parse(RuleInput {
                bound_store_ids: vec!["  ".into()],
                ..Default::default()
            }))
            .as_deref(),
            Some("boundStoreIds")
        );
        assert_eq!(
            field(SegmentRules::parse(RuleInput {
                bound_store_ids: (0..=MAX_VALUES).map(|i| format!("s-{i}")).collect(),
                ..Default::default()
            }))
            .as_deref(),
            Some("boundStoreIds")
        );
        assert!(
            SegmentRules::parse(RuleInput {
                tiers: vec!["GOLD".into()],
                ..Default::default()
            })
            .is_ok()
        );
    }

    #[test]
    fn a_store_binding_counts_until_it_lapses() {
        let now = at("2026-12-07T00:00:00Z");
        let bound_to = |stores: &[&str]| SegmentRules {
            bound_stores: stores.iter().map(|s| s.to_string()).collect(),
            ..rules()
        };
        let mut f = facts();
        assert!(matches(&bound_to(&["store-1", "store-9"]), &f, now));
        assert!(!matches(&bound_to(&["store-9"]), &f, now));
        assert!(
            !matches(&bound_to(&["store-1"]), &f, at("2027-01-01T00:00:00Z")),
            "lapsed at its instant"
        );
        f.bound_store = Some(("store-1".into(), None));
        assert!(matches(
            &bound_to(&["store-1"]),
            &f,
            at("2040-01-01T00:00:00Z")
        ));
        f.bound_store = None;
        assert!(!matches(&bound_to(&["store-1"]), &f, now));
    }
}
