//! The bigmember gateway: one GraphQL endpoint over the subgraphs of a
//! Federation v2 supergraph. Operations are validated against the API
//! schema, planned by `hive-router-query-planner`, and executed here
//! (`execute`), then projected onto the client's selection (`response`).

pub mod execute;
pub mod graphiql;
pub mod introspection;
pub mod prepare;
pub mod response;
pub mod supergraph;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::{FutureExt as _, Shared};
use hive_router_query_planner::state::supergraph_state::OperationKind;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use execute::{Execution, Subgraphs, UrlOverrides};
use prepare::Preparer;
use supergraph::{LoadError, Supergraph};

/// Checks a bearer token; the error says why it is refused.
pub type TokenVerifier = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Settings of a gateway.
#[derive(Clone)]
pub struct GatewayConfig {
    /// When set, a request carrying `Authorization` is refused with
    /// UNAUTHENTICATED unless this accepts its bearer token, before any
    /// planning. Requests without one pass (subgraphs decide what an
    /// anonymous caller may see).
    pub verify_token: Option<TokenVerifier>,
    /// Subgraph URLs by name, replacing the supergraph's `join__graph` urls.
    pub url_overrides: UrlOverrides,
    /// How long one subgraph request may take.
    pub subgraph_timeout: Duration,
    /// Prepared operations kept (plans and validation results).
    pub plan_cache_size: usize,
    /// Whether `__schema` and `__type` are answered (from the API schema).
    pub introspection: bool,
    /// Whether identical subgraph fetches in flight at once are sent once.
    pub coalesce_subgraph_fetches: bool,
    /// Whether identical client queries in flight at once (same text,
    /// operation, variables and `Authorization`) are executed once.
    pub coalesce_client_requests: bool,
    /// Names a span as a W3C `traceparent`. When set, each subgraph fetch
    /// carries its own span as the parent of the subgraph's.
    pub traceparent_of: Option<TraceparentOf>,
}

/// See [`GatewayConfig::traceparent_of`].
pub type TraceparentOf = Arc<dyn Fn(&tracing::Span) -> Option<String> + Send + Sync>;

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            verify_token: None,
            url_overrides: UrlOverrides::new(),
            subgraph_timeout: Duration::from_secs(10),
            plan_cache_size: 1_000,
            introspection: true,
            coalesce_subgraph_fetches: true,
            coalesce_client_requests: false,
            traceparent_of: None,
        }
    }
}

/// A running gateway's shared state. The supergraph can be swapped while
/// requests are in flight: each request keeps the one it started with.
pub struct Gateway {
    loaded: RwLock<Arc<Loaded>>,
    subgraphs: Subgraphs,
    config: GatewayConfig,
    /// Client queries being executed, when coalescing them: followers wait
    /// for the leader's answer.
    in_flight: Mutex<HashMap<ClientKey, Shared<oneshot::Receiver<Arc<Value>>>>>,
}

/// The request that executes a coalesced query. Its entry leaves the
/// in-flight map when it answers or, if its client hung up, when it is
/// dropped (its followers then run on their own).
struct Leader<'g> {
    in_flight: &'g Mutex<HashMap<ClientKey, Shared<oneshot::Receiver<Arc<Value>>>>>,
    key: ClientKey,
    answer: Option<oneshot::Sender<Arc<Value>>>,
}

impl Leader<'_> {
    fn answer(&mut self, body: &Value) {
        let waiting = self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
        // Copied only when someone waits for it.
        let followed = waiting.is_some_and(|w| w.strong_count().is_some_and(|n| n > 1));
        if let Some(tx) = self.answer.take()
            && followed
        {
            let _ = tx.send(Arc::new(body.clone()));
        }
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        if self.answer.is_some() {
            self.in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&self.key);
        }
    }
}

/// What makes two client queries identical.
#[derive(Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    query: String,
    operation_name: Option<String>,
    variables: String,
    credentials: Option<axum::http::HeaderValue>,
}

/// A supergraph and the plans made for it: swapped together, so that no
/// request ever runs a plan of one supergraph against another.
struct Loaded {
    supergraph: Supergraph,
    preparer: Preparer,
}

/// Headers passed on to subgraphs.
const FORWARDED: [&str; 4] = ["authorization", "traceparent", "tracestate", "x-request-id"];

impl Gateway {
    pub fn new(supergraph_sdl: &str, config: GatewayConfig) -> Result<Self, LoadError> {
        let loaded = Self::load(supergraph_sdl, &config)?;
        Ok(Self {
            loaded: RwLock::new(loaded),
            subgraphs: Subgraphs::new(
                config.subgraph_timeout,
                config.coalesce_subgraph_fetches,
                config.traceparent_of.clone(),
            ),
            config,
            in_flight: Mutex::default(),
        })
    }

    fn load(supergraph_sdl: &str, config: &GatewayConfig) -> Result<Arc<Loaded>, LoadError> {
        Ok(Arc::new(Loaded {
            supergraph: Supergraph::load(supergraph_sdl, &config.url_overrides)?,
            preparer: Preparer::new(config.plan_cache_size, config.introspection),
        }))
    }

    /// Replaces the supergraph and, with it, the plans made for the old one.
    pub fn reload(&self, supergraph_sdl: &str) -> Result<(), LoadError> {
        let next = Self::load(supergraph_sdl, &self.config)?;
        *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(())
    }

    fn current(&self) -> Arc<Loaded> {
        self.loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Executes one GraphQL request; the answer is a GraphQL response body.
    pub async fn execute(
        &self,
        request: GraphqlRequest,
        headers: &HeaderMap,
        allow_mutation: bool,
    ) -> Value {
        if let Err(reason) = self.authenticate(headers) {
            return json!({ "errors": [{ "message": reason, "extensions": { "code": "UNAUTHENTICATED" } }] });
        }
        let loaded = self.current();
        let supergraph = &loaded.supergraph;
        let prepared = match loaded.preparer.prepare(
            supergraph,
            &request.query,
            request.operation_name.as_deref(),
        ) {
            Ok(p) => p,
            Err(refusal) => return json!({ "errors": refusal.errors }),
        };
        if !allow_mutation && prepared.kind == OperationKind::Mutation {
            return json!({ "errors": [{ "message": "mutations are not allowed over GET; use POST", "extensions": { "code": "METHOD_NOT_ALLOWED" } }] });
        }
        let variables = request.variables.unwrap_or_default();
        if !self.config.coalesce_client_requests || prepared.kind != OperationKind::Query {
            return self.run(&loaded, &prepared, variables, headers).await;
        }
        let key = ClientKey {
            query: request.query,
            operation_name: request.operation_name,
            variables: serde_json::to_string(&variables).unwrap_or_default(),
            credentials: headers.get(axum::http::header::AUTHORIZATION).cloned(),
        };
        let follow = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            match in_flight.get(&key) {
                Some(answer) => Err(answer.clone()),
                None => {
                    let (tx, rx) = oneshot::channel();
                    in_flight.insert(key.clone(), rx.shared());
                    Ok(Leader {
                        in_flight: &self.in_flight,
                        key,
                        answer: Some(tx),
                    })
                }
            }
        };
        match follow {
            Ok(mut leader) => {
                let body = self.run(&loaded, &prepared, variables, headers).await;
                leader.answer(&body);
                body
            }
            // A leader that went away (its client hung up) answers nothing:
            // then this request runs on its own.
            Err(answer) => match answer.await {
                Ok(body) => Value::clone(&body),
                Err(_) => self.run(&loaded, &prepared, variables, headers).await,
            },
        }
    }

    /// Runs a prepared operation's plan and shapes the answer.
    async fn run(
        &self,
        loaded: &Loaded,
        prepared: &prepare::Prepared,
        variables: Map<String, Value>,
        headers: &HeaderMap,
    ) -> Value {
        let supergraph = &loaded.supergraph;
        let mut forwarded = reqwest::header::HeaderMap::new();
        for name in FORWARDED {
            if let Some(v) = headers.get(name) {
                forwarded.insert(HeaderName::from_static(name), v.clone());
            }
        }
        let execution = Execution::new(supergraph, &self.subgraphs, &variables, &forwarded);
        if let Some(node) = &prepared.plan.node {
            execution.run(node).await;
        }
        let (mut merged, mut errors) = execution.finish();
        answer_introspection(supergraph, &prepared.operation, &variables, &mut merged);
        let data = response::project(
            &supergraph.api,
            &prepared.operation,
            &prepared.kind,
            &merged,
            &variables,
            &mut errors,
        );
        let mut body = Map::new();
        if !errors.is_empty() {
            body.insert("errors".into(), Value::Array(errors));
        }
        body.insert("data".into(), data);
        Value::Object(body)
    }
}

/// Puts the answers to root `__schema` and `__type` fields into the data.
fn answer_introspection(
    supergraph: &Supergraph,
    operation: &hive_router_query_planner::ast::operation::OperationDefinition,
    variables: &Map<String, Value>,
    merged: &mut Value,
) {
    use hive_router_query_planner::ast::selection_item::SelectionItem;
    use hive_router_query_planner::ast::value::Value as Arg;
    for item in &operation.selection_set.items {
        let SelectionItem::Field(field) = item else {
            continue;
        };
        let answer = match field.name.as_str() {
            "__schema" => supergraph.introspection.schema.clone(),
            "__type" => {
                let name = match field
                    .arguments
                    .as_ref()
                    .and_then(|a| a.get_argument("name"))
                {
                    Some(Arg::String(s)) => Some(s.clone()),
                    Some(Arg::Variable(v)) => {
                        variables.get(v).and_then(Value::as_str).map(str::to_owned)
                    }
                    _ => None,
                };
                name.map_or(Value::Null, |n| supergraph.introspection.type_named(&n))
            }
            _ => continue,
        };
        let key = field.alias.clone().unwrap_or_else(|| field.name.clone());
        if let Some(obj) = merged.as_object_mut() {
            obj.insert(key, answer);
        }
    }
}

impl Gateway {
    fn authenticate(&self, headers: &HeaderMap) -> Result<(), String> {
        let (Some(verify), Some(value)) = (&self.config.verify_token, headers.get("authorization"))
        else {
            return Ok(());
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or("Authorization must be `Bearer <token>`")?;
        verify(token)
    }
}

/// A GraphQL-over-HTTP request body (or GET parameters).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphqlRequest {
    pub query: String,
    #[serde(default)]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: String,
    operation_name: Option<String>,
    variables: Option<String>,
}

/// The gateway's HTTP routes.
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/", get(graphiql::landing))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(gateway)
}

async fn graphql_post(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Json<GraphqlRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    match body {
        Ok(Json(request)) => respond(gateway.execute(request, &headers, true).await, &headers),
        Err(rejection) => bad_request(&rejection.body_text()),
    }
}

/// Ready when the supergraph is loaded and every subgraph answers
/// `{ __typename }`; 503 naming the ones that do not.
async fn readyz(State(gateway): State<Arc<Gateway>>) -> Response {
    let loaded = gateway.current();
    let checks = loaded.supergraph.subgraphs.iter().map(|(name, url)| {
        let request = gateway.subgraphs.probe(url);
        async move { (name.clone(), request.await) }
    });
    let down: Vec<String> = futures::future::join_all(checks)
        .await
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name)
        .collect();
    if down.is_empty() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("subgraphs not answering: {}", down.join(", ")),
        )
            .into_response()
    }
}

async fn graphql_get(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let wants_html = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    // A browser opening the URL gets GraphiQL (with `?query=` in its editor).
    if wants_html {
        return axum::response::Html(graphiql::PAGE).into_response();
    }
    let Ok(Query(params)) = params else {
        return bad_request("a GET request needs ?query=");
    };
    let variables = match params
        .variables
        .as_deref()
        .map(serde_json::from_str::<Map<String, Value>>)
    {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => return bad_request("variables must be a JSON object"),
    };
    let request = GraphqlRequest {
        query: params.query,
        operation_name: params.operation_name,
        variables,
    };
    respond(gateway.execute(request, &headers, false).await, &headers)
}

/// GraphQL over HTTP: `application/graphql-response+json` when the client
/// accepts it, with 4xx for a request that produced no data; plain
/// `application/json` otherwise, 200. Whatever the client accepts, a
/// refused token is 401 and a mutation over GET 405.
fn respond(body: Value, headers: &HeaderMap) -> Response {
    const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
    let wants = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(GRAPHQL_RESPONSE));
    let code = body["errors"][0]["extensions"]["code"].as_str();
    // A refused credential or method is an HTTP matter whatever the client
    // accepts; other requests that produced no data are 400 only for
    // clients that speak application/graphql-response+json.
    let status = match (body.get("data").is_some(), code) {
        (false, Some("METHOD_NOT_ALLOWED")) => StatusCode::METHOD_NOT_ALLOWED,
        (false, Some("UNAUTHENTICATED")) => StatusCode::UNAUTHORIZED,
        (true, _) => StatusCode::OK,
        _ if !wants => StatusCode::OK,
        (false, _) => StatusCode::BAD_REQUEST,
    };
    let content_type = if wants {
        GRAPHQL_RESPONSE
    } else {
        "application/json"
    };
    (
        status,
        [(axum::http::header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(
            json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_REQUEST" } }] }),
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// The leader of a coalesced query is dropped mid-flight (its client
    /// hung up): its entry leaves the in-flight map with it, and the
    /// follower, left without an answer, runs the query itself.
    #[tokio::test]
    async fn a_follower_runs_on_its_own_when_the_leader_hangs_up() {
        // An alliance subgraph that accepts connections and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/graphql", silent.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        let listener = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                open.push(socket);
            }
        });
        let mut config = GatewayConfig {
            coalesce_client_requests: true,
            coalesce_subgraph_fetches: false,
            subgraph_timeout: Duration::from_millis(500),
            ..GatewayConfig::default()
        };
        config.url_overrides.insert("alliance".into(), url);
        let gateway = Arc::new(
            Gateway::new(include_str!("../../schema/supergraph.graphql"), config).unwrap(),
        );
        let ask = || {
            let gateway = gateway.clone();
            tokio::spawn(async move {
                let request = GraphqlRequest {
                    query: "{ programmes { id } }".into(),
                    operation_name: None,
                    variables: None,
                };
                gateway.execute(request, &HeaderMap::new(), false).await
            })
        };
        let leader = ask();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let follower = ask();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "the follower waits");
        leader.abort();
        let answer = tokio::time::timeout(Duration::from_secs(3), follower)
            .await
            .expect("the follower answers")
            .unwrap();
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "SUBGRAPH_UNAVAILABLE",
            "its own fetch timed out: {answer}"
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "it fetched itself");
        assert!(
            gateway.in_flight.lock().unwrap().is_empty(),
            "no entry is left behind"
        );
        listener.abort();
    }
}
