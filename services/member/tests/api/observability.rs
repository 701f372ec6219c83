use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn().await;
    let health = app.get("/healthz").send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.get("/readyz").send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
    register_member(&app, "app-1", None, "apparel").await;
    let metrics = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains("http_requests_total{service=\"member\",route=\"/graphql\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("db_statements_total{service=\"member\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("events_published_total{type=\"MemberRegistered\"}"),
        "{metrics}"
    );

    // With the database gone, the service says it is not ready.
    app.db().clone().close().await.unwrap();
    let not_ready = app.get("/readyz").send().await.unwrap();
    assert_eq!(not_ready.status(), 503);
}

#[tokio::test]
async fn w3c_trace_context_and_request_ids_flow_through() {
    let app = spawn().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = app
        .post("/graphql")
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .header("x-request-id", "req-123")
        .json(&serde_json::json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-123");
    let traceresponse = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        traceresponse.starts_with(&format!("00-{trace_id}-")),
        "{traceresponse}"
    );
    // Without one, a fresh trace and request id are made.
    let fresh = app.get("/healthz").send().await.unwrap();
    assert!(fresh.headers().contains_key("x-request-id"));
    assert!(
        !fresh.headers()["traceresponse"]
            .to_str()
            .unwrap()
            .contains(trace_id)
    );
}
