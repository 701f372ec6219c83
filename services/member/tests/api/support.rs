//! Shared steps for the member API tests.

use kit::auth::TokenRequest;
use kit::testing::{GraphqlResponse, TestApp};
use serde_json::{Value, json};

pub async fn spawn() -> TestApp {
    kit::testing::spawn(&member::SPEC).await
}

pub const REGISTER: &str = r#"
mutation Register($input: RegisterMemberInput!) {
  registerMember(input: $input) { outcome member { id status tier } }
}"#;

pub const MEMBER: &str = r#"
query Member($id: ID!) {
  member(id: $id) {
    id status tier name phone email birthday gender guideCode growthValue
    registrationChannel tags
    identities { channel externalId brandId }
    consents { purpose granted changedAt }
  }
}"#;

pub fn operator(app: &TestApp) -> String {
    app.operator_token()
}

pub fn member_token(app: &TestApp, id: &str) -> String {
    app.token(TokenRequest::member(id))
}

pub fn staff_token(app: &TestApp, brand: &str) -> String {
    app.token(TokenRequest::staff("guide-1", "store-1", brand))
}

pub fn partner_token(app: &TestApp, brand: &str) -> String {
    app.token(TokenRequest::partner("key-1", brand))
}

pub async fn register(app: &TestApp, token: Option<&str>, input: Value) -> GraphqlResponse {
    app.graphql(token, REGISTER, json!({ "input": input }))
        .await
}

/// Registers through the app of `brand` and returns the member id.
pub async fn register_member(
    app: &TestApp,
    external_id: &str,
    phone: Option<&str>,
    brand: &str,
) -> String {
    let response = register(
        app,
        None,
        json!({
            "identity": { "channel": "APP", "externalId": external_id, "brandId": brand },
            "phone": phone,
            "name": "Test Member",
        }),
    )
    .await;
    response.ok()["registerMember"]["member"]["id"]
        .as_str()
        .expect("member id")
        .to_owned()
}

pub async fn member(app: &TestApp, token: &str, id: &str) -> GraphqlResponse {
    app.graphql(Some(token), MEMBER, json!({ "id": id })).await
}
