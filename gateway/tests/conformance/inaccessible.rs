//! `@inaccessible` never leaks. A field marked so fails validation; a value
//! a subgraph returns that the API schema does not have (an enum value
//! marked `@inaccessible`, an object whose type is `@inaccessible` in an
//! abstract position) is a field error at its path, with the spec's null
//! propagation, never data; introspection does not show them.

use serde_json::json;

use crate::harness::{counts, graph};

#[tokio::test]
async fn inaccessible_fields_are_not_in_the_graph() {
    let g = graph().await;
    let r = g.ask("{ topProducts { costPrice } }", json!({})).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{r}"
    );
    assert!(r.get("data").is_none(), "{r}");
    assert_eq!(g.calls(), counts(&[]), "no subgraph is asked");
    let r = g
        .ask(
            "{ __type(name: \"Product\") { fields { name } } }",
            json!({}),
        )
        .await;
    let fields: Vec<&str> = r["data"]["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"price") && !fields.contains(&"costPrice"),
        "{r}"
    );
}

#[tokio::test]
async fn an_inaccessible_enum_value_is_a_field_error_where_it_is() {
    let g = graph().await;
    let music = "Enum \"Category\" cannot represent value \"MUSIC\"";
    // At the root, nullable.
    g.expect(
        "{ bestsellerCategory }",
        json!({}),
        json!({
            "errors": [{ "message": music, "path": ["bestsellerCategory"] }],
            "data": { "bestsellerCategory": null }
        }),
    )
    .await;
    // In a list of nullable items, under an alias.
    g.expect(
        "{ topProducts { name kinds: formats } }",
        json!({}),
        json!({
            "errors": [
                { "message": music, "path": ["topProducts", 1, "kinds", 1] },
                { "message": music, "path": ["topProducts", 2, "kinds", 1] }
            ],
            "data": { "topProducts": [
                { "name": "Dune", "kinds": ["BOOK"] },
                { "name": "Solaris", "kinds": ["FILM", null] },
                { "name": "Neuromancer", "kinds": ["BOOK", null] }
            ] }
        }),
    )
    .await;
    // From an entity fetch, in nested lists, through a fragment.
    g.expect(
        "{ aisles { ...F } } fragment F on Product { formats }",
        json!({}),
        json!({
            "errors": [
                { "message": music, "path": ["aisles", 0, 1, "formats", 1] },
                { "message": music, "path": ["aisles", 1, 0, "formats", 1] }
            ],
            "data": { "aisles": [
                [{ "formats": ["BOOK"] }, { "formats": ["FILM", null] }],
                [{ "formats": ["BOOK", null] }]
            ] }
        }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("products", 3), ("inventory", 1)]));
}

#[tokio::test]
async fn an_object_of_an_inaccessible_type_is_a_field_error() {
    let g = graph().await;
    let podcast = "an object of type \"Podcast\" is not one the graph has for SearchResult";
    // A nullable abstract position: null, with the error there.
    g.expect(
        "{ pick(id: \"p1\") { __typename ... on Book { title } } }",
        json!({}),
        json!({
            "errors": [{ "message": podcast, "path": ["pick"] }],
            "data": { "pick": null }
        }),
    )
    .await;
    // A list of non-null items: the null reaches the nullable parent, here
    // the whole response.
    g.expect(
        "{ search(term: \"Solaris\") { __typename ... on Film { title } } }",
        json!({}),
        json!({
            "errors": [{ "message": podcast, "path": ["search", 1] }],
            "data": null
        }),
    )
    .await;
    // Asked as a fragment on the union, the other results are unaffected.
    g.expect(
        "{ pick(id: \"f1\") { ... on Film { title } } }",
        json!({}),
        json!({ "data": { "pick": { "title": "Solaris" } } }),
    )
    .await;
}

#[tokio::test]
async fn introspection_shows_nothing_inaccessible() {
    let g = graph().await;
    let r = g
        .ask(
            "{ union: __type(name: \"SearchResult\") { possibleTypes { name } } podcast: __type(name: \"Podcast\") { name } category: __type(name: \"Category\") { enumValues { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r,
        json!({ "data": {
            "union": { "possibleTypes": [{ "name": "Book" }, { "name": "Film" }] },
            "podcast": null,
            "category": { "enumValues": [{ "name": "BOOK" }, { "name": "FILM" }, { "name": "GAME" }] }
        } })
    );
    // Nor may a client name them.
    let r = g
        .ask(
            "{ pick(id: \"p1\") { ... on Podcast { title } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{r}"
    );
}
