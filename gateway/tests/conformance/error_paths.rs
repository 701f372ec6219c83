//! An error sits at the path of the field it nulled: when a subgraph is
//! down or fails, at each field that came back null (in lists with the
//! index, under the client's aliases), not at the parent entity, with the
//! spec's null propagation above it.

use serde_json::json;

use crate::harness::{down, error_paths, graph_with};

/// The graph with one subgraph down.
async fn without(subgraph: &'static str) -> crate::harness::Graph {
    let url = down().await;
    graph_with(move |c| {
        c.url_overrides.insert(subgraph.to_owned(), url);
    })
    .await
}

#[tokio::test]
async fn a_failed_entity_fetch_nulls_every_entity_it_fed() {
    let g = crate::harness::graph().await;
    // One unknown UPC fails products' whole `_entities`: each product's
    // name (String!) is missing, so both products are null (the field is
    // nullable), the reviews stay, and the subgraph's error sits at each
    // field it nulled, naming the service.
    g.expect(
        "{ archivedReviews { body product { name } } }",
        json!({}),
        json!({
            "errors": [{
                "message": "no product with upc 9",
                "path": ["archivedReviews", 0, "product", "name"],
                "extensions": { "serviceName": "products" }
            }, {
                "message": "no product with upc 9",
                "path": ["archivedReviews", 1, "product", "name"],
                "extensions": { "serviceName": "products" }
            }],
            "data": { "archivedReviews": [
                { "body": "Gone but not forgotten", "product": null },
                { "body": "Love it", "product": null }
            ] }
        }),
    )
    .await;
}

#[tokio::test]
async fn a_root_field_of_a_down_subgraph() {
    let g = without("accounts").await;
    let r = g
        .ask("{ me { name } topProducts(first: 1) { name } }", json!({}))
        .await;
    assert_eq!(
        r["data"],
        json!({ "me": null, "topProducts": [{ "name": "Dune" }] }),
        "{r}"
    );
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{r}");
    assert_eq!(errors[0]["path"], json!(["me"]), "{r}");
    assert_eq!(
        errors[0]["extensions"]["code"], "SUBGRAPH_UNAVAILABLE",
        "{r}"
    );
    assert_eq!(errors[0]["extensions"]["serviceName"], "accounts", "{r}");
}

#[tokio::test]
async fn nullable_entity_fields_in_a_list_under_aliases() {
    let g = without("accounts").await;
    let r = g
        .ask(
            "{ latestReviews(first: 2) { body a: author { username n: name } } }",
            json!({}),
        )
        .await;
    // The username comes from reviews (@provides); the name from accounts.
    assert_eq!(
        r["data"],
        json!({ "latestReviews": [
            { "body": "Played the game too", "a": { "username": "alan", "n": null } },
            { "body": "Slow but great", "a": { "username": "ada", "n": null } }
        ] }),
        "{r}"
    );
    let paths = error_paths(&r);
    assert_eq!(
        paths,
        vec![
            json!(["latestReviews", 0, "a", "n"]),
            json!(["latestReviews", 1, "a", "n"])
        ],
        "{r}"
    );
}

#[tokio::test]
async fn non_null_fields_in_nested_lists_null_their_items() {
    let g = without("products").await;
    let r = g.ask("{ aisles { sku price } }", json!({})).await;
    assert_eq!(
        r["data"],
        json!({ "aisles": [[null, null], [null]] }),
        "{r}"
    );
    let paths = error_paths(&r);
    assert_eq!(
        paths,
        vec![
            json!(["aisles", 0, 0, "price"]),
            json!(["aisles", 0, 1, "price"]),
            json!(["aisles", 1, 0, "price"])
        ],
        "{r}"
    );
}

#[tokio::test]
async fn an_abstract_position_propagates_to_its_nullable_parent() {
    let g = without("products").await;
    let r = g
        .ask(
            "{ me { name seen: recentlyViewed { ... on Book { title } } } }",
            json!({}),
        )
        .await;
    // recentlyViewed is [Viewed!]!: the book's missing title (String!)
    // nulls it, then the list, then `me`.
    assert_eq!(r["data"], json!({ "me": null }), "{r}");
    let paths = error_paths(&r);
    assert_eq!(paths, vec![json!(["me", "seen", 0, "title"])], "{r}");
}
