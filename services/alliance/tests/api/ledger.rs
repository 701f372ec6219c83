//! Accounts and the ledger: earning, activation, redemption, expiry and
//! exactly-once partner calls.

use chrono::Duration;
use kit::testing::spawn;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn points_are_pending_then_active_and_redeemed_soonest_expiry_first() {
    let app = spawn(&alliance::SPEC).await;
    let p = onboard(&app, "coffee", programme_input(7, Some(12), "ONLY_PENDING")).await;
    let earned = earn(&app, "m1", &p, 300, "t1").await;
    let earned = &earned.ok()["earnPoints"];
    assert_eq!(earned["entry"]["kind"], "EARN");
    assert_eq!(earned["account"]["pendingBalance"], 300);
    assert_eq!(earned["account"]["activeBalance"], 0);

    let spend = app
        .graphql(
            Some(&app.operator_token()),
            REDEEM,
            tx("m1", &p, 100, "r1", "key-redeem-1"),
        )
        .await;
    assert_eq!(
        spend.error_code(),
        Some("INSUFFICIENT_POINTS"),
        "pending points are not spendable"
    );

    assert_eq!(
        activate_after(&app, 6).await,
        0,
        "not before the window passes"
    );
    assert_eq!(activate_after(&app, 8).await, 1);
    assert_eq!(activate_after(&app, 8).await, 0, "activates once");
    let adjust = op(
        &app,
        "mutation($a: ID!) { adjustPoints(accountId: $a, points: 50, reason: \"goodwill\", idempotencyKey: \"adjust-0001\") { entry { kind } } }",
        json!({ "a": earned["account"]["id"] }),
    )
    .await;
    assert_eq!(adjust["adjustPoints"]["entry"]["kind"], "ADJUSTMENT");
    let a = account(&app, "m1", &p).await;
    assert_eq!(
        (a["activeBalance"].as_i64(), a["pendingBalance"].as_i64()),
        (Some(350), Some(0))
    );
    let expiring_lot = a["lots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["expiresAt"].is_string())
        .unwrap()["id"]
        .clone();

    // 320 takes the whole expiring lot first, then 20 of the never-expiring one.
    let r = app
        .graphql(
            Some(&app.operator_token()),
            REDEEM,
            tx("m1", &p, 320, "r2", "key-redeem-2"),
        )
        .await;
    let entry = &r.ok()["redeemPoints"]["entry"];
    assert_eq!(entry["balanceAfter"], 30);
    let moves = entry["lotMovements"].as_array().unwrap();
    assert_eq!(moves.len(), 2);
    assert_eq!(moves[0]["lotId"], expiring_lot);
    assert_eq!(moves[0]["points"], -300);
    assert_eq!(moves[1]["points"], -20);
    assert_balanced(&app, "m1").await;
}

#[tokio::test]
async fn partner_calls_apply_exactly_once() {
    let app = spawn(&alliance::SPEC).await;
    let p = onboard(&app, "coffee", programme_input(0, None, "ONLY_PENDING")).await;
    let token = partner(&app, "coffee");
    let first = app
        .graphql(Some(&token), EARN, tx("m1", &p, 40, "pos-1", "retry-key-1"))
        .await;
    let replay = app
        .graphql(Some(&token), EARN, tx("m1", &p, 40, "pos-1", "retry-key-1"))
        .await;
    assert_eq!(
        first.ok()["earnPoints"]["entry"]["id"],
        replay.ok()["earnPoints"]["entry"]["id"],
        "same key, same input: the first result"
    );
    let changed = app
        .graphql(Some(&token), EARN, tx("m1", &p, 41, "pos-1", "retry-key-1"))
        .await;
    assert_eq!(
        changed.error_code(),
        Some("CONFLICT"),
        "same key, other input"
    );
    let new_key = app
        .graphql(Some(&token), EARN, tx("m1", &p, 40, "pos-1", "retry-key-2"))
        .await;
    assert_eq!(
        new_key.error_code(),
        Some("CONFLICT"),
        "one external transaction is recorded once"
    );
    // Keys belong to their caller: another partner's same key is its own.
    let cinema = onboard(&app, "cinema", programme_input(0, None, "ONLY_PENDING")).await;
    let theirs = app
        .graphql(
            Some(&partner(&app, "cinema")),
            EARN,
            tx("m1", &cinema, 5, "pos-1", "retry-key-1"),
        )
        .await;
    assert_eq!(theirs.ok()["earnPoints"]["account"]["activeBalance"], 5);

    let a = account(&app, "m1", &p).await;
    assert_eq!(a["activeBalance"], 40, "earned once");
    assert_eq!(a["lifetimeEarned"], 40);
    for (points, external, key, field) in [
        (0, "x", "retry-key-9", "points"),
        (10, "has space", "retry-key-9", "externalTransactionId"),
        (10, "x", "short", "idempotencyKey"),
    ] {
        let r = app
            .graphql(Some(&token), EARN, tx("m1", &p, points, external, key))
            .await;
        assert_eq!(r.error_code(), Some("BAD_USER_INPUT"));
        assert_eq!(r.error_field(), Some(field));
    }
    assert_balanced(&app, "m1").await;
}

#[tokio::test]
async fn members_read_their_own_points_and_partners_their_programme() {
    let app = spawn(&alliance::SPEC).await;
    let coffee = onboard(&app, "coffee", programme_input(0, Some(1), "ONLY_PENDING")).await;
    let cinema = onboard(&app, "cinema", programme_input(0, None, "ONLY_PENDING")).await;
    earn(&app, "m1", &coffee, 10, "a").await.ok();
    earn(&app, "m1", &cinema, 20, "b").await.ok();
    let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { pointsAccounts { programme { id } activeBalance expiringSoon(days: 90) { points } } } } }";
    let rep = json!({ "r": [{ "__typename": "Member", "id": "m1" }] });
    let own = app.graphql(Some(&member(&app, "m1")), q, rep.clone()).await;
    let accounts = own.ok()["_entities"][0]["pointsAccounts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(accounts.len(), 2);
    let coffee_account = accounts
        .iter()
        .find(|a| a["programme"]["id"] == coffee)
        .unwrap();
    assert_eq!(
        coffee_account["expiringSoon"]["points"], 10,
        "one month: expires within 90 days"
    );
    let other = app.graphql(Some(&member(&app, "m2")), q, rep.clone()).await;
    assert_eq!(other.error_code(), Some("FORBIDDEN"));
    let anonymous = app.graphql(None, q, rep.clone()).await;
    assert_eq!(anonymous.error_code(), Some("UNAUTHENTICATED"));
    let partner_view = app.graphql(Some(&partner(&app, "coffee")), q, rep).await;
    let seen = partner_view.ok()["_entities"][0]["pointsAccounts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["programme"]["id"], coffee);
}

#[tokio::test]
async fn expiry_is_a_ledger_entry_naming_the_lots() {
    let app = spawn(&alliance::SPEC).await;
    let p = onboard(&app, "coffee", programme_input(0, Some(1), "ONLY_PENDING")).await;
    earn(&app, "m1", &p, 70, "a").await.ok();
    let none = alliance::store::ledger::expire_due(app.db(), app.now())
        .await
        .unwrap();
    assert_eq!(none, 0);
    // One month after activation, end of that month: at most ~62 days.
    let lapsed = alliance::store::ledger::expire_due(app.db(), app.now() + Duration::days(63))
        .await
        .unwrap();
    assert_eq!(lapsed, 70);
    let again = alliance::store::ledger::expire_due(app.db(), app.now() + Duration::days(63))
        .await
        .unwrap();
    assert_eq!(again, 0, "expires once");
    let a = account(&app, "m1", &p).await;
    assert_eq!(a["activeBalance"], 0);
    let last = &a["ledger"]["edges"][0]["node"];
    assert_eq!(last["kind"], "EXPIRE");
    assert_eq!(last["points"], -70);
    assert_balanced(&app, "m1").await;
}

/// The ledger checks itself: with an account's books made wrong behind
/// its back (a balance that no longer equals its entries and lots), every
/// command on it is refused as an internal error and rolls back whole,
/// and the account reads as it was.
#[tokio::test]
async fn a_command_on_books_that_do_not_balance_is_rolled_back() {
    use alliance::store::entities::{account, entry};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

    let app = spawn(&alliance::SPEC).await;
    let p = onboard(&app, "coffee", programme_input(0, None, "ONLY_PENDING")).await;
    earn(&app, "m1", &p, 100, "t1").await.ok();
    let entries = || async {
        entry::Entity::find()
            .filter(entry::Column::ProgrammeId.eq(p.as_str()))
            .count(app.db())
            .await
            .unwrap()
    };
    let before = entries().await;
    // Books balanced so far: the next command goes through.
    earn(&app, "m1", &p, 10, "t2").await.ok();
    assert_eq!(entries().await, before + 2, "an EARN and its ACTIVATE");

    account::Entity::update_many()
        .col_expr(account::Column::ActiveBalance, Expr::value(1_000_i64))
        .filter(account::Column::ProgrammeId.eq(p.as_str()))
        .exec(app.db())
        .await
        .unwrap();
    let before = entries().await;
    let refused = earn(&app, "m1", &p, 10, "t3").await;
    assert_eq!(
        refused.error_code(),
        Some("INTERNAL_SERVER_ERROR"),
        "{:?}",
        refused.body
    );
    let redeem = app
        .graphql(
            Some(&app.operator_token()),
            REDEEM,
            tx("m1", &p, 5, "r1", "redeem-key-r1"),
        )
        .await;
    assert_eq!(
        redeem.error_code(),
        Some("INTERNAL_SERVER_ERROR"),
        "{:?}",
        redeem.body
    );
    assert_eq!(
        entries().await,
        before,
        "nothing of either command was written"
    );
    assert_eq!(account(&app, "m1", &p).await["activeBalance"], 1_000);
}
