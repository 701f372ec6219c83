//! Gateway throughput through HTTP, against the four real subgraphs (SQLite,
//! demo data) in the same process: a query that needs no subgraph (the
//! gateway's own cost: parse, cache, project), one entity hop, one that
//! crosses alliance, store and product, and a heavy one of the shape of
//! The Guild's gateways benchmark: 100 members with their identities, guides, stores,
//! points accounts and orders from all four subgraphs (tens of KB of
//! nested entities, an operator's token). 1 and 8 clients. Prints figures,
//! the answer's size per query.
//! The reference rows send the very subgraph requests the gateway made for
//! one such query (recorded on the way) straight to the subgraphs, one
//! after another, without a gateway. The edge rows compare, in the same
//! run, a gateway with its production edge off (no compression, CORS or
//! rate limits) and on (an allowed origin on every request, answers gzipped
//! for a client that asks, a memory token bucket per caller that never
//! runs dry), both with the body limit and timeout every gateway has:
//! [`EDGE_PAIRS`] interleaved pairs per query, which of the two runs first
//! alternating, so drift on the machine falls on both; medians, ranges and
//! the machine's load average are printed.
//!
//! cargo bench -p gateway --bench graph
//! BENCH_EDGE_ONLY=1 cargo bench -p gateway --bench graph   (the edge pairs only)

use std::sync::Arc;
use std::time::Instant;

use gateway::{Gateway, GatewayConfig};
use kit::config::Secret;
use kit::testing::{Latencies, TestDatabase, spawn_on};
use serde_json::{Value, json};

const REQUESTS: usize = 800;

const QUERIES: [(&str, &str); 4] = [
    ("no subgraph", "{ __typename }"),
    (
        "1 subgraph",
        "{ programmes { id pointsName cashValueFen } }",
    ),
    (
        "3 subgraphs",
        "{ programmes { id brand { name stores(first: 2) { edges { node { id name } } } products(first: 2) { edges { node { id name } } } } } }",
    ),
    (
        "heavy",
        "{ members(first: 100) { edges { node { id name phone email tier registrationChannel registeredAt tags identities { channel externalId brandId } referredBy { code name store { name address openNow brand { name programme { pointsName cashValueFen } } } } favoriteStores { name address kind brand { name } } pointsAccounts { activeBalance pendingBalance programme { pointsName brand { name } } } orders(first: 3) { edges { node { id totalFen status placedAt store { name } lines { quantity } } } } } } } }",
    ),
];

#[tokio::main]
async fn main() {
    let secret = Secret::new(kit::auth::random_secret());
    let clock = kit::testing::clock();
    let mut config = GatewayConfig::default();
    let mut apps = Vec::new();
    for spec in [&member::SPEC, &store::SPEC, &product::SPEC, &alliance::SPEC] {
        let app = spawn_on(spec, TestDatabase::sqlite(), secret.clone(), clock.clone()).await;
        (spec.seed_demo)(&app.ctx).await.expect("demo data");
        config
            .url_overrides
            .insert(spec.name.to_owned(), format!("{}/graphql", app.address));
        apps.push(app);
    }
    let recorded = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let mut recording = config.clone();
    for (name, target) in config.url_overrides.iter() {
        recording.url_overrides.insert(
            name.clone(),
            recorder(target.clone(), recorded.clone()).await,
        );
    }
    let recording_url = serve(recording).await;
    let mut urls = Vec::new();
    for coalesce in [true, false] {
        let mut config = config.clone();
        config.coalesce_subgraph_fetches = coalesce;
        let mode = if coalesce { "coalesced" } else { "separate" };
        urls.push((mode, serve(config).await));
    }
    let mut bare = config.clone();
    bare.compression = false;
    let mut edge = config.clone();
    edge.compression = true;
    edge.cors = kit::edge::cors_layer(
        &serde_json::from_value(json!({ "allow_origins": [ORIGIN] })).unwrap(),
    )
    .unwrap();
    edge.rate_limits = gateway::rate_limit::RateLimits::new(
        &serde_json::from_value(json!({
            "roles": { "operator": { "per_minute": 60_000_000, "burst": 1_000_000 } },
        }))
        .unwrap(),
    )
    .unwrap()
    .map(Arc::new);
    let (bare, edge) = (serve(bare).await, serve(edge).await);
    println!(
        "gateway over HTTP, {REQUESTS} requests per row, subgraphs on SQLite in the same process;"
    );
    println!(
        "8 clients send the same query, so identical subgraph fetches are shared unless coalescing is off"
    );
    let client = reqwest::Client::new();
    let token = format!("Bearer {}", apps[0].operator_token());
    // `BENCH_EDGE_ONLY=1`: only the edge pairs (their figures are the
    // ones a change to the edge moves).
    let main_rows = std::env::var_os("BENCH_EDGE_ONLY").is_none();
    for (name, query) in QUERIES.iter().filter(|_| main_rows) {
        recorded.lock().unwrap().clear();
        let body = json!({ "query": query }).to_string();
        let size = ask(&client, &recording_url, &body, &token).await;
        let fetches = recorded.lock().unwrap().clone();
        println!(
            "{name}: answer {size} bytes, {} subgraph requests",
            fetches.len()
        );
        let rows = [
            (1usize, "coalesced", Target::Gateway(&urls[0].1)),
            (8, "coalesced", Target::Gateway(&urls[0].1)),
            (8, "separate", Target::Gateway(&urls[1].1)),
            (1, "reference", Target::Direct(&fetches)),
            (8, "reference", Target::Direct(&fetches)),
        ];
        for (clients, mode, target) in rows {
            if matches!(target, Target::Direct(f) if f.is_empty()) {
                continue; // the gateway answered alone: nothing to compare
            }
            let latencies = run_row(&client, &token, &body, clients, &target).await;
            println!(
                "{name:<12} clients={clients} {mode:<9}  {:>6.0} req/s  {latencies}",
                latencies.per_second()
            );
        }
    }
    println!(
        "production edge, 8 clients: {EDGE_PAIRS} interleaved pairs per query (which runs first alternates), median req/s [min-max]; load average before: {}",
        load_average()
    );
    for (name, query) in QUERIES {
        let body = json!({ "query": query }).to_string();
        let (mut off, mut on) = (Vec::new(), Vec::new());
        for pair in 0..EDGE_PAIRS {
            let order = if pair % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for edge_on in order {
                let target = if edge_on {
                    Target::Edge(&edge)
                } else {
                    Target::Gateway(&bare)
                };
                let rate = run_row(&client, &token, &body, 8, &target)
                    .await
                    .per_second();
                if edge_on {
                    on.push(rate)
                } else {
                    off.push(rate)
                }
            }
        }
        let (off, on) = (Spread::of(off), Spread::of(on));
        println!(
            "{name:<12} edge off {off}  edge on {on}  ratio {:.2}",
            on.median / off.median
        );
    }
    println!("load average after: {}", load_average());
    drop(apps);
}

/// How many interleaved edge-off/edge-on pairs each query runs.
const EDGE_PAIRS: usize = 9;

/// Several runs' requests/s: median and range.
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(mut rates: Vec<f64>) -> Self {
        rates.sort_by(f64::total_cmp);
        Self {
            median: rates[rates.len() / 2],
            min: rates[0],
            max: rates[rates.len() - 1],
        }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>6.0} req/s [{:.0}-{:.0}]",
            self.median, self.min, self.max
        )
    }
}

/// The machine's 1-, 5- and 15-minute load averages (Linux), or "unknown".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// [`REQUESTS`] requests of `body` to `target` from `clients` clients at
/// once; their latencies.
async fn run_row(
    client: &reqwest::Client,
    token: &str,
    body: &str,
    clients: usize,
    target: &Target<'_>,
) -> Latencies {
    let per_client = REQUESTS / clients;
    let started = Instant::now();
    let tasks = (0..clients).map(|_| {
        let (client, token) = (client.clone(), token.to_owned());
        let requests: Vec<(String, String)> = match target {
            Target::Gateway(url) | Target::Edge(url) => vec![((*url).clone(), body.to_owned())],
            Target::Direct(fetches) => (*fetches).clone(),
        };
        let browser = matches!(target, Target::Edge(_));
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for _ in 0..per_client {
                let t = Instant::now();
                for (url, body) in &requests {
                    if browser {
                        ask_as_browser(&client, url, body, &token).await;
                    } else {
                        ask(&client, url, body, &token).await;
                    }
                }
                latencies.push(t.elapsed());
            }
            latencies
        })
    });
    Latencies::of_clients(tasks, started).await
}
/// The web page's origin the edge rows send (and the gateway allows).
const ORIGIN: &str = "https://shop.example.com";

enum Target<'a> {
    Gateway(&'a String),
    /// A gateway with its production edge on, asked as a browser page does.
    Edge(&'a String),
    /// The subgraph requests (URL, body) a gateway made for the query.
    Direct(&'a Vec<(String, String)>),
}

/// Sends one request as a page on [`ORIGIN`] does, asking for gzip; checks
/// the answer is allowed, gzipped, and without errors.
async fn ask_as_browser(client: &reqwest::Client, url: &str, body: &str, token: &str) {
    let answer = client
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", token)
        .header("origin", ORIGIN)
        .header("accept-encoding", "gzip")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["access-control-allow-origin"], ORIGIN);
    let gzipped = answer
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let bytes = answer.bytes().await.unwrap();
    let bytes = if gzipped {
        use std::io::Read as _;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(&bytes[..])
    };
    let r: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(r.get("errors").is_none(), "{r}");
}

/// Sends one request and checks it answered without errors; its size.
async fn ask(client: &reqwest::Client, url: &str, body: &str, token: &str) -> usize {
    let bytes = client
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", token)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let r: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(r.get("errors").is_none(), "{r}");
    bytes.len()
}

async fn serve(config: GatewayConfig) -> String {
    let gateway = Arc::new(
        Gateway::new(include_str!("../../schema/supergraph.graphql"), config).expect("supergraph"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, gateway::router(gateway)).await });
    url
}

/// A pass-through to `target` that records each request body it forwards.
async fn recorder(
    target: String,
    recorded: Arc<std::sync::Mutex<Vec<(String, String)>>>,
) -> String {
    let client = reqwest::Client::new();
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            recorded
                .lock()
                .unwrap()
                .push((target.clone(), body.clone()));
            let (client, target) = (client.clone(), target.clone());
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            async move {
                let answer: Value = client
                    .post(&target)
                    .header("content-type", "application/json")
                    .header("authorization", token)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                axum::Json(answer)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
