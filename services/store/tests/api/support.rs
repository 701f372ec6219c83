use kit::auth::TokenRequest;
use kit::testing::TestApp;
use serde_json::{Value, json};

pub async fn spawn() -> TestApp {
    kit::testing::spawn(&store::SPEC).await
}

pub fn staff_token(app: &TestApp, store_id: &str, brand: &str) -> String {
    app.token(TokenRequest::staff("guide-1", store_id, brand))
}

pub const CREATE: &str = "mutation C($input: StoreInput!) { createStore(input: $input) { id name kind franchisee status timeZone openNow location { latitude longitude } } }";

pub fn store_input(name: &str, lat: f64, lng: f64) -> Value {
    json!({
        "brandId": "apparel", "name": name, "kind": "DIRECT", "address": "1 Nanjing Road",
        "location": { "latitude": lat, "longitude": lng }, "timeZone": "Asia/Shanghai",
        "hours": every_day("00:00", "24:00"), "phone": "+86 21 6321 8888",
    })
}

pub fn every_day(opens: &str, closes: &str) -> Value {
    let days = [
        "MONDAY",
        "TUESDAY",
        "WEDNESDAY",
        "THURSDAY",
        "FRIDAY",
        "SATURDAY",
        "SUNDAY",
    ];
    Value::Array(
        days.iter()
            .map(|d| json!({ "weekday": d, "opens": opens, "closes": closes }))
            .collect(),
    )
}

pub async fn create_store(app: &TestApp, input: Value) -> String {
    let r = app
        .graphql(
            Some(&app.operator_token()),
            CREATE,
            json!({ "input": input }),
        )
        .await;
    r.ok()["createStore"]["id"].as_str().unwrap().to_owned()
}

pub const CREATE_GUIDE: &str =
    "mutation($s: ID!, $n: String!) { createGuide(storeId: $s, name: $n) { id code } }";

/// Creates a guide; returns (id, code).
pub async fn create_guide(app: &TestApp, store_id: &str, name: &str) -> (String, String) {
    let r = app
        .graphql(
            Some(&app.operator_token()),
            CREATE_GUIDE,
            json!({ "s": store_id, "n": name }),
        )
        .await;
    let g = &r.ok()["createGuide"];
    (
        g["id"].as_str().unwrap().to_owned(),
        g["code"].as_str().unwrap().to_owned(),
    )
}

pub fn member_token(app: &TestApp, id: &str) -> String {
    app.token(TokenRequest::member(id))
}

pub const SCAN: &str = "mutation($c: String!) { recordGuideScan(code: $c) { result attribution { guide { id } store { id } } } }";

pub async fn scan(app: &TestApp, member: &str, code: &str) -> String {
    let r = app
        .graphql(Some(&member_token(app, member)), SCAN, json!({ "c": code }))
        .await;
    r.ok()["recordGuideScan"]["result"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub const REFERRED_BY: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { id referredBy { id } attribution { store { id } expiresAt protectedUntil cause } attributionHistory { cause fromGuideId toGuideId toStoreId } } } }";

pub async fn attribution_of(app: &TestApp, member: &str) -> Value {
    let r = app
        .graphql(
            Some(&app.operator_token()),
            REFERRED_BY,
            json!({ "r": [{ "__typename": "Member", "id": member }] }),
        )
        .await;
    r.ok()["_entities"][0].clone()
}
