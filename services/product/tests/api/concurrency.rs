//! Many channels at the last units at once.

use std::collections::HashSet;
use std::time::Instant;

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn two_hundred_concurrent_orders_never_oversell_fifty_units() {
    let app = spawn().await;
    locations(&app).await;
    let tee = sku(&app, "apparel", "Last Tees", 9_900).await;
    receive(&app, &tee, "store-a", 30).await;
    receive(&app, &tee, "wh-minhang", 20).await;
    let till = staff(&app, "store-a");
    let started = Instant::now();
    let attempts = (0..200).map(|n| {
        let (token, input) = match n % 4 {
            0 => (till.clone(), json!({ "channel": "STORE_POS", "storeId": "store-a", "fulfilment": "IN_STORE" })),
            1 => (member(&app, &format!("m{n}")), json!({ "channel": "APP", "storeId": "store-a", "fulfilment": "PICKUP_IN_STORE" })),
            2 => (member(&app, &format!("m{n}")), json!({ "channel": "ECOMMERCE", "fulfilment": "SHIP", "shipTo": { "lat": 31.2, "lng": 121.4 } })),
            _ => (member(&app, &format!("m{n}")), json!({ "channel": "WECHAT_MINI_PROGRAM", "fulfilment": "SHIP", "shipTo": { "lat": 31.3, "lng": 121.5 } })),
        };
        let mut input = input;
        input["lines"] = json!([{ "skuId": tee, "quantity": 1 }]);
        input["idempotencyKey"] = json!(format!("race-{n:04}-key"));
        let app = &app;
        async move { place(app, &token, input).await }
    });
    let results = futures::future::join_all(attempts).await;
    let elapsed = started.elapsed();
    let sold = results.iter().filter(|r| r.errors().is_empty()).count();
    let failures: Vec<Option<&str>> = results
        .iter()
        .filter(|r| !r.errors().is_empty())
        .map(|r| r.error_code())
        .collect();
    println!(
        "200 concurrent orders at 50 units: {sold} placed, {} refused, in {:.0} ms",
        failures.len(),
        elapsed.as_secs_f64() * 1e3
    );
    assert_eq!(sold, 50, "exactly the stock is sold");
    assert!(
        failures.iter().all(|c| *c == Some("OUT_OF_STOCK")),
        "every failure is OUT_OF_STOCK: {failures:?}"
    );

    let (a_hand, a_res) = stock(&app, &tee, "store-a").await;
    let (w_hand, w_res) = stock(&app, &tee, "wh-minhang").await;
    assert_eq!((a_hand, w_hand), (30, 20), "nothing left the shelves yet");
    assert_eq!((a_res, w_res), (30, 20), "all 50 reserved, none oversold");
    let by_source = |loc: &str| {
        results
            .iter()
            .filter(|r| r.errors().is_empty())
            .filter(|r| r.data()["placeOrder"]["lines"][0]["sourceLocation"]["id"] == loc)
            .count() as i64
    };
    assert_eq!(
        (by_source("store-a"), by_source("wh-minhang")),
        (a_res, w_res),
        "reserved figures reconcile with the orders"
    );
}

#[tokio::test]
async fn one_idempotency_key_sent_concurrently_makes_one_order() {
    let app = spawn().await;
    locations(&app).await;
    let tee = sku(&app, "apparel", "Tee", 9_900).await;
    receive(&app, &tee, "wh-minhang", 100).await;
    let m = member(&app, "m1");
    let input = json!({ "channel": "APP", "fulfilment": "SHIP", "shipTo": { "lat": 31.2, "lng": 121.4 }, "lines": [{ "skuId": tee, "quantity": 2 }], "idempotencyKey": "same-key-0001" });
    let results = futures::future::join_all((0..20).map(|_| place(&app, &m, input.clone()))).await;
    let ids: HashSet<String> = results
        .iter()
        .map(|r| r.ok()["placeOrder"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "one order for one key");
    assert_eq!(
        stock(&app, &tee, "wh-minhang").await,
        (100, 2),
        "reserved once"
    );
}
