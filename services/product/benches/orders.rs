//! placeOrder throughput through the real HTTP app, on SQLite and (if
//! reachable) PostgreSQL: SHIP orders of 1-3 lines over 100 SKUs, from 1
//! and 8 concurrent clients. Prints figures.
//!
//! cargo bench -p product --bench orders

use std::time::Instant;

use kit::auth::{Actor, TokenRequest};
use kit::config::Secret;
use kit::testing::{Latencies, TestApp, TestDatabase, spawn_on};
use product::domain::sourcing::LocationKind;
use product::store::catalogue::{self, NewProduct, NewSku};
use product::store::inventory::{self, MovementKind};
use serde_json::json;

const SKUS: usize = 100;
const ORDERS: usize = 800;

#[tokio::main]
async fn main() {
    println!(
        "placeOrder: SHIP orders of 1-3 lines over {SKUS} SKUs, {ORDERS} orders per row, via HTTP"
    );
    for (backend, database) in kit::testing::bench_databases().await {
        run(backend, database).await;
    }
}

async fn run(backend: &str, database: TestDatabase) {
    let app = spawn_on(
        &product::SPEC,
        database,
        Secret::new(kit::auth::random_secret()),
        kit::testing::clock(),
    )
    .await;
    let skus = seed(&app).await;
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", app.address);
    let query = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id } }";
    for clients in [1usize, 8] {
        let per_client = ORDERS / clients;
        let started = Instant::now();
        let tasks = (0..clients).map(|c| {
            let (client, url, skus) = (client.clone(), url.clone(), skus.clone());
            let token = app.token(TokenRequest::member(format!("bench-{c}")));
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_client);
                for n in 0..per_client {
                    let lines: Vec<_> = (0..1 + n % 3).map(|k| json!({ "skuId": skus[(c * 31 + n * 7 + k * 13) % skus.len()], "quantity": 1 })).collect();
                    let body = json!({ "query": query, "variables": { "i": {
                        "channel": "APP", "fulfilment": "SHIP", "shipTo": { "lat": 31.2, "lng": 121.4 },
                        "lines": lines, "idempotencyKey": format!("bench-{clients}-{c}-{n}") } } });
                    let t = Instant::now();
                    let response: serde_json::Value = client.post(&url).bearer_auth(&token).json(&body).send().await.unwrap().json().await.unwrap();
                    latencies.push(t.elapsed());
                    assert!(response.get("errors").is_none(), "{response}");
                }
                latencies
            })
        });
        let latencies = Latencies::of_clients(tasks, started).await;
        println!(
            "{backend:<8} clients={clients}  {:>6.0} orders/s  {latencies}",
            latencies.per_second()
        );
    }
    app.stop().await;
}

async fn seed(app: &TestApp) -> Vec<String> {
    let db = app.db();
    let actor = Actor::system("bench");
    inventory::upsert_location(
        db,
        "wh-1",
        LocationKind::Warehouse,
        "DC 1",
        31.11,
        121.38,
        app.now(),
    )
    .await
    .unwrap();
    inventory::upsert_location(
        db,
        "wh-2",
        LocationKind::Warehouse,
        "DC 2",
        31.30,
        121.50,
        app.now(),
    )
    .await
    .unwrap();
    let mut skus = Vec::with_capacity(SKUS);
    for n in 0..SKUS {
        let p = catalogue::create_product(
            db,
            &NewProduct {
                brand_id: "apparel".into(),
                name: format!("P{n}"),
                description: String::new(),
                category: "apparel/tops".into(),
            },
            app.now(),
        )
        .await
        .unwrap();
        let s = catalogue::create_sku(
            db,
            &p.id,
            &NewSku {
                attributes: Default::default(),
                barcode: None,
                list_price_fen: 9_900,
            },
            app.now(),
        )
        .await
        .unwrap();
        for wh in ["wh-1", "wh-2"] {
            inventory::change_stock(
                db,
                &s.id,
                wh,
                100_000,
                MovementKind::Receive,
                "bench",
                &actor,
                app.now(),
            )
            .await
            .unwrap();
        }
        skus.push(s.id);
    }
    skus
}
