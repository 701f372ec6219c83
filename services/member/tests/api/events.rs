//! The member service's event feed.

use serde_json::{Value, json};

use crate::support::*;

async fn feed(app: &kit::testing::TestApp, after: i64) -> Value {
    let response = app
        .get(&format!("/events?after={after}&limit=1000"))
        .bearer_auth(app.operator_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_feed_is_ordered_and_survives_a_restart_without_gaps_or_repeats() {
    let app = spawn().await;
    let a = register_member(&app, "app-a", None, "apparel").await;
    let b = register_member(&app, "app-b", None, "apparel").await;
    let op = operator(&app);
    app.graphql(Some(&op), "mutation($s: ID!, $m: ID!) { mergeMembers(survivorId: $s, mergedId: $m, reason: \"dup\") { id } }", json!({ "s": a, "m": b })).await.ok();

    let first = feed(&app, 0).await;
    let types: Vec<&str> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["MemberRegistered", "MemberRegistered", "MemberMerged"]
    );
    assert_eq!(
        first["events"][2]["payload"],
        json!({ "survivorId": a, "mergedId": b, "mergedAt": first["events"][2]["payload"]["mergedAt"] })
    );
    let last_seq = first["events"][2]["seq"].as_i64().unwrap();
    assert_eq!(first["head"], last_seq);

    let app = app.restart().await;
    let c = register_member(&app, "app-c", None, "coffee").await;
    app.graphql(
        Some(&operator(&app)),
        "mutation($id: ID!) { eraseMember(memberId: $id) { id } }",
        json!({ "id": c }),
    )
    .await
    .ok();
    let next = feed(&app, last_seq).await;
    let seqs: Vec<i64> = next["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        [last_seq + 1, last_seq + 2],
        "continues without a gap"
    );
    assert_eq!(next["events"][0]["payload"]["memberId"], c.as_str());
    assert_eq!(next["events"][1]["type"], "MemberErased");

    let all = feed(&app, 0).await;
    let all_seqs: Vec<i64> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        all_seqs,
        (1..=last_seq + 2).collect::<Vec<_>>(),
        "nothing missing or repeated"
    );
    let unique_ids: std::collections::HashSet<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(unique_ids.len(), all_seqs.len());
}

#[tokio::test]
async fn every_member_event_type_is_published_without_personal_data() {
    let app = spawn().await;
    let r = register(&app, None, json!({ "identity": { "channel": "APP", "externalId": "app-ev" }, "phone": "13800000007", "guideCode": "GUIDE-42x" })).await;
    let id = r.ok()["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let op = operator(&app);
    app.graphql(Some(&op), "mutation($id: ID!) { linkIdentity(memberId: $id, identity: { channel: ECOMMERCE, externalId: \"shop-secret-1\" }) { outcome } }", json!({ "id": id })).await.ok();
    app.graphql(Some(&op), "mutation($id: ID!) { setMemberTier(memberId: $id, tier: \"GOLD\", reason: \"vip\") { id } }", json!({ "id": id })).await.ok();
    let other = register_member(&app, "app-ev2", None, "apparel").await;
    app.graphql(Some(&op), "mutation($s: ID!, $m: ID!) { mergeMembers(survivorId: $s, mergedId: $m, reason: \"dup\") { id } }", json!({ "s": id, "m": other })).await.ok();
    app.graphql(
        Some(&op),
        "mutation($id: ID!) { eraseMember(memberId: $id) { id } }",
        json!({ "id": id }),
    )
    .await
    .ok();

    let page = feed(&app, 0).await;
    let events = page["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "MemberRegistered",
            "IdentityLinked",
            "TierChanged",
            "MemberRegistered",
            "MemberMerged",
            "MemberErased"
        ]
    );
    assert_eq!(events[0]["payload"]["guideCode"], "GUIDE-42x");
    assert_eq!(events[0]["payload"]["channel"], "APP");
    assert_eq!(
        events[2]["payload"],
        json!({ "memberId": id, "fromTier": "BASIC", "toTier": "GOLD", "cause": "OPERATOR" })
    );
    let text = page.to_string();
    for secret in ["+8613800000007", "shop-secret-1", "app-ev"] {
        assert!(
            !text.contains(&format!("\"{secret}\"")),
            "{secret} leaked into the feed"
        );
    }
}

#[tokio::test]
async fn the_feed_is_for_services_and_operators_and_checks_its_parameters() {
    let app = spawn().await;
    let anonymous = app.get("/events").send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let id = register_member(&app, "app-1", None, "apparel").await;
    let member = app
        .get("/events")
        .bearer_auth(member_token(&app, &id))
        .send()
        .await
        .unwrap();
    assert_eq!(member.status(), 403);
    let body: Value = member.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    for other in [
        kit::auth::TokenRequest::partner("k1", "coffee"),
        kit::auth::TokenRequest::staff("g1", "s1", "apparel"),
    ] {
        let refused = app
            .get("/events")
            .bearer_auth(app.token(other.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{other:?}");
    }
    // A service reads with its own credential...
    let service = app.keys().service_token("store").unwrap();
    let read = app
        .get("/events?limit=1")
        .bearer_auth(&service)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    // ...which is not an operator's.
    let r = app
        .graphql(
            Some(&service),
            "{ members(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.error_code(), Some("FORBIDDEN"), "{}", r.body);
    for query in ["after=-1", "after=x", "limit=0", "limit=5000"] {
        let r = app
            .get(&format!("/events?{query}"))
            .bearer_auth(app.operator_token())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    let limited = app
        .get("/events?limit=1")
        .bearer_auth(app.operator_token())
        .send()
        .await
        .unwrap();
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["events"].as_array().unwrap().len(), 1);
}
