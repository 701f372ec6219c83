//! Segments through the subgraph: defined by operators over tiers, tags,
//! channels, purchases, points and store bindings (the last three from the
//! order, points and store feeds, applied by this service's consumers), listed on demand, page by
//! page, and each member's membership checked one by one.

use std::collections::BTreeSet;

use chrono::Duration;
use futures::future::join_all;
use kit::config::Secret;
use kit::events::consumer::FeedConsumer;
use kit::events::schema::{
    BindingCause, BindingChanged, CouponClaimed, CouponGiven, CouponUsed, OrderCancelled,
    OrderLine, OrderPlaced, OrderRefunded, PointsPosted,
};
use kit::testing::{FEED_ONLY, GraphqlResponse, TestApp, TestDatabase, spawn_on};
use serde_json::{Value, json};

use crate::support::*;

struct World {
    app: TestApp,
    orders: TestApp,
    points: TestApp,
    stores: TestApp,
}

async fn world() -> World {
    let secret = Secret::new(kit::auth::random_secret());
    let clock = kit::testing::clock();
    let app = spawn_on(
        &member::SPEC,
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
    let points = spawn_on(
        &FEED_ONLY,
        TestDatabase::new().await,
        secret.clone(),
        clock.clone(),
    )
    .await;
    let stores = spawn_on(&FEED_ONLY, TestDatabase::new().await, secret, clock).await;
    World {
        app,
        orders,
        points,
        stores,
    }
}

impl World {
    async fn apply(&self) {
        FeedConsumer::new(
            member::events::ORDER_FEED,
            &self.orders.address,
            self.app.db().clone(),
            self.app.keys().clone(),
            self.app.clock().clone(),
            member::events::OrderFeed,
        )
        .catch_up()
        .await
        .unwrap();
        FeedConsumer::new(
            kit::revocation::alliance_feed("member"),
            &self.points.address,
            self.app.db().clone(),
            self.app.keys().clone(),
            self.app.clock().clone(),
            member::events::AllianceFeed,
        )
        .catch_up()
        .await
        .unwrap();
        FeedConsumer::new(
            member::events::STORE_FEED,
            &self.stores.address,
            self.app.db().clone(),
            self.app.keys().clone(),
            self.app.clock().clone(),
            member::events::StoreFeed,
        )
        .catch_up()
        .await
        .unwrap();
    }

    /// `member` bound to `store` (released: `None`) until `lapses_in_days`
    /// from now (never: `None`).
    async fn bind(&self, member: &str, store: Option<&str>, lapses_in_days: Option<i64>) {
        self.stores
            .publish(&BindingChanged {
                member_id: member.into(),
                store_id: store.map(Into::into),
                guide_id: store.map(|s| format!("guide-of-{s}")),
                brand_id: store.map(|_| "coffee".into()),
                cause: BindingCause::Scan,
                expires_at: lapses_in_days.map(|d| self.app.now() + Duration::days(d)),
                changed_at: self.app.now(),
            })
            .await;
    }

    async fn order(&self, order: &str, member: &str, paid: i64, days_ago: i64) {
        self.orders
            .publish(&OrderPlaced {
                order_id: order.into(),
                member_id: Some(member.into()),
                channel: kit::channel::Channel::App,
                store_id: None,
                fulfilment: "SHIP".into(),
                lines: vec![OrderLine {
                    line_id: format!("{order}-1"),
                    sku_id: "sku".into(),
                    brand_id: "coffee".into(),
                    quantity: 1,
                    unit_price_fen: paid,
                    amount_fen: paid,
                    source_location_id: None,
                    category_id: None,
                }],
                total_fen: paid,
                placed_at: self.app.now() - Duration::days(days_ago),
            })
            .await;
    }

    async fn balance(&self, member: &str, programme: &str, balance: i64) {
        self.points
            .publish(&PointsPosted {
                entry_id: kit::idempotency::new_id(),
                account_id: format!("{member}-{programme}"),
                programme_id: programme.into(),
                member_id: member.into(),
                kind: "EARN".into(),
                points: balance,
                pending_points: 0,
                balance_after: balance,
                pending_after: 0,
                reference: "test".into(),
                posted_at: self.app.now(),
            })
            .await;
    }
}

const CREATE: &str = "mutation($i: SegmentInput!, $k: String!) { createSegment(input: $i, idempotencyKey: $k) { id name tiers tags channels purchasedWithinDays notPurchasedWithinDays minSpendFen spendWithinDays pointsProgrammeId minPoints boundStoreIds } }";

async fn create(app: &TestApp, input: Value, key: &str) -> GraphqlResponse {
    app.graphql(
        Some(&operator(app)),
        CREATE,
        json!({ "i": input, "k": format!("segment-{key}") }),
    )
    .await
}

/// Every member of the segment, page by page (`first` each).
async fn members_of(app: &TestApp, segment: &str, first: i32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let r = app
            .graphql(
                Some(&operator(app)),
                "query($s: ID!, $f: Int!, $a: String) { segment(id: $s) { members(first: $f, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }",
                json!({ "s": segment, "f": first, "a": after }),
            )
            .await;
        let page = r.ok()["segment"]["members"].clone();
        ids.extend(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return ids;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}

#[tokio::test]
async fn segments_hold_the_members_every_rule_holds_for_page_by_page() {
    let w = world().await;
    let app = &w.app;
    let op = operator(app);
    // Six members: a..f.
    let mut m = Vec::new();
    for (i, name) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        m.push(
            register_member(
                app,
                &format!("seg-{name}"),
                Some(&format!("139 0000 000{i}")),
                "coffee",
            )
            .await,
        );
    }
    for (who, tier) in [(0, "GOLD"), (1, "GOLD"), (2, "SILVER")] {
        let r = app
            .graphql(
                Some(&op),
                "mutation($m: ID!, $t: String!) { setMemberTier(memberId: $m, tier: $t, reason: \"test\") { tier } }",
                json!({ "m": m[who], "t": tier }),
            )
            .await;
        assert_eq!(r.ok()["setMemberTier"]["tier"], tier);
    }
    for who in [0, 2, 3] {
        app.graphql(
            Some(&op),
            "mutation($m: ID!) { addTags(memberId: $m, tags: [\"coffee-lover\"]) { id } }",
            json!({ "m": m[who] }),
        )
        .await
        .ok();
    }
    app.graphql(
        Some(&member_token(app, &m[4])),
        "mutation($m: ID!) { linkIdentity(memberId: $m, identity: { channel: WECHAT_MINI_PROGRAM, externalId: \"wx-seg-e\", brandId: \"coffee\" }) { outcome } }",
        json!({ "m": m[4] }),
    )
    .await
    .ok();
    // Purchases: a 300 yuan 3 days ago; b 100 yuan 40 days ago; c 500
    // yuan 2 days ago, then cancelled; d 800 yuan yesterday, 500 of it
    // refunded. Points: e 500 Beans, f 50.
    w.order("o-a", &m[0], 30_000, 3).await;
    w.order("o-b", &m[1], 10_000, 40).await;
    w.order("o-c", &m[2], 50_000, 2).await;
    w.orders
        .publish(&OrderCancelled {
            order_id: "o-c".into(),
            member_id: Some(m[2].clone()),
            cancelled_at: app.now(),
        })
        .await;
    w.order("o-d", &m[3], 80_000, 1).await;
    w.orders
        .publish(&OrderRefunded {
            order_id: "o-d".into(),
            refund_id: "r-d".into(),
            member_id: Some(m[3].clone()),
            lines: vec![],
            amount_fen: 50_000,
            fully_refunded: false,
            refunded_at: app.now(),
        })
        .await;
    w.balance(&m[4], "coffee-points", 500).await;
    w.balance(&m[5], "coffee-points", 50).await;
    // Bindings: a to store-1 for 30 days; b to store-2, lapsed yesterday;
    // c to store-1, then released; d to store-1 for good; e to store-1,
    // then moved to store-2.
    w.bind(&m[0], Some("store-1"), Some(30)).await;
    w.bind(&m[1], Some("store-2"), Some(-1)).await;
    w.bind(&m[2], Some("store-1"), None).await;
    w.bind(&m[2], None, None).await;
    w.bind(&m[3], Some("store-1"), None).await;
    w.bind(&m[4], Some("store-1"), None).await;
    w.bind(&m[4], Some("store-2"), Some(30)).await;
    w.apply().await;
    // Applying the feeds again changes nothing.
    w.apply().await;

    let cases: Vec<(Value, Vec<usize>)> = vec![
        (json!({ "tiers": ["GOLD"] }), vec![0, 1]),
        (json!({ "tags": ["coffee-lover"] }), vec![0, 2, 3]),
        (
            json!({ "tiers": ["GOLD", "SILVER"], "tags": ["coffee-lover"] }),
            vec![0, 2],
        ),
        (json!({ "channels": ["WECHAT_MINI_PROGRAM"] }), vec![4]),
        (json!({ "purchasedWithinDays": 7 }), vec![0, 3]),
        (json!({ "purchasedWithinDays": 60 }), vec![0, 1, 3]),
        (
            json!({ "notPurchasedWithinDays": 30, "tags": ["coffee-lover"] }),
            vec![2],
        ),
        (json!({ "minSpendFen": 30_000 }), vec![0, 3]),
        (
            json!({ "minSpendFen": 30_001, "spendWithinDays": 30 }),
            vec![],
        ),
        (
            json!({ "minSpendFen": 10_000, "spendWithinDays": 60 }),
            vec![0, 1, 3],
        ),
        (
            json!({ "pointsProgrammeId": "coffee-points", "minPoints": 100 }),
            vec![4],
        ),
        (json!({ "boundStoreIds": ["store-1"] }), vec![0, 3]),
        (json!({ "boundStoreIds": ["store-2"] }), vec![4]),
        (
            json!({ "boundStoreIds": ["store-1", "store-2"], "tags": ["coffee-lover"] }),
            vec![0, 3],
        ),
    ];
    for (n, (rules, expected)) in cases.into_iter().enumerate() {
        let mut input = rules.clone();
        input["name"] = json!(format!("case {n}"));
        let made = create(app, input, &format!("case-{n}")).await;
        let id = made.ok()["createSegment"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let want: BTreeSet<String> = expected.iter().map(|i| m[*i].clone()).collect();
        // Page by page, two at a time: every member once, in id order.
        let listed = members_of(app, &id, 2).await;
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted, "{rules}: in id order");
        let got: BTreeSet<String> = listed.iter().cloned().collect();
        assert_eq!(got.len(), listed.len(), "{rules}: no member twice");
        assert_eq!(got, want, "{rules}");
        for (i, member) in m.iter().enumerate() {
            let r = app
                .graphql(
                    Some(&op),
                    "query($s: ID!, $m: ID!) { segment(id: $s) { includes(memberId: $m) } }",
                    json!({ "s": id, "m": member }),
                )
                .await;
            assert_eq!(
                r.ok()["segment"]["includes"],
                want.contains(member),
                "{rules}: member {i}"
            );
        }
    }

    // A merge moves purchases to the survivor.
    let recent = create(
        app,
        json!({ "name": "recent", "purchasedWithinDays": 7 }),
        "recent-merge",
    )
    .await;
    let recent = recent.ok()["createSegment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.graphql(
        Some(&op),
        "mutation($s: ID!, $m: ID!) { mergeMembers(survivorId: $s, mergedId: $m, reason: \"same person\") { id } }",
        json!({ "s": m[5], "m": m[0] }),
    )
    .await
    .ok();
    let after_merge: BTreeSet<String> = members_of(app, &recent, 20).await.into_iter().collect();
    assert_eq!(after_merge, [m[3].clone(), m[5].clone()].into());
    // The merged id speaks for its survivor.
    let merged = app
        .graphql(
            Some(&op),
            "query($s: ID!, $m: ID!) { segment(id: $s) { includes(memberId: $m) } }",
            json!({ "s": recent, "m": m[0] }),
        )
        .await;
    assert_eq!(merged.ok()["segment"]["includes"], true);
}

#[tokio::test]
async fn segment_input_and_access_are_checked_and_identical_creations_make_one() {
    let w = world().await;
    let app = &w.app;
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "name": "none" }), "rules"),
        (json!({ "name": " ", "tiers": ["GOLD"] }), "name"),
        (json!({ "name": "x", "tiers": ["gold"] }), "tiers"),
        (json!({ "name": "x", "tags": ["two words"] }), "tags"),
        (
            json!({ "name": "x", "purchasedWithinDays": 0 }),
            "purchasedWithinDays",
        ),
        (
            json!({ "name": "x", "notPurchasedWithinDays": 4000 }),
            "notPurchasedWithinDays",
        ),
        (json!({ "name": "x", "minSpendFen": 0 }), "minSpendFen"),
        (
            json!({ "name": "x", "spendWithinDays": 30 }),
            "spendWithinDays",
        ),
        (json!({ "name": "x", "minPoints": 10 }), "minPoints"),
        (
            json!({ "name": "x", "pointsProgrammeId": "coffee-points", "minPoints": 0 }),
            "minPoints",
        ),
    ];
    for (n, (input, field)) in cases.into_iter().enumerate() {
        let r = create(app, input.clone(), &format!("bad-{n}")).await;
        assert_eq!(r.error_code(), Some("BAD_USER_INPUT"), "{input}");
        assert_eq!(r.error_field(), Some(field), "{input}");
    }
    for token in [
        member_token(app, "m1"),
        staff_token(app, "coffee"),
        partner_token(app, "coffee"),
    ] {
        let r = app
            .graphql(
                Some(&token),
                CREATE,
                json!({ "i": { "name": "x", "tiers": ["GOLD"] }, "k": "segment-refused" }),
            )
            .await;
        assert_eq!(r.error_code(), Some("FORBIDDEN"), "{:?}", r.errors());
        let r = app
            .graphql(
                Some(&token),
                "{ segments { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert_eq!(r.error_code(), Some("FORBIDDEN"));
    }
    let input = json!({ "name": "gold", "tiers": ["GOLD"] });
    let answers = join_all((0..8).map(|_| create(app, input.clone(), "same"))).await;
    let ids: BTreeSet<String> = answers
        .iter()
        .map(|r| r.ok()["createSegment"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
    let listed = app
        .graphql(
            Some(&operator(app)),
            "{ segments { edges { node { id name tiers } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed.ok()["segments"]["edges"],
        json!([{ "node": { "id": ids.iter().next().unwrap(), "name": "gold", "tiers": ["GOLD"] } }])
    );
    let r = app
        .graphql(
            Some(&operator(app)),
            "{ segment(id: \"no-such\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.error_code(), Some("NOT_FOUND"));
}

/// What members do with coupons (the product service's feed) becomes
/// their touchpoints, once each however often the feed is read: a claim,
/// a gift (for both members) and a use (at the order's store). A merged
/// member's go to the survivor; an erased member, or an id no member has,
/// gets none.
#[tokio::test]
async fn coupons_claimed_given_and_used_become_touchpoints_once() {
    let w = world().await;
    let app = &w.app;
    let op = operator(app);
    let a = register_member(app, "tp-a", Some("139 0000 0101"), "coffee").await;
    let b = register_member(app, "tp-b", Some("139 0000 0102"), "coffee").await;
    let gone = register_member(app, "tp-c", Some("139 0000 0103"), "coffee").await;
    let merged = register_member(app, "tp-d", Some("139 0000 0104"), "coffee").await;
    app.graphql(
        Some(&op),
        "mutation($s: ID!, $m: ID!) { mergeMembers(survivorId: $s, mergedId: $m, reason: \"same person\") { id } }",
        json!({ "s": a, "m": merged }),
    )
    .await
    .ok();
    app.graphql(
        Some(&op),
        "mutation($id: ID!) { eraseMember(memberId: $id) { id } }",
        json!({ "id": gone }),
    )
    .await
    .ok();
    let erased_rows =
        kit::testing::rows_naming_members(app.db(), std::slice::from_ref(&gone)).await;
    let at = app.now() - Duration::hours(1);
    let claimed = |member: &str, coupon: &str| CouponClaimed {
        coupon_id: coupon.into(),
        member_id: member.into(),
        brand_id: "coffee".into(),
        channel: kit::channel::Channel::WechatMiniProgram,
        claimed_at: at,
    };
    w.orders.publish(&claimed(&a, "c-1")).await;
    w.orders.publish(&claimed(&gone, "c-2")).await;
    w.orders.publish(&claimed("no-such-member", "c-3")).await;
    w.orders
        .publish(&CouponGiven {
            coupon_id: "c-4".into(),
            from_member_id: a.clone(),
            to_member_id: b.clone(),
            brand_id: "coffee".into(),
            channel: kit::channel::Channel::App,
            given_at: at,
        })
        .await;
    w.orders
        .publish(&CouponUsed {
            coupon_id: "c-5".into(),
            member_id: merged.clone(),
            brand_id: "coffee".into(),
            order_id: "o-5".into(),
            channel: kit::channel::Channel::StorePos,
            store_id: Some("store-7".into()),
            used_at: at,
        })
        .await;
    w.apply().await;
    w.apply().await;

    let timeline = |member: String| async move {
        let r = app
            .graphql(
                Some(&operator(app)),
                "query($m: ID!) { member(id: $m) { timeline(first: 50, kinds: [COUPON_CLAIMED, COUPON_SHARED, COUPON_USED]) { edges { node { kind channel storeId attributes } } } } }",
                json!({ "m": member }),
            )
            .await;
        let mut nodes: Vec<Value> = r.ok()["member"]["timeline"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect();
        nodes.sort_by_key(|n| n["kind"].as_str().unwrap().to_owned());
        nodes
    };
    assert_eq!(
        timeline(a.clone()).await,
        [
            json!({ "kind": "COUPON_CLAIMED", "channel": "WECHAT_MINI_PROGRAM", "storeId": null,
                    "attributes": { "couponId": "c-1", "brandId": "coffee" } }),
            json!({ "kind": "COUPON_SHARED", "channel": "APP", "storeId": null,
                    "attributes": { "couponId": "c-4", "brandId": "coffee", "toMemberId": b } }),
            json!({ "kind": "COUPON_USED", "channel": "STORE_POS", "storeId": "store-7",
                    "attributes": { "couponId": "c-5", "brandId": "coffee", "orderId": "o-5" } }),
        ]
    );
    assert_eq!(
        timeline(b.clone()).await,
        [
            json!({ "kind": "COUPON_SHARED", "channel": "APP", "storeId": null,
                    "attributes": { "couponId": "c-4", "brandId": "coffee", "fromMemberId": a } }),
        ]
    );
    assert_eq!(
        kit::testing::rows_naming_members(app.db(), std::slice::from_ref(&gone)).await,
        erased_rows,
        "an erased member gets no touchpoint"
    );
}
