//! Every access rule, allowed and denied, over HTTP.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn reading_a_member() {
    let app = spawn().await;
    let id = register_member(&app, "app-1", Some("13800000004"), "apparel").await;
    let other = register_member(&app, "app-2", None, "coffee").await;

    // Allowed, with personal data: self, staff of the brand, operators.
    for token in [
        member_token(&app, &id),
        staff_token(&app, "apparel"),
        operator(&app),
    ] {
        let r = member(&app, &token, &id).await;
        assert_eq!(r.ok()["member"]["phone"], "+8613800000004", "{}", r.body);
    }
    // Partners: the member exists, nothing personal.
    let partner = app
        .graphql(
            Some(&partner_token(&app, "apparel")),
            "query($id: ID!) { member(id: $id) { id tier } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(partner.ok()["member"]["tier"], "BASIC");
    let partner_personal = member(&app, &partner_token(&app, "apparel"), &id).await;
    assert_eq!(partner_personal.error_code(), Some("FORBIDDEN"));
    assert!(partner_personal.data()["member"]["phone"].is_null());

    // Denied: another member, staff of another brand, anonymous.
    let denied = member(&app, &member_token(&app, &other), &id).await;
    assert_eq!(denied.error_code(), Some("FORBIDDEN"));
    assert!(denied.data()["member"].is_null());
    assert_eq!(
        member(&app, &staff_token(&app, "cinema"), &id)
            .await
            .error_code(),
        Some("FORBIDDEN")
    );
    let anonymous = app.graphql(None, MEMBER, json!({ "id": id })).await;
    assert_eq!(anonymous.error_code(), Some("UNAUTHENTICATED"));
    // Unknown ids are NOT_FOUND.
    assert_eq!(
        member(&app, &operator(&app), "no-such-id")
            .await
            .error_code(),
        Some("NOT_FOUND")
    );
}

#[tokio::test]
async fn changing_a_member() {
    let app = spawn().await;
    let id = register_member(&app, "app-1", None, "apparel").await;
    let other = register_member(&app, "app-2", None, "apparel").await;
    let update = "mutation($id: ID!) { updateProfile(memberId: $id, input: { name: \"New Name\" }) { name } }";
    let consent = "mutation($id: ID!) { setConsent(memberId: $id, purpose: MARKETING_SMS, granted: true) { id } }";
    let erase = "mutation($id: ID!) { eraseMember(memberId: $id) { id } }";
    for doc in [update, consent] {
        assert!(
            app.graphql(Some(&member_token(&app, &id)), doc, json!({ "id": id }))
                .await
                .errors()
                .is_empty()
        );
        assert!(
            app.graphql(Some(&operator(&app)), doc, json!({ "id": id }))
                .await
                .errors()
                .is_empty()
        );
        for (token, code) in [
            (member_token(&app, &other), "FORBIDDEN"),
            (staff_token(&app, "apparel"), "FORBIDDEN"),
            (partner_token(&app, "apparel"), "FORBIDDEN"),
        ] {
            let r = app.graphql(Some(&token), doc, json!({ "id": id })).await;
            assert_eq!(r.error_code(), Some(code), "{doc}: {}", r.body);
        }
        assert_eq!(
            app.graphql(None, doc, json!({ "id": id }))
                .await
                .error_code(),
            Some("UNAUTHENTICATED")
        );
    }
    for token in [
        member_token(&app, &other),
        staff_token(&app, "apparel"),
        partner_token(&app, "apparel"),
    ] {
        assert_eq!(
            app.graphql(Some(&token), erase, json!({ "id": id }))
                .await
                .error_code(),
            Some("FORBIDDEN")
        );
    }
}

#[tokio::test]
async fn linking_tagging_and_touchpoints() {
    let app = spawn().await;
    let id = register_member(&app, "app-1", None, "apparel").await;
    let link = "mutation($id: ID!, $ext: String!) { linkIdentity(memberId: $id, identity: { channel: STORE_POS, externalId: $ext }) { outcome } }";
    let tag = "mutation($id: ID!) { addTags(memberId: $id, tags: [\"vip\"]) { id } }";
    let touch = "mutation($id: ID!) { recordTouchpoint(input: { memberId: $id, kind: STORE_VISIT, channel: STORE_POS, occurredAt: \"2026-01-02T10:00:00Z\" }) { id } }";

    // Linking: self, staff of the brand, operator.
    for (n, token) in [
        member_token(&app, &id),
        staff_token(&app, "apparel"),
        operator(&app),
    ]
    .iter()
    .enumerate()
    {
        let r = app
            .graphql(
                Some(token),
                link,
                json!({ "id": id, "ext": format!("card-{n}") }),
            )
            .await;
        assert_eq!(r.ok()["linkIdentity"]["outcome"], "LINKED");
    }
    for token in [staff_token(&app, "coffee"), partner_token(&app, "apparel")] {
        let r = app
            .graphql(Some(&token), link, json!({ "id": id, "ext": "card-x" }))
            .await;
        assert_eq!(r.error_code(), Some("FORBIDDEN"), "{}", r.body);
    }
    // Tagging: staff of the brand and operators, not the member.
    for token in [staff_token(&app, "apparel"), operator(&app)] {
        assert!(
            app.graphql(Some(&token), tag, json!({ "id": id }))
                .await
                .errors()
                .is_empty()
        );
    }
    for token in [
        member_token(&app, &id),
        staff_token(&app, "coffee"),
        partner_token(&app, "apparel"),
    ] {
        assert_eq!(
            app.graphql(Some(&token), tag, json!({ "id": id }))
                .await
                .error_code(),
            Some("FORBIDDEN")
        );
    }
    // Touchpoints: self, staff of the brand, operators.
    for token in [
        member_token(&app, &id),
        staff_token(&app, "apparel"),
        operator(&app),
    ] {
        assert!(
            app.graphql(Some(&token), touch, json!({ "id": id }))
                .await
                .errors()
                .is_empty()
        );
    }
    for token in [staff_token(&app, "coffee"), partner_token(&app, "apparel")] {
        assert_eq!(
            app.graphql(Some(&token), touch, json!({ "id": id }))
                .await
                .error_code(),
            Some("FORBIDDEN")
        );
    }
}

#[tokio::test]
async fn operator_only_operations() {
    let app = spawn().await;
    let a = register_member(&app, "app-a", None, "apparel").await;
    let b = register_member(&app, "app-b", None, "apparel").await;
    let docs = [
        format!("mutation {{ mergeMembers(survivorId: \"{a}\", mergedId: \"{b}\", reason: \"same person\") {{ id }} }}"),
        format!("mutation {{ setMemberTier(memberId: \"{a}\", tier: \"GOLD\", reason: \"vip\") {{ id }} }}"),
        format!("mutation {{ adjustGrowthValue(memberId: \"{a}\", delta: 10, reason: \"order\") {{ id }} }}"),
        "mutation { upsertTierLevel(input: { code: \"DIAMOND\", name: \"Diamond\", threshold: 90000 }) { code } }".to_owned(),
        "{ members { edges { node { id } } } }".to_owned(),
    ];
    for doc in &docs {
        for token in [
            member_token(&app, &a),
            staff_token(&app, "apparel"),
            partner_token(&app, "apparel"),
        ] {
            let r = app.graphql(Some(&token), doc, json!({})).await;
            assert_eq!(r.error_code(), Some("FORBIDDEN"), "{doc}: {}", r.body);
        }
        assert_eq!(
            app.graphql(None, doc, json!({})).await.error_code(),
            Some("UNAUTHENTICATED")
        );
    }
    // And operators may (members listing last, after the merge).
    for doc in docs.iter().rev() {
        let r = app.graphql(Some(&operator(&app)), doc, json!({})).await;
        assert!(r.errors().is_empty(), "{doc}: {}", r.body);
    }
}

#[tokio::test]
async fn export_is_for_the_member_themself() {
    let app = spawn().await;
    let id = register_member(&app, "app-1", None, "apparel").await;
    let doc = "mutation { exportMyData }";
    assert!(
        app.graphql(Some(&member_token(&app, &id)), doc, json!({}))
            .await
            .errors()
            .is_empty()
    );
    for token in [
        operator(&app),
        staff_token(&app, "apparel"),
        partner_token(&app, "apparel"),
    ] {
        assert_eq!(
            app.graphql(Some(&token), doc, json!({})).await.error_code(),
            Some("FORBIDDEN")
        );
    }
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated_before_anything_runs() {
    let app = spawn().await;
    let expired = app
        .keys()
        .issue(
            kit::auth::TokenRequest::operator("op"),
            chrono::Duration::hours(-1),
        )
        .unwrap();
    for header in [
        format!("Bearer {expired}"),
        "Bearer not.a.token".to_owned(),
        "Basic abc".to_owned(),
    ] {
        let response = app
            .post("/graphql")
            .header("authorization", header.clone())
            .json(&json!({ "query": "{ tierLevels { code } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    let foreign = kit::auth::JwtKeys::hs256(&kit::config::Secret::new(
        "some-other-secret-some-other-secret",
    ))
    .issue(
        kit::auth::TokenRequest::operator("op"),
        chrono::Duration::hours(1),
    )
    .unwrap();
    let r = app
        .graphql(Some(&foreign), "{ tierLevels { code } }", json!({}))
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn the_remaining_denials() {
    let app = spawn().await;
    let id = register_member(&app, "app-1", None, "apparel").await;
    let other = register_member(&app, "app-2", None, "coffee").await;
    let op = operator(&app);
    app.graphql(Some(&op), "mutation($id: ID!) { linkIdentity(memberId: $id, identity: { channel: STORE_POS, externalId: \"card-1\" }) { outcome } }", json!({ "id": id })).await.ok();
    app.graphql(
        Some(&op),
        "mutation($id: ID!) { addTags(memberId: $id, tags: [\"vip\"]) { id } }",
        json!({ "id": id }),
    )
    .await
    .ok();

    let unlink = "mutation($id: ID!) { unlinkIdentity(memberId: $id, channel: STORE_POS, externalId: \"card-1\") { id } }";
    for token in [
        member_token(&app, &other),
        staff_token(&app, "apparel"),
        partner_token(&app, "apparel"),
    ] {
        assert_eq!(
            app.graphql(Some(&token), unlink, json!({ "id": id }))
                .await
                .error_code(),
            Some("FORBIDDEN")
        );
    }
    let remove = "mutation($id: ID!) { removeTags(memberId: $id, tags: [\"vip\"]) { id } }";
    for token in [
        member_token(&app, &id),
        staff_token(&app, "coffee"),
        partner_token(&app, "apparel"),
    ] {
        assert_eq!(
            app.graphql(Some(&token), remove, json!({ "id": id }))
                .await
                .error_code(),
            Some("FORBIDDEN")
        );
    }
    let by_identity = "{ memberByIdentity(channel: APP, externalId: \"app-1\") { id phone } }";
    assert_eq!(
        app.graphql(Some(&member_token(&app, &other)), by_identity, json!({}))
            .await
            .error_code(),
        Some("FORBIDDEN")
    );
    assert_eq!(
        app.graphql(Some(&staff_token(&app, "coffee")), by_identity, json!({}))
            .await
            .error_code(),
        Some("FORBIDDEN")
    );
    assert_eq!(
        app.graphql(None, by_identity, json!({})).await.error_code(),
        Some("UNAUTHENTICATED")
    );
    let own = app
        .graphql(Some(&member_token(&app, &id)), by_identity, json!({}))
        .await;
    assert_eq!(own.ok()["memberByIdentity"]["id"], id.as_str());
    // Partners learn who it is, not how to reach them.
    let partner = app
        .graphql(
            Some(&partner_token(&app, "apparel")),
            by_identity,
            json!({}),
        )
        .await;
    assert_eq!(partner.data()["memberByIdentity"]["id"], id.as_str());
    assert_eq!(partner.error_code(), Some("FORBIDDEN"));
    let timeline = app
        .graphql(
            Some(&partner_token(&app, "apparel")),
            "query($id: ID!) { member(id: $id) { id timeline { edges { cursor } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(timeline.error_code(), Some("FORBIDDEN"));
    assert!(timeline.data()["member"]["timeline"].is_null());
    assert_eq!(
        app.graphql(None, "{ tierLevels { code } }", json!({}))
            .await
            .error_code(),
        Some("UNAUTHENTICATED")
    );
    // The removals that were denied did not happen.
    let m = member(&app, &op, &id).await;
    assert_eq!(m.ok()["member"]["tags"], json!(["vip"]));
    assert_eq!(m.ok()["member"]["identities"].as_array().unwrap().len(), 2);
}

/// A POST not declared JSON (what any web page can make a browser send to
/// another site) is refused, and nothing is written.
#[tokio::test]
async fn a_post_not_declared_json_is_refused_and_writes_nothing() {
    let app = spawn().await;
    let register = json!({ "query": "mutation { registerMember(input: { identity: { channel: APP, externalId: \"csrf-1\", brandId: \"coffee\" }, phone: \"13800138123\", name: \"X\" }) { outcome } }" });
    let response = app
        .post("/graphql")
        .header("content-type", "text/plain")
        .body(register.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_REQUEST",
        "{body}"
    );
    let token = operator(&app);
    let found = app
        .graphql(
            Some(&token),
            "{ members(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        found.data()["members"]["edges"],
        json!([]),
        "{}",
        found.body
    );
}

#[tokio::test]
async fn malformed_requests_get_coded_errors() {
    let app = spawn().await;
    let not_json = app
        .post("/graphql")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let body: serde_json::Value = not_json.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    for query in [
        "{ members { edges",
        "{ noSuchField }",
        "{ member(id: 5, extra: 1) { id } }",
    ] {
        let r = app.graphql(Some(&operator(&app)), query, json!({})).await;
        assert_eq!(
            r.error_code(),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{query}: {}",
            r.body
        );
    }
}

/// `{ __schema { types { fields { type { fields … name } } } } }`, `depth`
/// fields deep.
fn nested(depth: usize) -> String {
    let mut levels = vec!["__schema", "types"];
    while levels.len() < depth - 1 {
        levels.push(if levels.len() % 2 == 0 {
            "fields"
        } else {
            "type"
        });
    }
    let open: String = levels.iter().map(|l| format!("{l} {{ ")).collect();
    format!("{{ {open}name {}}}", "} ".repeat(levels.len()))
}

#[tokio::test]
async fn a_request_past_the_limits_is_refused_before_it_is_validated() {
    let app = spawn().await;
    let token = operator(&app);
    let limits = kit::subgraph::limits();
    let max_depth = limits.max_depth as usize;
    let within = app
        .graphql(Some(&token), &nested(max_depth), json!({}))
        .await;
    assert!(within.errors().is_empty(), "{}", within.body);
    let refused = |r: &kit::testing::GraphqlResponse, what: &str| {
        assert_eq!(r.error_code(), Some("LIMIT_EXCEEDED"), "{}", r.body);
        assert!(r.body.to_string().contains(what), "{what}: {}", r.body);
        assert!(r.data().is_null(), "nothing ran: {}", r.body);
    };
    let deeper = app
        .graphql(Some(&token), &nested(max_depth + 1), json!({}))
        .await;
    refused(&deeper, "depth");

    let lookups = limits.max_aliases + 1;
    let aliased = format!(
        "{{ {} }}",
        (0..lookups)
            .map(|i| format!("m{i}: member(id: \"m\") {{ id }}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    refused(
        &app.graphql(Some(&token), &aliased, json!({})).await,
        "aliases",
    );

    // A fragment that spreads the next twice, twenty times over: 2^20
    // fields once written out, refused without being written out, in the
    // operation that runs, in one that does not, and in a fragment no
    // operation spreads. No token needed: it must be cheap for anyone.
    let fan_out = kit::testing::fragment_fan_out(20);
    let bomb = fan_out.trim_start_matches("query{...F0}");
    for text in [
        fan_out.clone(),
        format!("query A {{ __typename }} query B {{ ...F0 }} {bomb}"),
        format!("query A {{ __typename }} {bomb}"),
    ] {
        let mut body = json!({ "query": text });
        if text.contains("query A") {
            body["operationName"] = json!("A");
        }
        let response = app.post("/graphql").json(&body).send().await.unwrap();
        let r = kit::testing::GraphqlResponse {
            status: response.status().as_u16(),
            body: response.json().await.unwrap(),
        };
        refused(&r, "fields");
    }
}

/// A partner key without READ_ACCOUNTS learns nothing about members, not
/// even whether an id or an identity exists: the scope is checked before
/// the look-up, so a held and an unheld identity answer alike.
#[tokio::test]
async fn a_partner_key_without_read_accounts_cannot_probe_for_members() {
    use kit::auth::{Scope, TokenRequest};

    let app = spawn().await;
    let id = register_member(&app, "app-probe-1", None, "apparel").await;
    let enrol_only = app.token(TokenRequest::partner_scoped(
        "key-enrol",
        "apparel",
        [Scope::EnrolMembers].into_iter().collect(),
    ));
    for (query, vars) in [
        (
            "query($e: String!) { memberByIdentity(channel: APP, externalId: $e) { id } }",
            json!({ "e": "app-probe-1" }),
        ),
        (
            "query($e: String!) { memberByIdentity(channel: APP, externalId: $e) { id } }",
            json!({ "e": "app-nobody" }),
        ),
        (
            "query($m: ID!) { member(id: $m) { id } }",
            json!({ "m": id }),
        ),
        (
            "query($m: ID!) { member(id: $m) { id } }",
            json!({ "m": "00000000-0000-0000-0000-000000000000" }),
        ),
    ] {
        let answer = app.graphql(Some(&enrol_only), query, vars.clone()).await;
        assert_eq!(
            answer.error_code(),
            Some("FORBIDDEN"),
            "{vars}: {}",
            answer.body
        );
        assert!(
            answer.errors()[0]["message"]
                .as_str()
                .unwrap()
                .contains("read_accounts"),
            "{}",
            answer.body
        );
    }
}
