//! The graph every case runs against: the four subgraphs on random ports,
//! each behind a counting TCP relay, and the gateway over the checked-in
//! supergraph. Records every subgraph request body and how many
//! connections to each subgraph are open.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::{EmptySubscription, ObjectType, SDLExportOptions, Schema};
use async_graphql_axum::GraphQLResponse;
use axum::Router;
use axum::routing::post;
use gateway::{Gateway, GatewayConfig};
use serde_json::{Value, json};

use crate::{accounts, inventory, products, reviews};

pub const SUBGRAPHS: [&str; 4] = ["accounts", "products", "inventory", "reviews"];

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/fixtures")
}

fn sdl<Q: ObjectType + 'static, M: ObjectType + 'static>(
    schema: &Schema<Q, M, EmptySubscription>,
) -> String {
    schema.sdl_with_options(SDLExportOptions::new().federation())
}

pub fn subgraph_sdls() -> [(&'static str, String); 4] {
    [
        ("accounts", sdl(&accounts::schema(Default::default()))),
        ("products", sdl(&products::schema())),
        ("inventory", sdl(&inventory::schema(Default::default()))),
        ("reviews", sdl(&reviews::schema())),
    ]
}

/// What one subgraph has been asked, and how it is reached.
#[derive(Default)]
pub struct Recorder {
    /// Request bodies, in arrival order.
    bodies: Mutex<Vec<Value>>,
    /// TCP connections from the gateway open right now.
    open: AtomicUsize,
    /// How long the subgraph waits before answering, in ms.
    delay_ms: AtomicU64,
}

/// The gateway in front of the four subgraphs.
pub struct Graph {
    pub url: String,
    client: reqwest::Client,
    recorders: HashMap<&'static str, Arc<Recorder>>,
}

async fn serve<Q, M>(schema: Schema<Q, M, EmptySubscription>, recorder: Arc<Recorder>) -> String
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
{
    let bodies = recorder.clone();
    let app = Router::new().route(
        "/graphql",
        post(move |body: axum::body::Bytes| {
            let schema = schema.clone();
            let recorder = bodies.clone();
            async move {
                let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                recorder.bodies.lock().unwrap().push(value);
                let delay = recorder.delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                let request: async_graphql::Request = match serde_json::from_slice(&body) {
                    Ok(request) => request,
                    Err(e) => {
                        return GraphQLResponse::from(async_graphql::Response::from_errors(vec![
                            async_graphql::ServerError::new(e.to_string(), None),
                        ]));
                    }
                };
                GraphQLResponse::from(schema.execute(request).await)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let inner = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    relay(inner, recorder).await
}

/// A TCP relay in front of a subgraph that counts open connections, so a
/// test can see the gateway's pool close idle ones.
async fn relay(target: std::net::SocketAddr, recorder: Arc<Recorder>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let recorder = recorder.clone();
            recorder.open.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
                recorder.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    url
}

/// The graph with the default configuration.
pub async fn graph() -> Graph {
    graph_with(|_| {}).await
}

/// The graph, with the gateway's configuration changed first.
pub async fn graph_with(tweak: impl FnOnce(&mut GatewayConfig)) -> Graph {
    let recorders: HashMap<&'static str, Arc<Recorder>> = SUBGRAPHS
        .iter()
        .map(|name| (*name, Arc::new(Recorder::default())))
        .collect();
    let urls = [
        serve(
            accounts::schema(Default::default()),
            recorders["accounts"].clone(),
        )
        .await,
        serve(products::schema(), recorders["products"].clone()).await,
        serve(
            inventory::schema(Default::default()),
            recorders["inventory"].clone(),
        )
        .await,
        serve(reviews::schema(), recorders["reviews"].clone()).await,
    ];
    let mut config = GatewayConfig::default();
    for (name, url) in SUBGRAPHS.iter().zip(urls) {
        config.url_overrides.insert((*name).to_owned(), url);
    }
    tweak(&mut config);
    let supergraph = std::fs::read_to_string(fixtures().join("supergraph.graphql")).unwrap();
    let gateway = Arc::new(Gateway::new(&supergraph, config).expect("the fixture loads"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, gateway::router(gateway)).await });
    Graph {
        url,
        client: reqwest::Client::new(),
        recorders,
    }
}

/// A URL that refuses every connection: a subgraph that is down. Its port
/// stays held (never listening) for the rest of the test process, so no
/// other test's server can come up there.
pub async fn down() -> String {
    let closed = kit::testing::ClosedPort::new();
    let url = closed.url("/graphql");
    std::mem::forget(closed);
    url
}

impl Graph {
    pub async fn ask(&self, query: &str, variables: Value) -> Value {
        self.post(json!({ "query": query, "variables": variables }))
            .await
    }

    /// Sends any request body; answers the response body.
    pub async fn post(&self, body: Value) -> Value {
        self.post_as(None, body).await
    }

    /// Sends a request body, with a bearer token when given.
    async fn post_as(&self, token: Option<&str>, body: Value) -> Value {
        let mut request = self.client.post(&self.url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    /// Asserts the whole response, field order included.
    pub async fn expect(&self, query: &str, variables: Value, expected: Value) {
        let actual = self.ask(query, variables).await;
        assert_eq!(
            serde_json::to_string_pretty(&actual).unwrap(),
            serde_json::to_string_pretty(&expected).unwrap(),
            "for {query}"
        );
    }

    /// Requests each subgraph has received so far.
    pub fn calls(&self) -> HashMap<&'static str, usize> {
        self.recorders
            .iter()
            .map(|(name, r)| (*name, r.bodies.lock().unwrap().len()))
            .collect()
    }

    /// The request bodies one subgraph has received so far.
    pub fn bodies(&self, subgraph: &str) -> Vec<Value> {
        self.recorders[subgraph].bodies.lock().unwrap().clone()
    }

    /// Forgets what the subgraphs have been asked.
    pub fn forget_calls(&self) {
        for r in self.recorders.values() {
            r.bodies.lock().unwrap().clear();
        }
    }

    /// TCP connections from the gateway to one subgraph open right now.
    pub fn open_connections(&self, subgraph: &str) -> usize {
        self.recorders[subgraph].open.load(Ordering::SeqCst)
    }

    /// How long a subgraph waits before it answers (after recording the
    /// request).
    pub fn set_delay(&self, subgraph: &str, delay: Duration) {
        self.recorders[subgraph]
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// A client that hangs up after `after`.
    pub async fn ask_and_hang_up(&self, query: &str, after: Duration) {
        let sent = self
            .client
            .post(&self.url)
            .json(&json!({ "query": query }))
            .timeout(after)
            .send()
            .await;
        assert!(sent.is_err(), "the answer came before the hang-up");
    }

    /// `ask` with a bearer token.
    pub async fn ask_as(&self, token: &str, query: &str) -> Value {
        self.post_as(Some(token), json!({ "query": query })).await
    }
}

/// The `path` of each error of a response, in order.
pub fn error_paths(response: &Value) -> Vec<Value> {
    response["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| e["path"].clone()).collect())
        .unwrap_or_default()
}

/// Expected request counts: every subgraph not named was asked nothing.
pub fn counts(pairs: &[(&'static str, usize)]) -> HashMap<&'static str, usize> {
    SUBGRAPHS
        .iter()
        .map(|name| {
            let n = pairs.iter().find(|(n, _)| n == name).map_or(0, |p| p.1);
            (*name, n)
        })
        .collect()
}
