//! Federation entity resolution goes through the DataLoader.

use serde_json::json;

use crate::support::*;

const ENTITIES: &str =
    "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { id tier } } }";

#[tokio::test]
async fn a_batch_of_100_members_costs_one_select_on_the_members_table() {
    let app = spawn().await;
    let mut ids = Vec::new();
    for n in 0..100 {
        ids.push(register_member(&app, &format!("bulk-{n}"), None, "apparel").await);
    }
    let reps: Vec<_> = ids
        .iter()
        .map(|id| json!({ "__typename": "Member", "id": id }))
        .collect();
    app.statements.start();
    let response = app
        .graphql(Some(&operator(&app)), ENTITIES, json!({ "r": reps }))
        .await;
    let statements = app.statements.stop();
    let returned: Vec<&str> = response.ok()["_entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        returned,
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "all 100, in order"
    );
    let member_selects = statements
        .iter()
        .filter(|sql| sql.contains("FROM \"members\""))
        .count();
    assert_eq!(member_selects, 1, "statements: {statements:#?}");
}

#[tokio::test]
async fn entity_lookups_apply_access_rules_and_report_unknown_ids() {
    let app = spawn().await;
    let id = register_member(&app, "app-1", None, "apparel").await;
    let other = register_member(&app, "app-2", None, "apparel").await;
    let reps = json!({ "r": [{ "__typename": "Member", "id": id }, { "__typename": "Member", "id": other }, { "__typename": "Member", "id": "missing" }] });
    let response = app
        .graphql(Some(&member_token(&app, &id)), ENTITIES, reps)
        .await;
    assert_eq!(
        response.data()["_entities"][0]["id"],
        id.as_str(),
        "{}",
        response.body
    );
    assert!(response.data()["_entities"][1].is_null());
    assert!(response.data()["_entities"][2].is_null());
    let mut codes: Vec<&str> = response
        .errors()
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, ["FORBIDDEN", "NOT_FOUND"]);
}

#[tokio::test]
async fn the_sdl_declares_a_federation_v2_member_entity() {
    let sdl = (member::SPEC.sdl)();
    assert!(
        sdl.contains("url: \"https://specs.apollo.dev/federation/v2"),
        "{sdl}"
    );
    assert!(sdl.contains("type Member @key(fields: \"id\")"), "{sdl}");
}
