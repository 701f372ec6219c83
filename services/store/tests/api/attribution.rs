//! Whoever brings the member benefits: bindings from the member feed and
//! from scans, under each brand's rules.

use kit::auth::TokenRequest;
use kit::config::Secret;
use kit::events::consumer::FeedConsumer;
use kit::testing::{TestApp, TestDatabase, spawn_on};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use store::events::{MEMBER_FEED, MemberFeed};
use store::store::entities::attribution;

use crate::support::*;

/// The member and store services, signing with one secret, as in `up`.
async fn spawn_both() -> (TestApp, TestApp) {
    let secret = Secret::new(kit::auth::random_secret());
    let clock = kit::testing::clock();
    let member = spawn_on(
        &member::SPEC,
        TestDatabase::new().await,
        secret.clone(),
        clock.clone(),
    )
    .await;
    let store = spawn_on(
        &store::SPEC,
        TestDatabase::new().await,
        secret,
        clock.clone(),
    )
    .await;
    (member, store)
}

fn consumer(member: &TestApp, store: &TestApp, name: &str) -> FeedConsumer<MemberFeed> {
    FeedConsumer::new(
        name,
        &member.address,
        store.db().clone(),
        store.keys().clone(),
        store.clock().clone(),
        MemberFeed,
    )
}

async fn register(member: &TestApp, external_id: &str, guide_code: Option<&str>) -> String {
    let r = member
        .graphql(
            None,
            "mutation($i: RegisterMemberInput!) { registerMember(input: $i) { member { id } } }",
            json!({ "i": { "identity": { "channel": "APP", "externalId": external_id }, "guideCode": guide_code } }),
        )
        .await;
    r.ok()["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Moves a stored deadline into the past: the stand-in for days passing.
async fn expire(app: &TestApp, member_id: &str, column: attribution::Column) {
    attribution::Entity::update_many()
        .col_expr(column, (kit::time::to_micros(app.now()) - 1).into())
        .filter(attribution::Column::MemberId.eq(member_id))
        .exec(app.db())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_registration_through_a_guides_code_binds_the_member_once_even_on_replay() {
    let (member, store) = spawn_both().await;
    let shop = create_store(&store, store_input("S", 31.2, 121.4)).await;
    let (guide, code) = create_guide(&store, &shop, "Xiao Wang").await;
    let m = register(&member, "app-1", Some(&code)).await;
    register(&member, "app-2", Some("NoSuchCode123")).await;
    register(&member, "app-3", None).await;

    let feed = consumer(&member, &store, MEMBER_FEED);
    assert_eq!(feed.catch_up().await.unwrap(), 3);
    let a = attribution_of(&store, &m).await;
    assert_eq!(a["referredBy"]["id"], guide.as_str());
    assert_eq!(a["attribution"]["store"]["id"], shop.as_str());
    assert_eq!(a["attribution"]["cause"], "REGISTRATION");
    assert_eq!(
        a["attribution"]["expiresAt"],
        json!(null),
        "permanent by default"
    );

    // Re-reading: the position holds, nothing is applied again...
    assert_eq!(feed.catch_up().await.unwrap(), 0);
    // ...and a consumer that lost its position re-reads everything without
    // changing anything: the binding and its one history entry stay.
    let amnesiac = consumer(&member, &store, "store:member-feed-replay");
    assert_eq!(amnesiac.catch_up().await.unwrap(), 3);
    let again = attribution_of(&store, &m).await;
    assert_eq!(again["attributionHistory"].as_array().unwrap().len(), 1);
    assert_eq!(again["referredBy"]["id"], guide.as_str());
}

#[tokio::test]
async fn two_guides_scanning_one_member_at_once_one_wins() {
    let app = spawn().await;
    let shop = create_store(&app, store_input("S", 31.2, 121.4)).await;
    let mut codes = Vec::new();
    for n in 0..6 {
        codes.push(create_guide(&app, &shop, &format!("Guide {n}")).await.1);
    }
    let scans = codes.iter().map(|c| scan(&app, "member-race", c));
    let results = futures::future::join_all(scans).await;
    assert_eq!(
        results.iter().filter(|r| *r == "BOUND").count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| *r == "KEPT_BY_ANOTHER").count(),
        5
    );
    let a = attribution_of(&app, "member-race").await;
    assert_eq!(a["attributionHistory"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn first_touch_wins_by_default() {
    let app = spawn().await;
    let shop = create_store(&app, store_input("S", 31.2, 121.4)).await;
    let (g1, c1) = create_guide(&app, &shop, "One").await;
    let (_, c2) = create_guide(&app, &shop, "Two").await;
    assert_eq!(scan(&app, "m1", &c1).await, "BOUND");
    assert_eq!(scan(&app, "m1", &c1).await, "ALREADY_BOUND");
    assert_eq!(scan(&app, "m1", &c2).await, "KEPT_BY_ANOTHER");
    assert_eq!(
        attribution_of(&app, "m1").await["referredBy"]["id"],
        g1.as_str()
    );
    let bad = app
        .graphql(
            Some(&member_token(&app, "m1")),
            SCAN,
            json!({ "c": "unknown-code" }),
        )
        .await;
    assert_eq!(bad.error_code(), Some("NOT_FOUND"));
    let not_member = app
        .graphql(Some(&app.operator_token()), SCAN, json!({ "c": c1 }))
        .await;
    assert_eq!(not_member.error_code(), Some("FORBIDDEN"));
}

#[tokio::test]
async fn a_protection_period_then_another_guide_may_take_the_member() {
    let app = spawn().await;
    set_rules(&app, "apparel", json!(null), json!(7), "REBIND_TO_STORE").await;
    let shop = create_store(&app, store_input("S", 31.2, 121.4)).await;
    let (_, c1) = create_guide(&app, &shop, "One").await;
    let (g2, c2) = create_guide(&app, &shop, "Two").await;
    assert_eq!(scan(&app, "m1", &c1).await, "BOUND");
    assert!(attribution_of(&app, "m1").await["attribution"]["protectedUntil"].is_string());
    assert_eq!(scan(&app, "m1", &c2).await, "KEPT_BY_ANOTHER", "protected");
    expire(&app, "m1", attribution::Column::ProtectedUntil).await;
    assert_eq!(scan(&app, "m1", &c2).await, "BOUND", "protection over");
    assert_eq!(
        attribution_of(&app, "m1").await["referredBy"]["id"],
        g2.as_str()
    );
}

#[tokio::test]
async fn a_binding_for_n_days_ends_and_frees_the_member() {
    let app = spawn().await;
    set_rules(&app, "apparel", json!(30), json!(null), "RELEASE").await;
    let shop = create_store(&app, store_input("S", 31.2, 121.4)).await;
    let (_, c1) = create_guide(&app, &shop, "One").await;
    let (_, c2) = create_guide(&app, &shop, "Two").await;
    assert_eq!(scan(&app, "m1", &c1).await, "BOUND");
    assert_eq!(scan(&app, "m1", &c2).await, "KEPT_BY_ANOTHER");
    expire(&app, "m1", attribution::Column::ExpiresAt).await;
    assert_eq!(scan(&app, "m1", &c2).await, "BOUND");
}

#[tokio::test]
async fn when_a_guide_leaves_members_stay_with_the_store_or_are_released() {
    let app = spawn().await;
    let shop = create_store(&app, store_input("S", 31.2, 121.4)).await;
    let elsewhere = create_store(&app, store_input("T", 31.3, 121.5)).await;
    let (g1, c1) = create_guide(&app, &shop, "Leaving").await;
    let (g2, c2) = create_guide(&app, &shop, "Colleague").await;
    let (_, c3) = create_guide(&app, &elsewhere, "Rival").await;
    scan(&app, "kept", &c1).await;
    let depart = "mutation($g: ID!) { departGuide(guideId: $g) { status } }";
    app.graphql(Some(&app.operator_token()), depart, json!({ "g": g1 }))
        .await
        .ok();
    let kept = attribution_of(&app, "kept").await;
    assert_eq!(kept["referredBy"], json!(null));
    assert_eq!(
        kept["attribution"]["store"]["id"],
        shop.as_str(),
        "the store keeps the member"
    );
    assert_eq!(kept["attributionHistory"][0]["cause"], "GUIDE_DEPARTED");
    let dead = app
        .graphql(Some(&member_token(&app, "kept")), SCAN, json!({ "c": c1 }))
        .await;
    assert_eq!(
        dead.error_code(),
        Some("NOT_FOUND"),
        "the departed guide's code is dead"
    );
    assert_eq!(
        scan(&app, "kept", &c3).await,
        "KEPT_BY_ANOTHER",
        "another store cannot take it"
    );
    assert_eq!(
        scan(&app, "kept", &c2).await,
        "BOUND",
        "a colleague in the store can"
    );

    set_rules(&app, "apparel", json!(null), json!(null), "RELEASE").await;
    scan(&app, "released", &c2).await;
    app.graphql(Some(&app.operator_token()), depart, json!({ "g": g2 }))
        .await
        .ok();
    let released = attribution_of(&app, "released").await;
    assert_eq!(released["attribution"], json!(null));
    assert_eq!(
        scan(&app, "released", &c3).await,
        "BOUND",
        "free for anyone"
    );

    // Every change is published, as the binding now (for segments and
    // campaigns in the other services).
    let published = |member: &'static str| {
        let app = &app;
        async move {
            let feed: serde_json::Value = app
                .get("/events?after=0&limit=1000")
                .bearer_auth(app.operator_token())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            feed["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["type"] == "BindingChanged" && e["payload"]["memberId"] == member)
                .map(|e| {
                    let p = &e["payload"];
                    (
                        p["cause"].as_str().unwrap().to_owned(),
                        p["storeId"].as_str().map(str::to_owned),
                        p["guideId"].as_str().map(str::to_owned),
                        p["brandId"].as_str().map(str::to_owned),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let apparel = Some("apparel".to_owned());
    let (shop, elsewhere) = (Some(shop.clone()), Some(elsewhere.clone()));
    let g2 = Some(g2.clone());
    assert_eq!(
        published("kept").await,
        [
            (
                "SCAN".into(),
                shop.clone(),
                Some(g1.clone()),
                apparel.clone()
            ),
            ("GUIDE_DEPARTED".into(), shop.clone(), None, apparel.clone()),
            ("SCAN".into(), shop.clone(), g2.clone(), apparel.clone()),
            // Its second guide left too, under RELEASE.
            ("GUIDE_DEPARTED".into(), None, None, None),
        ]
    );
    let released_events = published("released").await;
    assert_eq!(
        released_events[..2],
        [
            ("SCAN".into(), shop.clone(), g2.clone(), apparel.clone()),
            ("GUIDE_DEPARTED".into(), None, None, None),
        ]
    );
    assert_eq!(released_events[2].0, "SCAN");
    assert_eq!(released_events[2].1, elsewhere);
}

#[tokio::test]
async fn merges_move_the_binding_and_operators_rebind_with_a_reason() {
    let (member, store) = spawn_both().await;
    let shop = create_store(&store, store_input("S", 31.2, 121.4)).await;
    let (g1, c1) = create_guide(&store, &shop, "One").await;
    let (g2, _) = create_guide(&store, &shop, "Two").await;
    let survivor = register(&member, "app-s", None).await;
    let merged = register(&member, "app-m", Some(&c1)).await;
    member
        .graphql(
            Some(&member.operator_token()),
            "mutation($s: ID!, $m: ID!) { mergeMembers(survivorId: $s, mergedId: $m, reason: \"same person\") { id } }",
            json!({ "s": survivor, "m": merged }),
        )
        .await
        .ok();
    consumer(&member, &store, MEMBER_FEED)
        .catch_up()
        .await
        .unwrap();
    assert_eq!(
        attribution_of(&store, &survivor).await["referredBy"]["id"],
        g1.as_str(),
        "taken from the merged member"
    );
    assert_eq!(
        attribution_of(&store, &merged).await["attribution"],
        json!(null)
    );

    let rebind = "mutation($m: ID!, $g: ID!) { rebindMember(memberId: $m, guideId: $g, reason: \"complaint resolved\") { guide { id } cause } }";
    let r = store
        .graphql(
            Some(&store.operator_token()),
            rebind,
            json!({ "m": survivor, "g": g2 }),
        )
        .await;
    assert_eq!(
        r.ok()["rebindMember"],
        json!({ "guide": { "id": g2 }, "cause": "OPERATOR" })
    );
    let denied = store
        .graphql(
            Some(&member_token(&store, &survivor)),
            rebind,
            json!({ "m": survivor, "g": g1 }),
        )
        .await;
    assert_eq!(denied.error_code(), Some("FORBIDDEN"));
    let history = attribution_of(&store, &survivor).await["attributionHistory"].clone();
    assert_eq!(history[0]["cause"], "OPERATOR");
    assert_eq!(history[0]["fromGuideId"], g1.as_str());
}

#[tokio::test]
async fn who_may_read_an_attribution_and_favourites() {
    let app = spawn().await;
    let shop = create_store(&app, store_input("S", 31.2, 121.4)).await;
    let elsewhere = create_store(&app, store_input("T", 31.3, 121.5)).await;
    let (_, code) = create_guide(&app, &shop, "One").await;
    scan(&app, "m1", &code).await;
    let query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { referredBy { id } } } }";
    let reps = json!({ "r": [{ "__typename": "Member", "id": "m1" }] });
    for token in [
        member_token(&app, "m1"),
        app.token(TokenRequest::staff("x", &shop, "apparel")),
        app.operator_token(),
    ] {
        assert!(
            app.graphql(Some(&token), query, reps.clone())
                .await
                .errors()
                .is_empty()
        );
    }
    for token in [
        member_token(&app, "m2"),
        app.token(TokenRequest::staff("x", &elsewhere, "apparel")),
        app.token(TokenRequest::partner("k", "apparel")),
    ] {
        assert_eq!(
            app.graphql(Some(&token), query, reps.clone())
                .await
                .error_code(),
            Some("FORBIDDEN")
        );
    }

    let me = member_token(&app, "m1");
    let add = "mutation($s: ID!) { addFavoriteStore(storeId: $s) { favoriteStores { id } } }";
    app.graphql(Some(&me), add, json!({ "s": shop })).await.ok();
    let both = app.graphql(Some(&me), add, json!({ "s": elsewhere })).await;
    assert_eq!(
        both.ok()["addFavoriteStore"]["favoriteStores"],
        json!([{ "id": shop }, { "id": elsewhere }])
    );
    let again = app.graphql(Some(&me), add, json!({ "s": shop })).await;
    assert_eq!(
        again.ok()["addFavoriteStore"]["favoriteStores"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "adding twice keeps one"
    );
    let removed = app
        .graphql(
            Some(&me),
            "mutation($s: ID!) { removeFavoriteStore(storeId: $s) { favoriteStores { id } } }",
            json!({ "s": shop }),
        )
        .await;
    assert_eq!(
        removed.ok()["removeFavoriteStore"]["favoriteStores"],
        json!([{ "id": elsewhere }])
    );
    assert_eq!(
        app.graphql(Some(&me), add, json!({ "s": "nope" }))
            .await
            .error_code(),
        Some("NOT_FOUND")
    );
    let others = app.graphql(Some(&member_token(&app, "m2")), "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { favoriteStores { id } } } }", reps).await;
    assert_eq!(others.error_code(), Some("FORBIDDEN"));
}

async fn set_rules(
    app: &TestApp,
    brand: &str,
    binding: serde_json::Value,
    protection: serde_json::Value,
    departure: &str,
) {
    let r = app
        .graphql(
            Some(&app.operator_token()),
            "mutation($b: ID!, $d: Int, $p: Int, $o: DepartureRule!) { setAttributionRules(brandId: $b, bindingDays: $d, protectionDays: $p, onGuideDeparture: $o) { brandId } }",
            json!({ "b": brand, "d": binding, "p": protection, "o": departure }),
        )
        .await;
    r.ok();
}
