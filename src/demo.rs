//! Demo data that spans services, loaded after each service's own: orders
//! placed at the till for some of the demo members (their points and the
//! guides' commissions follow from the order feed once the platform runs),
//! and the demo member whose token `seed` and `up --demo` print.

use kit::auth::Actor;
use kit::channel::Channel;
use kit::demo;
use member::domain::identity::ExternalId;
use product::domain::order::Fulfilment;
use product::store::orders::{NewOrder, place_order};
use sea_orm::DatabaseConnection;

/// Every how many demo members one has an order.
const ONE_IN: usize = 4;

/// The id of demo member `i`, by the identity the member seed gave them.
async fn member_id(db: &DatabaseConnection, i: usize) -> anyhow::Result<Option<String>> {
    let channel = [Channel::App, Channel::WechatMiniProgram, Channel::StorePos][i % 3];
    let external = ExternalId::parse(
        "externalId",
        &format!("demo-{}-{i:04}", channel.as_str().to_lowercase()),
    )?;
    Ok(member::store::member_id_by_identity(db, channel, &external).await?)
}

/// The member a demo member token is for.
pub async fn first_member(member_db: &DatabaseConnection) -> anyhow::Result<Option<String>> {
    member_id(member_db, 0).await
}

/// Places the demo orders (idempotent: each has its own key).
pub async fn orders(
    member_db: &DatabaseConnection,
    product_db: &DatabaseConnection,
) -> anyhow::Result<String> {
    let actor = Actor::system("seed");
    let (mut placed, mut refused) = (0, 0);
    for i in (0..member::seed::DEMO_MEMBERS).step_by(ONE_IN) {
        let Some(member_id) = member_id(member_db, i).await? else {
            continue;
        };
        // Demo store s is of brand s mod 3, and catalogue lines 3b..3b+2
        // are brand b's.
        let store = i % demo::STORES.len();
        let product = 3 * (store % 3) + (i / ONE_IN) % 3;
        let order = NewOrder {
            member_id: Some(member_id),
            channel: Channel::StorePos,
            store_id: Some(demo::store_id(store)),
            fulfilment: Fulfilment::InStore,
            ship_to: None,
            lines: vec![(format!("demo-sku-{product:02}-0"), 1)],
            idempotency_key: format!("demo-order-{i:04}"),
        };
        match place_order(product_db, &order, &actor).await {
            Ok(_) => placed += 1,
            // Sold out at that store: the demo goes on without it.
            Err(product::error::Error::OutOfStock { .. }) => refused += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(format!(
        "demo orders: {placed} at the till for demo members ({refused} refused); points and commissions follow from the order feed"
    ))
}
