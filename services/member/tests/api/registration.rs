use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn registering_creates_a_member_with_profile_identity_and_entry_tier() {
    let app = spawn().await;
    let response = register(
        &app,
        None,
        json!({
            "identity": { "channel": "WECHAT_MINI_PROGRAM", "externalId": "oWx-123", "brandId": "apparel" },
            "phone": "138 1234 5678",
            "email": "Li.Lei@Example.COM",
            "name": "  李雷 ",
            "birthday": "1990-05-17",
            "gender": "MALE",
            "guideCode": "GUIDE-abc123",
        }),
    )
    .await;
    let payload = &response.ok()["registerMember"];
    assert_eq!(payload["outcome"], "CREATED");
    assert_eq!(payload["member"]["tier"], "BASIC");
    let id = payload["member"]["id"].as_str().unwrap();

    let read = member(&app, &operator(&app), id).await;
    let m = &read.ok()["member"];
    assert_eq!(m["name"], "李雷");
    assert_eq!(m["phone"], "+8613812345678");
    assert_eq!(m["email"], "Li.Lei@example.com");
    assert_eq!(m["birthday"], "1990-05-17");
    assert_eq!(m["gender"], "MALE");
    assert_eq!(m["guideCode"], "GUIDE-abc123");
    assert_eq!(m["registrationChannel"], "WECHAT_MINI_PROGRAM");
    assert_eq!(
        m["identities"],
        json!([{ "channel": "WECHAT_MINI_PROGRAM", "externalId": "oWx-123", "brandId": "apparel" }])
    );
}

#[tokio::test]
async fn the_same_identity_registering_again_returns_the_same_member() {
    let app = spawn().await;
    let first = register_member(&app, "app-1", Some("13800000001"), "apparel").await;
    let again = register(
        &app,
        None,
        json!({ "identity": { "channel": "APP", "externalId": "app-1" }, "name": "Someone Else" }),
    )
    .await;
    let payload = &again.ok()["registerMember"];
    assert_eq!(payload["outcome"], "ALREADY_REGISTERED");
    assert_eq!(payload["member"]["id"], first.as_str());
    // The retry did not overwrite the profile.
    assert_eq!(
        member(&app, &operator(&app), &first).await.ok()["member"]["name"],
        "Test Member"
    );
}

#[tokio::test]
async fn a_known_phone_links_the_new_identity_instead_of_duplicating() {
    let app = spawn().await;
    let first = register_member(&app, "app-1", Some("+86 138 0000 0002"), "apparel").await;
    let second = register(
        &app,
        None,
        json!({ "identity": { "channel": "STORE_POS", "externalId": "card-77" }, "phone": "13800000002" }),
    )
    .await;
    let payload = &second.ok()["registerMember"];
    assert_eq!(payload["outcome"], "LINKED_BY_PHONE");
    assert_eq!(payload["member"]["id"], first.as_str());

    let m = member(&app, &operator(&app), &first).await;
    let channels: Vec<&str> = m.ok()["member"]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["APP", "STORE_POS"]);
    let all = app
        .graphql(
            Some(&operator(&app)),
            "{ members { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        all.ok()["members"]["edges"].as_array().unwrap().len(),
        1,
        "no duplicate member"
    );
}

#[tokio::test]
async fn concurrent_registrations_of_one_identity_make_one_member() {
    let app = spawn().await;
    let attempts = (0..8).map(|_| {
        register(&app, None, json!({ "identity": { "channel": "APP", "externalId": "race-1" }, "phone": "13800000009" }))
    });
    let results = futures::future::join_all(attempts).await;
    let ids: std::collections::HashSet<String> = results
        .iter()
        .map(|r| {
            r.ok()["registerMember"]["member"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every attempt got the same member: {ids:?}");
    let created = results
        .iter()
        .filter(|r| r.data()["registerMember"]["outcome"] == "CREATED")
        .count();
    assert_eq!(created, 1);
}

#[tokio::test]
async fn anonymous_registration_sees_only_the_id_and_staff_register_for_their_brand() {
    let app = spawn().await;
    let anonymous = app
        .graphql(
            None,
            "mutation { registerMember(input: { identity: { channel: APP, externalId: \"a-1\" }, name: \"Ann\" }) { member { id name } } }",
            json!({}),
        )
        .await;
    assert!(anonymous.data()["registerMember"]["member"]["id"].is_string());
    assert_eq!(
        anonymous.error_code(),
        Some("FORBIDDEN"),
        "name is personal: {}",
        anonymous.body
    );

    let staff = register(
        &app,
        Some(&staff_token(&app, "coffee")),
        json!({ "identity": { "channel": "STORE_POS", "externalId": "card-1" } }),
    )
    .await;
    let id = staff.ok()["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = member(&app, &operator(&app), &id).await;
    assert_eq!(
        m.ok()["member"]["identities"][0]["brandId"],
        "coffee",
        "staff's own brand is used"
    );

    let other_brand = register(
        &app,
        Some(&staff_token(&app, "coffee")),
        json!({ "identity": { "channel": "STORE_POS", "externalId": "card-2", "brandId": "cinema" } }),
    )
    .await;
    assert_eq!(other_brand.error_code(), Some("FORBIDDEN"));

    let partner_app_channel = register(
        &app,
        Some(&partner_token(&app, "cinema")),
        json!({ "identity": { "channel": "APP", "externalId": "x-1" } }),
    )
    .await;
    assert_eq!(partner_app_channel.error_code(), Some("FORBIDDEN"));
    let partner = register(
        &app,
        Some(&partner_token(&app, "cinema")),
        json!({ "identity": { "channel": "PARTNER", "externalId": "cinema-cust-1" } }),
    )
    .await;
    assert_eq!(partner.ok()["registerMember"]["outcome"], "CREATED");

    let as_member = register(
        &app,
        Some(&member_token(&app, &id)),
        json!({ "identity": { "channel": "APP", "externalId": "x-2" } }),
    )
    .await;
    assert_eq!(as_member.error_code(), Some("FORBIDDEN"));
}
