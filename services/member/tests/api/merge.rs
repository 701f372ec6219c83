use serde_json::json;

use crate::support::*;

const MERGE: &str = r#"mutation M($s: ID!, $m: ID!) {
  mergeMembers(survivorId: $s, mergedId: $m, reason: "same phone at the till") {
    id tier phone name tags identities { channel externalId } growthValue
  }
}"#;

#[tokio::test]
async fn merging_moves_everything_and_the_old_id_resolves_to_the_survivor() {
    let app = spawn().await;
    let op = operator(&app);
    let survivor = register_member(&app, "app-s", None, "apparel").await;
    let merged = register_member(&app, "app-m", Some("13800000005"), "apparel").await;
    app.graphql(
        Some(&op),
        "mutation($id: ID!) { addTags(memberId: $id, tags: [\"coffee-lover\"]) { id } }",
        json!({ "id": merged }),
    )
    .await
    .ok();
    app.graphql(
        Some(&op),
        "mutation($id: ID!) { addTags(memberId: $id, tags: [\"vip\"]) { id } }",
        json!({ "id": survivor }),
    )
    .await
    .ok();
    app.graphql(Some(&op), "mutation($id: ID!) { setMemberTier(memberId: $id, tier: \"GOLD\", reason: \"vip\") { id } }", json!({ "id": merged })).await.ok();
    app.graphql(
        Some(&op),
        "mutation($id: ID!) { adjustGrowthValue(memberId: $id, delta: 300, reason: \"x\") { id } }",
        json!({ "id": merged }),
    )
    .await
    .ok();
    app.graphql(
        Some(&op),
        "mutation($id: ID!) { adjustGrowthValue(memberId: $id, delta: 200, reason: \"x\") { id } }",
        json!({ "id": survivor }),
    )
    .await
    .ok();
    app.graphql(
        Some(&op),
        "mutation($id: ID!) { recordTouchpoint(input: { memberId: $id, kind: COUPON_CLAIMED, channel: APP, occurredAt: \"2026-03-01T08:00:00Z\" }) { id } }",
        json!({ "id": merged }),
    )
    .await
    .ok();

    let result = app
        .graphql(Some(&op), MERGE, json!({ "s": survivor, "m": merged }))
        .await;
    let m = &result.ok()["mergeMembers"];
    assert_eq!(m["id"], survivor.as_str());
    assert_eq!(m["tier"], "GOLD", "the higher tier is kept");
    assert_eq!(m["phone"], "+8613800000005", "the survivor's gap is filled");
    assert_eq!(m["growthValue"], 500);
    assert_eq!(m["tags"], json!(["coffee-lover", "vip"]));
    assert_eq!(m["identities"].as_array().unwrap().len(), 2);

    // The old id resolves to the survivor: by id, by identity, as an entity.
    let by_old_id = app
        .graphql(
            Some(&op),
            "query($id: ID!) { member(id: $id) { id } }",
            json!({ "id": merged }),
        )
        .await;
    assert_eq!(by_old_id.ok()["member"]["id"], survivor.as_str());
    let by_identity = app
        .graphql(
            Some(&op),
            "{ memberByIdentity(channel: APP, externalId: \"app-m\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        by_identity.ok()["memberByIdentity"]["id"],
        survivor.as_str()
    );
    let entities = app
        .graphql(
            Some(&op),
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { id } } }",
            json!({ "r": [{ "__typename": "Member", "id": merged }] }),
        )
        .await;
    assert_eq!(entities.ok()["_entities"][0]["id"], survivor.as_str());
    // A member token issued to the merged id now reads the survivor.
    let me = app
        .graphql(
            Some(&member_token(&app, &merged)),
            "{ me { id phone } }",
            json!({}),
        )
        .await;
    assert_eq!(me.ok()["me"]["id"], survivor.as_str());

    // The timeline moved, and the merge shows in tier history.
    let timeline = app
        .graphql(Some(&op), "query($id: ID!) { member(id: $id) { timeline { edges { node { kind } } } tierHistory { cause toTier } } }", json!({ "id": survivor }))
        .await;
    let kinds: Vec<&str> = timeline.ok()["member"]["timeline"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "REGISTERED").count(), 2);
    assert!(kinds.contains(&"COUPON_CLAIMED"));
    assert_eq!(
        timeline.ok()["member"]["tierHistory"][0],
        json!({ "cause": "MERGE", "toTier": "GOLD" })
    );

    // Repeating the merge returns the survivor and changes nothing.
    let again = app
        .graphql(Some(&op), MERGE, json!({ "s": survivor, "m": merged }))
        .await;
    assert_eq!(again.ok()["mergeMembers"]["growthValue"], 500);
    // Only active members appear in lists by default.
    let list = app
        .graphql(
            Some(&op),
            "{ members { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list.ok()["members"]["edges"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn merge_chains_stay_one_hop_and_bad_merges_conflict() {
    let app = spawn().await;
    let op = operator(&app);
    let a = register_member(&app, "app-a", None, "apparel").await;
    let b = register_member(&app, "app-b", None, "apparel").await;
    let c = register_member(&app, "app-c", None, "apparel").await;
    app.graphql(Some(&op), MERGE, json!({ "s": b, "m": a }))
        .await
        .ok();
    app.graphql(Some(&op), MERGE, json!({ "s": c, "m": b }))
        .await
        .ok();
    let a_now = app
        .graphql(
            Some(&op),
            "query($id: ID!) { member(id: $id) { id } }",
            json!({ "id": a }),
        )
        .await;
    assert_eq!(
        a_now.ok()["member"]["id"],
        c.as_str(),
        "a -> b -> c resolves to c"
    );

    // Merging into a merged record, or merging an unknown id, is refused.
    let into_merged = app
        .graphql(Some(&op), MERGE, json!({ "s": b, "m": c }))
        .await;
    assert_eq!(
        into_merged.error_code(),
        Some("CONFLICT"),
        "{}",
        into_merged.body
    );
    let unknown = app
        .graphql(Some(&op), MERGE, json!({ "s": c, "m": "no-such" }))
        .await;
    assert_eq!(unknown.error_code(), Some("NOT_FOUND"));
}
