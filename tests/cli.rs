//! The `bigmember` command as a user runs it: the README's commands, in a
//! scratch directory, on their embedded SQLite defaults.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Endpoint, Running, bigmember, graphql_url, on_free_ports, run_ok};

/// `up --demo`: the demo data, and a member token that works at once on
/// the graph, for a member with an order whose points follow.
#[tokio::test]
async fn up_with_demo_loads_the_demo_data_and_prints_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = bigmember(dir.path());
    on_free_ports(up.args(["up", "--demo"]));
    let running = Running::start(up);
    running.wait_for(
        "member: 60 demo members across brands apparel, coffee, cinema, 2 segments (62 new)",
    );
    running.wait_for("product: 200 demo products");
    running.wait_for("demo orders: 15 sold at the till");
    let graph = Endpoint::new(graphql_url(&running.wait_for("graph ")));
    running.wait_for("Ready: the graph answers at http://127.0.0.1:");
    let member_line = running.wait_for("member:");
    let words: Vec<&str> = member_line.split_whitespace().collect();
    let (token, member) = (words[1], words[4].trim_end_matches(')'));
    let token_line = running.wait_for("operator:");
    assert_eq!(
        token_line
            .split_whitespace()
            .last()
            .unwrap()
            .split('.')
            .count(),
        3
    );
    let query = "{ me { id orders(first: 5) { edges { node { id } } } pointsAccounts { pendingBalance activeBalance } } }";
    let last = graph
        .eventually(Some(token), query, json!({}), |d| {
            d["me"]["pointsAccounts"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .await;
    assert_eq!(last["me"]["id"], member, "{last}");
    assert_eq!(
        last["me"]["orders"]["edges"].as_array().map(Vec::len),
        Some(1),
        "{last}"
    );
    let account = &last["me"]["pointsAccounts"][0];
    assert!(
        account["pendingBalance"].as_i64().unwrap() + account["activeBalance"].as_i64().unwrap()
            > 0,
        "the demo order's points, from the order feed: {last}"
    );
    // The demo lets a page on this machine (another port) call the graph
    // from a browser, and no other origin.
    let client = reqwest::Client::new();
    for (origin, let_in) in [
        ("http://localhost:5173", true),
        ("http://127.0.0.1:8080", true),
        ("https://elsewhere.example", false),
    ] {
        let answer = client
            .request(reqwest::Method::OPTIONS, &graph.url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_owned()),
            let_in.then(|| origin.to_owned()),
            "{origin}"
        );
    }
    let (clean, _) = running.terminate();
    assert!(clean);
}

/// Under `up`, the services read each other's feeds: a demo member who
/// registered through guide demo-guide-00's code is that guide's, and an
/// order they place credits the guide a commission and earns the member
/// pending points in the brand's programme.
#[tokio::test]
async fn up_runs_the_consumers_between_services() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = bigmember(dir.path());
    on_free_ports(
        up.args(["up", "--demo"])
            .env("BIGMEMBER_EVENTS__POLL_INTERVAL_MS", "50"),
    );
    let running = Running::start(up);
    let [member, store, product, alliance, graph] =
        [(); 5].map(|_| Endpoint::new(graphql_url(&running.wait_for("/graphql"))));
    running.wait_for("Press Ctrl-C");
    let token = |role: &[&str]| {
        run_ok(bigmember(dir.path()).arg("token").args(role))
            .trim()
            .to_owned()
    };
    let operator = token(&["--role", "operator"]);
    let found = member
        .data(
            Some(&operator),
            "{ memberByIdentity(channel: APP, externalId: \"demo-app-0000\") { id guideCode } }",
            json!({}),
        )
        .await;
    let member_id = found["memberByIdentity"]["id"].as_str().unwrap().to_owned();
    assert_eq!(found["memberByIdentity"]["guideCode"], "demo-guide-00");

    let order = "mutation { placeOrder(input: { channel: APP, storeId: \"demo-store-00\", fulfilment: PICKUP_IN_STORE, lines: [{ skuId: \"demo-sku-00-1\", quantity: 1 }], idempotencyKey: \"cli-test-order-1\" }) { id totalFen } }";
    let member_token = token(&["--role", "member", "--sub", &member_id]);
    let placed = product.data(Some(&member_token), order, json!({})).await;
    assert_eq!(placed["placeOrder"]["totalFen"], 9_900, "{placed}");

    // The guide also has the demo orders' commissions: look for this order's
    // (this month's, in the store's zone, by the platform's clock).
    let order_id = placed["placeOrder"]["id"].as_str().unwrap();
    let commissions = "{ guide(id: \"demo-guide-00\") { members { edges { node { member { id } } } } commissions { entries { orderId amountFen } } } }";
    let this_order = |data: &Value| -> Vec<Value> {
        data["guide"]["commissions"]["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["orderId"] == order_id)
            .map(|e| e["amountFen"].clone())
            .collect()
    };
    let last = store
        .eventually(Some(&operator), commissions, json!({}), |d| {
            !this_order(d).is_empty()
        })
        .await;
    assert_eq!(
        last["guide"]["members"]["edges"][0]["node"]["member"]["id"],
        member_id.as_str(),
        "attributed from the member feed: {last}"
    );
    assert_eq!(
        this_order(&last),
        vec![json!(198)],
        "2% of 99 yuan, from the order feed, once: {last}"
    );

    let earned = format!(
        "{{ _entities(representations: [{{ __typename: \"Order\", id: \"{order_id}\" }}]) {{ ... on Order {{ pointsEarned {{ programme {{ id }} points state }} }} }} }}"
    );
    let last = alliance
        .eventually(Some(&operator), &earned, json!({}), |d| {
            d["_entities"][0]["pointsEarned"][0]["points"] == 99
        })
        .await;
    let points = &last["_entities"][0]["pointsEarned"][0];
    assert_eq!(points["programme"]["id"], "apparel-points", "{last}");
    assert_eq!(
        points["points"], 99,
        "1 point per yuan, from the order feed: {last}"
    );
    assert_eq!(points["state"], "PENDING");

    // The same, through the one graph: the order (product), its points
    // (alliance) and its member's guide (store, member).
    let through_gateway = format!(
        "{{ order(id: \"{order_id}\") {{ totalFen pointsEarned {{ points programme {{ pointsName brand {{ name stores(first: 1) {{ edges {{ node {{ id }} }} }} }} }} }} }} }}"
    );
    let r = graph
        .ask(Some(&operator), &through_gateway, json!({}))
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(r["data"]["order"]["totalFen"], 9_900);
    let earned = &r["data"]["order"]["pointsEarned"][0];
    assert_eq!(earned["points"], 99);
    assert_eq!(earned["programme"]["brand"]["name"], "Threadline");
    assert_eq!(
        earned["programme"]["brand"]["stores"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let (clean, _) = running.terminate();
    assert!(clean);
}

#[tokio::test]
async fn seed_then_up_serves_the_demo_data_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let seeded = run_ok(bigmember(dir.path()).args(["seed"]));
    assert!(
        seeded.contains(
            "member: 60 demo members across brands apparel, coffee, cinema, 2 segments (62 new)"
        ),
        "{seeded}"
    );
    assert!(
        dir.path().join("data/member.db").exists(),
        "SQLite file under ./data"
    );
    let again = run_ok(bigmember(dir.path()).args(["seed"]));
    for part in ["member", "store", "product", "alliance", "demo orders"] {
        assert!(
            again.contains(&format!("{part}: demo data already loaded (")),
            "seeding twice adds nothing, and says so: {again}"
        );
    }
    assert!(!again.contains("new)"), "{again}");

    let mut up = bigmember(dir.path());
    on_free_ports(up.arg("up"));
    let running = Running::start(up);
    let member = Endpoint::new(graphql_url(&running.wait_for("/graphql")));
    let store = Endpoint::new(graphql_url(&running.wait_for("/graphql")));
    running.wait_for("Press Ctrl-C");

    let token = run_ok(bigmember(dir.path()).args(["token", "--role", "operator"]))
        .trim()
        .to_owned();
    let response = member
        .ask(
            Some(&token),
            "{ members(first: 5) { edges { node { id name tags } } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        response["data"]["members"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        5,
        "{response}"
    );
    assert_eq!(response["data"]["members"]["pageInfo"]["hasNextPage"], true);
    let near = store
        .ask(
            None,
            "{ storesNear(lat: 31.2317, lng: 121.4726, radiusKm: 3) { edges { distanceMeters node { name } } } }",
            json!({}),
        )
        .await;
    let nearest = &near["data"]["storesNear"]["edges"][0];
    assert!(
        nearest["node"]["name"]
            .as_str()
            .unwrap()
            .ends_with("People's Square"),
        "{near}"
    );
    assert!(nearest["distanceMeters"].as_f64().unwrap() < 1.0);
    let health = reqwest::get(member.url.replace("/graphql", "/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let (clean, rest) = running.terminate();
    assert!(clean, "exit status 0 after SIGTERM");
    assert!(
        rest.iter().any(|l| l.contains("stopped cleanly")),
        "{rest:?}"
    );
}

#[test]
fn serve_takes_a_database_url_and_reports_bad_ones_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = bigmember(dir.path())
        .args([
            "serve",
            "member",
            "--port",
            "0",
            "--database-url",
            "mysql://nowhere/db",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sqlite:// or postgres://"), "{stderr}");

    let unknown = bigmember(dir.path())
        .args(["serve", "nonsense"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("possible values: member, store, product")
    );
}

/// `serve gateway` serves a supergraph file on its own: it answers what
/// needs no subgraph, names a subgraph it cannot reach, follows a change to
/// the file (here: the alliance moves to where one really runs), keeps the
/// old supergraph when the new file is broken, and stops cleanly on SIGTERM.
#[tokio::test]
async fn serve_gateway_serves_a_supergraph_file_and_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    let checked_in = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/supergraph.graphql"),
    )
    .unwrap();
    let default_alliance = "http://127.0.0.1:4004/graphql";
    assert!(checked_in.contains(default_alliance));
    // A port nobody listens on (held for the test).
    let closed_port = kit::testing::ClosedPort::new();
    let closed = closed_port.url("/graphql");
    let file = dir.path().join("supergraph.graphql");
    std::fs::write(&file, checked_in.replace(default_alliance, &closed)).unwrap();
    let mut cmd = bigmember(dir.path());
    cmd.args(["serve", "gateway", "--port", "0", "--supergraph"])
        .arg(&file);
    let running = Running::start(cmd);
    let gateway = Endpoint::new(graphql_url(&running.wait_for("gateway:")));
    let ask = |query| gateway.ask(None, query, json!({}));
    assert_eq!(ask("{ __typename }").await["data"]["__typename"], "Query");
    let client = reqwest::Client::new();
    let echoed = client
        .post(&gateway.url)
        .header("x-request-id", "req-42")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "req-42");
    let metrics = client
        .get(gateway.url.replace("/graphql", "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("service=\"gateway\""), "{metrics}");
    let r = ask("{ programmes { id } }").await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "SUBGRAPH_UNAVAILABLE",
        "{r}"
    );
    assert_eq!(
        r["errors"][0]["extensions"]["serviceName"], "alliance",
        "{r}"
    );

    // A real alliance with the demo programmes; the file moves the alliance there.
    let (alliance, alliance_url) = support::serve_seeded(dir.path(), "alliance");
    std::fs::write(&file, checked_in.replace(default_alliance, &alliance_url)).unwrap();
    let last = gateway
        .eventually(None, "{ programmes { id } }", json!({}), |d| {
            d["programmes"].as_array().map(Vec::len) == Some(3)
        })
        .await;
    assert_eq!(
        last["programmes"].as_array().map(Vec::len),
        Some(3),
        "reloaded: {last}"
    );

    // A broken file is refused; the last good supergraph keeps serving.
    std::fs::write(&file, "type Nope {").unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let still = ask("{ programmes { id } }").await;
    assert_eq!(
        still["data"]["programmes"].as_array().map(Vec::len),
        Some(3),
        "{still}"
    );
    let (clean, _) = running.terminate();
    assert!(clean);
    let (clean, _) = alliance.terminate();
    assert!(clean);
}

#[test]
fn serve_runs_one_service_on_the_given_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/elsewhere/member.db", dir.path().display());
    let mut cmd = bigmember(dir.path());
    cmd.args(["serve", "member", "--port", "0", "--database-url", &db]);
    let running = Running::start(cmd);
    let line = running.wait_for("member subgraph:");
    assert!(line.contains("/graphql"));
    assert!(dir.path().join("elsewhere/member.db").exists());
    let (clean, _) = running.terminate();
    assert!(clean);
}

#[test]
fn migrate_and_token_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let migrated = run_ok(bigmember(dir.path()).arg("migrate"));
    assert!(
        migrated.contains("member: migrations applied")
            && migrated.contains("store: migrations applied"),
        "{migrated}"
    );
    let expired = run_ok(bigmember(dir.path()).args(["job", "expire-pickups"]));
    assert_eq!(
        expired.trim(),
        "product: 0 uncollected pickup order(s) cancelled"
    );
    let approved = run_ok(bigmember(dir.path()).args(["job", "approve-commissions"]));
    assert_eq!(approved.trim(), "store: 0 commission(s) approved");
    let help = run_ok(bigmember(dir.path()).arg("--help"));
    for word in ["up", "serve", "migrate", "seed", "token", "job"] {
        assert!(help.contains(word), "{help}");
    }
    // Global options stand apart from a command's own; each job has its line.
    let jobs = run_ok(bigmember(dir.path()).args(["job", "--help"]));
    let (own, global) = jobs
        .split_once("Global options:")
        .expect("a global heading");
    assert!(
        global.contains("--data-dir") && global.contains("--now"),
        "{jobs}"
    );
    assert!(!own.contains("--data-dir"), "{jobs}");
    for job in [
        "approve-commissions",
        "expire-pickups",
        "activate-points",
        "expire-points",
        "warn-expiring-points",
    ] {
        assert!(
            own.lines().any(|l| l.contains(&format!("- {job}:"))),
            "{job} is described: {jobs}"
        );
    }
    let token = run_ok(bigmember(dir.path()).args(["token", "--help"]));
    for scope in kit::auth::Scope::ALL {
        assert!(
            token.contains(scope.name()),
            "token --help names the scope {}: {token}",
            scope.name()
        );
    }
    let seed = run_ok(bigmember(dir.path()).args(["seed", "--help"]));
    assert!(
        !seed.contains("--demo"),
        "seed needs no flag to do its one job: {seed}"
    );
    // With a configured secret, `token` needs no data directory.
    let staff = bigmember(dir.path())
        .env(
            "BIGMEMBER_AUTH__JWT_SECRET",
            "a-configured-secret-of-32-characters-or-more",
        )
        .args(["token", "--role", "staff", "--brand", "apparel"])
        .output()
        .unwrap();
    assert!(!staff.status.success());
    assert!(String::from_utf8_lossy(&staff.stderr).contains("--store"));
    // A member token is for a member who exists: no made-up default.
    let member = bigmember(dir.path())
        .env(
            "BIGMEMBER_AUTH__JWT_SECRET",
            "a-configured-secret-of-32-characters-or-more",
        )
        .args(["token", "--role", "member"])
        .output()
        .unwrap();
    assert!(!member.status.success());
    assert!(
        String::from_utf8_lossy(&member.stderr).contains("--sub MEMBER_ID"),
        "{member:?}"
    );
    let token = run_ok(
        bigmember(dir.path())
            .env(
                "BIGMEMBER_AUTH__JWT_SECRET",
                "a-configured-secret-of-32-characters-or-more",
            )
            .args([
                "token", "--role", "staff", "--brand", "apparel", "--store", "s1",
            ]),
    );
    assert_eq!(token.trim().split('.').count(), 3, "a JWT");
    // A sandbox brand's partner token acts in the sandbox.
    let secret = "a-configured-secret-of-32-characters-or-more";
    let sandbox = run_ok(
        bigmember(dir.path())
            .env("BIGMEMBER_AUTH__JWT_SECRET", secret)
            .args(["token", "--role", "partner", "--brand", "coffee-sandbox"]),
    );
    let caller = kit::auth::JwtKeys::hs256(&kit::config::Secret::new(secret))
        .verify(sandbox.trim())
        .unwrap();
    assert_eq!(caller.environment(), kit::auth::Environment::Sandbox);
}

/// `serve gateway` serves a supergraph that is not bigmember's (the
/// conformance suite's), and SIGHUP alone reloads it: the new file keeps
/// the old modification time, so the file watcher sees no change.
#[tokio::test]
async fn serve_gateway_serves_any_supergraph_and_reloads_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let foreign =
        std::fs::read_to_string(root.join("gateway/tests/conformance/fixtures/supergraph.graphql"))
            .unwrap();
    let file = dir.path().join("supergraph.graphql");
    std::fs::write(&file, &foreign).unwrap();
    let mut cmd = bigmember(dir.path());
    cmd.args(["serve", "gateway", "--port", "0", "--supergraph"])
        .arg(&file);
    let running = Running::start(cmd);
    let gateway = Endpoint::new(graphql_url(&running.wait_for("gateway:")));
    let ask = |query| gateway.ask(None, query, json!({}));
    let media = ask("{ __type(name: \"Media\") { kind possibleTypes { name } } }").await;
    assert_eq!(
        media["data"]["__type"],
        json!({ "kind": "INTERFACE", "possibleTypes": [{ "name": "Book" }, { "name": "Film" }] }),
        "{media}"
    );
    // Its subgraphs (at *.test) do not exist: the error names the one asked.
    let down = ask("{ topProducts { name } }").await;
    assert_eq!(
        down["errors"][0]["extensions"]["code"], "SUBGRAPH_UNAVAILABLE",
        "{down}"
    );
    assert!(
        down["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("products")
    );

    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    let ours = std::fs::read_to_string(root.join("schema/supergraph.graphql")).unwrap();
    std::fs::write(&file, ours).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let still = ask("{ __type(name: \"Programme\") { name } }").await;
    assert_eq!(
        still["data"]["__type"],
        Value::Null,
        "no reload without SIGHUP: {still}"
    );
    let hup = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(running.child.id().to_string())
        .status()
        .unwrap();
    assert!(hup.success());
    let last = gateway
        .eventually(
            None,
            "{ __type(name: \"Programme\") { name } }",
            json!({}),
            |d| d["__type"]["name"] == "Programme",
        )
        .await;
    assert_eq!(
        last["__type"]["name"], "Programme",
        "reloaded on SIGHUP: {last}"
    );
    let (clean, _) = running.terminate();
    assert!(clean);
}

/// `serve gateway` with a trusted documents' manifest and nothing else
/// allowed: a document runs by its id, anything else is refused, and a
/// change to the file is followed (a broken one is not).
#[tokio::test]
async fn serve_gateway_follows_its_trusted_documents() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("documents.json");
    std::fs::write(&manifest, r#"{"v1": "query V1 { __typename }"}"#).unwrap();
    let mut cmd = bigmember(dir.path());
    cmd.env("BIGMEMBER_GATEWAY__DOCUMENTS__MODE", "persisted_only")
        .env("BIGMEMBER_GATEWAY__DOCUMENTS__MANIFEST", &manifest)
        .args(["serve", "gateway", "--port", "0"]);
    let running = Running::start(cmd);
    let url = graphql_url(&running.wait_for("gateway:"));
    let client = reqwest::Client::new();
    let ask = |body: Value| {
        let request = client.post(&url).json(&body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let v1 = ask(json!({ "documentId": "v1" })).await;
    assert_eq!(v1["data"]["__typename"], "Query", "{v1}");
    let free = ask(json!({ "query": "{ __typename }" })).await;
    assert_eq!(
        free["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_IN_LIST",
        "{free}"
    );
    std::fs::write(&manifest, r#"{"v2": "query V2 { t: __typename }"}"#).unwrap();
    let mut v2 = Value::Null;
    for _ in 0..50 {
        v2 = ask(json!({ "documentId": "v2" })).await;
        if v2["data"]["t"] == "Query" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(v2["data"]["t"], "Query", "reloaded: {v2}");
    let gone = ask(json!({ "documentId": "v1" })).await;
    assert_eq!(
        gone["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND",
        "{gone}"
    );
    std::fs::write(&manifest, "{ broken").unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let kept = ask(json!({ "documentId": "v2" })).await;
    assert_eq!(kept["data"]["t"], "Query", "kept: {kept}");
    let (clean, _) = running.terminate();
    assert!(clean);
}

/// Outside the directory where `up` ran, one-shot commands refuse and say
/// where they looked, instead of making a new secret or empty databases
/// that the running platform knows nothing of. Their stdout is their
/// result alone.
#[test]
fn one_shot_commands_elsewhere_refuse_and_name_where_they_looked() {
    let elsewhere = tempfile::tempdir().unwrap();
    let token = bigmember(elsewhere.path())
        .args(["token", "--role", "operator"])
        .output()
        .unwrap();
    assert!(!token.status.success());
    let said = String::from_utf8_lossy(&token.stderr);
    let looked = elsewhere.path().join("data").join("dev-jwt-secret");
    assert!(
        said.contains(&looked.display().to_string()) && said.contains("bigmember up"),
        "{said}"
    );
    assert!(token.stdout.is_empty());
    let job = bigmember(elsewhere.path())
        .args(["job", "activate-points"])
        .output()
        .unwrap();
    assert!(!job.status.success());
    assert!(
        !elsewhere.path().join("data").exists(),
        "nothing written there"
    );

    // Where `up` ran (its secret and databases exist), they print only
    // their result on stdout.
    let home = tempfile::tempdir().unwrap();
    run_ok(bigmember(home.path()).args(["seed", "--service", "alliance"]));
    let minted = run_ok(bigmember(home.path()).args(["token", "--role", "operator"]));
    assert_eq!(minted.lines().count(), 1, "{minted}");
    assert_eq!(minted.trim().split('.').count(), 3, "a JWT: {minted}");
    let ran = run_ok(
        bigmember(home.path())
            .env_remove("BIGMEMBER_LOG")
            .args(["job", "activate-points"]),
    );
    assert_eq!(
        ran.trim(),
        "alliance: 0 lot(s) of pending points activated",
        "no log lines on stdout"
    );
}

/// `plan` prints what the gateway would ask each subgraph, with no service
/// running, and refuses what the configured gateway would refuse.
#[test]
fn plan_prints_the_query_plan_and_refuses_as_the_gateway_would() {
    let dir = tempfile::tempdir().unwrap();
    let plan = run_ok(bigmember(dir.path()).args([
        "plan",
        "{ programmes { pointsName brand { stores(first: 1) { edges { node { name } } } } } }",
    ]));
    assert!(plan.starts_with("QueryPlan {"), "{plan}");
    assert!(
        plan.contains("Fetch(service: \"alliance\")")
            && plan.contains("Flatten(path: \"programmes.@.brand\")")
            && plan.contains("Fetch(service: \"store\")"),
        "{plan}"
    );
    for (env, query, says) in [
        (
            Some(("BIGMEMBER_GATEWAY__LIMITS__MAX_DEPTH", "2")),
            "{ programmes { brand { name } } }",
            "the operation's depth is 3; at most 2 is allowed",
        ),
        (
            None,
            "{ nope }",
            "Cannot query field \"nope\" on type \"Query\".",
        ),
        (
            None,
            "{ me { id ... @defer { name } } }",
            "@defer is not served",
        ),
    ] {
        let mut cmd = bigmember(dir.path());
        if let Some((key, value)) = env {
            cmd.env(key, value);
        }
        let out = cmd.args(["plan", query]).output().unwrap();
        assert!(!out.status.success(), "{query}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{query}: {stderr}");
    }
}

/// `events` lists what consumers parked, and an operator retries or skips
/// one; a wrong name or number says so.
#[tokio::test]
async fn events_lists_retries_and_skips_parked_events() {
    use kit::events::entities::parked_event;
    use kit::events::parked::ParkedStatus;
    use sea_orm::{ActiveModelTrait, Set};

    let dir = tempfile::tempdir().unwrap();
    run_ok(bigmember(dir.path()).arg("migrate"));
    assert_eq!(
        run_ok(bigmember(dir.path()).args(["events", "parked"])).trim(),
        "",
        "nothing parked"
    );
    // What the store's order consumer leaves behind when a rule refuses an
    // order event (the consumer's own test parks one through a feed).
    let url = format!("sqlite://{}/data/store.db?mode=rw", dir.path().display());
    let db = sea_orm::Database::connect(url).await.unwrap();
    parked_event::ActiveModel {
        consumer: Set("store:order-feed".into()),
        seq: Set(42),
        event_id: Set("e-42".into()),
        kind: Set("OrderPlaced".into()),
        payload: Set("{}".into()),
        occurred_at: Set(0),
        reason: Set("a rule said no".into()),
        attempts: Set(5),
        status: Set(ParkedStatus::Parked),
        parked_at: Set(0),
        updated_at: Set(0),
    }
    .insert(&db)
    .await
    .unwrap();
    db.close().await.unwrap();

    let listed = run_ok(bigmember(dir.path()).args(["events", "parked"]));
    assert_eq!(
        listed.trim(),
        "store\tstore:order-feed\t42\tOrderPlaced\tPARKED\t5 tries\ta rule said no"
    );
    let retried =
        run_ok(bigmember(dir.path()).args(["events", "retry", "store", "store:order-feed", "42"]));
    assert_eq!(
        retried.trim(),
        "store: store:order-feed event 42 (OrderPlaced) is now RETRY"
    );
    let skipped =
        run_ok(bigmember(dir.path()).args(["events", "skip", "store", "store:order-feed", "42"]));
    assert!(skipped.contains("is now SKIPPED"), "{skipped}");
    assert_eq!(
        run_ok(bigmember(dir.path()).args(["events", "parked", "--service", "store"])).trim(),
        "",
        "skipped is no longer waiting"
    );
    assert!(run_ok(bigmember(dir.path()).args(["events", "parked", "--all"])).contains("SKIPPED"));
    for (args, says) in [
        (
            vec!["events", "retry", "store", "store:order-feed", "41"],
            "no event 41 is parked",
        ),
        (
            vec!["events", "retry", "shop", "store:order-feed", "42"],
            "shop",
        ),
        (
            vec!["events", "skip", "store", "store:order-feed", "x"],
            "x",
        ),
    ] {
        let out = bigmember(dir.path()).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// `config check` names what is wrong (an unknown key, an unknown
/// service, a CORS pattern that cannot compile) and every other command
/// refuses the same configuration; a valid one is printed with its secrets
/// redacted.
#[test]
fn config_check_names_unknown_keys_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bigmember.toml");
    for (text, named) in [
        ("[gateway]\nprot = 4100\n", "prot"),
        (
            "[gateway.cors]\nallow_origin = [\"https://a.example\"]\n",
            "allow_origin",
        ),
        ("[services.loyalty]\nport = 4100\n", "services.loyalty"),
        (
            "[gateway.cors]\nmatch_origins = [\"https://(\"]\n",
            "gateway.cors",
        ),
        ("[http]\nmax_body_bytes = 0\n", "http.max_body_bytes"),
        (
            "[gateway.headers.subgraphs.nosuch]\nforward = [\"authorization\"]\n",
            "gateway.headers.subgraphs.nosuch",
        ),
        (
            "[gateway.documents]\nmode = \"persisted_only\"\n",
            "gateway.documents.manifest",
        ),
        (
            "[gateway.documents]\nmanifest = \"/nonexistent/manifest.json\"\n",
            "gateway.documents.manifest",
        ),
        (
            "[gateway.documents]\nmanifest = \"bigmember.toml\"\n",
            "the manifest is not JSON",
        ),
        (
            "[gateway.documents.apq]\nstore = \"redis\"\nredis_url = \"http://redis\"\n",
            "gateway.documents.apq.redis_url",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = bigmember(dir.path())
            .args(["config", "check"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{text}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(named), "{text}: {said}");
        // Said once, by the key as the file writes it.
        assert!(said.matches("unknown field").count() <= 1, "{said}");
        assert!(!said.contains("default."), "{said}");
        assert!(out.stdout.is_empty());
        // What only the gateway reads is refused by the gateway.
        let server = if named.starts_with("gateway.headers") || named.starts_with("the manifest") {
            "gateway"
        } else {
            "member"
        };
        refused_to_serve(dir.path(), server, named);
    }
    // A variable for an unknown key is refused too; others (the test
    // harness's) are not configuration.
    std::fs::remove_file(&file).unwrap();
    let out = bigmember(dir.path())
        .env("BIGMEMBER_GATEWAY__COMPRESSON", "false")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("compresson"));
    // A file that does not parse: the place is named, the line (a secret
    // here) is not quoted, through the whole error chain.
    std::fs::write(
        &file,
        "[auth]\njwt_secret = \"UNTERMINATED-SECRET-abcdefghijklmnopqrstuvwxyz\n",
    )
    .unwrap();
    let out = bigmember(dir.path())
        .args(["config", "check"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("line 2"), "{said}");
    assert!(!said.contains("UNTERMINATED-SECRET"), "{said}");
    std::fs::remove_file(&file).unwrap();
    // One underscore where two were meant: a key of no name, not ignored.
    let out = bigmember(dir.path())
        .env("BIGMEMBER_HTTP_MAX_BODY_BYTES", "1")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("BIGMEMBER_HTTP_MAX_BODY_BYTES"));
    // A secret of digits from the environment is a secret, never echoed.
    let digits = "12345678901234567";
    let out = bigmember(dir.path())
        .env("BIGMEMBER_AUTH__JWT_SECRET", digits)
        .args(["config", "check"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("auth.jwt_secret"),
        "{said}"
    );
    assert!(!said.contains(digits), "{said}");

    std::fs::write(
        &file,
        "[auth]\njwt_secret = \"a-secret-of-our-own-0123456789abcdef\"\n\
         [services.member]\ndatabase_url = \"postgres://app:pa55word@db:5432/member\"\n\
         [gateway.cors]\nallow_origins = [\"https://shop.example.com\"]\n",
    )
    .unwrap();
    let shown = run_ok(
        bigmember(dir.path())
            .env("BIGMEMBER_TEST_SOMETHING", "not configuration")
            .args(["config", "check"]),
    );
    assert!(shown.starts_with("# the configuration is valid"), "{shown}");
    assert!(
        !shown.contains("a-secret-of-our-own") && !shown.contains("pa55word"),
        "{shown}"
    );
    assert!(
        shown.contains("postgres://app:REDACTED@db:5432/member"),
        "{shown}"
    );
    assert!(shown.contains("https://shop.example.com"), "{shown}");
    // What it prints is itself a valid configuration (once the redacted
    // secret is put back).
    let restored = shown.replace(
        "jwt_secret = \"REDACTED\"",
        "jwt_secret = \"a-secret-of-our-own-0123456789abcdef\"",
    );
    assert_ne!(restored, shown);
    std::fs::write(&file, &restored).unwrap();
    run_ok(bigmember(dir.path()).args(["config", "check"]));
}

/// `serve` refuses the configuration `config check` refused, naming it.
fn refused_to_serve(dir: &std::path::Path, server: &str, named: &str) {
    let out = bigmember(dir)
        .args(["serve", server, "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains(named), "{said}");
}

/// Production mode: a server without the identity provider or the platform
/// secret refuses to start, saying what is missing, and makes no
/// development secret; with them, the gateway takes the provider's tokens
/// (and a key it rotates in during the run) and refuses development ones.
#[tokio::test]
async fn production_mode_needs_an_identity_provider_and_follows_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let production = |cmd: &mut std::process::Command| {
        cmd.env("BIGMEMBER_AUTH__MODE", "production");
    };
    for (env, named) in [
        // Everything missing is named at once.
        (vec![], &["auth.jwks_url", "auth.platform_secret"][..]),
        (
            vec![
                ("BIGMEMBER_AUTH__JWKS_URL", "http://127.0.0.1:9/jwks.json"),
                ("BIGMEMBER_AUTH__ISSUER", "https://id.example/"),
                ("BIGMEMBER_AUTH__AUDIENCE", "bigmember"),
            ],
            &["auth.platform_secret"][..],
        ),
        (
            vec![(
                "BIGMEMBER_AUTH__JWT_SECRET",
                "a-shared-secret-of-32-characters-or-more",
            )],
            &["development"][..],
        ),
    ] {
        for server in ["member", "gateway"] {
            let mut cmd = bigmember(dir.path());
            production(&mut cmd);
            cmd.envs(env.iter().copied())
                .args(["serve", server, "--port", "0"]);
            let out = cmd.output().unwrap();
            assert!(!out.status.success(), "{server} {env:?}");
            let said = String::from_utf8_lossy(&out.stderr);
            for named in named {
                assert!(said.contains(named), "{server} {env:?}: {said}");
            }
        }
    }
    assert!(
        !dir.path().join("data/dev-jwt-secret").exists(),
        "no development secret is made in production"
    );

    let idp = kit::testing::IdentityProvider::start().await;
    idp.add_es256("k1");
    idp.add_rs256("k2");
    idp.publish(&["k1"]);
    let mut cmd = bigmember(dir.path());
    production(&mut cmd);
    cmd.env("BIGMEMBER_AUTH__JWKS_URL", &idp.jwks_url)
        .env("BIGMEMBER_AUTH__ISSUER", &idp.issuer)
        .env("BIGMEMBER_AUTH__AUDIENCE", &idp.audience)
        .env(
            "BIGMEMBER_AUTH__PLATFORM_SECRET",
            "platform-secret-platform-secret-xx",
        )
        .args(["serve", "gateway", "--port", "0"]);
    let running = Running::start(cmd);
    let url = graphql_url(&running.wait_for("gateway:"));
    let client = reqwest::Client::new();
    let ask = |token: String| {
        let request = client
            .post(&url)
            .bearer_auth(token)
            .json(&json!({ "query": "{ __typename }" }));
        async move {
            let answer = request.send().await.unwrap();
            (
                answer.status().as_u16(),
                answer.json::<Value>().await.unwrap(),
            )
        }
    };
    let hour = chrono::Duration::hours(1);
    let (status, body) = ask(idp.token("k1", kit::auth::TokenRequest::operator("op"), hour)).await;
    assert_eq!(
        (status, &body["data"]["__typename"]),
        (200, &json!("Query")),
        "{body}"
    );
    let dev = kit::auth::JwtKeys::hs256(&kit::config::Secret::new(
        "dev-secret-dev-secret-dev-secret-xx",
    ))
    .issue(kit::auth::TokenRequest::operator("op"), hour)
    .unwrap();
    let (status, body) = ask(dev).await;
    assert_eq!(status, 401, "{body}");
    // The provider rotates to k2 while the gateway runs.
    idp.publish(&["k2"]);
    let rotated = idp.token("k2", kit::auth::TokenRequest::member("m1"), hour);
    let mut last = (0, Value::Null);
    for _ in 0..100 {
        last = ask(rotated.clone()).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(last.0, 200, "the rotated key is taken: {}", last.1);
    let (clean, _) = running.terminate();
    assert!(clean);
}

/// Outbound HTTPS behind a private CA, trusted through `tls.ca_files`: the
/// gateway fetches the identity provider's JWKS and exports its traces to
/// an OTLP collector, both https://.
#[tokio::test]
async fn the_jwks_and_the_otlp_collector_may_be_https_behind_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = kit::testing::TestCa::trusted();
    let idp = kit::testing::IdentityProvider::start().await;
    idp.add_es256("k1");
    idp.publish(&["k1"]);
    let idp_addr: std::net::SocketAddr = idp
        .jwks_url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let jwks = format!("{}/.well-known/jwks.json", ca.front(idp_addr));
    // An OTLP collector that counts what it is sent.
    let (collector, exports) = kit::testing::counting_server("/v1/traces");
    std::fs::write(
        dir.path().join("bigmember.toml"),
        format!(
            "[tls]\nca_files = [{:?}]\n",
            ca.ca_file.display().to_string()
        ),
    )
    .unwrap();
    let mut cmd = bigmember(dir.path());
    cmd.env("BIGMEMBER_AUTH__MODE", "production")
        .env("BIGMEMBER_AUTH__JWKS_URL", &jwks)
        .env("BIGMEMBER_AUTH__ISSUER", &idp.issuer)
        .env("BIGMEMBER_AUTH__AUDIENCE", &idp.audience)
        .env(
            "BIGMEMBER_AUTH__PLATFORM_SECRET",
            "platform-secret-platform-secret-xx",
        )
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", ca.front(collector))
        .args(["serve", "gateway", "--port", "0"]);
    let running = Running::start(cmd);
    let url = graphql_url(&running.wait_for("gateway:"));
    let token = idp.token(
        "k1",
        kit::auth::TokenRequest::operator("op"),
        chrono::Duration::hours(1),
    );
    let answer: Value = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["data"]["__typename"], "Query",
        "the JWKS came over https: {answer}"
    );
    let (clean, _) = running.terminate();
    assert!(clean);
    assert!(
        exports.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the traces reached the https collector"
    );
}

/// A service reads another's event feed over https behind a private CA
/// (`services.<name>.url = "https://…"`, `tls.ca_files`): the member
/// service learns of a revoked partner key from the alliance's feed, and
/// refuses its token.
#[tokio::test]
async fn feeds_may_be_read_over_https_behind_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = kit::testing::TestCa::trusted();
    std::fs::write(
        dir.path().join("bigmember.toml"),
        format!(
            "[tls]\nca_files = [{:?}]\n",
            ca.ca_file.display().to_string()
        ),
    )
    .unwrap();
    let (alliance, alliance_url) = support::serve_seeded(dir.path(), "alliance");
    let alliance_addr: std::net::SocketAddr = alliance_url
        .trim_start_matches("http://")
        .trim_end_matches("/graphql")
        .parse()
        .unwrap();
    let feed_url = ca.front(alliance_addr);
    assert!(feed_url.starts_with("https://"), "{feed_url}");
    let mut member = bigmember(dir.path());
    member
        .env("BIGMEMBER_SERVICES__ALLIANCE__URL", &feed_url)
        .env("BIGMEMBER_EVENTS__POLL_INTERVAL_MS", "50")
        .args(["serve", "member", "--port", "0"]);
    let member_process = Running::start(member);
    let member = Endpoint::new(graphql_url(&member_process.wait_for("member subgraph:")));
    let alliance_graph = Endpoint::new(alliance_url);

    let operator = run_ok(bigmember(dir.path()).args(["token", "--role", "operator"]))
        .trim()
        .to_owned();
    let (key_id, partner) = support::partner_key(&alliance_graph, &operator, "coffee").await;
    let probe = "{ __typename }";
    assert_eq!(
        member.data(Some(&partner), probe, json!({})).await["__typename"],
        "Query"
    );
    alliance_graph
        .data(
            Some(&operator),
            "mutation($k: ID!) { revokePartnerKey(keyId: $k) { revokedAt } }",
            json!({ "k": key_id }),
        )
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let answer = member.ask(Some(&partner), probe, json!({})).await;
        if answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the member service never read the revocation over https: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for process in [member_process, alliance] {
        let (clean, _) = process.terminate();
        assert!(clean);
    }
}

/// `serve gateway` without `--supergraph` serves this build's graph with
/// each service where the configuration puts it, as `up` does (not at the
/// built-in supergraph's default ports).
#[tokio::test]
async fn a_standalone_gateway_finds_the_services_where_the_configuration_puts_them() {
    let dir = tempfile::tempdir().unwrap();
    let (alliance, alliance_url) = support::serve_seeded(dir.path(), "alliance");
    assert!(!alliance_url.contains(":4004/"), "{alliance_url}");
    let mut gateway = bigmember(dir.path());
    gateway
        .env(
            "BIGMEMBER_SERVICES__ALLIANCE__URL",
            alliance_url.trim_end_matches("/graphql"),
        )
        .args(["serve", "gateway", "--port", "0"]);
    let gateway = Running::start(gateway);
    let graph = Endpoint::new(graphql_url(&gateway.wait_for("gateway:")));
    let programmes = graph.data(None, "{ programmes { id } }", json!({})).await;
    assert_eq!(
        programmes["programmes"].as_array().map(Vec::len),
        Some(3),
        "{programmes}"
    );
    for process in [gateway, alliance] {
        let (clean, _) = process.terminate();
        assert!(clean);
    }
}

/// Replicas that start together on an empty database migrate it once:
/// three `bigmember migrate` at the same moment (on PostgreSQL when the
/// tests run there, each service in one fresh schema; else on SQLite files)
/// all succeed, taking turns, and the schema is whole.
#[tokio::test]
async fn migrations_started_together_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let environment = support::test_databases().await;
    let together: Vec<std::process::Child> = (0..3)
        .map(|_| {
            bigmember(dir.path())
                .envs(environment.iter().map(|(k, v)| (k, v)))
                .arg("migrate")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in together {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stdout);
        for service in ["member", "store", "product", "alliance"] {
            assert!(
                said.contains(&format!("{service}: migrations applied")),
                "{said}"
            );
        }
    }
    // The schema is whole: the platform serves on it.
    let mut up = bigmember(dir.path());
    up.envs(environment.iter().map(|(k, v)| (k, v)));
    on_free_ports(up.arg("up"));
    let running = Running::start(up);
    let graph = Endpoint::new(graphql_url(&running.wait_for("graph ")));
    running.wait_for("Press Ctrl-C");
    let programmes = graph
        .data(
            None,
            "{ programmes { id } products(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(programmes["programmes"].is_array(), "{programmes}");
    let (clean, _) = running.terminate();
    assert!(clean);
}
