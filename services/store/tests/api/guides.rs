use kit::auth::TokenRequest;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn guides_get_unguessable_codes_that_can_be_rotated() {
    let app = spawn().await;
    let store = create_store(&app, store_input("S", 31.2, 121.4)).await;
    let (guide, code) = create_guide(&app, &store, "Xiao Wang").await;
    let (_, other_code) = create_guide(&app, &store, "Xiao Li").await;
    assert_ne!(code, other_code);
    assert!(
        !code.contains(&guide),
        "the code is not derived from the id"
    );

    let by_code = "query($c: String!) { guideByCode(code: $c) { id name store { id } } }";
    let found = app.graphql(None, by_code, json!({ "c": code })).await;
    assert_eq!(found.ok()["guideByCode"]["id"], guide.as_str());

    let guide_token = app.token(TokenRequest::staff(&guide, &store, "apparel"));
    let rotated = app
        .graphql(
            Some(&guide_token),
            "mutation($g: ID!) { rotateGuideCode(guideId: $g) { code } }",
            json!({ "g": guide }),
        )
        .await;
    let new_code = rotated.ok()["rotateGuideCode"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_code, code);
    assert_eq!(
        app.graphql(None, by_code, json!({ "c": code }))
            .await
            .error_code(),
        Some("NOT_FOUND"),
        "the old code fails"
    );
    assert_eq!(
        app.graphql(None, by_code, json!({ "c": new_code }))
            .await
            .ok()["guideByCode"]["id"],
        guide.as_str()
    );
}

#[tokio::test]
async fn who_may_see_and_manage_guides() {
    let app = spawn().await;
    let store = create_store(&app, store_input("S", 31.2, 121.4)).await;
    let other_store = create_store(&app, store_input("T", 31.3, 121.5)).await;
    let (guide, _) = create_guide(&app, &store, "Xiao Wang").await;
    let code_query = "query($g: ID!) { guide(id: $g) { name code } }";
    for token in [
        app.token(TokenRequest::staff(&guide, &store, "apparel")),
        app.token(TokenRequest::staff("g-other", &store, "apparel")),
        app.operator_token(),
    ] {
        assert!(
            app.graphql(Some(&token), code_query, json!({ "g": guide }))
                .await
                .ok()["guide"]["code"]
                .is_string()
        );
    }
    for token in [
        app.token(TokenRequest::staff("g-x", &other_store, "apparel")),
        member_token(&app, "m1"),
    ] {
        let r = app
            .graphql(Some(&token), code_query, json!({ "g": guide }))
            .await;
        assert_eq!(r.error_code(), Some("FORBIDDEN"));
        assert!(r.data()["guide"].is_null() || r.data()["guide"]["code"].is_null());
    }
    let public = app
        .graphql(
            None,
            "query($g: ID!) { guide(id: $g) { name status } }",
            json!({ "g": guide }),
        )
        .await;
    assert_eq!(
        public.ok()["guide"],
        json!({ "name": "Xiao Wang", "status": "ACTIVE" })
    );

    let staff_elsewhere = app.token(TokenRequest::staff("g-x", &other_store, "apparel"));
    let denied = app
        .graphql(
            Some(&staff_elsewhere),
            CREATE_GUIDE,
            json!({ "s": store, "n": "Intruder" }),
        )
        .await;
    assert_eq!(denied.error_code(), Some("FORBIDDEN"));
    let own_staff = app.token(TokenRequest::staff("g-y", &store, "apparel"));
    assert!(
        app.graphql(
            Some(&own_staff),
            CREATE_GUIDE,
            json!({ "s": store, "n": "Xiao Zhao" })
        )
        .await
        .errors()
        .is_empty()
    );
    let listed = app
        .graphql(
            Some(&own_staff),
            "query($s: ID!) { store(id: $s) { guides { edges { node { name } } } } }",
            json!({ "s": store }),
        )
        .await;
    assert_eq!(
        listed.ok()["store"]["guides"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let empty_name = app
        .graphql(
            Some(&own_staff),
            CREATE_GUIDE,
            json!({ "s": store, "n": " " }),
        )
        .await;
    assert_eq!(empty_name.error_field(), Some("name"));
    let depart = "mutation($g: ID!) { departGuide(guideId: $g) { status } }";
    assert_eq!(
        app.graphql(Some(&staff_elsewhere), depart, json!({ "g": guide }))
            .await
            .error_code(),
        Some("FORBIDDEN")
    );
    assert_eq!(
        app.graphql(Some(&own_staff), depart, json!({ "g": guide }))
            .await
            .ok()["departGuide"]["status"],
        "DEPARTED"
    );
    assert_eq!(
        app.graphql(Some(&own_staff), depart, json!({ "g": guide }))
            .await
            .error_code(),
        Some("CONFLICT")
    );
}
