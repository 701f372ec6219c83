//! Every input rule answers BAD_USER_INPUT naming the field, and writes nothing.

use serde_json::{Value, json};

use crate::support::*;

fn identity() -> Value {
    json!({ "channel": "APP", "externalId": "app-x" })
}

#[tokio::test]
async fn registration_inputs_are_checked_field_by_field() {
    let app = spawn().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "identity": identity(), "phone": "12345" }), "phone"),
        (
            json!({ "identity": identity(), "phone": "not a phone" }),
            "phone",
        ),
        (
            json!({ "identity": identity(), "email": "nobody" }),
            "email",
        ),
        (
            json!({ "identity": identity(), "email": "a@localhost" }),
            "email",
        ),
        (json!({ "identity": identity(), "name": "   " }), "name"),
        (
            json!({ "identity": identity(), "name": "x".repeat(65) }),
            "name",
        ),
        (
            json!({ "identity": identity(), "birthday": "2999-01-01" }),
            "birthday",
        ),
        (
            json!({ "identity": identity(), "birthday": "1850-01-01" }),
            "birthday",
        ),
        (
            json!({ "identity": identity(), "guideCode": "no spaces allowed" }),
            "guideCode",
        ),
        (
            json!({ "identity": { "channel": "APP", "externalId": "  " } }),
            "externalId",
        ),
        (
            json!({ "identity": { "channel": "APP", "externalId": "x".repeat(129) } }),
            "externalId",
        ),
        (
            json!({ "identity": { "channel": "APP", "externalId": "ok", "brandId": "bad brand" } }),
            "brandId",
        ),
    ];
    for (input, field) in cases {
        let response = register(&app, None, input.clone()).await;
        assert_eq!(
            response.error_code(),
            Some("BAD_USER_INPUT"),
            "{input}: {}",
            response.body
        );
        assert_eq!(
            response.error_field(),
            Some(field),
            "{input}: {}",
            response.body
        );
    }
    let all = app
        .graphql(
            Some(&operator(&app)),
            "{ members { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        all.ok()["members"]["edges"],
        json!([]),
        "nothing was written"
    );
}

#[tokio::test]
async fn an_unknown_enum_value_is_a_validation_error() {
    let app = spawn().await;
    let response = register(
        &app,
        None,
        json!({ "identity": { "channel": "FAX", "externalId": "1" } }),
    )
    .await;
    assert_eq!(
        response.error_code(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{}",
        response.body
    );
    assert!(response.data().is_null() || response.data()["registerMember"].is_null());
}

#[tokio::test]
async fn profile_updates_check_their_fields() {
    let app = spawn().await;
    let id = register_member(&app, "app-1", None, "apparel").await;
    let token = member_token(&app, &id);
    let update = "mutation U($id: ID!, $input: ProfileInput!) { updateProfile(memberId: $id, input: $input) { id name phone } }";
    for (input, field) in [
        (json!({ "phone": "0" }), "phone"),
        (json!({ "email": "@@" }), "email"),
        (json!({ "name": "" }), "name"),
        (json!({}), "input"),
    ] {
        let response = app
            .graphql(Some(&token), update, json!({ "id": id, "input": input }))
            .await;
        assert_eq!(response.error_field(), Some(field), "{}", response.body);
        assert_eq!(response.error_code(), Some("BAD_USER_INPUT"));
    }
    let ok = app
        .graphql(
            Some(&token),
            update,
            json!({ "id": id, "input": { "name": " Han Meimei ", "phone": "+86 139 0000 0000" } }),
        )
        .await;
    assert_eq!(ok.ok()["updateProfile"]["name"], "Han Meimei");
    assert_eq!(ok.ok()["updateProfile"]["phone"], "+8613900000000");
}

#[tokio::test]
async fn pagination_and_filter_inputs_are_checked() {
    let app = spawn().await;
    let op = operator(&app);
    for (query, field) in [
        ("{ members(first: 0) { edges { cursor } } }", "first"),
        ("{ members(first: 101) { edges { cursor } } }", "first"),
        ("{ members(after: \"%%%\") { edges { cursor } } }", "after"),
        (
            "{ members(filter: { tag: \"two words\" }) { edges { cursor } } }",
            "tags",
        ),
        (
            "{ members(filter: { tier: \"gold\" }) { edges { cursor } } }",
            "tier",
        ),
        (
            "{ members(filter: { registeredFrom: \"2026-02-01T00:00:00Z\", registeredTo: \"2026-01-01T00:00:00Z\" }) { edges { cursor } } }",
            "registeredTo",
        ),
    ] {
        let response = app.graphql(Some(&op), query, json!({})).await;
        assert_eq!(
            response.error_code(),
            Some("BAD_USER_INPUT"),
            "{query}: {}",
            response.body
        );
        assert_eq!(
            response.error_field(),
            Some(field),
            "{query}: {}",
            response.body
        );
    }
}

#[tokio::test]
async fn operator_inputs_are_checked() {
    let app = spawn().await;
    let op = operator(&app);
    let id = register_member(&app, "app-1", None, "apparel").await;
    let cases = [
        (format!("mutation {{ setMemberTier(memberId: \"{id}\", tier: \"NOPE\", reason: \"x\") {{ id }} }}"), "tier"),
        (format!("mutation {{ setMemberTier(memberId: \"{id}\", tier: \"GOLD\", reason: \" \") {{ id }} }}"), "reason"),
        (format!("mutation {{ adjustGrowthValue(memberId: \"{id}\", delta: 0, reason: \"x\") {{ id }} }}"), "delta"),
        // The subgraph's own port takes 64-bit deltas: the smallest one
        // has no positive twin, and must be refused, not overflow.
        (format!("mutation {{ adjustGrowthValue(memberId: \"{id}\", delta: {}, reason: \"x\") {{ id }} }}", i64::MIN), "delta"),
        (format!("mutation {{ adjustGrowthValue(memberId: \"{id}\", delta: {}, reason: \"x\") {{ id }} }}", i64::MAX), "delta"),
        ("mutation { upsertTierLevel(input: { code: \"lower\", name: \"L\", threshold: 1 }) { code } }".to_owned(), "code"),
        ("mutation { upsertTierLevel(input: { code: \"NEG\", name: \"N\", threshold: -1 }) { code } }".to_owned(), "threshold"),
        (format!("mutation {{ addTags(memberId: \"{id}\", tags: []) {{ id }} }}"), "tags"),
        (format!("mutation {{ mergeMembers(survivorId: \"{id}\", mergedId: \"{id}\", reason: \"x\") {{ id }} }}"), "mergedId"),
    ];
    for (query, field) in cases {
        let response = app.graphql(Some(&op), &query, json!({})).await;
        assert_eq!(
            response.error_code(),
            Some("BAD_USER_INPUT"),
            "{query}: {}",
            response.body
        );
        assert_eq!(
            response.error_field(),
            Some(field),
            "{query}: {}",
            response.body
        );
    }
}

/// The engine's reading of a request, checked through the subgraph itself
/// (the gateway has its own tests): a variable the client did not send
/// takes its default in `@include`/`@skip`, and a string literal's
/// `\u{1F600}` or surrogate pair is one character.
#[tokio::test]
async fn variable_defaults_and_unicode_escapes_as_the_spec_reads_them() {
    let app = spawn().await;
    let op = operator(&app);
    let registered = app
        .graphql(
            Some(&op),
            r#"mutation { registerMember(input: { identity: { channel: APP, externalId: "app-\ud83d\ude00" }, name: "Han \u{1F600}" }) { member { id name } } }"#,
            json!({}),
        )
        .await;
    let member = &registered.ok()["registerMember"]["member"];
    assert_eq!(member["name"], "Han 😀", "{}", registered.body);
    let id = member["id"].as_str().unwrap().to_owned();
    let q = "query($id: ID!, $full: Boolean! = true, $lean: Boolean = true) { member(id: $id) { id name @include(if: $full) tier @skip(if: $lean) identities { externalId } } }";
    let response = app.graphql(Some(&op), q, json!({ "id": id })).await;
    assert_eq!(
        response.ok()["member"],
        json!({ "id": id, "name": "Han 😀", "identities": [{ "externalId": "app-😀" }] }),
        "{}",
        response.body
    );
    let response = app
        .graphql(
            Some(&op),
            q,
            json!({ "id": id, "full": false, "lean": false }),
        )
        .await;
    let tier = response.ok()["member"]["tier"].clone();
    assert!(tier.is_string(), "{}", response.body);
    assert_eq!(
        response.ok()["member"],
        json!({ "id": id, "tier": tier, "identities": [{ "externalId": "app-😀" }] })
    );
}
