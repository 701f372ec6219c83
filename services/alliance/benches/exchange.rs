//! confirmExchange throughput through the real HTTP app, on SQLite and (if
//! reachable) PostgreSQL: quotes are made beforehand, then confirmed from
//! 1 and 8 concurrent clients (one member each). Prints figures.
//!
//! cargo bench -p alliance --bench exchange

use std::time::{Duration, Instant};

use alliance::domain::returns::ReturnPolicy;
use alliance::store::IdempotencyKey;
use alliance::store::exchange::{self, TermsDraft, TermsSide};
use alliance::store::ledger::{self, PartnerTransaction};
use alliance::store::programmes::{self, ProgrammeDraft, ProgrammeSettings};
use kit::Caller;
use kit::auth::{Actor, TokenRequest};
use kit::config::Secret;
use kit::input::ForeignId;
use kit::testing::{Latencies, TestApp, TestDatabase, spawn_on};
use serde_json::json;

const CONFIRMATIONS: usize = 800;

#[tokio::main]
async fn main() {
    println!("confirmExchange: {CONFIRMATIONS} confirmations per row, via HTTP");
    for (backend, database) in kit::testing::bench_databases().await {
        run(backend, database).await;
    }
}

async fn run(backend: &str, database: TestDatabase) {
    let app = spawn_on(
        &alliance::SPEC,
        database,
        Secret::new(kit::auth::random_secret()),
        kit::testing::clock(),
    )
    .await;
    seed(&app).await;
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", app.address);
    let query = "mutation($q: ID!, $k: String!) { confirmExchange(quoteId: $q, idempotencyKey: $k) { id } }";
    for clients in [1usize, 8] {
        let per_client = CONFIRMATIONS / clients;
        let mut work = Vec::new();
        for c in 0..clients {
            let member = format!("bench-{c}");
            let mut quotes = Vec::with_capacity(per_client);
            for _ in 0..per_client {
                let q = exchange::create_quote(
                    app.db(),
                    &member,
                    "coffee-points",
                    "cinema-points",
                    100,
                    Duration::from_secs(3_600),
                    app.now(),
                )
                .await
                .unwrap();
                quotes.push(q.id);
            }
            work.push((app.token(TokenRequest::member(member)), quotes));
        }
        let started = Instant::now();
        let tasks = work.into_iter().enumerate().map(|(c, (token, quotes))| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(quotes.len());
                for (n, quote) in quotes.iter().enumerate() {
                    let body = json!({ "query": query, "variables": { "q": quote, "k": format!("bench-{clients}-{c}-{n}") } });
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
            "{backend:<8} clients={clients}  {:>6.0} confirmations/s  {latencies}",
            latencies.per_second()
        );
    }
    app.stop().await;
}

/// Two programmes, terms without practical limits, and 8 members with
/// plenty of coffee points.
async fn seed(app: &TestApp) {
    let db = app.db();
    for brand in ["coffee", "cinema"] {
        let settings = ProgrammeSettings::parse(&ProgrammeDraft {
            points_name: "Points",
            time_zone: "Asia/Shanghai",
            cash_value_fen: "1",
            points_per_yuan: "1",
            pending_days: 0,
            expiry_months: Some(12),
            return_policy: ReturnPolicy::WithinBalance,
            can_send: true,
            can_receive: true,
        })
        .unwrap();
        let id = ForeignId::parse("brandId", brand).unwrap();
        let actor = kit::auth::Actor::system("bench");
        programmes::onboard_brand(db, &id, brand, &settings, &actor, app.now())
            .await
            .unwrap();
    }
    let operator = Caller::Operator {
        operator_id: "bench".into(),
    };
    let draft = TermsDraft {
        from_programme_id: "coffee-points".into(),
        to_programme_id: "cinema-points".into(),
        rate: "0.5".into(),
        fee_bp: 100,
        min_block: 100,
        daily_limit: 1_000_000_000,
        yearly_limit: 1_000_000_000,
    };
    let terms = exchange::propose_terms(db, &operator, &draft, app.now())
        .await
        .unwrap();
    for side in [TermsSide::From, TermsSide::To] {
        exchange::accept_terms(db, &operator, &terms.id, 1, Some(side), app.now())
            .await
            .unwrap();
    }
    for c in 0..8 {
        let tx = PartnerTransaction {
            requested_member_id: None,
            member_id: format!("bench-{c}"),
            programme_id: "coffee-points".into(),
            points: 100_000_000,
            source_system: "bench".into(),
            external_txn_id: format!("seed-{c}"),
            reason: "bench".into(),
        };
        let key = IdempotencyKey::parse(&operator, &format!("bench-seed-{c}")).unwrap();
        ledger::earn(db, &tx, &key, &Actor::system("bench"), app.now())
            .await
            .unwrap();
    }
}
