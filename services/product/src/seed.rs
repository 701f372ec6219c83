//! Demo data: the 30 demo stores of Shanghai as stock locations (same ids
//! and coordinates as the store service's demo), a warehouse, and a small
//! catalogue per brand with stock. Stable ids: a second run changes nothing.

use kit::auth::Actor;
use sea_orm::DatabaseConnection;

use crate::domain::sourcing::LocationKind;
use crate::store::catalogue::{self, NewProduct, NewSku};
use crate::store::inventory::{self, MovementKind};

/// The store service's demo stores: (index, latitude, longitude).
const STORES: [(f64, f64); 30] = [
    (31.2317, 121.4726),
    (31.2366, 121.4812),
    (31.2400, 121.4900),
    (31.2397, 121.4998),
    (31.2196, 121.4756),
    (31.2235, 121.4454),
    (31.1940, 121.4365),
    (31.2193, 121.4177),
    (31.3011, 121.5138),
    (31.2153, 121.5510),
    (31.1947, 121.3210),
    (31.2096, 121.4693),
    (31.2272, 121.4921),
    (31.1546, 121.4300),
    (31.1550, 121.3520),
    (31.2035, 121.5906),
    (31.2676, 121.5883),
    (31.2729, 121.4813),
    (31.2495, 121.4558),
    (31.2266, 121.3957),
    (31.1957, 121.3961),
    (31.1830, 121.4372),
    (31.1860, 121.4930),
    (31.0497, 121.2166),
    (31.1109, 121.3853),
    (31.3454, 121.3755),
    (31.3838, 121.2507),
    (31.1510, 121.8040),
    (31.1942, 121.3277),
    (30.9060, 121.9290),
];

/// A demo product: brand, name, category and its variants with prices.
struct DemoProduct {
    brand: &'static str,
    name: &'static str,
    category: &'static str,
    variants: &'static [(&'static str, i64)],
}

const CATALOGUE: [DemoProduct; 9] = [
    DemoProduct {
        brand: "apparel",
        name: "Cotton Tee",
        category: "apparel/tops",
        variants: &[("S", 9_900), ("M", 9_900), ("L", 9_900)],
    },
    DemoProduct {
        brand: "apparel",
        name: "Linen Shirt",
        category: "apparel/tops",
        variants: &[("M", 29_900), ("L", 29_900)],
    },
    DemoProduct {
        brand: "apparel",
        name: "Denim Jacket",
        category: "apparel/outerwear",
        variants: &[("M", 59_900)],
    },
    DemoProduct {
        brand: "coffee",
        name: "Yunnan Beans 250g",
        category: "coffee/beans",
        variants: &[("whole", 6_800), ("ground", 6_800)],
    },
    DemoProduct {
        brand: "coffee",
        name: "Cold Brew Bottle",
        category: "coffee/drinks",
        variants: &[("330ml", 2_500)],
    },
    DemoProduct {
        brand: "coffee",
        name: "Ceramic Mug",
        category: "coffee/gear",
        variants: &[("white", 4_900)],
    },
    DemoProduct {
        brand: "cinema",
        name: "Movie Ticket",
        category: "cinema/tickets",
        variants: &[("standard", 5_500), ("imax", 9_000)],
    },
    DemoProduct {
        brand: "cinema",
        name: "Popcorn Bucket",
        category: "cinema/snacks",
        variants: &[("large", 3_200)],
    },
    DemoProduct {
        brand: "cinema",
        name: "Gift Card 100",
        category: "cinema/gifts",
        variants: &[("card", 10_000)],
    },
];

pub async fn demo(db: &DatabaseConnection) -> anyhow::Result<String> {
    let actor = Actor::system("seed");
    for (i, (lat, lng)) in STORES.iter().enumerate() {
        inventory::upsert_location(
            db,
            &format!("demo-store-{i:02}"),
            LocationKind::Store,
            &format!("Demo store {i:02}"),
            *lat,
            *lng,
        )
        .await?;
    }
    inventory::upsert_location(
        db,
        "demo-warehouse",
        LocationKind::Warehouse,
        "Minhang distribution centre",
        31.11,
        121.38,
    )
    .await?;
    let mut created = 0;
    for (
        p,
        DemoProduct {
            brand,
            name,
            category,
            variants,
        },
    ) in CATALOGUE.iter().enumerate()
    {
        let product_id = format!("demo-product-{p:02}");
        if catalogue::product_by_id(db, &product_id).await?.is_some() {
            continue;
        }
        let new = NewProduct {
            brand_id: (*brand).into(),
            name: (*name).into(),
            description: String::new(),
            category: (*category).into(),
        };
        catalogue::create_product_with_id(db, &product_id, &new).await?;
        for (v, (variant, price)) in variants.iter().enumerate() {
            let sku_id = format!("demo-sku-{p:02}-{v}");
            let attributes = [("variant".to_owned(), (*variant).to_owned())]
                .into_iter()
                .collect();
            catalogue::create_sku_with_id(
                db,
                &sku_id,
                &product_id,
                &NewSku {
                    attributes,
                    barcode: None,
                    list_price_fen: *price,
                },
            )
            .await?;
            inventory::change_stock(
                db,
                &sku_id,
                "demo-warehouse",
                500,
                MovementKind::Receive,
                "demo opening stock",
                &actor,
            )
            .await?;
            // Each brand's stores hold a few of their brand's SKUs.
            for (s, _) in STORES.iter().enumerate().filter(|(s, _)| s % 3 == p / 3) {
                let qty = ((s + v) % 4) as i64 * 3;
                if qty > 0 {
                    inventory::change_stock(
                        db,
                        &sku_id,
                        &format!("demo-store-{s:02}"),
                        qty,
                        MovementKind::Receive,
                        "demo opening stock",
                        &actor,
                    )
                    .await?;
                }
            }
        }
        created += 1;
    }
    Ok(format!(
        "product: {} demo products with stock in 30 stores and a warehouse ({created} new)",
        CATALOGUE.len()
    ))
}
