use serde_json::{Value, json};

use crate::support::*;

fn ids(response: &Value) -> Vec<String> {
    response["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tags_are_added_removed_and_queried() {
    let app = spawn().await;
    let staff = staff_token(&app, "apparel");
    let a = register_member(&app, "app-a", None, "apparel").await;
    let b = register_member(&app, "app-b", None, "apparel").await;
    let add = "mutation($id: ID!, $t: [String!]!) { addTags(memberId: $id, tags: $t) { tags } }";
    let remove =
        "mutation($id: ID!, $t: [String!]!) { removeTags(memberId: $id, tags: $t) { tags } }";
    let r = app
        .graphql(
            Some(&staff),
            add,
            json!({ "id": a, "t": ["咖啡爱好者", "lifecycle:new", "lifecycle:new"] }),
        )
        .await;
    assert_eq!(
        r.ok()["addTags"]["tags"],
        json!(["lifecycle:new", "咖啡爱好者"])
    );
    // Adding again is harmless.
    let r = app
        .graphql(
            Some(&staff),
            add,
            json!({ "id": a, "t": ["lifecycle:new"] }),
        )
        .await;
    assert_eq!(r.ok()["addTags"]["tags"].as_array().unwrap().len(), 2);
    app.graphql(
        Some(&staff),
        add,
        json!({ "id": b, "t": ["lifecycle:new"] }),
    )
    .await
    .ok();

    let op = operator(&app);
    let tagged = app
        .graphql(
            Some(&op),
            "{ members(filter: { tag: \"lifecycle:new\" }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(tagged.ok()), [b.clone(), a.clone()]);
    let r = app
        .graphql(
            Some(&staff),
            remove,
            json!({ "id": a, "t": ["lifecycle:new"] }),
        )
        .await;
    assert_eq!(r.ok()["removeTags"]["tags"], json!(["咖啡爱好者"]));
    let tagged = app
        .graphql(
            Some(&op),
            "{ members(filter: { tag: \"lifecycle:new\" }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(tagged.ok()), [b]);
}

#[tokio::test]
async fn tiers_follow_growth_upwards_and_every_change_is_recorded() {
    let app = spawn().await;
    let op = operator(&app);
    let id = register_member(&app, "app-1", None, "apparel").await;
    let grow = "mutation($id: ID!, $d: Int!) { adjustGrowthValue(memberId: $id, delta: $d, reason: \"orders\") { tier growthValue } }";
    let r = app
        .graphql(Some(&op), grow, json!({ "id": id, "d": 999 }))
        .await;
    assert_eq!(
        r.ok()["adjustGrowthValue"],
        json!({ "tier": "BASIC", "growthValue": 999 })
    );
    let r = app
        .graphql(Some(&op), grow, json!({ "id": id, "d": 1 }))
        .await;
    assert_eq!(
        r.ok()["adjustGrowthValue"],
        json!({ "tier": "SILVER", "growthValue": 1000 })
    );
    // Falling growth does not demote.
    let r = app
        .graphql(Some(&op), grow, json!({ "id": id, "d": -900 }))
        .await;
    assert_eq!(
        r.ok()["adjustGrowthValue"],
        json!({ "tier": "SILVER", "growthValue": 100 })
    );
    // An operator decides, with a reason.
    let set = app
        .graphql(Some(&op), "mutation($id: ID!) { setMemberTier(memberId: $id, tier: \"BASIC\", reason: \"fraud review\") { tier } }", json!({ "id": id }))
        .await;
    assert_eq!(set.ok()["setMemberTier"]["tier"], "BASIC");

    let history = app
        .graphql(
            Some(&op),
            "query($id: ID!) { member(id: $id) { tierHistory { fromTier toTier cause reason } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        history.ok()["member"]["tierHistory"],
        json!([
            { "fromTier": "SILVER", "toTier": "BASIC", "cause": "OPERATOR", "reason": "fraud review" },
            { "fromTier": "BASIC", "toTier": "SILVER", "cause": "GROWTH", "reason": "orders" },
        ])
    );
    let by_tier = app
        .graphql(
            Some(&op),
            "{ members(filter: { tier: \"BASIC\" }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(by_tier.ok()), [id]);
}

#[tokio::test]
async fn tier_levels_are_data() {
    let app = spawn().await;
    let op = operator(&app);
    let r = app
        .graphql(Some(&op), "mutation { upsertTierLevel(input: { code: \"DIAMOND\", name: \"Diamond\", threshold: 50000 }) { code threshold } }", json!({}))
        .await;
    let codes: Vec<&str> = r.ok()["upsertTierLevel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["BASIC", "SILVER", "GOLD", "PLATINUM", "DIAMOND"]);
    let clash = app
        .graphql(Some(&op), "mutation { upsertTierLevel(input: { code: \"RUBY\", name: \"Ruby\", threshold: 50000 }) { code } }", json!({}))
        .await;
    assert_eq!(clash.error_code(), Some("CONFLICT"));
    let id = register_member(&app, "app-1", None, "apparel").await;
    let r = app
        .graphql(Some(&op), "mutation($id: ID!) { adjustGrowthValue(memberId: $id, delta: 60000, reason: \"x\") { tier } }", json!({ "id": id }))
        .await;
    assert_eq!(r.ok()["adjustGrowthValue"]["tier"], "DIAMOND");
    let levels = app
        .graphql(
            Some(&member_token(&app, &id)),
            "{ tierLevels { code } }",
            json!({}),
        )
        .await;
    assert_eq!(levels.ok()["tierLevels"].as_array().unwrap().len(), 5);
}

const TOUCH: &str = r#"mutation T($input: TouchpointInput!) { recordTouchpoint(input: $input) { id kind occurredAt attributes } }"#;

#[tokio::test]
async fn touchpoints_build_a_paginated_timeline_and_retries_are_safe() {
    let app = spawn().await;
    let id = register_member(&app, "app-1", None, "apparel").await;
    let token = member_token(&app, &id);
    for day in 1..=5 {
        let input = json!({
            "memberId": id, "kind": if day % 2 == 0 { "COUPON_USED" } else { "STORE_VISIT" }, "channel": "STORE_POS",
            "storeId": "store-9", "occurredAt": format!("2026-01-0{day}T10:00:00Z"), "attributes": { "day": day },
        });
        app.graphql(Some(&token), TOUCH, json!({ "input": input }))
            .await
            .ok();
    }
    let page = "query($id: ID!, $after: String) { member(id: $id) { timeline(first: 2, after: $after, kinds: [STORE_VISIT, COUPON_USED]) { edges { cursor node { occurredAt } } pageInfo { hasNextPage endCursor } } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let r = app
            .graphql(Some(&token), page, json!({ "id": id, "after": after }))
            .await;
        let timeline = &r.ok()["member"]["timeline"];
        for edge in timeline["edges"].as_array().unwrap() {
            seen.push(edge["node"]["occurredAt"].as_str().unwrap()[..10].to_owned());
        }
        if !timeline["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = timeline["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        seen,
        [
            "2026-01-05",
            "2026-01-04",
            "2026-01-03",
            "2026-01-02",
            "2026-01-01"
        ]
    );

    let keyed = json!({ "memberId": id, "kind": "COUPON_CLAIMED", "channel": "APP", "occurredAt": "2026-02-01T09:00:00Z",
                        "attributes": { "coupon": "C-1" }, "idempotencyKey": "claim-0001-abcd" });
    let first = app
        .graphql(Some(&token), TOUCH, json!({ "input": keyed }))
        .await;
    let retry = app
        .graphql(Some(&token), TOUCH, json!({ "input": keyed }))
        .await;
    assert_eq!(
        first.ok()["recordTouchpoint"]["id"],
        retry.ok()["recordTouchpoint"]["id"]
    );
    let mut different = keyed.clone();
    different["attributes"] = json!({ "coupon": "C-2" });
    let clash = app
        .graphql(Some(&token), TOUCH, json!({ "input": different }))
        .await;
    assert_eq!(clash.error_code(), Some("CONFLICT"));
    let claims = app
        .graphql(Some(&token), "query($id: ID!) { member(id: $id) { timeline(kinds: [COUPON_CLAIMED]) { edges { cursor } } } }", json!({ "id": id }))
        .await;
    assert_eq!(
        claims.ok()["member"]["timeline"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    for (input, field) in [
        (
            json!({ "memberId": id, "kind": "STORE_VISIT", "channel": "APP", "occurredAt": "2999-01-01T00:00:00Z" }),
            "occurredAt",
        ),
        (
            json!({ "memberId": id, "kind": "STORE_VISIT", "channel": "APP", "occurredAt": "2026-01-01T00:00:00Z", "attributes": [1] }),
            "attributes",
        ),
        (
            json!({ "memberId": id, "kind": "STORE_VISIT", "channel": "APP", "occurredAt": "2026-01-01T00:00:00Z", "idempotencyKey": "x" }),
            "idempotencyKey",
        ),
        (
            json!({ "memberId": id, "kind": "STORE_VISIT", "channel": "APP", "occurredAt": "2026-01-01T00:00:00Z", "storeId": "a b" }),
            "storeId",
        ),
    ] {
        let r = app
            .graphql(Some(&token), TOUCH, json!({ "input": input }))
            .await;
        assert_eq!(r.error_field(), Some(field), "{}", r.body);
    }
}

#[tokio::test]
async fn members_list_filters_and_pages() {
    let app = spawn().await;
    let op = operator(&app);
    let mut registered = Vec::new();
    for n in 0..5 {
        let channel = if n % 2 == 0 { "APP" } else { "ECOMMERCE" };
        let r = register(
            &app,
            None,
            json!({ "identity": { "channel": channel, "externalId": format!("x-{n}") } }),
        )
        .await;
        registered.push(
            r.ok()["registerMember"]["member"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let page = "query($after: String) { members(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let r = app
            .graphql(Some(&op), page, json!({ "after": after }))
            .await;
        seen.extend(ids(r.ok()));
        let info = &r.ok()["members"]["pageInfo"];
        if !info["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = info["endCursor"].clone();
    }
    let newest_first: Vec<String> = registered.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let ecommerce = app
        .graphql(
            Some(&op),
            "{ members(filter: { registrationChannel: ECOMMERCE }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        ids(ecommerce.ok()),
        [registered[3].clone(), registered[1].clone()]
    );
    let future = app
        .graphql(Some(&op), "{ members(filter: { registeredFrom: \"2999-01-01T00:00:00Z\" }) { edges { node { id } } } }", json!({}))
        .await;
    assert!(ids(future.ok()).is_empty());
    let past = app
        .graphql(Some(&op), "{ members(filter: { registeredFrom: \"2020-01-01T00:00:00Z\", registeredTo: \"2999-01-01T00:00:00Z\" }) { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(ids(past.ok()).len(), 5);
}

#[tokio::test]
async fn consent_records_when_it_was_given_or_withdrawn() {
    let app = spawn().await;
    let id = register_member(&app, "app-1", None, "apparel").await;
    let token = member_token(&app, &id);
    let set = "mutation($id: ID!, $g: Boolean!) { setConsent(memberId: $id, purpose: MARKETING_WECHAT, granted: $g) { consents { purpose granted changedAt } } }";
    let before = member(&app, &token, &id).await;
    assert_eq!(
        before.ok()["member"]["consents"][1],
        json!({ "purpose": "MARKETING_WECHAT", "granted": false, "changedAt": null })
    );
    let given = app
        .graphql(Some(&token), set, json!({ "id": id, "g": true }))
        .await;
    let given_at = given.ok()["setConsent"]["consents"][1]["changedAt"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(given.ok()["setConsent"]["consents"][1]["granted"], true);
    let repeat = app
        .graphql(Some(&token), set, json!({ "id": id, "g": true }))
        .await;
    assert_eq!(
        repeat.ok()["setConsent"]["consents"][1]["changedAt"],
        given_at.as_str(),
        "repeating keeps the time"
    );
    let withdrawn = app
        .graphql(Some(&token), set, json!({ "id": id, "g": false }))
        .await;
    assert_eq!(
        withdrawn.ok()["setConsent"]["consents"][1]["granted"],
        false
    );
    assert_ne!(
        withdrawn.ok()["setConsent"]["consents"][1]["changedAt"],
        given_at.as_str()
    );
}
