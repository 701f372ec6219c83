//! storesNear latency at 100,000 stores, through the real HTTP app, on
//! SQLite and (if reachable) PostgreSQL. Prints figures.
//!
//! cargo bench -p store --bench near
//! BIGMEMBER_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/bigmember_test (default)

use std::time::Instant;

use kit::config::Secret;
use kit::testing::{Latencies, TestApp, TestDatabase, spawn_on};
use rand::{Rng, SeedableRng};
use sea_orm::{EntityTrait, Set, TransactionTrait};
use serde_json::json;
use store::domain::store::{StoreKind, StoreStatus};
use store::store::entities::store as store_row;

const STORES: usize = 100_000;
const QUERIES: usize = 400;

/// 20 city centres; stores cluster around them (dense) like real chains.
const CITIES: [(f64, f64); 20] = [
    (31.23, 121.47),
    (39.90, 116.40),
    (22.54, 114.06),
    (23.13, 113.26),
    (30.57, 104.07),
    (30.27, 120.16),
    (34.34, 108.94),
    (32.06, 118.80),
    (29.56, 106.55),
    (22.32, 114.17),
    (36.07, 120.38),
    (38.04, 114.51),
    (28.23, 112.94),
    (26.07, 119.30),
    (45.80, 126.53),
    (41.80, 123.43),
    (25.04, 102.71),
    (43.82, 87.62),
    (1.35, 103.82),
    (35.68, 139.69),
];

#[tokio::main]
async fn main() {
    println!(
        "storesNear: {STORES} stores in 20 city clusters; {QUERIES} queries per case near a random city centre, first 20, via HTTP"
    );
    for (backend, database) in kit::testing::bench_databases().await {
        run(backend, database).await;
    }
}

async fn run(backend: &str, database: TestDatabase) {
    let app = spawn_on(
        &store::SPEC,
        database,
        Secret::new(kit::auth::random_secret()),
        kit::testing::clock(),
    )
    .await;
    let started = Instant::now();
    seed(&app).await;
    println!(
        "{backend:<8} loaded {STORES} stores in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", app.address);
    let query = "query($lat: Float!, $lng: Float!, $r: Float!) { storesNear(lat: $lat, lng: $lng, radiusKm: $r, first: 20) { edges { distanceMeters node { id name } } } }";
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for radius in [2.0, 10.0, 50.0] {
        let started = Instant::now();
        let mut latencies = Vec::with_capacity(QUERIES);
        let mut found = 0usize;
        for _ in 0..QUERIES {
            let (lat, lng) = CITIES[rng.random_range(0..CITIES.len())];
            let (dlat, dlng): (f64, f64) =
                (rng.random_range(-0.05..0.05), rng.random_range(-0.05..0.05));
            let body = json!({ "query": query, "variables": { "lat": lat + dlat, "lng": lng + dlng, "r": radius } });
            let t = Instant::now();
            let response: serde_json::Value = client
                .post(&url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            latencies.push(t.elapsed());
            assert!(response.get("errors").is_none(), "{response}");
            found += response["data"]["storesNear"]["edges"]
                .as_array()
                .map_or(0, Vec::len);
        }
        let latencies = Latencies::new(latencies, started.elapsed());
        println!(
            "{backend:<8} radius {radius:>4} km  {latencies}  ({:.1} results/query)",
            found as f64 / QUERIES as f64,
        );
    }
    app.stop().await;
}

async fn seed(app: &TestApp) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let txn = app.db().begin().await.unwrap();
    let mut batch = Vec::with_capacity(1000);
    for n in 0..STORES {
        let (lat, lng) = CITIES[n % CITIES.len()];
        // Roughly within 40 km of the centre.
        let (dlat, dlng): (f64, f64) =
            (rng.random_range(-0.36..0.36), rng.random_range(-0.42..0.42));
        batch.push(store_row::ActiveModel {
            id: Set(format!("bench-{n:06}")),
            brand_id: Set(["apparel", "coffee", "cinema"][n % 3].into()),
            name: Set(format!("Store {n}")),
            kind: Set(if n % 4 == 3 {
                StoreKind::Franchise
            } else {
                StoreKind::Direct
            }),
            franchisee: Set((n % 4 == 3).then(|| "F Co.".into())),
            address: Set("somewhere".into()),
            latitude: Set(lat + dlat),
            longitude: Set(lng + dlng),
            time_zone: Set("Asia/Shanghai".into()),
            hours: Set("{\"weekly\":[[],[],[],[],[],[],[]],\"exceptions\":[]}".into()),
            phone: Set(None),
            status: Set(StoreStatus::Open),
            created_at: Set(0),
            updated_at: Set(0),
        });
        if batch.len() == 1000 {
            store_row::Entity::insert_many(std::mem::take(&mut batch))
                .exec(&txn)
                .await
                .unwrap();
        }
    }
    if !batch.is_empty() {
        store_row::Entity::insert_many(batch)
            .exec(&txn)
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
}
