//! What the gateway refuses before any subgraph is asked, each with its
//! code: `@defer`, `@stream` and subscriptions (served by no part of the
//! platform) at validation; several operations without `operationName`;
//! an `operationName` that names none.

use serde_json::json;

use crate::harness::{counts, graph};

#[tokio::test]
async fn defer_stream_and_subscriptions_are_refused_at_validation() {
    let g = graph().await;
    for (query, message) in [
        (
            "{ me { id ... @defer { name } } }",
            "@defer is not served by this gateway: every answer comes whole in one response; ask without @defer",
        ),
        (
            "query { me { ...F @defer(label: \"f\") } } fragment F on User { name }",
            "@defer is not served by this gateway: every answer comes whole in one response; ask without @defer",
        ),
        (
            "{ topProducts @stream(initialCount: 1) { name } }",
            "@stream is not served by this gateway: every answer comes whole in one response; ask without @stream",
        ),
        (
            "subscription { me { id } }",
            "subscriptions are not served by this gateway: ask with a query (and poll) instead",
        ),
    ] {
        g.expect(
            query,
            json!({}),
            json!({ "errors": [{ "message": message, "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" } }] }),
        )
        .await;
    }
    assert_eq!(g.calls(), counts(&[]));
}

#[tokio::test]
async fn several_operations_need_an_operation_name() {
    let g = graph().await;
    let two = "query A { me { id } } query B { me { name } }";
    g.expect(
        two,
        json!({}),
        json!({ "errors": [{
            "message": "Must provide operation name if query contains multiple operations.",
            "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" }
        }] }),
    )
    .await;
    let r = g.post(json!({ "query": two, "operationName": "C" })).await;
    assert_eq!(
        r["errors"][0]["message"], "Unknown operation named \"C\".",
        "{r}"
    );
    assert_eq!(g.calls(), counts(&[]));
    let r = g.post(json!({ "query": two, "operationName": "B" })).await;
    assert_eq!(r, json!({ "data": { "me": { "name": "Ada Lovelace" } } }));
}

/// A body past the size the gateway reads is a GraphQL error with its code
/// (413), not a plain-text answer a client cannot parse; nothing is asked.
#[tokio::test]
async fn a_body_past_the_size_limit_is_a_graphql_error() {
    let g = graph().await;
    let big = "x".repeat(kit::config::HttpSettings::default().max_body_bytes + 1);
    let response = reqwest::Client::new()
        .post(&g.url)
        .json(&json!({ "query": "{ me { id } }", "variables": { "padding": big } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2097152 bytes"),
        "{body}"
    );
    assert!(
        g.calls().is_empty() || g.calls().values().all(|n| *n == 0),
        "{:?}",
        g.calls()
    );
}

/// A POST whose body is not declared JSON is refused before anything runs:
/// those are the types any web page can make a browser send to another
/// site without asking first (cross-site request forgery).
#[tokio::test]
async fn a_post_not_declared_json_is_refused_before_anything_runs() {
    let g = graph().await;
    let body =
        json!({ "query": "mutation { restock(sku: \"k1\", quantity: 1) { sku } }" }).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut request = reqwest::Client::new().post(&g.url).body(body.clone());
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 415, "{content_type:?}");
        let answer: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "BAD_REQUEST",
            "{answer}"
        );
    }
    assert!(g.calls().values().all(|n| *n == 0), "{:?}", g.calls());
    // With parameters, JSON is JSON.
    let response = reqwest::Client::new()
        .post(&g.url)
        .header("content-type", "application/json; charset=utf-8")
        .body(json!({ "query": "{ __typename }" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}
