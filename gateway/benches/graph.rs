//! Gateway throughput through HTTP, against the four real subgraphs (SQLite,
//! demo data) in the same process: a query that needs no subgraph (the
//! gateway's own cost: parse, cache, project), one entity hop, and one that
//! crosses alliance, store and product. 1 and 8 clients. Prints figures.
//!
//! cargo bench -p gateway --bench graph

use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway::{Gateway, GatewayConfig};
use kit::config::Secret;
use kit::testing::{TestDatabase, spawn_on};
use serde_json::{Value, json};

const REQUESTS: usize = 800;

const QUERIES: [(&str, &str); 3] = [
    ("no subgraph", "{ __typename }"),
    (
        "1 subgraph",
        "{ programmes { id pointsName cashValueFen } }",
    ),
    (
        "3 subgraphs",
        "{ programmes { id brand { name stores(first: 2) { edges { node { id name } } } products(first: 2) { edges { node { id name } } } } } }",
    ),
];

#[tokio::main]
async fn main() {
    let secret = Secret::new(kit::auth::random_secret());
    let mut config = GatewayConfig::default();
    let mut apps = Vec::new();
    for spec in [&member::SPEC, &store::SPEC, &product::SPEC, &alliance::SPEC] {
        let app = spawn_on(spec, TestDatabase::sqlite(), secret.clone()).await;
        (spec.seed_demo)(app.db()).await.expect("demo data");
        config
            .url_overrides
            .insert(spec.name.to_owned(), format!("{}/graphql", app.address));
        apps.push(app);
    }
    let mut urls = Vec::new();
    for coalesce in [true, false] {
        let mut config = config.clone();
        config.coalesce_subgraph_fetches = coalesce;
        let gateway = Arc::new(
            Gateway::new(include_str!("../../schema/supergraph.graphql"), config)
                .expect("supergraph"),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        urls.push((
            if coalesce { "coalesced" } else { "separate" },
            format!("http://{}/graphql", listener.local_addr().unwrap()),
        ));
        tokio::spawn(async move { axum::serve(listener, gateway::router(gateway)).await });
    }
    println!(
        "gateway over HTTP, {REQUESTS} requests per row, subgraphs on SQLite in the same process;"
    );
    println!(
        "8 clients send the same query, so identical subgraph fetches are shared unless coalescing is off"
    );
    let client = reqwest::Client::new();
    for (name, query) in QUERIES {
        for (clients, (mode, url)) in [(1usize, &urls[0]), (8, &urls[0]), (8, &urls[1])] {
            let per_client = REQUESTS / clients;
            let started = Instant::now();
            let tasks = (0..clients).map(|_| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(per_client);
                    for _ in 0..per_client {
                        let t = Instant::now();
                        let r: Value = client
                            .post(&url)
                            .json(&json!({ "query": query }))
                            .send()
                            .await
                            .unwrap()
                            .json()
                            .await
                            .unwrap();
                        latencies.push(t.elapsed());
                        assert!(r.get("errors").is_none(), "{r}");
                    }
                    latencies
                })
            });
            let mut latencies: Vec<Duration> = futures::future::join_all(tasks)
                .await
                .into_iter()
                .flat_map(|r| r.unwrap())
                .collect();
            let elapsed = started.elapsed();
            latencies.sort();
            let pct = |p: f64| {
                latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)]
                    .as_secs_f64()
                    * 1e3
            };
            println!(
                "{name:<12} clients={clients} {mode:<9}  {:>6.0} req/s  p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms",
                latencies.len() as f64 / elapsed.as_secs_f64(),
                pct(0.5),
                pct(0.95),
                pct(0.99)
            );
        }
    }
    drop(apps);
}
