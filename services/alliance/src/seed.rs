//! Demo data: the three demo brands in the alliance, each with its own
//! programme, and exchange terms both ways between every two of them,
//! accepted by both sides; a running campaign or two and a few rewards per
//! programme; and (given demo members) coupons some of them redeemed.
//! Stable ids and keys: a second run changes nothing.

use kit::Caller;
use kit::demo;
use kit::input::ForeignId;
use sea_orm::DatabaseConnection;

use kit::events::schema::{CouponBenefit, CouponTerms};

use crate::domain::campaigns::{Bonus, Factor, Reward, Stacking, Target, Window};
use crate::domain::returns::ReturnPolicy;
use crate::domain::rewards::Availability;
use crate::store::IdempotencyKey;
use crate::store::campaigns::{self, CampaignDraft};
use crate::store::exchange::{self, TermsDraft, TermsSide};
use crate::store::ledger;
use crate::store::programmes::{self, ProgrammeDraft, ProgrammeSettings, programme_id_of};
use crate::store::rewards::{self, RedemptionRequest, RewardDraft, RewardItem};

/// The demo brands' programmes, one return policy each.
const PROGRAMMES: [ProgrammeDraft<'static>; 3] = [
    ProgrammeDraft {
        points_name: "Thread Points",
        time_zone: "Asia/Shanghai",
        cash_value_fen: "1",
        points_per_yuan: "1",
        pending_days: 7,
        expiry_months: Some(24),
        return_policy: ReturnPolicy::WithinBalance,
        can_send: true,
        can_receive: true,
    },
    ProgrammeDraft {
        points_name: "Beans",
        time_zone: "Asia/Shanghai",
        cash_value_fen: "0.5",
        points_per_yuan: "2",
        pending_days: 0,
        expiry_months: Some(12),
        return_policy: ReturnPolicy::OnlyPending,
        can_send: true,
        can_receive: true,
    },
    ProgrammeDraft {
        points_name: "Stars",
        time_zone: "Asia/Shanghai",
        cash_value_fen: "2",
        points_per_yuan: "0.5",
        pending_days: 3,
        expiry_months: None,
        return_policy: ReturnPolicy::AllowNegative,
        can_send: true,
        can_receive: true,
    },
];

pub async fn demo(
    db: &DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<demo::Loaded> {
    let mut onboarded = 0;
    for (i, brand) in demo::BRANDS.iter().enumerate() {
        if programmes::programme_of_brand(db, brand).await?.is_some() {
            continue;
        }
        let settings = ProgrammeSettings::parse(&PROGRAMMES[i])?;
        let id = ForeignId::parse("brandId", brand).map_err(|e| anyhow::anyhow!(e.message))?;
        programmes::onboard_brand(
            db,
            &id,
            demo::BRAND_NAMES[i],
            &settings,
            &kit::auth::Actor::system("demo-seed"),
            now,
        )
        .await?;
        onboarded += 1;
    }
    let operator = Caller::Operator {
        operator_id: "demo-seed".to_owned(),
    };
    let mut terms = 0;
    for (i, from) in demo::BRANDS.iter().enumerate() {
        for (j, to) in demo::BRANDS.iter().enumerate() {
            if i == j {
                continue;
            }
            let (from_id, to_id) = (programme_id_of(from), programme_id_of(to));
            let existing =
                exchange::visible_terms(db, &operator, Some(&from_id), Some(&to_id)).await?;
            if !existing.is_empty() {
                continue;
            }
            // Rate: 90% of the cash-value ratio, so an exchange costs the
            // member a little value.
            let (from_cash, to_cash) = (PROGRAMMES[i].cash_value_fen, PROGRAMMES[j].cash_value_fen);
            let rate = rust_decimal::Decimal::from_str_exact(from_cash)?
                / rust_decimal::Decimal::from_str_exact(to_cash)?
                * rust_decimal::Decimal::new(9, 1);
            let draft = TermsDraft {
                from_programme_id: from_id,
                to_programme_id: to_id,
                rate: rate.normalize().to_string(),
                fee_bp: 100,
                min_block: 100,
                daily_limit: 5_000,
                yearly_limit: 50_000,
            };
            let proposed = exchange::propose_terms(db, &operator, &draft, now).await?;
            for side in [TermsSide::From, TermsSide::To] {
                exchange::accept_terms(
                    db,
                    &operator,
                    &proposed.id,
                    proposed.version,
                    Some(side),
                    now,
                )
                .await?;
            }
            terms += 1;
        }
    }
    let (campaigns, rewards) = campaigns_and_rewards(db, &operator, now).await?;
    Ok(demo::Loaded {
        part: "alliance",
        what: format!(
            "{} brands with points programmes, exchange terms between every two, a running campaign or two and rewards in each",
            demo::BRANDS.len()
        ),
        new: onboarded + terms + campaigns + rewards,
    })
}

/// The coffee reward demo members redeem: 10 yuan off 60 yuan of beans.
pub const DEMO_COUPON_REWARD: &str = "10 yuan off beans";

/// Each programme's demo campaigns and rewards, added once (a programme
/// that has any keeps what it has): double Beans on coffee beans for two
/// weeks from the day the demo is loaded, a first-purchase bonus at the
/// apparel brand; a coupon, a gift and a percentage reward.
async fn campaigns_and_rewards(
    db: &DatabaseConnection,
    operator: &Caller,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<(usize, usize)> {
    let actor = kit::auth::Actor::of(operator);
    let zone = chrono_tz::Asia::Shanghai;
    let today = now.with_timezone(&zone).date_naive();
    let first_page = kit::paging::PageRequest::parse(Some(1), None).map_err(api)?;
    let campaigns_of = [
        (
            "coffee",
            "Double Beans on beans",
            Reward::Multiplier {
                factor: Factor::parse(rust_decimal::Decimal::from(2))?,
                target: Target::Categories(["coffee/beans".to_owned()].into()),
            },
        ),
        (
            "apparel",
            "Welcome: 50 Thread Points on a first purchase",
            Reward::FirstPurchase(Bonus::parse("bonus", 50)?),
        ),
    ];
    let mut campaigns_added = 0;
    for (brand, name, reward) in campaigns_of {
        let programme_id = programme_id_of(brand);
        if !campaigns::campaigns_page(db, &programme_id, &first_page)
            .await?
            .0
            .is_empty()
        {
            continue;
        }
        let draft = CampaignDraft {
            programme_id: programme_id.clone(),
            name: name.to_owned(),
            window: Window::days(today, today + chrono::Duration::days(13), zone)?,
            priority: 0,
            stacking: Stacking::Stackable,
            reward,
            segment_id: None,
        };
        let key =
            IdempotencyKey::parse(operator, &format!("demo-campaign-{brand}")).map_err(api)?;
        campaigns::create(db, &draft, &key, &actor, now).await?;
        campaigns_added += 1;
    }
    let terms = |benefit, category: &str, min_spend_fen| CouponTerms {
        benefit,
        min_spend_fen,
        brand_ids: Vec::new(),
        sku_ids: Vec::new(),
        category_ids: vec![category.to_owned()],
        valid_days: 30,
        restore_on_refund: false,
    };
    let rewards_of = [
        (
            "coffee",
            DEMO_COUPON_REWARD,
            200,
            Some(100),
            RewardItem::Coupon(terms(
                CouponBenefit::AmountOff { amount_fen: 1_000 },
                "coffee/beans",
                6_000,
            )),
        ),
        (
            "apparel",
            "Canvas tote bag",
            500,
            Some(20),
            RewardItem::Gift("a canvas tote bag, at any apparel store".to_owned()),
        ),
        (
            "cinema",
            "20% off snacks",
            300,
            None,
            RewardItem::Coupon(terms(
                CouponBenefit::PercentOff {
                    percent: 20,
                    cap_fen: Some(2_000),
                },
                "cinema/snacks",
                0,
            )),
        ),
    ];
    let mut rewards_added = 0;
    for (brand, name, points_price, stock, item) in rewards_of {
        let programme_id = programme_id_of(brand);
        if !rewards::rewards_page(db, &programme_id, &first_page)
            .await?
            .0
            .is_empty()
        {
            continue;
        }
        let draft = RewardDraft {
            programme_id,
            name: name.to_owned(),
            description: String::new(),
            points_price,
            stock,
            item,
            availability: Availability {
                window: None,
                tiers: Default::default(),
                segment_id: None,
                per_member_limit: Some(2),
            },
        };
        let key = IdempotencyKey::parse(operator, &format!("demo-reward-{brand}")).map_err(api)?;
        rewards::create(db, &draft, &key, &actor, now).await?;
        rewards_added += 1;
    }
    Ok((campaigns_added, rewards_added))
}

/// Coupons for demo members: each of `member_ids` gets 300 Beans (an
/// operator's adjustment) and redeems 200 of them for the coffee coupon,
/// once per member (stable keys). The product service issues the coupons
/// when it reads the alliance's feed.
pub async fn demo_coupons(
    db: &DatabaseConnection,
    member_ids: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<demo::Loaded> {
    let operator = Caller::Operator {
        operator_id: "demo-seed".to_owned(),
    };
    let actor = kit::auth::Actor::of(&operator);
    let coffee = programme_id_of("coffee");
    let page = kit::paging::PageRequest::parse(Some(100), None).map_err(api)?;
    let Some(reward) = rewards::rewards_page(db, &coffee, &page)
        .await?
        .0
        .into_iter()
        .find(|r| r.name == DEMO_COUPON_REWARD)
    else {
        return Ok(demo::Loaded {
            part: "demo coupons",
            what: "none: the coffee programme has no demo coupon reward".to_owned(),
            new: 0,
        });
    };
    let mut new = 0;
    for (i, member_id) in member_ids.iter().enumerate() {
        let account_id = ledger::open_account(db, member_id, &coffee, now).await?;
        let key =
            IdempotencyKey::parse(&operator, &format!("demo-welcome-beans-{i:04}")).map_err(api)?;
        ledger::adjust(
            db,
            &account_id,
            300,
            "demo welcome Beans",
            &key,
            &actor,
            now,
        )
        .await?;
        let key = IdempotencyKey::parse(&operator, &format!("demo-coupon-{i:04}")).map_err(api)?;
        let request = RedemptionRequest {
            reward_id: reward.id.clone(),
            member_id: member_id.clone(),
            tier: None,
            in_segment: false,
        };
        let redeemed = rewards::redeem(db, &request, &key, &actor, now).await?;
        // A replay answers the first redemption, stamped at its own time.
        new += usize::from(redeemed.created_at == kit::time::to_micros(now));
    }
    Ok(demo::Loaded {
        part: "demo coupons",
        what: format!(
            "{} demo member(s) redeemed Beans for '{DEMO_COUPON_REWARD}'; their coupons reach the product service from the alliance's feed",
            member_ids.len()
        ),
        new,
    })
}

fn api(err: kit::ApiError) -> anyhow::Error {
    anyhow::anyhow!(err.message)
}
