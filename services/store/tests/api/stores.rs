use kit::auth::TokenRequest;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn operators_create_stores_and_anyone_reads_them() {
    let app = spawn().await;
    let mut input = store_input("Threadline People's Square", 31.2317, 121.4726);
    input["kind"] = json!("FRANCHISE");
    input["franchisee"] = json!("Huangpu Retail Co.");
    let r = app
        .graphql(
            Some(&app.operator_token()),
            CREATE,
            json!({ "input": input }),
        )
        .await;
    let created = &r.ok()["createStore"];
    assert_eq!(created["kind"], "FRANCHISE");
    assert_eq!(created["franchisee"], "Huangpu Retail Co.");
    assert_eq!(created["status"], "OPEN");
    assert_eq!(created["openNow"], true, "open 00:00-24:00 every day");
    let id = created["id"].as_str().unwrap();

    let read = app
        .graphql(None, "query($id: ID!) { store(id: $id) { name brand { id } openingHours { weekday intervals { opens closes } } phone } }", json!({ "id": id }))
        .await;
    let store = &read.ok()["store"];
    assert_eq!(store["brand"]["id"], "apparel");
    assert_eq!(
        store["openingHours"][0],
        json!({ "weekday": "MONDAY", "intervals": [{ "opens": "00:00", "closes": "24:00" }] })
    );

    for token in [
        app.token(TokenRequest::member("m1")),
        staff_token(&app, id, "apparel"),
    ] {
        let denied = app
            .graphql(
                Some(&token),
                CREATE,
                json!({ "input": store_input("x", 0.0, 0.0) }),
            )
            .await;
        assert_eq!(denied.error_code(), Some("FORBIDDEN"));
    }
    assert_eq!(
        app.graphql(None, CREATE, json!({ "input": store_input("x", 0.0, 0.0) }))
            .await
            .error_code(),
        Some("UNAUTHENTICATED")
    );
    let missing = app
        .graphql(None, "{ store(id: \"nope\") { id } }", json!({}))
        .await;
    assert_eq!(missing.error_code(), Some("NOT_FOUND"));
}

#[tokio::test]
async fn store_inputs_are_checked() {
    let app = spawn().await;
    let base = store_input("Good", 31.0, 121.0);
    let cases = [
        ("franchisee", json!({ "kind": "FRANCHISE" })),
        ("franchisee", json!({ "franchisee": "Someone" })),
        (
            "latitude",
            json!({ "location": { "latitude": 91.0, "longitude": 0.0 } }),
        ),
        (
            "longitude",
            json!({ "location": { "latitude": 0.0, "longitude": 181.0 } }),
        ),
        ("timeZone", json!({ "timeZone": "Shanghai" })),
        (
            "hours",
            json!({ "hours": [{ "weekday": "MONDAY", "opens": "9:00", "closes": "18:00" }] }),
        ),
        (
            "hours",
            json!({ "hours": [{ "weekday": "MONDAY", "opens": "09:00", "closes": "12:00" }, { "weekday": "MONDAY", "opens": "11:00", "closes": "13:00" }] }),
        ),
        ("name", json!({ "name": "  " })),
        ("phone", json!({ "phone": "call me" })),
        ("brandId", json!({ "brandId": "bad brand" })),
    ];
    for (field, change) in cases {
        let mut input = base.clone();
        for (k, v) in change.as_object().unwrap() {
            input[k] = v.clone();
        }
        let r = app
            .graphql(
                Some(&app.operator_token()),
                CREATE,
                json!({ "input": input }),
            )
            .await;
        assert_eq!(
            r.error_code(),
            Some("BAD_USER_INPUT"),
            "{field}: {}",
            r.body
        );
        assert_eq!(r.error_field(), Some(field), "{}", r.body);
    }
}

#[tokio::test]
async fn staff_run_their_own_stores_hours_and_status() {
    let app = spawn().await;
    let id = create_store(&app, store_input("Mine", 31.2, 121.4)).await;
    let other = create_store(&app, store_input("Theirs", 31.3, 121.5)).await;
    let set_hours = "mutation($id: ID!, $h: [OpeningIntervalInput!]!, $x: [HoursExceptionInput!]) { setStoreHours(storeId: $id, hours: $h, exceptions: $x) { openNow hoursExceptions { date closed } } }";
    let set_status = "mutation($id: ID!, $s: StoreStatus!) { setStoreStatus(storeId: $id, status: $s) { status openNow } }";
    let staff = staff_token(&app, &id, "apparel");

    let closed_all_week = app
        .graphql(
            Some(&staff),
            set_hours,
            json!({ "id": id, "h": [], "x": [{ "date": "2026-10-01", "intervals": [] }] }),
        )
        .await;
    assert_eq!(closed_all_week.ok()["setStoreHours"]["openNow"], false);
    assert_eq!(
        closed_all_week.ok()["setStoreHours"]["hoursExceptions"],
        json!([{ "date": "2026-10-01", "closed": true }])
    );
    let reopened = app
        .graphql(
            Some(&staff),
            set_hours,
            json!({ "id": id, "h": every_day("00:00", "24:00") }),
        )
        .await;
    assert_eq!(reopened.ok()["setStoreHours"]["openNow"], true);
    let paused = app
        .graphql(
            Some(&staff),
            set_status,
            json!({ "id": id, "s": "TEMPORARILY_CLOSED" }),
        )
        .await;
    assert_eq!(
        paused.ok()["setStoreStatus"],
        json!({ "status": "TEMPORARILY_CLOSED", "openNow": false })
    );

    for token in [
        staff.clone(),
        app.token(TokenRequest::member("m1")),
        app.token(TokenRequest::partner("k", "apparel")),
    ] {
        let denied = app
            .graphql(
                Some(&token),
                set_status,
                json!({ "id": other, "s": "CLOSED" }),
            )
            .await;
        assert_eq!(denied.error_code(), Some("FORBIDDEN"), "{}", denied.body);
    }
    let operator = app
        .graphql(
            Some(&app.operator_token()),
            set_status,
            json!({ "id": other, "s": "CLOSED" }),
        )
        .await;
    assert_eq!(operator.ok()["setStoreStatus"]["status"], "CLOSED");
    // Staff may not edit the description itself.
    let rename =
        "mutation($id: ID!) { updateStore(id: $id, input: { name: \"Renamed\" }) { name } }";
    assert_eq!(
        app.graphql(Some(&staff), rename, json!({ "id": id }))
            .await
            .error_code(),
        Some("FORBIDDEN")
    );
    let renamed = app
        .graphql(Some(&app.operator_token()), rename, json!({ "id": id }))
        .await;
    assert_eq!(renamed.ok()["updateStore"]["name"], "Renamed");
    let bad = app
        .graphql(
            Some(&app.operator_token()),
            "mutation($id: ID!) { updateStore(id: $id, input: { franchisee: \"X\" }) { name } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        bad.error_field(),
        Some("franchisee"),
        "a DIRECT store has no franchisee"
    );
}

#[tokio::test]
async fn brands_list_their_stores_and_stores_resolve_as_entities() {
    let app = spawn().await;
    let a = create_store(&app, store_input("A", 31.2, 121.4)).await;
    let b = create_store(&app, store_input("B", 31.3, 121.5)).await;
    let mut coffee = store_input("C", 31.3, 121.5);
    coffee["brandId"] = json!("coffee");
    create_store(&app, coffee).await;
    let r = app
        .graphql(
            None,
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Brand { id stores(first: 1) { edges { node { id } } pageInfo { hasNextPage endCursor } } } ... on Store { id name } } }",
            json!({ "r": [{ "__typename": "Brand", "id": "apparel" }, { "__typename": "Store", "id": b }] }),
        )
        .await;
    let entities = &r.ok()["_entities"];
    assert_eq!(entities[0]["stores"]["edges"][0]["node"]["id"], a.as_str());
    assert_eq!(entities[0]["stores"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(entities[1]["name"], "B");
}

#[tokio::test]
async fn entity_batches_cost_one_select_per_table() {
    let app = spawn().await;
    let mut stores = Vec::new();
    let mut guides = Vec::new();
    for n in 0..20 {
        let store = create_store(&app, store_input(&format!("S{n}"), 31.2, 121.4)).await;
        guides.push(create_guide(&app, &store, &format!("G{n}")).await.0);
        stores.push(store);
    }
    let count = |statements: &[String], table: &str| {
        statements
            .iter()
            .filter(|s| s.contains(&format!("FROM \"{table}\"")))
            .count()
    };

    let reps: Vec<_> = stores
        .iter()
        .map(|id| json!({ "__typename": "Store", "id": id }))
        .collect();
    app.statements.start();
    let r = app
        .graphql(
            None,
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Store { id name } } }",
            json!({ "r": reps }),
        )
        .await;
    let statements = app.statements.stop();
    assert_eq!(r.ok()["_entities"].as_array().unwrap().len(), 20);
    assert_eq!(count(&statements, "stores"), 1, "{statements:#?}");

    let reps: Vec<_> = guides
        .iter()
        .map(|id| json!({ "__typename": "Guide", "id": id }))
        .collect();
    app.statements.start();
    let r = app.graphql(None, "query($r: [_Any!]!) { _entities(representations: $r) { ... on Guide { id store { name } } } }", json!({ "r": reps })).await;
    let statements = app.statements.stop();
    assert_eq!(r.ok()["_entities"][19]["store"]["name"], "S19");
    assert_eq!(
        (count(&statements, "guides"), count(&statements, "stores")),
        (1, 1),
        "{statements:#?}"
    );
}

/// `openNow` is judged at the service's clock, in the store's own zone: a
/// Paris store (Paris has summer time) is open in a window around its local
/// time now, closed in a window an hour later, and closed by an exception
/// for its local today. Run at a DST change (`BIGMEMBER_TEST_NOW`), this
/// crosses it.
#[tokio::test]
async fn open_now_is_judged_at_the_services_clock_in_the_stores_zone() {
    use chrono::{Datelike as _, Timelike as _};
    let app = spawn().await;
    let mut input = store_input("Rive Gauche", 48.85, 2.35);
    input["timeZone"] = json!("Europe/Paris");
    let id = create_store(&app, input).await;
    let local = app.now().with_timezone(&chrono_tz::Europe::Paris);
    let weekday = [
        "MONDAY",
        "TUESDAY",
        "WEDNESDAY",
        "THURSDAY",
        "FRIDAY",
        "SATURDAY",
        "SUNDAY",
    ][local.weekday().num_days_from_monday() as usize];
    let minute = local.hour() * 60 + local.minute();
    let clock = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    let set_hours = "mutation($id: ID!, $h: [OpeningIntervalInput!]!, $x: [HoursExceptionInput!]) { setStoreHours(storeId: $id, hours: $h, exceptions: $x) { openNow } }";
    let open_now = |hours: Value, exceptions: Value| {
        let app = &app;
        let id = id.clone();
        async move {
            app.graphql(
                Some(&app.operator_token()),
                set_hours,
                json!({ "id": id, "h": hours, "x": exceptions }),
            )
            .await
            .ok()["setStoreHours"]["openNow"]
                .clone()
        }
    };
    let around = json!([{ "weekday": weekday,
        "opens": clock(minute.saturating_sub(30)), "closes": clock((minute + 30).min(1440)) }]);
    assert_eq!(open_now(around.clone(), json!([])).await, true, "{local}");
    let closes = match (minute + 90) % 1440 {
        0 => 1440,
        m => m,
    };
    let later = json!([{ "weekday": weekday, "opens": clock((minute + 60) % 1440), "closes": clock(closes) }]);
    assert_eq!(open_now(later, json!([])).await, false, "{local}");
    let today = json!([{ "date": local.date_naive().to_string(), "intervals": [] }]);
    assert_eq!(
        open_now(around, today).await,
        false,
        "closed today, {local}"
    );
}

/// Stores, guides and their rules belong to live brands: a partner's
/// sandbox (`<brand>-sandbox`) has none, so no order can earn there.
#[tokio::test]
async fn a_partners_sandbox_has_no_stores_or_rules() {
    let app = spawn().await;
    let op = app.operator_token();
    let mut input = store_input("Sandbox Street", 31.2317, 121.4726);
    input["brandId"] = json!("apparel-sandbox");
    let store = app
        .graphql(Some(&op), CREATE, json!({ "input": input }))
        .await;
    for (name, r) in [
        ("createStore", store),
        (
            "setCommissionRule",
            app.graphql(
                Some(&op),
                "mutation { setCommissionRule(brandId: \"apparel-sandbox\", storeKind: DIRECT, basisPoints: 300) { basisPoints } }",
                json!({}),
            )
            .await,
        ),
        (
            "setAttributionRules",
            app.graphql(
                Some(&op),
                "mutation { setAttributionRules(brandId: \"apparel-sandbox\", bindingDays: 30, protectionDays: 7, onGuideDeparture: RELEASE) { brandId } }",
                json!({}),
            )
            .await,
        ),
    ] {
        assert_eq!(r.error_code(), Some("BAD_USER_INPUT"), "{name}: {}", r.body);
        assert_eq!(r.error_field(), Some("brandId"), "{name}");
    }
}
