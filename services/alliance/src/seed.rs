//! Demo data: the three demo brands in the alliance, each with its own
//! programme, and exchange terms both ways between every two of them,
//! accepted by both sides. Stable ids: a second run changes nothing.

use kit::Caller;
use kit::demo;
use kit::input::ForeignId;
use sea_orm::DatabaseConnection;

use crate::domain::returns::ReturnPolicy;
use crate::store::exchange::{self, TermsDraft, TermsSide};
use crate::store::programmes::{self, ProgrammeDraft, ProgrammeSettings, programme_id_of};

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
    Ok(demo::Loaded {
        part: "alliance",
        what: format!(
            "{} brands with points programmes, exchange terms between every two",
            demo::BRANDS.len()
        ),
        new: onboarded + terms,
    })
}
