//! Demo data that spans services, loaded after each service's own: orders
//! sold at the till for some of the demo members, paid and handed over at
//! once (their points and the guides' commissions follow from the order
//! feed once the platform runs), coupons the first demo members redeemed
//! Beans for, and the demo member whose token `seed` and `up --demo` print.

use kit::idempotency::IdempotencyKey;
use std::collections::BTreeMap;

use kit::auth::Actor;
use kit::channel::Channel;
use kit::demo::{self, Loaded};
use member::domain::identity::ExternalId;
use product::domain::order::{Fulfilment, OrderStatus};
use product::store::orders::{NewOrder, fulfil, place_order};
use sea_orm::DatabaseConnection;

/// Every how many demo members one has an order.
const ONE_IN: usize = 4;
/// How many demo members (the first ones, the token's member among them)
/// redeem Beans for a coupon.
const COUPON_HOLDERS: usize = 3;

/// The id of demo member `i`, by the identity the member seed gave them.
async fn member_id(db: &DatabaseConnection, i: usize) -> anyhow::Result<Option<String>> {
    let (channel, external_id) = member::seed::first_identity(i);
    let external = ExternalId::parse("externalId", &external_id)?;
    Ok(member::store::member_id_by_identity(
        db,
        channel,
        &external,
        kit::auth::Environment::Live,
        "",
    )
    .await?)
}

/// Loads the demo data that spans the services whose databases are given
/// (by service name): the orders when both member and product are there.
/// Prints what it did; returns the demo member a token is for, if known.
pub async fn load(
    databases: &BTreeMap<&str, DatabaseConnection>,
    members: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Option<String>> {
    let Some(member_db) = databases.get("member") else {
        return Ok(None);
    };
    if let Some(products) = databases.get("product") {
        println!("  {}", orders(member_db, products, members, now).await?);
    }
    if let Some(alliance_db) = databases.get("alliance") {
        let mut ids = Vec::new();
        for i in 0..COUPON_HOLDERS.min(members) {
            ids.extend(member_id(member_db, i).await?);
        }
        println!(
            "  {}",
            alliance::seed::demo_coupons(alliance_db, &ids, now).await?
        );
    }
    member_id(member_db, 0).await
}

/// Places the demo orders (idempotent: each has its own key).
async fn orders(
    member_db: &DatabaseConnection,
    product_db: &DatabaseConnection,
    members: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Loaded> {
    let actor = Actor::system("seed");
    // The demo's retry keys are an operator's.
    let demo_till = kit::Caller::Operator {
        operator_id: "seed".into(),
    };
    let (mut placed, mut new, mut refused) = (0, 0, 0);
    for i in (0..members).step_by(ONE_IN) {
        let Some(member_id) = member_id(member_db, i).await? else {
            continue;
        };
        // Demo store s is of brand s mod 3; each order takes one of that
        // brand's lines in turn.
        let store = i % demo::STORES.len();
        let brand = demo::BRANDS[store % demo::BRANDS.len()];
        let line = (i / ONE_IN) % product::seed::brand_lines(brand).max(1);
        let Some(sku) = product::seed::brand_sku(brand, line) else {
            continue;
        };
        let order = NewOrder {
            requested_member_id: None,
            member_id: Some(member_id),
            channel: Channel::StorePos,
            store_id: Some(demo::store_id(store)),
            fulfilment: Fulfilment::InStore,
            ship_to: None,
            lines: vec![(sku, 1)],
            coupon_code: None,
            key: IdempotencyKey::parse(&demo_till, &format!("demo-order-{i:04}"))
                .map_err(|e| anyhow::anyhow!(e.message))?,
        };
        match place_order(product_db, &order, &actor, now).await {
            Ok(done) => {
                placed += 1;
                new += usize::from(!done.replayed);
                // A till sale is paid and handed over on the spot. A rerun
                // finds it fulfilled and leaves it.
                if done.order.status == OrderStatus::Placed {
                    fulfil(product_db, &done.order.id, &actor, now).await?;
                }
            }
            // Sold out at that store: the demo goes on without it.
            Err(product::error::Error::OutOfStock { .. }) => refused += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Loaded {
        part: "demo orders",
        what: format!(
            "{placed} sold at the till for demo members ({refused} sold out); points and commissions follow from the order feed"
        ),
        new,
    })
}
