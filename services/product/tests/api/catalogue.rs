use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn operators_build_the_catalogue_and_anyone_browses_it() {
    let app = spawn().await;
    let tee = sku(&app, "apparel", "Cotton Tee", 9_900).await;
    sku(&app, "apparel", "Linen Shirt", 29_900).await;
    let beans = op(&app, "mutation { createProduct(input: { brandId: \"coffee\", name: \"Yunnan 100% Beans_\", category: \"coffee/beans\" }) { id } }", json!({})).await;
    assert!(beans["createProduct"]["id"].is_string());

    let list = |q: &'static str| app.graphql(None, q, json!({}));
    let names = |r: &serde_json::Value| -> Vec<String> {
        r["products"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(
            list("{ products(search: \"tee\") { edges { node { name } } } }")
                .await
                .ok()
        ),
        ["Cotton Tee"]
    );
    assert_eq!(
        names(
            list("{ products(search: \"100%\") { edges { node { name } } } }")
                .await
                .ok()
        ),
        ["Yunnan 100% Beans_"],
        "% is literal"
    );
    assert_eq!(
        names(
            list("{ products(search: \"_\") { edges { node { name } } } }")
                .await
                .ok()
        ),
        ["Yunnan 100% Beans_"],
        "_ is literal"
    );
    assert_eq!(
        names(
            list("{ products(brandId: \"apparel\") { edges { node { name } } } }")
                .await
                .ok()
        )
        .len(),
        2
    );
    assert_eq!(
        names(
            list("{ products(category: \"coffee\") { edges { node { name } } } }")
                .await
                .ok()
        ),
        ["Yunnan 100% Beans_"],
        "category includes what is under it"
    );
    let page = list("{ products(first: 2) { pageInfo { hasNextPage } edges { node { skus { listPriceFen attributes status } } } } }").await;
    assert_eq!(page.ok()["products"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        page.ok()["products"]["edges"][0]["node"]["skus"][0],
        json!({ "listPriceFen": 9_900, "attributes": { "size": "M" }, "status": "ACTIVE" })
    );

    let brand = app.graphql(None, "query($r: [_Any!]!) { _entities(representations: $r) { ... on Brand { products { edges { node { name } } } } } }", json!({ "r": [{ "__typename": "Brand", "id": "coffee" }] })).await;
    assert_eq!(
        brand.ok()["_entities"][0]["products"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let denied = app.graphql(Some(&staff(&app, "store-a")), "mutation { createProduct(input: { brandId: \"x\", name: \"x\", category: \"x\" }) { id } }", json!({})).await;
    assert_eq!(denied.error_code(), Some("FORBIDDEN"));
    let discontinued = op(
        &app,
        "mutation($s: ID!) { updateSku(id: $s, status: DISCONTINUED) { status } }",
        json!({ "s": tee }),
    )
    .await;
    assert_eq!(discontinued["updateSku"]["status"], "DISCONTINUED");
}

#[tokio::test]
async fn catalogue_inputs_are_checked() {
    let app = spawn().await;
    let t = app.operator_token();
    for (q, field) in [
        (
            "mutation { createProduct(input: { brandId: \"a\", name: \" \", category: \"x\" }) { id } }",
            "name",
        ),
        (
            "mutation { createProduct(input: { brandId: \"a\", name: \"n\", category: \"Bad Cat\" }) { id } }",
            "category",
        ),
        (
            "mutation { createProduct(input: { brandId: \"a b\", name: \"n\", category: \"x\" }) { id } }",
            "brandId",
        ),
        // A partner's sandbox sells nothing: products are live brands'.
        (
            "mutation { createProduct(input: { brandId: \"coffee-sandbox\", name: \"n\", category: \"x\" }) { id } }",
            "brandId",
        ),
        (
            "{ products(category: \"UPPER\") { edges { cursor } } }",
            "category",
        ),
        ("{ products(first: 0) { edges { cursor } } }", "first"),
    ] {
        let r = app.graphql(Some(&t), q, json!({})).await;
        assert_eq!(r.error_field(), Some(field), "{q}: {}", r.body);
    }
    let p = op(&app, "mutation { createProduct(input: { brandId: \"a\", name: \"n\", category: \"x\" }) { id } }", json!({})).await;
    let pid = p["createProduct"]["id"].as_str().unwrap();
    let add = "mutation($p: ID!, $i: SkuInput!) { addSku(productId: $p, input: $i) { id } }";
    for (input, field) in [
        (json!({ "listPriceFen": 0 }), "listPriceFen"),
        (json!({ "listPriceFen": 1, "barcode": "12" }), "barcode"),
    ] {
        assert_eq!(
            app.graphql(Some(&t), add, json!({ "p": pid, "i": input }))
                .await
                .error_field(),
            Some(field)
        );
    }
    app.graphql(
        Some(&t),
        add,
        json!({ "p": pid, "i": { "listPriceFen": 1, "barcode": "6901234567892" } }),
    )
    .await
    .ok();
    let dup = app
        .graphql(
            Some(&t),
            add,
            json!({ "p": pid, "i": { "listPriceFen": 1, "barcode": "6901234567892" } }),
        )
        .await;
    assert_eq!(dup.error_code(), Some("CONFLICT"));
}

#[tokio::test]
async fn stock_changes_are_audited_kept_by_the_right_people_and_found_nearest_first() {
    let app = spawn().await;
    locations(&app).await;
    let tee = sku(&app, "apparel", "Tee", 9_900).await;
    receive(&app, &tee, "wh-minhang", 100).await;
    receive(&app, &tee, "store-c", 5).await;
    let staff_a = staff(&app, "store-a");
    let own = app.graphql(Some(&staff_a), "mutation($s: ID!) { receiveStock(skuId: $s, locationId: \"store-a\", quantity: 3, reason: \"transfer in\") { onHand available } }", json!({ "s": tee })).await;
    assert_eq!(
        own.ok()["receiveStock"],
        json!({ "onHand": 3, "available": 3 })
    );
    let other = app.graphql(Some(&staff_a), "mutation($s: ID!) { receiveStock(skuId: $s, locationId: \"store-b\", quantity: 3, reason: \"x\") { onHand } }", json!({ "s": tee })).await;
    assert_eq!(other.error_code(), Some("FORBIDDEN"));
    let adjust = app.graphql(Some(&staff_a), "mutation($s: ID!) { adjustStock(skuId: $s, locationId: \"store-a\", delta: -1, reason: \"damaged\") { onHand } }", json!({ "s": tee })).await;
    assert_eq!(adjust.ok()["adjustStock"]["onHand"], 2);
    let too_far = app.graphql(Some(&staff_a), "mutation($s: ID!) { adjustStock(skuId: $s, locationId: \"store-a\", delta: -5, reason: \"count\") { onHand } }", json!({ "s": tee })).await;
    assert_eq!(too_far.error_code(), Some("CONFLICT"));
    for delta in [i64::MIN, i64::MAX, -1_000_001] {
        let beyond = app.graphql(Some(&staff_a), "mutation($s: ID!, $d: Int!) { adjustStock(skuId: $s, locationId: \"store-a\", delta: $d, reason: \"count\") { onHand } }", json!({ "s": tee, "d": delta })).await;
        assert_eq!(
            beyond.error_field(),
            Some("delta"),
            "{delta}: {}",
            beyond.body
        );
    }
    let no_reason = app.graphql(Some(&staff_a), "mutation($s: ID!) { receiveStock(skuId: $s, locationId: \"store-a\", quantity: 1, reason: \" \") { onHand } }", json!({ "s": tee })).await;
    assert_eq!(no_reason.error_field(), Some("reason"));

    let near = app
        .graphql(None, "query($s: ID!) { availability(skuId: $s, near: { lat: 31.23, lng: 121.47 }) { available location { id kind } distanceMeters } }", json!({ "s": tee }))
        .await;
    let ids: Vec<&str> = near.ok()["availability"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["location"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["store-a", "wh-minhang", "store-c"]);

    use sea_orm::{EntityTrait, QueryOrder};
    let moves = product::store::entities::movement::Entity::find()
        .order_by_asc(product::store::entities::movement::Column::At)
        .all(app.db())
        .await
        .unwrap();
    use product::store::inventory::MovementKind;
    let trail: Vec<(MovementKind, i64, &str)> = moves
        .iter()
        .map(|m| (m.kind, m.on_hand_delta, m.reason.as_str()))
        .collect();
    assert_eq!(
        trail,
        [
            (MovementKind::Receive, 100, "delivery"),
            (MovementKind::Receive, 5, "delivery"),
            (MovementKind::Receive, 3, "transfer in"),
            (MovementKind::Adjust, -1, "damaged")
        ]
    );
    assert!(
        moves[2].actor.starts_with("staff:"),
        "who did it is recorded"
    );
}

#[tokio::test]
async fn lists_and_entity_batches_cost_one_select_per_table() {
    let app = spawn().await;
    locations(&app).await;
    let mut skus = Vec::new();
    for n in 0..20 {
        skus.push(sku(&app, "apparel", &format!("P{n}"), 1_000 + n).await);
    }
    for s in &skus {
        receive(&app, s, "wh-minhang", 5).await;
    }
    let count = |statements: &[String], table: &str| {
        statements
            .iter()
            .filter(|s| s.contains(&format!("FROM \"{table}\"")))
            .count()
    };

    app.statements.start();
    let list = app.graphql(None, "{ products(first: 20) { edges { node { name skus { listPriceFen product { name } } } } } }", json!({})).await;
    let statements = app.statements.stop();
    assert_eq!(
        list.ok()["products"]["edges"][19]["node"]["skus"][0]["product"]["name"],
        "P19"
    );
    assert_eq!(
        (count(&statements, "products"), count(&statements, "skus")),
        (2, 1),
        "the page, its SKUs, their products: {statements:#?}"
    );

    let m = member(&app, "m1");
    let mut orders = Vec::new();
    for s in &skus {
        let r = place(&app, &m, json!({ "channel": "APP", "fulfilment": "SHIP", "shipTo": { "lat": 31.2, "lng": 121.4 }, "lines": [{ "skuId": s, "quantity": 1 }], "idempotencyKey": key() })).await;
        orders.push(r.ok()["placeOrder"]["id"].as_str().unwrap().to_owned());
    }
    let reps: Vec<_> = orders
        .iter()
        .map(|id| json!({ "__typename": "Order", "id": id }))
        .collect();
    app.statements.start();
    let r = app.graphql(Some(&m), "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id lines { quantity sourceLocation { id } } } } }", json!({ "r": reps })).await;
    let statements = app.statements.stop();
    assert_eq!(
        r.ok()["_entities"][19]["lines"][0]["sourceLocation"]["id"],
        "wh-minhang"
    );
    assert_eq!(
        (
            count(&statements, "orders"),
            count(&statements, "order_lines"),
            count(&statements, "locations")
        ),
        (1, 1, 1),
        "{statements:#?}"
    );
}

/// `Store.inventory` answers one entry per SKU asked, in order, zero for a
/// SKU the store does not hold (never a silent empty list), and refuses a
/// SKU that does not exist by naming it.
#[tokio::test]
async fn inventory_answers_every_sku_asked_and_names_unknown_ones() {
    let app = spawn().await;
    locations(&app).await;
    let tee = sku(&app, "apparel", "Tee", 9_900).await;
    let cap = sku(&app, "apparel", "Cap", 4_900).await;
    receive(&app, &tee, "store-a", 4).await;
    let q = "query($r: [_Any!]!, $s: [ID!]!) { _entities(representations: $r) { ... on Store { inventory(skuIds: $s) { skuId locationId onHand available } } } }";
    let store_a = json!([{ "__typename": "Store", "id": "store-a" }]);
    let r = app
        .graphql(None, q, json!({ "r": store_a, "s": [cap, tee, cap] }))
        .await;
    assert_eq!(
        r.ok()["_entities"][0]["inventory"],
        json!([
            { "skuId": cap, "locationId": "store-a", "onHand": 0, "available": 0 },
            { "skuId": tee, "locationId": "store-a", "onHand": 4, "available": 4 },
        ])
    );
    let unknown = app
        .graphql(None, q, json!({ "r": store_a, "s": [tee, "no-such-sku"] }))
        .await;
    assert_eq!(
        unknown.error_code(),
        Some("BAD_USER_INPUT"),
        "{}",
        unknown.body
    );
    assert_eq!(unknown.error_field(), Some("skuIds"));
    assert!(
        unknown.errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-sku"),
        "{}",
        unknown.body
    );
}
