//! Variables are coerced as the spec says before anything reads them: a
//! variable the client did not send takes its declared default, and
//! `@skip`/`@include`, the plan's conditions, the projection and what the
//! subgraphs receive all see the coerced values. A condition that leaves
//! out an entity fetch leaves out the subgraph call. Invalid values are
//! refused before planning, naming the variable.

use serde_json::json;

use crate::harness::{counts, graph};

#[tokio::test]
async fn a_default_in_include_on_a_root_field() {
    let g = graph().await;
    let q = "query P($me: Boolean = true, $top: Boolean! = false) { me @include(if: $me) { name } topProducts(first: 1) @include(if: $top) { name } }";
    g.expect(
        q,
        json!({}),
        json!({ "data": { "me": { "name": "Ada Lovelace" } } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("accounts", 1)]), "products not asked");
    g.forget_calls();
    g.expect(
        q,
        json!({ "me": false, "top": true }),
        json!({ "data": { "topProducts": [{ "name": "Dune" }] } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("products", 1)]), "accounts not asked");
}

#[tokio::test]
async fn a_default_in_include_on_an_entity_field() {
    let g = graph().await;
    let q = "query P($w: Boolean! = true) { topProducts(first: 1) { name reviews @include(if: $w) { body } } }";
    g.expect(
        q,
        json!({}),
        json!({ "data": { "topProducts": [{
            "name": "Dune", "reviews": [{ "body": "Love it" }, { "body": "Too long" }]
        }] } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("products", 1), ("reviews", 1)]));
    g.forget_calls();
    g.expect(
        q,
        json!({ "w": false }),
        json!({ "data": { "topProducts": [{ "name": "Dune" }] } }),
    )
    .await;
    assert_eq!(
        g.calls(),
        counts(&[("products", 1)]),
        "the excluded entity fetch is not sent"
    );
}

#[tokio::test]
async fn a_default_in_skip_leaves_out_the_entity_fetch() {
    let g = graph().await;
    g.expect(
        "query($lean: Boolean = true) { topProducts(first: 2) { name reviewCount @skip(if: $lean) } }",
        json!({}),
        json!({ "data": { "topProducts": [{ "name": "Dune" }, { "name": "Solaris" }] } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("products", 1)]), "reviews not asked");
}

#[tokio::test]
async fn a_default_on_fragments_inline_and_named() {
    let g = graph().await;
    let q = "query($w: Boolean = true, $lean: Boolean = true) {
      topProducts(first: 1) {
        ...Counts @include(if: $w)
        ... @skip(if: $lean) { reviews { body } }
        ... on Product @include(if: $w) { price }
      }
    }
    fragment Counts on Product { reviewCount }";
    g.expect(
        q,
        json!({}),
        json!({ "data": { "topProducts": [{ "reviewCount": 2, "price": 1200 }] } }),
    )
    .await;
    g.forget_calls();
    g.expect(
        q,
        json!({ "w": false }),
        json!({ "data": { "topProducts": [{}] } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("products", 1)]));
}

#[tokio::test]
async fn a_default_on_an_abstract_type_and_its_fragments() {
    let g = graph().await;
    let q = "query($w: Boolean = false) { media { title ... on Book @include(if: $w) { pages } ratingCount @include(if: $w) } }";
    g.expect(
        q,
        json!({}),
        json!({ "data": { "media": [
            { "title": "Dune" }, { "title": "Neuromancer" }, { "title": "Solaris" }
        ] } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("products", 1)]), "reviews not asked");
    g.expect(
        q,
        json!({ "w": true }),
        json!({ "data": { "media": [
            { "title": "Dune", "pages": 412, "ratingCount": 2 },
            { "title": "Neuromancer", "pages": 271, "ratingCount": 1 },
            { "title": "Solaris", "ratingCount": 1 }
        ] } }),
    )
    .await;
}

#[tokio::test]
async fn a_default_in_nested_lists_and_under_aliases() {
    let g = graph().await;
    g.expect(
        "query($w: Boolean = true) { shelf: aisles { code: sku count: reviewCount @include(if: $w) } }",
        json!({}),
        json!({ "data": { "shelf": [
            [{ "code": "S1", "count": 2 }, { "code": "S2", "count": 1 }],
            [{ "code": "S3", "count": 1 }]
        ] } }),
    )
    .await;
}

#[tokio::test]
async fn defaults_reach_arguments_at_the_root_and_in_entity_fetches() {
    let g = graph().await;
    g.expect(
        "query($n: Int = 2, $z: Zone = ABROAD) { topProducts(first: $n) { name shippingEstimate(zone: $z) } }",
        json!({}),
        json!({ "data": { "topProducts": [
            { "name": "Dune", "shippingEstimate": 20 },
            { "name": "Solaris", "shippingEstimate": 22 }
        ] } }),
    )
    .await;
    // What inventory was sent: the coerced value, whichever way the plan
    // passes it.
    let sent = g.bodies("inventory");
    assert_eq!(sent.len(), 1);
    let text = sent[0].to_string();
    assert!(text.contains("ABROAD"), "{text}");
    // A sent value wins over the default.
    g.expect(
        "query($n: Int = 2, $z: Zone = ABROAD) { topProducts(first: $n) { name shippingEstimate(zone: $z) } }",
        json!({ "n": 1, "z": "DOMESTIC" }),
        json!({ "data": { "topProducts": [{ "name": "Dune", "shippingEstimate": 5 }] } }),
    )
    .await;
}

#[tokio::test]
async fn invalid_values_are_refused_naming_the_variable() {
    let g = graph().await;
    let estimate = "query($z: Zone!) { topProducts(first: 1) { shippingEstimate(zone: $z) } }";
    for (query, variables, message) in [
        (
            "query($n: Int = 2) { topProducts(first: $n) { name } }",
            json!({ "n": "two" }),
            "Variable \"$n\" got an invalid value: \"two\" is not an integer (expected type \"Int\").",
        ),
        (
            estimate,
            json!({ "z": null }),
            "Variable \"$z\" got an invalid value: null where a value is required (expected type \"Zone!\").",
        ),
        (
            estimate,
            json!({}),
            "Variable \"$z\" of required type \"Zone!\" was not provided.",
        ),
        (
            estimate,
            json!({ "z": "MARS" }),
            "Variable \"$z\" got an invalid value: \"MARS\" is not a value of the enum Zone (expected type \"Zone!\").",
        ),
        (
            "query($w: Boolean! = true) { topProducts(first: 1) { name @include(if: $w) } }",
            json!({ "w": "yes" }),
            "Variable \"$w\" got an invalid value: \"yes\" is not a boolean (expected type \"Boolean!\").",
        ),
    ] {
        g.expect(
            query,
            variables,
            json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_USER_INPUT" } }] }),
        )
        .await;
    }
    assert_eq!(g.calls(), counts(&[]), "no subgraph is asked");
}

#[tokio::test]
async fn a_mutation_sees_its_defaults() {
    let g = graph().await;
    g.expect(
        "mutation($sku: String = \"S2\", $n: Int = 3, $price: Boolean = true) { restock(sku: $sku, quantity: $n) { sku onHand price @include(if: $price) } }",
        json!({}),
        json!({ "data": { "restock": { "sku": "S2", "onHand": 3, "price": 900 } } }),
    )
    .await;
}

#[tokio::test]
async fn a_variable_used_only_on_typename() {
    let g = graph().await;
    // The planner leaves the condition on `__typename` in the subgraph
    // operation, where async-graphql counts the variable as unused and
    // refuses it all; the gateway asks `__typename` plainly and decides.
    let q = "query($v: Boolean = false) { me { __typename @include(if: $v) name } topProducts(first: 1) { reviews { author { t: __typename @skip(if: $v) } } } }";
    g.expect(
        q,
        json!({}),
        json!({ "data": {
            "me": { "name": "Ada Lovelace" },
            "topProducts": [{ "reviews": [{ "author": { "t": "User" } }, { "author": { "t": "User" } }] }]
        } }),
    )
    .await;
    g.expect(
        q,
        json!({ "v": true }),
        json!({ "data": {
            "me": { "__typename": "User", "name": "Ada Lovelace" },
            "topProducts": [{ "reviews": [{ "author": {} }, { "author": {} }] }]
        } }),
    )
    .await;
}
