use serde_json::json;

use crate::support::*;

const LINK: &str = r#"mutation L($id: ID!, $identity: IdentityInput!) {
  linkIdentity(memberId: $id, identity: $identity) { outcome member { id identities { channel externalId } } }
}"#;
const UNLINK: &str = r#"mutation U($id: ID!, $channel: Channel!, $ext: String!) {
  unlinkIdentity(memberId: $id, channel: $channel, externalId: $ext) { id identities { channel externalId } }
}"#;
const BY_IDENTITY: &str = r#"query B($channel: Channel!, $ext: String!) { memberByIdentity(channel: $channel, externalId: $ext) { id } }"#;

#[tokio::test]
async fn a_member_links_and_unlinks_identities_and_any_of_them_finds_the_member() {
    let app = spawn().await;
    let id = register_member(&app, "app-1", None, "apparel").await;
    let token = member_token(&app, &id);

    let linked = app
        .graphql(Some(&token), LINK, json!({ "id": id, "identity": { "channel": "WECHAT_OFFICIAL_ACCOUNT", "externalId": "oa-1" } }))
        .await;
    assert_eq!(linked.ok()["linkIdentity"]["outcome"], "LINKED");
    assert_eq!(
        linked.ok()["linkIdentity"]["member"]["identities"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let again = app
        .graphql(Some(&token), LINK, json!({ "id": id, "identity": { "channel": "WECHAT_OFFICIAL_ACCOUNT", "externalId": "oa-1" } }))
        .await;
    assert_eq!(again.ok()["linkIdentity"]["outcome"], "ALREADY_LINKED");

    let staff = staff_token(&app, "apparel");
    for (channel, ext) in [("APP", "app-1"), ("WECHAT_OFFICIAL_ACCOUNT", "oa-1")] {
        let found = app
            .graphql(
                Some(&staff),
                BY_IDENTITY,
                json!({ "channel": channel, "ext": ext }),
            )
            .await;
        assert_eq!(found.ok()["memberByIdentity"]["id"], id.as_str());
    }
    let nobody = app
        .graphql(
            Some(&staff),
            BY_IDENTITY,
            json!({ "channel": "APP", "ext": "unknown" }),
        )
        .await;
    assert_eq!(nobody.ok()["memberByIdentity"], json!(null));

    let unlinked = app
        .graphql(
            Some(&token),
            UNLINK,
            json!({ "id": id, "channel": "APP", "ext": "app-1" }),
        )
        .await;
    assert_eq!(
        unlinked.ok()["unlinkIdentity"]["identities"],
        json!([{ "channel": "WECHAT_OFFICIAL_ACCOUNT", "externalId": "oa-1" }])
    );
    let gone = app
        .graphql(
            Some(&staff),
            BY_IDENTITY,
            json!({ "channel": "APP", "ext": "app-1" }),
        )
        .await;
    assert_eq!(gone.ok()["memberByIdentity"], json!(null));
}

#[tokio::test]
async fn the_last_identity_cannot_be_removed() {
    let app = spawn().await;
    let id = register_member(&app, "app-1", None, "apparel").await;
    let response = app
        .graphql(
            Some(&member_token(&app, &id)),
            UNLINK,
            json!({ "id": id, "channel": "APP", "ext": "app-1" }),
        )
        .await;
    assert_eq!(response.error_code(), Some("CONFLICT"), "{}", response.body);
    let missing = app
        .graphql(
            Some(&member_token(&app, &id)),
            UNLINK,
            json!({ "id": id, "channel": "APP", "ext": "nope" }),
        )
        .await;
    assert_eq!(missing.error_code(), Some("NOT_FOUND"));
}

#[tokio::test]
async fn an_identity_held_by_another_member_is_a_conflict() {
    let app = spawn().await;
    let a = register_member(&app, "app-a", None, "apparel").await;
    register_member(&app, "app-b", None, "apparel").await;
    let response = app
        .graphql(
            Some(&member_token(&app, &a)),
            LINK,
            json!({ "id": a, "identity": { "channel": "APP", "externalId": "app-b" } }),
        )
        .await;
    assert_eq!(response.error_code(), Some("CONFLICT"), "{}", response.body);
}

#[tokio::test]
async fn me_returns_the_signed_in_member_only_for_members() {
    let app = spawn().await;
    let id = register_member(&app, "app-1", Some("13800000003"), "apparel").await;
    let me = app
        .graphql(
            Some(&member_token(&app, &id)),
            "{ me { id phone } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me.ok()["me"],
        json!({ "id": id, "phone": "+8613800000003" })
    );
    let op = app
        .graphql(Some(&operator(&app)), "{ me { id } }", json!({}))
        .await;
    assert_eq!(op.error_code(), Some("FORBIDDEN"));
    let anon = app.graphql(None, "{ me { id } }", json!({})).await;
    assert_eq!(anon.error_code(), Some("UNAUTHENTICATED"));
    let unknown = app
        .graphql(
            Some(&member_token(&app, "no-such-member")),
            "{ me { id } }",
            json!({}),
        )
        .await;
    assert_eq!(unknown.error_code(), Some("NOT_FOUND"));
}
