//! The gateway's HTTP edge: `POST /graphql` and `GET /graphql` (GraphiQL
//! for a browser), `/`, `/healthz`, `/readyz`, `/healthz/subgraphs`, and
//! GraphiQL's assets, behind the body limit and timeout, compression and
//! CORS of [`kit::edge`]. The
//! status and content type of an answer follow GraphQL over HTTP: a
//! refused token is 401 and a mutation over GET 405 whatever the client
//! accepts; other requests that produced no data are 400 for clients that
//! accept `application/graphql-response+json`, 200 for the rest.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kit::ErrorCode;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::Refusal;
use crate::{Answer, Gateway, GraphqlRequest, graphiql};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// The gateway's HTTP routes, inside out: the body limit and timeout
/// (`http.*`), compression, and CORS outermost so that a preflight is
/// answered before anything else runs.
pub fn router(gateway: Arc<Gateway>) -> Router {
    let http = gateway.config.http;
    let cors = gateway.config.cors.clone();
    let compression = gateway.config.compression;
    let routes = Router::new()
        .route("/", get(graphiql::landing))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ready" }))
        .route("/healthz/subgraphs", get(subgraph_health))
        .with_state(gateway);
    let routes = kit::edge::bounded(routes, http);
    let routes = if compression {
        routes.layer(kit::edge::compression_layer())
    } else {
        routes
    };
    routes.layer(cors)
}

fn speaks_graphql_response(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(GRAPHQL_RESPONSE))
}

/// The HTTP response of an answer.
fn respond(answer: Answer, headers: &HeaderMap) -> Response {
    let speaks = speaks_graphql_response(headers);
    let content_type = if speaks {
        GRAPHQL_RESPONSE
    } else {
        "application/json"
    };
    let (status, body, retry_after, passed_back) = match answer {
        Answer::Data(body, headers) => (StatusCode::OK, body, None, headers),
        Answer::Refused(refusal) => (
            StatusCode::from_u16(refusal.status(speaks)).unwrap_or(StatusCode::BAD_REQUEST),
            Bytes::from(refusal.body()),
            refusal.retry_after_secs,
            Vec::new(),
        ),
    };
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    for (name, value) in passed_back {
        response.headers_mut().append(name, value);
    }
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
    }
    response
}

fn bad_request(message: &str, headers: &HeaderMap) -> Response {
    let refusal = Refusal::new(ErrorCode::BadRequest, message);
    let mut response = respond(Answer::Refused(refusal), headers);
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

/// The client's address, when the server was started with it
/// (`into_make_service_with_connect_info`).
type Peer = Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>;

async fn graphql_post(
    State(gateway): State<Arc<Gateway>>,
    peer: Peer,
    headers: HeaderMap,
    http: Option<axum::Extension<kit::config::HttpSettings>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    if !kit::service::declares_json(&headers) {
        let mut response = bad_request(kit::service::NOT_JSON, &headers);
        *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return response;
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let limit = http.map(|e| e.0).unwrap_or_default().max_body_bytes;
            let refusal = Refusal::new(
                ErrorCode::LimitExceeded,
                kit::edge::body_too_large(limit).message,
            );
            let mut response = respond(Answer::Refused(refusal), &headers);
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return response;
        }
        Err(rejection) => {
            return bad_request(
                &format!("the body could not be read: {rejection}"),
                &headers,
            );
        }
    };
    // A JSON array would deserialize into the request's fields in order;
    // batches are not served.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return bad_request(
            "batched requests (a JSON array) are not supported: send one operation per request",
            &headers,
        );
    }
    let request = match serde_json::from_slice::<GraphqlRequest>(&body) {
        Ok(request) => request,
        Err(e) => {
            return bad_request(
                &format!(
                    "the body is not a GraphQL request (JSON with a \"query\", a \"documentId\" or an APQ hash): {e}"
                ),
                &headers,
            );
        }
    };
    let peer = peer.map(|p| p.0.0.ip());
    respond(
        gateway.execute(request, &headers, true, peer).await,
        &headers,
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    document_id: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

async fn graphql_get(
    State(gateway): State<Arc<Gateway>>,
    peer: Peer,
    headers: HeaderMap,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    // A browser opening the URL gets GraphiQL (with `?query=` in its editor).
    if wants_html {
        return axum::response::Html(graphiql::PAGE).into_response();
    }
    let Ok(Query(params)) = params else {
        return bad_request(
            "a GET request needs ?query=, ?documentId= or ?extensions= (an APQ hash)",
            &headers,
        );
    };
    // `?variables=` and `?extensions=` are JSON objects.
    let object = |text: Option<&str>| match text.map(serde_json::from_str::<Map<String, Value>>) {
        None => Ok(None),
        Some(Ok(v)) => Ok(Some(v)),
        Some(Err(_)) => Err(()),
    };
    let Ok(variables) = object(params.variables.as_deref()) else {
        return bad_request("variables must be a JSON object", &headers);
    };
    let Ok(extensions) = object(params.extensions.as_deref()) else {
        return bad_request("extensions must be a JSON object", &headers);
    };
    let request = GraphqlRequest {
        query: params.query,
        document_id: params.document_id,
        operation_name: params.operation_name,
        variables,
        extensions,
    };
    let peer = peer.map(|p| p.0.0.ip());
    respond(
        gateway.execute(request, &headers, false, peer).await,
        &headers,
    )
}

/// `/healthz/subgraphs`: whether each subgraph answers `{ __typename }`
/// now, as `{"subgraphs": [{"name", "url", "state": "UP" | "DOWN"}]}`;
/// 503 when one is down. `/readyz` does not wait on this: the gateway
/// serves every other subgraph's fields while one is down.
async fn subgraph_health(State(gateway): State<Arc<Gateway>>) -> Response {
    let states = gateway.subgraph_states().await;
    let all_up = states.iter().all(|s| s.up);
    let body = serde_json::json!({
        "subgraphs": states
            .iter()
            .map(|s| serde_json::json!({
                "name": s.name,
                "url": s.url,
                "state": if s.up { "UP" } else { "DOWN" },
            }))
            .collect::<Vec<_>>(),
    });
    let status = if all_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// Whether one subgraph answered a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphState {
    pub name: String,
    pub url: String,
    pub up: bool,
}

impl Gateway {
    /// Probes every subgraph (`{ __typename }`) at once, in name order.
    pub async fn subgraph_states(&self) -> Vec<SubgraphState> {
        let loaded = self.current_supergraph();
        let checks = loaded.subgraphs.values().map(|s| {
            let probe = self.subgraphs.probe(&s.url);
            async move {
                SubgraphState {
                    name: s.name.clone(),
                    url: s.url.to_string(),
                    up: probe.await,
                }
            }
        });
        let mut states = futures::future::join_all(checks).await;
        states.sort_by(|a, b| a.name.cmp(&b.name));
        states
    }
}
