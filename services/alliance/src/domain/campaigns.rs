//! Earning campaigns: rules on top of a programme's base rate, each with a
//! window (instants; made from days in the programme's zone), a priority
//! and a stacking rule. Plain functions over plain values; the ledger
//! records each rule's award beside the base points, so a member can see
//! why they earned what they did.
//!
//! How rules combine on one occasion (a purchase, or a registration):
//! - only rules whose window holds the occasion's instant and whose
//!   condition holds apply;
//! - if an EXCLUSIVE rule applies, the one with the highest priority (ties:
//!   the smaller id) is the occasion's only award;
//! - otherwise every STACKABLE rule that applies adds its award, and
//!   multipliers add their extra points, each on the base points of the
//!   lines it targets (so no order of rules gives another result).
//!
//! No award is negative and none takes base points away.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::points::{EarnRate, points_earned};
use crate::error::{Error, Result};
use kit::catalogue::in_category;

/// The largest bonus one rule gives, in points.
pub const MAX_BONUS_POINTS: i64 = 1_000_000;
/// The largest multiplier.
pub const MAX_FACTOR: i64 = 10;

/// When a rule applies: from `starts_at` up to, not including, `ends_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

impl Window {
    /// BAD_USER_INPUT (`endsAt`) unless it ends after it starts.
    pub fn new(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<Self> {
        if ends_at <= starts_at {
            return Err(Error::invalid("endsAt", "endsAt must be after startsAt"));
        }
        Ok(Self { starts_at, ends_at })
    }

    /// The days `first` to `last` (inclusive) in `zone`: from the first
    /// day's midnight there to the midnight after the last.
    pub fn days(first: NaiveDate, last: NaiveDate, zone: Tz) -> Result<Self> {
        let midnight = |day: NaiveDate, field: &str| {
            zone.from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
                .earliest()
                .map(|at| at.with_timezone(&Utc))
                .ok_or_else(|| Error::invalid(field, format!("{day} has no midnight in {zone}")))
        };
        let after_last = last
            .succ_opt()
            .ok_or_else(|| Error::invalid("lastDay", "lastDay is out of range"))?;
        Self::new(
            midnight(first, "firstDay")?,
            midnight(after_last, "lastDay")?,
        )
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.starts_at <= at && at < self.ends_at
    }

    pub fn starts_at(&self) -> DateTime<Utc> {
        self.starts_at
    }

    pub fn ends_at(&self) -> DateTime<Utc> {
        self.ends_at
    }
}

/// Which lines of a purchase a multiplier counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Everything,
    Skus(BTreeSet<String>),
    Categories(BTreeSet<String>),
    /// Every line of a purchase made in one of these stores.
    Stores(BTreeSet<String>),
}

impl Target {
    fn counts(&self, purchase: &Purchase, line: &PurchaseLine) -> bool {
        match self {
            Target::Everything => true,
            Target::Skus(skus) => skus.contains(&line.sku_id),
            Target::Categories(categories) => line
                .category_id
                .as_deref()
                .is_some_and(|c| categories.iter().any(|t| in_category(c, t))),
            Target::Stores(stores) => purchase
                .store_id
                .as_ref()
                .is_some_and(|s| stores.contains(s)),
        }
    }
}

/// A multiplier above 1 and at most [`MAX_FACTOR`] (e.g. 2 doubles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Factor(Decimal);

impl Factor {
    /// From its text: digits, and at most 4 of them after a point (no
    /// exponent), e.g. "2" or "1.5".
    pub fn parse_text(raw: &str) -> Result<Self> {
        let raw = raw.trim();
        let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || whole.len() > 3
            || !digits(whole)
            || fraction.len() > 4
            || !digits(fraction)
            || (raw.contains('.') && fraction.is_empty())
        {
            return Err(Error::invalid(
                "factor",
                "factor must be a decimal such as \"2\" or \"1.5\" (at most 4 places)",
            ));
        }
        let value = raw
            .parse::<Decimal>()
            .map_err(|_| Error::invalid("factor", "factor must be an exact decimal"))?;
        Self::parse(value)
    }

    pub fn parse(factor: Decimal) -> Result<Self> {
        if factor <= Decimal::ONE || factor > Decimal::from(MAX_FACTOR) {
            return Err(Error::invalid(
                "factor",
                format!("factor must be above 1 and at most {MAX_FACTOR}"),
            ));
        }
        Ok(Self(factor))
    }

    pub fn get(self) -> Decimal {
        self.0
    }

    /// The points `base` gains: ⌊base × (factor − 1)⌋.
    fn extra(self, base: i64) -> i64 {
        (Decimal::from(base) * (self.0 - Decimal::ONE))
            .floor()
            .to_i64()
            .unwrap_or(i64::MAX)
            .max(0)
    }
}

/// Bonus points: 1 to [`MAX_BONUS_POINTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bonus(i64);

impl Bonus {
    pub fn parse(field: &str, points: i64) -> Result<Self> {
        if !(1..=MAX_BONUS_POINTS).contains(&points) {
            return Err(Error::invalid(
                field,
                format!("{field} must be between 1 and {MAX_BONUS_POINTS}"),
            ));
        }
        Ok(Self(points))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// What a rule gives, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reward {
    /// Multiplies the base points of the lines `target` counts.
    Multiplier { factor: Factor, target: Target },
    /// On the member's first purchase in the programme.
    FirstPurchase(Bonus),
    /// On a purchase in the member's birthday month, in the programme's
    /// zone.
    BirthdayMonth(Bonus),
    /// On registering through a guide's code.
    GuideRegistration(Bonus),
    /// On registering with a referrer: points for the new member and for
    /// the member who referred them.
    Referral { member: Bonus, referrer: Bonus },
}

kit::stored_enum! {
    /// How a campaign's rule combines with the others active at once.
    #[derive(async_graphql::Enum, Hash)]
    pub enum Stacking {
        /// Adds its award to every other stackable rule's.
        Stackable,
        /// When it applies, the only award (the highest priority's, if
        /// several exclusive rules apply).
        Exclusive,
    }
}

kit::stored_enum! {
    /// What a campaign's rule gives.
    #[derive(async_graphql::Enum, Hash)]
    #[graphql(name = "CampaignKind")]
    pub enum RewardKind {
        /// Multiplies the base points of some lines.
        Multiplier,
        /// A bonus on a member's first purchase in the programme.
        FirstPurchase,
        /// A bonus on a purchase in the member's birthday month.
        BirthdayMonth,
        /// A bonus for registering through a guide's code.
        GuideRegistration,
        /// Points for a new member and for the member who referred them.
        Referral,
    }
}

kit::stored_enum! {
    /// Which lines a multiplier counts.
    #[derive(async_graphql::Enum, Hash)]
    #[graphql(name = "CampaignTarget")]
    pub enum TargetKind {
        Everything,
        Skus,
        Categories,
        Stores,
    }
}

/// The longest campaign name, in characters.
pub const MAX_NAME_CHARS: usize = 120;

/// A campaign's name, trimmed: 1 to [`MAX_NAME_CHARS`] characters.
pub fn parse_name(name: &str) -> Result<String> {
    Ok(kit::input::clean_text("name", name, MAX_NAME_CHARS)?)
}

/// The first and last years a campaign's or a reward's days may fall in.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// A day as `YYYY-MM-DD`, in [`YEARS`]: BAD_USER_INPUT naming `field`.
pub fn parse_day(field: &str, day: &str) -> Result<NaiveDate> {
    let parsed = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
        .map_err(|_| Error::invalid(field, format!("{field} must be a date, YYYY-MM-DD")))?;
    if !YEARS.contains(&parsed.year()) {
        return Err(Error::invalid(
            field,
            format!(
                "{field} must be in the years {} to {}",
                YEARS.start(),
                YEARS.end()
            ),
        ));
    }
    Ok(parsed)
}

/// Where a campaign stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "CampaignStatus")]
pub enum CampaignStatus {
    /// Its window has not begun.
    Scheduled,
    /// Orders placed now earn by it.
    Running,
    /// Its window is over, or it was ended early.
    Ended,
}

impl CampaignStatus {
    pub fn at(window: Window, now: DateTime<Utc>) -> Self {
        if now < window.starts_at() {
            CampaignStatus::Scheduled
        } else if window.contains(now) {
            CampaignStatus::Running
        } else {
            CampaignStatus::Ended
        }
    }
}

impl Window {
    /// The window cut short at `at` (an ended campaign's): unchanged if it
    /// already ends by then; empty (ending where it starts) if `at` is
    /// before it starts.
    pub fn ended_at(self, at: DateTime<Utc>) -> Self {
        Self {
            starts_at: self.starts_at,
            ends_at: self.ends_at.min(at.max(self.starts_at)),
        }
    }
}

/// The most SKUs, categories or stores one multiplier names.
pub const MAX_TARGET_IDS: usize = 200;

impl Target {
    /// Parses what a multiplier counts: nothing named means everything;
    /// otherwise exactly one of the three lists. BAD_USER_INPUT (`reward`)
    /// on two lists, on more than [`MAX_TARGET_IDS`] ids, or a blank id.
    pub fn parse(skus: Vec<String>, categories: Vec<String>, stores: Vec<String>) -> Result<Self> {
        let named = [&skus, &categories, &stores]
            .iter()
            .filter(|l| !l.is_empty())
            .count();
        if named > 1 {
            return Err(Error::invalid(
                "reward",
                "a multiplier counts SKUs, categories or stores: name one list",
            ));
        }
        let set = |ids: Vec<String>| -> Result<BTreeSet<String>> {
            if ids.len() > MAX_TARGET_IDS {
                return Err(Error::invalid(
                    "reward",
                    format!("a multiplier names at most {MAX_TARGET_IDS} ids"),
                ));
            }
            ids.into_iter()
                .map(|id| {
                    let id = id.trim();
                    if id.is_empty() || id.len() > 120 {
                        Err(Error::invalid(
                            "reward",
                            "ids are 1 to 120 characters, not blank",
                        ))
                    } else {
                        Ok(id.to_owned())
                    }
                })
                .collect()
        };
        Ok(if !skus.is_empty() {
            Target::Skus(set(skus)?)
        } else if !categories.is_empty() {
            Target::Categories(set(categories)?)
        } else if !stores.is_empty() {
            Target::Stores(set(stores)?)
        } else {
            Target::Everything
        })
    }

    pub fn kind(&self) -> TargetKind {
        match self {
            Target::Everything => TargetKind::Everything,
            Target::Skus(_) => TargetKind::Skus,
            Target::Categories(_) => TargetKind::Categories,
            Target::Stores(_) => TargetKind::Stores,
        }
    }

    /// The ids it names (none for everything).
    pub fn ids(&self) -> Vec<String> {
        match self {
            Target::Everything => Vec::new(),
            Target::Skus(ids) | Target::Categories(ids) | Target::Stores(ids) => {
                ids.iter().cloned().collect()
            }
        }
    }

    /// As stored: its kind and ids.
    pub fn from_stored(kind: TargetKind, ids: Vec<String>) -> Self {
        let ids = ids.into_iter().collect();
        match kind {
            TargetKind::Everything => Target::Everything,
            TargetKind::Skus => Target::Skus(ids),
            TargetKind::Categories => Target::Categories(ids),
            TargetKind::Stores => Target::Stores(ids),
        }
    }
}

impl Reward {
    pub fn kind(&self) -> RewardKind {
        match self {
            Reward::Multiplier { .. } => RewardKind::Multiplier,
            Reward::FirstPurchase(_) => RewardKind::FirstPurchase,
            Reward::BirthdayMonth(_) => RewardKind::BirthdayMonth,
            Reward::GuideRegistration(_) => RewardKind::GuideRegistration,
            Reward::Referral { .. } => RewardKind::Referral,
        }
    }
}

/// A campaign's earning rule, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub window: Window,
    /// Higher first.
    pub priority: i32,
    pub stacking: Stacking,
    pub reward: Reward,
    /// Only for members of this segment (the member service's), if any.
    pub segment_id: Option<String>,
}

/// The segments `rules` are limited to: the member service is asked about
/// these only.
pub fn segments_named(rules: &[Rule]) -> BTreeSet<String> {
    rules.iter().filter_map(|r| r.segment_id.clone()).collect()
}

/// The rules that may apply to a member in `segments` (of those named):
/// every rule limited to no segment, and those whose segment they are in.
pub fn for_member(rules: Vec<Rule>, segments: &BTreeSet<String>) -> Vec<Rule> {
    rules
        .into_iter()
        .filter(|r| r.segment_id.as_ref().is_none_or(|s| segments.contains(s)))
        .collect()
}

/// One line of a purchase: what was paid for it, in fen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseLine {
    pub sku_id: String,
    pub category_id: Option<String>,
    pub paid_fen: i64,
}

/// A purchase as earning sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    pub at: DateTime<Utc>,
    pub store_id: Option<String>,
    pub lines: Vec<PurchaseLine>,
    /// The member's first purchase in this programme.
    pub first_purchase: bool,
    /// The month (1-12) of the member's birthday, if known.
    pub birthday_month: Option<u32>,
}

/// A registration as earning sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub at: DateTime<Utc>,
    pub through_guide: bool,
    pub referred: bool,
}

/// What earns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Occasion {
    Purchase(Purchase),
    Registration(Registration),
}

impl Occasion {
    fn at(&self) -> DateTime<Utc> {
        match self {
            Occasion::Purchase(p) => p.at,
            Occasion::Registration(r) => r.at,
        }
    }
}

kit::stored_enum! {
    /// Who an award goes to.
    #[derive(PartialOrd, Ord)]
    pub enum Recipient {
        Member,
        Referrer,
    }
}

/// Points a rule gave.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Award {
    pub rule_id: String,
    pub recipient: Recipient,
    pub points: i64,
}

/// An occasion's earning: the base rate's points and each rule's award.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earning {
    pub base_points: i64,
    /// Sorted by rule id, then recipient.
    pub awards: Vec<Award>,
}

impl Earning {
    /// Everything the member (not the referrer) earns.
    pub fn member_points(&self) -> i64 {
        self.awards
            .iter()
            .filter(|a| a.recipient == Recipient::Member)
            .fold(self.base_points, |sum, a| sum.saturating_add(a.points))
    }
}

/// What `occasion` earns under the base `rate` and `rules`, in `zone`
/// (the programme's: birthday months are counted there).
pub fn earn(occasion: &Occasion, rate: EarnRate, rules: &[Rule], zone: Tz) -> Earning {
    let base_points = match occasion {
        Occasion::Purchase(p) => {
            points_earned(p.lines.iter().map(|l| l.paid_fen.max(0)).sum(), rate)
        }
        Occasion::Registration(_) => 0,
    };
    let mut applying: Vec<(&Rule, Vec<Award>)> = rules
        .iter()
        .filter(|r| r.window.contains(occasion.at()))
        .filter_map(|r| {
            let awards = awards_of(r, occasion, rate, zone);
            (!awards.is_empty()).then_some((r, awards))
        })
        .collect();
    let exclusive = applying
        .iter()
        .filter(|(r, _)| r.stacking == Stacking::Exclusive)
        .min_by(|(a, _), (b, _)| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)))
        .map(|(r, _)| r.id.clone());
    if let Some(id) = exclusive {
        applying.retain(|(r, _)| r.id == id);
    } else {
        applying.retain(|(r, _)| r.stacking == Stacking::Stackable);
    }
    let mut awards: Vec<Award> = applying.into_iter().flat_map(|(_, a)| a).collect();
    awards.sort();
    Earning {
        base_points,
        awards,
    }
}

/// What one rule gives on `occasion`, if its condition holds (no award of
/// 0 points).
fn awards_of(rule: &Rule, occasion: &Occasion, rate: EarnRate, zone: Tz) -> Vec<Award> {
    let award = |recipient, points: i64| Award {
        rule_id: rule.id.clone(),
        recipient,
        points,
    };
    let given = match (&rule.reward, occasion) {
        (Reward::Multiplier { factor, target }, Occasion::Purchase(p)) => {
            let extra = p
                .lines
                .iter()
                .filter(|l| target.counts(p, l))
                .map(|l| factor.extra(points_earned(l.paid_fen, rate)))
                .fold(0i64, i64::saturating_add);
            vec![award(Recipient::Member, extra)]
        }
        (Reward::FirstPurchase(bonus), Occasion::Purchase(p)) if p.first_purchase => {
            vec![award(Recipient::Member, bonus.get())]
        }
        (Reward::BirthdayMonth(bonus), Occasion::Purchase(p))
            if p.birthday_month == Some(p.at.with_timezone(&zone).month()) =>
        {
            vec![award(Recipient::Member, bonus.get())]
        }
        (Reward::GuideRegistration(bonus), Occasion::Registration(r)) if r.through_guide => {
            vec![award(Recipient::Member, bonus.get())]
        }
        (Reward::Referral { member, referrer }, Occasion::Registration(r)) if r.referred => vec![
            award(Recipient::Member, member.get()),
            award(Recipient::Referrer, referrer.get()),
        ],
        _ => Vec::new(),
    };
    given.into_iter().filter(|a| a.points > 0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SHANGHAI: Tz = chrono_tz::Asia::Shanghai;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn rate(r: &str) -> EarnRate {
        EarnRate::parse(r.parse().unwrap()).unwrap()
    }

    fn week() -> Window {
        Window::days(
            NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 13).unwrap(),
            SHANGHAI,
        )
        .unwrap()
    }

    fn rule(id: &str, priority: i32, stacking: Stacking, reward: Reward) -> Rule {
        Rule {
            id: id.into(),
            window: week(),
            priority,
            stacking,
            reward,
            segment_id: None,
        }
    }

    #[test]
    fn a_segments_campaign_is_for_its_members_only() {
        let bonus = |id: &str, segment: Option<&str>| Rule {
            segment_id: segment.map(Into::into),
            ..rule(
                id,
                0,
                Stacking::Stackable,
                Reward::FirstPurchase(Bonus::parse("points", 10).unwrap()),
            )
        };
        let rules = vec![
            bonus("everyone", None),
            bonus("gold", Some("seg-gold")),
            bonus("lapsed", Some("seg-lapsed")),
        ];
        assert_eq!(
            segments_named(&rules),
            ["seg-gold".to_string(), "seg-lapsed".to_string()].into()
        );
        let ids = |segments: &[&str]| {
            let segments = segments.iter().map(|s| s.to_string()).collect();
            for_member(rules.clone(), &segments)
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&[]), ["everyone"]);
        assert_eq!(ids(&["seg-gold"]), ["everyone", "gold"]);
        assert_eq!(
            ids(&["seg-gold", "seg-lapsed"]),
            ["everyone", "gold", "lapsed"]
        );
    }

    fn double(target: Target) -> Reward {
        Reward::Multiplier {
            factor: Factor::parse(Decimal::from(2)).unwrap(),
            target,
        }
    }

    fn beans(paid_fen: i64) -> PurchaseLine {
        PurchaseLine {
            sku_id: "beans".into(),
            category_id: Some("coffee-beans".into()),
            paid_fen,
        }
    }

    fn cup(paid_fen: i64) -> PurchaseLine {
        PurchaseLine {
            sku_id: "latte".into(),
            category_id: Some("drinks".into()),
            paid_fen,
        }
    }

    fn purchase(at_: &str, lines: Vec<PurchaseLine>) -> Occasion {
        Occasion::Purchase(Purchase {
            at: at(at_),
            store_id: Some("store-1".into()),
            lines,
            first_purchase: false,
            birthday_month: None,
        })
    }

    #[test]
    fn a_week_in_the_programmes_zone() {
        let w = week();
        assert_eq!(w.starts_at(), at("2026-12-06T16:00:00Z"));
        assert_eq!(w.ends_at(), at("2026-12-13T16:00:00Z"));
        assert!(w.contains(at("2026-12-06T16:00:00Z")));
        assert!(!w.contains(at("2026-12-13T16:00:00Z")));
        let err = Window::new(at("2026-12-07T00:00:00Z"), at("2026-12-07T00:00:00Z")).unwrap_err();
        assert_eq!(err.field(), Some("endsAt"));
    }

    #[test]
    fn double_points_on_coffee_beans_this_week() {
        let rules = [rule(
            "beans-x2",
            0,
            Stacking::Stackable,
            double(Target::Categories(["coffee-beans".to_string()].into())),
        )];
        // 68 yuan of beans and 30 of coffee at 2 points a yuan: 196 base,
        // 136 more for the beans.
        let occasion = purchase("2026-12-08T03:00:00Z", vec![beans(6_800), cup(3_000)]);
        let e = earn(&occasion, rate("2"), &rules, SHANGHAI);
        assert_eq!(e.base_points, 196);
        assert_eq!(
            e.awards,
            [Award {
                rule_id: "beans-x2".into(),
                recipient: Recipient::Member,
                points: 136
            }]
        );
        assert_eq!(e.member_points(), 332);
        // Next week: the base only.
        let later = purchase("2026-12-13T16:00:00Z", vec![beans(6_800)]);
        let e = earn(&later, rate("2"), &rules, SHANGHAI);
        assert_eq!((e.base_points, e.awards.len()), (136, 0));
    }

    #[test]
    fn an_exclusive_rule_takes_the_occasion_alone() {
        let rules = [
            rule("all-x2", 1, Stacking::Stackable, double(Target::Everything)),
            rule(
                "store-x3",
                5,
                Stacking::Exclusive,
                Reward::Multiplier {
                    factor: Factor::parse(Decimal::from(3)).unwrap(),
                    target: Target::Stores(["store-1".to_string()].into()),
                },
            ),
            rule(
                "first",
                9,
                Stacking::Exclusive,
                Reward::FirstPurchase(Bonus::parse("points", 500).unwrap()),
            ),
        ];
        // Not a first purchase: the store's triple, alone.
        let e = earn(
            &purchase("2026-12-08T03:00:00Z", vec![cup(1_000)]),
            rate("1"),
            &rules,
            SHANGHAI,
        );
        assert_eq!(e.awards.len(), 1);
        assert_eq!(e.awards[0].rule_id, "store-x3");
        assert_eq!(e.member_points(), 30);
    }

    #[test]
    fn birthday_months_are_counted_in_the_programmes_zone() {
        let rules = [rule(
            "birthday",
            0,
            Stacking::Stackable,
            Reward::BirthdayMonth(Bonus::parse("points", 88).unwrap()),
        )];
        let mut p = Purchase {
            // 2026-12-07 00:30 in Shanghai, still 6 December in UTC.
            at: at("2026-12-06T16:30:00Z"),
            store_id: None,
            lines: vec![cup(100)],
            first_purchase: false,
            birthday_month: Some(12),
        };
        let e = earn(&Occasion::Purchase(p.clone()), rate("1"), &rules, SHANGHAI);
        assert_eq!(e.member_points(), 1 + 88);
        p.birthday_month = Some(11);
        let e = earn(&Occasion::Purchase(p), rate("1"), &rules, SHANGHAI);
        assert!(e.awards.is_empty());
    }

    #[test]
    fn a_referral_rewards_both_members_and_a_guide_code_its_member() {
        let rules = [
            rule(
                "referral",
                0,
                Stacking::Stackable,
                Reward::Referral {
                    member: Bonus::parse("memberPoints", 100).unwrap(),
                    referrer: Bonus::parse("referrerPoints", 200).unwrap(),
                },
            ),
            rule(
                "guide",
                0,
                Stacking::Stackable,
                Reward::GuideRegistration(Bonus::parse("points", 50).unwrap()),
            ),
        ];
        let r = Occasion::Registration(Registration {
            at: at("2026-12-08T03:00:00Z"),
            through_guide: true,
            referred: true,
        });
        let e = earn(&r, rate("1"), &rules, SHANGHAI);
        assert_eq!(e.base_points, 0);
        assert_eq!(e.member_points(), 150);
        let referrer: i64 = e
            .awards
            .iter()
            .filter(|a| a.recipient == Recipient::Referrer)
            .map(|a| a.points)
            .sum();
        assert_eq!(referrer, 200);
    }

    #[test]
    fn bad_rule_values_name_their_field() {
        for bad in ["1", "0.5", "10.01", "-2"] {
            let err = Factor::parse(bad.parse().unwrap()).unwrap_err();
            assert_eq!(err.field(), Some("factor"), "{bad}");
        }
        assert!(Factor::parse("1.5".parse().unwrap()).is_ok());
        for bad in [0, -1, MAX_BONUS_POINTS + 1] {
            assert_eq!(
                Bonus::parse("points", bad).unwrap_err().field(),
                Some("points")
            );
        }
    }

    fn any_rule() -> impl Strategy<Value = Rule> {
        let target = prop_oneof![
            Just(Target::Everything),
            Just(Target::Skus(["beans".to_string()].into())),
            Just(Target::Categories(["drinks".to_string()].into())),
            Just(Target::Stores(["store-1".to_string()].into())),
        ];
        let reward = prop_oneof![
            (11i64..=100, target).prop_map(|(f, target)| Reward::Multiplier {
                factor: Factor::parse(Decimal::new(f, 1)).unwrap(),
                target
            }),
            (1i64..=1_000).prop_map(|p| Reward::FirstPurchase(Bonus(p))),
            (1i64..=1_000).prop_map(|p| Reward::BirthdayMonth(Bonus(p))),
            (1i64..=1_000).prop_map(|p| Reward::GuideRegistration(Bonus(p))),
        ];
        (-3i32..3, any::<bool>(), reward, 0i64..20, 1i64..20).prop_map(
            |(priority, exclusive, reward, from, days)| Rule {
                id: String::new(),
                window: Window::new(
                    at("2026-12-01T00:00:00Z") + chrono::Duration::days(from),
                    at("2026-12-01T00:00:00Z") + chrono::Duration::days(from + days),
                )
                .unwrap(),
                priority,
                stacking: if exclusive {
                    Stacking::Exclusive
                } else {
                    Stacking::Stackable
                },
                reward,
                segment_id: None,
            },
        )
    }

    /// Rules with distinct ids, as stored ones have.
    fn any_rules() -> impl Strategy<Value = Vec<Rule>> {
        proptest::collection::vec(any_rule(), 0..8).prop_map(|mut rules| {
            for (i, r) in rules.iter_mut().enumerate() {
                r.id = format!("r{i}");
            }
            rules
        })
    }

    fn any_purchase() -> impl Strategy<Value = Occasion> {
        (
            0i64..40 * 24,
            proptest::collection::vec((any::<bool>(), 0i64..1_000_000), 0..6),
            any::<bool>(),
            proptest::option::of(1u32..=12),
        )
            .prop_map(|(hours, lines, first_purchase, month)| {
                Occasion::Purchase(Purchase {
                    at: at("2026-12-01T00:00:00Z") + chrono::Duration::hours(hours),
                    store_id: Some("store-1".into()),
                    lines: lines
                        .into_iter()
                        .map(|(is_beans, fen)| if is_beans { beans(fen) } else { cup(fen) })
                        .collect(),
                    first_purchase,
                    birthday_month: month,
                })
            })
    }

    #[test]
    fn a_category_counts_what_is_under_it_and_nothing_beside_it() {
        let coffee = Target::parse(vec![], vec![" coffee ".into()], vec![]).unwrap();
        let p = match purchase("2026-12-08T02:00:00Z", vec![]) {
            Occasion::Purchase(p) => p,
            Occasion::Registration(_) => unreachable!(),
        };
        let line = |category: Option<&str>| PurchaseLine {
            sku_id: "x".into(),
            category_id: category.map(Into::into),
            paid_fen: 100,
        };
        assert!(coffee.counts(&p, &line(Some("coffee"))));
        assert!(coffee.counts(&p, &line(Some("coffee/beans"))));
        assert!(!coffee.counts(&p, &line(Some("coffee-gear"))));
        assert!(!coffee.counts(&p, &line(None)));
    }

    #[test]
    fn a_multiplier_names_one_list_of_real_ids() {
        assert_eq!(
            Target::parse(vec![], vec![], vec![]).unwrap(),
            Target::Everything
        );
        let two = Target::parse(vec!["a".into()], vec!["b".into()], vec![]).unwrap_err();
        assert_eq!(two.field(), Some("reward"));
        let blank = Target::parse(vec![" ".into()], vec![], vec![]).unwrap_err();
        assert_eq!(blank.field(), Some("reward"));
        let many = Target::parse(
            vec![],
            vec![],
            (0..=MAX_TARGET_IDS).map(|i| i.to_string()).collect(),
        );
        assert!(many.is_err());
        let stores =
            Target::parse(vec![], vec![], vec!["s2".into(), "s1".into(), "s1".into()]).unwrap();
        assert_eq!(stores.kind(), TargetKind::Stores);
        assert_eq!(stores.ids(), vec!["s1".to_string(), "s2".to_string()]);
        assert_eq!(Target::from_stored(stores.kind(), stores.ids()), stores);
    }

    proptest! {
        #[test]
        fn no_rule_makes_earning_negative_or_less_than_the_base(
            occasion in any_purchase(),
            rules in any_rules(),
        ) {
            let e = earn(&occasion, rate("2"), &rules, SHANGHAI);
            prop_assert!(e.base_points >= 0);
            prop_assert!(e.awards.iter().all(|a| a.points > 0));
            prop_assert!(e.member_points() >= e.base_points);
            let base = earn(&occasion, rate("2"), &[], SHANGHAI);
            prop_assert_eq!(base.base_points, e.base_points);
        }

        #[test]
        fn the_order_of_rules_changes_nothing(
            occasion in any_purchase(),
            rules in any_rules(),
            seed in any::<u64>(),
        ) {
            let mut shuffled = rules.clone();
            // A deterministic shuffle from the seed.
            let n = shuffled.len();
            for i in (1..n).rev() {
                let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize;
                shuffled.swap(i, j);
            }
            prop_assert_eq!(
                earn(&occasion, rate("2"), &rules, SHANGHAI),
                earn(&occasion, rate("2"), &shuffled, SHANGHAI)
            );
        }

        #[test]
        fn rules_outside_their_window_give_nothing(
            occasion in any_purchase(),
            rules in any_rules(),
        ) {
            let e = earn(&occasion, rate("2"), &rules, SHANGHAI);
            let at = match &occasion { Occasion::Purchase(p) => p.at, Occasion::Registration(r) => r.at };
            for award in &e.awards {
                let rule = rules.iter().find(|r| r.id == award.rule_id).unwrap();
                prop_assert!(rule.window.contains(at));
            }
            // An exclusive award is alone.
            let exclusive = e.awards.iter().any(|a| rules.iter().any(|r| r.id == a.rule_id && r.stacking == Stacking::Exclusive));
            if exclusive {
                let ids: BTreeSet<&str> = e.awards.iter().map(|a| a.rule_id.as_str()).collect();
                prop_assert_eq!(ids.len(), 1);
            }
        }
    }
}
