use kit::auth::TokenRequest;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::*;

fn source(r: &kit::testing::GraphqlResponse) -> String {
    r.ok()["placeOrder"]["lines"][0]["sourceLocation"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn stock_comes_from_the_right_place_for_each_fulfilment() {
    let app = spawn().await;
    locations(&app).await;
    let tee = sku(&app, "apparel", "Tee", 9_900).await;
    receive(&app, &tee, "store-a", 1).await;
    receive(&app, &tee, "store-b", 5).await;
    receive(&app, &tee, "wh-minhang", 5).await;
    let till = staff(&app, "store-a");
    let line = json!([{ "skuId": tee, "quantity": 1 }]);

    let in_store = place(&app, &till, json!({ "channel": "STORE_POS", "storeId": "store-a", "fulfilment": "IN_STORE", "lines": line, "idempotencyKey": key() })).await;
    assert_eq!(source(&in_store), "store-a", "its own stock first");
    assert_eq!(in_store.ok()["placeOrder"]["totalFen"], 9_900);
    let cloud = place(&app, &till, json!({ "channel": "STORE_POS", "storeId": "store-a", "fulfilment": "IN_STORE", "lines": line, "idempotencyKey": key() })).await;
    assert_eq!(
        source(&cloud),
        "store-b",
        "cloud shelf: the nearest location that has it"
    );

    let m = member(&app, "m1");
    let pickup_empty = place(&app, &m, json!({ "channel": "APP", "storeId": "store-a", "fulfilment": "PICKUP_IN_STORE", "lines": line, "idempotencyKey": key() })).await;
    assert_eq!(
        pickup_empty.error_code(),
        Some("OUT_OF_STOCK"),
        "pickup reserves at the chosen store only"
    );
    assert!(
        pickup_empty.errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains(&tee),
        "the error names the SKU"
    );
    // How many there are at the chosen store: public (Store.inventory).
    let ext = &pickup_empty.errors()[0]["extensions"];
    assert_eq!(
        (ext["skuId"].as_str(), ext["available"].as_i64()),
        (Some(tee.as_str()), Some(0))
    );
    assert!(
        pickup_empty.errors()[0]["message"]
            .as_str()
            .unwrap()
            .ends_with("0 available at store-a"),
        "{}",
        pickup_empty.body
    );
    let pickup = place(&app, &m, json!({ "channel": "WECHAT_MINI_PROGRAM", "storeId": "store-b", "fulfilment": "PICKUP_IN_STORE", "lines": line, "idempotencyKey": key() })).await;
    assert_eq!(source(&pickup), "store-b");
    assert!(pickup.ok()["placeOrder"]["pickupDeadline"].is_string());

    let ship = place(&app, &m, json!({ "channel": "ECOMMERCE", "fulfilment": "SHIP", "shipTo": { "lat": 31.24, "lng": 121.50 }, "lines": line, "idempotencyKey": key() })).await;
    assert_eq!(
        source(&ship),
        "wh-minhang",
        "warehouses first, even when a store is nearer"
    );
    assert_eq!(stock(&app, &tee, "store-b").await, (5, 2));
    assert_eq!(stock(&app, &tee, "wh-minhang").await, (5, 1));
}

#[tokio::test]
async fn an_order_is_reserved_whole_or_not_at_all() {
    let app = spawn().await;
    locations(&app).await;
    let tee = sku(&app, "apparel", "Tee", 9_900).await;
    let cap = sku(&app, "apparel", "Cap", 4_900).await;
    receive(&app, &tee, "wh-minhang", 10).await;
    receive(&app, &cap, "wh-minhang", 1).await;
    let m = member(&app, "m1");
    let r = place(&app, &m, json!({ "channel": "APP", "fulfilment": "SHIP", "shipTo": { "lat": 31.2, "lng": 121.4 },
        "lines": [{ "skuId": tee, "quantity": 3 }, { "skuId": cap, "quantity": 2 }], "idempotencyKey": key() })).await;
    assert_eq!(r.error_code(), Some("OUT_OF_STOCK"));
    assert!(r.errors()[0]["message"].as_str().unwrap().contains(&cap));
    assert_eq!(
        r.errors()[0]["extensions"]["available"],
        1,
        "a shipment takes a line from one location: the most any one holds"
    );
    assert_eq!(
        stock(&app, &tee, "wh-minhang").await,
        (10, 0),
        "the tee line was not kept"
    );
    let feed: Value = app
        .get("/events")
        .bearer_auth(app.operator_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        feed["events"],
        json!([]),
        "no event for an order that did not happen"
    );
}

#[tokio::test]
async fn idempotency_keys_replay_or_conflict() {
    let app = spawn().await;
    locations(&app).await;
    let tee = sku(&app, "apparel", "Tee", 9_900).await;
    receive(&app, &tee, "wh-minhang", 10).await;
    let m = member(&app, "m1");
    let input = json!({ "channel": "APP", "fulfilment": "SHIP", "shipTo": { "lat": 31.2, "lng": 121.4 }, "lines": [{ "skuId": tee, "quantity": 2 }], "idempotencyKey": "order-0001-retry" });
    let first = place(&app, &m, input.clone()).await;
    let again = place(&app, &m, input.clone()).await;
    assert_eq!(
        first.ok()["placeOrder"]["id"],
        again.ok()["placeOrder"]["id"]
    );
    assert_eq!(
        stock(&app, &tee, "wh-minhang").await,
        (10, 2),
        "reserved once"
    );
    let mut other = input.clone();
    other["lines"][0]["quantity"] = json!(3);
    assert_eq!(place(&app, &m, other).await.error_code(), Some("CONFLICT"));
    // A key is its caller's: another member's same key is their own order.
    let theirs = place(&app, &member(&app, "m2"), input.clone()).await;
    assert_ne!(
        theirs.ok()["placeOrder"]["id"],
        first.ok()["placeOrder"]["id"],
        "two members' keys never meet"
    );
    assert_eq!(stock(&app, &tee, "wh-minhang").await, (10, 4));
    // A refund's key replays the refund, and conflicts with another one.
    let order = first.ok()["placeOrder"].clone();
    op(
        &app,
        "mutation($o: ID!) { fulfilOrder(orderId: $o) { status } }",
        json!({ "o": order["id"] }),
    )
    .await;
    let operator = app.operator_token();
    let refund = |quantity: i64| {
        app.graphql(
            Some(&operator),
            "mutation($o: ID!, $l: ID!, $q: Int!) { refundOrder(orderId: $o, lines: [{ lineId: $l, quantity: $q }], idempotencyKey: \"refund-0001-retry\") { refundedFen } }",
            json!({ "o": order["id"], "l": order["lines"][0]["id"], "q": quantity }),
        )
    };
    assert_eq!(refund(1).await.ok()["refundOrder"]["refundedFen"], 9_900);
    assert_eq!(
        refund(1).await.ok()["refundOrder"]["refundedFen"],
        9_900,
        "replayed, not refunded twice"
    );
    assert_eq!(refund(2).await.error_code(), Some("CONFLICT"));
    let mut bad = input;
    bad["idempotencyKey"] = json!("short");
    assert_eq!(
        place(&app, &m, bad).await.error_field(),
        Some("idempotencyKey")
    );
}

#[tokio::test]
async fn fulfil_cancel_refund_and_their_events() {
    let app = spawn().await;
    locations(&app).await;
    let tee = sku(&app, "apparel", "Tee", 9_900).await;
    receive(&app, &tee, "store-a", 10).await;
    let till = staff(&app, "store-a");
    let placed = place(&app, &till, json!({ "memberId": "m1", "channel": "STORE_POS", "storeId": "store-a", "fulfilment": "IN_STORE", "lines": [{ "skuId": tee, "quantity": 3 }], "idempotencyKey": key() })).await;
    let order = placed.ok()["placeOrder"]["id"].as_str().unwrap().to_owned();
    let line = placed.ok()["placeOrder"]["lines"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refund = "mutation($o: ID!, $l: ID!, $q: Int!, $k: String!) { refundOrder(orderId: $o, lines: [{ lineId: $l, quantity: $q }], idempotencyKey: $k) { status refundedFen lines { refundedQuantity } } }";
    let early = app
        .graphql(
            Some(&till),
            refund,
            json!({ "o": order, "l": line, "q": 1, "k": key() }),
        )
        .await;
    assert_eq!(
        early.error_code(),
        Some("CONFLICT"),
        "a placed order is cancelled, not refunded"
    );

    let fulfilled = app
        .graphql(
            Some(&till),
            "mutation($o: ID!) { fulfilOrder(orderId: $o) { status fulfilledAt } }",
            json!({ "o": order }),
        )
        .await;
    assert_eq!(fulfilled.ok()["fulfilOrder"]["status"], "FULFILLED");
    assert_eq!(
        stock(&app, &tee, "store-a").await,
        (7, 0),
        "sold: off hand, no longer reserved"
    );
    let cancel_late = app
        .graphql(
            Some(&till),
            "mutation($o: ID!) { cancelOrder(orderId: $o) { status } }",
            json!({ "o": order }),
        )
        .await;
    assert_eq!(cancel_late.error_code(), Some("CONFLICT"));

    let k1 = key();
    let partial = app
        .graphql(
            Some(&till),
            refund,
            json!({ "o": order, "l": line, "q": 2, "k": k1 }),
        )
        .await;
    assert_eq!(
        partial.ok()["refundOrder"],
        json!({ "status": "PARTIALLY_REFUNDED", "refundedFen": 19_800, "lines": [{ "refundedQuantity": 2 }] })
    );
    let retried = app
        .graphql(
            Some(&till),
            refund,
            json!({ "o": order, "l": line, "q": 2, "k": k1 }),
        )
        .await;
    assert_eq!(
        retried.ok()["refundOrder"]["refundedFen"],
        19_800,
        "the same key refunds once"
    );
    let too_much = app
        .graphql(
            Some(&till),
            refund,
            json!({ "o": order, "l": line, "q": 2, "k": key() }),
        )
        .await;
    assert_eq!(
        too_much.error_field(),
        Some("lines"),
        "never beyond what was sold"
    );
    let rest = app
        .graphql(
            Some(&till),
            refund,
            json!({ "o": order, "l": line, "q": 1, "k": key() }),
        )
        .await;
    assert_eq!(rest.ok()["refundOrder"]["status"], "REFUNDED");

    let other = place(&app, &member(&app, "m2"), json!({ "channel": "APP", "storeId": "store-a", "fulfilment": "PICKUP_IN_STORE", "lines": [{ "skuId": tee, "quantity": 1 }], "idempotencyKey": key() })).await;
    let other_id = other.ok()["placeOrder"]["id"].as_str().unwrap().to_owned();
    let cancelled = app
        .graphql(
            Some(&member(&app, "m2")),
            "mutation($o: ID!) { cancelOrder(orderId: $o) { status } }",
            json!({ "o": other_id }),
        )
        .await;
    assert_eq!(cancelled.ok()["cancelOrder"]["status"], "CANCELLED");
    assert_eq!(stock(&app, &tee, "store-a").await, (7, 0), "released");

    let feed: Value = app
        .get("/events")
        .bearer_auth(app.operator_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = feed["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "OrderFulfilled",
            "OrderRefunded",
            "OrderRefunded",
            "OrderPlaced",
            "OrderCancelled"
        ]
    );
    let placed_event = &events[0]["payload"];
    assert_eq!(placed_event["memberId"], "m1");
    assert_eq!(placed_event["channel"], "STORE_POS");
    assert_eq!(placed_event["storeId"], "store-a");
    assert_eq!(placed_event["lines"][0]["brandId"], "apparel");
    assert_eq!(placed_event["lines"][0]["amountFen"], 29_700);
    assert_eq!(
        placed_event["lines"][0]["categoryId"], "apparel/tops",
        "campaigns earn by category"
    );
    assert_eq!(
        events[2]["payload"]["lines"],
        json!([{ "lineId": line, "quantity": 2, "amountFen": 19_800 }])
    );
    assert_eq!(events[3]["payload"]["fullyRefunded"], true);
}

#[tokio::test]
async fn uncollected_pickups_are_cancelled_and_release_their_stock() {
    let app = spawn().await;
    locations(&app).await;
    let tee = sku(&app, "apparel", "Tee", 9_900).await;
    receive(&app, &tee, "store-b", 2).await;
    let r = place(&app, &member(&app, "m1"), json!({ "channel": "APP", "storeId": "store-b", "fulfilment": "PICKUP_IN_STORE", "lines": [{ "skuId": tee, "quantity": 2 }], "idempotencyKey": key() })).await;
    let order = r.ok()["placeOrder"]["id"].as_str().unwrap().to_owned();
    let expire = "mutation { expirePickups }";
    assert_eq!(
        op(&app, expire, json!({})).await["expirePickups"],
        json!([]),
        "not due yet"
    );
    use product::store::entities::order;
    order::Entity::update_many()
        .col_expr(
            order::Column::PickupDeadline,
            Some(kit::time::to_micros(app.now()) - 1).into(),
        )
        .filter(order::Column::Id.eq(order.as_str()))
        .exec(app.db())
        .await
        .unwrap();
    assert_eq!(
        op(&app, expire, json!({})).await["expirePickups"],
        json!([order])
    );
    assert_eq!(stock(&app, &tee, "store-b").await, (2, 0));
    let read = op(
        &app,
        "query($o: ID!) { order(id: $o) { status } }",
        json!({ "o": order }),
    )
    .await;
    assert_eq!(read["order"]["status"], "CANCELLED");
}

#[tokio::test]
async fn who_may_order_and_read_orders() {
    let app = spawn().await;
    locations(&app).await;
    let tee = sku(&app, "apparel", "Tee", 9_900).await;
    receive(&app, &tee, "store-a", 10).await;
    let line = json!([{ "skuId": tee, "quantity": 1 }]);
    let m1 = member(&app, "m1");
    let for_other = place(&app, &m1, json!({ "memberId": "m2", "channel": "APP", "storeId": "store-a", "fulfilment": "PICKUP_IN_STORE", "lines": line, "idempotencyKey": key() })).await;
    assert_eq!(for_other.error_code(), Some("FORBIDDEN"));
    let till_elsewhere = place(&app, &staff(&app, "store-b"), json!({ "channel": "STORE_POS", "storeId": "store-a", "fulfilment": "IN_STORE", "lines": line, "idempotencyKey": key() })).await;
    assert_eq!(till_elsewhere.error_code(), Some("FORBIDDEN"));
    assert_eq!(app.graphql(None, PLACE, json!({ "i": { "channel": "APP", "fulfilment": "SHIP", "lines": line, "idempotencyKey": key() } })).await.error_code(), Some("UNAUTHENTICATED"));
    let mine = place(&app, &m1, json!({ "channel": "APP", "storeId": "store-a", "fulfilment": "PICKUP_IN_STORE", "lines": line, "idempotencyKey": key() })).await;
    let id = mine.ok()["placeOrder"]["id"].as_str().unwrap().to_owned();

    let read = "query($o: ID!) { order(id: $o) { id } }";
    for token in [m1.clone(), staff(&app, "store-a"), app.operator_token()] {
        assert!(
            app.graphql(Some(&token), read, json!({ "o": id }))
                .await
                .errors()
                .is_empty()
        );
    }
    for token in [
        member(&app, "m2"),
        staff(&app, "store-b"),
        app.token(TokenRequest::partner("k", "apparel")),
    ] {
        assert_eq!(
            app.graphql(Some(&token), read, json!({ "o": id }))
                .await
                .error_code(),
            Some("FORBIDDEN")
        );
    }
    let orders = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { orders { edges { node { id totalFen } } } } } }";
    let own = app
        .graphql(
            Some(&m1),
            orders,
            json!({ "r": [{ "__typename": "Member", "id": "m1" }] }),
        )
        .await;
    assert_eq!(
        own.ok()["_entities"][0]["orders"]["edges"][0]["node"]["id"],
        id.as_str()
    );
    assert_eq!(
        app.graphql(
            Some(&member(&app, "m2")),
            orders,
            json!({ "r": [{ "__typename": "Member", "id": "m1" }] })
        )
        .await
        .error_code(),
        Some("FORBIDDEN")
    );
    let fulfil_elsewhere = app
        .graphql(
            Some(&staff(&app, "store-b")),
            "mutation($o: ID!) { fulfilOrder(orderId: $o) { id } }",
            json!({ "o": id }),
        )
        .await;
    assert_eq!(fulfil_elsewhere.error_code(), Some("FORBIDDEN"));
    for (input, field) in [
        (
            json!({ "channel": "APP", "fulfilment": "SHIP", "lines": line, "idempotencyKey": key() }),
            "shipTo",
        ),
        (
            json!({ "channel": "APP", "fulfilment": "PICKUP_IN_STORE", "lines": line, "idempotencyKey": key() }),
            "storeId",
        ),
        (
            json!({ "channel": "APP", "fulfilment": "SHIP", "shipTo": { "lat": 0, "lng": 0 }, "lines": [], "idempotencyKey": key() }),
            "lines",
        ),
        (
            json!({ "channel": "APP", "fulfilment": "SHIP", "shipTo": { "lat": 0, "lng": 0 }, "lines": [{ "skuId": tee, "quantity": 0 }], "idempotencyKey": key() }),
            "lines",
        ),
        (
            json!({ "channel": "APP", "fulfilment": "SHIP", "shipTo": { "lat": 0, "lng": 0 }, "lines": [{ "skuId": tee, "quantity": 1 }, { "skuId": tee, "quantity": 1 }], "idempotencyKey": key() }),
            "lines",
        ),
        (
            json!({ "channel": "APP", "fulfilment": "SHIP", "shipTo": { "lat": 0, "lng": 0 }, "lines": [{ "skuId": "nope", "quantity": 1 }], "idempotencyKey": key() }),
            "lines",
        ),
    ] {
        let r = place(&app, &m1, input).await;
        assert_eq!(r.error_field(), Some(field), "{}", r.body);
    }
}

/// The product service's part of a member's export: the member service
/// asks for it with its service token; no one else may, and a request must
/// name the ids. Erasure (the member feed) clears where orders went and
/// keeps the orders.
#[tokio::test]
async fn a_members_orders_go_into_their_export_and_erasure_clears_the_address() {
    let app = spawn().await;
    locations(&app).await;
    let tee = sku(&app, "apparel", "Tee", 9_900).await;
    receive(&app, &tee, "wh-minhang", 5).await;
    let line = json!([{ "skuId": tee, "quantity": 1 }]);
    for (who, k) in [
        ("m-export", "one"),
        ("m-merged", "two"),
        ("m-other", "three"),
    ] {
        place(&app, &member(&app, who), json!({ "channel": "APP", "fulfilment": "SHIP", "shipTo": { "lat": 31.2, "lng": 121.4 }, "lines": line, "idempotencyKey": format!("export-{k}") }))
            .await
            .ok();
    }
    let ask = |token: String, body: Value| {
        app.post(kit::members::EXPORT_ROUTE)
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let ids = json!({ "memberIds": ["m-export", "m-merged"] });
    let service = app.keys().service_token("member").unwrap();
    let part: Value = ask(service.clone(), ids.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let orders = part["orders"].as_array().unwrap();
    let owners: Vec<&str> = orders
        .iter()
        .map(|o| o["memberId"].as_str().unwrap())
        .collect();
    assert_eq!(owners, ["m-export", "m-merged"], "{part}");
    assert_eq!(
        orders[0]["shipTo"],
        json!({ "latitude": 31.2, "longitude": 121.4 })
    );
    assert_eq!(orders[0]["lines"][0]["skuId"], tee.as_str());
    assert_eq!(orders[0]["totalFen"], 9_900);

    // Members and staff may not ask; a request must name 1 to 1,000 ids.
    for token in [member(&app, "m-export"), staff(&app, "store-a")] {
        assert_eq!(ask(token, ids.clone()).await.unwrap().status(), 403);
    }
    let too_many: Vec<String> = (0..=kit::members::MAX_EXPORT_IDS)
        .map(|i| format!("m-{i}"))
        .collect();
    for bad in [
        json!({ "memberIds": [] }),
        json!({ "memberIds": too_many }),
        json!({ "ids": ["m-export"] }),
        json!("m-export"),
    ] {
        let response = ask(service.clone(), bad.clone()).await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
    }

    // Erasure clears where the member's orders went (under every id they
    // held), nobody else's, and keeps the orders.
    let erased = kit::events::schema::MemberErased {
        member_id: "m-export".into(),
        merged_ids: vec!["m-merged".into()],
        erased_at: app.now(),
    };
    let txn = sea_orm::TransactionTrait::begin(app.db()).await.unwrap();
    kit::events::consumer::EventHandler::apply(
        &product::events::MemberFeed,
        &txn,
        1,
        kit::events::schema::MemberEvent::Erased(erased),
        app.now(),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let part: Value = ask(
        service,
        json!({ "memberIds": ["m-export", "m-merged", "m-other"] }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let ship_to: Vec<(&str, &Value)> = part["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["memberId"].as_str().unwrap(), &o["shipTo"]))
        .collect();
    assert_eq!(
        ship_to,
        [
            ("m-export", &Value::Null),
            ("m-merged", &Value::Null),
            ("m-other", &json!({ "latitude": 31.2, "longitude": 121.4 })),
        ]
    );
}
