//! Response names merge as the spec's field collection says: one response
//! name selected in several places (directly, in inline and named
//! fragments, on the interface and on a concrete type, at several depths)
//! merges its sub-selections, in first-seen order. A client alias equal to
//! a field the gateway needs itself (an entity key, `__typename`) never
//! loses to it.

use serde_json::json;

use crate::harness::{counts, graph};

#[tokio::test]
async fn an_alias_equal_to_a_key_keeps_the_clients_value() {
    let g = graph().await;
    // Reviews needs each product's upc; the client calls the name `upc`.
    g.expect(
        "{ topProducts(first: 2) { upc: name reviewCount } }",
        json!({}),
        json!({ "data": { "topProducts": [
            { "upc": "Dune", "reviewCount": 2 }, { "upc": "Solaris", "reviewCount": 1 }
        ] } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("products", 1), ("reviews", 1)]));
    // The entity's own root, one level down, with its key asked too.
    g.expect(
        "{ me { id: name realId: id reviews { id: body } } }",
        json!({}),
        json!({ "data": { "me": {
            "id": "Ada Lovelace", "realId": "u1",
            "reviews": [{ "id": "Love it" }, { "id": "Slow but great" }]
        } } }),
    )
    .await;
}

#[tokio::test]
async fn an_alias_equal_to_a_key_in_lists_abstract_types_and_fragments() {
    let g = graph().await;
    // Nested lists, the key of the chain (sku, then upc) both aliased.
    g.expect(
        "{ aisles { sku: name upc: reviewCount } }",
        json!({}),
        json!({ "data": { "aisles": [
            [{ "sku": "Dune", "upc": 2 }, { "sku": "Solaris", "upc": 1 }],
            [{ "sku": "Neuromancer", "upc": 1 }]
        ] } }),
    )
    .await;
    // An interface whose key (id) reviews needs.
    g.expect(
        "{ media { id: title ratingCount ... on Book { id: title } } }",
        json!({}),
        json!({ "data": { "media": [
            { "id": "Dune", "ratingCount": 2 },
            { "id": "Neuromancer", "ratingCount": 1 },
            { "id": "Solaris", "ratingCount": 1 }
        ] } }),
    )
    .await;
    // A union whose members' key (id) products needs: __typename and
    // the key aliased, and `id` the alias of another field.
    g.expect(
        "{ me { recentlyViewed { kind: __typename ... on Book { key: id id: title } ... on Film { id: title } } } }",
        json!({}),
        json!({ "data": { "me": { "recentlyViewed": [
            { "kind": "Book", "key": "b2", "id": "Neuromancer" },
            { "kind": "Film", "id": "Solaris" }
        ] } } }),
    )
    .await;
    // In a named fragment.
    g.expect(
        "{ topProducts(first: 1) { ...P } } fragment P on Product { upc: name reviews { body } }",
        json!({}),
        json!({ "data": { "topProducts": [
            { "upc": "Dune", "reviews": [{ "body": "Love it" }, { "body": "Too long" }] }
        ] } }),
    )
    .await;
}

#[tokio::test]
async fn one_response_name_in_several_places_merges() {
    let g = graph().await;
    g.expect(
        "{
          me {
            favouriteShelf { warehouse { code } }
            ... on User { favouriteShelf { label warehouse { city } } }
            ...Shelf
          }
        }
        fragment Shelf on User { favouriteShelf { number warehouse { code country } } }",
        json!({}),
        json!({ "data": { "me": { "favouriteShelf": {
            "warehouse": { "code": "SH1", "city": "Shanghai", "country": "CN" },
            "label": "SH1-7 science fiction",
            "number": 7
        } } } }),
    )
    .await;
}

#[tokio::test]
async fn merging_on_an_interface_and_its_implementations() {
    let g = graph().await;
    g.expect(
        "{
          media {
            ... on Media { title }
            ... on Book { title pages }
            ...Film
            ... on Media { ratingCount }
            id
          }
        }
        fragment Film on Film { minutes title }",
        json!({}),
        json!({ "data": { "media": [
            { "title": "Dune", "pages": 412, "ratingCount": 2, "id": "b1" },
            { "title": "Neuromancer", "pages": 271, "ratingCount": 1, "id": "b2" },
            { "title": "Solaris", "minutes": 167, "ratingCount": 1, "id": "f1" }
        ] } }),
    )
    .await;
    // Across a union, with a key field asked only in one branch.
    g.expect(
        "{ me { recentlyViewed { ... on Media { title } ... on Book { id ratingCount } ... on Film { title minutes } } } }",
        json!({}),
        json!({ "data": { "me": { "recentlyViewed": [
            { "title": "Neuromancer", "id": "b2", "ratingCount": 1 },
            { "title": "Solaris", "minutes": 167 }
        ] } } }),
    )
    .await;
}

#[tokio::test]
async fn the_same_field_twice_with_and_without_conditions() {
    let g = graph().await;
    // Selected once without a condition: always there.
    g.expect(
        "query($no: Boolean = false) { topProducts(first: 1) { name name @include(if: $no) reviewCount @include(if: $no) ... @include(if: $no) { price } } }",
        json!({}),
        json!({ "data": { "topProducts": [{ "name": "Dune" }] } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("products", 1)]));
}

#[tokio::test]
async fn a_conditional_copy_of_a_field_selected_plainly_changes_nothing() {
    let g = graph().await;
    // Under a conditional fragment at the root, the planner alone fails on
    // this ("cannot be found in selection set"); field collection says the
    // plain copy wins.
    let q = "query($w: Boolean! = true, $s: Boolean = false) { ... @skip(if: $s) { topProducts(first: 1) { importDuty @include(if: $w) importDuty } } }";
    for w in [true, false] {
        g.expect(
            q,
            json!({ "w": w }),
            json!({ "data": { "topProducts": [{ "importDuty": 17 }] } }),
        )
        .await;
    }
    g.expect(q, json!({ "s": true }), json!({ "data": {} }))
        .await;
}

#[tokio::test]
async fn a_field_goes_where_it_is_first_collected() {
    let g = graph().await;
    // The first copy is conditional: with it included the field comes
    // first, without it the plain copy's place holds.
    let q =
        "query($x: Boolean = false) { topProducts(first: 1) { upc @include(if: $x) price upc } }";
    g.expect(
        q,
        json!({}),
        json!({ "data": { "topProducts": [{ "price": 1200, "upc": "1" }] } }),
    )
    .await;
    g.expect(
        q,
        json!({ "x": true }),
        json!({ "data": { "topProducts": [{ "upc": "1", "price": 1200 }] } }),
    )
    .await;
    // Through fragments at two depths, an entity field among them.
    let q = "query($x: Boolean = false) { me { ... @include(if: $x) { reviews { body } } name ...R } } fragment R on User { reviews { body } }";
    g.expect(
        q,
        json!({}),
        json!({ "data": { "me": { "name": "Ada Lovelace", "reviews": [{ "body": "Love it" }, { "body": "Slow but great" }] } } }),
    )
    .await;
    g.expect(
        q,
        json!({ "x": true }),
        json!({ "data": { "me": { "reviews": [{ "body": "Love it" }, { "body": "Slow but great" }], "name": "Ada Lovelace" } } }),
    )
    .await;
}
