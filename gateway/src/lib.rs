//! The bigmember gateway: one GraphQL endpoint over the subgraphs of a
//! Federation v2 supergraph.
//!
//! A request goes: `handlers` (the HTTP edge) → [`Gateway::execute`]: the
//! caller's token checked; the operation prepared (`prepare`: parsed,
//! measured against the limits, validated, planned, cached); variables
//! coerced (`variables`); the plan run (`execute`, fetching through
//! `subgraph`, coalescing through `inflight`, merging in `data`); the
//! answer written (`projection`). Each of those files has one job.

pub mod arguments;
pub mod data;
pub mod documents;
pub mod error;
pub mod execute;
pub mod graphiql;
pub mod handlers;
pub mod inflight;
pub mod introspection;
pub mod json;
pub mod limits;
pub mod prepare;
pub mod projection;
pub mod rate_limit;
pub mod shared_store;
pub mod subgraph;
pub mod suggest;
pub mod supergraph;
pub mod variables;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use hive_router_query_planner::state::supergraph_state::OperationKind;
use http::{HeaderMap, HeaderName, HeaderValue};
use kit::ErrorCode;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::data::Part;
pub use crate::error::{GraphqlError, Refusal};
use crate::execute::Execution;
pub use crate::handlers::router;
use crate::inflight::InFlight;
pub use crate::limits::Limits;
use crate::prepare::{PrepareSettings, Prepared, Preparer, TypeNameArg};
use crate::projection::Writer;
pub use crate::subgraph::TraceparentOf;
use crate::subgraph::{ClientSettings, Subgraphs};
use crate::supergraph::{LoadError, Supergraph};

/// Checks a bearer token into the caller it names; the error says why it
/// is refused.
pub type TokenVerifier = Arc<dyn Fn(&str) -> Result<kit::auth::Caller, String> + Send + Sync>;

/// Subgraph URL overrides by name, e.g. from configuration.
pub type UrlOverrides = std::collections::BTreeMap<String, String>;

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
    /// How long an idle connection to a subgraph is kept.
    pub pool_idle_timeout: Duration,
    /// Prepared operations kept (plans and validation results).
    pub plan_cache_size: usize,
    /// How long planning one operation may take.
    pub plan_timeout: Duration,
    /// The size limits every operation is measured against first.
    pub limits: Limits,
    /// Whether `__schema` and `__type` are answered (from the API schema).
    pub introspection: bool,
    /// Whether identical subgraph fetches of reads in flight at once are
    /// sent once.
    pub coalesce_subgraph_fetches: bool,
    /// Whether identical client queries in flight at once (same text,
    /// operation, variables and `Authorization`) are executed once.
    pub coalesce_client_requests: bool,
    /// Names a span as a W3C `traceparent`. When set, each subgraph fetch
    /// carries its own span as the parent of the subgraph's.
    pub traceparent_of: Option<TraceparentOf>,
    /// The body limit and the timeout of every request.
    pub http: kit::config::HttpSettings,
    /// Which browser origins may call the graph (default: none).
    pub cors: kit::edge::CorsLayer,
    /// Whether answers are compressed for clients that accept it.
    pub compression: bool,
    /// Which client request headers go to which subgraph.
    pub headers: subgraph::HeaderPropagation,
    /// Token buckets per caller (none: no limits).
    pub rate_limits: Option<Arc<rate_limit::RateLimits>>,
    /// The trusted documents, which operations run, and the APQ store.
    pub documents: Arc<documents::Documents>,
    /// Which subgraphs get gzipped request bodies.
    pub compress_subgraph_requests: subgraph::RequestCompression,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            verify_token: None,
            url_overrides: UrlOverrides::new(),
            subgraph_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(30),
            plan_cache_size: 1_000,
            plan_timeout: Duration::from_secs(5),
            limits: Limits::default(),
            introspection: true,
            coalesce_subgraph_fetches: true,
            coalesce_client_requests: false,
            traceparent_of: None,
            http: kit::config::HttpSettings::default(),
            cors: kit::edge::CorsLayer::new(),
            compression: true,
            headers: subgraph::HeaderPropagation::default(),
            rate_limits: None,
            documents: Arc::default(),
            compress_subgraph_requests: subgraph::RequestCompression::None,
        }
    }
}

/// A GraphQL-over-HTTP request body (or GET parameters): the operation's
/// text, or the id of a trusted document, or an APQ hash in
/// `extensions.persistedQuery` (see [`documents`]).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphqlRequest {
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub document_id: Option<String>,
    #[serde(default)]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<Map<String, Value>>,
    #[serde(default)]
    pub extensions: Option<Map<String, Value>>,
}

/// What the gateway answers: a GraphQL response body, or a refusal (no
/// data) whose code decides the HTTP status.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The body, and the subgraph response headers passed back.
    Data(Bytes, Vec<(HeaderName, HeaderValue)>),
    Refused(Refusal),
}

impl Answer {
    /// The body as JSON (tests and tools).
    pub fn to_json(&self) -> Value {
        match self {
            Answer::Data(b, _) => serde_json::from_slice(b).unwrap_or(Value::Null),
            Answer::Refused(r) => serde_json::from_slice(&r.body()).unwrap_or(Value::Null),
        }
    }
}

/// A supergraph and the plans made for it: swapped together, so that no
/// request ever runs a plan of one supergraph against another.
struct Loaded {
    supergraph: Arc<Supergraph>,
    preparer: Arc<Preparer>,
}

/// What makes two client queries identical.
#[derive(Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    query: documents::DocumentText,
    operation_name: Option<String>,
    variables: String,
    /// The forwarded headers that can change the answer.
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// A running gateway's shared state. The supergraph can be swapped while
/// requests are in flight: each request keeps the one it started with.
pub struct Gateway {
    loaded: RwLock<Arc<Loaded>>,
    subgraphs: Arc<Subgraphs>,
    config: GatewayConfig,
    clients: InFlight<ClientKey, Answer>,
}

impl Gateway {
    pub fn new(supergraph_sdl: &str, config: GatewayConfig) -> Result<Self, LoadError> {
        let loaded = Self::load(supergraph_sdl, &config)?;
        Ok(Self {
            loaded: RwLock::new(loaded),
            subgraphs: Arc::new(Subgraphs::new(ClientSettings {
                timeout: config.subgraph_timeout,
                pool_idle_timeout: config.pool_idle_timeout,
                coalesce: config.coalesce_subgraph_fetches,
                traceparent_of: config.traceparent_of.clone(),
                headers: config.headers.clone(),
                compression: config.compress_subgraph_requests.clone(),
            })),
            config,
            clients: InFlight::default(),
        })
    }

    fn load(supergraph_sdl: &str, config: &GatewayConfig) -> Result<Arc<Loaded>, LoadError> {
        let supergraph = Supergraph::load(supergraph_sdl, &config.url_overrides)?;
        // A header list or a compression entry for a subgraph the
        // supergraph lacks is a typo, not a setting to keep for later.
        let unknown = |key: String| {
            LoadError::UnknownSubgraph(
                key,
                supergraph
                    .subgraphs
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        };
        let lacks = |name: &&String| !supergraph.subgraphs.contains_key(*name);
        if let Some(name) = config.headers.by_subgraph.keys().find(lacks) {
            return Err(unknown(format!("gateway.headers.subgraphs.{name}")));
        }
        if let subgraph::RequestCompression::Only(names) = &config.compress_subgraph_requests
            && let Some(name) = names.iter().find(lacks)
        {
            return Err(unknown(format!(
                "gateway.compress_subgraph_requests: {name}"
            )));
        }
        Ok(Arc::new(Loaded {
            supergraph: Arc::new(supergraph),
            preparer: Arc::new(Preparer::new(
                config.plan_cache_size,
                PrepareSettings {
                    introspection: config.introspection,
                    limits: config.limits,
                    plan_timeout: config.plan_timeout,
                },
            )),
        }))
    }

    /// Replaces the trusted documents' manifest (a text that does not load
    /// leaves the old one); the number of documents now trusted.
    pub fn reload_documents(&self, manifest: &str) -> Result<usize, String> {
        self.config.documents.reload(manifest)
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

    /// The supergraph being served.
    pub fn current_supergraph(&self) -> Arc<Supergraph> {
        self.current().supergraph.clone()
    }

    /// The query plan of an operation, as the planner prints it (tests,
    /// snapshots, and reading what the gateway does).
    pub async fn plan_text(
        &self,
        query: &str,
        operation_name: Option<&str>,
    ) -> Result<String, Refusal> {
        let loaded = self.current();
        let prepared = loaded
            .preparer
            .prepare(&loaded.supergraph, query, operation_name)
            .await?;
        Ok(prepared.plan.to_string())
    }

    /// Subgraph fetches in flight and shared (tests).
    pub fn fetches_in_flight(&self) -> usize {
        self.subgraphs.in_flight()
    }

    /// Client requests in flight and shared (tests).
    pub fn requests_in_flight(&self) -> usize {
        self.clients.len()
    }

    /// Executes one GraphQL request from `peer` (the client's address, for
    /// the rate limits of anonymous callers).
    pub async fn execute(
        &self,
        request: GraphqlRequest,
        headers: &HeaderMap,
        allow_mutation: bool,
        peer: Option<std::net::IpAddr>,
    ) -> Answer {
        let caller = match self.authenticate(headers) {
            Ok(caller) => caller,
            Err(reason) => {
                return Answer::Refused(Refusal::new(ErrorCode::Unauthenticated, reason));
            }
        };
        // Who is counted: made only when limits are configured (no
        // allocation on the request path otherwise).
        let counted = self
            .config
            .rate_limits
            .as_ref()
            .map(|limits| (limits, rate_limit::caller_key(&caller, peer)));
        if let Some((limits, who)) = &counted
            && let Err(limited) = limits.check_caller(who).await
        {
            return Answer::Refused(Refusal::rate_limited(
                limited,
                &format!("role {}", who.role),
            ));
        }
        let resolved = match self
            .config
            .documents
            .resolve(documents::DocumentRef {
                query: request.query,
                document_id: request.document_id.as_deref(),
                extensions: request.extensions.as_ref(),
            })
            .await
        {
            Ok(resolved) => resolved,
            Err(refusal) => return Answer::Refused(refusal),
        };
        let loaded = self.current();
        let prepared = match loaded
            .preparer
            .prepare(
                &loaded.supergraph,
                &resolved.text,
                request.operation_name.as_deref(),
            )
            .await
        {
            Ok(p) => p,
            Err(refusal) => return Answer::Refused(refusal),
        };
        self.config
            .documents
            .prepared(&resolved, prepared.operation.name.as_deref())
            .await;
        let query = resolved.text;
        if let Some((limits, who)) = &counted
            && let Err(limited) = limits
                .check_operation(prepared.operation.name.as_deref(), who)
                .await
        {
            let name = prepared.operation.name.as_deref().unwrap_or_default();
            return Answer::Refused(Refusal::rate_limited(limited, &format!("operation {name}")));
        }
        let mutation = prepared.kind == OperationKind::Mutation;
        if mutation && !allow_mutation {
            return Answer::Refused(Refusal::new(
                ErrorCode::MethodNotAllowed,
                "mutations are not allowed over GET; use POST",
            ));
        }
        let provided = request.variables.unwrap_or_default();
        let vars = match variables::coerce(&loaded.supergraph.api, &prepared.variables, &provided) {
            Ok(v) => v,
            Err(message) => {
                return Answer::Refused(Refusal::new(ErrorCode::BadUserInput, message));
            }
        };
        let forwarded = self.config.headers.kept(headers);
        if !self.config.coalesce_client_requests || prepared.kind != OperationKind::Query {
            return self.run(&loaded, &prepared, &vars, &forwarded).await;
        }
        let key = ClientKey {
            query,
            operation_name: request.operation_name,
            variables: serde_json::to_string(&vars).unwrap_or_default(),
            headers: subgraph::distinguishing(forwarded.iter()),
        };
        // The shared run owns what it needs: whoever started it may hang up.
        let subgraphs = self.subgraphs.clone();
        self.clients
            .run(key, async move {
                run_plan(&loaded.supergraph, &prepared, &subgraphs, &vars, &forwarded).await
            })
            .await
    }

    /// Runs a prepared operation's plan and writes the answer.
    async fn run(
        &self,
        loaded: &Loaded,
        prepared: &Prepared,
        vars: &variables::Coerced,
        forwarded: &HeaderMap,
    ) -> Answer {
        run_plan(
            &loaded.supergraph,
            prepared,
            &self.subgraphs,
            vars,
            forwarded,
        )
        .await
    }

    /// The caller a request's token names; anonymous without a token (or
    /// without a verifier: then subgraphs alone decide).
    fn authenticate(&self, headers: &HeaderMap) -> Result<kit::auth::Caller, String> {
        let Some(verify) = &self.config.verify_token else {
            return Ok(kit::auth::Caller::Anonymous);
        };
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Ok(kit::auth::Caller::Anonymous);
        };
        let token = kit::auth::bearer_token(value).map_err(|e| e.message)?;
        verify(token)
    }
}

/// Runs the plan, answers introspection, and writes the response.
async fn run_plan(
    supergraph: &Supergraph,
    prepared: &Prepared,
    subgraphs: &Subgraphs,
    vars: &variables::Coerced,
    forwarded: &HeaderMap,
) -> Answer {
    let shareable = prepared.kind == OperationKind::Query;
    let execution = Execution::new(supergraph, prepared, subgraphs, vars, forwarded, shareable);
    for field in &prepared.introspection {
        let doc = match &field.type_name {
            None => Some(supergraph.introspection.schema.clone()),
            Some(TypeNameArg::Literal(name)) => supergraph.introspection.type_named(name),
            Some(TypeNameArg::Variable(var)) => vars
                .get(var)
                .and_then(Value::as_str)
                .and_then(|name| supergraph.introspection.type_named(name)),
        };
        let part = doc.map(|doc| {
            let node = doc.root();
            Part {
                doc: execution.add_document(doc, true),
                node,
            }
        });
        execution.set_introspection(&field.response_key, part);
    }
    if let Some(node) = &prepared.plan.node {
        execution.run(node).await;
    }
    let outcome = execution.finish();
    let last = prepared
        .answer_size
        .load(std::sync::atomic::Ordering::Relaxed);
    let capacity = last + last / 16 + 256;
    let writer = Writer::new(
        &supergraph.api,
        &prepared.projection,
        &outcome.data,
        vars,
        &outcome.failures,
        outcome.errors,
        capacity,
    );
    let (body, _) = writer.finish();
    prepared
        .answer_size
        .store(body.len(), std::sync::atomic::Ordering::Relaxed);
    Answer::Data(Bytes::from(body), outcome.headers)
}
