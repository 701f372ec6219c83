//! Demo data: 30 stores of three brands at real places in Shanghai, direct
//! and franchise, with believable hours, a guide in each, and commission
//! rules per brand. Ids are stable (`demo-store-00`..),
//! so a second run changes nothing and the member demo data can point at
//! them.

use sea_orm::DatabaseConnection;

use crate::domain::commission::BasisPoints;
use crate::domain::geo::Coordinates;
use crate::domain::hours::{Interval, OpeningHours, Weekday, parse_time_zone};
use crate::domain::store::{StoreKind, StoreStatus};
use crate::store::commissions::{self, CommissionRule};
use crate::store::{self, NewStore, guides};
use kit::demo::{self, DemoStore};
use kit::input::ForeignId;

const GUIDE_NAMES: [&str; 5] = [
    "Xiao Wang",
    "Xiao Li",
    "Xiao Zhang",
    "Xiao Chen",
    "Xiao Liu",
];

/// Basis points per brand for DIRECT and FRANCHISE stores' guides.
const COMMISSION_BP: [(&str, u32, u32); 3] = [
    ("apparel", 200, 500),
    ("coffee", 300, 600),
    ("cinema", 100, 300),
];

pub async fn demo(
    db: &DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<demo::Loaded> {
    for (brand, direct, franchise) in COMMISSION_BP {
        for (kind, bp) in [
            (StoreKind::Direct, direct),
            (StoreKind::Franchise, franchise),
        ] {
            let rule = CommissionRule {
                bp: BasisPoints::parse(bp as i32)?,
                after_sales_days: 7,
            };
            commissions::set_rule(db, brand, kind, rule, now).await?;
        }
    }
    let mut created = 0;
    for (i, DemoStore { place, lat, lng }) in demo::STORES.iter().enumerate() {
        let id = demo::store_id(i);
        if store::store_by_id(db, &id).await?.is_some() {
            continue;
        }
        let (brand, brand_name) = (demo::BRANDS[i % 3], demo::BRAND_NAMES[i % 3]);
        let kind = if i % 4 == 3 {
            StoreKind::Franchise
        } else {
            StoreKind::Direct
        };
        let new = NewStore {
            brand_id: ForeignId::parse("brandId", brand).map_err(|e| anyhow::anyhow!(e.message))?,
            name: format!("{brand_name} {place}"),
            kind,
            franchisee: (kind == StoreKind::Franchise).then(|| format!("{place} Retail Co., Ltd.")),
            address: format!("{place}, Shanghai"),
            location: Coordinates::parse(*lat, *lng).map_err(crate::error::Error::from)?,
            time_zone: parse_time_zone("Asia/Shanghai")?,
            hours: hours_for(brand)?,
            phone: Some(format!("+86 21 6{:03}-{:04}", 100 + i, 1000 + i * 7)),
            status: if i == 29 {
                StoreStatus::TemporarilyClosed
            } else {
                StoreStatus::Open
            },
        };
        store::create_store_with_id(db, &id, &new, now).await?;
        // One guide per store; demo members register through these codes.
        let guide_id = demo::guide_code(i);
        let name = format!("{} {}", GUIDE_NAMES[i % GUIDE_NAMES.len()], i);
        guides::create_guide_with(db, &guide_id, &id, &name, guide_id.clone(), now).await?;
        created += 1;
    }
    Ok(demo::Loaded {
        part: "store",
        what: format!(
            "{} demo stores in Shanghai, each with a guide",
            demo::STORES.len()
        ),
        new: created,
    })
}

fn hours_for(brand: &str) -> crate::error::Result<OpeningHours> {
    let every_day = |opens: &str, closes: &str| -> crate::error::Result<Vec<(Weekday, Interval)>> {
        Weekday::ALL
            .iter()
            .map(|d| Ok((*d, Interval::parse("hours", opens, closes)?)))
            .collect()
    };
    let weekly = match brand {
        "coffee" => every_day("07:00", "21:00")?,
        // Late shows run past midnight.
        "cinema" => every_day("10:00", "02:00")?,
        _ => every_day("10:00", "22:00")?,
    };
    OpeningHours::new(weekly, vec![])
}
