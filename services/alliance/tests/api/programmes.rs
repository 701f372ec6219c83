//! Brands, programmes and partner keys.

use kit::testing::spawn;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn operators_onboard_brands_with_exact_rules() {
    let app = spawn(&alliance::SPEC).await;
    let mut p = programme_input(7, Some(12), "WITHIN_BALANCE");
    p["cashValueFen"] = json!("0.50");
    p["pointsPerYuan"] = json!("1.5");
    let r = op(
        &app,
        ONBOARD,
        json!({ "b": "coffee", "n": "Morning Bean", "p": p }),
    )
    .await;
    let programme = &r["onboardBrand"]["programme"];
    assert_eq!(programme["id"], "coffee-points");
    assert_eq!(programme["cashValueFen"], "0.5", "kept as an exact decimal");
    assert_eq!(programme["pointsPerYuan"], "1.5");
    assert_eq!(programme["expiryMonths"], 12);

    // The brand is an entity owned here; an unknown brand is not in the alliance.
    let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Brand { id inAlliance name programme { pointsName returnPolicy } } } }";
    let r = app
        .graphql(
            None,
            q,
            json!({ "r": [{ "__typename": "Brand", "id": "coffee" }, { "__typename": "Brand", "id": "nope" }] }),
        )
        .await;
    let brands = &r.ok()["_entities"];
    assert_eq!(brands[0]["name"], "Morning Bean");
    assert_eq!(brands[0]["programme"]["returnPolicy"], "WITHIN_BALANCE");
    assert_eq!(brands[1]["inAlliance"], false);
    assert!(brands[1]["programme"].is_null());

    let again = app
        .graphql(
            Some(&app.operator_token()),
            ONBOARD,
            json!({ "b": "coffee", "n": "Again", "p": programme_input(0, None, "ONLY_PENDING") }),
        )
        .await;
    assert_eq!(again.error_code(), Some("CONFLICT"));

    for (field, value, code_field) in [
        ("timeZone", json!("Mars/Base"), "timeZone"),
        ("cashValueFen", json!("0"), "cashValueFen"),
        ("cashValueFen", json!("1e3"), "cashValueFen"),
        ("pointsPerYuan", json!("-1"), "pointsPerYuan"),
        ("pendingDays", json!(400), "pendingDays"),
        ("expiryMonths", json!(0), "expiryMonths"),
        ("pointsName", json!("  "), "pointsName"),
    ] {
        let mut p = programme_input(0, None, "ONLY_PENDING");
        p[field] = value;
        let r = app
            .graphql(
                Some(&app.operator_token()),
                ONBOARD,
                json!({ "b": "cinema", "n": "Silver Screen", "p": p }),
            )
            .await;
        assert_eq!(r.error_code(), Some("BAD_USER_INPUT"), "{field}");
        assert_eq!(r.error_field(), Some(code_field));
    }
    let listed = app.graphql(None, "{ programmes { id } }", json!({})).await;
    assert_eq!(
        listed.ok()["programmes"].as_array().unwrap().len(),
        1,
        "nothing half-written"
    );

    let as_partner = app
        .graphql(
            Some(&partner(&app, "cinema")),
            ONBOARD,
            json!({ "b": "cinema", "n": "Silver Screen", "p": programme_input(0, None, "ONLY_PENDING") }),
        )
        .await;
    assert_eq!(as_partner.error_code(), Some("FORBIDDEN"));
}

#[tokio::test]
async fn a_partner_key_is_shown_once_stored_hashed_and_revocable() {
    let app = spawn(&alliance::SPEC).await;
    let coffee = onboard(&app, "coffee", programme_input(0, None, "ONLY_PENDING")).await;
    let apparel = onboard(&app, "apparel", programme_input(0, None, "ONLY_PENDING")).await;
    let issued = op(
        &app,
        "mutation { issuePartnerKey(brandId: \"coffee\", label: \"POS integration\", scopes: [EARN]) { apiKey key { id prefix lastUsedAt } } }",
        json!({}),
    )
    .await;
    let api_key = issued["issuePartnerKey"]["apiKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_id = issued["issuePartnerKey"]["key"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(api_key.starts_with(issued["issuePartnerKey"]["key"]["prefix"].as_str().unwrap()));
    let stored = alliance::store::entities::partner_key::Entity::find_by_id(key_id.clone())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.key_hash, api_key, "only the hash is stored");
    assert!(!stored.key_hash.contains(&api_key[4..]));

    let token_for = "mutation($k: String!) { partnerToken(apiKey: $k) { token brand { id } } }";
    let t = app.graphql(None, token_for, json!({ "k": api_key })).await;
    assert_eq!(t.ok()["partnerToken"]["brand"]["id"], "coffee");
    let token = t.ok()["partnerToken"]["token"].as_str().unwrap().to_owned();

    // The key acts for its own brand's programme only.
    let own = app
        .graphql(
            Some(&token),
            EARN,
            tx("m1", &coffee, 10, "t1", "key-00000001"),
        )
        .await;
    assert_eq!(own.ok()["earnPoints"]["account"]["activeBalance"], 10);
    let other = app
        .graphql(
            Some(&token),
            EARN,
            tx("m1", &apparel, 10, "t2", "key-00000002"),
        )
        .await;
    assert_eq!(other.error_code(), Some("FORBIDDEN"));

    let keys = op(
        &app,
        "{ partnerKeys(brandId: \"coffee\") { id label lastUsedAt revokedAt } }",
        json!({}),
    )
    .await;
    assert!(
        keys["partnerKeys"][0]["lastUsedAt"].is_string(),
        "records its use"
    );
    assert!(!keys.to_string().contains(&api_key), "never shown again");

    op(
        &app,
        "mutation($k: ID!) { revokePartnerKey(keyId: $k) { revokedAt } }",
        json!({ "k": key_id }),
    )
    .await;
    let after = app
        .graphql(
            Some(&token),
            EARN,
            tx("m1", &coffee, 10, "t3", "key-00000003"),
        )
        .await;
    assert_eq!(
        after.error_code(),
        Some("UNAUTHENTICATED"),
        "its tokens stop at once"
    );
    let again = app.graphql(None, token_for, json!({ "k": api_key })).await;
    assert_eq!(again.error_code(), Some("UNAUTHENTICATED"));
    let wrong = app
        .graphql(None, token_for, json!({ "k": "bmk_nope" }))
        .await;
    assert_eq!(wrong.error_code(), Some("UNAUTHENTICATED"));
    // An unknown id of any length is not found, and not echoed whole.
    let long = "k".repeat(100_000);
    let unknown = app
        .graphql(
            Some(&app.operator_token()),
            "mutation($k: ID!) { revokePartnerKey(keyId: $k) { revokedAt } }",
            json!({ "k": long }),
        )
        .await;
    assert_eq!(unknown.error_code(), Some("NOT_FOUND"));
    let message = unknown.errors()[0]["message"].as_str().unwrap();
    assert!(
        message.chars().count() <= kit::error::MAX_MESSAGE_CHARS + 1,
        "{}",
        message.len()
    );
}

/// Keys revoked before every service kept a list of revoked keys join the
/// alliance's list when it migrates, and each is published on its feed, so
/// their tokens are refused here and, once read, at every other service.
/// Keys issued before scopes existed keep every scope and no expiry.
#[tokio::test]
async fn keys_revoked_before_the_list_existed_join_it_on_migration() {
    use sea_orm_migration::MigratorTrait;

    let database = kit::testing::TestDatabase::new().await;
    let db = database.connect("alliance").await;
    let before_the_list = alliance::migration::Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261206_000700_revoked_keys_listed")
        .expect("the migration that lists revoked keys") as u32;
    alliance::migration::Migrator::up(&db, Some(before_the_list))
        .await
        .unwrap();
    // Rows as that schema held them (the entities are today's).
    kit::testing::insert_row(
        &db,
        "brands",
        &["id", "name", "created_at", "updated_at"],
        vec![
            "coffee".into(),
            "Morning Bean".into(),
            0i64.into(),
            0i64.into(),
        ],
    )
    .await;
    for (id, revoked_at) in [("k-live", None), ("k-revoked", Some(1_000_000i64))] {
        kit::testing::insert_row(
            &db,
            "partner_keys",
            &[
                "id",
                "brand_id",
                "label",
                "key_hash",
                "key_prefix",
                "created_at",
                "last_used_at",
                "revoked_at",
            ],
            vec![
                id.into(),
                "coffee".into(),
                "till".into(),
                format!("hash-{id}").into(),
                "bmk_0000".into(),
                0i64.into(),
                Option::<i64>::None.into(),
                revoked_at.into(),
            ],
        )
        .await;
    }
    alliance::migration::Migrator::up(&db, None).await.unwrap();
    let listed = kit::revocation::entity::Entity::find()
        .all(&db)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (
            listed[0].key_id.as_str(),
            listed[0].brand_id.as_str(),
            listed[0].revoked_at
        ),
        ("k-revoked", "coffee", 1_000_000)
    );
    // Numbered as the feed numbers events, when it is next read.
    kit::events::outbox::sequence(&db).await.unwrap();
    let events = kit::events::outbox::read(&db, 0, 100).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, "PartnerKeyRevoked");
    assert_eq!(events[0].payload["keyId"], "k-revoked");

    let live = alliance::store::entities::partner_key::Entity::find_by_id("k-live".to_owned())
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        alliance::store::programmes::scopes_of(&live).unwrap(),
        kit::auth::Scopes::all(),
        "an older key keeps everything it could do"
    );
    assert_eq!((live.expires_at, live.replaced_by), (None, None));
}

/// Orders cancelled before campaigns existed are marked cancelled when the
/// alliance migrates (their cancellation was an applied refund
/// `cancel:<order id>`), so a first-purchase bonus looks past them; a
/// refunded order stays a purchase.
#[tokio::test]
async fn orders_cancelled_before_campaigns_are_marked_on_migration() {
    use sea_orm_migration::MigratorTrait;

    let database = kit::testing::TestDatabase::new().await;
    let db = database.connect("alliance").await;
    let before = alliance::migration::Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261210_001200_campaigns_rewards")
        .expect("the campaigns migration") as u32;
    alliance::migration::Migrator::up(&db, Some(before))
        .await
        .unwrap();
    for order in ["o-cancelled", "o-refunded", "o-kept"] {
        kit::testing::insert_row(
            &db,
            "order_earns",
            &[
                "order_id",
                "programme_id",
                "member_id",
                "paid_fen",
                "points",
                "refunded_fen",
                "reversed_points",
                "entry_id",
                "lot_id",
                "placed_at",
            ],
            vec![
                order.into(),
                "coffee-points".into(),
                "m1".into(),
                1_000i64.into(),
                20i64.into(),
                0i64.into(),
                0i64.into(),
                Option::<String>::None.into(),
                Option::<String>::None.into(),
                0i64.into(),
            ],
        )
        .await;
    }
    for (refund, order) in [("cancel:o-cancelled", "o-cancelled"), ("r-1", "o-refunded")] {
        kit::testing::insert_row(
            &db,
            "applied_refunds",
            &["refund_id", "order_id", "applied_at"],
            vec![refund.into(), order.into(), 0i64.into()],
        )
        .await;
    }
    alliance::migration::Migrator::up(&db, None).await.unwrap();
    let mut flags: Vec<(String, bool)> = alliance::store::entities::order_earn::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.order_id, e.cancelled))
        .collect();
    flags.sort();
    assert_eq!(
        flags,
        vec![
            ("o-cancelled".to_owned(), true),
            ("o-kept".to_owned(), false),
            ("o-refunded".to_owned(), false),
        ]
    );
}
