//! Members own their data: export everything, erase personal data.

use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, JsonValue, Statement};
use serde_json::json;

use crate::support::*;

const PERSONAL: [&str; 6] = [
    "Wang Fang",
    "+8613800000006",
    "wang.fang@example.com",
    "1988-08-08",
    "oa-personal-1",
    "app-personal-1",
];

#[tokio::test]
async fn export_returns_everything_held_about_the_member() {
    let app = spawn().await;
    let id = registered_with_history(&app).await;
    let export = app
        .graphql(
            Some(&member_token(&app, &id)),
            "mutation { exportMyData }",
            json!({}),
        )
        .await;
    let export = &export.ok()["exportMyData"];
    assert_eq!(export["memberId"], id.as_str());
    assert_eq!(export["memberIds"], json!([id]));
    // Alone, the member service has no other service to gather from.
    let services: Vec<&String> = export["services"].as_object().unwrap().keys().collect();
    assert_eq!(services, ["member"]);
    let data = &export["services"]["member"];
    assert_eq!(data["member"]["id"], id.as_str());
    assert_eq!(data["member"]["name"], "Wang Fang");
    assert_eq!(data["member"]["phone"], "+8613800000006");
    assert_eq!(data["identities"].as_array().unwrap().len(), 2);
    assert_eq!(data["tags"][0]["tag"], "coffee-lover");
    assert_eq!(data["consents"][0]["purpose"], "MARKETING_EMAIL");
    let kinds: Vec<&str> = data["touchpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["STORE_VISIT", "REGISTERED"]);
    assert_eq!(data["tierChanges"][0]["to"], "SILVER");
}

#[tokio::test]
async fn erasure_leaves_no_personal_data_in_any_table() {
    let app = spawn().await;
    let id = registered_with_history(&app).await;
    let before = dump_all_tables(&app).await;
    for value in PERSONAL {
        assert!(
            before.contains(value),
            "the dump finds {value} before erasure"
        );
    }

    let erased = app
        .graphql(
            Some(&member_token(&app, &id)),
            "mutation($id: ID!) { eraseMember(memberId: $id) { id status tier } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        erased.ok()["eraseMember"],
        json!({ "id": id, "status": "ERASED", "tier": "SILVER" })
    );

    let after = dump_all_tables(&app).await;
    for value in PERSONAL {
        assert!(!after.contains(value), "{value} survived erasure");
    }
    // The id and non-personal history stay.
    let op = operator(&app);
    let m = app
        .graphql(Some(&op), "query($id: ID!) { member(id: $id) { id status name identities { channel } tags timeline { edges { node { kind attributes } } } } }", json!({ "id": id }))
        .await;
    let m = &m.ok()["member"];
    assert_eq!(m["status"], "ERASED");
    assert_eq!(m["name"], json!(null));
    assert_eq!(m["identities"], json!([]));
    assert_eq!(m["tags"], json!([]));
    assert_eq!(m["timeline"]["edges"].as_array().unwrap().len(), 2);
    assert_eq!(m["timeline"]["edges"][0]["node"]["attributes"], json!({}));
    // The identity no longer finds anyone, and can register afresh.
    let lookup = app
        .graphql(
            Some(&op),
            "{ memberByIdentity(channel: APP, externalId: \"app-personal-1\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(lookup.ok()["memberByIdentity"], json!(null));
    // Erasing again changes nothing; changing an erased member conflicts.
    let again = app
        .graphql(
            Some(&op),
            "mutation($id: ID!) { eraseMember(memberId: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(again.ok()["eraseMember"]["status"], "ERASED");
    let tag = app
        .graphql(
            Some(&op),
            "mutation($id: ID!) { addTags(memberId: $id, tags: [\"x\"]) { id } }",
            json!({ "id": id }),
        )
        .await;
    // An erased member is no one to act for.
    assert_eq!(tag.error_code(), Some("FORBIDDEN"));
    assert!(
        tag.errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains("erased")
    );
}

async fn registered_with_history(app: &kit::testing::TestApp) -> String {
    let r = register(
        app,
        None,
        json!({
            "identity": { "channel": "APP", "externalId": "app-personal-1", "brandId": "apparel" },
            "phone": "13800000006", "email": "wang.fang@example.com", "name": "Wang Fang",
            "birthday": "1988-08-08", "gender": "FEMALE",
        }),
    )
    .await;
    let id = r.ok()["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = member_token(app, &id);
    let op = operator(app);
    app.graphql(Some(&token), "mutation($id: ID!) { linkIdentity(memberId: $id, identity: { channel: WECHAT_OFFICIAL_ACCOUNT, externalId: \"oa-personal-1\" }) { outcome } }", json!({ "id": id })).await.ok();
    app.graphql(
        Some(&op),
        "mutation($id: ID!) { addTags(memberId: $id, tags: [\"coffee-lover\"]) { id } }",
        json!({ "id": id }),
    )
    .await
    .ok();
    app.graphql(Some(&token), "mutation($id: ID!) { setConsent(memberId: $id, purpose: MARKETING_EMAIL, granted: true) { id } }", json!({ "id": id })).await.ok();
    app.graphql(
        Some(&token),
        "mutation($id: ID!) { recordTouchpoint(input: { memberId: $id, kind: STORE_VISIT, channel: STORE_POS, occurredAt: \"2026-01-01T10:00:00Z\", attributes: { note: \"asked for Wang Fang\" } }) { id } }",
        json!({ "id": id }),
    )
    .await
    .ok();
    app.graphql(Some(&op), "mutation($id: ID!) { adjustGrowthValue(memberId: $id, delta: 1500, reason: \"orders Wang Fang made in store\") { id } }", json!({ "id": id })).await.ok();
    id
}

/// Every row of every table in the test database, as text.
async fn dump_all_tables(app: &kit::testing::TestApp) -> String {
    let db = app.db();
    let backend = db.get_database_backend();
    let catalog = match backend {
        DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    let tables = JsonValue::find_by_statement(Statement::from_string(backend, catalog))
        .all(db)
        .await
        .unwrap();
    let names: Vec<String> = tables
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "members",
        "member_identities",
        "member_tags",
        "touchpoints",
        "consents",
        "tier_changes",
        "member_merges",
        "outbox_events",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "table {expected} is in the catalog: {names:?}"
        );
    }
    let mut dump = String::new();
    for name in names {
        let select = Query::select()
            .expr(Expr::cust("*"))
            .from(Alias::new(name.as_str()))
            .to_owned();
        let rows = JsonValue::find_by_statement(backend.build(&select))
            .all(db)
            .await
            .unwrap();
        dump.push_str(&serde_json::to_string(&rows).unwrap());
    }
    dump
}

/// An export is all or nothing: a service that does not give its part
/// makes the export fail, naming the service, rather than leave its part
/// out.
#[tokio::test]
async fn an_export_missing_a_part_is_refused_not_shortened() {
    let app = spawn().await;
    let id = registered_with_history(&app).await;
    // Nothing listens on port 9 of this machine.
    app.ctx.member_data.connect("product", "http://127.0.0.1:9");
    let export = app
        .graphql(
            Some(&member_token(&app, &id)),
            "mutation { exportMyData }",
            json!({}),
        )
        .await;
    assert_eq!(
        export.error_code(),
        Some("SUBGRAPH_UNAVAILABLE"),
        "{}",
        export.body
    );
    assert_eq!(export.errors()[0]["extensions"]["serviceName"], "product");
    assert!(export.body["data"].is_null(), "{}", export.body);
}

/// Operators' reasons (for a tier change, for a merge) may name the
/// member: erasure clears them, on the member's record and on the records
/// merged into it; the changes themselves stay.
#[tokio::test]
async fn erasure_clears_operators_reasons_about_the_member() {
    let app = spawn().await;
    let op = operator(&app);
    let mut ids = Vec::new();
    for external in ["app-reason-1", "app-reason-2"] {
        let r = register(
            &app,
            None,
            json!({ "identity": { "channel": "APP", "externalId": external, "brandId": "apparel" } }),
        )
        .await;
        ids.push(
            r.ok()["registerMember"]["member"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (id, older) = (&ids[0], &ids[1]);
    app.graphql(
        Some(&op),
        "mutation($id: ID!) { setMemberTier(memberId: $id, tier: \"GOLD\", reason: \"Zhao Min is the CEO's niece\") { id } }",
        json!({ "id": older }),
    )
    .await
    .ok();
    app.graphql(
        Some(&op),
        "mutation($s: ID!, $m: ID!) { mergeMembers(survivorId: $s, mergedId: $m, reason: \"Zhao Min's older record\") { id } }",
        json!({ "s": id, "m": older }),
    )
    .await
    .ok();
    assert!(dump_all_tables(&app).await.contains("Zhao Min"));
    app.graphql(
        Some(&op),
        "mutation($id: ID!) { eraseMember(memberId: $id) { status } }",
        json!({ "id": id }),
    )
    .await
    .ok();
    assert!(
        !dump_all_tables(&app).await.contains("Zhao Min"),
        "a reason naming the member survived erasure"
    );
    let history = app
        .graphql(
            Some(&op),
            "query($id: ID!) { member(id: $id) { tier tierHistory { toTier reason } } }",
            json!({ "id": id }),
        )
        .await;
    let m = &history.ok()["member"];
    assert_eq!(m["tier"], "GOLD", "the changes stay: {m}");
}
