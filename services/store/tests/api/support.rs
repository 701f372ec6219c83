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
