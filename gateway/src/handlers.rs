//! The gateway's HTTP edge: `POST /graphql` and `GET /graphql` (GraphiQL
//! for a browser), `/`, `/healthz`, `/readyz`, and GraphiQL's assets. The
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

/// The largest request body the gateway reads (axum's default limit): past
/// it, `LIMIT_EXCEEDED` with status 413.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The gateway's HTTP routes.
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/", get(graphiql::landing))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(gateway)
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
    let (status, body) = match answer {
        Answer::Data(body) => (StatusCode::OK, body),
        Answer::Refused(refusal) => (
            StatusCode::from_u16(refusal.status(speaks)).unwrap_or(StatusCode::BAD_REQUEST),
            Bytes::from(refusal.body()),
        ),
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn bad_request(message: &str, headers: &HeaderMap) -> Response {
    let refusal = Refusal::new(ErrorCode::BadRequest, message);
    let mut response = respond(Answer::Refused(refusal), headers);
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

async fn graphql_post(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
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
            let refusal = Refusal::new(
                ErrorCode::LimitExceeded,
                format!(
                    "the request body is larger than the {} bytes this gateway reads",
                    MAX_BODY_BYTES
                ),
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
    let request = match serde_json::from_slice::<GraphqlRequest>(&body) {
        Ok(request) => request,
        Err(e) => {
            return bad_request(
                &format!("the body is not a GraphQL request (JSON with a \"query\"): {e}"),
                &headers,
            );
        }
    };
    respond(gateway.execute(request, &headers, true).await, &headers)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: String,
    operation_name: Option<String>,
    variables: Option<String>,
}

async fn graphql_get(
    State(gateway): State<Arc<Gateway>>,
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
        return bad_request("a GET request needs ?query=", &headers);
    };
    let variables = match params
        .variables
        .as_deref()
        .map(serde_json::from_str::<Map<String, Value>>)
    {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => return bad_request("variables must be a JSON object", &headers),
    };
    let request = GraphqlRequest {
        query: params.query,
        operation_name: params.operation_name,
        variables,
    };
    respond(gateway.execute(request, &headers, false).await, &headers)
}

/// Ready when the supergraph is loaded and every subgraph answers
/// `{ __typename }`; 503 naming the ones that do not.
async fn readyz(State(gateway): State<Arc<Gateway>>) -> Response {
    let down = gateway.subgraphs_down().await;
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

impl Gateway {
    /// The subgraphs that do not answer `{ __typename }`.
    pub async fn subgraphs_down(&self) -> Vec<String> {
        let loaded = self.current_supergraph();
        let checks = loaded.subgraphs.values().map(|s| {
            let probe = self.subgraphs.probe(&s.url);
            async move { (s.name.clone(), probe.await) }
        });
        futures::future::join_all(checks)
            .await
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(name, _)| name)
            .collect()
    }
}
