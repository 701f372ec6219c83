//! The federation features themselves: keys (single, several, composite,
//! nested), @requires, @provides, @override, @interfaceObject, shareable
//! fields, enums across subgraphs, abstract types across subgraphs.

use serde_json::json;

use crate::harness::{counts, graph};

#[tokio::test]
async fn single_key_entity_fetch_and_an_override() {
    let g = graph().await;
    // Reviews resolve Product by upc; reviewCount moved to reviews with
    // @override (products still answers a stale 0).
    g.expect(
        "{ topProducts(first: 2) { upc name reviewCount reviews { body } } }",
        json!({}),
        json!({ "data": { "topProducts": [
            { "upc": "1", "name": "Dune", "reviewCount": 2,
              "reviews": [{ "body": "Love it" }, { "body": "Too long" }] },
            { "upc": "2", "name": "Solaris", "reviewCount": 1,
              "reviews": [{ "body": "Slow but great" }] }
        ] } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("products", 1), ("reviews", 1)]));
}

#[tokio::test]
async fn multiple_keys_chain_through_the_owner() {
    let g = graph().await;
    // Inventory knows only the SKU; reviews only the UPC. Products resolves
    // by either key and bridges the two.
    g.expect(
        "{ aisles { sku reviewCount } }",
        json!({}),
        json!({ "data": { "aisles": [
            [{ "sku": "S1", "reviewCount": 2 }, { "sku": "S2", "reviewCount": 1 }],
            [{ "sku": "S3", "reviewCount": 1 }]
        ] } }),
    )
    .await;
    assert_eq!(
        g.calls(),
        counts(&[("inventory", 1), ("products", 1), ("reviews", 1)]),
        "one batched entity request per subgraph"
    );
}

#[tokio::test]
async fn lists_of_lists_of_entities() {
    let g = graph().await;
    g.expect(
        "{ aisles { sku price inStock } }",
        json!({}),
        json!({ "data": { "aisles": [
            [{ "sku": "S1", "price": 1200, "inStock": true },
             { "sku": "S2", "price": 900, "inStock": false }],
            [{ "sku": "S3", "price": 800, "inStock": true }]
        ] } }),
    )
    .await;
}

#[tokio::test]
async fn shareable_fields_come_from_the_subgraph_at_hand() {
    let g = graph().await;
    g.expect(
        "{ aisles { name } }",
        json!({}),
        json!({ "data": { "aisles": [
            [{ "name": "Dune" }, { "name": "Solaris" }], [{ "name": "Neuromancer" }]
        ] } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("inventory", 1)]));
}

#[tokio::test]
async fn composite_key() {
    let g = graph().await;
    // Products refers to warehouses it cannot resolve (resolvable: false)
    // by a two-field key; inventory resolves them.
    g.expect(
        "{ topProducts { name shipsFrom { country code city } } }",
        json!({}),
        json!({ "data": { "topProducts": [
            { "name": "Dune", "shipsFrom": { "country": "CN", "code": "SH1", "city": "Shanghai" } },
            { "name": "Solaris", "shipsFrom": { "country": "CN", "code": "SH1", "city": "Shanghai" } },
            { "name": "Neuromancer", "shipsFrom": { "country": "DE", "code": "BE1", "city": "Berlin" } }
        ] } }),
    )
    .await;
    assert_eq!(g.calls(), counts(&[("products", 1), ("inventory", 1)]));
}

#[tokio::test]
async fn nested_key() {
    let g = graph().await;
    g.expect(
        "{ me { name favouriteShelf { number label warehouse { code city } } } }",
        json!({}),
        json!({ "data": { "me": {
            "name": "Ada Lovelace",
            "favouriteShelf": { "number": 7, "label": "SH1-7 science fiction",
                                "warehouse": { "code": "SH1", "city": "Shanghai" } }
        } } }),
    )
    .await;
}

#[tokio::test]
async fn requires_with_an_argument() {
    let g = graph().await;
    // Products → inventory, which needs weight and price (@requires) and
    // takes the zone as an argument, aliased twice.
    g.expect(
        "query($zone: Zone!) { topProducts { name home: shippingEstimate(zone: DOMESTIC) away: shippingEstimate(zone: $zone) } }",
        json!({ "zone": "ABROAD" }),
        json!({ "data": { "topProducts": [
            { "name": "Dune", "home": 5, "away": 20 },
            { "name": "Solaris", "home": 13, "away": 22 },
            { "name": "Neuromancer", "home": 14, "away": 26 }
        ] } }),
    )
    .await;
    // From inventory's own root: inventory → products (weight, price) →
    // inventory again.
    g.expect(
        "{ aisles { sku shippingEstimate(zone: ABROAD) } }",
        json!({}),
        json!({ "data": { "aisles": [
            [{ "sku": "S1", "shippingEstimate": 20 }, { "sku": "S2", "shippingEstimate": 22 }],
            [{ "sku": "S3", "shippingEstimate": 26 }]
        ] } }),
    )
    .await;
}

#[tokio::test]
async fn provides_saves_a_fetch() {
    let g = graph().await;
    g.expect(
        "{ latestReviews(first: 2) { body author { username } } }",
        json!({}),
        json!({ "data": { "latestReviews": [
            { "body": "Played the game too", "author": { "username": "alan" } },
            { "body": "Slow but great", "author": { "username": "ada" } }
        ] } }),
    )
    .await;
    assert_eq!(
        g.calls(),
        counts(&[("reviews", 1)]),
        "accounts is not asked"
    );
    g.expect(
        "{ latestReviews(first: 1) { author { username name } } }",
        json!({}),
        json!({ "data": { "latestReviews": [
            { "author": { "username": "alan", "name": "Alan Turing" } }
        ] } }),
    )
    .await;
}

#[tokio::test]
async fn enums_that_differ_between_subgraphs() {
    let g = graph().await;
    // Output enums compose into the union of their values.
    g.expect(
        "{ __type(name: \"Category\") { enumValues { name } } topProducts(first: 2) { category } latestReviews(first: 1) { topic } }",
        json!({}),
        json!({ "data": {
            "__type": { "enumValues": [{ "name": "BOOK" }, { "name": "FILM" }, { "name": "GAME" }] },
            "topProducts": [{ "category": "BOOK" }, { "category": "FILM" }],
            "latestReviews": [{ "topic": "GAME" }]
        } }),
    )
    .await;
}

#[tokio::test]
async fn interface_object_adds_a_field_to_every_implementation() {
    let g = graph().await;
    // From the interface's owner: reviews is asked about `Media`.
    g.expect(
        "{ media { id title ratingCount ... on Book { pages } ... on Film { minutes } } }",
        json!({}),
        json!({ "data": { "media": [
            { "id": "b1", "title": "Dune", "ratingCount": 2, "pages": 412 },
            { "id": "b2", "title": "Neuromancer", "ratingCount": 1, "pages": 271 },
            { "id": "f1", "title": "Solaris", "ratingCount": 1, "minutes": 167 }
        ] } }),
    )
    .await;
    // From the interface object's side: products says which kind each is.
    g.expect(
        "{ latestMedia { __typename id ratingCount title ... on Film { minutes } } }",
        json!({}),
        json!({ "data": { "latestMedia": [
            { "__typename": "Film", "id": "f1", "ratingCount": 1, "title": "Solaris", "minutes": 167 },
            { "__typename": "Book", "id": "b1", "ratingCount": 2, "title": "Dune" }
        ] } }),
    )
    .await;
}

#[tokio::test]
async fn unions_and_interfaces_across_subgraphs() {
    let g = graph().await;
    // Accounts knows only the ids of what Ada viewed; products tells books
    // from films, reviews counts their ratings.
    g.expect(
        "{ me { recentlyViewed { __typename ... on Book { title pages } ... on Film { title minutes } ... on Media { ratingCount } } } }",
        json!({}),
        json!({ "data": { "me": { "recentlyViewed": [
            { "__typename": "Book", "title": "Neuromancer", "pages": 271, "ratingCount": 1 },
            { "__typename": "Film", "title": "Solaris", "minutes": 167, "ratingCount": 1 }
        ] } } }),
    )
    .await;
    g.expect(
        "{ search(term: \"n\") { ... on Media { kind: __typename title } ... on Book { pages } } }",
        json!({}),
        json!({ "data": { "search": [
            { "kind": "Book", "title": "Dune", "pages": 412 },
            { "kind": "Book", "title": "Neuromancer", "pages": 271 }
        ] } }),
    )
    .await;
}

#[tokio::test]
async fn skip_and_include_with_variables() {
    let g = graph().await;
    let q = "query($reviews: Boolean!, $lean: Boolean!) { topProducts(first: 1) { name reviews @include(if: $reviews) { body } price @skip(if: $lean) } }";
    g.expect(
        q,
        json!({ "reviews": false, "lean": true }),
        json!({ "data": { "topProducts": [{ "name": "Dune" }] } }),
    )
    .await;
    assert_eq!(
        g.calls(),
        counts(&[("products", 1)]),
        "reviews is not asked"
    );
    g.expect(
        q,
        json!({ "reviews": true, "lean": false }),
        json!({ "data": { "topProducts": [{
            "name": "Dune",
            "reviews": [{ "body": "Love it" }, { "body": "Too long" }],
            "price": 1200
        }] } }),
    )
    .await;
}
