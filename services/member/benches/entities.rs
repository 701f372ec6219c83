//! `_entities` throughput for 100-representation Member batches, through the
//! real HTTP app, on SQLite and (if reachable) PostgreSQL. Prints figures.
//!
//! cargo bench -p member --bench entities
//! BIGMEMBER_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/bigmember_test (default)

use std::time::Instant;

use kit::config::Secret;
use kit::testing::{Latencies, TestApp, TestDatabase, spawn_on};
use member::domain::identity::{Channel, ExternalId, NewIdentity};
use member::store::{self, Actor, Registration};
use serde_json::json;

const MEMBERS: usize = 2_000;
const BATCH: usize = 100;
const REQUESTS: usize = 300;
const CLIENTS: usize = 4;

#[tokio::main]
async fn main() {
    println!(
        "_entities throughput: {BATCH} Member representations per request, {MEMBERS} members stored"
    );
    for (backend, database) in kit::testing::bench_databases().await {
        run(backend, database).await;
    }
}

async fn run(backend: &str, database: TestDatabase) {
    let app = spawn_on(
        &member::SPEC,
        database,
        Secret::new(kit::auth::random_secret()),
        kit::testing::clock(),
    )
    .await;
    let ids = seed(&app).await;
    let token = app.operator_token();
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", app.address);
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { id tier registeredAt } } }";
    let body = |offset: usize| {
        let reps: Vec<_> = (0..BATCH).map(|i| json!({ "__typename": "Member", "id": ids[(offset * 37 + i * 13) % ids.len()] })).collect();
        json!({ "query": query, "variables": { "r": reps } })
    };
    for i in 0..20 {
        send(&client, &url, &token, &body(i)).await;
    }

    for clients in [1, CLIENTS] {
        let started = Instant::now();
        let per_client = REQUESTS / clients;
        let tasks = (0..clients).map(|c| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            let bodies: Vec<_> = (0..per_client).map(|i| body(c * per_client + i)).collect();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(bodies.len());
                for b in &bodies {
                    let t = Instant::now();
                    send(&client, &url, &token, b).await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        });
        let latencies = Latencies::of_clients(tasks, started).await;
        println!(
            "{backend:<8} clients={clients}  {:>7.0} req/s  {:>8.0} entities/s  {latencies}",
            latencies.per_second(),
            latencies.per_second() * BATCH as f64,
        );
    }
    app.stop().await;
}

async fn send(client: &reqwest::Client, url: &str, token: &str, body: &serde_json::Value) {
    let response: serde_json::Value = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(
        response["data"]["_entities"].as_array().map(Vec::len),
        Some(BATCH)
    );
}

async fn seed(app: &TestApp) -> Vec<String> {
    let actor = Actor::system("bench");
    let mut ids = Vec::with_capacity(MEMBERS);
    for n in 0..MEMBERS {
        let registration = Registration {
            environment: kit::auth::Environment::Live,
            identity: NewIdentity {
                channel: Channel::App,
                external_id: ExternalId::parse("externalId", &format!("bench-{n}")).unwrap(),
                brand_id: None,
            },
            phone: None,
            email: None,
            name: None,
            birthday: None,
            gender: None,
            referrer_id: None,
            guide_code: None,
        };
        ids.push(
            store::register(app.db(), &registration, &actor, app.now())
                .await
                .unwrap()
                .0
                .id,
        );
    }
    ids
}
