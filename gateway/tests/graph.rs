//! The gateway over the real subgraphs, each in-process on a random port
//! with its own database and the demo data.

use std::sync::Arc;

use gateway::{Gateway, GatewayConfig};
use kit::config::Secret;
use kit::testing::{TestApp, TestDatabase, spawn_on};
use serde_json::{Value, json};

struct Platform {
    url: String,
    base: String,
    subgraphs: Vec<TestApp>,
    client: reqwest::Client,
}

async fn platform() -> Platform {
    platform_with(|_| {}).await
}

/// The platform, with the gateway's configuration adjusted by `tweak`.
async fn platform_with(tweak: impl FnOnce(&mut GatewayConfig)) -> Platform {
    let secret = Secret::new(kit::auth::random_secret());
    let clock = kit::testing::clock();
    let mut subgraphs = Vec::new();
    let mut config = GatewayConfig::default();
    for spec in [&member::SPEC, &store::SPEC, &product::SPEC, &alliance::SPEC] {
        let app = spawn_on(
            spec,
            TestDatabase::new().await,
            secret.clone(),
            clock.clone(),
        )
        .await;
        if spec.name == member::SPEC.name {
            // The demo world with fewer members: these tests need a few.
            member::seed::demo_members(app.db(), 60, app.now()).await
        } else {
            (spec.seed_demo)(&app.ctx).await
        }
        .expect("demo data");
        config
            .url_overrides
            .insert(spec.name.to_owned(), format!("{}/graphql", app.address));
        subgraphs.push(app);
    }
    // As `up` does: every service asks the member service who a write for
    // a member acts for.
    let member_service = subgraphs[0].address.clone();
    for app in &subgraphs[1..] {
        app.ctx.members.connect(&member_service);
        subgraphs[0]
            .ctx
            .member_data
            .connect(app.ctx.name, &app.address);
    }
    let keys = kit::auth::JwtKeys::hs256(&secret);
    config.verify_token = Some(Arc::new(move |token: &str| {
        keys.verify(token).map_err(|e| e.message)
    }));
    // As `bigmember` serves it: a request span, and a span per fetch named
    // in the fetch's `traceparent`.
    config.traceparent_of = Some(Arc::new(kit::telemetry::traceparent));
    tweak(&mut config);
    let sdl = include_str!("../../schema/supergraph.graphql");
    let gateway = Arc::new(Gateway::new(sdl, config).expect("the supergraph loads"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    let app = kit::service::observed("gateway", gateway::router(gateway))
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Platform {
        base: url.trim_end_matches("/graphql").to_owned(),
        url,
        subgraphs,
        client: reqwest::Client::new(),
    }
}

impl Platform {
    /// Another gateway over the same subgraphs (a replica), configured by
    /// `tweak`: its URL.
    async fn replica(&self, tweak: impl FnOnce(&mut GatewayConfig)) -> String {
        let mut config = GatewayConfig::default();
        for app in &self.subgraphs {
            config
                .url_overrides
                .insert(app.ctx.name.to_owned(), format!("{}/graphql", app.address));
        }
        let keys = self.subgraphs[0].ctx.keys.clone();
        config.verify_token = Some(Arc::new(move |token: &str| {
            keys.verify(token).map_err(|e| e.message)
        }));
        tweak(&mut config);
        let sdl = include_str!("../../schema/supergraph.graphql");
        let gateway = Arc::new(Gateway::new(sdl, config).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/graphql", listener.local_addr().unwrap());
        let app =
            gateway::router(gateway).into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    async fn ask(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .client
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    fn operator(&self) -> String {
        self.subgraphs[0].operator_token()
    }

    /// The ids of the first `n` demo members (writes act only for members
    /// who exist).
    async fn member_ids(&self, n: usize) -> Vec<String> {
        let r = self
            .ask(
                Some(&self.operator()),
                "query($n: Int!) { members(first: $n) { edges { node { id } } } }",
                json!({ "n": n }),
            )
            .await;
        let ids: Vec<String> = r["data"]["members"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), n, "{r}");
        ids
    }
}

#[tokio::test]
async fn one_query_spans_alliance_store_and_product() {
    let p = platform().await;
    let q = "query Brands($first: Int!) { programmes { id pointsName brand { id name stores(first: $first) { edges { node { id name kind } } } products(first: $first) { edges { node { id name } } } } } }";
    let r = p.ask(None, q, json!({ "first": 2 })).await;
    assert!(r.get("errors").is_none(), "{r}");
    let programmes = r["data"]["programmes"].as_array().unwrap();
    assert_eq!(programmes.len(), 3);
    let apparel = programmes
        .iter()
        .find(|p| p["id"] == "apparel-points")
        .unwrap();
    assert_eq!(apparel["brand"]["name"], "Threadline", "from the alliance");
    assert_eq!(
        apparel["brand"]["stores"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "from the store service"
    );
    assert_eq!(
        apparel["brand"]["products"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "from the product service"
    );
    // Exactly the client's selection, in its order.
    let keys: Vec<&String> = apparel.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "pointsName", "brand"]);
}

#[tokio::test]
async fn members_with_their_guide_orders_and_points() {
    let p = platform().await;
    let op = p.operator();
    let q = "{ members(first: 3) { edges { node { id name referredBy { id code } orders(first: 1) { edges { node { id } } } pointsAccounts { programme { pointsName } activeBalance } } } } }";
    let before = p.ask(Some(&op), q, json!({})).await;
    assert!(before.get("errors").is_none(), "{before}");
    let first = before["data"]["members"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A mutation through the graph: the coffee partner's till credits the first member.
    let earn = "mutation($m: ID!) { earnPoints(input: { memberId: $m, programmeId: \"coffee-points\", points: 70, sourceSystem: \"pos\", externalTransactionId: \"g-1\", reason: \"latte\", idempotencyKey: \"gateway-earn-1\" }) { account { activeBalance } } }";
    let earned = p.ask(Some(&op), earn, json!({ "m": first })).await;
    assert_eq!(
        earned["data"]["earnPoints"]["account"]["activeBalance"], 70,
        "{earned}"
    );

    let r = p.ask(Some(&op), q, json!({})).await;
    assert!(r.get("errors").is_none(), "{r}");
    let edges = r["data"]["members"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 3);
    for e in edges {
        // Each member carries what product and store said about them.
        assert!(e["node"]["orders"]["edges"].is_array(), "{e}");
        assert!(
            e["node"].as_object().unwrap().contains_key("referredBy"),
            "{e}"
        );
        let accounts = e["node"]["pointsAccounts"]
            .as_array()
            .expect("from the alliance");
        if e["node"]["id"] == first.as_str() {
            assert_eq!(accounts.len(), 1, "{e}");
            assert_eq!(accounts[0]["activeBalance"], 70);
            assert_eq!(accounts[0]["programme"]["pointsName"], "Beans");
        } else {
            assert!(accounts.is_empty(), "{e}");
        }
    }
}

#[tokio::test]
async fn invalid_operations_are_refused_before_any_subgraph() {
    let p = platform().await;
    let r = p.ask(None, "{ programmes { nope } }", json!({})).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{r}"
    );
    assert!(r.get("data").is_none());
    let r = p.ask(None, "{ __typename }", json!({})).await;
    assert_eq!(r["data"]["__typename"], "Query", "{r}");
}

#[tokio::test]
async fn aliases_variables_and_conditional_fields() {
    let p = platform().await;
    let q = "query($with: Boolean!, $without: Boolean!) { all: programmes { pid: id brand { label: name stores(first: 1) @include(if: $with) { edges { node { id } } } products(first: 1) @skip(if: $without) { edges { node { id } } } } } }";
    let r = p
        .ask(None, q, json!({ "with": true, "without": true }))
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    let first = &r["data"]["all"][0];
    assert!(first["pid"].is_string());
    let brand = first["brand"].as_object().unwrap();
    let keys: Vec<&String> = brand.keys().collect();
    assert_eq!(
        keys,
        ["label", "stores"],
        "skipped fields are absent: {first}"
    );
}

#[tokio::test]
async fn a_stopped_subgraph_costs_only_its_fields() {
    let mut p = platform().await;
    let operator = p.operator();
    let member = p.subgraphs.remove(0);
    member.stop().await;
    let q = "{ programmes { id } memberByIdentity(channel: APP, externalId: \"demo-app-0000\") { id } }";
    let r = p.ask(Some(&operator), q, json!({})).await;
    let errors = r["errors"]
        .as_array()
        .expect("an error names the failed subgraph");
    assert_eq!(errors.len(), 1, "{r}");
    assert_eq!(errors[0]["extensions"]["code"], "SUBGRAPH_UNAVAILABLE");
    assert_eq!(errors[0]["extensions"]["serviceName"], "member");
    assert!(r["data"]["memberByIdentity"].is_null(), "{r}");
    assert_eq!(
        r["data"]["programmes"].as_array().unwrap().len(),
        3,
        "the alliance still answers: {r}"
    );
}

#[tokio::test]
async fn mutations_are_refused_over_get() {
    let p = platform().await;
    let url = format!(
        "{}?query={}",
        p.url, "mutation%20%7B%20partnerToken(apiKey%3A%20%22x%22)%20%7B%20token%20%7D%20%7D"
    );
    let refused = p.client.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 405);
    let r: Value = refused.json().await.unwrap();
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "METHOD_NOT_ALLOWED",
        "{r}"
    );
    let url = format!(
        "{}?query={}",
        p.url, "%7B%20programmes%20%7B%20id%20%7D%20%7D"
    );
    let r: Value = p
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["data"]["programmes"].as_array().unwrap().len(), 3, "{r}");
}

#[tokio::test]
async fn a_bad_token_is_refused_before_planning() {
    let p = platform().await;
    let r = p
        .ask(Some("not-a-token"), "{ programmes { id } }", json!({}))
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{r}"
    );
    assert!(r.get("data").is_none());
    let forged = kit::auth::JwtKeys::hs256(&Secret::new("another-secret"))
        .issue(
            kit::auth::TokenRequest::operator("x"),
            chrono::Duration::hours(1),
        )
        .unwrap();
    let r = p
        .ask(Some(&forged), "{ programmes { id } }", json!({}))
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{r}"
    );
}

/// A subgraph stand-in that answers `{"data": null}` after `delay`: its
/// `/graphql` URL.
async fn slow_subgraph(delay: std::time::Duration) -> String {
    let slow = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", slow.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(move || async move {
            tokio::time::sleep(delay).await;
            axum::Json(json!({ "data": null }))
        }),
    );
    tokio::spawn(async move { axum::serve(slow, app).await });
    url
}

#[tokio::test]
async fn a_slow_subgraph_times_out_and_its_health_names_it() {
    // A "member" subgraph that takes 5 s to answer anything.
    let slow_url = slow_subgraph(std::time::Duration::from_secs(5)).await;
    let p = platform_with(|config| {
        config.subgraph_timeout = std::time::Duration::from_millis(300);
        config.url_overrides.insert("member".into(), slow_url);
    })
    .await;
    let started = std::time::Instant::now();
    let q = "{ programmes { id } memberByIdentity(channel: APP, externalId: \"demo-app-0000\") { id } }";
    let r = p.ask(Some(&p.operator()), q, json!({})).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "did not wait for the slow subgraph"
    );
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "SUBGRAPH_UNAVAILABLE",
        "{r}"
    );
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{r}"
    );
    assert_eq!(r["data"]["programmes"].as_array().unwrap().len(), 3);

    // The gateway stays ready (it serves every other subgraph's fields);
    // the subgraphs' health names the one that is down.
    let ready = p
        .client
        .get(format!("{}/readyz", p.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let health = p
        .client
        .get(format!("{}/healthz/subgraphs", p.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    let health: Value = health.json().await.unwrap();
    let states: Vec<(String, String)> = health["subgraphs"]
        .as_array()
        .unwrap_or_else(|| panic!("{health}"))
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("alliance".to_owned(), "UP".to_owned()),
            ("member".to_owned(), "DOWN".to_owned()),
            ("product".to_owned(), "UP".to_owned()),
            ("store".to_owned(), "UP".to_owned()),
        ],
        "{health}"
    );
    let page = p
        .client
        .get(&p.url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("GraphiQL"), "a GraphiQL page for browsers");
}

#[tokio::test]
async fn ready_and_every_subgraph_up_when_every_subgraph_answers() {
    let p = platform().await;
    let ready = p
        .client
        .get(format!("{}/readyz", p.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let health = p
        .client
        .get(format!("{}/healthz/subgraphs", p.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.unwrap();
    let subgraphs = health["subgraphs"].as_array().unwrap();
    assert_eq!(subgraphs.len(), 4, "{health}");
    assert!(subgraphs.iter().all(|s| s["state"] == "UP"), "{health}");
}

/// A preflight (`OPTIONS` with `access-control-request-*`) from `origin`.
async fn preflight(p: &Platform, origin: &str) -> reqwest::Response {
    p.client
        .request(reqwest::Method::OPTIONS, &p.url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn browsers_get_cors_for_configured_origins_only() {
    let settings = kit::config::CorsSettings {
        allow_origins: vec!["https://shop.example.com".into()],
        match_origins: vec![r"https://[a-z0-9-]+\.brand\.example".into()],
        ..kit::config::CorsSettings::default()
    };
    let p = platform_with(|config| {
        config.cors = kit::edge::cors_layer(&settings).unwrap();
    })
    .await;
    let query = "{ programmes { id } }";
    for allowed in ["https://shop.example.com", "https://coffee.brand.example"] {
        let answer = preflight(&p, allowed).await;
        assert!(
            answer.status().is_success(),
            "{allowed}: {}",
            answer.status()
        );
        let h = answer.headers();
        assert_eq!(h["access-control-allow-origin"], allowed);
        let methods = h["access-control-allow-methods"].to_str().unwrap();
        assert!(methods.contains("POST"), "{methods}");
        let headers = h["access-control-allow-headers"].to_str().unwrap();
        assert!(headers.contains("authorization"), "{headers}");
        assert_eq!(h["access-control-max-age"], "600");
        // The request itself carries the origin back, and the body.
        let answer = p
            .client
            .post(&p.url)
            .header("origin", allowed)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.headers()["access-control-allow-origin"], allowed);
        let exposed = answer.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(exposed.contains("x-request-id"), "{exposed}");
        let body: Value = answer.json().await.unwrap();
        assert!(body["data"]["programmes"].is_array(), "{body}");
    }
    // Not listed, a look-alike suffix, a pattern's match inside a longer
    // origin, another scheme: no CORS headers, so a browser refuses.
    for refused in [
        "https://evil.example.com",
        "https://shop.example.com.evil.test",
        "https://x.brand.example.evil.test",
        "http://shop.example.com",
    ] {
        let answer = preflight(&p, refused).await;
        assert!(
            answer
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{refused} was let in"
        );
        let answer = p
            .client
            .post(&p.url)
            .header("origin", refused)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        assert!(
            answer
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{refused} was let in"
        );
    }
}

#[tokio::test]
async fn by_default_no_other_origin_is_let_in() {
    let p = platform().await;
    let answer = preflight(&p, "http://localhost:5173").await;
    assert!(
        answer
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn answers_are_compressed_as_the_client_asks() {
    use std::io::Read as _;
    let p = platform().await;
    let query = "{ members(first: 50) { edges { node { id } } } programmes { id pointsName timeZone brand { id } } }";
    let ask = |encoding: Option<&'static str>| {
        let mut request = p
            .client
            .post(&p.url)
            .bearer_auth(p.operator())
            .json(&json!({ "query": query }));
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        async move {
            let answer = request.send().await.unwrap();
            let encoding = answer
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap().to_owned());
            (encoding, answer.bytes().await.unwrap().to_vec())
        }
    };
    let (none, plain) = ask(None).await;
    assert_eq!(none, None);
    // A small answer is sent as it is, even to a client that asks.
    let small = p
        .client
        .post(&p.url)
        .header("accept-encoding", "gzip, br")
        .json(&json!({ "query": "{ programmes { id } }" }))
        .send()
        .await
        .unwrap();
    assert!(small.headers().get("content-encoding").is_none());
    let small = small.bytes().await.unwrap();
    assert!(
        small.len() < usize::from(kit::edge::COMPRESS_FROM_BYTES),
        "{}",
        small.len()
    );
    let expected: Value = serde_json::from_slice(&plain).unwrap();
    assert!(expected.get("errors").is_none(), "{expected}");

    let (gzip, body) = ask(Some("gzip")).await;
    assert_eq!(gzip.as_deref(), Some("gzip"));
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&unpacked).unwrap(),
        expected
    );
    assert!(
        body.len() < plain.len(),
        "{} !< {}",
        body.len(),
        plain.len()
    );

    let (br, body) = ask(Some("br;q=1.0, gzip;q=0.5")).await;
    assert_eq!(br.as_deref(), Some("br"));
    let mut unpacked = Vec::new();
    brotli::Decompressor::new(&body[..], 4096)
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&unpacked).unwrap(),
        expected
    );

    // Turned off: never compressed.
    let p = platform_with(|config| config.compression = false).await;
    let answer = p
        .client
        .post(&p.url)
        .header("accept-encoding", "gzip, br")
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert!(answer.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn a_body_past_the_limit_is_refused_at_every_edge() {
    let limit = 64 * 1024;
    let p = platform_with(|config| config.http.max_body_bytes = limit).await;
    // A real query padded past the limit (in `extensions`, which nothing
    // reads).
    let padded = json!({
        "query": "{ programmes { id } }",
        "extensions": { "pad": "x".repeat(limit + 1) },
    });
    let mut edges = vec![("gateway".to_owned(), p.url.clone())];
    for app in &p.subgraphs {
        edges.push((app.ctx.name.to_owned(), format!("{}/graphql", app.address)));
    }
    for (name, url) in edges {
        // Subgraphs have the default limit (2 MiB): pad past theirs.
        let body = if name == "gateway" {
            padded.clone()
        } else {
            json!({
                "query": "{ __typename }",
                "extensions": { "pad": "x".repeat(kit::config::HttpSettings::default().max_body_bytes + 1) },
            })
        };
        let answer = p
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 413, "{name}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
            "{name}: {body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("http.max_body_bytes"),
            "{name}: {body}"
        );
    }
    // Just under the limit is answered.
    let under = json!({
        "query": "{ programmes { id } }",
        "extensions": { "pad": "x".repeat(limit - 200) },
    });
    let answer: Value = p
        .client
        .post(&p.url)
        .json(&under)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer["data"]["programmes"].is_array(), "{answer}");
}

#[tokio::test]
async fn a_request_past_the_timeout_is_answered_when_the_time_is_up() {
    // A "member" subgraph that never answers in time, with the gateway's
    // subgraph timeout longer than its request timeout.
    let slow_url = slow_subgraph(std::time::Duration::from_secs(30)).await;
    let p = platform_with(|config| {
        config.subgraph_timeout = std::time::Duration::from_secs(20);
        config.http.request_timeout_ms = 400;
        config.url_overrides.insert("member".into(), slow_url);
    })
    .await;
    let started = std::time::Instant::now();
    let answer = p
        .client
        .post(&p.url)
        .bearer_auth(p.operator())
        .json(&json!({ "query": "{ memberByIdentity(channel: APP, externalId: \"demo-app-0000\") { id } }" }))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(answer.status(), 504);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "REQUEST_TIMEOUT",
        "{body}"
    );
}

/// What GraphiQL and codegen tools send.
const INTROSPECTION_QUERY: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }";

#[tokio::test]
async fn introspection_answers_from_the_api_schema() {
    let p = platform().await;
    let r = p.ask(None, INTROSPECTION_QUERY, json!({})).await;
    assert!(
        r.get("errors").is_none(),
        "{}",
        &r.to_string()[..r.to_string().len().min(500)]
    );
    let schema = &r["data"]["__schema"];
    assert_eq!(schema["queryType"]["name"], "Query");
    assert_eq!(schema["mutationType"]["name"], "Mutation");
    let names: Vec<&str> = schema["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for expected in [
        "Member",
        "Store",
        "Product",
        "Programme",
        "Brand",
        "String",
        "__Schema",
    ] {
        assert!(names.contains(&expected), "{expected} missing");
    }
    for hidden in ["join__Graph", "link__Purpose", "_Any", "_Service"] {
        assert!(!names.contains(&hidden), "{hidden} is machinery, not API");
    }

    // Mixed with data, with a variable and an alias.
    let q = "query($n: String!) { t: __type(name: $n) { name kind fields { name type { kind ofType { name } } } } programmes { id } }";
    let r = p.ask(None, q, json!({ "n": "Programme" })).await;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(r["data"]["t"]["kind"], "OBJECT");
    let id = r["data"]["t"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "id")
        .unwrap()
        .clone();
    assert_eq!(
        id["type"],
        json!({ "kind": "NON_NULL", "ofType": { "name": "ID" } })
    );
    assert_eq!(r["data"]["programmes"].as_array().unwrap().len(), 3);
    let missing = p
        .ask(None, "{ __type(name: \"Nope\") { name } }", json!({}))
        .await;
    assert!(missing["data"]["__type"].is_null(), "{missing}");

    let closed = platform_with(|c| c.introspection = false).await;
    let r = closed
        .ask(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{r}"
    );
}

/// A subgraph stand-in that forwards to `target` after `delay`, counting
/// the requests and keeping the `traceparent` of each.
struct Proxy {
    url: String,
    count: Arc<std::sync::atomic::AtomicUsize>,
    traceparents: Arc<std::sync::Mutex<Vec<String>>>,
    /// Every request's headers, as received.
    headers: Arc<std::sync::Mutex<Vec<axum::http::HeaderMap>>>,
}

/// A recording proxy in front of the platform's `n`th subgraph (0 member,
/// 1 store, 2 product, 3 alliance), with no delay.
async fn proxy_of(platform: &Platform, n: usize) -> Proxy {
    let target = format!("{}/graphql", platform.subgraphs[n].address);
    recording_proxy(target, std::time::Duration::ZERO).await
}

async fn recording_proxy(target: String, delay: std::time::Duration) -> Proxy {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let count = Arc::new(AtomicUsize::new(0));
    let traceparents = Arc::new(std::sync::Mutex::new(Vec::new()));
    let headers_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen, traces, all_headers) = (count.clone(), traceparents.clone(), headers_seen.clone());
    let client = reqwest::Client::new();
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (client, target, seen) = (client.clone(), target.clone(), seen.clone());
                let served_by = format!("proxy-of-{target}");
                if let Some(t) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
                    traces.lock().unwrap().push(t.to_owned());
                }
                all_headers.lock().unwrap().push(headers.clone());
                async move {
                    seen.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    // Forwarded anonymously: the target platform signs with
                    // another secret, and the fields asked for are public.
                    let mut request = client
                        .post(&target)
                        .header("content-type", "application/json")
                        .body(body);
                    // A gzipped body is passed on as it came.
                    if let Some(encoding) = headers.get("content-encoding") {
                        request = request.header("content-encoding", encoding.clone());
                    }
                    let answer: Value = request.send().await.unwrap().json().await.unwrap();
                    // Response headers a subgraph (or a cache before it) adds.
                    (
                        [
                            ("x-served-by", served_by.clone()),
                            ("x-cache", "MISS".to_owned()),
                            ("x-internal-trace", "never-passed-back".to_owned()),
                        ],
                        axum::Json(answer),
                    )
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Proxy {
        url,
        count,
        traceparents,
        headers: headers_seen,
    }
}

#[tokio::test]
async fn a_list_of_entities_is_one_request_per_subgraph() {
    let base = platform().await;
    let store_url = format!("{}/graphql", base.subgraphs[1].address);
    let Proxy {
        url: proxy, count, ..
    } = recording_proxy(store_url, std::time::Duration::ZERO).await;
    let p = platform_with(|c| {
        c.url_overrides.insert("store".into(), proxy);
    })
    .await;
    // The proxy forwards to the first platform's store, which holds the same demo data.
    let r = p
        .ask(
            None,
            "{ programmes { brand { id stores(first: 1) { edges { node { id } } } } } }",
            json!({}),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(r["data"]["programmes"].as_array().unwrap().len(), 3);
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "three brands, one _entities request"
    );
}

#[tokio::test]
async fn identical_fetches_in_flight_are_sent_once_per_caller() {
    use std::sync::atomic::Ordering;
    let base = platform().await;
    let alliance_url = format!("{}/graphql", base.subgraphs[3].address);
    let Proxy {
        url: proxy, count, ..
    } = recording_proxy(alliance_url.clone(), std::time::Duration::from_millis(300)).await;
    let proxied = proxy.clone();
    let p = platform_with(move |c| {
        c.url_overrides.insert("alliance".into(), proxied);
    })
    .await;
    let q = "{ programmes { id } }";
    let op = p.operator();
    let (a, b) = tokio::join!(
        p.ask(Some(&op), q, json!({})),
        p.ask(Some(&op), q, json!({}))
    );
    assert_eq!(a["data"], b["data"]);
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "same fetch, same credentials: sent once"
    );

    let member = p.subgraphs[0].token(kit::auth::TokenRequest::member("m-1"));
    let (a, b) = tokio::join!(
        p.ask(Some(&op), q, json!({})),
        p.ask(Some(&member), q, json!({}))
    );
    assert!(a["data"]["programmes"].is_array() && b["data"]["programmes"].is_array());
    assert_eq!(
        count.load(Ordering::SeqCst),
        3,
        "other credentials: never shared"
    );

    let Proxy {
        url: proxy, count, ..
    } = recording_proxy(alliance_url, std::time::Duration::from_millis(300)).await;
    let off = platform_with(move |c| {
        c.coalesce_subgraph_fetches = false;
        c.url_overrides.insert("alliance".into(), proxy);
    })
    .await;
    let op = off.operator();
    tokio::join!(
        off.ask(Some(&op), q, json!({})),
        off.ask(Some(&op), q, json!({}))
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "coalescing can be turned off"
    );
}

/// The headers of `settings`, as the gateway takes them.
fn propagation(settings: &str) -> gateway::subgraph::HeaderPropagation {
    let settings: kit::config::HeaderSettings = serde_json::from_str(settings).unwrap();
    gateway::subgraph::HeaderPropagation::from_settings(&settings).unwrap()
}

#[tokio::test]
async fn headers_reach_only_the_subgraphs_configured_for_them() {
    let base = platform().await;
    let alliance = proxy_of(&base, 3).await;
    let member = proxy_of(&base, 0).await;
    let (to_alliance, to_member) = (alliance.url.clone(), member.url.clone());
    let p = platform_with(move |c| {
        c.url_overrides.insert("alliance".into(), to_alliance);
        c.url_overrides.insert("member".into(), to_member);
        c.headers = propagation(
            r#"{"forward": ["authorization", "x-request-id", "accept-language"],
                "subgraphs": {"alliance": {"forward": ["authorization", "x-channel", "x-channel"]}}}"#,
        );
    })
    .await;
    let answer = p
        .client
        .post(&p.url)
        .bearer_auth(p.operator())
        .header("accept-language", "zh-CN")
        .header("x-channel", "app")
        .header("x-internal-secret", "never-forwarded")
        .header("x-request-id", "req-42")
        .json(&json!({ "query": "{ programmes { id } members(first: 1) { edges { node { id } } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let names = |proxy: &Proxy| {
        let seen = proxy.headers.lock().unwrap();
        assert_eq!(seen.len(), 1, "one fetch each");
        let h = &seen[0];
        assert!(h.get("x-internal-secret").is_none(), "{h:?}");
        assert!(h.get_all("x-channel").iter().count() <= 1, "{h:?}");
        (
            h.get("authorization").is_some(),
            h.get("accept-language")
                .map(|v| v.to_str().unwrap().to_owned()),
            h.get("x-channel").map(|v| v.to_str().unwrap().to_owned()),
            h.get("x-request-id")
                .map(|v| v.to_str().unwrap().to_owned()),
        )
    };
    assert_eq!(
        names(&alliance),
        (true, None, Some("app".to_owned()), None),
        "the alliance's own list"
    );
    assert_eq!(
        names(&member),
        (
            true,
            Some("zh-CN".to_owned()),
            None,
            Some("req-42".to_owned())
        ),
        "the list for every other subgraph"
    );

    // A list for a subgraph the supergraph lacks is refused, naming it.
    let sdl = include_str!("../../schema/supergraph.graphql");
    let config = GatewayConfig {
        headers: propagation(r#"{"subgraphs": {"loyalty": {"forward": ["x-a"]}}}"#),
        ..GatewayConfig::default()
    };
    let err = Gateway::new(sdl, config).err().expect("refused");
    assert!(
        err.to_string()
            .contains("gateway.headers.subgraphs.loyalty"),
        "{err}"
    );
    let bad: kit::config::HeaderSettings =
        serde_json::from_str(r#"{"forward": ["not a header"]}"#).unwrap();
    let err = gateway::subgraph::HeaderPropagation::from_settings(&bad).unwrap_err();
    assert!(err.contains("gateway.headers.forward"), "{err}");
}

#[tokio::test]
async fn a_forwarded_header_that_can_change_the_answer_is_never_shared() {
    use std::sync::atomic::Ordering;
    let base = platform().await;
    let Proxy {
        url: proxy, count, ..
    } = recording_proxy(
        format!("{}/graphql", base.subgraphs[3].address),
        std::time::Duration::from_millis(300),
    )
    .await;
    let p = platform_with(move |c| {
        c.url_overrides.insert("alliance".into(), proxy);
        c.coalesce_client_requests = true;
        c.headers =
            propagation(r#"{"forward": ["authorization", "x-request-id", "accept-language"]}"#);
    })
    .await;
    let ask = |language: &'static str, request_id: &'static str| {
        p.client
            .post(&p.url)
            .header("accept-language", language)
            .header("x-request-id", request_id)
            .json(&json!({ "query": "{ programmes { id } }" }))
            .send()
    };
    // The same language, other request ids: one fetch (ids name requests,
    // they do not change answers).
    let (a, b) = tokio::join!(ask("zh-CN", "a"), ask("zh-CN", "b"));
    assert_eq!(a.unwrap().status(), 200);
    assert_eq!(b.unwrap().status(), 200);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // Other languages: each its own fetch, with client requests coalesced
    // and subgraph fetches coalesced alike.
    let (a, b) = tokio::join!(ask("zh-CN", "c"), ask("en-GB", "d"));
    assert_eq!(a.unwrap().status(), 200);
    assert_eq!(b.unwrap().status(), 200);
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn identical_client_queries_in_flight_run_once_when_asked_to() {
    use std::sync::atomic::Ordering;
    let base = platform().await;
    let alliance_url = format!("{}/graphql", base.subgraphs[3].address);
    let Proxy {
        url: proxy, count, ..
    } = recording_proxy(alliance_url, std::time::Duration::from_millis(300)).await;
    // Subgraph coalescing off, so only client coalescing can save a fetch.
    let p = platform_with(move |c| {
        c.coalesce_subgraph_fetches = false;
        c.coalesce_client_requests = true;
        c.url_overrides.insert("alliance".into(), proxy);
    })
    .await;
    let q = "{ programmes { id } }";
    let op = p.operator();
    let (a, b) = tokio::join!(
        p.ask(Some(&op), q, json!({})),
        p.ask(Some(&op), q, json!({}))
    );
    assert!(a["data"]["programmes"].is_array(), "{a}");
    assert_eq!(a, b, "the follower gets the leader's answer");
    assert_eq!(count.load(Ordering::SeqCst), 1, "executed once");

    let member = p.subgraphs[0].token(kit::auth::TokenRequest::member("m-1"));
    tokio::join!(
        p.ask(Some(&op), q, json!({})),
        p.ask(Some(&member), q, json!({}))
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        3,
        "other credentials: never shared"
    );
}

#[tokio::test]
async fn each_request_is_one_trace_with_a_span_per_subgraph_fetch() {
    kit::telemetry::init_for_tests();
    let base = platform().await;
    let store = proxy_of(&base, 1).await;
    let alliance = proxy_of(&base, 3).await;
    let (store_url, alliance_url) = (store.url.clone(), alliance.url.clone());
    let p = platform_with(move |c| {
        c.url_overrides.insert("store".into(), store_url);
        c.url_overrides.insert("alliance".into(), alliance_url);
    })
    .await;
    // (trace id, span id) of a W3C traceparent.
    let ids = |t: &str| {
        let parts: Vec<&str> = t.split('-').collect();
        assert_eq!(parts.len(), 4, "{t}");
        (parts[1].to_owned(), parts[2].to_owned())
    };
    let q = json!({ "query": "{ programmes { brand { stores(first: 1) { edges { node { id } } } } } }" });
    let ask = |traceparent: Option<&'static str>| {
        let mut request = p.client.post(&p.url).json(&q);
        if let Some(t) = traceparent {
            request = request.header("traceparent", t);
        }
        async move {
            let response = request.send().await.unwrap();
            let trace = response.headers()["traceresponse"]
                .to_str()
                .unwrap()
                .to_owned();
            let body: Value = response.json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
            trace
        }
    };
    let fetches = |proxy: &Proxy| proxy.traceparents.lock().unwrap().clone();

    let (trace, request_span) = ids(&ask(None).await);
    let (alliance_seen, store_seen) = (fetches(&alliance), fetches(&store));
    assert_eq!((alliance_seen.len(), store_seen.len()), (1, 1));
    let (a_trace, a_span) = ids(&alliance_seen[0]);
    let (s_trace, s_span) = ids(&store_seen[0]);
    assert_eq!((&a_trace, &s_trace), (&trace, &trace), "one trace");
    assert!(
        a_span != request_span && s_span != request_span && a_span != s_span,
        "each fetch is its own span under the request's"
    );

    let (next_trace, _) = ids(&ask(None).await);
    assert_ne!(next_trace, trace, "another request, another trace");

    // A caller's trace carries on through the gateway to the subgraphs.
    let caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (joined, _) = ids(&ask(Some(caller)).await);
    assert_eq!(joined, "4bf92f3577b34da6a3ce929d0e0e4736");
    let (last, _) = ids(fetches(&store).last().unwrap());
    assert_eq!(last, joined);
}

#[tokio::test]
async fn graphql_response_json_gets_status_codes_and_json_gets_200() {
    let p = platform().await;
    let ask = |accept: &'static str, query: &'static str| {
        let request = p
            .client
            .post(&p.url)
            .header("accept", accept)
            .json(&json!({ "query": query }));
        async move { request.send().await.unwrap() }
    };
    let invalid = ask("application/graphql-response+json", "{ nope }").await;
    assert_eq!(invalid.status(), 400);
    assert_eq!(
        invalid.headers()["content-type"],
        "application/graphql-response+json"
    );
    let plain = ask("application/json", "{ nope }").await;
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.headers()["content-type"], "application/json");
    let fine = ask("application/graphql-response+json", "{ programmes { id } }").await;
    assert_eq!(fine.status(), 200);
    // A refused token is 401 whatever the client accepts, at the gateway
    // as at every subgraph.
    let subgraph = format!("{}/graphql", p.subgraphs[0].address);
    for url in [&p.url, &subgraph] {
        for accept in [
            Some("application/graphql-response+json"),
            Some("application/json"),
            Some("*/*"),
            None,
        ] {
            let mut request = p
                .client
                .post(url)
                .bearer_auth("garbage")
                .json(&json!({ "query": "{ __typename }" }));
            if let Some(accept) = accept {
                request = request.header("accept", accept);
            }
            let bad_token = request.send().await.unwrap();
            assert_eq!(bad_token.status(), 401, "{url} with accept {accept:?}");
        }
    }
}

#[tokio::test]
async fn a_failed_contributing_subgraph_nulls_only_its_fields() {
    let mut p = platform().await;
    let product = p.subgraphs.remove(2);
    product.stop().await;
    let q = "{ programmes { id brand { name products(first: 1) { edges { node { id } } } } } }";
    let r = p.ask(None, q, json!({})).await;
    let programmes = r["data"]["programmes"]
        .as_array()
        .expect("the rest of the data is there");
    assert_eq!(programmes.len(), 3, "{r}");
    for programme in programmes {
        assert!(programme["brand"]["name"].is_string(), "{r}");
        assert!(programme["brand"]["products"].is_null(), "{r}");
    }
    let errors = r["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .all(|e| e["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"
                && e["extensions"]["serviceName"] == "product"),
        "{r}"
    );
    assert_eq!(errors[0]["path"][0], "programmes");
    assert_eq!(errors[0]["path"][2], "brand", "at the affected path: {r}");
}

#[tokio::test]
async fn one_entity_reached_twice_is_filled_in_both_places() {
    let p = platform().await;
    // Six terms name three brands twice each: three deduplicated
    // representations, whose answers fill six places.
    let q = "{ exchangeTerms { fromProgramme { brand { id stores(first: 1) { edges { node { id } } } } } } }";
    let r = p.ask(Some(&p.operator()), q, json!({})).await;
    assert!(r.get("errors").is_none(), "{r}");
    let terms = r["data"]["exchangeTerms"].as_array().unwrap();
    assert_eq!(terms.len(), 6);
    let mut by_brand: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for t in terms {
        let brand = &t["fromProgramme"]["brand"];
        let stores = brand["stores"]["edges"].clone();
        assert_eq!(
            stores.as_array().map(Vec::len),
            Some(1),
            "filled in every place: {r}"
        );
        by_brand
            .entry(brand["id"].as_str().unwrap().to_owned())
            .or_default()
            .push(stores);
    }
    assert_eq!(by_brand.len(), 3);
    for (brand, answers) in by_brand {
        assert_eq!(answers.len(), 2, "{brand}");
        assert_eq!(answers[0], answers[1], "the same answer for the same brand");
    }
}

/// Eight identical mutations sent at once with one token, through a
/// gateway that coalesces both subgraph fetches and client requests: each
/// is applied (stock rises by 8; eight quotes with eight ids).
#[tokio::test]
async fn identical_mutations_at_once_are_each_applied() {
    let p = platform_with(|c| {
        c.coalesce_subgraph_fetches = true;
        c.coalesce_client_requests = true;
    })
    .await;
    let op = p.operator();
    let receive = "mutation { receiveStock(skuId: \"demo-sku-00-1\", locationId: \"demo-warehouse\", quantity: 1, reason: \"delivery\") { onHand } }";
    let before = p.ask(Some(&op), receive, json!({})).await["data"]["receiveStock"]["onHand"]
        .as_i64()
        .unwrap();
    let answers =
        futures::future::join_all((0..8).map(|_| p.ask(Some(&op), receive, json!({})))).await;
    let mut seen: Vec<i64> = answers
        .iter()
        .map(|a| {
            a["data"]["receiveStock"]["onHand"]
                .as_i64()
                .unwrap_or_else(|| panic!("{a}"))
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, ((before + 1)..=(before + 8)).collect::<Vec<_>>());

    let member = p.member_ids(1).await.remove(0);
    let member = member.as_str();
    let earned = p.ask(
        Some(&op),
        "mutation($m: ID!) { earnPoints(input: { memberId: $m, programmeId: \"coffee-points\", points: 2000, sourceSystem: \"test\", externalTransactionId: \"t-1\", reason: \"test\", idempotencyKey: \"identical-earn-1\" }) { account { activeBalance } } }",
        json!({ "m": member }),
    )
    .await;
    assert_eq!(
        earned["data"]["earnPoints"]["account"]["activeBalance"], 2000,
        "{earned}"
    );
    let token = p.subgraphs[0].token(kit::auth::TokenRequest::member(member));
    let quote = "mutation { exchangeQuote(fromProgrammeId: \"coffee-points\", toProgrammeId: \"cinema-points\", points: 100) { id pointsOut } }";
    let answers =
        futures::future::join_all((0..8).map(|_| p.ask(Some(&token), quote, json!({})))).await;
    let ids: std::collections::HashSet<String> = answers
        .iter()
        .map(|a| {
            a["data"]["exchangeQuote"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{a}"))
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 8, "one quote per request");
}

/// An operation as deep as the gateway allows is served: no subgraph
/// refuses what the gateway let through (the subgraphs' limits have the
/// headroom a subgraph fetch needs).
#[tokio::test]
async fn an_operation_at_the_gateways_depth_limit_is_answered() {
    let p = platform().await;
    let max_depth = gateway::Limits::default().max_depth as usize;
    // programmes { brand { programme { brand { … { id } } } } }
    let mut levels = vec!["programmes"];
    while levels.len() < max_depth - 1 {
        levels.push(if levels.len() % 2 == 1 {
            "brand"
        } else {
            "programme"
        });
    }
    let open: String = levels.iter().map(|l| format!("{l} {{ ")).collect();
    let query = format!("{{ {open}id {}}}", "} ".repeat(levels.len()));
    let answer = p.ask(None, &query, json!({})).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert!(
        answer["data"]["programmes"][0]["brand"]["programme"].is_object(),
        "{answer}"
    );
    let deeper = query.replacen("{ programmes {", "{ programmes { brand { programme {", 1) + " } }";
    let refused = p.ask(None, &deeper, json!({})).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{refused}"
    );
}

/// A mutation whose non-null field fails answers `data: null`, so the
/// fields after it are not run: a client that sees no data retries, and
/// nothing after the failure was written (across subgraphs: the gateway's
/// sequence of fetches).
#[tokio::test]
async fn a_failed_non_null_mutation_field_stops_the_mutation_there() {
    let p = platform().await;
    let op = p.operator();
    let stock =
        "{ store(id: \"demo-store-09\") { inventory(skuIds: [\"demo-sku-09-0\"]) { onHand } } }";
    let on_hand = |a: &Value| {
        a["data"]["store"]["inventory"][0]["onHand"]
            .as_i64()
            .unwrap()
    };
    let before = on_hand(&p.ask(Some(&op), stock, json!({})).await);
    let failing_first = "mutation { g: adjustGrowthValue(memberId: \"no-such-member\", delta: 1, reason: \"m\") { growthValue } r: receiveStock(skuId: \"demo-sku-09-0\", locationId: \"demo-store-09\", quantity: 1, reason: \"m\") { onHand } }";
    let answer = p.ask(Some(&op), failing_first, json!({})).await;
    assert!(answer["data"].is_null(), "{answer}");
    assert_eq!(answer["errors"][0]["path"], json!(["g"]), "{answer}");
    assert_eq!(
        on_hand(&p.ask(Some(&op), stock, json!({})).await),
        before,
        "receiveStock after the failed field did not run"
    );
    // A write before the failure has run, as in graphql-js; null
    // propagation still makes the data null.
    let failing_last = "mutation { r: receiveStock(skuId: \"demo-sku-09-0\", locationId: \"demo-store-09\", quantity: 1, reason: \"m\") { onHand } g: adjustGrowthValue(memberId: \"no-such-member\", delta: 1, reason: \"m\") { growthValue } }";
    let answer = p.ask(Some(&op), failing_last, json!({})).await;
    assert!(answer["data"].is_null(), "{answer}");
    assert_eq!(
        on_hand(&p.ask(Some(&op), stock, json!({})).await),
        before + 1
    );
}

/// A subgraph's error about an entity field's argument sits at that
/// field's path in the client's answer, under its aliases.
#[tokio::test]
async fn an_entity_fields_argument_error_sits_at_the_field() {
    let p = platform().await;
    let op = p.operator();
    let members = p
        .ask(
            Some(&op),
            "{ members(first: 2) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let id = members["data"]["members"]["edges"][0]["node"]["id"].clone();
    let r = p
        .ask(
            Some(&op),
            "query($id: ID!) { m: member(id: $id) { id history: orders(first: 101) { nodes { id } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r["data"]["m"]["history"], Value::Null, "{r}");
    assert_eq!(r["data"]["m"]["id"], id, "{r}");
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{r}");
    assert_eq!(errors[0]["path"], json!(["m", "history"]), "{r}");
    assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT", "{r}");
    assert_eq!(errors[0]["extensions"]["field"], "first", "{r}");

    // In a list: one error at each field it nulled, each once.
    let r = p
        .ask(
            Some(&op),
            "{ allianceBrands { stores(first: 3) { nodes { inventory(skuIds: [\"no-such-sku\"]) { onHand } } } } }",
            json!({}),
        )
        .await;
    let mut nulled = Vec::new();
    for (b, brand) in r["data"]["allianceBrands"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for (s, store) in brand["stores"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert_eq!(store["inventory"], Value::Null, "{r}");
            nulled.push(json!([
                "allianceBrands",
                b,
                "stores",
                "nodes",
                s,
                "inventory"
            ]));
        }
    }
    assert!(nulled.len() > 3, "{r}");
    let paths: Vec<Value> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].clone())
        .collect();
    assert_eq!(paths, nulled, "{r}");
}

/// Money, points, balances and growth are `Long`: past 2^31 − 1 they
/// travel exactly (an order of 3 × 1,000,000,000 fen, a balance of
/// 3,000,000,000 points, a growth value of 3,000,000,000); each input
/// refuses what its rule refuses (a price above 1,000,000,000 fen, points
/// above 1,000,000,000 per transaction) and negatives, as literals and as
/// variables, with BAD_USER_INPUT; anything past 2^53 − 1 the gateway
/// refuses before any subgraph sees it (a variable BAD_USER_INPUT, a
/// literal GRAPHQL_VALIDATION_FAILED), so a mutation is never half applied.
/// A 32-bit Int argument refuses 2^31.
#[tokio::test]
async fn amounts_past_32_bits_travel_exactly_and_bad_ones_are_refused() {
    let p = platform().await;
    let op = p.operator();
    let sku = "demo-sku-00-1";
    let ok = |r: &Value| assert!(r.get("errors").is_none(), "{r}");
    let refused = |r: &Value, needle: &str| {
        assert_eq!(
            r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{r}"
        );
        let message = r["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{needle}: {r}");
    };
    let invalid = |r: &Value, needle: &str| {
        assert_eq!(
            r["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{r}"
        );
        let message = r["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{needle}: {r}");
    };
    let two_31 = 1_i64 << 31;
    let two_53 = 1_i64 << 53;

    // A price: at most 1,000,000,000 fen; the scalar carries the rest.
    let set_price =
        "mutation($s: ID!, $p: Long) { updateSku(id: $s, listPriceFen: $p) { listPriceFen } }";
    for (price, needle) in [
        (two_31 - 1, "between 1 and 1000000000"),
        (two_31, "between 1 and 1000000000"),
        (two_53, "9007199254740991"),
        (-1, "between 1 and 1000000000"),
    ] {
        refused(
            &p.ask(Some(&op), set_price, json!({ "s": sku, "p": price }))
                .await,
            needle,
        );
        let literal = format!(
            "mutation {{ updateSku(id: \"{sku}\", listPriceFen: {price}) {{ listPriceFen }} }}"
        );
        let answer = p.ask(Some(&op), &literal, json!({})).await;
        if price == two_53 {
            invalid(&answer, needle);
        } else {
            refused(&answer, needle);
        }
    }

    // A mutation whose second field's amount is not a Long is refused
    // whole: the first field's tags are not written.
    let member_for_tags = p.member_ids(1).await.remove(0);
    let two_fields = "mutation($m: ID!, $s: ID!, $p: Long) { addTags(memberId: $m, tags: [\"half-applied\"]) { tags } updateSku(id: $s, listPriceFen: $p) { listPriceFen } }";
    for bad in [json!("5"), json!(two_53 + 1), json!(-two_53), json!(1.5)] {
        let r = p
            .ask(
                Some(&op),
                two_fields,
                json!({ "m": member_for_tags, "s": sku, "p": bad }),
            )
            .await;
        refused(&r, "$p");
        assert!(r["data"].is_null(), "nothing ran: {r}");
    }
    let literal_fields = format!(
        "mutation($m: ID!) {{ addTags(memberId: $m, tags: [\"half-applied\"]) {{ tags }} updateSku(id: \"{sku}\", listPriceFen: {}) {{ listPriceFen }} }}",
        two_53 + 1
    );
    invalid(
        &p.ask(Some(&op), &literal_fields, json!({ "m": member_for_tags }))
            .await,
        "9007199254740991",
    );
    let tags = p
        .ask(
            Some(&op),
            "query($m: ID!) { member(id: $m) { tags } }",
            json!({ "m": member_for_tags }),
        )
        .await;
    ok(&tags);
    assert!(
        !tags.to_string().contains("half-applied"),
        "no field of a refused mutation ran: {tags}"
    );

    let priced = p
        .ask(
            Some(&op),
            set_price,
            json!({ "s": sku, "p": 1_000_000_000 }),
        )
        .await;
    ok(&priced);

    // Three of them: 3,000,000,000 fen, exactly.
    let stocked = p
        .ask(
            Some(&op),
            "mutation($s: ID!) { receiveStock(skuId: $s, locationId: \"demo-store-00\", quantity: 5, reason: \"big numbers\") { onHand } }",
            json!({ "s": sku }),
        )
        .await;
    ok(&stocked);
    let member = p.member_ids(1).await.remove(0);
    let place = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { totalFen lines { unitPriceFen amountFen } } }";
    let order = |quantity: Value| {
        json!({ "i": {
            "memberId": member, "channel": "STORE_POS", "storeId": "demo-store-00",
            "fulfilment": "IN_STORE", "lines": [{ "skuId": sku, "quantity": quantity }],
            "idempotencyKey": format!("big-order-{quantity}"),
        } })
    };
    let placed = p.ask(Some(&op), place, order(json!(3))).await;
    ok(&placed);
    assert_eq!(
        placed["data"]["placeOrder"],
        json!({ "totalFen": 3_000_000_000_i64, "lines": [{ "unitPriceFen": 1_000_000_000, "amountFen": 3_000_000_000_i64 }] })
    );
    // A quantity is a 32-bit Int (and at most 1,000 a line).
    let too_many = p.ask(Some(&op), place, order(json!(two_31))).await;
    assert!(
        too_many["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("32-bit")),
        "{too_many}"
    );
    assert!(too_many["data"].is_null(), "nothing ran: {too_many}");

    // Points: at most 1,000,000,000 a transaction; a balance of three.
    let earn = "mutation($m: ID!, $n: Long!, $k: String!) { earnPoints(input: { memberId: $m, programmeId: \"coffee-points\", points: $n, sourceSystem: \"pos\", externalTransactionId: $k, reason: \"big\", idempotencyKey: $k }) { account { activeBalance lifetimeEarned } } }";
    for (points, needle) in [
        (two_31 - 1, "between 1 and 1000000000"),
        (two_31, "between 1 and 1000000000"),
        (two_53, "9007199254740991"),
        (-5, "between 1 and 1000000000"),
    ] {
        refused(
            &p.ask(
                Some(&op),
                earn,
                json!({ "m": member, "n": points, "k": "big-refused" }),
            )
            .await,
            needle,
        );
    }
    let mut last = Value::Null;
    for i in 0..3 {
        last = p
            .ask(
                Some(&op),
                earn,
                json!({ "m": member, "n": 1_000_000_000, "k": format!("big-earn-{i}") }),
            )
            .await;
        ok(&last);
    }
    assert_eq!(
        last["data"]["earnPoints"]["account"],
        json!({ "activeBalance": 3_000_000_000_i64, "lifetimeEarned": 3_000_000_000_i64 })
    );

    // Growth: 1,000,000,000 at most a call, and the sum is a Long.
    let grow = "mutation($m: ID!) { adjustGrowthValue(memberId: $m, delta: 1000000000, reason: \"big\") { growthValue } }";
    for _ in 0..3 {
        last = p.ask(Some(&op), grow, json!({ "m": member })).await;
        ok(&last);
    }
    let growth = last["data"]["adjustGrowthValue"]["growthValue"]
        .as_i64()
        .unwrap();
    assert!(growth >= 3_000_000_000, "{last}");
}

/// Every write acts only for a live member, whoever the caller is, and a
/// change of standing takes effect at once, with tokens minted before it:
/// an erased or suspended member's writes are FORBIDDEN in every service,
/// an id no member has is NOT_FOUND (its token places nothing, reserves
/// nothing; a partner credits nobody), and a merged id acts as its
/// survivor. Reinstated, a suspended member acts again.
#[tokio::test]
async fn writes_act_only_for_a_live_member() {
    let p = platform().await;
    let op = p.operator();
    let app = &p.subgraphs[0];
    let member_token = |id: &str| app.token(kit::auth::TokenRequest::member(id));
    let ok = |r: &Value| {
        assert!(r.get("errors").is_none(), "{r}");
        r["data"].clone()
    };
    let ids = p.member_ids(4).await;
    let [erased, suspended, merged, survivor] = [&ids[0], &ids[1], &ids[2], &ids[3]];
    let code = ok(&p
        .ask(
            Some(&op),
            "{ guide(id: \"demo-guide-00\") { code } }",
            json!({}),
        )
        .await)["guide"]["code"]
        .clone();
    ok(&p
        .ask(
            Some(&op),
            "mutation { receiveStock(skuId: \"demo-sku-00-1\", locationId: \"demo-store-00\", quantity: 100, reason: \"standing\") { onHand } }",
            json!({}),
        )
        .await);
    const EARN: &str = "mutation($m: ID!, $k: String!) { earnPoints(input: { memberId: $m, programmeId: \"coffee-points\", points: 500, sourceSystem: \"pos\", externalTransactionId: $k, reason: \"standing\", idempotencyKey: $k }) { account { id member { id } activeBalance } } }";
    const PLACE: &str = "mutation($m: ID, $k: String!) { placeOrder(input: { memberId: $m, channel: APP, storeId: \"demo-store-00\", fulfilment: PICKUP_IN_STORE, lines: [{ skuId: \"demo-sku-00-1\", quantity: 1 }], idempotencyKey: $k }) { id member { id } } }";
    const QUOTE: &str = "mutation { exchangeQuote(fromProgrammeId: \"coffee-points\", toProgrammeId: \"cinema-points\", points: 100) { id } }";

    // While every one of them may act: points, an order, a quote each.
    struct Before {
        order: Value,
        quote: Value,
        account: Value,
    }
    let mut before = std::collections::BTreeMap::new();
    for id in [erased, suspended, merged] {
        let earned = ok(&p
            .ask(
                Some(&op),
                EARN,
                json!({ "m": id, "k": format!("standing-earn-{id}") }),
            )
            .await);
        let token = member_token(id);
        let order = ok(&p
            .ask(
                Some(&token),
                PLACE,
                json!({ "k": format!("standing-order-{id}") }),
            )
            .await)["placeOrder"]["id"]
            .clone();
        let quote = ok(&p.ask(Some(&token), QUOTE, json!({})).await)["exchangeQuote"]["id"].clone();
        before.insert(
            id.clone(),
            Before {
                order,
                quote,
                account: earned["earnPoints"]["account"]["id"].clone(),
            },
        );
    }

    // Their standing changes; their tokens stay as they were.
    ok(&p
        .ask(
            Some(&op),
            "mutation($m: ID!) { eraseMember(memberId: $m) { status } }",
            json!({ "m": erased }),
        )
        .await);
    let s = ok(&p
        .ask(
            Some(&op),
            "mutation($m: ID!) { suspendMember(memberId: $m) { status } }",
            json!({ "m": suspended }),
        )
        .await);
    assert_eq!(s["suspendMember"]["status"], "SUSPENDED");
    ok(&p
        .ask(
            Some(&op),
            "mutation($s: ID!, $m: ID!) { mergeMembers(survivorId: $s, mergedId: $m, reason: \"same person\") { id } }",
            json!({ "s": survivor, "m": merged }),
        )
        .await);

    // Every write a member makes, in every service, and writes others make
    // for a member.
    let writes = |id: &str, b: Option<&Before>| -> Vec<(&'static str, bool, String, Value)> {
        let null = Value::Null;
        let order = b.map_or(&null, |b| &b.order).clone();
        let quote = b.map_or(&null, |b| &b.quote).clone();
        let account = b.map_or(&null, |b| &b.account).clone();
        let key = format!("standing-after-{id}");
        vec![
            ("placeOrder", true, PLACE.into(), json!({ "k": format!("{key}-order") })),
            ("cancelOrder", true, "mutation($o: ID!) { cancelOrder(orderId: $o) { id } }".into(), json!({ "o": order })),
            ("exchangeQuote", true, QUOTE.into(), json!({})),
            ("confirmExchange", true, "mutation($q: ID!, $k: String!) { confirmExchange(quoteId: $q, idempotencyKey: $k) { id } }".into(), json!({ "q": quote, "k": format!("{key}-confirm") })),
            ("addFavoriteStore", true, "mutation { addFavoriteStore(storeId: \"demo-store-00\") { id } }".into(), json!({})),
            ("removeFavoriteStore", true, "mutation { removeFavoriteStore(storeId: \"demo-store-00\") { id } }".into(), json!({})),
            ("recordGuideScan", true, "mutation($c: String!) { recordGuideScan(code: $c) { result } }".into(), json!({ "c": code })),
            ("updateProfile", true, "mutation($m: ID!) { updateProfile(memberId: $m, input: { name: \"Han Meimei\" }) { id } }".into(), json!({ "m": id })),
            ("linkIdentity", true, "mutation($m: ID!, $x: String!) { linkIdentity(memberId: $m, identity: { channel: ECOMMERCE, externalId: $x, brandId: \"coffee\" }) { outcome } }".into(), json!({ "m": id, "x": format!("{key}-x") })),
            ("setConsent", true, "mutation($m: ID!) { setConsent(memberId: $m, purpose: MARKETING_SMS, granted: true) { id } }".into(), json!({ "m": id })),
            ("recordTouchpoint", true, "mutation($m: ID!, $t: DateTime!, $k: String!) { recordTouchpoint(input: { memberId: $m, kind: STORE_VISIT, channel: APP, occurredAt: $t, idempotencyKey: $k }) { id } }".into(), json!({ "m": id, "t": app.now().to_rfc3339(), "k": format!("{key}-touch") })),
            ("earnPoints", false, EARN.into(), json!({ "m": id, "k": format!("{key}-earn") })),
            ("placeOrder for", false, PLACE.into(), json!({ "m": id, "k": format!("{key}-order-for") })),
            ("rebindMember", false, "mutation($m: ID!) { rebindMember(memberId: $m, guideId: \"demo-guide-00\", reason: \"standing\") { member { id } } }".into(), json!({ "m": id })),
            ("adjustPoints", false, "mutation($a: ID!, $k: String!) { adjustPoints(accountId: $a, points: 5, reason: \"standing\", idempotencyKey: $k) { entry { id } } }".into(), json!({ "a": account, "k": format!("{key}-adjust") })),
        ]
    };
    let cases = [
        (erased.as_str(), before.get(erased), "FORBIDDEN", "erased"),
        (
            suspended.as_str(),
            before.get(suspended),
            "FORBIDDEN",
            "suspended",
        ),
        ("nobody-here", None, "NOT_FOUND", "nobody-here"),
    ];
    for (id, b, code, words) in cases {
        let token = member_token(id);
        let mut checked = 0;
        for (name, as_member, query, variables) in writes(id, b) {
            let needs_before = variables
                .as_object()
                .is_some_and(|v| v.values().any(Value::is_null));
            if needs_before && b.is_none() {
                continue; // an order or a quote made before: nobody has one
            }
            let caller = if as_member { &token } else { &op };
            let r = p.ask(Some(caller), &query, variables).await;
            assert_eq!(
                r["errors"][0]["extensions"]["code"], code,
                "{name} for {id}: {r}"
            );
            let message = r["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(message.contains(words), "{name} for {id}: {r}");
            checked += 1;
        }
        // Nobody has an order, a quote or an account to act on.
        let expected = if b.is_some() { 15 } else { 12 };
        assert_eq!(checked, expected, "writes tried for {id}");
    }

    // A merged id acts as its survivor.
    let token = member_token(merged);
    let placed = ok(&p
        .ask(Some(&token), PLACE, json!({ "k": "standing-merged-order" }))
        .await);
    assert_eq!(placed["placeOrder"]["member"]["id"], survivor.as_str());
    let earned = ok(&p
        .ask(
            Some(&op),
            EARN,
            json!({ "m": merged, "k": "standing-merged-earn" }),
        )
        .await);
    assert_eq!(
        earned["earnPoints"]["account"]["member"]["id"],
        survivor.as_str()
    );
    // Its token reads and cancels what is now the survivor's, and its old
    // account, emptied by the merge, takes no corrections.
    let order = placed["placeOrder"]["id"].clone();
    let read = ok(&p
        .ask(
            Some(&token),
            "query($o: ID!) { order(id: $o) { id } me { id orders(first: 5) { edges { node { id } } } favoriteStores { id } } }",
            json!({ "o": order }),
        )
        .await);
    assert_eq!(read["me"]["id"], survivor.as_str());
    assert!(
        read["me"]["orders"]["edges"]
            .to_string()
            .contains(order.as_str().unwrap()),
        "{read}"
    );
    ok(&p
        .ask(
            Some(&token),
            "mutation($o: ID!) { cancelOrder(orderId: $o) { status } }",
            json!({ "o": order }),
        )
        .await);
    let stranded = p
        .ask(
            Some(&op),
            "mutation($a: ID!) { adjustPoints(accountId: $a, points: 7, reason: \"merged\", idempotencyKey: \"standing-merged-adjust\") { entry { id } } }",
            json!({ "a": before[merged].account }),
        )
        .await;
    assert_eq!(
        stranded["errors"][0]["extensions"]["code"], "CONFLICT",
        "{stranded}"
    );

    // Reinstated, the suspended member acts again, with the same token.
    ok(&p
        .ask(
            Some(&op),
            "mutation($m: ID!) { reinstateMember(memberId: $m) { status } }",
            json!({ "m": suspended }),
        )
        .await);
    for (name, as_member, query, variables) in writes(suspended, before.get(suspended)) {
        let caller = if as_member {
            member_token(suspended)
        } else {
            op.clone()
        };
        let r = p.ask(Some(&caller), &query, variables).await;
        assert!(r.get("errors").is_none(), "{name} once reinstated: {r}");
    }
}

/// A subgraph error inside an entity's nested field keeps its code and
/// lands on the entity it belongs to, whatever the shape: one entity under
/// a root field, or a list of entities, where the subgraph's path names a
/// field of `_entities` without the entity's index.
#[tokio::test]
async fn an_error_deep_in_an_entity_keeps_its_code_and_its_place() {
    let p = platform().await;
    let op = p.operator();
    let ids = p.member_ids(2).await;
    for (i, id) in ids.iter().enumerate() {
        let r = p
            .ask(
                Some(&op),
                "mutation($m: ID!, $k: String!) { earnPoints(input: { memberId: $m, programmeId: \"coffee-points\", points: 10, sourceSystem: \"pos\", externalTransactionId: $k, reason: \"deep\", idempotencyKey: $k }) { account { id } } }",
                json!({ "m": id, "k": format!("deep-entity-{i}") }),
            )
            .await;
        assert!(r.get("errors").is_none(), "{r}");
    }
    let codes_and_paths = |r: &Value| -> Vec<(Value, Value)> {
        r["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("errors: {r}"))
            .iter()
            .map(|e| (e["extensions"]["code"].clone(), e["path"].clone()))
            .collect()
    };
    let token = p.subgraphs[0].token(kit::auth::TokenRequest::member(&ids[0]));
    let one = p
        .ask(
            Some(&token),
            "{ me { pointsAccounts { expiringSoon(days: 100000) { points } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        codes_and_paths(&one),
        [(
            json!("BAD_USER_INPUT"),
            json!(["me", "pointsAccounts", 0, "expiringSoon"])
        )],
        "{one}"
    );
    let listed = p
        .ask(
            Some(&op),
            "query($n: Int!) { members(first: $n) { edges { node { id accounts: pointsAccounts { soon: expiringSoon(days: 100000) { points } } } } } }",
            json!({ "n": 2 }),
        )
        .await;
    let mut got = codes_and_paths(&listed);
    got.sort_by_key(|(_, path)| path.to_string());
    assert_eq!(
        got,
        [0, 1]
            .map(|i| (
                json!("BAD_USER_INPUT"),
                json!(["members", "edges", i, "node", "accounts", 0, "soon"])
            ))
            .to_vec(),
        "{listed}"
    );
}

/// A retry is recognised by what it sent: the same request, repeated after
/// its member was merged into another, replays the first answer (the
/// order, the entry) instead of a CONFLICT, though the member now acts as
/// the survivor.
#[tokio::test]
async fn a_retry_after_a_merge_replays_the_first_answer() {
    let p = platform().await;
    let op = p.operator();
    let ids = p.member_ids(2).await;
    let (survivor, merged) = (&ids[0], &ids[1]);
    let token = p.subgraphs[0].token(kit::auth::TokenRequest::member(merged));
    let stocked = p
        .ask(
            Some(&op),
            "mutation { receiveStock(skuId: \"demo-sku-00-1\", locationId: \"demo-store-00\", quantity: 2, reason: \"retry\") { onHand } }",
            json!({}),
        )
        .await;
    assert!(stocked.get("errors").is_none(), "{stocked}");
    let place = "mutation { placeOrder(input: { channel: APP, storeId: \"demo-store-00\", fulfilment: PICKUP_IN_STORE, lines: [{ skuId: \"demo-sku-00-1\", quantity: 1 }], idempotencyKey: \"retry-after-merge\" }) { id } }";
    let earn = "mutation($m: ID!) { earnPoints(input: { memberId: $m, programmeId: \"coffee-points\", points: 10, sourceSystem: \"pos\", externalTransactionId: \"retry-after-merge\", reason: \"retry\", idempotencyKey: \"retry-after-merge\" }) { entry { id } } }";
    let first_order = p.ask(Some(&token), place, json!({})).await;
    let first_entry = p.ask(Some(&op), earn, json!({ "m": merged })).await;
    for r in [&first_order, &first_entry] {
        assert!(r.get("errors").is_none(), "{r}");
    }
    let merge = p
        .ask(
            Some(&op),
            "mutation($s: ID!, $m: ID!) { mergeMembers(survivorId: $s, mergedId: $m, reason: \"same person\") { id } }",
            json!({ "s": survivor, "m": merged }),
        )
        .await;
    assert!(merge.get("errors").is_none(), "{merge}");
    let again_order = p.ask(Some(&token), place, json!({})).await;
    let again_entry = p.ask(Some(&op), earn, json!({ "m": merged })).await;
    assert_eq!(again_order, first_order, "the order replays");
    assert_eq!(again_entry, first_entry, "the entry replays");
}

/// Rate limits of `store`: partners 3 at once then 1 a minute, anonymous
/// callers 2, the operation `Heavy` once per caller; members unlimited.
fn limits(store: &str, prefix: &str) -> Option<Arc<gateway::rate_limit::RateLimits>> {
    let settings: kit::config::RateLimitSettings = serde_json::from_value(json!({
        "store": store,
        "redis_key_prefix": prefix,
        "roles": {
            "partner": { "per_minute": 1, "burst": 3 },
            "anonymous": { "per_minute": 1, "burst": 2 },
        },
        "operations": { "Heavy": { "per_minute": 1, "burst": 1 } },
    }))
    .unwrap();
    gateway::rate_limit::RateLimits::new(&settings)
        .unwrap()
        .map(Arc::new)
}

/// A Redis key prefix no other test or run shares.
fn fresh_prefix() -> String {
    format!("bigmember-test:{}:", uuid::Uuid::now_v7())
}

/// Sends `query` as `token` to `url`: the status, `Retry-After` and body.
async fn limited_ask(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
) -> (u16, Option<u64>, Value) {
    let mut request = client.post(url).json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let retry_after = answer
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry_after, answer.json().await.unwrap())
}

fn assert_limited((status, retry_after, body): &(u16, Option<u64>, Value), what: &str) {
    assert_eq!(*status, 429, "{what}: {body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{what}: {body}"
    );
    let secs = retry_after.unwrap_or_else(|| panic!("{what}: no Retry-After"));
    assert!((1..=60).contains(&secs), "{what}: Retry-After {secs}");
    assert_eq!(body["errors"][0]["extensions"]["retryAfterSeconds"], secs);
    assert!(body.get("data").is_none(), "{what}: {body}");
}

fn assert_served((status, _, body): &(u16, Option<u64>, Value), what: &str) {
    assert_eq!(*status, 200, "{what}: {body}");
    assert!(body.get("errors").is_none(), "{what}: {body}");
}

#[tokio::test]
async fn each_caller_has_its_own_buckets_in_memory_and_in_redis() {
    for store in ["memory", "redis"] {
        let prefix = fresh_prefix();
        let p = platform_with(|c| c.rate_limits = limits(store, &prefix)).await;
        let q = "{ programmes { id } }";
        let coffee = p.subgraphs[0].token(kit::auth::TokenRequest::partner("key-c", "coffee"));
        let cinema = p.subgraphs[0].token(kit::auth::TokenRequest::partner("key-m", "cinema"));
        // Another key of the same brand draws on the same bucket.
        let coffee_too = p.subgraphs[0].token(kit::auth::TokenRequest::partner("key-c2", "coffee"));
        for n in 0..2 {
            let r = limited_ask(&p.client, &p.url, Some(&coffee), q).await;
            assert_served(&r, &format!("{store}: coffee #{n}"));
        }
        let r = limited_ask(&p.client, &p.url, Some(&coffee_too), q).await;
        assert_served(&r, &format!("{store}: coffee's other key"));
        let r = limited_ask(&p.client, &p.url, Some(&coffee), q).await;
        assert_limited(&r, &format!("{store}: coffee past its burst"));
        // One partner's flood leaves the other's bucket whole.
        for n in 0..3 {
            let r = limited_ask(&p.client, &p.url, Some(&cinema), q).await;
            assert_served(&r, &format!("{store}: cinema #{n}"));
        }
        // Anonymous callers by address; members have no bucket here.
        for n in 0..2 {
            let r = limited_ask(&p.client, &p.url, None, q).await;
            assert_served(&r, &format!("{store}: anonymous #{n}"));
        }
        let r = limited_ask(&p.client, &p.url, None, q).await;
        assert_limited(&r, &format!("{store}: anonymous past its burst"));
        let member = p.subgraphs[0].token(kit::auth::TokenRequest::member("m-1"));
        for n in 0..5 {
            let r = limited_ask(&p.client, &p.url, Some(&member), q).await;
            assert_served(&r, &format!("{store}: member #{n}"));
        }
        // An operation's own bucket, per caller, named in the document
        // whether or not operationName is sent.
        let heavy = "query Heavy { programmes { id } }";
        let r = limited_ask(&p.client, &p.url, Some(&member), heavy).await;
        assert_served(&r, &format!("{store}: Heavy once"));
        let r = limited_ask(&p.client, &p.url, Some(&member), heavy).await;
        assert_limited(&r, &format!("{store}: Heavy twice"));
        let r = limited_ask(
            &p.client,
            &p.url,
            Some(&member),
            "query Light { programmes { id } }",
        )
        .await;
        assert_served(&r, &format!("{store}: another operation"));
        let other = p.subgraphs[0].token(kit::auth::TokenRequest::member("m-2"));
        let r = limited_ask(&p.client, &p.url, Some(&other), heavy).await;
        assert_served(&r, &format!("{store}: Heavy by another member"));
    }
}

#[tokio::test]
async fn identical_requests_at_once_take_exactly_the_burst() {
    for store in ["memory", "redis"] {
        let prefix = fresh_prefix();
        let p = platform_with(|c| c.rate_limits = limits(store, &prefix)).await;
        let coffee = p.subgraphs[0].token(kit::auth::TokenRequest::partner("key-c", "coffee"));
        let answers = futures::future::join_all(
            (0..20).map(|_| limited_ask(&p.client, &p.url, Some(&coffee), "{ programmes { id } }")),
        )
        .await;
        let served = answers.iter().filter(|(status, ..)| *status == 200).count();
        let limited = answers.iter().filter(|(status, ..)| *status == 429).count();
        assert_eq!((served, limited), (3, 17), "{store}");
        // A mutation is counted the same way (and never run when refused).
        let register = "mutation { registerMember(input: { phone: \"+8613800000000\", channel: APP, externalId: \"rl-1\", brandId: \"coffee\" }) { id } }";
        let answers = futures::future::join_all(
            (0..5).map(|_| limited_ask(&p.client, &p.url, Some(&coffee), register)),
        )
        .await;
        assert!(
            answers.iter().all(|(status, ..)| *status == 429),
            "{store}: {answers:?}"
        );
    }
}

#[tokio::test]
async fn gateway_replicas_share_their_buckets_through_redis() {
    let prefix = fresh_prefix();
    let p = platform_with(|c| c.rate_limits = limits("redis", &prefix)).await;
    // A second gateway over the same subgraphs and the same Redis.
    let second_url = p
        .replica(|config| config.rate_limits = limits("redis", &prefix))
        .await;

    let coffee = p.subgraphs[0].token(kit::auth::TokenRequest::partner("key-c", "coffee"));
    let q = "{ programmes { id } }";
    for (n, url) in [&p.url, &second_url, &p.url].into_iter().enumerate() {
        let r = limited_ask(&p.client, url, Some(&coffee), q).await;
        assert_served(&r, &format!("request {n}"));
    }
    for url in [&second_url, &p.url] {
        let r = limited_ask(&p.client, url, Some(&coffee), q).await;
        assert_limited(&r, url);
    }
}

#[tokio::test]
async fn requests_pass_uncounted_while_redis_is_unreachable() {
    // A port nothing listens on (held for the test).
    let closed = kit::testing::ClosedPort::new();
    let port = closed.port();
    let settings: kit::config::RateLimitSettings = serde_json::from_value(json!({
        "store": "redis",
        "redis_url": format!("redis://127.0.0.1:{port}"),
        "roles": { "anonymous": { "per_minute": 1, "burst": 1 } },
    }))
    .unwrap();
    let limits = gateway::rate_limit::RateLimits::new(&settings)
        .unwrap()
        .map(Arc::new);
    let p = platform_with(|c| c.rate_limits = limits).await;
    for n in 0..3 {
        let r = limited_ask(&p.client, &p.url, None, "{ programmes { id } }").await;
        assert_served(&r, &format!("request {n}"));
    }
}

// Trusted documents and APQ.

/// The example manifest the README shows (GraphQL Codegen's format: the
/// SHA-256 of each document → the document).
const TRUSTED: &str = include_str!("../../examples/trusted-documents.json");

/// The id of the manifest's operation `name`.
fn trusted_id(name: &str) -> String {
    let manifest: serde_json::Map<String, Value> = serde_json::from_str(TRUSTED).unwrap();
    manifest
        .iter()
        .find(|(_, body)| body.as_str().unwrap().starts_with(&format!("query {name}")))
        .map(|(id, _)| id.clone())
        .unwrap_or_else(|| panic!("{name} is not in the manifest"))
}

fn trusted_body(name: &str) -> String {
    let manifest: serde_json::Map<String, Value> = serde_json::from_str(TRUSTED).unwrap();
    manifest[&trusted_id(name)].as_str().unwrap().to_owned()
}

fn documents(mode: &str, apq: Value) -> Arc<gateway::documents::Documents> {
    let settings: kit::config::DocumentSettings =
        serde_json::from_value(json!({ "mode": mode, "apq": apq })).unwrap();
    Arc::new(gateway::documents::Documents::new(&settings, Some(TRUSTED)).unwrap())
}

/// The APQ extension naming a document by its hash (Apollo's protocol).
fn persisted_query(sha256_hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hash } })
}

fn sha256(text: &str) -> String {
    kit::digest::sha256_plain(text.as_bytes())
}

/// POSTs `body` (a JSON request) as `token`: the status and the answer.
async fn post(p: &Platform, url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = p.client.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

/// GETs `url` with `params`: the status and the answer.
async fn get(p: &Platform, url: &str, params: &[(&str, String)]) -> (u16, Value) {
    let answer = p.client.get(url).query(params).send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

fn code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {answer}"))
}

#[tokio::test]
async fn trusted_documents_run_by_id_and_alone_when_persisted_only() {
    let p = platform_with(|c| c.documents = documents("persisted_only", json!({}))).await;
    // A member to act as, found through an open replica.
    let open = p.replica(|_| {}).await;
    let members = json!({ "query": "{ members(first: 1) { edges { node { id } } } }" });
    let (_, found) = post(&p, &open, Some(&p.operator()), &members).await;
    let member = found["data"]["members"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{found}"))
        .to_owned();
    let token = p.subgraphs[0].token(kit::auth::TokenRequest::member(&member));
    // By id over POST, with a variable and its default; and over GET.
    let home = json!({ "documentId": trusted_id("MemberHome"), "variables": { "orders": 2 } });
    let (status, by_id) = post(&p, &p.url, Some(&token), &home).await;
    assert_eq!(status, 200, "{by_id}");
    assert!(by_id.get("errors").is_none(), "{by_id}");
    assert_eq!(by_id["data"]["me"]["id"], member.as_str(), "{by_id}");
    let (status, programmes) = get(&p, &p.url, &[("documentId", trusted_id("Programmes"))]).await;
    assert_eq!(status, 200, "{programmes}");
    assert_eq!(
        programmes["data"]["programmes"].as_array().map(Vec::len),
        Some(3)
    );
    // The GraphQL-over-HTTP prefixed id finds the same document.
    let prefixed = format!("sha256:{}", trusted_id("Programmes"));
    let (_, again) = get(&p, &p.url, &[("documentId", prefixed)]).await;
    assert_eq!(again, programmes);
    // A trusted document's text sent in full is the same document.
    let (_, full) = post(
        &p,
        &p.url,
        None,
        &json!({ "query": trusted_body("Programmes") }),
    )
    .await;
    assert_eq!(full, programmes);
    // Anything else is refused before planning, in every shape it can come.
    let other = "{ programmes { id } }";
    let refusals = [
        json!({ "query": other }),
        json!({ "query": other, "extensions": persisted_query(&sha256(other)) }),
        json!({ "extensions": persisted_query(&sha256(other)) }),
        json!({ "query": "mutation { registerMember(input: { identity: { channel: APP, externalId: \"td-1\", brandId: \"apparel\" }, phone: \"13800138001\" }) { outcome } }" }),
    ];
    for body in &refusals {
        let (status, answer) = post(&p, &p.url, None, body).await;
        assert_eq!(
            (status, code(&answer)),
            (200, "PERSISTED_QUERY_NOT_IN_LIST"),
            "{body}: {answer}"
        );
        assert!(answer.get("data").is_none(), "{answer}");
    }
    let (status, answer) = get(&p, &p.url, &[("query", other.to_owned())]).await;
    assert_eq!(
        (status, code(&answer)),
        (200, "PERSISTED_QUERY_NOT_IN_LIST")
    );
    // An id the manifest lacks; an id sent with a query.
    let (_, unknown) = post(&p, &p.url, None, &json!({ "documentId": "nope" })).await;
    assert_eq!(code(&unknown), "PERSISTED_QUERY_NOT_FOUND");
    let both = json!({ "documentId": trusted_id("Programmes"), "query": other });
    let (_, both) = post(&p, &p.url, None, &both).await;
    assert_eq!(code(&both), "BAD_REQUEST");
    let (_, nothing) = post(&p, &p.url, None, &json!({ "variables": {} })).await;
    assert_eq!(code(&nothing), "BAD_REQUEST");
    for (name, value) in [
        ("extensions", "[]"),
        ("variables", "1"),
        ("extensions", "{"),
    ] {
        let (status, answer) = get(&p, &p.url, &[(name, value.to_owned())]).await;
        assert_eq!(
            (status, code(&answer)),
            (400, "BAD_REQUEST"),
            "{name}={value}"
        );
    }
}

#[tokio::test]
async fn log_unknown_runs_anything_and_allow_any_is_the_default() {
    for mode in ["log_unknown", "allow_any"] {
        let p = platform_with(|c| c.documents = documents(mode, json!({}))).await;
        let (_, answer) = post(
            &p,
            &p.url,
            None,
            &json!({ "query": "{ programmes { id } }" }),
        )
        .await;
        assert_eq!(
            answer["data"]["programmes"].as_array().map(Vec::len),
            Some(3),
            "{mode}: {answer}"
        );
        let by_id = json!({ "documentId": trusted_id("Programmes") });
        let (_, answer) = post(&p, &p.url, None, &by_id).await;
        assert_eq!(
            answer["data"]["programmes"].as_array().map(Vec::len),
            Some(3),
            "{mode}: {answer}"
        );
    }
    let p = platform().await;
    let (_, answer) = post(
        &p,
        &p.url,
        None,
        &json!({ "documentId": trusted_id("Programmes") }),
    )
    .await;
    assert_eq!(
        code(&answer),
        "PERSISTED_QUERY_NOT_FOUND",
        "no manifest: {answer}"
    );
}

/// Apollo's APQ round: a hash alone is not found; the hash with its query
/// runs and registers it; then the hash alone runs, over POST and GET.
async fn apq_round(p: &Platform, url: &str, query: &str) -> Value {
    let ext = persisted_query(&sha256(query));
    let (_, first) = post(p, url, None, &json!({ "extensions": ext })).await;
    assert_eq!(code(&first), "PERSISTED_QUERY_NOT_FOUND", "{first}");
    let (_, registered) = post(p, url, None, &json!({ "query": query, "extensions": ext })).await;
    assert!(registered.get("errors").is_none(), "{registered}");
    let (_, by_hash) = post(p, url, None, &json!({ "extensions": ext })).await;
    assert_eq!(by_hash, registered);
    let (_, over_get) = get(p, url, &[("extensions", ext.to_string())]).await;
    assert_eq!(over_get, registered);
    registered
}

#[tokio::test]
async fn apq_registers_a_checked_query_and_replicas_share_it_through_redis() {
    for store in ["memory", "redis"] {
        let prefix = fresh_prefix();
        let apq = json!({ "store": store, "redis_key_prefix": prefix });
        let p = platform_with(|c| c.documents = documents("allow_any", apq.clone())).await;
        let query = format!("{{ programmes {{ id pointsName }} __typename }} # {prefix}");
        let answer = apq_round(&p, &p.url, &query).await;
        assert_eq!(
            answer["data"]["programmes"].as_array().map(Vec::len),
            Some(3)
        );
        // A hash that is not the query's is refused, and registers nothing.
        let other = format!("{{ programmes {{ id }} }} # {prefix}");
        let lie =
            json!({ "query": other, "extensions": persisted_query(&sha256("{ me { id } }")) });
        let (_, lie) = post(&p, &p.url, None, &lie).await;
        assert_eq!(code(&lie), "BAD_REQUEST", "{lie}");
        let me = json!({ "extensions": persisted_query(&sha256("{ me { id } }")) });
        let (_, me) = post(&p, &p.url, None, &me).await;
        assert_eq!(code(&me), "PERSISTED_QUERY_NOT_FOUND", "{me}");
        // Text that does not parse or validate is answered, never stored.
        for (bad, says) in [
            (
                format!("{{ nope }} # {prefix}"),
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                format!("{{ programmes {{ id }} # {prefix}"),
                "GRAPHQL_PARSE_FAILED",
            ),
        ] {
            let ext = persisted_query(&sha256(&bad));
            let (_, first) = post(
                &p,
                &p.url,
                None,
                &json!({ "query": bad, "extensions": ext }),
            )
            .await;
            assert_eq!(code(&first), says, "{first}");
            let (_, again) = post(&p, &p.url, None, &json!({ "extensions": ext })).await;
            assert_eq!(code(&again), "PERSISTED_QUERY_NOT_FOUND", "{bad}: {again}");
        }
        // Another replica finds it through Redis; in memory, each has its own.
        let replica = p
            .replica(|c| c.documents = documents("allow_any", apq.clone()))
            .await;
        let ext = persisted_query(&sha256(&query));
        let (_, there) = post(&p, &replica, None, &json!({ "extensions": ext })).await;
        if store == "redis" {
            assert_eq!(there, answer, "{store}");
        } else {
            assert_eq!(
                code(&there),
                "PERSISTED_QUERY_NOT_FOUND",
                "{store}: {there}"
            );
        }
    }
}

#[tokio::test]
async fn identical_apq_registrations_at_once_all_run_and_hang_ups_lose_nothing() {
    for store in ["memory", "redis"] {
        let prefix = fresh_prefix();
        let apq = json!({ "store": store, "redis_key_prefix": prefix });
        let p = platform_with(|c| {
            c.documents = documents("allow_any", apq);
            c.coalesce_client_requests = true;
        })
        .await;
        let query = format!("{{ programmes {{ id }} }} # {prefix}");
        let ext = persisted_query(&sha256(&query));
        // Unknown hashes asked for at once: every one is told to send the query.
        let hash_only = json!({ "extensions": ext });
        let asked =
            futures::future::join_all((0..10).map(|_| post(&p, &p.url, None, &hash_only))).await;
        assert!(
            asked
                .iter()
                .all(|(_, a)| code(a) == "PERSISTED_QUERY_NOT_FOUND"),
            "{store}: {asked:?}"
        );
        // Callers that hang up midway.
        for _ in 0..5 {
            let call = p
                .client
                .post(&p.url)
                .json(&json!({ "query": query, "extensions": ext }))
                .send();
            let _ = tokio::time::timeout(std::time::Duration::from_millis(1), call).await;
        }
        let body = json!({ "query": query, "extensions": ext });
        let answers =
            futures::future::join_all((0..20).map(|_| post(&p, &p.url, None, &body))).await;
        let first = &answers[0].1;
        assert_eq!(
            first["data"]["programmes"].as_array().map(Vec::len),
            Some(3),
            "{first}"
        );
        assert!(
            answers
                .iter()
                .all(|(status, a)| *status == 200 && a == first),
            "{store}"
        );
        let by_hash =
            futures::future::join_all((0..20).map(|_| post(&p, &p.url, None, &hash_only))).await;
        assert!(
            by_hash.iter().all(|(_, a)| a == first),
            "{store}: {by_hash:?}"
        );
    }
}

#[tokio::test]
async fn apq_while_redis_is_unreachable_still_runs_full_queries() {
    let closed = kit::testing::ClosedPort::new();
    let port = closed.port();
    let apq = json!({ "store": "redis", "redis_url": format!("redis://127.0.0.1:{port}") });
    let p = platform_with(|c| c.documents = documents("allow_any", apq)).await;
    let query = "{ programmes { id } }";
    let ext = persisted_query(&sha256(query));
    let (_, registered) = post(
        &p,
        &p.url,
        None,
        &json!({ "query": query, "extensions": ext }),
    )
    .await;
    assert_eq!(
        registered["data"]["programmes"].as_array().map(Vec::len),
        Some(3),
        "{registered}"
    );
    let (_, by_hash) = post(&p, &p.url, None, &json!({ "extensions": ext })).await;
    assert_eq!(code(&by_hash), "PERSISTED_QUERY_NOT_FOUND", "{by_hash}");
}

#[tokio::test]
async fn a_reloaded_manifest_is_used_at_once_and_a_broken_one_is_not() {
    let docs = documents("persisted_only", json!({}));
    let p = platform_with(|c| c.documents = docs.clone()).await;
    let programmes = json!({ "documentId": trusted_id("Programmes") });
    let (_, before) = post(&p, &p.url, None, &programmes).await;
    assert!(before.get("errors").is_none(), "{before}");
    assert!(docs.reload("{ not json").is_err());
    let (_, kept) = post(&p, &p.url, None, &programmes).await;
    assert_eq!(kept, before);
    assert_eq!(
        docs.reload(r#"{"v2": "query Brands { programmes { brand { id } } }"}"#),
        Ok(1)
    );
    let (_, gone) = post(&p, &p.url, None, &programmes).await;
    assert_eq!(code(&gone), "PERSISTED_QUERY_NOT_FOUND", "{gone}");
    let (_, v2) = post(&p, &p.url, None, &json!({ "documentId": "v2" })).await;
    assert_eq!(
        v2["data"]["programmes"].as_array().map(Vec::len),
        Some(3),
        "{v2}"
    );
}

/// An https:// subgraph behind a private CA: answered when `tls.ca_files`
/// trusts the CA, SUBGRAPH_UNAVAILABLE (its fields only) when nothing does.
#[tokio::test]
async fn https_subgraphs_are_reached_when_their_ca_is_trusted() {
    let trusted = kit::testing::TestCa::trusted();
    kit::tls::install(std::slice::from_ref(&trusted.ca_file)).unwrap();
    for (ca, answered) in [(trusted, true), (kit::testing::TestCa::stranger(), false)] {
        let p = platform_with(|c| {
            let plain = c.url_overrides["alliance"].clone();
            let addr: std::net::SocketAddr = plain
                .trim_start_matches("http://")
                .trim_end_matches("/graphql")
                .parse()
                .unwrap();
            c.url_overrides
                .insert("alliance".into(), format!("{}/graphql", ca.front(addr)));
        })
        .await;
        let r = p
            .ask(
                Some(&p.operator()),
                "{ programmes { id } tierLevels { code } }",
                json!({}),
            )
            .await;
        if answered {
            assert!(r.get("errors").is_none(), "{r}");
            assert_eq!(
                r["data"]["programmes"].as_array().map(Vec::len),
                Some(3),
                "{r}"
            );
        } else {
            assert_eq!(code(&r), "SUBGRAPH_UNAVAILABLE", "{r}");
            assert_eq!(
                r["errors"][0]["extensions"]["serviceName"], "alliance",
                "{r}"
            );
            assert_eq!(r["errors"].as_array().map(Vec::len), Some(1), "{r}");
        }
    }
}

/// `gateway.headers.respond`: the listed subgraph response headers come
/// back to the client, each distinct value once, from every subgraph the
/// request reached, for coalesced requests too; nothing comes back unless
/// listed; headers of the gateway's own answer cannot be listed.
#[tokio::test]
async fn listed_subgraph_response_headers_come_back_to_the_client() {
    let base = platform().await;
    let alliance = proxy_of(&base, 3).await;
    let store = proxy_of(&base, 1).await;
    // Public fields: the proxies forward anonymously.
    let query = json!({ "query": "{ programmes { id brand { stores(first: 1) { edges { node { id } } } } } }" });
    for (respond, coalesce) in [(true, false), (true, true), (false, false)] {
        let (to_alliance, to_store) = (alliance.url.clone(), store.url.clone());
        let p = platform_with(move |c| {
            c.url_overrides.insert("alliance".into(), to_alliance);
            c.url_overrides.insert("store".into(), to_store);
            c.coalesce_client_requests = coalesce;
            if respond {
                c.headers = propagation(r#"{"respond": ["x-served-by", "x-cache", "x-cache"]}"#);
            }
        })
        .await;
        let operator = p.operator();
        let answers = futures::future::join_all((0..5).map(|_| {
            p.client
                .post(&p.url)
                .bearer_auth(&operator)
                .json(&query)
                .send()
        }))
        .await;
        for answer in answers {
            let answer = answer.unwrap();
            let values = |name: &str| -> Vec<String> {
                let mut v: Vec<String> = answer
                    .headers()
                    .get_all(name)
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect();
                v.sort();
                v
            };
            assert!(values("x-internal-trace").is_empty());
            if respond {
                let mut expected = vec![
                    format!("proxy-of-{}", proxied_target(&base, 3)),
                    format!("proxy-of-{}", proxied_target(&base, 1)),
                ];
                expected.sort();
                assert_eq!(values("x-served-by"), expected, "coalesce {coalesce}");
                assert_eq!(values("x-cache"), vec!["MISS".to_owned()]);
            } else {
                assert!(values("x-served-by").is_empty() && values("x-cache").is_empty());
            }
            let body: Value = answer.json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
        }
    }
    for own in [
        "content-length",
        "Content-Type",
        "set-cookie",
        "access-control-allow-origin",
        "connection",
    ] {
        let settings: kit::config::HeaderSettings =
            serde_json::from_value(json!({ "respond": [own] })).unwrap();
        let refused = gateway::subgraph::HeaderPropagation::from_settings(&settings).unwrap_err();
        assert!(
            refused.contains("gateway.headers.respond"),
            "{own}: {refused}"
        );
    }
}

/// The URL a proxy of the `n`th subgraph forwards to.
fn proxied_target(platform: &Platform, n: usize) -> String {
    format!("{}/graphql", platform.subgraphs[n].address)
}

/// `gateway.compress_subgraph_requests`: entity fetches past 1 KiB reach
/// the subgraph gzipped, and the answer is the same as without; every edge
/// inflates a gzip body through its body limit (a small bomb is 413) and
/// refuses an encoding it does not read (415).
#[tokio::test]
async fn request_bodies_to_subgraphs_may_be_gzipped_and_every_edge_reads_them() {
    let base = platform().await;
    let store = proxy_of(&base, 1).await;
    // Many members: the store fetch carries one representation each.
    let query = json!({ "query": "{ members(first: 50) { edges { node { id attribution { boundAt } } } } }" });
    let mut answers = Vec::new();
    for compress in [false, true] {
        let to_store = store.url.clone();
        let p = platform_with(move |c| {
            c.url_overrides.insert("store".into(), to_store);
            if compress {
                c.compress_subgraph_requests = gateway::subgraph::RequestCompression::All;
            }
        })
        .await;
        let before = store.headers.lock().unwrap().len();
        let (_, answer) = post(&p, &p.url, Some(&p.operator()), &query).await;
        let seen = store.headers.lock().unwrap()[before..].to_vec();
        let gzipped = seen
            .iter()
            .filter(|h| h.get("content-encoding").is_some_and(|v| v == "gzip"))
            .count();
        assert_eq!(gzipped > 0, compress, "compress {compress}: {seen:?}");
        answers.push(answer);
    }
    // The platforms differ (their own members): the same shape, and the
    // store answered both.
    for answer in &answers {
        let edges = answer["data"]["members"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"));
        assert_eq!(edges.len(), 50, "{answer}");
    }
    assert_eq!(
        answers[0].get("errors").is_some(),
        answers[1].get("errors").is_some(),
        "{answers:?}"
    );

    // Straight to each edge: the gateway and a subgraph.
    let body = serde_json::to_vec(&json!({ "query": "{ __typename }" })).unwrap();
    let gzip = |bytes: &[u8]| {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    // 3 MB of spaces inflate past the 2 MiB limit from a few KB.
    let mut bomb = b"{\"query\": \"{ __typename }\"".to_vec();
    bomb.extend(std::iter::repeat_n(b' ', 3 << 20));
    bomb.push(b'}');
    let bomb = gzip(&bomb);
    assert!(bomb.len() < 64 * 1024);
    for url in [
        base.url.clone(),
        format!("{}/graphql", base.subgraphs[0].address),
    ] {
        let send = |bytes: Vec<u8>, encoding: &'static str| {
            base.client
                .post(&url)
                .header("content-type", "application/json")
                .header("content-encoding", encoding)
                .body(bytes)
                .send()
        };
        let ok = send(gzip(&body), "gzip").await.unwrap();
        assert_eq!(ok.status(), 200, "{url}");
        let ok: Value = ok.json().await.unwrap();
        assert_eq!(ok["data"]["__typename"], "Query", "{url}: {ok}");
        let refused = send(bomb.clone(), "gzip").await.unwrap();
        assert_eq!(refused.status(), 413, "{url}");
        let refused: Value = refused.json().await.unwrap();
        assert_eq!(code(&refused), "LIMIT_EXCEEDED", "{url}");
        let unknown = send(body.clone(), "zstd").await.unwrap();
        assert_eq!(unknown.status(), 415, "{url}");
    }
}

/// What Redis holds under a hash runs only if it is that hash's document:
/// a value written there by anything else is not found.
#[tokio::test]
async fn a_tampered_apq_entry_in_redis_never_runs() {
    let prefix = fresh_prefix();
    let apq = json!({ "store": "redis", "redis_key_prefix": prefix });
    let p = platform_with(|c| c.documents = documents("allow_any", apq)).await;
    let query = format!("{{ programmes {{ id }} }} # {prefix}");
    let hash = sha256(&query);
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}{hash}"))
        .arg("mutation { eraseMember(id: \"x\") { id } }")
        .arg("EX")
        .arg(60)
        .query_async(&mut redis)
        .await
        .unwrap();
    let ext = persisted_query(&hash);
    let (_, answer) = post(&p, &p.url, None, &json!({ "extensions": ext })).await;
    assert_eq!(code(&answer), "PERSISTED_QUERY_NOT_FOUND", "{answer}");
    // Registering the real document puts it right.
    let (_, registered) = post(
        &p,
        &p.url,
        None,
        &json!({ "query": query, "extensions": ext }),
    )
    .await;
    assert!(registered.get("errors").is_none(), "{registered}");
    let (_, by_hash) = post(&p, &p.url, None, &json!({ "extensions": ext })).await;
    assert_eq!(by_hash, registered);
}
