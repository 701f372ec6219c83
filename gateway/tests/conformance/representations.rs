//! Only valid representations are sent. An entity whose key came back null
//! (where the target subgraph's key is non-null) or missing, or whose type
//! the target subgraph cannot resolve, is not sent in `_entities`: its
//! position gets null (with an error only where null propagation needs
//! one), and the rest of the batch still resolves.

use serde_json::json;

use crate::harness::{counts, graph};

#[tokio::test]
async fn an_entity_with_a_null_key_is_not_sent() {
    let g = graph().await;
    // Accounts' locker id is `ID`, inventory's `ID!`.
    g.expect(
        "{ me { lockers { id place } } }",
        json!({}),
        json!({
            "errors": [{
                "message": "Cannot return null for non-nullable type String!",
                "path": ["me", "lockers", 1, "place"]
            }],
            "data": { "me": { "lockers": [
                { "id": "L1", "place": "Shanghai Pudong" },
                null,
                { "id": "L2", "place": "Berlin Mitte" }
            ] } }
        }),
    )
    .await;
    let sent = g.bodies("inventory");
    assert_eq!(
        sent[0]["variables"]["representations"],
        json!([
            { "__typename": "Locker", "id": "L1" },
            { "__typename": "Locker", "id": "L2" }
        ])
    );
    // Asking only for the key: nothing to fetch, nothing nulled.
    g.forget_calls();
    g.expect(
        "{ me { lockers { key: id } } }",
        json!({}),
        json!({ "data": { "me": { "lockers": [{ "key": "L1" }, { "key": null }, { "key": "L2" }] } } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("accounts", 1)]));
}

#[tokio::test]
async fn only_the_types_a_fetch_resolves_are_sent() {
    let g = graph().await;
    // Only the books of a union go to products for `pages`.
    g.expect(
        "{ me { recentlyViewed { ... on Book { pages } } } }",
        json!({}),
        json!({ "data": { "me": { "recentlyViewed": [{ "pages": 271 }, {}] } } }),
    )
    .await;
    let sent = g.bodies("products");
    assert_eq!(
        sent[0]["variables"]["representations"],
        json!([{ "__typename": "Book", "id": "b2" }])
    );
}

#[tokio::test]
async fn a_null_entity_answer_leaves_the_others() {
    let g = graph().await;
    // Products answers null for one of two SKUs: that product is null (its
    // price is Int!), with the error there; the other resolves.
    g.expect(
        "{ discontinued { sku price } }",
        json!({}),
        json!({
            "errors": [{
                "message": "Cannot return null for non-nullable type Int!",
                "path": ["discontinued", 1, "price"]
            }],
            "data": { "discontinued": [{ "sku": "S2", "price": 900 }, null] }
        }),
    )
    .await;
    // Identical entities are sent once and fill every position.
    g.forget_calls();
    g.expect(
        "{ topProducts { shipsFrom { city } } }",
        json!({}),
        json!({ "data": { "topProducts": [
            { "shipsFrom": { "city": "Shanghai" } },
            { "shipsFrom": { "city": "Shanghai" } },
            { "shipsFrom": { "city": "Berlin" } }
        ] } }),
    )
    .await;
    let reps = &g.bodies("inventory")[0]["variables"]["representations"];
    assert_eq!(reps.as_array().unwrap().len(), 2, "{reps}");
}
