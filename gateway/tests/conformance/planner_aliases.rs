//! Aliases the planner introduces are undone. It renames a selection in a
//! subgraph operation when two selections of one response name would clash
//! there: a field whose type differs between subgraphs (`User.nickname` is
//! `String!` in accounts, `String` in reviews and on `Bot`), or a field that
//! `@requires` needs with other arguments than the client asked for
//! (`importDuty` needs `priceIn(currency: USD)`). The client sees its own
//! names; the `@requires` subgraph receives the field's own name with the
//! value of its own arguments.

use serde_json::{Value, json};

use crate::harness::{counts, graph};

/// Every key of every object in a JSON value, recursively.
fn keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

fn no_internal_names(response: &Value) {
    let mut all = Vec::new();
    keys(response, &mut all);
    assert!(
        all.iter()
            .all(|k| !k.starts_with("_internal") && !k.starts_with("_bm_")),
        "an internal alias reached the client: {response}"
    );
}

#[tokio::test]
async fn a_type_mismatch_at_the_root_comes_back_under_the_clients_names() {
    let g = graph().await;
    let q = "{ accounts { __typename ... on User { nickname } ... on Bot { nickname } } }";
    let expected = json!({ "data": { "accounts": [
        { "__typename": "User", "nickname": "Countess" },
        { "__typename": "Bot", "nickname": "beep" },
        { "__typename": "Bot", "nickname": null },
        { "__typename": "User", "nickname": "Prof" }
    ] } });
    g.expect(q, json!({}), expected).await;
    let sent = g.bodies("accounts")[0]["query"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        sent.contains("_internal_qp_alias"),
        "the planner aliased one of them: {sent}"
    );
    // Under a client alias, and through a named fragment.
    g.expect(
        "{ all: accounts { ...Names } } fragment Names on Account { ... on User { n: nickname } ... on Bot { n: nickname } }",
        json!({}),
        json!({ "data": { "all": [
            { "n": "Countess" }, { "n": "beep" }, { "n": null }, { "n": "Prof" }
        ] } }),
    )
    .await;
}

#[tokio::test]
async fn a_type_mismatch_in_an_entity_fetch() {
    let g = graph().await;
    let r = g
        .ask(
            "{ latestReviews(first: 2) { body author { friends { __typename ... on User { nickname } ... on Bot { nickname } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r,
        json!({ "data": { "latestReviews": [
            { "body": "Played the game too",
              "author": { "friends": [{ "__typename": "User", "nickname": "Countess" }] } },
            { "body": "Slow but great",
              "author": { "friends": [
                  { "__typename": "Bot", "nickname": "beep" },
                  { "__typename": "User", "nickname": "Prof" }
              ] } }
        ] } })
    );
    no_internal_names(&r);
    assert_eq!(g.calls(), counts(&[("reviews", 1), ("accounts", 1)]));
}

#[tokio::test]
async fn requires_with_other_arguments_than_the_client_asked() {
    let g = graph().await;
    let r = g
        .ask(
            "{ topProducts(first: 2) { name priceIn(currency: EUR) importDuty } }",
            json!({}),
        )
        .await;
    // 1200 fen: 150 euro cents; 171 dollar cents, a tenth of which is 17.
    assert_eq!(
        r,
        json!({ "data": { "topProducts": [
            { "name": "Dune", "priceIn": 150, "importDuty": 17 },
            { "name": "Solaris", "priceIn": 112, "importDuty": 12 }
        ] } })
    );
    no_internal_names(&r);
    let sent = g.bodies("inventory");
    assert_eq!(sent.len(), 1);
    let reps = &sent[0]["variables"]["representations"];
    assert_eq!(
        reps,
        &json!([
            { "__typename": "Product", "sku": "S1", "priceIn": 171 },
            { "__typename": "Product", "sku": "S2", "priceIn": 128 }
        ]),
        "inventory gets the field's own name with the USD value"
    );
}

#[tokio::test]
async fn requires_with_other_arguments_in_lists_aliases_and_fragments() {
    let g = graph().await;
    let r = g
        .ask(
            "{ aisles { sku euro: priceIn(currency: EUR) ...Duty } } fragment Duty on Product { duty: importDuty }",
            json!({}),
        )
        .await;
    assert_eq!(
        r,
        json!({ "data": { "aisles": [
            [{ "sku": "S1", "euro": 150, "duty": 17 }, { "sku": "S2", "euro": 112, "duty": 12 }],
            [{ "sku": "S3", "euro": 100, "duty": 11 }]
        ] } })
    );
    no_internal_names(&r);
    // The same arguments as the requirement: no alias is needed, and the
    // client's alias is its own.
    g.expect(
        "{ topProducts(first: 1) { usd: priceIn(currency: USD) importDuty } }",
        json!({}),
        json!({ "data": { "topProducts": [{ "usd": 171, "importDuty": 17 }] } }),
    )
    .await;
    // With a variable for the client's currency.
    g.expect(
        "query($c: Currency = CNY) { topProducts(first: 1) { priceIn(currency: $c) importDuty } }",
        json!({}),
        json!({ "data": { "topProducts": [{ "priceIn": 1200, "importDuty": 17 }] } }),
    )
    .await;
}
