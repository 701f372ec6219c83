use serde_json::{Value, json};

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

/// Each partner numbers its own customers: two brands' `cust-1` are two
/// members, and each brand's partner finds its own (an operator names the
/// brand). Identical enrolments at once by both still give one each.
#[tokio::test]
async fn two_brands_partner_ids_are_two_people() {
    let app = spawn().await;
    let enrol = |brand: &str| json!({ "identity": { "channel": "PARTNER", "externalId": "cust-1", "brandId": brand } });
    let (coffee, cinema) = (partner_token(&app, "coffee"), partner_token(&app, "cinema"));
    let answers = futures::future::join_all((0..6).map(|n| {
        let (token, brand) = if n % 2 == 0 {
            (&coffee, "coffee")
        } else {
            (&cinema, "cinema")
        };
        register(&app, Some(token), enrol(brand))
    }))
    .await;
    let id_of = |n: usize| {
        answers[n].ok()["registerMember"]["member"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for n in 2..6 {
        assert_eq!(id_of(n), id_of(n % 2), "one member per brand");
    }
    let (coffee_member, cinema_member) = (id_of(0), id_of(1));
    assert_ne!(coffee_member, cinema_member);
    let find = "query($b: ID) { memberByIdentity(channel: PARTNER, externalId: \"cust-1\", brandId: $b) { id } }";
    for (token, own) in [(&coffee, &coffee_member), (&cinema, &cinema_member)] {
        let found = app.graphql(Some(token), find, json!({})).await;
        assert_eq!(found.ok()["memberByIdentity"]["id"], own.as_str());
    }
    let op = operator(&app);
    for (brand, own) in [("coffee", &coffee_member), ("cinema", &cinema_member)] {
        let found = app.graphql(Some(&op), find, json!({ "b": brand })).await;
        assert_eq!(found.ok()["memberByIdentity"]["id"], own.as_str());
    }
    let unnamed = app.graphql(Some(&op), find, json!({})).await;
    assert_eq!(unnamed.ok()["memberByIdentity"], Value::Null);
}

/// Identities from before environments and namespaces: every member and
/// identity is live, and a PARTNER identity takes its brand as namespace
/// (so the brand's partner still finds its customer).
#[tokio::test]
async fn identities_from_before_take_their_environment_and_namespace_on_migration() {
    use member::store::entities::identity;
    use sea_orm::EntityTrait;
    use sea_orm_migration::MigratorTrait;

    let database = kit::testing::TestDatabase::new().await;
    let db = database.connect("member").await;
    let before = member::migration::Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261209_000200_environments")
        .expect("the environments migration") as u32;
    member::migration::Migrator::up(&db, Some(before))
        .await
        .unwrap();
    kit::testing::insert_row(
        &db,
        "members",
        &[
            "id",
            "status",
            "registration_channel",
            "tier",
            "growth_value",
            "registered_at",
            "updated_at",
        ],
        vec![
            "m-old".into(),
            "ACTIVE".into(),
            "PARTNER".into(),
            "SILVER".into(),
            0i64.into(),
            0i64.into(),
            0i64.into(),
        ],
    )
    .await;
    for (id, channel, external) in [("i-1", "PARTNER", "cust-1"), ("i-2", "APP", "app-1")] {
        kit::testing::insert_row(
            &db,
            "member_identities",
            &[
                "id",
                "member_id",
                "channel",
                "external_id",
                "brand_id",
                "linked_at",
            ],
            vec![
                id.into(),
                "m-old".into(),
                channel.into(),
                external.into(),
                "coffee".into(),
                0i64.into(),
            ],
        )
        .await;
    }
    member::migration::Migrator::up(&db, None).await.unwrap();
    let rows = identity::Entity::find().all(&db).await.unwrap();
    let of = |id: &str| rows.iter().find(|r| r.id == id).unwrap();
    assert_eq!(of("i-1").namespace, "coffee");
    assert_eq!(of("i-2").namespace, "");
    for row in &rows {
        assert_eq!(row.environment, kit::auth::Environment::Live);
    }
    let found = member::store::member_id_by_identity(
        &db,
        kit::channel::Channel::Partner,
        &member::domain::identity::ExternalId::parse("externalId", "cust-1").unwrap(),
        kit::auth::Environment::Live,
        "coffee",
    )
    .await
    .unwrap();
    assert_eq!(found.as_deref(), Some("m-old"));
}

/// A referrer is checked once, when the new member is created: an id no
/// member has, a suspended member, or a member of the other environment is
/// BAD_USER_INPUT on `referrerId` and nothing is written; a merged
/// member's survivor is recorded; the registration event carries it.
#[tokio::test]
async fn a_referrer_must_be_an_active_member_of_the_same_environment() {
    let app = spawn().await;
    let op = operator(&app);
    let referrer = register_member(&app, "ref-a", Some("13800000011"), "coffee").await;
    let merged = register_member(&app, "ref-b", Some("13800000012"), "coffee").await;
    let suspended = register_member(&app, "ref-c", Some("13800000013"), "coffee").await;
    app.graphql(
        Some(&op),
        "mutation($s: ID!, $m: ID!) { mergeMembers(survivorId: $s, mergedId: $m, reason: \"same person\") { id } }",
        json!({ "s": referrer, "m": merged }),
    )
    .await
    .ok();
    app.graphql(
        Some(&op),
        "mutation($m: ID!) { suspendMember(memberId: $m) { status } }",
        json!({ "m": suspended }),
    )
    .await
    .ok();
    let test_member = register(
        &app,
        Some(&app.token(
            kit::auth::TokenRequest::partner("key-s", "coffee-sandbox")
                .in_environment(kit::auth::Environment::Sandbox),
        )),
        json!({ "identity": { "channel": "PARTNER", "externalId": "ref-test", "brandId": "coffee-sandbox" } }),
    )
    .await
    .ok()["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let enrol = |tag: &str, referrer: &str| {
        json!({
            "identity": { "channel": "APP", "externalId": format!("referred-{tag}"), "brandId": "coffee" },
            "referrerId": referrer,
        })
    };
    for (tag, bad) in [
        ("unknown", "no-such-member"),
        ("suspended", suspended.as_str()),
        ("sandbox", test_member.as_str()),
        ("blank", "  "),
    ] {
        let refused = register(&app, None, enrol(tag, bad)).await;
        assert_eq!(
            refused.error_code(),
            Some("BAD_USER_INPUT"),
            "{tag}: {refused:?}"
        );
        assert_eq!(refused.error_field(), Some("referrerId"), "{tag}");
        let by_identity = app
            .graphql(
                Some(&op),
                "query($e: String!) { memberByIdentity(channel: APP, externalId: $e, brandId: \"coffee\") { id } }",
                json!({ "e": format!("referred-{tag}") }),
            )
            .await;
        assert!(
            by_identity.body["data"]["memberByIdentity"].is_null(),
            "{tag}: nothing written: {by_identity:?}"
        );
    }
    let referred = register(&app, None, enrol("through-merge", &merged)).await;
    let referred = referred.ok()["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown = app
        .graphql(
            Some(&op),
            "query($m: ID!) { member(id: $m) { referrerId } }",
            json!({ "m": referred }),
        )
        .await;
    assert_eq!(shown.ok()["member"]["referrerId"], referrer.as_str());
    let feed: serde_json::Value = app
        .get("/events?after=0&limit=1000")
        .bearer_auth(app.operator_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let registered = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "MemberRegistered" && e["payload"]["memberId"] == referred.as_str())
        .unwrap();
    assert_eq!(registered["payload"]["referrerId"], referrer.as_str());
}
