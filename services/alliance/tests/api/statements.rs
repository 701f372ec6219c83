//! Closed clearing statements: closing a month, numbering, immutability,
//! late entries as adjustments, CSV that adds up to the graph's figures,
//! settlements and the open position.

use alliance::events::{WEBHOOK_FEED, WebhookFanOut};
use alliance::webhooks::Sender;
use futures::future::join_all;
use kit::config::WebhookSettings;
use kit::events::consumer::{FeedConsumer, OwnOutbox};
use kit::testing::{Reply, TestApp, WebhookReceiver, spawn};
use serde_json::{Value, json};

use crate::support::*;

const LIVE: &str = "query($b: ID!, $p: String!) { clearingStatement(brandId: $b, period: $p) { payableFen receivableFen netFen lines { counterparty { id } exchanges pointsSent pointsReceived payableFen receivableFen netFen feePoints feeFen } } }";
const CLOSE: &str = "mutation($p: String!) { closeClearingPeriod(period: $p) { id number reference brand { id } period { month } exchanges payableFen receivableFen netFen feeFen settledFen outstandingFen lines { counterparty { id } adjustment exchanges pointsSent pointsReceived payableFen receivableFen netFen feePoints feeFen } csv } }";
const ONE: &str = "query($id: ID!) { closedClearingStatement(id: $id) { id number reference netFen settledFen outstandingFen settlements { amountFen paidOn reference } lines { counterparty { id } adjustment exchanges netFen } csv } }";
const LIST: &str = "query($b: ID!) { closedClearingStatements(brandId: $b) { edges { node { id number period { month } } } } }";
const SETTLE: &str = "mutation($s: ID!, $a: Long!, $d: String!, $r: String!, $k: String!) { recordSettlement(statementId: $s, amountFen: $a, paidOn: $d, reference: $r, idempotencyKey: $k) { id amountFen paidOn reference } }";
const POSITION: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Brand { clearingPositionFen } } }";

/// Two exchanges from coffee to cinema this month: the month's name.
async fn month_with_exchanges(app: &TestApp) -> (String, String, String) {
    let (coffee, cinema) = two_programmes(app).await;
    active_terms(app, &coffee, &cinema, "0.5", 100).await;
    let m1 = member(app, "m1");
    for (n, points) in [(1, 1_000), (2, 2_400)] {
        let q = quote(app, &m1, &coffee, &cinema, points).await;
        let id = q.ok()["exchangeQuote"]["id"].as_str().unwrap().to_owned();
        confirm(app, &m1, &id, &format!("statement-x-{n}"))
            .await
            .ok();
    }
    (period(app), coffee, cinema)
}

/// Moves the clock past the end of `month` in Shanghai (both programmes'
/// zone), as the service computes it.
fn after_month(app: &TestApp, month: &str) {
    let (_, end) = alliance::domain::exchange::Period::parse(month)
        .unwrap()
        .bounds(chrono_tz::Asia::Shanghai)
        .unwrap();
    let by = end - app.now() + chrono::Duration::hours(1);
    app.clock().advance(by);
}

fn next_month(month: &str) -> String {
    let (y, m) = month.split_once('-').unwrap();
    let (y, m): (i32, u32) = (y.parse().unwrap(), m.parse().unwrap());
    if m == 12 {
        format!("{:04}-01", y + 1)
    } else {
        format!("{y:04}-{:02}", m + 1)
    }
}

fn of_brand<'a>(closed: &'a Value, brand: &str) -> &'a Value {
    closed["closeClearingPeriod"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["brand"]["id"] == brand)
        .unwrap_or_else(|| panic!("a statement for {brand}: {closed}"))
}

/// Sums a CSV column over the records of one kind.
fn csv_sum(csv: &str, record: &str, column: &str) -> i64 {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (kind, col) = (
        header.iter().position(|h| *h == "record").unwrap(),
        header.iter().position(|h| *h == column).unwrap(),
    );
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[kind] == record)
        .map(|r| r[col].parse::<i64>().unwrap())
        .sum()
}

#[tokio::test]
async fn a_closed_month_is_numbered_and_matches_the_live_statement_to_the_fen() {
    let app = spawn(&alliance::SPEC).await;
    let (month, _, _) = month_with_exchanges(&app).await;
    let live_coffee = op(&app, LIVE, json!({ "b": "coffee", "p": month })).await;
    let live_cinema = op(&app, LIVE, json!({ "b": "cinema", "p": month })).await;
    // Not before the month has ended.
    let early = app
        .graphql(Some(&app.operator_token()), CLOSE, json!({ "p": month }))
        .await;
    assert_eq!(early.error_code(), Some("BAD_USER_INPUT"), "{}", early.body);
    assert_eq!(early.error_field(), Some("period"));
    after_month(&app, &month);
    let closed = op(&app, CLOSE, json!({ "p": month })).await;
    for (brand, live) in [("coffee", &live_coffee), ("cinema", &live_cinema)] {
        let s = of_brand(&closed, brand);
        let live = &live["clearingStatement"];
        assert_eq!(s["number"], 1);
        assert_eq!(s["reference"], format!("{brand}-000001"));
        for field in ["payableFen", "receivableFen", "netFen"] {
            assert_eq!(s[field], live[field], "{brand} {field}");
        }
        let lines: Vec<Value> = s["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let mut l = l.clone();
                assert_eq!(l["adjustment"], false);
                l.as_object_mut().unwrap().remove("adjustment");
                l
            })
            .collect();
        assert_eq!(Value::Array(lines), live["lines"], "{brand}");
        // The CSV adds up to the same figures.
        let csv = s["csv"].as_str().unwrap();
        for (column, field) in [
            ("payable_fen", "payableFen"),
            ("receivable_fen", "receivableFen"),
            ("net_fen", "netFen"),
            ("fee_fen", "feeFen"),
        ] {
            let want: i64 = s[field]
                .as_str()
                .map_or_else(|| s[field].as_i64().unwrap(), |v| v.parse().unwrap());
            assert_eq!(csv_sum(csv, "EXCHANGE", column), want, "{brand} {column}");
            assert_eq!(csv_sum(csv, "TOTAL", column), want, "{brand} {column}");
        }
        assert_eq!(csv.lines().filter(|l| l.contains(",EXCHANGE,")).count(), 2);
        assert_eq!(
            s["outstandingFen"].as_i64().unwrap(),
            s["netFen"].as_i64().unwrap().abs()
        );
    }
    // Closing again answers the same statements, and so do identical
    // closings at once.
    let operator = app.operator_token();
    let again =
        join_all((0..8).map(|_| app.graphql(Some(&operator), CLOSE, json!({ "p": month })))).await;
    for a in again {
        assert_eq!(a.ok(), &closed);
    }
    let list = op(&app, LIST, json!({ "b": "coffee" })).await;
    assert_eq!(
        list["closedClearingStatements"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An earlier month after a later one: CONFLICT.
    let (y, _) = month.split_once('-').unwrap();
    let earlier = format!("{}-01", y.parse::<i32>().unwrap() - 1);
    let refused = app
        .graphql(Some(&app.operator_token()), CLOSE, json!({ "p": earlier }))
        .await;
    assert_eq!(refused.error_code(), Some("CONFLICT"), "{}", refused.body);
}

#[tokio::test]
async fn identical_closings_racing_on_a_fresh_month_make_one_statement_per_brand() {
    let app = spawn(&alliance::SPEC).await;
    let (month, _, _) = month_with_exchanges(&app).await;
    after_month(&app, &month);
    let operator = app.operator_token();
    let answers =
        join_all((0..10).map(|_| app.graphql(Some(&operator), CLOSE, json!({ "p": month })))).await;
    let first = answers[0].ok().clone();
    for a in &answers {
        assert_eq!(a.ok(), &first, "{}", a.body);
    }
    for brand in ["coffee", "cinema"] {
        let list = op(&app, LIST, json!({ "b": brand })).await;
        assert_eq!(
            list["closedClearingStatements"]["edges"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn an_entry_committed_after_its_month_closed_is_an_adjustment_of_the_next() {
    use sea_orm::{ActiveModelTrait, Set};
    let app = spawn(&alliance::SPEC).await;
    let (month, _, _) = month_with_exchanges(&app).await;
    let (start, _) = alliance::domain::exchange::Period::parse(&month)
        .unwrap()
        .bounds(chrono_tz::Asia::Shanghai)
        .unwrap();
    after_month(&app, &month);
    op(&app, CLOSE, json!({ "p": month })).await;
    // An exchange made in the closed month whose clearing entry committed
    // after the close (a transaction that was still open then).
    alliance::store::entities::clearing_entry::ActiveModel {
        id: Set("late-entry".into()),
        exchange_id: Set("late-exchange".into()),
        brand_id: Set("coffee".into()),
        counterparty_brand_id: Set("cinema".into()),
        points_sent: Set(100),
        points_received: Set(0),
        amount_fen: Set(-99),
        fee_points: Set(1),
        fee_fen: Set(0),
        created_at: Set(kit::time::to_micros(start) + 1),
        statement_id: Set(None),
    }
    .insert(app.db())
    .await
    .unwrap();
    // The closed statement did not change.
    let first = op(&app, LIST, json!({ "b": "coffee" })).await["closedClearingStatements"]["edges"]
        [0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = op(&app, ONE, json!({ "id": first })).await;
    let next = next_month(&month);
    after_month(&app, &next);
    let closed = op(&app, CLOSE, json!({ "p": next })).await;
    let s = of_brand(&closed, "coffee");
    assert_eq!(s["number"], 2);
    assert_eq!(s["netFen"], -99);
    let lines = s["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["adjustment"], true);
    assert_eq!(lines[0]["counterparty"]["id"], "cinema");
    assert!(s["csv"].as_str().unwrap().contains("late-exchange"));
    assert_eq!(op(&app, ONE, json!({ "id": first })).await, before);
}

#[tokio::test]
async fn settlements_pay_down_a_statement_and_the_open_position() {
    let app = spawn(&alliance::SPEC).await;
    let (month, _, _) = month_with_exchanges(&app).await;
    after_month(&app, &month);
    let closed = op(&app, CLOSE, json!({ "p": month })).await;
    let s = of_brand(&closed, "cinema");
    let (id, net) = (
        s["id"].as_str().unwrap().to_owned(),
        s["netFen"].as_i64().unwrap(),
    );
    assert!(net > 0, "cinema is owed: {s}");
    async fn position(app: &TestApp) -> i64 {
        let vars = json!({ "r": [{ "__typename": "Brand", "id": "cinema" }] });
        op(app, POSITION, vars).await["_entities"][0]["clearingPositionFen"]
            .as_i64()
            .unwrap()
    }
    assert_eq!(position(&app).await, net);
    let today = app.now().date_naive().to_string();
    let settle = |amount: i64, key: &str| json!({ "s": id, "a": amount, "d": today, "r": "bank-ref-1", "k": key });
    op(&app, SETTLE, settle(net - 1, "settle-key-1")).await;
    // The same key again replays; too much is refused and writes nothing.
    op(&app, SETTLE, settle(net - 1, "settle-key-1")).await;
    let over = app
        .graphql(
            Some(&app.operator_token()),
            SETTLE,
            settle(2, "settle-key-2"),
        )
        .await;
    assert_eq!(over.error_field(), Some("amountFen"), "{}", over.body);
    let one = op(&app, ONE, json!({ "id": id })).await;
    assert_eq!(one["closedClearingStatement"]["settledFen"], net - 1);
    assert_eq!(one["closedClearingStatement"]["outstandingFen"], 1);
    assert_eq!(position(&app).await, 1);
    // Two payments of the last fen at once: one is recorded.
    let operator = app.operator_token();
    let racing = join_all((0..6).map(|n| {
        app.graphql(
            Some(&operator),
            SETTLE,
            settle(1, &format!("settle-race-{n}")),
        )
    }))
    .await;
    assert_eq!(racing.iter().filter(|r| r.errors().is_empty()).count(), 1);
    let one = op(&app, ONE, json!({ "id": id })).await;
    assert_eq!(one["closedClearingStatement"]["outstandingFen"], 0);
    assert_eq!(
        one["closedClearingStatement"]["settlements"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(position(&app).await, 0);
    // A payment dated before the month or after tomorrow is refused.
    for date in ["1900-01-01", "2999-01-01"] {
        let r = app
            .graphql(
                Some(&app.operator_token()),
                SETTLE,
                json!({ "s": id, "a": 1, "d": date, "r": "x", "k": "settle-key-8" }),
            )
            .await;
        assert_eq!(r.error_field(), Some("paidOn"), "{date}: {}", r.body);
    }
    // Bad input: a date that is not one, nothing to pay.
    let bad = app
        .graphql(
            Some(&app.operator_token()),
            SETTLE,
            json!({ "s": id, "a": 1, "d": "5/12/2026", "r": "x", "k": "settle-key-9" }),
        )
        .await;
    assert_eq!(bad.error_field(), Some("paidOn"));
}

#[tokio::test]
async fn statements_are_the_brands_own_and_closing_them_tells_its_webhooks() {
    let app = spawn(&alliance::SPEC).await;
    let (month, _, _) = month_with_exchanges(&app).await;
    let coffee_hook = WebhookReceiver::start(&[], Reply::Status(200));
    let cinema_hook = WebhookReceiver::start(&[], Reply::Status(200));
    let manage = |brand: &str| {
        let scopes = kit::auth::Scopes::parse_list("manage_webhooks").unwrap();
        app.token(kit::auth::TokenRequest::partner_scoped(
            format!("k-{brand}"),
            brand,
            scopes,
        ))
    };
    for (brand, hook) in [("coffee", &coffee_hook), ("cinema", &cinema_hook)] {
        app.graphql(
            Some(&manage(brand)),
            "mutation($b: ID!, $u: String!) { registerWebhookEndpoint(brandId: $b, url: $u, events: [STATEMENT_CLOSED], idempotencyKey: \"statement-hook\") { endpoint { id } } }",
            json!({ "b": brand, "u": hook.url }),
        )
        .await
        .ok();
    }
    after_month(&app, &month);
    let closed = op(&app, CLOSE, json!({ "p": month })).await;
    FeedConsumer::from_source(
        WEBHOOK_FEED,
        OwnOutbox::new(WEBHOOK_FEED, app.db().clone(), app.clock().clone()),
        app.db().clone(),
        app.clock().clone(),
        WebhookFanOut,
    )
    .catch_up()
    .await
    .unwrap();
    Sender::new(
        app.db().clone(),
        app.clock().clone(),
        WebhookSettings {
            allow_private_urls: true,
            ..WebhookSettings::default()
        },
    )
    .deliver_due()
    .await
    .unwrap();
    for (brand, hook) in [("coffee", &coffee_hook), ("cinema", &cinema_hook)] {
        let got = hook.got();
        assert_eq!(got.len(), 1, "{brand}");
        let body: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(body["type"], "statement.closed");
        assert_eq!(body["data"]["statementId"], of_brand(&closed, brand)["id"]);
        assert_eq!(body["data"]["netFen"], of_brand(&closed, brand)["netFen"]);
    }
    // Read: the brand's own partner with READ_STATEMENTS; nobody else.
    let coffee_id = of_brand(&closed, "coffee")["id"].clone();
    let reader = |brand: &str, scope: &str| {
        let scopes = kit::auth::Scopes::parse_list(scope).unwrap();
        app.token(kit::auth::TokenRequest::partner_scoped(
            format!("r-{brand}"),
            brand,
            scopes,
        ))
    };
    let own = app
        .graphql(
            Some(&reader("coffee", "read_statements")),
            ONE,
            json!({ "id": coffee_id }),
        )
        .await;
    assert_eq!(own.ok()["closedClearingStatement"]["id"], coffee_id);
    for token in [
        reader("cinema", "read_statements"),
        reader("coffee", "earn"),
        member(&app, "m1"),
    ] {
        let r = app
            .graphql(Some(&token), ONE, json!({ "id": coffee_id }))
            .await;
        assert_eq!(r.error_code(), Some("FORBIDDEN"), "{}", r.body);
    }
    // Closing and settling are operators' only.
    let partner = reader("coffee", "read_statements");
    let close = app
        .graphql(Some(&partner), CLOSE, json!({ "p": month }))
        .await;
    assert_eq!(close.error_code(), Some("FORBIDDEN"));
    let settle = app
        .graphql(
            Some(&partner),
            SETTLE,
            json!({ "s": coffee_id, "a": 1, "d": "2026-12-05", "r": "x", "k": "settle-key-p" }),
        )
        .await;
    assert_eq!(settle.error_code(), Some("FORBIDDEN"));
}
