//! What a service is to the platform: a name, its migrations and its routes.
//! The kit adds the routes every service has (`/healthz`, `/readyz`,
//! `/metrics`, `/events`) and the request middleware (trace context, request
//! id, HTTP metrics), so the CLI and the tests start every service one way.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::{ObjectType, Schema, SubscriptionType};
use async_graphql_axum::GraphQLResponse;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRef, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures::future::BoxFuture;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::auth::{Caller, JwtKeys};
use crate::db::{ConnectSettings, StatementLog};
use crate::error::{ApiError, ErrorCode};
use crate::events::feed::serve_feed;
use crate::shutdown::Shutdown;
use crate::time::Clock;

/// Everything a service's handlers share.
#[derive(Clone)]
pub struct ServiceContext {
    pub name: &'static str,
    pub db: DatabaseConnection,
    pub keys: JwtKeys,
    pub config: Arc<crate::config::Config>,
    /// Where every "now" of the service comes from.
    pub clock: Clock,
    /// Asks the member service who a write for a member acts for.
    pub members: crate::members::MemberDirectory,
    /// The member service only: asks every other service for its part of a
    /// member's export.
    pub member_data: crate::members::MemberDataHolders,
}

impl FromRef<ServiceContext> for JwtKeys {
    fn from_ref(ctx: &ServiceContext) -> Self {
        ctx.keys.clone()
    }
}

pub type MigrateFn = for<'a> fn(&'a DatabaseConnection) -> BoxFuture<'a, Result<(), DbErr>>;
pub type BackgroundFn = fn(Background) -> Vec<BoxFuture<'static, ()>>;
/// A job: runs once over the service's database at the context's clock;
/// returns a summary line.
pub type JobFn = for<'a> fn(&'a ServiceContext) -> BoxFuture<'a, anyhow::Result<String>>;

/// A periodic job that an operator can also run by hand
/// (`bigmember job <name>`).
pub struct Job {
    pub name: &'static str,
    pub about: &'static str,
    pub run: JobFn,
}

/// Runs `job` now and then every `interval` until shutdown, logging what
/// it did: the periodic half of a job an operator can also run by hand.
pub async fn run_every(
    job: &'static Job,
    interval: std::time::Duration,
    ctx: ServiceContext,
    mut shutdown: Shutdown,
) {
    loop {
        match (job.run)(&ctx).await {
            Ok(summary) => tracing::debug!(job = job.name, %summary, "job ran"),
            Err(err) => tracing::warn!(job = job.name, error = %err, "job failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// What a service's background work (event consumers, periodic jobs) gets.
#[derive(Clone)]
pub struct Background {
    pub ctx: ServiceContext,
    /// Base URLs of the other services, by name (`http://127.0.0.1:4001`).
    pub peers: std::collections::BTreeMap<String, String>,
    pub poll_interval: std::time::Duration,
    pub shutdown: Shutdown,
    /// How events reach this service's consumers (`events.transport`).
    pub transport: crate::events::jetstream::Transport,
}

impl Background {
    /// A consumer of `peer`'s events, its position named `position` in
    /// this service's database, applying events with `handler` until
    /// shutdown: over HTTP every poll interval, or from `peer`'s JetStream
    /// stream. `None`, with a WARN saying what is lost (`without`), when
    /// events travel over HTTP and no such peer is configured.
    pub fn feed<H: crate::events::consumer::EventHandler + 'static>(
        &self,
        peer: &str,
        position: impl Into<String>,
        handler: H,
        without: &str,
    ) -> Option<BoxFuture<'static, ()>> {
        use crate::events::consumer::FeedConsumer;
        use crate::events::jetstream::{JetStreamSource, Transport};
        use futures::FutureExt as _;
        let consumer = match &self.transport {
            Transport::Http => {
                let Some(url) = self.peers.get(peer) else {
                    tracing::warn!("no {peer} service configured: {without}");
                    return None;
                };
                FeedConsumer::new(
                    position,
                    url,
                    self.ctx.db.clone(),
                    self.ctx.keys.clone(),
                    self.ctx.clock.clone(),
                    handler,
                )
            }
            Transport::JetStream(js) => FeedConsumer::from_source(
                position,
                JetStreamSource::new((**js).clone(), peer, self.poll_interval),
                self.ctx.db.clone(),
                self.ctx.clock.clone(),
                handler,
            ),
        };
        Some(
            consumer
                .run(self.poll_interval, self.shutdown.clone())
                .boxed(),
        )
    }

    /// A consumer of this service's own outbox, read from its own database
    /// ([`crate::events::consumer::OwnOutbox`]), its position named
    /// `position`, applying events with `handler` every poll interval.
    pub fn own_feed<H: crate::events::consumer::EventHandler + 'static>(
        &self,
        position: &str,
        handler: H,
    ) -> BoxFuture<'static, ()> {
        use crate::events::consumer::{FeedConsumer, OwnOutbox};
        use futures::FutureExt as _;
        let source = OwnOutbox::new(position, self.ctx.db.clone(), self.ctx.clock.clone());
        FeedConsumer::from_source(
            position,
            source,
            self.ctx.db.clone(),
            self.ctx.clock.clone(),
            handler,
        )
        .run(self.poll_interval, self.shutdown.clone())
        .boxed()
    }

    /// The reader of the alliance's feed that keeps this service's list of
    /// revoked partner keys ([`crate::revocation`]); every service but the
    /// alliance runs one.
    pub fn revoked_partner_keys(&self) -> Option<BoxFuture<'static, ()>> {
        self.feed(
            "alliance",
            crate::revocation::alliance_feed(self.ctx.name),
            crate::revocation::RevokedKeys,
            "revoked partner keys' tokens keep working here until they expire",
        )
    }

    /// Each of `jobs` now and then every `interval` until shutdown
    /// ([`run_every`]); none when `jobs.in_process` is off (something
    /// outside runs `bigmember job <name>` once per tick for every replica).
    pub fn jobs(
        &self,
        jobs: &'static [Job],
        interval: std::time::Duration,
    ) -> impl Iterator<Item = BoxFuture<'static, ()>> + '_ {
        use futures::FutureExt as _;
        let in_process = self.ctx.config.jobs.in_process;
        jobs.iter().filter(move |_| in_process).map(move |job| {
            run_every(job, interval, self.ctx.clone(), self.shutdown.clone()).boxed()
        })
    }
}
/// Loads demo data at the context's clock; says what it loaded.
pub type SeedFn =
    for<'a> fn(&'a ServiceContext) -> BoxFuture<'a, anyhow::Result<crate::demo::Loaded>>;

/// A service as the CLI and the test harness see it.
pub struct ServiceSpec {
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    pub migrate: MigrateFn,
    /// The service's own routes (at least `POST /graphql`).
    pub routes: fn(ServiceContext) -> Router,
    /// Loads demo data; returns a summary line.
    pub seed_demo: SeedFn,
    /// The subgraph SDL as served (federation v2).
    pub sdl: fn() -> String,
    /// Long-running work beside the server; each future ends on shutdown.
    pub background: BackgroundFn,
    /// Jobs runnable from the CLI (they also run in `background`).
    pub jobs: &'static [Job],
    /// This service's part of a member's data export, served at
    /// [`crate::members::EXPORT_ROUTE`] to the member service; `None` for
    /// a service that holds nothing about members (or, for the member
    /// service, that gathers the parts itself).
    pub export_member_data: Option<crate::members::ExportFn>,
}

/// Connects to `database_url`, applies migrations and builds the context.
pub async fn prepare(
    spec: &ServiceSpec,
    database_url: &str,
    schema: Option<String>,
    keys: JwtKeys,
    statements: Option<Arc<StatementLog>>,
    config: Arc<crate::config::Config>,
    clock: Clock,
) -> Result<ServiceContext, DbErr> {
    let db = crate::db::connect(
        database_url,
        ConnectSettings {
            schema,
            service: spec.name,
        },
        statements,
    )
    .await?;
    crate::db::migrate_exclusively(&db, database_url, spec.name, (spec.migrate)(&db)).await?;
    Ok(ServiceContext {
        name: spec.name,
        db,
        members: crate::members::MemberDirectory::new(spec.name, keys.clone()),
        member_data: crate::members::MemberDataHolders::new(spec.name, keys.clone()),
        keys,
        config,
        clock,
    })
}

/// The whole HTTP app of a service.
pub fn app(spec: &ServiceSpec, ctx: ServiceContext) -> Router {
    let common = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/events", get(serve_feed))
        .with_state(ctx.clone());
    let common = match spec.export_member_data {
        Some(export) => common.merge(
            Router::new()
                .route(
                    crate::members::EXPORT_ROUTE,
                    post(
                        move |State(ctx): State<ServiceContext>,
                              caller: Caller,
                              headers: axum::http::HeaderMap,
                              body: Result<
                            Json<crate::members::ExportRequest>,
                            axum::extract::rejection::JsonRejection,
                        >| async move {
                            if !declares_json(&headers) {
                                return ApiError::new(ErrorCode::BadRequest, NOT_JSON)
                                    .into_response();
                            }
                            serve_member_export(ctx, caller, body, export).await
                        },
                    ),
                )
                .with_state(ctx.clone()),
        ),
        None => common,
    };
    let http = ctx.config.http;
    observed(
        ctx.name,
        crate::edge::bounded((spec.routes)(ctx.clone()).merge(common), http),
    )
}

/// `POST /members/export`: this service's part of a member's export, for
/// the member service (service and operator tokens only).
async fn serve_member_export(
    ctx: ServiceContext,
    caller: Caller,
    body: Result<Json<crate::members::ExportRequest>, axum::extract::rejection::JsonRejection>,
    export: crate::members::ExportFn,
) -> Response {
    if let Err(refused) = caller.require_service() {
        return refused.into_response();
    }
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let mut response =
                crate::edge::body_too_large(ctx.config.http.max_body_bytes).into_response();
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return response;
        }
        Err(rejection) => {
            return ApiError::bad_input("body", format!("not an export request: {rejection}"))
                .into_response();
        }
    };
    if request.member_ids.is_empty() || request.member_ids.len() > crate::members::MAX_EXPORT_IDS {
        return ApiError::bad_input(
            "memberIds",
            format!(
                "give between 1 and {} member ids",
                crate::members::MAX_EXPORT_IDS
            ),
        )
        .into_response();
    }
    match export(&ctx, &request.member_ids).await {
        Ok(part) => Json(part).into_response(),
        Err(err) => err.into_response(),
    }
}

/// What every process serves around its own routes: `/metrics`, and the
/// request middleware (a span per request continuing the caller's trace,
/// the request id echoed or made, HTTP metrics).
pub fn observed(name: &'static str, routes: Router) -> Router {
    crate::metrics::handle();
    routes
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn_with_state(name, observe))
}

/// Serves `app` until `shutdown`, finishing requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    mut shutdown: Shutdown,
) -> std::io::Result<()> {
    // With each client's address (the gateway's rate limits of anonymous
    // callers).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.wait().await })
    .await
}

/// `POST /graphql` for a schema: the bearer token is verified first (a bad
/// one, or a revoked partner key's, is UNAUTHENTICATED before anything
/// executes) and the caller handed to resolvers as request data.
pub fn graphql_routes<Q, M, S>(schema: Schema<Q, M, S>, ctx: &ServiceContext) -> Router
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    Router::new()
        .route("/graphql", post(graphql::<Q, M, S>))
        .with_state(GraphqlState {
            schema,
            keys: ctx.keys.clone(),
            db: ctx.db.clone(),
        })
}

struct GraphqlState<Q, M, S> {
    schema: Schema<Q, M, S>,
    keys: JwtKeys,
    /// Where the revoked partner keys are listed.
    db: DatabaseConnection,
}

impl<Q, M, S> Clone for GraphqlState<Q, M, S> {
    fn clone(&self) -> Self {
        Self {
            schema: self.schema.clone(),
            keys: self.keys.clone(),
            db: self.db.clone(),
        }
    }
}

impl<Q, M, S> FromRef<GraphqlState<Q, M, S>> for JwtKeys {
    fn from_ref(state: &GraphqlState<Q, M, S>) -> Self {
        state.keys.clone()
    }
}

/// Whether a request declares a JSON body (`content-type:
/// application/json`, parameters allowed). A browser sends the other types
/// a GraphQL POST could come as (text/plain, forms) from any site without
/// asking the server first, so a POST without it is refused: no page
/// elsewhere can make a member's browser register or change anything
/// (cross-site request forgery). Used by the gateway and every service.
pub fn declares_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// The refusal of a POST that does not declare JSON.
pub const NOT_JSON: &str = "a GraphQL POST must declare its body `content-type: application/json` (other types can be sent by any web page from another site)";

async fn graphql<Q, M, S>(
    State(state): State<GraphqlState<Q, M, S>>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    http: Option<Extension<crate::config::HttpSettings>>,
    body: Result<Bytes, BytesRejection>,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    if !declares_json(&headers) {
        return ApiError::new(ErrorCode::BadRequest, NOT_JSON).into_response();
    }
    if let Err(refused) = crate::revocation::refuse_revoked(&state.db, &caller).await {
        return refused.into_response();
    }
    // Read as bytes within `http.max_body_bytes` (async-graphql's own
    // extractor streams a body of any size into the parser).
    let body = match crate::edge::read_body(body, http) {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let mut request = match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => request,
        Err(e) => {
            return ApiError::new(
                ErrorCode::BadRequest,
                format!("the body is not a GraphQL request (JSON with a \"query\"): {e}"),
            )
            .into_response();
        }
    };
    // `\u{1F600}` and surrogate pairs, which async-graphql's parser refuses.
    if let std::borrow::Cow::Owned(text) =
        crate::graphql_text::normalize_unicode_escapes(&request.query)
    {
        request.query = text;
    }
    if let Some(over) = crate::subgraph::past_limits(&mut request) {
        return ApiError::new(ErrorCode::LimitExceeded, over).into_response();
    }
    crate::graphql_text::apply_variable_defaults(&mut request);
    let mut response = state.schema.execute(request.data(caller)).await;
    give_every_error_a_code(&mut response.errors);
    GraphQLResponse::from(response).into_response()
}

/// Errors of our resolvers carry a code already. The others come from the
/// engine: without a path they rejected the whole request before execution
/// (syntax, unknown fields, variable types, depth and complexity limits);
/// with one, an argument value could not be coerced to its input type.
fn give_every_error_a_code(errors: &mut [async_graphql::ServerError]) {
    for error in errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            let code = if error.path.is_empty() {
                ErrorCode::GraphqlValidationFailed
            } else {
                ErrorCode::BadUserInput
            };
            extensions.set("code", code.as_str());
        }
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(ctx): State<ServiceContext>) -> Response {
    match crate::db::ping(&ctx.db).await {
        Ok(()) => {
            Json(serde_json::json!({ "status": "ready", "service": ctx.name })).into_response()
        }
        Err(err) => {
            tracing::warn!(error = %err, "readiness check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable", "service": ctx.name, "failing": "database" })),
            )
                .into_response()
        }
    }
}

async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
        .into_response()
}

const REQUEST_ID: &str = "x-request-id";

/// One span per request, child of the caller's W3C trace context; echoes the
/// request id and the trace (`traceresponse`) and records HTTP metrics.
async fn observe(
    State(service): State<&'static str>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(ToOwned::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    let span =
        tracing::info_span!("request", service, %method, route = %route, request_id = %request_id);
    crate::telemetry::adopt_remote_parent(&span, request.headers());
    let traceparent = crate::telemetry::traceparent(&span);
    // Handlers that call further services (the gateway) pass these on: the
    // request id, and this span as the parent of theirs.
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    if let Some(value) = traceparent
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        request.headers_mut().insert("traceparent", value);
    }
    let started = Instant::now();
    let mut response = next.run(request).instrument(span).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "service" => service, "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("http_request_seconds", "service" => service, "route" => route)
        .record(started.elapsed().as_secs_f64());
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, value);
    }
    if let Some(value) = traceparent.and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.insert("traceresponse", value);
    }
    response
}
