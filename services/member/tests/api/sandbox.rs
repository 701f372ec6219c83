//! Test members: a sandbox key enrols members that never meet live ones.
//! Partners read only their key's environment (the other is NOT_FOUND, as
//! if absent), identities are unique per environment, test members hold no
//! contact details, the two never merge, and the standing other services
//! ask for names the environment.

use futures::future::join_all;
use kit::auth::{Environment, TokenRequest};
use kit::testing::TestApp;
use serde_json::{Value, json};

use crate::support::*;

const BY_IDENTITY: &str = "query($c: Channel!, $e: String!) { memberByIdentity(channel: $c, externalId: $e) { id environment } }";

fn sandbox_token(app: &TestApp, brand: &str) -> String {
    app.token(
        TokenRequest::partner("key-s", format!("{brand}-sandbox"))
            .in_environment(Environment::Sandbox),
    )
}

fn enrol(external_id: &str, brand: &str, extra: Value) -> Value {
    let mut input = json!({
        "identity": { "channel": "PARTNER", "externalId": external_id, "brandId": brand },
    });
    for (k, v) in extra.as_object().unwrap() {
        input[k] = v.clone();
    }
    input
}

#[tokio::test]
async fn test_members_and_live_members_never_meet() {
    let app = spawn().await;
    let live = partner_token(&app, "coffee");
    let sandbox = sandbox_token(&app, "coffee");
    // The same partner id, live and in the sandbox: two members.
    let live_member = register(
        &app,
        Some(&live),
        enrol("cust-1", "coffee", json!({ "phone": "13800000001" })),
    )
    .await
    .ok()["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let enrolled = register(
        &app,
        Some(&sandbox),
        enrol("cust-1", "coffee-sandbox", json!({ "name": "Test One" })),
    )
    .await;
    let test_member = enrolled.ok()["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(enrolled.ok()["registerMember"]["outcome"], "CREATED");
    assert_ne!(test_member, live_member);
    let seen = app
        .graphql(
            Some(&sandbox),
            "query($id: ID!) { member(id: $id) { id environment } }",
            json!({ "id": test_member }),
        )
        .await;
    assert_eq!(seen.ok()["member"]["environment"], "SANDBOX");
    // Identical enrolments at once: one test member.
    let again = join_all((0..8).map(|_| {
        register(
            &app,
            Some(&sandbox),
            enrol("cust-2", "coffee-sandbox", json!({})),
        )
    }))
    .await;
    let ids: std::collections::BTreeSet<String> = again
        .iter()
        .map(|r| {
            r.ok()["registerMember"]["member"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{again:?}");

    // Each key reads its own environment only; the other is NOT_FOUND,
    // by id, by identity and as an entity.
    for (token, own, other) in [
        (&live, &live_member, &test_member),
        (&sandbox, &test_member, &live_member),
    ] {
        let read = "query($id: ID!) { member(id: $id) { id status tier } }";
        let seen = app.graphql(Some(token), read, json!({ "id": own })).await;
        assert_eq!(seen.ok()["member"]["id"], own.as_str());
        let hidden = app.graphql(Some(token), read, json!({ "id": other })).await;
        assert_eq!(hidden.error_code(), Some("NOT_FOUND"), "{}", hidden.body);
        let entity = app
            .graphql(
                Some(token),
                "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { id } } }",
                json!({ "r": [{ "__typename": "Member", "id": other }] }),
            )
            .await;
        assert_eq!(
            entity.body["data"]["_entities"][0],
            Value::Null,
            "{}",
            entity.body
        );
        assert_eq!(entity.error_code(), Some("NOT_FOUND"));
        let by_identity = app
            .graphql(
                Some(token),
                BY_IDENTITY,
                json!({ "c": "PARTNER", "e": "cust-1" }),
            )
            .await;
        assert_eq!(by_identity.ok()["memberByIdentity"]["id"], own.as_str());
    }
    // Operators see both, and the environment of each.
    for (id, env) in [(&live_member, "LIVE"), (&test_member, "SANDBOX")] {
        let r = app
            .graphql(
                Some(&operator(&app)),
                "query($id: ID!) { member(id: $id) { environment } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(r.ok()["member"]["environment"], env);
    }

    // The standing the other services ask for names it.
    let standing: Value = app
        .get(&format!("/members/{test_member}/standing"))
        .bearer_auth(app.token(TokenRequest::service("alliance")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(standing["environment"], "SANDBOX", "{standing}");
    assert_eq!(standing["status"], "ACTIVE");
    // ... and its tier, for rewards only some tiers may have.
    let tier = app
        .graphql(
            Some(&app.operator_token()),
            "query($id: ID!) { member(id: $id) { tier } }",
            json!({ "id": test_member }),
        )
        .await;
    assert_eq!(standing["tier"], tier.ok()["member"]["tier"], "{standing}");

    // Never one person.
    let merged = app
        .graphql(
            Some(&operator(&app)),
            "mutation($s: ID!, $m: ID!) { mergeMembers(survivorId: $s, mergedId: $m, reason: \"same person?\") { id } }",
            json!({ "s": live_member, "m": test_member }),
        )
        .await;
    assert_eq!(merged.error_code(), Some("CONFLICT"), "{}", merged.body);
}

#[tokio::test]
async fn test_members_hold_no_contact_details_and_never_link_to_a_live_phone() {
    let app = spawn().await;
    let live_member = register_member(&app, "app-1", Some("13800000002"), "coffee").await;
    let sandbox = sandbox_token(&app, "coffee");
    for (field, extra) in [
        ("phone", json!({ "phone": "13800000002" })),
        ("email", json!({ "email": "someone@example.com" })),
        ("guideCode", json!({ "guideCode": "demo-guide-01" })),
    ] {
        let r = register(
            &app,
            Some(&sandbox),
            enrol("cust-9", "coffee-sandbox", extra),
        )
        .await;
        assert_eq!(r.error_code(), Some("BAD_USER_INPUT"), "{}", r.body);
        assert_eq!(r.error_field(), Some(field));
    }
    // Nothing was written: the live member has one identity, and the test
    // id is free.
    let live = member(&app, &operator(&app), &live_member).await;
    assert_eq!(
        live.ok()["member"]["identities"].as_array().unwrap().len(),
        1
    );
    let free = app
        .graphql(
            Some(&sandbox),
            BY_IDENTITY,
            json!({ "c": "PARTNER", "e": "cust-9" }),
        )
        .await;
    assert_eq!(free.ok()["memberByIdentity"], Value::Null);
    // An operator cannot give a test member a phone later either.
    let test_member = register(
        &app,
        Some(&sandbox),
        enrol("cust-9", "coffee-sandbox", json!({})),
    )
    .await
    .ok()["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let update = app
        .graphql(
            Some(&operator(&app)),
            "mutation($id: ID!) { updateProfile(memberId: $id, input: { phone: \"13800000003\" }) { id } }",
            json!({ "id": test_member }),
        )
        .await;
    assert_eq!(
        update.error_code(),
        Some("BAD_USER_INPUT"),
        "{}",
        update.body
    );
    assert_eq!(update.error_field(), Some("phone"));
}

/// A sandbox brand's identities belong to test members only, and a live
/// brand's to live members; a partner's customer numbers are registered by
/// its key (or an operator), never claimed first by anyone else; a sandbox
/// has no staff.
#[tokio::test]
async fn identities_stay_in_their_brands_environment() {
    let app = spawn().await;
    let live_member = register_member(&app, "app-env-1", None, "coffee").await;
    // Anyone registering a live member with a sandbox brand's identity.
    for (channel, token) in [("APP", None), ("PARTNER", Some(operator(&app)))] {
        let r = register(
            &app,
            token.as_deref(),
            json!({ "identity": { "channel": channel, "externalId": "env-x1", "brandId": "coffee-sandbox" } }),
        )
        .await;
        assert_eq!(
            r.error_code(),
            Some("BAD_USER_INPUT"),
            "{channel}: {}",
            r.body
        );
        assert_eq!(r.error_field(), Some("brandId"));
    }
    let link = "mutation($m: ID!, $c: Channel!, $b: ID) { linkIdentity(memberId: $m, identity: { channel: $c, externalId: \"env-x2\", brandId: $b }) { outcome } }";
    let linked = app
        .graphql(
            Some(&operator(&app)),
            link,
            json!({ "m": live_member, "c": "APP", "b": "coffee-sandbox" }),
        )
        .await;
    assert_eq!(
        linked.error_code(),
        Some("BAD_USER_INPUT"),
        "{}",
        linked.body
    );
    // A test member, the other way round.
    let test_member = register(
        &app,
        Some(&sandbox_token(&app, "coffee")),
        enrol("env-t1", "coffee-sandbox", json!({})),
    )
    .await
    .ok()["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let linked = app
        .graphql(
            Some(&operator(&app)),
            link,
            json!({ "m": test_member, "c": "APP", "b": "coffee" }),
        )
        .await;
    assert_eq!(
        linked.error_code(),
        Some("BAD_USER_INPUT"),
        "{}",
        linked.body
    );
    // PARTNER ids are the partner's: not claimed by a stranger or a member.
    let anonymous = register(
        &app,
        None,
        json!({ "identity": { "channel": "PARTNER", "externalId": "cust-7", "brandId": "coffee" } }),
    )
    .await;
    assert_eq!(
        anonymous.error_code(),
        Some("FORBIDDEN"),
        "{}",
        anonymous.body
    );
    let by_member = app
        .graphql(
            Some(&member_token(&app, &live_member)),
            link,
            json!({ "m": live_member, "c": "PARTNER", "b": "coffee" }),
        )
        .await;
    assert_eq!(
        by_member.error_code(),
        Some("FORBIDDEN"),
        "{}",
        by_member.body
    );
    // No staff in a sandbox.
    let staff = app
        .graphql(
            Some(&app.token(TokenRequest::staff("g", "s", "coffee-sandbox"))),
            "query($id: ID!) { member(id: $id) { id } }",
            json!({ "id": test_member }),
        )
        .await;
    assert_eq!(
        staff.error_code(),
        Some("UNAUTHENTICATED"),
        "{}",
        staff.body
    );
}
