//! Federation conformance: four small purpose-built subgraphs (accounts,
//! products, inventory, reviews), each served over HTTP on a random port,
//! composed into `fixtures/supergraph.graphql` by the pinned reference
//! composer, and queried through the gateway. Each case states the exact
//! response, field order included.
//!
//! After changing a subgraph, refresh the fixtures (Node needed):
//!   UPDATE_CONFORMANCE_FIXTURES=1 cargo test -p gateway --test conformance
//!   gateway/tests/conformance/compose.sh

mod accounts;
mod inventory;
mod products;
mod reviews;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::{EmptyMutation, EmptySubscription, ObjectType, SDLExportOptions, Schema};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::routing::post;
use gateway::{Gateway, GatewayConfig};
use serde_json::{Value, json};

const SUBGRAPHS: [&str; 4] = ["accounts", "products", "inventory", "reviews"];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/fixtures")
}

fn sdl<Q: ObjectType + 'static>(schema: &Schema<Q, EmptyMutation, EmptySubscription>) -> String {
    schema.sdl_with_options(SDLExportOptions::new().federation())
}

fn subgraph_sdls() -> [(&'static str, String); 4] {
    [
        ("accounts", sdl(&accounts::schema())),
        ("products", sdl(&products::schema())),
        ("inventory", sdl(&inventory::schema())),
        ("reviews", sdl(&reviews::schema())),
    ]
}

/// The gateway in front of the four subgraphs, counting what each is asked.
struct Graph {
    url: String,
    client: reqwest::Client,
    calls: HashMap<&'static str, Arc<AtomicUsize>>,
}

async fn serve<Q: ObjectType + 'static>(
    schema: Schema<Q, EmptyMutation, EmptySubscription>,
    calls: Arc<AtomicUsize>,
) -> String {
    let app = Router::new().route(
        "/graphql",
        post(move |request: GraphQLRequest| {
            let schema = schema.clone();
            calls.fetch_add(1, Ordering::SeqCst);
            let request = request.into_inner();
            async move { GraphQLResponse::from(schema.execute(request).await) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn graph() -> Graph {
    let calls: HashMap<&'static str, Arc<AtomicUsize>> = SUBGRAPHS
        .iter()
        .map(|name| (*name, Arc::new(AtomicUsize::new(0))))
        .collect();
    let urls = [
        serve(accounts::schema(), calls["accounts"].clone()).await,
        serve(products::schema(), calls["products"].clone()).await,
        serve(inventory::schema(), calls["inventory"].clone()).await,
        serve(reviews::schema(), calls["reviews"].clone()).await,
    ];
    let mut config = GatewayConfig::default();
    for (name, url) in SUBGRAPHS.iter().zip(urls) {
        config.url_overrides.insert((*name).to_owned(), url);
    }
    let supergraph = std::fs::read_to_string(fixtures().join("supergraph.graphql")).unwrap();
    let gateway = Arc::new(Gateway::new(&supergraph, config).expect("the fixture loads"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, gateway::router(gateway)).await });
    Graph {
        url,
        client: reqwest::Client::new(),
        calls,
    }
}

impl Graph {
    async fn ask(&self, query: &str, variables: Value) -> Value {
        self.client
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Asserts the whole response, field order included.
    async fn expect(&self, query: &str, variables: Value, expected: Value) {
        let actual = self.ask(query, variables).await;
        assert_eq!(
            serde_json::to_string_pretty(&actual).unwrap(),
            serde_json::to_string_pretty(&expected).unwrap(),
            "for {query}"
        );
    }

    /// Requests each subgraph has received so far.
    fn calls(&self) -> HashMap<&'static str, usize> {
        self.calls
            .iter()
            .map(|(name, n)| (*name, n.load(Ordering::SeqCst)))
            .collect()
    }
}

fn counts(pairs: &[(&'static str, usize)]) -> HashMap<&'static str, usize> {
    SUBGRAPHS
        .iter()
        .map(|name| {
            let n = pairs.iter().find(|(n, _)| n == name).map_or(0, |p| p.1);
            (*name, n)
        })
        .collect()
}

#[test]
fn fixtures_are_what_the_subgraphs_serve() {
    let update = std::env::var_os("UPDATE_CONFORMANCE_FIXTURES").is_some();
    for (name, sdl) in subgraph_sdls() {
        let file = fixtures().join(format!("{name}.graphql"));
        if update {
            std::fs::write(&file, &sdl).unwrap();
            continue;
        }
        let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            checked_in == sdl,
            "{} is stale: refresh the fixtures (see the top of this file)",
            file.display()
        );
    }
    let supergraph = std::fs::read_to_string(fixtures().join("supergraph.graphql")).unwrap();
    for name in SUBGRAPHS {
        assert!(supergraph.contains(&format!("@join__graph(name: \"{name}\"")));
    }
}

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
async fn null_propagation_from_an_entity_fetch() {
    let g = graph().await;
    // Products no longer knows S-GONE and answers a null entity: its price
    // (Int!) cannot be had, so that product (a nullable list item) becomes
    // null, with an error at the field that broke; the rest stays.
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
}

#[tokio::test]
async fn a_failed_entity_fetch_nulls_every_entity_it_fed() {
    let g = graph().await;
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
