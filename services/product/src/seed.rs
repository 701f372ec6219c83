//! Demo data: the 30 demo stores of `kit::demo` as stock locations, a warehouse, and a small
//! catalogue per brand with stock. Stable ids: a second run changes nothing.

use kit::auth::Actor;
use kit::demo::{self, DemoStore};
use sea_orm::DatabaseConnection;

use crate::domain::sourcing::LocationKind;
use crate::store::catalogue::{self, NewProduct, NewSku};
use crate::store::inventory::{self, MovementKind};

/// A demo product: brand, name, category and its variants with prices.
struct DemoProduct {
    brand: &'static str,
    name: &'static str,
    category: &'static str,
    variants: &'static [(&'static str, i64)],
}

pub const DEMO_PRODUCTS: usize = 200;

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

/// The first SKU of brand `brand`'s `n`-th catalogue line (first edition,
/// which the brand's stores hold), or None past the brand's lines.
pub fn brand_sku(brand: &str, n: usize) -> Option<String> {
    CATALOGUE
        .iter()
        .enumerate()
        .filter(|(_, p)| p.brand == brand)
        .nth(n)
        .map(|(p, _)| format!("demo-sku-{p:02}-0"))
}

/// How many catalogue lines brand `brand` has.
pub fn brand_lines(brand: &str) -> usize {
    CATALOGUE.iter().filter(|p| p.brand == brand).count()
}

pub async fn demo(
    db: &DatabaseConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<demo::Loaded> {
    let actor = Actor::system("seed");
    for (i, DemoStore { lat, lng, .. }) in demo::STORES.iter().enumerate() {
        inventory::upsert_location(
            db,
            &demo::store_id(i),
            LocationKind::Store,
            &format!("Demo store {i:02}"),
            *lat,
            *lng,
            now,
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
        now,
    )
    .await?;
    let mut created = 0;
    for p in 0..DEMO_PRODUCTS {
        // The catalogue's nine lines, each in editions: 200 products.
        let DemoProduct {
            brand,
            name,
            category,
            variants,
        } = &CATALOGUE[p % CATALOGUE.len()];
        let edition = p / CATALOGUE.len();
        let product_id = format!("demo-product-{p:02}");
        if catalogue::product_by_id(db, &product_id).await?.is_some() {
            continue;
        }
        let new = NewProduct {
            brand_id: (*brand).into(),
            name: match edition {
                0 => (*name).into(),
                n => format!("{name} No. {}", n + 1),
            },
            description: String::new(),
            category: (*category).into(),
        };
        catalogue::create_product_with_id(db, &product_id, &new, now).await?;
        let brand_index = demo::BRANDS.iter().position(|b| b == brand).unwrap_or(0);
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
                    // Later editions cost a little more.
                    list_price_fen: *price + (edition as i64) * 100,
                },
                now,
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
                now,
            )
            .await?;
            // The brand's stores hold the first editions, a few each; the
            // long tail ships from the warehouse.
            if edition > 2 {
                continue;
            }
            for s in (0..demo::STORES.len()).filter(|s| s % 3 == brand_index) {
                let qty = ((s + v) % 4) as i64 * 3;
                if qty > 0 {
                    inventory::change_stock(
                        db,
                        &sku_id,
                        &demo::store_id(s),
                        qty,
                        MovementKind::Receive,
                        "demo opening stock",
                        &actor,
                        now,
                    )
                    .await?;
                }
            }
        }
        created += 1;
    }
    Ok(demo::Loaded {
        part: "product",
        what: format!("{DEMO_PRODUCTS} demo products with stock in 30 stores and a warehouse"),
        new: created,
    })
}
