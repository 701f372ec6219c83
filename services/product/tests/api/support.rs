use kit::auth::TokenRequest;
use kit::testing::{GraphqlResponse, TestApp};
use serde_json::{Value, json};

pub async fn spawn() -> TestApp {
    kit::testing::spawn(&product::SPEC).await
}

pub fn staff(app: &TestApp, store: &str) -> String {
    app.token(TokenRequest::staff("g1", store, "apparel"))
}

pub fn member(app: &TestApp, id: &str) -> String {
    app.token(TokenRequest::member(id))
}

pub async fn op(app: &TestApp, query: &str, vars: Value) -> Value {
    app.graphql(Some(&app.operator_token()), query, vars)
        .await
        .ok()
        .clone()
}

/// A product with one SKU; returns the SKU id.
pub async fn sku(app: &TestApp, brand: &str, name: &str, price: i64) -> String {
    let p = op(
        app,
        "mutation($i: ProductInput!) { createProduct(input: $i) { id } }",
        json!({ "i": { "brandId": brand, "name": name, "category": "apparel/tops" } }),
    )
    .await;
    let pid = p["createProduct"]["id"].as_str().unwrap().to_owned();
    let s = op(app, "mutation($p: ID!, $i: SkuInput!) { addSku(productId: $p, input: $i) { id } }", json!({ "p": pid, "i": { "listPriceFen": price, "attributes": [{ "name": "size", "value": "M" }] } })).await;
    s["addSku"]["id"].as_str().unwrap().to_owned()
}

/// Shanghai: a warehouse in Minhang, store A at People's Square, store B in
/// Lujiazui, store C far north in Jiading.
pub async fn locations(app: &TestApp) {
    op(app, "mutation { upsertWarehouse(id: \"wh-minhang\", name: \"Minhang DC\", location: { lat: 31.11, lng: 121.38 }) { id } }", json!({})).await;
    for (id, lat, lng) in [
        ("store-a", 31.2317, 121.4726),
        ("store-b", 31.2397, 121.4998),
        ("store-c", 31.3838, 121.2507),
    ] {
        op(app, "mutation($s: ID!, $lat: Float!, $lng: Float!) { upsertStoreLocation(storeId: $s, name: $s, location: { lat: $lat, lng: $lng }) { id } }", json!({ "s": id, "lat": lat, "lng": lng })).await;
    }
}

pub async fn receive(app: &TestApp, sku: &str, location: &str, quantity: i64) {
    op(app, "mutation($s: ID!, $l: ID!, $q: Int!) { receiveStock(skuId: $s, locationId: $l, quantity: $q, reason: \"delivery\") { onHand } }", json!({ "s": sku, "l": location, "q": quantity })).await;
}

pub async fn stock(app: &TestApp, sku: &str, location: &str) -> (i64, i64) {
    let r = app
        .graphql(None, "query($r: [_Any!]!, $s: [ID!]!) { _entities(representations: $r) { ... on Store { inventory(skuIds: $s) { onHand reserved } } } }", json!({ "r": [{ "__typename": "Store", "id": location }], "s": [sku] }))
        .await;
    let row = &r.ok()["_entities"][0]["inventory"][0];
    (
        row["onHand"].as_i64().unwrap_or(0),
        row["reserved"].as_i64().unwrap_or(0),
    )
}

pub const PLACE: &str = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id status totalFen pickupDeadline lines { id skuId quantity amountFen sourceLocation { id } } } }";

pub async fn place(app: &TestApp, token: &str, input: Value) -> GraphqlResponse {
    app.graphql(Some(token), PLACE, json!({ "i": input })).await
}

pub fn key() -> String {
    uuid_like()
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "key-{:016x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}
