//! Exchange terms, quotes, confirmations and clearing.

use alliance::store::entities::quote;
use kit::testing::{TestApp, spawn};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::*;

async fn statement(app: &TestApp, token: &str, brand: &str) -> kit::testing::GraphqlResponse {
    app.graphql(
        Some(token),
        "query($b: ID!, $p: String!) { clearingStatement(brandId: $b, period: $p) { period { month zone } payableFen receivableFen netFen lines { counterparty { id } exchanges pointsSent pointsReceived payableFen receivableFen netFen feePoints feeFen } } }",
        json!({ "b": brand, "p": period(app) }),
    )
    .await
}

#[tokio::test]
async fn terms_need_both_partners_before_members_see_them() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, cinema) = two_programmes(&app).await;
    let proposed = app
        .graphql(
            Some(&partner(&app, "coffee")),
            PROPOSE,
            terms_input(&coffee, &cinema, "0.2", 100, 100, 5_000, 50_000),
        )
        .await;
    let terms = proposed.ok()["proposeExchangeTerms"].clone();
    assert_eq!(terms["active"], false);
    assert!(
        terms["acceptedBySenderAt"].is_string(),
        "the proposer accepts its side"
    );
    let seen = "{ exchangeTerms { id active rate } }";
    let m = member(&app, "m1");
    assert_eq!(
        app.graphql(Some(&m), seen, json!({})).await.ok()["exchangeTerms"],
        json!([])
    );
    let early = quote(&app, &m, &coffee, &cinema, 1_000).await;
    assert_eq!(early.error_code(), Some("NOT_FOUND"));

    let outsider = app
        .graphql(
            Some(&partner(&app, "apparel")),
            ACCEPT,
            json!({ "t": terms["id"], "v": 1 }),
        )
        .await;
    assert_eq!(outsider.error_code(), Some("FORBIDDEN"));
    let stale = app
        .graphql(
            Some(&partner(&app, "cinema")),
            ACCEPT,
            json!({ "t": terms["id"], "v": 7 }),
        )
        .await;
    assert_eq!(stale.error_code(), Some("CONFLICT"));
    let accepted = app
        .graphql(
            Some(&partner(&app, "cinema")),
            ACCEPT,
            json!({ "t": terms["id"], "v": 1 }),
        )
        .await;
    assert_eq!(accepted.ok()["acceptExchangeTerms"]["active"], true);
    let shown = app.graphql(Some(&m), seen, json!({})).await;
    assert_eq!(shown.ok()["exchangeTerms"][0]["rate"], "0.2");

    // A change needs both acceptances again.
    let changed = app
        .graphql(
            Some(&partner(&app, "cinema")),
            PROPOSE,
            terms_input(&coffee, &cinema, "0.25", 100, 100, 5_000, 50_000),
        )
        .await;
    assert_eq!(changed.ok()["proposeExchangeTerms"]["version"], 2);
    assert_eq!(changed.ok()["proposeExchangeTerms"]["active"], false);
    let bad = app
        .graphql(
            Some(&app.operator_token()),
            PROPOSE,
            terms_input(&coffee, &cinema, "0", 100, 100, 5_000, 50_000),
        )
        .await;
    assert_eq!(bad.error_field(), Some("rate"));
}

#[tokio::test]
async fn an_exchange_is_all_or_nothing_and_clears_between_brands() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, cinema) = two_programmes(&app).await;
    active_terms(&app, &coffee, &cinema, "0.2", 150).await;
    let m = member(&app, "m1");
    let q = quote(&app, &m, &coffee, &cinema, 1_000).await;
    let q = q.ok()["exchangeQuote"].clone();
    // Fee 1.5% of 1,000 = 15; (1,000 - 15) × 0.2 = 197 points in (rounded down).
    assert_eq!(
        (q["feePoints"].as_i64(), q["pointsIn"].as_i64()),
        (Some(15), Some(197))
    );
    let held = chrono::DateTime::parse_from_rfc3339(q["expiresAt"].as_str().unwrap())
        .unwrap()
        .to_utc()
        - app.now();
    assert!(
        (55..=60).contains(&held.num_seconds()),
        "held 60 s by default: {held}"
    );
    let done = confirm(&app, &m, q["id"].as_str().unwrap(), "confirm-key-1").await;
    let done = done.ok()["confirmExchange"].clone();
    assert_eq!(done["outEntry"]["kind"], "EXCHANGE_OUT");
    assert_eq!(done["outEntry"]["points"], -1_000);
    assert_eq!(done["inEntry"]["points"], 197);
    assert_eq!(done["valueFen"], 394, "197 cinema points at 2 fen");
    assert_eq!(
        done["feeValueFen"], 8,
        "15 coffee points at 0.5 fen = 7.5, half away from zero"
    );

    let replay = confirm(&app, &m, q["id"].as_str().unwrap(), "confirm-key-1").await;
    assert_eq!(
        replay.ok()["confirmExchange"]["id"],
        done["id"],
        "a retry returns the first exchange"
    );
    let reuse = confirm(&app, &m, q["id"].as_str().unwrap(), "confirm-key-2").await;
    assert_eq!(reuse.error_code(), Some("QUOTE_USED"));
    let other_member = confirm(
        &app,
        &member(&app, "m2"),
        q["id"].as_str().unwrap(),
        "confirm-key-3",
    )
    .await;
    assert_eq!(other_member.error_code(), Some("NOT_FOUND"));

    assert_eq!(account(&app, "m1", &coffee).await["activeBalance"], 9_000);
    let received = account(&app, "m1", &cinema).await;
    assert_eq!(received["activeBalance"], 197);
    assert!(
        received["lots"][0]["expiresAt"].is_string(),
        "the receiving programme's expiry"
    );
    assert_balanced(&app, "m1").await;

    let coffee_view = statement(&app, &partner(&app, "coffee"), "coffee").await;
    let s = &coffee_view.ok()["clearingStatement"];
    assert_eq!(s["payableFen"], 394);
    assert_eq!(s["netFen"], -394);
    assert_eq!(s["lines"][0]["counterparty"]["id"], "cinema");
    assert_eq!(s["lines"][0]["pointsSent"], 1_000);
    assert_eq!(s["lines"][0]["feePoints"], 15);
    let cinema_view = statement(&app, &partner(&app, "cinema"), "cinema").await;
    let s = &cinema_view.ok()["clearingStatement"];
    assert_eq!(s["receivableFen"], 394);
    assert_eq!(s["lines"][0]["pointsReceived"], 197);
    assert_eq!(
        s["period"],
        json!({ "month": period(&app), "zone": "Asia/Shanghai" })
    );
    // Without a period: this month in the programme's zone, named.
    let default = app
        .graphql(
            Some(&partner(&app, "cinema")),
            "{ clearingStatement(brandId: \"cinema\") { period { month from to zone } receivableFen } }",
            json!({}),
        )
        .await;
    let d = &default.ok()["clearingStatement"];
    assert_eq!(d["receivableFen"], 394, "the exchange is this month's");
    assert_eq!(d["period"]["month"], period(&app).as_str());
    assert_eq!(d["period"]["zone"], "Asia/Shanghai");
    let bound =
        |k: &str| chrono::DateTime::parse_from_rfc3339(d["period"][k].as_str().unwrap()).unwrap();
    assert!(bound("from") <= app.now() && app.now() < bound("to"), "{d}");
    let snooping = statement(&app, &partner(&app, "cinema"), "coffee").await;
    assert_eq!(snooping.error_code(), Some("FORBIDDEN"));
    let bad_period = app
        .graphql(
            Some(&app.operator_token()),
            "{ clearingStatement(brandId: \"coffee\", period: \"2026-13\") { netFen } }",
            json!({}),
        )
        .await;
    assert_eq!(bad_period.error_field(), Some("period"));
    let total: i64 = alliance::store::entities::clearing_entry::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|c| c.amount_fen)
        .sum();
    assert_eq!(total, 0, "clearing nets to zero");
}

#[tokio::test]
async fn expired_quotes_limits_and_balances_refuse_the_exchange() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, cinema) = two_programmes(&app).await;
    active_terms(&app, &coffee, &cinema, "0.2", 0).await;
    let m = member(&app, "m1");
    let q = quote(&app, &m, &coffee, &cinema, 1_000).await.ok()["exchangeQuote"].clone();
    let id = q["id"].as_str().unwrap().to_owned();
    quote::Entity::update_many()
        .col_expr(
            quote::Column::ExpiresAt,
            Expr::value(kit::time::to_micros(app.now()) - 1),
        )
        .filter(quote::Column::Id.eq(id.as_str()))
        .exec(app.db())
        .await
        .unwrap();
    let late = confirm(&app, &m, &id, "late-key-1").await;
    assert_eq!(late.error_code(), Some("QUOTE_EXPIRED"));
    assert_eq!(
        account(&app, "m1", &coffee).await["activeBalance"],
        10_000,
        "nothing moved"
    );

    let odd = quote(&app, &m, &coffee, &cinema, 150).await;
    assert_eq!(odd.error_field(), Some("points"), "blocks of 100");
    let too_many = quote(&app, &m, &coffee, &cinema, 6_000).await;
    assert_eq!(too_many.error_code(), Some("LIMIT_EXCEEDED"), "5,000 a day");
    let broke = quote(&app, &member(&app, "m2"), &coffee, &cinema, 100).await;
    assert_eq!(broke.error_code(), Some("INSUFFICIENT_POINTS"));

    // Two quotes within the limit each, together over it: the second
    // confirmation is refused under the account lock.
    let a = quote(&app, &m, &coffee, &cinema, 3_000).await.ok()["exchangeQuote"]["id"].clone();
    let b = quote(&app, &m, &coffee, &cinema, 3_000).await.ok()["exchangeQuote"]["id"].clone();
    confirm(&app, &m, a.as_str().unwrap(), "limit-key-1")
        .await
        .ok();
    let over = confirm(&app, &m, b.as_str().unwrap(), "limit-key-2").await;
    assert_eq!(over.error_code(), Some("LIMIT_EXCEEDED"));
    // Spending the points elsewhere after quoting: INSUFFICIENT_POINTS.
    let c = quote(&app, &m, &coffee, &cinema, 2_000).await.ok()["exchangeQuote"]["id"].clone();
    app.graphql(
        Some(&app.operator_token()),
        REDEEM,
        tx("m1", &coffee, 6_500, "spend", "spend-key-1"),
    )
    .await
    .ok();
    let short = confirm(&app, &m, c.as_str().unwrap(), "short-key-1").await;
    assert_eq!(short.error_code(), Some("INSUFFICIENT_POINTS"));
    let retried = confirm(&app, &m, c.as_str().unwrap(), "short-key-1").await;
    assert_eq!(
        retried.error_code(),
        Some("INSUFFICIENT_POINTS"),
        "a refused quote stays unused"
    );
    assert_balanced(&app, "m1").await;
}

#[tokio::test]
async fn a_quote_of_changed_terms_is_refused() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, cinema) = two_programmes(&app).await;
    let terms = active_terms(&app, &coffee, &cinema, "0.2", 0).await;
    let m = member(&app, "m1");
    let q: Value = quote(&app, &m, &coffee, &cinema, 100).await.ok()["exchangeQuote"].clone();
    op(
        &app,
        PROPOSE,
        terms_input(&coffee, &cinema, "0.3", 0, 100, 5_000, 50_000),
    )
    .await;
    for side in ["FROM", "TO"] {
        op(&app, ACCEPT, json!({ "t": terms, "v": 2, "s": side })).await;
    }
    let r = confirm(&app, &m, q["id"].as_str().unwrap(), "changed-key-1").await;
    assert_eq!(r.error_code(), Some("CONFLICT"));
}

/// Twenty identical confirmations (one quote, one key) at once: one
/// exchange, and every answer is that exchange, never QUOTE_USED (a twin
/// that used the quote first is a replay).
#[tokio::test]
async fn identical_confirmations_at_once_all_answer_the_one_exchange() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, cinema) = two_programmes(&app).await;
    active_terms(&app, &coffee, &cinema, "0.2", 150).await;
    let m = member(&app, "m1");
    for round in 0..3 {
        let q = quote(&app, &m, &coffee, &cinema, 100).await;
        let quote_id = q.ok()["exchangeQuote"]["id"].as_str().unwrap().to_owned();
        let key = format!("twin-confirm-{round}");
        let answers =
            futures::future::join_all((0..20).map(|_| confirm(&app, &m, &quote_id, &key))).await;
        let ids: std::collections::BTreeSet<String> = answers
            .iter()
            .map(|r| r.ok()["confirmExchange"]["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 1, "round {round}: {ids:?}");
    }
    assert_eq!(
        account(&app, "m1", &coffee).await["activeBalance"],
        10_000 - 300,
        "three exchanges of 100, each once"
    );
    assert_balanced(&app, "m1").await;
}
