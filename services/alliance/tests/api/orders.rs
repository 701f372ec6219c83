//! Orders earn points from the product service's events; refunds reverse
//! them under each return policy; merges move accounts. Each event applies
//! exactly once, even replayed.

use kit::events::schema::{
    MemberMerged, OrderCancelled, OrderFulfilled, OrderLine, OrderPlaced, OrderRefunded,
    RefundedLine,
};
use serde_json::{Value, json};

use crate::support::*;

fn line(id: &str, brand: &str, amount_fen: i64) -> OrderLine {
    OrderLine {
        line_id: id.into(),
        sku_id: format!("sku-{id}"),
        brand_id: brand.into(),
        quantity: 1,
        unit_price_fen: amount_fen,
        amount_fen,
        source_location_id: None,
        category_id: None,
    }
}

fn placed(
    order: &str,
    member: &str,
    lines: Vec<OrderLine>,
    now: chrono::DateTime<chrono::Utc>,
) -> OrderPlaced {
    OrderPlaced {
        order_id: order.into(),
        member_id: Some(member.into()),
        channel: kit::channel::Channel::App,
        store_id: None,
        fulfilment: "SHIP".into(),
        total_fen: lines.iter().map(|l| l.amount_fen).sum(),
        lines,
        placed_at: now,
    }
}

/// An RFC 3339 instant from an answer.
fn instant(t: &str) -> chrono::DateTime<chrono::Utc> {
    t.parse().unwrap()
}

fn fulfilled(order: &str, at: chrono::DateTime<chrono::Utc>) -> OrderFulfilled {
    OrderFulfilled {
        order_id: order.into(),
        member_id: None,
        fulfilled_at: at,
    }
}

fn cancelled(order: &str, at: chrono::DateTime<chrono::Utc>) -> OrderCancelled {
    OrderCancelled {
        order_id: order.into(),
        member_id: None,
        cancelled_at: at,
    }
}

fn refund(
    order: &str,
    refund_id: &str,
    line_id: &str,
    amount_fen: i64,
    full: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> OrderRefunded {
    OrderRefunded {
        order_id: order.into(),
        refund_id: refund_id.into(),
        member_id: None,
        lines: vec![RefundedLine {
            line_id: line_id.into(),
            quantity: 1,
            amount_fen,
        }],
        amount_fen,
        fully_refunded: full,
        refunded_at: now,
    }
}

async fn points_earned(w: &World, order: &str) -> Value {
    let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { pointsEarned { programme { id } paidFen points reversedPoints state activatesAt } } } }";
    let r = op(
        &w.app,
        q,
        json!({ "r": [{ "__typename": "Order", "id": order }] }),
    )
    .await;
    r["_entities"][0]["pointsEarned"].clone()
}

#[tokio::test]
async fn an_order_earns_per_brand_and_refunds_reverse_in_proportion_once() {
    let w = world().await;
    let apparel = onboard(
        &w.app,
        "apparel",
        programme_input(7, Some(12), "ONLY_PENDING"),
    )
    .await;
    let mut c = programme_input(7, None, "ONLY_PENDING");
    c["pointsPerYuan"] = json!("2");
    let coffee = onboard(&w.app, "coffee", c).await;
    w.feed
        .publish(&placed(
            "o1",
            "m1",
            vec![
                line("l1", "apparel", 10_050),
                line("l2", "coffee", 2_599),
                line("l3", "unknown-brand", 5_000),
            ],
            w.app.now(),
        ))
        .await;
    w.apply().await;
    let earned = points_earned(&w, "o1").await;
    assert_eq!(
        earned.as_array().unwrap().len(),
        2,
        "brands without a programme earn nothing"
    );
    assert_eq!(earned[0]["programme"]["id"], apparel);
    assert_eq!(earned[0]["points"], 100, "100.50 yuan earns 100 (down)");
    assert_eq!(earned[0]["state"], "PENDING");
    assert_eq!(earned[1]["points"], 51, "25.99 yuan × 2 = 51.98 → 51");
    assert_eq!(account(&w.app, "m1", &coffee).await["pendingBalance"], 51);

    // A third of the apparel line: 33 points; then the rest: 67 more.
    w.feed
        .publish(&refund("o1", "r1", "l1", 3_350, false, w.app.now()))
        .await;
    w.apply().await;
    assert_eq!(points_earned(&w, "o1").await[0]["reversedPoints"], 33);
    assert_eq!(account(&w.app, "m1", &apparel).await["pendingBalance"], 67);
    // A consumer that lost its position replays every event: nothing twice.
    w.order_consumer("amnesiac").catch_up().await.unwrap();
    assert_eq!(account(&w.app, "m1", &apparel).await["pendingBalance"], 67);
    assert_eq!(account(&w.app, "m1", &coffee).await["pendingBalance"], 51);
    w.feed
        .publish(&refund("o1", "r2", "l1", 6_700, false, w.app.now()))
        .await;
    w.apply().await;
    let a = account(&w.app, "m1", &apparel).await;
    assert_eq!(
        a["pendingBalance"], 0,
        "never beyond what was earned, all of it at the end"
    );
    let reversal = &a["ledger"]["edges"][0]["node"];
    assert_eq!(reversal["kind"], "REVERSAL");
    assert_eq!(reversal["pendingPoints"], -67);
    assert!(
        reversal["reversesEntryId"].is_string(),
        "names the EARN it reverses"
    );
    assert_balanced(&w.app, "m1").await;

    // A cancelled order reverses everything it earned.
    w.feed
        .publish(&placed(
            "o2",
            "m1",
            vec![line("l4", "coffee", 1_000)],
            w.app.now(),
        ))
        .await;
    w.apply().await;
    assert_eq!(account(&w.app, "m1", &coffee).await["pendingBalance"], 71);
    w.feed
        .publish(&OrderCancelled {
            order_id: "o2".into(),
            member_id: Some("m1".into()),
            cancelled_at: w.app.now(),
        })
        .await;
    w.apply().await;
    w.order_consumer("amnesiac-2").catch_up().await.unwrap();
    assert_eq!(account(&w.app, "m1", &coffee).await["pendingBalance"], 51);
    assert_balanced(&w.app, "m1").await;
}

/// Points wait for the hand-over whatever the window: a programme with
/// none keeps an order's points PENDING (no activation time, the job
/// leaves them) until the order is fulfilled, and activates them then; a
/// cancellation before it takes back everything, even under ONLY_PENDING,
/// however many times a member places and cancels.
#[tokio::test]
async fn points_wait_for_the_hand_over_and_a_cancellation_takes_back_everything() {
    let w = world().await;
    let p = onboard(&w.app, "coffee", programme_input(0, None, "ONLY_PENDING")).await;
    for round in 0..3 {
        let order = format!("pc-{round}");
        w.feed
            .publish(&placed(
                &order,
                "m1",
                vec![line(&format!("pc-l{round}"), "coffee", 6_800)],
                w.app.now(),
            ))
            .await;
        w.apply().await;
        let earned = points_earned(&w, &order).await;
        assert_eq!(
            earned[0]["state"], "PENDING",
            "placed is not paid: {earned}"
        );
        assert_eq!(
            earned[0]["activatesAt"],
            Value::Null,
            "no window before hand-over"
        );
        assert_eq!(activate_after(&w.app, 400).await, 0, "the job leaves it");
        let a = account(&w.app, "m1", &p).await;
        assert_eq!(
            (a["activeBalance"].as_i64(), a["pendingBalance"].as_i64()),
            (Some(0), Some(68))
        );
        w.feed.publish(&cancelled(&order, w.app.now())).await;
        w.apply().await;
        let a = account(&w.app, "m1", &p).await;
        assert_eq!(
            (a["activeBalance"].as_i64(), a["pendingBalance"].as_i64()),
            (Some(0), Some(0)),
            "round {round}"
        );
        let reversal = &a["ledger"]["edges"][0]["node"];
        assert_eq!(
            (
                reversal["kind"].as_str(),
                reversal["forgivenPoints"].as_i64()
            ),
            (Some("REVERSAL"), Some(0))
        );
        assert_eq!(points_earned(&w, &order).await[0]["reversedPoints"], 68);
    }
    // Handed over: the window (none here) starts, and the points are ACTIVE.
    w.feed
        .publish(&placed(
            "paid",
            "m1",
            vec![line("paid-l", "coffee", 6_800)],
            w.app.now(),
        ))
        .await;
    let handed_over = w.app.now() + chrono::Duration::hours(5);
    w.feed.publish(&fulfilled("paid", handed_over)).await;
    w.apply().await;
    // A replayed hand-over changes nothing.
    w.feed.publish(&fulfilled("paid", handed_over)).await;
    w.apply().await;
    let earned = points_earned(&w, "paid").await;
    assert_eq!(earned[0]["state"], "ACTIVE");
    assert_eq!(
        earned[0]["activatesAt"].as_str().map(instant),
        Some(handed_over)
    );
    assert_eq!(account(&w.app, "m1", &p).await["activeBalance"], 68);
    assert_balanced(&w.app, "m1").await;
}

/// A programme's window runs from the hand-over, not from the order.
#[tokio::test]
async fn the_window_starts_at_the_hand_over() {
    let w = world().await;
    let p = onboard(&w.app, "apparel", programme_input(7, None, "ONLY_PENDING")).await;
    w.feed
        .publish(&placed(
            "o1",
            "m1",
            vec![line("l1", "apparel", 10_000)],
            w.app.now(),
        ))
        .await;
    let handed_over = w.app.now() + chrono::Duration::days(3);
    w.feed.publish(&fulfilled("o1", handed_over)).await;
    w.apply().await;
    let earned = points_earned(&w, "o1").await;
    assert_eq!(
        earned[0]["activatesAt"].as_str().map(instant),
        Some(handed_over + chrono::Duration::days(7))
    );
    assert_eq!(
        activate_after(&w.app, 9).await,
        0,
        "7 days after the order is not enough"
    );
    assert_eq!(activate_after(&w.app, 10).await, 1);
    assert_eq!(account(&w.app, "m1", &p).await["activeBalance"], 100);
}

/// 100 points earned and activated, 80 redeemed, then the order refunded
/// in full: what comes back depends on the policy.
async fn refund_after_spending(policy: &str) -> (World, String, Value) {
    let w = world().await;
    let p = onboard(&w.app, "apparel", programme_input(7, Some(12), policy)).await;
    w.feed
        .publish(&placed(
            "o1",
            "m1",
            vec![line("l1", "apparel", 10_000)],
            w.app.now(),
        ))
        .await;
    w.feed.publish(&fulfilled("o1", w.app.now())).await;
    w.apply().await;
    activate_after(&w.app, 8).await;
    let spend = w
        .app
        .graphql(
            Some(&w.app.operator_token()),
            REDEEM,
            tx("m1", &p, 80, "r-1", "spend-key-1"),
        )
        .await;
    assert_eq!(spend.ok()["redeemPoints"]["account"]["activeBalance"], 20);
    w.feed
        .publish(&refund("o1", "r1", "l1", 10_000, true, w.app.now()))
        .await;
    w.apply().await;
    let a = account(&w.app, "m1", &p).await;
    assert_balanced(&w.app, "m1").await;
    (w, p, a)
}

#[tokio::test]
async fn only_pending_keeps_spent_and_active_points() {
    let (_, _, a) = refund_after_spending("ONLY_PENDING").await;
    assert_eq!(a["activeBalance"], 20);
    let reversal = &a["ledger"]["edges"][0]["node"];
    assert_eq!(
        (
            reversal["points"].as_i64(),
            reversal["forgivenPoints"].as_i64()
        ),
        (Some(0), Some(100))
    );
}

#[tokio::test]
async fn within_balance_takes_back_what_is_left_and_never_goes_negative() {
    let (_, _, a) = refund_after_spending("WITHIN_BALANCE").await;
    assert_eq!(a["activeBalance"], 0);
    let reversal = &a["ledger"]["edges"][0]["node"];
    assert_eq!(
        (
            reversal["points"].as_i64(),
            reversal["forgivenPoints"].as_i64()
        ),
        (Some(-20), Some(80))
    );
}

#[tokio::test]
async fn allow_negative_owes_the_rest_and_new_points_pay_it_first() {
    let (w, p, a) = refund_after_spending("ALLOW_NEGATIVE").await;
    assert_eq!(a["activeBalance"], -80);
    let arrears = a["lots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["state"] == "ARREARS")
        .unwrap()
        .clone();
    assert_eq!(arrears["remainingPoints"], -80);
    w.feed
        .publish(&placed(
            "o2",
            "m1",
            vec![line("l2", "apparel", 5_000)],
            w.app.now(),
        ))
        .await;
    w.feed.publish(&fulfilled("o2", w.app.now())).await;
    w.apply().await;
    activate_after(&w.app, 8).await;
    let a = account(&w.app, "m1", &p).await;
    assert_eq!(a["activeBalance"], -30);
    let spendable: i64 = a["lots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["state"] == "ACTIVE")
        .map(|l| l["remainingPoints"].as_i64().unwrap())
        .sum();
    assert_eq!(spendable, 0, "nothing spendable while in arrears");
    assert_balanced(&w.app, "m1").await;
}

#[tokio::test]
async fn a_merge_moves_accounts_to_the_survivor_keeping_expiry() {
    let w = world().await;
    let p = onboard(
        &w.app,
        "apparel",
        programme_input(0, Some(12), "ONLY_PENDING"),
    )
    .await;
    earn(&w.app, "old", &p, 30, "a").await.ok();
    earn(&w.app, "keeper", &p, 5, "b").await.ok();
    let before = account(&w.app, "old", &p).await["lots"][0]["expiresAt"].clone();
    let merged = MemberMerged {
        survivor_id: "keeper".into(),
        merged_id: "old".into(),
        merged_at: w.app.now(),
    };
    w.members.publish(&merged).await;
    w.apply().await;
    w.member_consumer("amnesiac").catch_up().await.unwrap();
    let a = account(&w.app, "keeper", &p).await;
    assert_eq!(a["activeBalance"], 35);
    assert_eq!(a["lifetimeEarned"], 35);
    assert_eq!(a["ledger"]["edges"][0]["node"]["kind"], "MERGE_IN");
    assert!(
        a["lots"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["expiresAt"] == before),
        "lots keep their expiry"
    );
    // The merged id resolves to the survivor, and earns land there.
    assert_eq!(account(&w.app, "old", &p).await["activeBalance"], 35);
    earn(&w.app, "old", &p, 1, "c").await.ok();
    assert_eq!(account(&w.app, "keeper", &p).await["activeBalance"], 36);
    assert_balanced(&w.app, "keeper").await;
}

/// Orders are live: a line of a sandbox brand (which no store or product
/// can have, but a stray event might name) earns nothing in its sandbox.
#[tokio::test]
async fn an_orders_line_of_a_sandbox_brand_earns_nothing() {
    let w = world().await;
    let coffee = onboard(&w.app, "coffee", programme_input(0, None, "ONLY_PENDING")).await;
    op(
        &w.app,
        "mutation { issueSandboxKey(brandId: \"coffee\", label: \"try\", scopes: [EARN]) { apiKey } }",
        json!({}),
    )
    .await;
    w.feed
        .publish(&placed(
            "o-sandbox",
            "m1",
            vec![
                line("l1", "coffee", 1_000),
                line("l2", "coffee-sandbox", 5_000),
            ],
            w.app.now(),
        ))
        .await;
    w.apply().await;
    let earned = points_earned(&w, "o-sandbox").await;
    assert_eq!(earned.as_array().unwrap().len(), 1, "{earned}");
    assert_eq!(earned[0]["programme"]["id"], coffee);
    assert_eq!(
        account(&w.app, "m1", "coffee-sandbox-points").await,
        Value::Null
    );
}
