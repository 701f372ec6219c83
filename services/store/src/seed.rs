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
use kit::input::ForeignId;

const PLACES: [(&str, f64, f64); 30] = [
    ("People's Square", 31.2317, 121.4726),
    ("Nanjing Road East", 31.2366, 121.4812),
    ("The Bund", 31.2400, 121.4900),
    ("Lujiazui", 31.2397, 121.4998),
    ("Xintiandi", 31.2196, 121.4756),
    ("Jing'an Temple", 31.2235, 121.4454),
    ("Xujiahui", 31.1940, 121.4365),
    ("Zhongshan Park", 31.2193, 121.4177),
    ("Wujiaochang", 31.3011, 121.5138),
    ("Century Park", 31.2153, 121.5510),
    ("Hongqiao Railway Station", 31.1947, 121.3210),
    ("Tianzifang", 31.2096, 121.4693),
    ("Yuyuan Garden", 31.2272, 121.4921),
    ("Shanghai South Station", 31.1546, 121.4300),
    ("Qibao", 31.1550, 121.3520),
    ("Zhangjiang", 31.2035, 121.5906),
    ("Jinqiao", 31.2676, 121.5883),
    ("Hongkou Stadium", 31.2729, 121.4813),
    ("Shanghai Railway Station", 31.2495, 121.4558),
    ("Changfeng Park", 31.2266, 121.3957),
    ("Gubei", 31.1957, 121.3961),
    ("Shanghai Stadium", 31.1830, 121.4372),
    ("Expo Park", 31.1860, 121.4930),
    ("Songjiang University Town", 31.0497, 121.2166),
    ("Xinzhuang", 31.1109, 121.3853),
    ("Gucun Park", 31.3454, 121.3755),
    ("Jiading New Town", 31.3838, 121.2507),
    ("Pudong Airport T2", 31.1510, 121.8040),
    ("Hongqiao Airport T2", 31.1942, 121.3277),
    ("Dishui Lake", 30.9060, 121.9290),
];

const GUIDE_NAMES: [&str; 5] = [
    "Xiao Wang",
    "Xiao Li",
    "Xiao Zhang",
    "Xiao Chen",
    "Xiao Liu",
];

const BRANDS: [(&str, &str); 3] = [
    ("apparel", "Threadline"),
    ("coffee", "Morning Bean"),
    ("cinema", "Silver Screen"),
];

/// Basis points per brand for DIRECT and FRANCHISE stores' guides.
const COMMISSION_BP: [(&str, u32, u32); 3] = [
    ("apparel", 200, 500),
    ("coffee", 300, 600),
    ("cinema", 100, 300),
];

pub async fn demo(db: &DatabaseConnection) -> anyhow::Result<String> {
    for (brand, direct, franchise) in COMMISSION_BP {
        for (kind, bp) in [
            (StoreKind::Direct, direct),
            (StoreKind::Franchise, franchise),
        ] {
            let rule = CommissionRule {
                bp: BasisPoints::parse(bp as i32)?,
                after_sales_days: 7,
            };
            commissions::set_rule(db, brand, kind, rule).await?;
        }
    }
    let mut created = 0;
    for (i, (place, lat, lng)) in PLACES.iter().enumerate() {
        let id = format!("demo-store-{i:02}");
        if store::store_by_id(db, &id).await?.is_some() {
            continue;
        }
        let (brand, brand_name) = BRANDS[i % BRANDS.len()];
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
        store::create_store_with_id(db, &id, &new).await?;
        // One guide per store; demo members register through these codes.
        let guide_id = format!("demo-guide-{i:02}");
        let name = format!("{} {}", GUIDE_NAMES[i % GUIDE_NAMES.len()], i);
        guides::create_guide_with(db, &guide_id, &id, &name, guide_id.clone()).await?;
        created += 1;
    }
    Ok(format!(
        "store: {} demo stores in Shanghai, each with a guide ({created} new)",
        PLACES.len()
    ))
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
