//! Partner keys: scopes on every partner operation, expiry, rotation with
//! an overlap, and the audit log of who did what.

use futures::future::join_all;
use kit::testing::{GraphqlResponse, TestApp, spawn};
use serde_json::{Value, json};

use crate::support::*;

const ISSUE: &str = "mutation($b: ID!, $l: String!, $s: [PartnerScope!]!, $e: DateTime) { issuePartnerKey(brandId: $b, label: $l, scopes: $s, expiresAt: $e) { apiKey key { id scopes expiresAt state } } }";
const TOKEN: &str =
    "mutation($k: String!) { partnerToken(apiKey: $k) { token expiresAt scopes brand { id } } }";
const ROTATE: &str = "mutation($k: ID!, $h: Int) { rotatePartnerKey(keyId: $k, overlapHours: $h) { issued { apiKey key { id scopes expiresAt state } } previous { id expiresAt replacedBy state } } }";
const REVOKE: &str = "mutation($k: ID!) { revokePartnerKey(keyId: $k) { id state } }";
const AUDIT: &str = "query($b: ID, $a: AuditAction, $f: Int, $c: String) { auditLog(brandId: $b, action: $a, first: $f, after: $c) { edges { cursor node { seq actor action brand { id } subjectId detail } } pageInfo { hasNextPage endCursor } } }";

/// Issues a key as the operator: (key id, api key).
async fn issue(
    app: &TestApp,
    brand: &str,
    scopes: &[&str],
    expires: Option<String>,
) -> (String, String) {
    let r = op(
        app,
        ISSUE,
        json!({ "b": brand, "l": "till", "s": scopes, "e": expires }),
    )
    .await;
    (
        r["issuePartnerKey"]["key"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        r["issuePartnerKey"]["apiKey"].as_str().unwrap().to_owned(),
    )
}

async fn token_of(app: &TestApp, api_key: &str) -> GraphqlResponse {
    app.graphql(None, TOKEN, json!({ "k": api_key })).await
}

async fn minted(app: &TestApp, api_key: &str) -> String {
    token_of(app, api_key).await.ok()["partnerToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

const SCOPES: [&str; 7] = [
    "EARN",
    "REDEEM",
    "READ_ACCOUNTS",
    "ENROL_MEMBERS",
    "MANAGE_TERMS",
    "READ_STATEMENTS",
    "MANAGE_WEBHOOKS",
];

#[tokio::test]
async fn a_partner_key_does_only_what_its_scopes_allow_on_every_partner_operation() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, cinema) = two_programmes(&app).await;
    // Points to redeem and an account to read.
    let earned = earn(&app, "m1", &coffee, 500, "seed-1").await;
    let account = earned.ok()["earnPoints"]["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let terms = op(
        &app,
        PROPOSE,
        terms_input(&coffee, &cinema, "0.5", 0, 100, 5_000, 50_000),
    )
    .await["proposeExchangeTerms"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let period = period(&app);

    // Each partner operation and the scope it needs.
    let operations: Vec<(&str, &str, String, Value)> = vec![
        ("EARN", "earnPoints", EARN.to_owned(), tx("m1", &coffee, 5, "e-{n}", "key-earn-{n}")),
        ("REDEEM", "redeemPoints", REDEEM.to_owned(), tx("m1", &coffee, 1, "r-{n}", "key-redeem-{n}")),
        (
            "READ_ACCOUNTS",
            "pointsAccount",
            "query($a: ID!) { pointsAccount(id: $a) { id activeBalance } }".to_owned(),
            json!({ "a": account }),
        ),
        (
            "READ_ACCOUNTS",
            "_entities",
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { pointsAccounts { id } } } }".to_owned(),
            json!({ "r": [{ "__typename": "Member", "id": "m1" }] }),
        ),
        (
            "MANAGE_TERMS",
            "exchangeTerms",
            "{ exchangeTerms { id } }".to_owned(),
            json!({}),
        ),
        (
            "MANAGE_TERMS",
            "acceptExchangeTerms",
            "mutation($t: ID!) { acceptExchangeTerms(termsId: $t, version: 1) { id } }".to_owned(),
            json!({ "t": terms }),
        ),
        ("MANAGE_TERMS", "proposeExchangeTerms", PROPOSE.to_owned(), terms_input(&coffee, &cinema, "0.5", 0, 100, 5_000, 50_000)),
        (
            "READ_STATEMENTS",
            "clearingStatement",
            "query($p: String!) { clearingStatement(brandId: \"coffee\", period: $p) { netFen } }".to_owned(),
            json!({ "p": period }),
        ),
        (
            "READ_STATEMENTS",
            "clearingPositionFen",
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Brand { clearingPositionFen } } }".to_owned(),
            json!({ "r": [{ "__typename": "Brand", "id": "coffee" }] }),
        ),
        (
            "MANAGE_WEBHOOKS",
            "registerWebhookEndpoint",
            "mutation($k: String!) { registerWebhookEndpoint(brandId: \"coffee\", url: \"https://hooks.example.com/\", events: [POINTS_EARNED], idempotencyKey: $k) { endpoint { id } } }".to_owned(),
            json!({ "k": "key-hook-{n}" }),
        ),
        (
            "MANAGE_WEBHOOKS",
            "webhookEndpoints",
            "{ webhookEndpoints(brandId: \"coffee\") { edges { node { id } } } }".to_owned(),
            json!({}),
        ),
    ];
    let mut n = 0;
    for scope in SCOPES {
        let (_, api_key) = issue(&app, "coffee", &[scope], None).await;
        let token = token_of(&app, &api_key).await;
        assert_eq!(token.ok()["partnerToken"]["scopes"], json!([scope]));
        let token = token.ok()["partnerToken"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        for (needs, name, query, vars) in &operations {
            n += 1;
            let vars: Value =
                serde_json::from_str(&vars.to_string().replace("{n}", &n.to_string())).unwrap();
            let r = app.graphql(Some(&token), query, vars).await;
            let refused = r
                .errors()
                .iter()
                .find(|e| e["extensions"]["code"] == "FORBIDDEN");
            if scope == *needs {
                assert!(refused.is_none(), "{name} with {scope}: {}", r.body);
                // An accepted operation did its work (accepting twice is a
                // CONFLICT-free no-op on one version).
                assert!(r.errors().is_empty(), "{name} with {scope}: {}", r.body);
            } else {
                let refused = refused.unwrap_or_else(|| {
                    panic!("{name} with only {scope} must be FORBIDDEN: {}", r.body)
                });
                assert!(
                    refused["message"]
                        .as_str()
                        .unwrap()
                        .contains(&needs.to_lowercase()),
                    "{name}: the error names the missing scope: {refused}"
                );
            }
        }
    }
    // The scope comes before the look-up: an unknown account is refused
    // alike.
    let (_, earn_only) = issue(&app, "coffee", &["EARN"], None).await;
    let probe = app
        .graphql(
            Some(&minted(&app, &earn_only).await),
            "query($a: ID!) { pointsAccount(id: $a) { id } }",
            json!({ "a": "00000000-0000-0000-0000-000000000000" }),
        )
        .await;
    assert_eq!(probe.error_code(), Some("FORBIDDEN"), "{}", probe.body);
    // A refused write wrote nothing: the balance moved only by the one
    // EARN-scoped earn (5) and the one REDEEM-scoped redemption (1) since
    // 10,500 were earned.
    let balance = op(
        &app,
        "query($a: ID!) { pointsAccount(id: $a) { activeBalance } }",
        json!({ "a": account }),
    )
    .await;
    assert_eq!(balance["pointsAccount"]["activeBalance"], 10_504);
}

#[tokio::test]
async fn a_key_needs_a_scope_and_a_future_expiry() {
    let app = spawn(&alliance::SPEC).await;
    two_programmes(&app).await;
    let operator = app.operator_token();
    let empty = app
        .graphql(
            Some(&operator),
            ISSUE,
            json!({ "b": "coffee", "l": "till", "s": [] }),
        )
        .await;
    assert_eq!(empty.error_code(), Some("BAD_USER_INPUT"));
    assert_eq!(empty.error_field(), Some("scopes"));
    let past = app
        .graphql(
            Some(&operator),
            ISSUE,
            json!({ "b": "coffee", "l": "till", "s": ["EARN"], "e": (app.now() - chrono::Duration::seconds(1)).to_rfc3339() }),
        )
        .await;
    assert_eq!(past.error_code(), Some("BAD_USER_INPUT"));
    assert_eq!(past.error_field(), Some("expiresAt"));
    let unknown = app
        .graphql(
            Some(&operator),
            ISSUE,
            json!({ "b": "coffee", "l": "till", "s": ["TELEPORT"] }),
        )
        .await;
    assert!(!unknown.errors().is_empty(), "{}", unknown.body);
    // Nothing was issued by the refusals.
    let keys = op(
        &app,
        "{ partnerKeys(brandId: \"coffee\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(keys["partnerKeys"], json!([]));
}

#[tokio::test]
async fn an_expiring_key_mints_tokens_that_end_with_it_and_then_none() {
    let app = spawn(&alliance::SPEC).await;
    two_programmes(&app).await;
    let expires = app.now() + chrono::Duration::minutes(30);
    let (key_id, api_key) = issue(&app, "coffee", &["EARN"], Some(expires.to_rfc3339())).await;
    let t = token_of(&app, &api_key).await;
    let until: chrono::DateTime<chrono::Utc> = t.ok()["partnerToken"]["expiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The token's own claims, not the wall clock: it lives from its iat
    // until its exp, which the answer's expiresAt names.
    let token = t.ok()["partnerToken"]["token"].as_str().unwrap();
    let claims: Value = {
        use base64::Engine as _;
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    // Minted a moment after the key was issued, rounded down to seconds.
    assert!(
        (30 * 60 - 5..=30 * 60).contains(&lifetime),
        "a token lives no longer than its key: {claims}"
    );
    assert_eq!(until.timestamp(), claims["exp"].as_i64().unwrap());

    app.clock().advance(chrono::Duration::minutes(30));
    let late = token_of(&app, &api_key).await;
    assert_eq!(late.error_code(), Some("UNAUTHENTICATED"));
    assert!(
        late.errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let keys = op(
        &app,
        "{ partnerKeys(brandId: \"coffee\") { id state } }",
        json!({}),
    )
    .await;
    assert_eq!(
        keys["partnerKeys"],
        json!([{ "id": key_id, "state": "EXPIRED" }])
    );
    let rotate = app
        .graphql(Some(&app.operator_token()), ROTATE, json!({ "k": key_id }))
        .await;
    assert_eq!(rotate.error_code(), Some("CONFLICT"), "{}", rotate.body);
}

#[tokio::test]
async fn a_rotated_key_works_beside_its_replacement_until_the_overlap_ends() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, _) = two_programmes(&app).await;
    let (old_id, old_key) = issue(&app, "coffee", &["EARN", "READ_STATEMENTS"], None).await;

    // Eight identical rotations at once: one rotates, the rest are told.
    let operator = app.operator_token();
    let answers = join_all(
        (0..8).map(|_| app.graphql(Some(&operator), ROTATE, json!({ "k": old_id, "h": 2 }))),
    )
    .await;
    let rotated: Vec<&GraphqlResponse> = answers.iter().filter(|r| r.errors().is_empty()).collect();
    assert_eq!(
        rotated.len(),
        1,
        "{:?}",
        answers.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| !r.errors().is_empty()) {
        assert_eq!(r.error_code(), Some("CONFLICT"), "{}", r.body);
    }
    let rotation = &rotated[0].ok()["rotatePartnerKey"];
    let new_id = rotation["issued"]["key"]["id"].as_str().unwrap().to_owned();
    let new_key = rotation["issued"]["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(
        rotation["issued"]["key"]["scopes"],
        json!(["EARN", "READ_STATEMENTS"])
    );
    assert_eq!(rotation["issued"]["key"]["expiresAt"], Value::Null);
    assert_eq!(rotation["previous"]["replacedBy"], json!(new_id));
    assert_eq!(rotation["previous"]["state"], "ACTIVE");
    let old_until: chrono::DateTime<chrono::Utc> = rotation["previous"]["expiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (old_until - (app.now() + chrono::Duration::hours(2)))
            .num_seconds()
            .abs()
            <= 5
    );
    let keys = op(
        &app,
        "{ partnerKeys(brandId: \"coffee\") { id } }",
        json!({}),
    )
    .await;
    assert_eq!(keys["partnerKeys"].as_array().unwrap().len(), 2);

    // Both keys work during the overlap.
    for (i, key) in [&old_key, &new_key].into_iter().enumerate() {
        let token = minted(&app, key).await;
        let r = app
            .graphql(
                Some(&token),
                EARN,
                tx(
                    "m1",
                    &coffee,
                    10,
                    &format!("o-{i}"),
                    &format!("key-overlap-{i}"),
                ),
            )
            .await;
        r.ok();
    }
    let again = app
        .graphql(Some(&operator), ROTATE, json!({ "k": old_id }))
        .await;
    assert_eq!(again.error_code(), Some("CONFLICT"));
    assert!(
        again.errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains(&new_id)
    );
    let too_long = app
        .graphql(Some(&operator), ROTATE, json!({ "k": new_id, "h": 721 }))
        .await;
    assert_eq!(too_long.error_field(), Some("overlapHours"));

    app.clock().advance(chrono::Duration::hours(2));
    assert_eq!(
        token_of(&app, &old_key).await.error_code(),
        Some("UNAUTHENTICATED")
    );
    minted(&app, &new_key).await;

    // A rotation changes the secret, not the grant: an expiring key's
    // replacement expires when it would have.
    let ends = app.now() + chrono::Duration::hours(3);
    let (limited, _) = issue(&app, "coffee", &["EARN"], Some(ends.to_rfc3339())).await;
    let rotated = op(&app, ROTATE, json!({ "k": limited, "h": 1 })).await;
    let at = |v: &Value| -> chrono::DateTime<chrono::Utc> { v.as_str().unwrap().parse().unwrap() };
    let rotation = &rotated["rotatePartnerKey"];
    assert_eq!(at(&rotation["issued"]["key"]["expiresAt"]), ends);
    assert!(
        (at(&rotation["previous"]["expiresAt"]) - (app.now() + chrono::Duration::hours(1)))
            .num_seconds()
            .abs()
            <= 5
    );
}

#[tokio::test]
async fn the_audit_log_says_who_issued_rotated_and_revoked_keys_and_changed_programmes_and_terms() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, cinema) = two_programmes(&app).await;
    let (key_id, api_key) = issue(&app, "coffee", &["MANAGE_TERMS"], None).await;
    let rotated = op(&app, ROTATE, json!({ "k": key_id, "h": 1 })).await;
    let new_id = rotated["rotatePartnerKey"]["issued"]["key"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Eight identical revocations: one entry.
    let operator = app.operator_token();
    for r in
        join_all((0..8).map(|_| app.graphql(Some(&operator), REVOKE, json!({ "k": new_id })))).await
    {
        assert_eq!(r.ok()["revokePartnerKey"]["state"], "REVOKED");
    }
    op(
        &app,
        "mutation($p: ID!, $i: ProgrammeInput!) { updateProgramme(programmeId: $p, programme: $i) { id } }",
        json!({ "p": coffee, "i": programme_input(3, None, "ONLY_PENDING") }),
    )
    .await;
    let token = minted(&app, &api_key).await;
    let terms = app
        .graphql(
            Some(&token),
            PROPOSE,
            terms_input(&coffee, &cinema, "0.5", 0, 100, 5_000, 50_000),
        )
        .await;
    let terms_id = terms.ok()["proposeExchangeTerms"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    op(&app, ACCEPT, json!({ "t": terms_id, "v": 1, "s": "TO" })).await;

    let log = op(&app, AUDIT, json!({ "b": "coffee", "f": 100 })).await;
    let edges = log["auditLog"]["edges"].as_array().unwrap();
    let actions: Vec<&str> = edges
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "TERMS_ACCEPTED",
            "TERMS_PROPOSED",
            "PROGRAMME_UPDATED",
            "KEY_REVOKED",
            "KEY_ROTATED",
            "KEY_ISSUED",
            "BRAND_ONBOARDED"
        ],
        "newest first, one revocation"
    );
    let node = |action: &str| {
        edges
            .iter()
            .map(|e| &e["node"])
            .find(|n| n["action"] == action)
            .unwrap()
            .clone()
    };
    assert!(
        node("KEY_ISSUED")["actor"]
            .as_str()
            .unwrap()
            .starts_with("operator:")
    );
    assert_eq!(node("KEY_ISSUED")["detail"]["scopes"], "manage_terms");
    assert_eq!(node("KEY_ROTATED")["subjectId"], json!(key_id));
    assert_eq!(node("KEY_ROTATED")["detail"]["replacedBy"], json!(new_id));
    assert_eq!(
        node("PROGRAMME_UPDATED")["detail"]["before"]["pendingDays"],
        0
    );
    assert_eq!(
        node("PROGRAMME_UPDATED")["detail"]["after"]["pendingDays"],
        3
    );
    assert_eq!(node("TERMS_PROPOSED")["actor"], "partner:coffee");
    assert_eq!(node("TERMS_ACCEPTED")["detail"]["side"], "TO");
    let text = log.to_string();
    assert!(!text.contains(&api_key), "no key in the log");

    // The other brand of the terms sees them too; filters and pages.
    let cinema_log = op(&app, AUDIT, json!({ "b": "cinema", "a": "TERMS_PROPOSED" })).await;
    assert_eq!(cinema_log["auditLog"]["edges"].as_array().unwrap().len(), 1);
    let first = op(&app, AUDIT, json!({ "b": "coffee", "f": 4 })).await;
    assert_eq!(first["auditLog"]["pageInfo"]["hasNextPage"], true);
    let rest = op(
        &app,
        AUDIT,
        json!({ "b": "coffee", "f": 4, "c": first["auditLog"]["pageInfo"]["endCursor"] }),
    )
    .await;
    let paged: Vec<Value> = first["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["auditLog"]["edges"].as_array().unwrap())
        .map(|e| e["node"]["action"].clone())
        .collect();
    assert_eq!(paged, actions.iter().map(|a| json!(a)).collect::<Vec<_>>());
    assert_eq!(rest["auditLog"]["pageInfo"]["hasNextPage"], false);

    // Operators only.
    let as_partner = app.graphql(Some(&token), AUDIT, json!({})).await;
    assert_eq!(as_partner.error_code(), Some("FORBIDDEN"));
}
