//! GraphQL types of earning campaigns: the campaign, the input that
//! creates one (parsed here into the domain's rule), and the awards an
//! EARN entry records.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use kit::input::ForeignId;
use kit::time::from_micros;
use kit::{ApiResult, Long};

use super::now;
use crate::domain::campaigns::{
    Bonus, CampaignStatus, Factor, Reward, RewardKind, Stacking, Target, TargetKind, Window,
    parse_day, parse_name,
};
use crate::error::{Error, Result};
use crate::store::campaigns::{CampaignDraft, status_of, window_of};
use crate::store::entities::{campaign, earn_award};

/// An earning campaign: a rule on top of its programme's base rate, for
/// orders placed in its window.
pub struct Campaign(pub campaign::Model);

#[Object]
impl Campaign {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn programme_id(&self) -> ID {
        ID(self.0.programme_id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> RewardKind {
        self.0.kind
    }
    /// Of a MULTIPLIER: the factor, an exact decimal ("2" doubles).
    async fn factor(&self) -> Option<&str> {
        self.0.factor.as_deref()
    }
    /// Of a MULTIPLIER: what it counts.
    async fn target(&self) -> Option<TargetKind> {
        self.0.target
    }
    /// Of a MULTIPLIER counting SKUs, categories or stores: their ids (a
    /// category counts what is under it: `coffee` counts `coffee/beans`).
    async fn target_ids(&self) -> ApiResult<Vec<String>> {
        Ok(match &self.0.target_ids {
            Some(json) => serde_json::from_str(json)
                .map_err(|_| Error::corrupt(format_args!("campaign {}", self.0.id)))?,
            None => Vec::new(),
        })
    }
    /// Of FIRST_PURCHASE, BIRTHDAY_MONTH and GUIDE_REGISTRATION: the bonus;
    /// of REFERRAL: the new member's. In points.
    async fn bonus_points(&self) -> Option<Long> {
        self.0.bonus_points.map(Into::into)
    }
    /// Of REFERRAL: the referring member's bonus, in points.
    async fn referrer_bonus_points(&self) -> Option<Long> {
        self.0.referrer_points.map(Into::into)
    }
    /// Only members of this segment (the member service's) earn by it.
    async fn eligible_segment_id(&self) -> Option<ID> {
        self.0.segment_id.clone().map(ID)
    }
    /// Higher first, among exclusive campaigns.
    async fn priority(&self) -> i32 {
        self.0.priority
    }
    async fn stacking(&self) -> Stacking {
        self.0.stacking
    }
    async fn starts_at(&self) -> DateTime<Utc> {
        from_micros(self.0.starts_at)
    }
    /// Exclusive; earlier than planned if it was ended early.
    async fn ends_at(&self) -> ApiResult<DateTime<Utc>> {
        Ok(window_of(&self.0)?.ends_at())
    }
    /// By the service's clock; ENDED once ended early, even before it began.
    async fn status(&self, ctx: &Context<'_>) -> ApiResult<CampaignStatus> {
        Ok(status_of(&self.0, now(ctx))?)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        from_micros(self.0.created_at)
    }
}

/// The highest (and, negated, the lowest) campaign priority.
pub const MAX_PRIORITY: i32 = 1_000;

/// A campaign to run.
#[derive(InputObject)]
pub struct CampaignInput {
    pub programme_id: ID,
    /// 1-120 characters, e.g. "Double beans week".
    pub name: String,
    /// Its first day, `YYYY-MM-DD`, from midnight in the programme's zone.
    pub first_day: String,
    /// Its last day, `YYYY-MM-DD`, up to midnight after it in the
    /// programme's zone; not before `firstDay`.
    pub last_day: String,
    /// -1000 to 1000 (default 0): among EXCLUSIVE campaigns that apply at
    /// once, the highest wins.
    #[graphql(default)]
    pub priority: i32,
    #[graphql(default_with = "Stacking::Stackable")]
    pub stacking: Stacking,
    /// What it gives: exactly one of the fields.
    pub reward: CampaignRewardInput,
    /// Only members of this segment (the member service's, which says at
    /// each earning whether the member is in it) earn by it; an unknown
    /// segment has no members.
    pub eligible_segment_id: Option<ID>,
}

/// What a campaign gives: exactly one field.
#[derive(InputObject)]
pub struct CampaignRewardInput {
    /// Multiply the base points of some lines.
    pub multiplier: Option<MultiplierInput>,
    /// Bonus points (1-1,000,000) on a member's first purchase in the
    /// programme (a cancelled order does not count as one).
    pub first_purchase_bonus: Option<i32>,
    /// Bonus points (1-1,000,000) on each order placed in the member's
    /// birthday month, counted in the programme's zone.
    pub birthday_month_bonus: Option<i32>,
    /// Bonus points (1-1,000,000) for a member who registers through a
    /// guide's code of the programme's brand (the store service bound them
    /// to that guide).
    pub guide_registration_bonus: Option<i32>,
    /// Points for a member who registers at the programme's brand naming a
    /// referrer, and for the referrer.
    pub referral: Option<ReferralInput>,
}

/// A referral's bonuses: both 1-1,000,000 points.
#[derive(InputObject)]
pub struct ReferralInput {
    pub new_member_points: i32,
    pub referrer_points: i32,
}

/// A multiplier and the lines it counts: name SKUs, categories or stores
/// (at most one list, up to 200 ids); none counts every line.
#[derive(InputObject)]
pub struct MultiplierInput {
    /// An exact decimal above 1 and at most 10, e.g. "2".
    pub factor: String,
    #[graphql(default)]
    pub sku_ids: Vec<String>,
    #[graphql(default)]
    pub category_ids: Vec<String>,
    #[graphql(default)]
    pub store_ids: Vec<String>,
}

impl CampaignInput {
    /// The draft, its days read in `zone` (the programme's). BAD_USER_INPUT
    /// with the field at fault.
    pub fn parse(self, programme_id: String, zone: Tz) -> Result<CampaignDraft> {
        let name = parse_name(&self.name)?;
        let first = parse_day("firstDay", &self.first_day)?;
        let last = parse_day("lastDay", &self.last_day)?;
        if last < first {
            return Err(Error::invalid(
                "lastDay",
                "lastDay must not be before firstDay",
            ));
        }
        let window = Window::days(first, last, zone)?;
        if !(-MAX_PRIORITY..=MAX_PRIORITY).contains(&self.priority) {
            return Err(Error::invalid(
                "priority",
                format!("priority must be between -{MAX_PRIORITY} and {MAX_PRIORITY}"),
            ));
        }
        let CampaignRewardInput {
            multiplier,
            first_purchase_bonus,
            birthday_month_bonus,
            guide_registration_bonus,
            referral,
        } = self.reward;
        let bonus = |field: &str, points: i32| Bonus::parse(field, i64::from(points));
        let mut given = [
            multiplier.map(|m| -> Result<Reward> {
                Ok(Reward::Multiplier {
                    factor: Factor::parse_text(&m.factor)?,
                    target: Target::parse(m.sku_ids, m.category_ids, m.store_ids)?,
                })
            }),
            first_purchase_bonus.map(|p| bonus("firstPurchaseBonus", p).map(Reward::FirstPurchase)),
            birthday_month_bonus.map(|p| bonus("birthdayMonthBonus", p).map(Reward::BirthdayMonth)),
            guide_registration_bonus
                .map(|p| bonus("guideRegistrationBonus", p).map(Reward::GuideRegistration)),
            referral.map(|r| {
                Ok(Reward::Referral {
                    member: bonus("newMemberPoints", r.new_member_points)?,
                    referrer: bonus("referrerPoints", r.referrer_points)?,
                })
            }),
        ]
        .into_iter()
        .flatten();
        let reward = match (given.next(), given.next()) {
            (Some(reward), None) => reward?,
            _ => {
                return Err(Error::invalid(
                    "reward",
                    "give exactly one of multiplier, firstPurchaseBonus, birthdayMonthBonus, \
                     guideRegistrationBonus and referral",
                ));
            }
        };
        let segment_id = self
            .eligible_segment_id
            .map(|s| ForeignId::parse("eligibleSegmentId", &s).map(ForeignId::into_string))
            .transpose()?;
        Ok(CampaignDraft {
            segment_id,
            programme_id,
            name,
            window,
            priority: self.priority,
            stacking: self.stacking,
            reward,
        })
    }
}

/// Points a campaign gave in an EARN entry (the rest is the base rate).
#[derive(SimpleObject)]
pub struct EarnAward {
    pub campaign_id: ID,
    pub points: Long,
}

impl From<earn_award::Model> for EarnAward {
    fn from(a: earn_award::Model) -> Self {
        EarnAward {
            campaign_id: ID(a.campaign_id),
            points: a.points.into(),
        }
    }
}
