//! Coupons through the subgraph: issued from the alliance's redeemed
//! rewards, put on orders (the discount on the order and its lines, the
//! coupon held with the stock in one transaction), released by a
//! cancellation, spent on hand-over, given, claimed, voided, expired; and
//! never used twice, even by two channels at the same moment.

use std::collections::BTreeMap;

use chrono::Duration;
use futures::future::join_all;
use kit::config::Secret;
use kit::events::consumer::FeedConsumer;
use kit::events::schema::{CouponBenefit, CouponTerms, IssuedCoupon, RewardRedeemed};
use kit::testing::{FEED_ONLY, GraphqlResponse, TestApp, TestDatabase, spawn_on};
use serde_json::{Value, json};

use crate::support::*;

/// The product service, and a stand-in for the alliance's feed.
struct Shop {
    app: TestApp,
    alliance: TestApp,
}

async fn shop() -> Shop {
    let secret = Secret::new(kit::auth::random_secret());
    let clock = kit::testing::clock();
    let app = spawn_on(
        &product::SPEC,
        TestDatabase::new().await,
        secret.clone(),
        clock.clone(),
    )
    .await;
    let alliance = spawn_on(&FEED_ONLY, TestDatabase::new().await, secret, clock).await;
    locations(&app).await;
    Shop { app, alliance }
}

impl Shop {
    fn reader(&self, name: &str) -> FeedConsumer<product::events::AllianceFeed> {
        FeedConsumer::new(
            name,
            &self.alliance.address,
            self.app.db().clone(),
            self.app.keys().clone(),
            self.app.clock().clone(),
            product::events::AllianceFeed,
        )
    }

    /// Redeems (as the alliance would) a coupon for `member`; returns its
    /// code once the product service has issued it.
    async fn issue(&self, member: &str, terms: CouponTerms) -> String {
        let now = self.app.now();
        let code = product::store::coupons::normalise_code(&format!(
            "TEST{:04}{}",
            rand::random::<u16>(),
            member.to_uppercase()
        ));
        self.alliance
            .publish(&RewardRedeemed {
                redemption_id: format!("redemption-{code}"),
                reward_id: "reward-1".into(),
                programme_id: "coffee-points".into(),
                brand_id: "coffee".into(),
                member_id: member.into(),
                points: 100,
                coupon: Some(IssuedCoupon {
                    coupon_id: format!("coupon-{code}"),
                    code: code.clone(),
                    brand_id: "coffee".into(),
                    terms,
                    valid_from: now,
                    valid_until: now + Duration::days(30),
                }),
                redeemed_at: now,
            })
            .await;
        self.reader(&kit::revocation::alliance_feed("product"))
            .catch_up()
            .await
            .unwrap();
        code
    }
}

fn amount_off(fen: i64, min_spend_fen: i64, categories: &[&str]) -> CouponTerms {
    CouponTerms {
        benefit: CouponBenefit::AmountOff { amount_fen: fen },
        min_spend_fen,
        brand_ids: vec![],
        sku_ids: vec![],
        category_ids: categories.iter().map(|c| c.to_string()).collect(),
        valid_days: 30,
        restore_on_refund: false,
    }
}

/// A coffee product in `category` with one SKU, stocked at store A.
async fn coffee(app: &TestApp, name: &str, category: &str, price: i64) -> String {
    let p = op(
        app,
        "mutation($i: ProductInput!) { createProduct(input: $i) { id } }",
        json!({ "i": { "brandId": "coffee", "name": name, "category": category } }),
    )
    .await;
    let pid = p["createProduct"]["id"].as_str().unwrap().to_owned();
    let s = op(app, "mutation($p: ID!, $i: SkuInput!) { addSku(productId: $p, input: $i) { id } }", json!({ "p": pid, "i": { "listPriceFen": price, "attributes": [{ "name": "size", "value": "250g" }] } })).await;
    let sku = s["addSku"]["id"].as_str().unwrap().to_owned();
    receive(app, &sku, "store-a", 50).await;
    sku
}

const PLACE_WITH_COUPON: &str = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id status totalFen discountFen couponId lines { skuId amountFen discountFen } } }";

async fn pickup(app: &TestApp, token: &str, lines: Value, coupon: Option<&str>) -> GraphqlResponse {
    app.graphql(
        Some(token),
        PLACE_WITH_COUPON,
        json!({ "i": { "channel": "APP", "storeId": "store-a", "fulfilment": "PICKUP_IN_STORE", "lines": lines, "couponCode": coupon, "idempotencyKey": key() } }),
    )
    .await
}

const WALLET: &str = "query($r: [_Any!]!, $s: CouponState) { _entities(representations: $r) { ... on Member { coupons(state: $s) { edges { node { id code state kind amountOffFen orderId givenByMemberId memberId } } } } } }";

async fn wallet(app: &TestApp, member_id: &str, state: Option<&str>) -> Vec<Value> {
    let r = app
        .graphql(
            Some(&member(app, member_id)),
            WALLET,
            json!({ "r": [{ "__typename": "Member", "id": member_id }], "s": state }),
        )
        .await;
    r.ok()["_entities"][0]["coupons"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

async fn coupon_state(app: &TestApp, member_id: &str, code: &str) -> Value {
    wallet(app, member_id, None)
        .await
        .into_iter()
        .find(|c| c["code"] == code)
        .map(|c| c["state"].clone())
        .unwrap_or(Value::Null)
}

/// The payloads of the events of type `kind` on the service's feed.
async fn published(app: &TestApp, kind: &str) -> Vec<Value> {
    let feed: Value = app
        .get("/events?after=0&limit=1000")
        .bearer_auth(app.operator_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .map(|e| e["payload"].clone())
        .collect()
}

#[tokio::test]
async fn a_coupon_takes_its_share_off_its_lines_is_held_by_the_order_and_released_on_cancel() {
    let s = shop().await;
    let app = &s.app;
    let beans = coffee(app, "Beans", "coffee/beans", 3_000).await;
    let cup = coffee(app, "Latte", "coffee/drinks", 1_000).await;
    let code = s
        .issue("m1", amount_off(500, 3_000, &["coffee/beans"]))
        .await;
    let held = wallet(app, "m1", None).await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["state"], "ISSUED");
    assert_eq!(held[0]["kind"], "AMOUNT_OFF");
    // A replayed feed issues nothing twice.
    s.reader("product:amnesiac").catch_up().await.unwrap();
    assert_eq!(wallet(app, "m1", None).await.len(), 1);

    let m1 = member(app, "m1");
    let both = json!([{ "skuId": beans, "quantity": 1 }, { "skuId": cup, "quantity": 1 }]);
    // Typed in lower case, spaces for dashes: the same code.
    let typed = format!("  {}  ", code.replace('-', " ").to_lowercase());
    let r = pickup(app, &m1, both.clone(), Some(&typed)).await;
    let order = r.ok()["placeOrder"].clone();
    assert_eq!(order["totalFen"], 3_500);
    assert_eq!(order["discountFen"], 500);
    assert_eq!(order["couponId"], held[0]["id"]);
    let by_sku: BTreeMap<String, (i64, i64)> = order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["skuId"].as_str().unwrap().to_owned(),
                (
                    l["amountFen"].as_i64().unwrap(),
                    l["discountFen"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(by_sku[&beans], (2_500, 500), "only the beans line takes it");
    assert_eq!(by_sku[&cup], (1_000, 0));
    assert_eq!(coupon_state(app, "m1", &code).await, "RESERVED");

    // Held: another order cannot have it, and reserves nothing trying.
    let before = stock(app, &cup, "store-a").await;
    let again = pickup(app, &m1, both.clone(), Some(&code)).await;
    assert_eq!(again.error_code(), Some("CONFLICT"));
    assert_eq!(stock(app, &cup, "store-a").await, before);

    // The order's event says what was paid: points are earned on it.
    let feed: Value = app
        .get("/events?limit=100")
        .bearer_auth(app.operator_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let placed = &feed["events"][0]["payload"];
    assert_eq!(placed["totalFen"], 3_500);
    let paid: i64 = placed["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amountFen"].as_i64().unwrap())
        .sum();
    assert_eq!(paid, 3_500);

    // Cancelled: the coupon is the member's again, and the stock is back.
    let order_id = order["id"].as_str().unwrap();
    let cancelled = app
        .graphql(
            Some(&m1),
            "mutation($o: ID!) { cancelOrder(orderId: $o) { status } }",
            json!({ "o": order_id }),
        )
        .await;
    assert_eq!(cancelled.ok()["cancelOrder"]["status"], "CANCELLED");
    assert_eq!(coupon_state(app, "m1", &code).await, "CLAIMED");
    assert_eq!(stock(app, &beans, "store-a").await, (50, 0));

    // Used on the next order, and spent once it is handed over; a full
    // refund does not give it back (its brand did not say so).
    // Read out with no separators at all: the same code.
    let run_together = code.replace('-', "");
    let r = pickup(
        app,
        &m1,
        json!([{ "skuId": beans, "quantity": 2 }]),
        Some(&run_together),
    )
    .await;
    let second = r.ok()["placeOrder"].clone();
    assert_eq!(second["totalFen"], 5_500);
    let second_id = second["id"].as_str().unwrap();
    op(
        app,
        "mutation($o: ID!) { fulfilOrder(orderId: $o) { status } }",
        json!({ "o": second_id }),
    )
    .await;
    assert_eq!(coupon_state(app, "m1", &code).await, "USED");
    // Spent: published once, with the order's channel and store.
    let used = published(app, "CouponUsed").await;
    assert_eq!(used.len(), 1, "{used:?}");
    assert_eq!(used[0]["orderId"], second_id);
    assert_eq!(used[0]["memberId"], "m1");
    assert_eq!(used[0]["brandId"], "coffee");
    assert_eq!(used[0]["channel"], "APP");
    assert!(used[0]["storeId"].is_string(), "{used:?}");
    let line = op(
        app,
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { lines { id } } } }",
        json!({ "r": [{ "__typename": "Order", "id": second_id }] }),
    )
    .await;
    let line_id = line["_entities"][0]["lines"][0]["id"].clone();
    let refunded = op(
        app,
        "mutation($o: ID!, $l: [RefundLineInput!]!, $k: String!) { refundOrder(orderId: $o, lines: $l, idempotencyKey: $k) { status refundedFen } }",
        json!({ "o": second_id, "l": [{ "lineId": line_id, "quantity": 2 }], "k": key() }),
    )
    .await;
    assert_eq!(refunded["refundOrder"]["status"], "REFUNDED");
    assert_eq!(
        refunded["refundOrder"]["refundedFen"], 5_500,
        "what was paid, not the list price"
    );
    assert_eq!(coupon_state(app, "m1", &code).await, "USED");

    // Another member's coupon, an unknown code, too small an order.
    let other = s
        .issue("m2", amount_off(500, 3_000, &["coffee/beans"]))
        .await;
    let r = pickup(app, &m1, both.clone(), Some(&other)).await;
    assert_eq!(r.error_code(), Some("FORBIDDEN"));
    let r = pickup(app, &m1, both.clone(), Some("NO-SUCH-CODE")).await;
    assert_eq!(r.error_code(), Some("NOT_FOUND"));
    for blank in ["", "   ", "- -"] {
        let r = pickup(app, &m1, both.clone(), Some(blank)).await;
        assert_eq!(r.error_code(), Some("BAD_USER_INPUT"), "{blank:?}");
        assert_eq!(r.error_field(), Some("couponCode"));
    }
    let r = pickup(
        app,
        &member(app, "m2"),
        json!([{ "skuId": cup, "quantity": 1 }]),
        Some(&other),
    )
    .await;
    assert_eq!(r.error_code(), Some("BAD_USER_INPUT"));
    assert_eq!(r.error_field(), Some("couponCode"));
    assert_eq!(
        coupon_state(app, "m2", &other).await,
        "ISSUED",
        "a refused order holds nothing"
    );
}

#[tokio::test]
async fn coupons_are_given_claimed_voided_and_expire() {
    let s = shop().await;
    let app = &s.app;
    let beans = coffee(app, "Beans", "coffee/beans", 3_000).await;
    let code = s.issue("m1", amount_off(500, 0, &[])).await;
    let id = wallet(app, "m1", None).await[0]["id"].clone();
    let give = "mutation($c: ID!, $to: ID!) { giveCoupon(couponId: $c, toMemberId: $to) { memberId state givenByMemberId } }";
    let claim =
        "mutation($c: ID!) { claimCoupon(couponId: $c, channel: WECHAT_MINI_PROGRAM) { state } }";
    let void = "mutation($c: ID!) { voidCoupon(couponId: $c) { state } }";

    let r = app
        .graphql(
            Some(&member(app, "m1")),
            give,
            json!({ "c": id, "to": "m1" }),
        )
        .await;
    assert_eq!(r.error_code(), Some("BAD_USER_INPUT"));
    let r = app
        .graphql(
            Some(&member(app, "m1")),
            give,
            json!({ "c": id, "to": "m2" }),
        )
        .await;
    assert_eq!(
        r.ok()["giveCoupon"],
        json!({ "memberId": "m2", "state": "ISSUED", "givenByMemberId": "m1" })
    );
    // A retry of the gift answers it as made.
    let again = app
        .graphql(
            Some(&member(app, "m1")),
            give,
            json!({ "c": id, "to": "m2" }),
        )
        .await;
    assert_eq!(again.ok()["giveCoupon"], r.ok()["giveCoupon"]);
    // Someone else's coupon, even "to themselves": not theirs to give.
    let theirs = app
        .graphql(
            Some(&member(app, "m3")),
            give,
            json!({ "c": id, "to": "m3" }),
        )
        .await;
    assert_eq!(theirs.error_code(), Some("FORBIDDEN"));
    assert!(wallet(app, "m1", None).await.is_empty());
    let r = app
        .graphql(
            Some(&member(app, "m1")),
            give,
            json!({ "c": id, "to": "m3" }),
        )
        .await;
    assert_eq!(r.error_code(), Some("FORBIDDEN"), "no longer theirs");
    let r = app
        .graphql(Some(&member(app, "m2")), claim, json!({ "c": id }))
        .await;
    assert_eq!(r.ok()["claimCoupon"]["state"], "CLAIMED");
    let again = app
        .graphql(Some(&member(app, "m2")), claim, json!({ "c": id }))
        .await;
    assert_eq!(again.ok()["claimCoupon"]["state"], "CLAIMED");
    // The gift and the claim were published once each (retries and
    // refusals publish nothing), for the member service's touchpoints.
    let given = published(app, "CouponGiven").await;
    assert_eq!(given.len(), 1, "{given:?}");
    assert_eq!(
        (
            &given[0]["couponId"],
            &given[0]["fromMemberId"],
            &given[0]["toMemberId"],
            &given[0]["channel"]
        ),
        (&id, &json!("m1"), &json!("m2"), &json!("APP"))
    );
    let claimed = published(app, "CouponClaimed").await;
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!(claimed[0]["memberId"], "m2");
    assert_eq!(claimed[0]["channel"], "WECHAT_MINI_PROGRAM");
    let r = app
        .graphql(
            Some(&member(app, "m2")),
            give,
            json!({ "c": id, "to": "m3" }),
        )
        .await;
    assert_eq!(r.error_code(), Some("CONFLICT"), "a claimed coupon stays");

    // Voided by its brand's partner (not another brand's, not a member).
    for token in [
        app.token(kit::auth::TokenRequest::partner("cli-cinema", "cinema")),
        member(app, "m2"),
    ] {
        let r = app.graphql(Some(&token), void, json!({ "c": id })).await;
        assert_eq!(r.error_code(), Some("FORBIDDEN"));
    }
    let partner = app.token(kit::auth::TokenRequest::partner_scoped(
        "cli-coffee",
        "coffee",
        kit::auth::Scopes::parse_list("manage_rewards").unwrap(),
    ));
    let r = app.graphql(Some(&partner), void, json!({ "c": id })).await;
    assert_eq!(r.ok()["voidCoupon"]["state"], "VOIDED");
    let r = pickup(
        app,
        &member(app, "m2"),
        json!([{ "skuId": beans, "quantity": 1 }]),
        Some(&code),
    )
    .await;
    assert_eq!(r.error_code(), Some("CONFLICT"));

    // Past its last day: EXPIRED, listed so, and refused.
    let late = s.issue("m4", amount_off(500, 0, &[])).await;
    app.clock().advance(Duration::days(31));
    assert_eq!(coupon_state(app, "m4", &late).await, "EXPIRED");
    assert_eq!(wallet(app, "m4", Some("EXPIRED")).await.len(), 1);
    assert!(wallet(app, "m4", Some("ISSUED")).await.is_empty());
    let r = pickup(
        app,
        &member(app, "m4"),
        json!([{ "skuId": beans, "quantity": 1 }]),
        Some(&late),
    )
    .await;
    assert_eq!(r.error_code(), Some("CONFLICT"));
}

#[tokio::test]
async fn a_brand_that_says_so_gets_its_coupon_back_on_a_full_refund() {
    let s = shop().await;
    let app = &s.app;
    let beans = coffee(app, "Beans", "coffee/beans", 3_000).await;
    let mut terms = amount_off(500, 0, &[]);
    terms.restore_on_refund = true;
    let code = s.issue("m1", terms).await;
    let r = pickup(
        app,
        &member(app, "m1"),
        json!([{ "skuId": beans, "quantity": 1 }]),
        Some(&code),
    )
    .await;
    let order_id = r.ok()["placeOrder"]["id"].as_str().unwrap().to_owned();
    op(
        app,
        "mutation($o: ID!) { fulfilOrder(orderId: $o) { status } }",
        json!({ "o": order_id }),
    )
    .await;
    let line = op(
        app,
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { lines { id } } } }",
        json!({ "r": [{ "__typename": "Order", "id": order_id }] }),
    )
    .await;
    let refunded = op(
        app,
        "mutation($o: ID!, $l: [RefundLineInput!]!, $k: String!) { refundOrder(orderId: $o, lines: $l, idempotencyKey: $k) { status refundedFen } }",
        json!({ "o": order_id, "l": [{ "lineId": line["_entities"][0]["lines"][0]["id"], "quantity": 1 }], "k": key() }),
    )
    .await;
    assert_eq!(refunded["refundOrder"]["refundedFen"], 2_500);
    assert_eq!(coupon_state(app, "m1", &code).await, "CLAIMED");
}

/// One coupon, two channels at once (the member's app and the till), ten
/// times over: exactly one order each time, and the loser reserves no
/// stock. Then eight identical placements with one key and one coupon:
/// one order.
#[tokio::test]
async fn one_coupon_used_by_two_channels_at_once_makes_exactly_one_order() {
    let s = shop().await;
    let app = &s.app;
    let beans = coffee(app, "Beans", "coffee/beans", 3_000).await;
    let till = app.token(kit::auth::TokenRequest::staff("g1", "store-a", "coffee"));
    for round in 0..10 {
        let member_id = format!("racer-{round}");
        let code = s.issue(&member_id, amount_off(500, 0, &[])).await;
        let lines = json!([{ "skuId": beans, "quantity": 1 }]);
        let member_token = member(app, &member_id);
        let app_order = pickup(app, &member_token, lines.clone(), Some(&code));
        let till_order = app.graphql(
            Some(&till),
            PLACE_WITH_COUPON,
            json!({ "i": { "memberId": member_id, "channel": "STORE_POS", "storeId": "store-a", "fulfilment": "IN_STORE", "lines": lines, "couponCode": code, "idempotencyKey": key() } }),
        );
        let (a, b) = tokio::join!(app_order, till_order);
        let placed: Vec<&GraphqlResponse> = [&a, &b]
            .into_iter()
            .filter(|r| r.error_code().is_none())
            .collect();
        assert_eq!(
            placed.len(),
            1,
            "round {round}: {:?} / {:?}",
            a.errors(),
            b.errors()
        );
        let loser = if a.error_code().is_some() { &a } else { &b };
        assert_eq!(loser.error_code(), Some("CONFLICT"));
        assert_eq!(coupon_state(app, &member_id, &code).await, "RESERVED");
    }
    assert_eq!(
        stock(app, &beans, "store-a").await,
        (50, 10),
        "one unit per winner"
    );

    let code = s.issue("twin", amount_off(500, 0, &[])).await;
    let same_key = key();
    let input = json!({ "i": { "channel": "APP", "storeId": "store-a", "fulfilment": "PICKUP_IN_STORE", "lines": [{ "skuId": beans, "quantity": 1 }], "couponCode": code, "idempotencyKey": same_key } });
    let token = member(app, "twin");
    let answers =
        join_all((0..8).map(|_| app.graphql(Some(&token), PLACE_WITH_COUPON, input.clone()))).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|r| r.ok()["placeOrder"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "one order for one key");
    assert_eq!(stock(app, &beans, "store-a").await, (50, 11));

    // The same when the twin takes the last units: each caller gets the
    // one order, none OUT_OF_STOCK.
    let rare = coffee(app, "Rare", "coffee/beans", 9_000).await;
    let input = json!({ "i": { "channel": "APP", "storeId": "store-a", "fulfilment": "PICKUP_IN_STORE", "lines": [{ "skuId": rare, "quantity": 50 }], "idempotencyKey": key() } });
    let answers =
        join_all((0..8).map(|_| app.graphql(Some(&token), PLACE_WITH_COUPON, input.clone()))).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|r| r.ok()["placeOrder"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(stock(app, &rare, "store-a").await, (50, 50));
}

/// An order with a coupon whose caller hangs up midway: the coupon and the
/// stock are held together or not at all, and a retry with the same key
/// makes the one order.
#[tokio::test]
async fn an_order_with_a_coupon_whose_caller_hangs_up_is_all_or_nothing() {
    let s = shop().await;
    let app = &s.app;
    let beans = coffee(app, "Beans", "coffee/beans", 3_000).await;
    for (n, after_ms) in [0u64, 1, 2, 5, 10, 20, 50].into_iter().enumerate() {
        let member_id = format!("hangup-{n}");
        let code = s.issue(&member_id, amount_off(500, 0, &[])).await;
        let token = member(app, &member_id);
        let input = json!({ "i": { "channel": "APP", "storeId": "store-a", "fulfilment": "PICKUP_IN_STORE", "lines": [{ "skuId": beans, "quantity": 1 }], "couponCode": code, "idempotencyKey": format!("hangup-order-{n}") } });
        let before = stock(app, &beans, "store-a").await;
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(after_ms),
            app.graphql(Some(&token), PLACE_WITH_COUPON, input.clone()),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let held = coupon_state(app, &member_id, &code).await;
        let reserved = stock(app, &beans, "store-a").await.1 - before.1;
        assert!(
            (held == "ISSUED" && reserved == 0) || (held == "RESERVED" && reserved == 1),
            "{member_id} after {after_ms} ms: coupon {held}, {reserved} reserved"
        );
        let again = app.graphql(Some(&token), PLACE_WITH_COUPON, input).await;
        assert_eq!(again.ok()["placeOrder"]["discountFen"], 500);
        assert_eq!(coupon_state(app, &member_id, &code).await, "RESERVED");
        assert_eq!(
            stock(app, &beans, "store-a").await.1 - before.1,
            1,
            "one order"
        );
    }
}
