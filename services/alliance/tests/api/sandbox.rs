//! Sandboxes: partners issue their own sandbox keys; a sandbox key acts
//! on a copy of its programme and never reads or changes live data, on
//! any partner operation; exchanges and statements stay in the sandbox.
//! (Test members against live ones, through the member service, are in the
//! platform's journey tests.)

use futures::future::join_all;
use kit::testing::{GraphqlResponse, TestApp, spawn};
use serde_json::{Value, json};

use crate::support::*;

const ISSUE_LIVE: &str = "mutation($b: ID!, $s: [PartnerScope!]!) { issuePartnerKey(brandId: $b, label: \"live\", scopes: $s) { apiKey key { id environment } } }";
const ISSUE_SANDBOX: &str = "mutation($b: ID!, $s: [PartnerScope!]!) { issueSandboxKey(brandId: $b, label: \"try\", scopes: $s) { apiKey key { id environment brand { id } } } }";
const TOKEN: &str = "mutation($k: String!) { partnerToken(apiKey: $k) { token environment scopes brand { id environment liveBrand { id } programme { id environment cashValueFen expiryMonths } } } }";
/// Every scope, as the graph names them (EARN, READ_ACCOUNTS...).
fn all_scopes() -> Vec<String> {
    kit::auth::Scope::ALL
        .iter()
        .map(|s| s.name().to_uppercase())
        .collect()
}

/// A partner token minted from `api_key`, with what `partnerToken` said.
async fn mint(app: &TestApp, api_key: &str) -> (String, Value) {
    let r = app.graphql(None, TOKEN, json!({ "k": api_key })).await;
    let t = r.ok()["partnerToken"].clone();
    (t["token"].as_str().unwrap().to_owned(), t)
}

/// A live key of `brand` with every scope, as the operator issues it.
async fn live_token(app: &TestApp, brand: &str) -> String {
    let r = op(app, ISSUE_LIVE, json!({ "b": brand, "s": all_scopes() })).await;
    assert_eq!(r["issuePartnerKey"]["key"]["environment"], "LIVE");
    mint(app, r["issuePartnerKey"]["apiKey"].as_str().unwrap())
        .await
        .0
}

async fn issue_sandbox(app: &TestApp, token: &str, brand: &str) -> GraphqlResponse {
    app.graphql(
        Some(token),
        ISSUE_SANDBOX,
        json!({ "b": brand, "s": all_scopes() }),
    )
    .await
}

/// A sandbox token of `brand`, the key issued by the brand's own live
/// partner.
async fn sandbox_token(app: &TestApp, brand: &str) -> String {
    let live = live_token(app, brand).await;
    let r = issue_sandbox(app, &live, brand).await;
    mint(app, r.ok()["issueSandboxKey"]["apiKey"].as_str().unwrap())
        .await
        .0
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_partner_issues_its_own_sandbox_keys_on_a_copy_of_its_programme() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, _) = two_programmes(&app).await;
    let live = live_token(&app, "coffee").await;
    let issued = issue_sandbox(&app, &live, "coffee").await;
    let key = &issued.ok()["issueSandboxKey"];
    assert_eq!(key["key"]["environment"], "SANDBOX");
    assert_eq!(key["key"]["brand"]["id"], "coffee-sandbox");
    let (sandbox, said) = mint(&app, key["apiKey"].as_str().unwrap()).await;
    assert_eq!(said["environment"], "SANDBOX");
    assert_eq!(said["brand"]["id"], "coffee-sandbox");
    assert_eq!(said["brand"]["environment"], "SANDBOX");
    assert_eq!(said["brand"]["liveBrand"]["id"], "coffee");
    // A copy of the live programme's rules, as they were.
    let copy = &said["brand"]["programme"];
    assert_eq!(copy["id"], "coffee-sandbox-points");
    assert_eq!(copy["environment"], "SANDBOX");
    assert_eq!(copy["cashValueFen"], "0.5");
    assert_eq!(copy["expiryMonths"], Value::Null);
    // A sandbox key issues more sandbox keys (for the same sandbox)...
    let more = issue_sandbox(&app, &sandbox, "coffee").await;
    assert_eq!(
        more.ok()["issueSandboxKey"]["key"]["brand"]["id"],
        "coffee-sandbox"
    );
    // ... but never a live key, and no other brand's.
    for token in [&live, &sandbox] {
        let r = app
            .graphql(
                Some(token),
                ISSUE_LIVE,
                json!({ "b": "coffee", "s": ["EARN"] }),
            )
            .await;
        assert_eq!(r.error_code(), Some("FORBIDDEN"), "{}", r.body);
        let r = issue_sandbox(&app, token, "cinema").await;
        assert_eq!(r.error_code(), Some("FORBIDDEN"), "{}", r.body);
    }
    let anonymous = app
        .graphql(
            None,
            ISSUE_SANDBOX,
            json!({ "b": "coffee", "s": all_scopes() }),
        )
        .await;
    assert_eq!(anonymous.error_code(), Some("UNAUTHENTICATED"));
    // Clear errors for what cannot be.
    let operator = app.operator_token();
    let unknown = issue_sandbox(&app, &operator, "nobody").await;
    assert_eq!(unknown.error_code(), Some("NOT_FOUND"), "{}", unknown.body);
    // The sandbox's own id names the same sandbox; a live key is never a
    // sandbox's.
    let by_sandbox_id = issue_sandbox(&app, &sandbox, "coffee-sandbox").await;
    assert_eq!(
        by_sandbox_id.ok()["issueSandboxKey"]["key"]["brand"]["id"],
        "coffee-sandbox"
    );
    let twice = issue_sandbox(&app, &operator, "coffee-sandbox-sandbox").await;
    assert_eq!(twice.error_code(), Some("BAD_USER_INPUT"), "{}", twice.body);
    let live_of_sandbox = app
        .graphql(
            Some(&operator),
            ISSUE_LIVE,
            json!({ "b": "coffee-sandbox", "s": ["EARN"] }),
        )
        .await;
    assert_eq!(live_of_sandbox.error_code(), Some("BAD_USER_INPUT"));
    assert_eq!(live_of_sandbox.error_field(), Some("brandId"));
    let no_scope = app
        .graphql(
            Some(&live),
            ISSUE_SANDBOX,
            json!({ "b": "coffee", "s": [] }),
        )
        .await;
    assert_eq!(no_scope.error_code(), Some("BAD_USER_INPUT"));
    let kept = app
        .graphql(
            Some(&operator),
            ONBOARD,
            json!({ "b": "tea-sandbox", "n": "Tea", "p": programme_input(0, None, "ONLY_PENDING") }),
        )
        .await;
    assert_eq!(kept.error_code(), Some("BAD_USER_INPUT"), "{}", kept.body);
    assert_eq!(kept.error_field(), Some("brandId"));

    // Lists: the public and members see live programmes, a sandbox key
    // its sandbox's, operators all.
    let programmes = "{ programmes { id environment } allianceBrands { id } }";
    let public = app.graphql(None, programmes, json!({})).await;
    assert_eq!(
        ids(&public.ok()["programmes"]),
        ["cinema-points", coffee.as_str()]
    );
    assert_eq!(ids(&public.ok()["allianceBrands"]), ["cinema", "coffee"]);
    let seen = app.graphql(Some(&sandbox), programmes, json!({})).await;
    assert_eq!(ids(&seen.ok()["programmes"]), ["coffee-sandbox-points"]);
    assert_eq!(ids(&seen.ok()["allianceBrands"]), ["coffee-sandbox"]);
    let all = op(&app, programmes, json!({})).await;
    assert_eq!(
        ids(&all["allianceBrands"]),
        ["cinema", "coffee", "coffee-sandbox"]
    );
    let hidden = app
        .graphql(
            Some(&member(&app, "m1")),
            "{ programme(id: \"coffee-sandbox-points\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(hidden.error_code(), Some("NOT_FOUND"), "{}", hidden.body);

    // The opening is audited once, the keys each.
    let audit = op(
        &app,
        "{ auditLog(brandId: \"coffee-sandbox\", first: 50) { edges { node { action actor detail } } } }",
        json!({}),
    )
    .await;
    let actions: Vec<&str> = audit["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "SANDBOX_OPENED").count(),
        1,
        "{actions:?}"
    );
    assert_eq!(actions.iter().filter(|a| **a == "KEY_ISSUED").count(), 3);

    // A brand of the other environment is unknown as an entity too.
    let entity = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Brand { id inAlliance name environment programme { id } } } }";
    for (token, brand) in [
        (None, "coffee-sandbox"),
        (Some(member(&app, "m1")), "coffee-sandbox"),
        (Some(sandbox.clone()), "coffee"),
    ] {
        let r = app
            .graphql(
                token.as_deref(),
                entity,
                json!({ "r": [{ "__typename": "Brand", "id": brand }] }),
            )
            .await;
        let b = &r.ok()["_entities"][0];
        assert_eq!(b["inAlliance"], false, "{brand}: {b}");
        assert_eq!(b["programme"], Value::Null, "{brand}: {b}");
        assert_eq!(b["name"], Value::Null, "{brand}: {b}");
    }
    let own = app
        .graphql(
            Some(&sandbox),
            entity,
            json!({ "r": [{ "__typename": "Brand", "id": "coffee-sandbox" }] }),
        )
        .await;
    assert_eq!(
        own.ok()["_entities"][0]["programme"]["id"],
        "coffee-sandbox-points"
    );
}

#[tokio::test]
async fn identical_first_sandbox_keys_at_once_open_one_sandbox() {
    let app = spawn(&alliance::SPEC).await;
    two_programmes(&app).await;
    let live = live_token(&app, "cinema").await;
    let answers = join_all((0..8).map(|_| issue_sandbox(&app, &live, "cinema"))).await;
    let mut keys = std::collections::BTreeSet::new();
    for a in &answers {
        let key = &a.ok()["issueSandboxKey"]["key"];
        assert_eq!(key["brand"]["id"], "cinema-sandbox");
        keys.insert(key["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(keys.len(), 8, "each call issues its own key");
    let brands = op(
        &app,
        "{ allianceBrands { id } programmes { id } }",
        json!({}),
    )
    .await;
    assert_eq!(
        ids(&brands["allianceBrands"]),
        ["cinema", "cinema-sandbox", "coffee"]
    );
    assert_eq!(
        ids(&brands["programmes"])
            .iter()
            .filter(|p| *p == "cinema-sandbox-points")
            .count(),
        1
    );
    let opened = op(
        &app,
        "{ auditLog(action: SANDBOX_OPENED, first: 50) { edges { node { brand { id } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(opened["auditLog"]["edges"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_sandbox_key_never_reads_or_changes_live_data_on_any_partner_operation() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, cinema) = two_programmes(&app).await;
    let account = account(&app, "m1", &coffee).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let terms = active_terms(&app, &coffee, &cinema, "0.5", 0).await;
    let endpoint = op(
        &app,
        "mutation { registerWebhookEndpoint(brandId: \"coffee\", url: \"https://hooks.example.com/live\", events: [POINTS_EARNED], idempotencyKey: \"live-hook-1\") { endpoint { id } } }",
        json!({}),
    )
    .await["registerWebhookEndpoint"]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let month = period(&app);
    let sandbox = sandbox_token(&app, "coffee").await;
    let live_before = op(
        &app,
        "query($a: ID!) { pointsAccount(id: $a) { activeBalance lifetimeEarned } exchangeTerms { id version active } webhookEndpoints(brandId: \"coffee\") { edges { node { id } } } }",
        json!({ "a": account }),
    )
    .await;

    // Every partner operation, aimed at live data.
    let operations: Vec<(&str, &str, Value)> = vec![
        (
            "earnPoints",
            EARN,
            tx("m1", &coffee, 5, "sx-1", "sandbox-key-1"),
        ),
        (
            "redeemPoints",
            REDEEM,
            tx("m1", &coffee, 5, "sx-2", "sandbox-key-2"),
        ),
        (
            "pointsAccount",
            "query($a: ID!) { pointsAccount(id: $a) { id activeBalance } }",
            json!({ "a": account }),
        ),
        (
            "programme",
            "query($p: ID!) { programme(id: $p) { id } }",
            json!({ "p": coffee }),
        ),
        (
            "acceptExchangeTerms",
            "mutation($t: ID!) { acceptExchangeTerms(termsId: $t, version: 1) { id } }",
            json!({ "t": terms }),
        ),
        (
            "proposeExchangeTerms",
            PROPOSE,
            terms_input(&coffee, &cinema, "0.9", 0, 100, 5_000, 50_000),
        ),
        (
            "proposeExchangeTerms",
            PROPOSE,
            terms_input(
                "coffee-sandbox-points",
                &cinema,
                "0.9",
                0,
                100,
                5_000,
                50_000,
            ),
        ),
        (
            "exchangeQuote",
            "mutation($f: ID!, $t: ID!) { exchangeQuote(fromProgrammeId: $f, toProgrammeId: $t, points: 100, memberId: \"m1\") { id } }",
            json!({ "f": coffee, "t": cinema }),
        ),
        (
            "clearingStatement",
            "query($p: String!) { clearingStatement(brandId: \"coffee\", period: $p) { netFen } }",
            json!({ "p": month }),
        ),
        (
            "closedClearingStatements",
            "{ closedClearingStatements(brandId: \"coffee\") { edges { node { id } } } }",
            json!({}),
        ),
        (
            "clearingPositionFen",
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Brand { clearingPositionFen } } }",
            json!({ "r": [{ "__typename": "Brand", "id": "coffee" }] }),
        ),
        (
            "registerWebhookEndpoint",
            "mutation { registerWebhookEndpoint(brandId: \"coffee\", url: \"https://hooks.example.com/x\", events: [POINTS_EARNED], idempotencyKey: \"sandbox-hook-1\") { endpoint { id } } }",
            json!({}),
        ),
        (
            "webhookEndpoints",
            "{ webhookEndpoints(brandId: \"coffee\") { edges { node { id } } } }",
            json!({}),
        ),
        (
            "webhookEndpoint",
            "query($e: ID!) { webhookEndpoint(id: $e) { id } }",
            json!({ "e": endpoint }),
        ),
        (
            "issuePartnerKey",
            ISSUE_LIVE,
            json!({ "b": "coffee", "s": ["EARN"] }),
        ),
    ];
    for (name, query, vars) in &operations {
        let r = app.graphql(Some(&sandbox), query, vars.clone()).await;
        let code = r.error_code().unwrap_or_else(|| {
            panic!(
                "{name} with a sandbox key on live data must be refused: {}",
                r.body
            )
        });
        assert!(
            ["FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT"].contains(&code),
            "{name}: {}",
            r.body
        );
        assert!(
            !r.body.to_string().contains("activeBalance\":")
                && !r.body.to_string().contains("netFen\":"),
            "{name} answered live data: {}",
            r.body
        );
    }
    // Reads that list answer the sandbox's only.
    let listed = app
        .graphql(
            Some(&sandbox),
            "query($r: [_Any!]!) { exchangeTerms { id } _entities(representations: $r) { ... on Member { pointsAccounts { id } } } }",
            json!({ "r": [{ "__typename": "Member", "id": "m1" }] }),
        )
        .await;
    assert_eq!(listed.ok()["exchangeTerms"], json!([]));
    assert_eq!(listed.ok()["_entities"][0]["pointsAccounts"], json!([]));
    // Nothing live moved.
    let live_after = op(
        &app,
        "query($a: ID!) { pointsAccount(id: $a) { activeBalance lifetimeEarned } exchangeTerms { id version active } webhookEndpoints(brandId: \"coffee\") { edges { node { id } } } }",
        json!({ "a": account }),
    )
    .await;
    assert_eq!(live_after, live_before);

    // And the other way: a live key does nothing in the sandbox.
    let live = live_token(&app, "coffee").await;
    for (query, vars) in [
        (
            EARN,
            tx("t1", "coffee-sandbox-points", 5, "lx-1", "live-key-1"),
        ),
        (
            "{ webhookEndpoints(brandId: \"coffee-sandbox\") { edges { node { id } } } }",
            json!({}),
        ),
    ] {
        let r = app.graphql(Some(&live), query, vars).await;
        assert_eq!(r.error_code(), Some("FORBIDDEN"), "{}", r.body);
    }
}

#[tokio::test]
async fn sandboxes_exchange_with_each_other_and_close_into_statements_of_their_own() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, cinema) = two_programmes(&app).await;
    let coffee_sandbox = sandbox_token(&app, "coffee").await;
    let cinema_sandbox = sandbox_token(&app, "cinema").await;
    let (from, to) = ("coffee-sandbox-points", "cinema-sandbox-points");
    // A test member earns in the sandbox programme.
    let earned = app
        .graphql(
            Some(&coffee_sandbox),
            EARN,
            tx("t1", from, 5_000, "t-1", "sandbox-earn-1"),
        )
        .await;
    assert_eq!(earned.ok()["earnPoints"]["account"]["activeBalance"], 5_000);
    // The two sandboxes agree terms, each its own side.
    let proposed = app
        .graphql(
            Some(&coffee_sandbox),
            PROPOSE,
            terms_input(from, to, "0.5", 0, 100, 5_000, 50_000),
        )
        .await;
    let terms = proposed.ok()["proposeExchangeTerms"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let accepted = app
        .graphql(Some(&cinema_sandbox), ACCEPT, json!({ "t": terms, "v": 1 }))
        .await;
    assert_eq!(accepted.ok()["acceptExchangeTerms"]["active"], true);
    // Members never see sandbox terms.
    let public = app
        .graphql(
            Some(&member(&app, "m1")),
            "{ exchangeTerms { id } }",
            json!({}),
        )
        .await;
    assert!(!public.body.to_string().contains(&terms), "{}", public.body);
    // The sandbox key exchanges for its test member (who cannot sign in).
    let quoted = app
        .graphql(
            Some(&coffee_sandbox),
            "mutation($f: ID!, $t: ID!) { exchangeQuote(fromProgrammeId: $f, toProgrammeId: $t, points: 1000, memberId: \"t1\") { id pointsIn } }",
            json!({ "f": from, "t": to }),
        )
        .await;
    let quote = quoted.ok()["exchangeQuote"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(quoted.ok()["exchangeQuote"]["pointsIn"], 500);
    let confirm = "mutation($q: ID!, $k: String!) { confirmExchange(quoteId: $q, idempotencyKey: $k, memberId: \"t1\") { id pointsIn } }";
    let twice = join_all((0..4).map(|_| {
        app.graphql(
            Some(&coffee_sandbox),
            confirm,
            json!({ "q": quote, "k": "sandbox-exchange-1" }),
        )
    }))
    .await;
    // Another brand's sandbox key cannot confirm it, even naming the member.
    let foreign = app
        .graphql(
            Some(&cinema_sandbox),
            confirm,
            json!({ "q": quote, "k": "sandbox-exchange-foreign" }),
        )
        .await;
    assert_eq!(foreign.error_code(), Some("FORBIDDEN"), "{}", foreign.body);
    let made: std::collections::BTreeSet<String> = twice
        .iter()
        .map(|r| r.ok()["confirmExchange"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(made.len(), 1, "identical confirmations make one exchange");
    // A live member's token cannot quote in the sandbox, nor a key name a
    // member in live data.
    let live_member = app
        .graphql(
            Some(&member(&app, "m1")),
            QUOTE,
            json!({ "f": from, "t": to, "p": 100 }),
        )
        .await;
    assert!(live_member.error_code().is_some(), "{}", live_member.body);
    let live_key = live_token(&app, "coffee").await;
    let named = app
        .graphql(
            Some(&live_key),
            "mutation($f: ID!, $t: ID!) { exchangeQuote(fromProgrammeId: $f, toProgrammeId: $t, points: 100, memberId: \"m1\") { id } }",
            json!({ "f": coffee, "t": cinema }),
        )
        .await;
    assert_eq!(named.error_code(), Some("FORBIDDEN"), "{}", named.body);

    // The month closes into statements of their own: the sandboxes' hold
    // the exchange, the live brands' do not.
    let month = period(&app);
    let (_, end) = alliance::domain::exchange::Period::parse(&month)
        .unwrap()
        .bounds(chrono_tz::Asia::Shanghai)
        .unwrap();
    app.clock()
        .advance(end - app.now() + chrono::Duration::hours(1));
    let closed = op(
        &app,
        "mutation($p: String!) { closeClearingPeriod(period: $p) { brand { id } exchanges netFen reference } }",
        json!({ "p": month }),
    )
    .await;
    let of = |brand: &str| {
        closed["closeClearingPeriod"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["brand"]["id"] == brand)
            .cloned()
            .unwrap_or_else(|| panic!("{brand}: {closed}"))
    };
    assert_eq!(of("coffee-sandbox")["exchanges"], 1);
    assert_eq!(of("cinema-sandbox")["exchanges"], 1);
    assert_eq!(of("coffee-sandbox")["reference"], "coffee-sandbox-000001");
    // 500 cinema points at 2 fen: the sandbox coffee owes 1,000 fen.
    assert_eq!(of("coffee-sandbox")["netFen"], -1_000);
    assert_eq!(of("cinema-sandbox")["netFen"], 1_000);
    assert_eq!(of("coffee")["exchanges"], 0);
    assert_eq!(of("cinema")["exchanges"], 0);
    // Each sandbox reads its own statement; not the live brand's.
    let own = app
        .graphql(
            Some(&coffee_sandbox),
            "{ closedClearingStatements(brandId: \"coffee-sandbox\") { edges { node { exchanges } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        own.ok()["closedClearingStatements"]["edges"][0]["node"]["exchanges"],
        1
    );
}

/// A first sandbox key whose caller hangs up midway: the sandbox and its
/// key are written together or not at all, and asking again opens it once.
#[tokio::test]
async fn a_first_sandbox_key_whose_caller_hangs_up_is_all_or_nothing() {
    let app = spawn(&alliance::SPEC).await;
    let operator = app.operator_token();
    for (n, after_ms) in [0u64, 1, 2, 5, 10, 20, 50].into_iter().enumerate() {
        let brand = format!("hangup{n}");
        onboard(&app, &brand, programme_input(0, None, "ONLY_PENDING")).await;
        // The client drops the request after `after_ms`: the connection
        // closes under the service, wherever it is.
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(after_ms),
            issue_sandbox(&app, &operator, &brand),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let sandbox = format!("{brand}-sandbox");
        let state = |sandbox: String| {
            let app = &app;
            async move {
                let r = op(
                    app,
                    "query($b: ID!) { allianceBrands { id } partnerKeys(brandId: $b) { id } auditLog(brandId: $b, first: 50) { edges { node { action } } } }",
                    json!({ "b": sandbox }),
                )
                .await;
                let opened = ids(&r["allianceBrands"]).contains(&sandbox);
                let keys = r["partnerKeys"].as_array().unwrap().len();
                let audits = r["auditLog"]["edges"].as_array().unwrap().len();
                (opened, keys, audits)
            }
        };
        let (opened, keys, audits) = state(sandbox.clone()).await;
        // Opened with its key and both audit entries, or not at all.
        assert!(
            (opened, keys, audits) == (true, 1, 2) || (opened, keys, audits) == (false, 0, 0),
            "{brand} after {after_ms} ms: opened {opened}, {keys} key(s), {audits} audit entries"
        );
        // Asking again: one sandbox, one more key.
        issue_sandbox(&app, &operator, &brand).await.ok();
        let (opened, again, audits) = state(sandbox).await;
        assert!(opened);
        assert_eq!(again, keys + 1);
        let opened_entries = op(
            &app,
            "query($b: ID!) { auditLog(brandId: $b, action: SANDBOX_OPENED, first: 50) { edges { node { seq } } } }",
            json!({ "b": format!("{brand}-sandbox") }),
        )
        .await;
        assert_eq!(
            opened_entries["auditLog"]["edges"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "{brand}: opened once ({audits} entries)"
        );
    }
}

/// Segments hold live members only: a sandbox programme's reward cannot
/// be dropped to one (its coupons would reach live wallets).
#[tokio::test]
async fn a_sandbox_reward_cannot_be_dropped_to_a_segment() {
    let app = spawn(&alliance::SPEC).await;
    two_programmes(&app).await;
    let sandbox = sandbox_token(&app, "cinema").await;
    let reward = app
        .graphql(
            Some(&sandbox),
            "mutation { createReward(input: { programmeId: \"cinema-sandbox-points\", name: \"sb coupon\", pointsPrice: 1, coupon: { amountOffFen: 100, validDays: 5 } }, idempotencyKey: \"sandbox-reward-1\") { id } }",
            json!({}),
        )
        .await;
    let reward = reward.ok()["createReward"]["id"].clone();
    let dropped = app
        .graphql(
            Some(&sandbox),
            "mutation($r: ID!) { dropCoupons(rewardId: $r, segmentId: \"live-segment\", idempotencyKey: \"sandbox-drop-1\") { id } }",
            json!({ "r": reward }),
        )
        .await;
    assert_eq!(dropped.error_code(), Some("FORBIDDEN"), "{dropped:?}");
    let none = op(
        &app,
        "{ programme(id: \"cinema-sandbox-points\") { couponDrops { edges { node { id } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(none["programme"]["couponDrops"]["edges"], json!([]));
}
