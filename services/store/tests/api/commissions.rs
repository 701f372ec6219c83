//! Commissions from order events (produced here by a stand-in producer, in
//! the schema of `kit::events::schema`, until the product service exists).

use chrono::{Duration, Utc};
use kit::auth::TokenRequest;
use kit::config::Secret;
use kit::events::consumer::FeedConsumer;
use kit::events::jetstream::{JetStream, JetStreamSource, Relay};
use kit::events::schema::{
    MemberMerged, MemberRegistered, OrderCancelled, OrderFulfilled, OrderLine, OrderPlaced,
    OrderRefunded, RefundedLine,
};
use kit::testing::{FEED_ONLY, TestApp, TestDatabase, spawn_on};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use store::events::{MEMBER_FEED, MemberFeed, ORDER_FEED, OrderFeed};
use store::store::entities::commission;

use crate::support::*;

struct World {
    store: TestApp,
    orders: TestApp,
    /// A producer of member events, for the tests that read both feeds.
    members: TestApp,
    guide: String,
    code: String,
    shop: String,
}

/// A store service with rules, a guide and a bound member `m1`, and a
/// producer of order events.
async fn world() -> World {
    let secret = Secret::new(kit::auth::random_secret());
    let clock = kit::testing::clock();
    let store = spawn_on(
        &store::SPEC,
        TestDatabase::new().await,
        secret.clone(),
        clock.clone(),
    )
    .await;
    let orders = spawn_on(
        &FEED_ONLY,
        TestDatabase::new().await,
        secret.clone(),
        clock.clone(),
    )
    .await;
    let members = spawn_on(&FEED_ONLY, TestDatabase::new().await, secret, clock.clone()).await;
    let rule = "mutation($b: ID!, $k: StoreKind!, $bp: Int!) { setCommissionRule(brandId: $b, storeKind: $k, basisPoints: $bp, afterSalesDays: 7) { basisPoints } }";
    for (brand, kind, bp) in [
        ("apparel", "DIRECT", 200),
        ("apparel", "FRANCHISE", 500),
        ("coffee", "DIRECT", 300),
    ] {
        store
            .graphql(
                Some(&store.operator_token()),
                rule,
                json!({ "b": brand, "k": kind, "bp": bp }),
            )
            .await
            .ok();
    }
    let shop = create_store(&store, store_input("S", 31.2, 121.4)).await;
    let (guide, code) = create_guide(&store, &shop, "Xiao Wang").await;
    scan(&store, "m1", &code).await;
    World {
        store,
        orders,
        members,
        guide,
        code,
        shop,
    }
}

impl World {
    /// An order consumer as `up` runs it beside no member feed: these tests
    /// bind members by scan, so no order waits for a registration.
    fn consumer(&self, name: &str) -> FeedConsumer<OrderFeed> {
        FeedConsumer::new(
            name,
            &self.orders.address,
            self.store.db().clone(),
            self.store.keys().clone(),
            self.store.clock().clone(),
            OrderFeed { waits_for: None },
        )
    }

    /// The two consumers as `up` runs them beside a member service, over
    /// `transport`.
    fn both_feeds(
        &self,
        transport: &Transport,
    ) -> (FeedConsumer<MemberFeed>, FeedConsumer<OrderFeed>) {
        if let Transport::JetStream { members, orders } = transport {
            let wait = std::time::Duration::from_millis(50);
            let source = |js: &JetStream| JetStreamSource::new(js.clone(), FEED_ONLY.name, wait);
            return (
                FeedConsumer::from_source(
                    MEMBER_FEED,
                    source(members),
                    self.store.db().clone(),
                    self.store.clock().clone(),
                    MemberFeed,
                ),
                FeedConsumer::from_source(
                    ORDER_FEED,
                    source(orders),
                    self.store.db().clone(),
                    self.store.clock().clone(),
                    OrderFeed {
                        waits_for: Some(MEMBER_FEED),
                    },
                ),
            );
        }
        let members = FeedConsumer::new(
            MEMBER_FEED,
            &self.members.address,
            self.store.db().clone(),
            self.store.keys().clone(),
            self.store.clock().clone(),
            MemberFeed,
        );
        let orders = FeedConsumer::new(
            ORDER_FEED,
            &self.orders.address,
            self.store.db().clone(),
            self.store.keys().clone(),
            self.store.clock().clone(),
            OrderFeed {
                waits_for: Some(MEMBER_FEED),
            },
        );
        (members, orders)
    }

    async fn apply(&self) {
        self.consumer(ORDER_FEED).catch_up().await.unwrap();
    }

    /// On JetStream, one pass of each producer's relay (as the relays in
    /// the producers' processes would make by now); over HTTP, nothing.
    async fn relay(&self, transport: &Transport) {
        if let Transport::JetStream { members, orders } = transport {
            for (js, app) in [(members, &self.members), (orders, &self.orders)] {
                Relay::new(
                    js.clone(),
                    FEED_ONLY.name,
                    app.db().clone(),
                    app.clock().clone(),
                )
                .relay_once()
                .await
                .unwrap();
            }
        }
    }

    async fn commissions(&self) -> Value {
        // No period: this month in the store's zone, by the store's clock.
        let q = "query($g: ID!) { guide(id: $g) { commissions { period { from to zone } pendingFen approvedFen clawedBackFen entries { lineId amountFen status refundedFen windowClosesAt } } } }";
        let r = self
            .store
            .graphql(
                Some(&self.store.operator_token()),
                q,
                json!({ "g": self.guide }),
            )
            .await;
        r.ok()["guide"]["commissions"].clone()
    }

    async fn statement(&self) -> Value {
        let q = "query($s: ID!) { storeCommissionStatement(storeId: $s) { period { from to zone } pendingFen approvedFen clawedBackFen netFen lines { guide { id } netFen } } }";
        let r = self
            .store
            .graphql(
                Some(&self.store.operator_token()),
                q,
                json!({ "s": self.shop }),
            )
            .await;
        r.ok()["storeCommissionStatement"].clone()
    }
}

/// A period of two days around now, by the store's clock.
fn period(store: &TestApp) -> Value {
    let now = store.now();
    json!({ "from": (now - Duration::days(1)).to_rfc3339(), "to": (now + Duration::days(1)).to_rfc3339() })
}

fn line(id: &str, brand: &str, amount: i64) -> OrderLine {
    OrderLine {
        line_id: id.into(),
        sku_id: format!("sku-{id}"),
        brand_id: brand.into(),
        quantity: 1,
        unit_price_fen: amount,
        amount_fen: amount,
        source_location_id: None,
        category_id: None,
    }
}

fn placed(
    order: &str,
    member: Option<&str>,
    lines: Vec<OrderLine>,
    now: chrono::DateTime<chrono::Utc>,
) -> OrderPlaced {
    let total_fen = lines.iter().map(|l| l.amount_fen).sum();
    OrderPlaced {
        order_id: order.into(),
        member_id: member.map(Into::into),
        channel: kit::channel::Channel::App,
        store_id: None,
        fulfilment: "SHIP".into(),
        lines,
        total_fen,
        placed_at: now,
    }
}

fn refund(
    order: &str,
    refund_id: &str,
    line_id: &str,
    amount: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> OrderRefunded {
    OrderRefunded {
        order_id: order.into(),
        refund_id: refund_id.into(),
        member_id: Some("m1".into()),
        lines: vec![RefundedLine {
            line_id: line_id.into(),
            quantity: 1,
            amount_fen: amount,
        }],
        amount_fen: amount,
        fully_refunded: false,
        refunded_at: now,
    }
}

#[tokio::test]
async fn pending_then_approved_then_partial_refund_then_clawback() {
    let w = world().await;
    w.orders
        .publish(&placed(
            "o1",
            Some("m1"),
            vec![
                line("l1", "apparel", 12_345),
                line("l2", "coffee", 10_000),
                line("l3", "cinema", 5_000),
            ],
            w.store.now(),
        ))
        .await;
    w.orders
        .publish(&placed(
            "o-anon",
            None,
            vec![line("l9", "apparel", 99_999)],
            w.store.now(),
        ))
        .await;
    w.orders
        .publish(&placed(
            "o-unbound",
            Some("m-nobody"),
            vec![line("l8", "apparel", 99_999)],
            w.store.now(),
        ))
        .await;
    w.apply().await;
    let c = w.commissions().await;
    assert_eq!(
        c["entries"].as_array().unwrap().len(),
        2,
        "cinema pays no commission; anonymous and unbound orders credit nobody"
    );
    assert_eq!(
        c["entries"][0]["amountFen"], 246,
        "2% of 12 345 fen = 246.9, rounded down"
    );
    assert_eq!(c["entries"][1]["amountFen"], 300, "coffee pays 3%");
    assert_eq!(c["pendingFen"], 546);
    assert_eq!(
        c["entries"][0]["windowClosesAt"],
        json!(null),
        "the window opens at fulfilment"
    );

    w.orders
        .publish(&OrderFulfilled {
            order_id: "o1".into(),
            member_id: Some("m1".into()),
            fulfilled_at: w.store.now(),
        })
        .await;
    w.orders
        .publish(&refund("o1", "r1", "l1", 6_000, w.store.now()))
        .await;
    w.apply().await;
    let c = w.commissions().await;
    assert_eq!(
        c["entries"][0]["amountFen"], 126,
        "pending reduced: 2% of the 6 345 fen left"
    );
    assert_eq!(c["entries"][0]["refundedFen"], 6_000);
    assert!(c["entries"][0]["windowClosesAt"].is_string());

    let approve = "mutation { approveDueCommissions }";
    assert_eq!(
        w.store
            .graphql(Some(&w.store.operator_token()), approve, json!({}))
            .await
            .ok()["approveDueCommissions"],
        0,
        "window still open"
    );
    commission::Entity::update_many()
        .col_expr(
            commission::Column::WindowClosesAt,
            Some(kit::time::to_micros(w.store.now()) - 1).into(),
        )
        .filter(commission::Column::OrderId.eq("o1"))
        .exec(w.store.db())
        .await
        .unwrap();
    assert_eq!(
        w.store
            .graphql(Some(&w.store.operator_token()), approve, json!({}))
            .await
            .ok()["approveDueCommissions"],
        2
    );
    let c = w.commissions().await;
    assert_eq!(
        (c["pendingFen"].as_i64(), c["approvedFen"].as_i64()),
        (Some(0), Some(426))
    );

    // After approval, a refund claws back with a negative entry.
    w.orders
        .publish(&refund("o1", "r2", "l2", 10_000, w.store.now()))
        .await;
    w.apply().await;
    let c = w.commissions().await;
    assert_eq!(c["clawedBackFen"], 300);
    assert_eq!(
        c["entries"][1]["amountFen"], 300,
        "the approved amount stays as approved"
    );
    let s = w.statement().await;
    assert_eq!(
        (
            s["approvedFen"].as_i64(),
            s["clawedBackFen"].as_i64(),
            s["netFen"].as_i64()
        ),
        (Some(426), Some(300), Some(126))
    );
    assert_eq!(s["lines"][0]["guide"]["id"], w.guide.as_str());

    // A replay by a consumer that lost its position changes nothing.
    assert_eq!(
        w.consumer("store:order-feed-replay")
            .catch_up()
            .await
            .unwrap(),
        6
    );
    assert_eq!(w.commissions().await, c);
    assert_eq!(w.statement().await, s);
}

fn registered(
    member: &str,
    guide_code: Option<&str>,
    at: chrono::DateTime<Utc>,
) -> MemberRegistered {
    MemberRegistered {
        member_id: member.into(),
        channel: kit::channel::Channel::App,
        guide_code: guide_code.map(Into::into),
        brand_id: Some("apparel".into()),
        registered_at: at,
        referrer_id: None,
    }
}

/// The store reads the member feed and the order feed independently; after
/// a backlog of registrations, an order can arrive first. It must wait for
/// its member's binding instead of crediting nobody.
#[tokio::test]
async fn an_order_read_before_its_members_registration_waits_and_then_credits_the_guide() {
    an_order_waits_for_its_members_registration(&Transport::Http).await;
}

/// The same wrong order on JetStream: "the member feed has caught up" is
/// the member relay's watermark.
#[tokio::test]
async fn on_jetstream_an_order_read_before_its_members_registration_waits_too() {
    let transport = Transport::JetStream {
        members: kit::testing::jetstream().await,
        orders: kit::testing::jetstream().await,
    };
    an_order_waits_for_its_members_registration(&transport).await;
    if let Transport::JetStream { members, orders } = transport {
        members.delete_all().await.unwrap();
        orders.delete_all().await.unwrap();
    }
}

/// How the store reads its two feeds in a test: each producer's feed over
/// HTTP, or each producer's stream (a prefix of its own) on JetStream.
#[allow(clippy::large_enum_variant)] // two of them per test
enum Transport {
    Http,
    JetStream {
        members: JetStream,
        orders: JetStream,
    },
}

async fn an_order_waits_for_its_members_registration(transport: &Transport) {
    let w = world().await;
    let code = w.code.as_str();
    let earlier = w.store.now() - Duration::seconds(5);
    // Two members register (one through the guide's code, one on their
    // own) and then each orders; the order feed is read first.
    w.members
        .publish(&registered("m7", Some(code), earlier))
        .await;
    w.members.publish(&registered("m8", None, earlier)).await;
    let mut by_guided = placed(
        "o7",
        Some("m7"),
        vec![line("l1", "apparel", 10_000)],
        w.store.now(),
    );
    by_guided.placed_at = earlier;
    let mut by_unguided = placed(
        "o8",
        Some("m8"),
        vec![line("l1", "apparel", 8_000)],
        w.store.now(),
    );
    by_unguided.placed_at = earlier;
    w.orders.publish(&by_guided).await;
    w.orders.publish(&by_unguided).await;
    w.orders
        .publish(&OrderFulfilled {
            order_id: "o7".into(),
            member_id: Some("m7".into()),
            fulfilled_at: earlier,
        })
        .await;

    let (member_feed, order_feed) = w.both_feeds(transport);
    w.relay(transport).await;
    assert_eq!(
        order_feed.catch_up().await.unwrap(),
        0,
        "o7 waits: the member feed has never been read"
    );
    assert_eq!(order_feed.position().await.unwrap(), 0);
    assert_eq!(w.commissions().await["entries"], json!([]));

    assert_eq!(member_feed.catch_up().await.unwrap(), 2);
    assert_eq!(
        order_feed.catch_up().await.unwrap(),
        3,
        "o7 credits the guide; o8 (no guide) credits nobody and holds nothing up"
    );
    let c = w.commissions().await;
    assert_eq!(
        c["pendingFen"], 200,
        "2% of o7's 10,000 fen, and nothing of o8"
    );
    assert_eq!(c["entries"].as_array().unwrap().len(), 1);
    assert!(
        c["entries"][0]["windowClosesAt"].is_string(),
        "o7's fulfilment, behind it in the feed, applied after it"
    );

    // An unbound member's order newer than the member feed's last read
    // waits again; a bound member's does not. o9 is stamped by a clock 2 s
    // ahead of ours, so the wait below does not depend on how fast this
    // test runs (the margin's edges are unit tested).
    w.members
        .publish(&registered("m9", None, w.store.now()))
        .await;
    let mut ahead = placed(
        "o9",
        Some("m9"),
        vec![line("l1", "apparel", 500)],
        w.store.now(),
    );
    ahead.placed_at = w.store.now() + Duration::seconds(2);
    w.orders.publish(&ahead).await;
    w.relay(transport).await;
    assert_eq!(order_feed.catch_up().await.unwrap(), 0, "o9 waits for m9");
    assert_eq!(member_feed.catch_up().await.unwrap(), 1);
    assert_eq!(
        order_feed.catch_up().await.unwrap(),
        0,
        "read just now, but not past o9's time plus the clock margin"
    );
    w.orders
        .publish(&placed(
            "o10",
            Some("m7"),
            vec![line("l1", "apparel", 1_000)],
            w.store.now(),
        ))
        .await;
    let settled = ahead.placed_at + Duration::milliseconds(1_100) - w.store.now();
    tokio::time::sleep(settled.to_std().unwrap_or_default()).await;
    w.relay(transport).await;
    assert_eq!(member_feed.catch_up().await.unwrap(), 0);
    assert_eq!(order_feed.catch_up().await.unwrap(), 2, "o9, then o10");
    assert_eq!(w.commissions().await["pendingFen"], 220);
}

/// A member orders, then is merged into another member (a duplicate found
/// later); the store reads the merge before the order. The order was placed
/// under the merged id's binding, so it still credits that guide.
#[tokio::test]
async fn an_order_read_after_its_member_was_merged_away_credits_the_guide_it_had() {
    let w = world().await;
    let earlier = w.store.now() - Duration::seconds(5);
    w.members
        .publish(&registered("m20", Some(w.code.as_str()), earlier))
        .await;
    w.members.publish(&registered("m21", None, earlier)).await;
    let mut by_merged = placed(
        "o20",
        Some("m20"),
        vec![line("l1", "apparel", 10_000)],
        w.store.now(),
    );
    by_merged.placed_at = earlier;
    w.orders.publish(&by_merged).await;
    w.members
        .publish(&MemberMerged {
            survivor_id: "m21".into(),
            merged_id: "m20".into(),
            merged_at: w.store.now(),
        })
        .await;

    let (member_feed, order_feed) = w.both_feeds(&Transport::Http);
    assert_eq!(member_feed.catch_up().await.unwrap(), 3);
    assert_eq!(order_feed.catch_up().await.unwrap(), 1);
    let c = w.commissions().await;
    assert_eq!(c["pendingFen"], 200, "2% of o20, to m20's guide: {c}");
    assert_eq!(c["entries"].as_array().map(Vec::len), Some(1), "{c}");

    // The guide lists the survivor, who took the binding, and not m20.
    let q = "query($g: ID!) { guide(id: $g) { members { edges { node { member { id } } } } } }";
    let r = w
        .store
        .graphql(Some(&w.store.operator_token()), q, json!({ "g": w.guide }))
        .await;
    let listed: Vec<&str> = r.ok()["guide"]["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["member"]["id"].as_str())
        .collect();
    assert!(
        listed.contains(&"m21") && !listed.contains(&"m20"),
        "{listed:?}"
    );

    // Once that guide has left, a later-read order of m20 credits nobody:
    // departure moved the live bindings, and the merged record must agree.
    let depart = "mutation($g: ID!) { departGuide(guideId: $g) { status } }";
    let r = w
        .store
        .graphql(
            Some(&w.store.operator_token()),
            depart,
            json!({ "g": w.guide }),
        )
        .await;
    assert_eq!(r.ok()["departGuide"]["status"], "DEPARTED");
    let mut late = placed(
        "o21",
        Some("m20"),
        vec![line("l1", "apparel", 5_000)],
        w.store.now(),
    );
    late.placed_at = earlier;
    w.orders.publish(&late).await;
    assert_eq!(order_feed.catch_up().await.unwrap(), 1);
    let c = w.commissions().await;
    assert_eq!(
        c["entries"].as_array().map(Vec::len),
        Some(1),
        "nothing for o21: {c}"
    );
}

#[tokio::test]
async fn a_cancelled_order_owes_nothing_and_franchises_pay_their_rate() {
    let w = world().await;
    w.orders
        .publish(&placed(
            "o2",
            Some("m1"),
            vec![line("l1", "apparel", 10_000)],
            w.store.now(),
        ))
        .await;
    w.orders
        .publish(&OrderCancelled {
            order_id: "o2".into(),
            member_id: Some("m1".into()),
            cancelled_at: w.store.now(),
        })
        .await;
    w.apply().await;
    let c = w.commissions().await;
    assert_eq!(c["entries"][0]["status"], "CANCELLED");
    assert_eq!(c["entries"][0]["amountFen"], 0);
    assert_eq!(c["pendingFen"], 0);

    let mut franchise = store_input("F", 31.2, 121.4);
    franchise["kind"] = json!("FRANCHISE");
    franchise["franchisee"] = json!("F Co.");
    let shop = create_store(&w.store, franchise).await;
    let (guide, code) = create_guide(&w.store, &shop, "Franchise guide").await;
    scan(&w.store, "m2", &code).await;
    w.orders
        .publish(&placed(
            "o3",
            Some("m2"),
            vec![line("l1", "apparel", 10_000)],
            w.store.now(),
        ))
        .await;
    w.apply().await;
    let q = "query($g: ID!, $p: PeriodInput!) { guide(id: $g) { commissions(period: $p, status: PENDING) { pendingFen } } }";
    let r = w
        .store
        .graphql(
            Some(&w.store.operator_token()),
            q,
            json!({ "g": guide, "p": period(&w.store) }),
        )
        .await;
    assert_eq!(
        r.ok()["guide"]["commissions"]["pendingFen"],
        500,
        "FRANCHISE 5%"
    );
}

#[tokio::test]
async fn who_may_read_commissions_and_bad_periods() {
    let w = world().await;
    let other_shop = create_store(&w.store, store_input("T", 31.3, 121.5)).await;
    let q = "query($g: ID!, $p: PeriodInput!) { guide(id: $g) { commissions(period: $p) { pendingFen } } }";
    let vars = json!({ "g": w.guide, "p": period(&w.store) });
    for token in [
        w.store
            .token(TokenRequest::staff(&w.guide, &w.shop, "apparel")),
        w.store
            .token(TokenRequest::staff("boss", &w.shop, "apparel")),
        w.store.operator_token(),
    ] {
        assert!(
            w.store
                .graphql(Some(&token), q, vars.clone())
                .await
                .errors()
                .is_empty()
        );
    }
    for token in [
        w.store
            .token(TokenRequest::staff("x", &other_shop, "apparel")),
        member_token(&w.store, "m1"),
    ] {
        assert_eq!(
            w.store
                .graphql(Some(&token), q, vars.clone())
                .await
                .error_code(),
            Some("FORBIDDEN")
        );
    }
    let statement = "query($s: ID!, $p: PeriodInput!) { storeCommissionStatement(storeId: $s, period: $p) { netFen } }";
    let other_staff = w
        .store
        .token(TokenRequest::staff("x", &other_shop, "apparel"));
    assert_eq!(
        w.store
            .graphql(
                Some(&other_staff),
                statement,
                json!({ "s": w.shop, "p": period(&w.store) })
            )
            .await
            .error_code(),
        Some("FORBIDDEN")
    );
    let now = w.store.now();
    let backwards =
        json!({ "from": now.to_rfc3339(), "to": (now - Duration::days(1)).to_rfc3339() });
    let r = w
        .store
        .graphql(
            Some(&w.store.operator_token()),
            statement,
            json!({ "s": w.shop, "p": backwards }),
        )
        .await;
    assert_eq!(r.error_field(), Some("period"));
    let rule = w
        .store
        .graphql(Some(&w.store.operator_token()), "mutation { setCommissionRule(brandId: \"apparel\", storeKind: DIRECT, basisPoints: 20000) { basisPoints } }", json!({}))
        .await;
    assert_eq!(rule.error_field(), Some("basisPoints"));
}
