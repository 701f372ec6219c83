//! A brand's rewards catalogue through the subgraph: a redemption debits
//! points (soonest-expiring first) and issues a coupon, exactly once per
//! key; stock, the per-member limit, tiers and balances refuse cleanly,
//! writing nothing; the last unit goes to exactly one of many at once.

use std::collections::BTreeMap;

use futures::future::join_all;
use kit::testing::{GraphqlResponse, TestApp};
use serde_json::{Value, json};

use crate::support::*;

const CREATE: &str = "mutation($i: RewardInput!, $k: String!) { createReward(input: $i, idempotencyKey: $k) { id programmeId name pointsPrice stock remaining kind coupon { kind amountOffFen minSpendFen categoryIds validDays restoreOnRefund } gift eligibleTiers eligibleSegmentId perMemberLimit } }";
const REDEEM_REWARD: &str = "mutation($r: ID!, $m: ID, $k: String!) { redeemReward(rewardId: $r, memberId: $m, idempotencyKey: $k) { id rewardId memberId points entry { kind points reference lotMovements { lotId points } } coupon { id code } } }";

/// 5 yuan off 30 yuan of coffee beans, valid 30 days.
fn beans_coupon(programme: &str, stock: Option<i64>, per_member: Option<i64>) -> Value {
    json!({
        "programmeId": programme, "name": "5 off beans", "pointsPrice": 100,
        "stock": stock, "perMemberLimit": per_member,
        "coupon": { "amountOffFen": 500, "minSpendFen": 3000, "categoryIds": ["coffee/beans"], "validDays": 30 },
    })
}

async fn create(app: &TestApp, token: &str, input: Value, key: &str) -> GraphqlResponse {
    app.graphql(
        Some(token),
        CREATE,
        json!({ "i": input, "k": format!("reward-{key}") }),
    )
    .await
}

async fn redeem(
    app: &TestApp,
    token: &str,
    reward: &str,
    member: Option<&str>,
    key: &str,
) -> GraphqlResponse {
    app.graphql(
        Some(token),
        REDEEM_REWARD,
        json!({ "r": reward, "m": member, "k": format!("redeem-{key}") }),
    )
    .await
}

/// `points` ACTIVE points for `member`, in lots of the given expiries.
async fn active_points(w: &World, member: &str, programme: &str, points: i64) {
    earn(
        &w.app,
        member,
        programme,
        points,
        &format!("seed-{member}-{points}"),
    )
    .await
    .ok();
    activate_after(&w.app, 0).await;
}

async fn remaining(app: &TestApp, programme: &str) -> Value {
    op(
        app,
        "query($id: ID!) { programme(id: $id) { rewards { edges { node { remaining } } } } }",
        json!({ "id": programme }),
    )
    .await["programme"]["rewards"]["edges"][0]["node"]["remaining"]
        .clone()
}

#[tokio::test]
async fn a_redemption_debits_once_per_key_issues_a_coupon_and_refusals_write_nothing() {
    let w = world().await;
    let coffee = onboard(
        &w.app,
        "coffee",
        programme_input(0, Some(12), "ONLY_PENDING"),
    )
    .await;
    let partner = scoped(&w.app, "coffee", &["MANAGE_REWARDS"]);
    let made = create(
        &w.app,
        &partner,
        beans_coupon(&coffee, Some(2), Some(1)),
        "beans",
    )
    .await;
    let reward = made.ok()["createReward"].clone();
    assert_eq!(reward["kind"], "COUPON");
    assert_eq!(reward["coupon"]["kind"], "AMOUNT_OFF");
    assert_eq!(reward["remaining"], 2);
    let reward_id = reward["id"].as_str().unwrap().to_owned();

    active_points(&w, "m1", &coffee, 150).await;
    let m1 = member(&w.app, "m1");
    let first = redeem(&w.app, &m1, &reward_id, None, "m1-a").await;
    let redemption = first.ok()["redeemReward"].clone();
    assert_eq!(redemption["memberId"], "m1");
    assert_eq!(redemption["entry"]["kind"], "REDEEM");
    assert_eq!(redemption["entry"]["points"], -100);
    let code = redemption["coupon"]["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 24, "{code}");
    // A retry answers the same redemption and takes nothing more.
    let again = redeem(&w.app, &m1, &reward_id, None, "m1-a").await;
    assert_eq!(again.ok()["redeemReward"]["id"], redemption["id"]);
    assert_eq!(account(&w.app, "m1", &coffee).await["activeBalance"], 50);
    assert_eq!(remaining(&w.app, &coffee).await, 1);

    // The member's limit (1), then too few points for another member:
    // refused, and nothing moved.
    let limited = redeem(&w.app, &m1, &reward_id, None, "m1-b").await;
    assert_eq!(limited.error_code(), Some("LIMIT_EXCEEDED"));
    active_points(&w, "m2", &coffee, 99).await;
    let poor = redeem(&w.app, &member(&w.app, "m2"), &reward_id, None, "m2-a").await;
    assert_eq!(poor.error_code(), Some("INSUFFICIENT_POINTS"));
    assert_eq!(account(&w.app, "m2", &coffee).await["activeBalance"], 99);
    assert_eq!(account(&w.app, "m1", &coffee).await["activeBalance"], 50);
    assert_eq!(
        remaining(&w.app, &coffee).await,
        1,
        "a refusal takes no unit"
    );
    assert_balanced(&w.app, "m1").await;
    assert_balanced(&w.app, "m2").await;

    // The programme's partner redeems for a member it names; the last unit
    // goes, then the reward is out of stock.
    active_points(&w, "m3", &coffee, 300).await;
    let redeemer = scoped(&w.app, "coffee", &["REDEEM"]);
    let r = redeem(&w.app, &redeemer, &reward_id, Some("m3"), "m3-a").await;
    assert_eq!(r.ok()["redeemReward"]["memberId"], "m3");
    active_points(&w, "m4", &coffee, 300).await;
    let out = redeem(&w.app, &operator(&w), &reward_id, Some("m4"), "m4-a").await;
    assert_eq!(out.error_code(), Some("OUT_OF_STOCK"));
    assert_eq!(account(&w.app, "m4", &coffee).await["activeBalance"], 300);

    // The feed carries each redemption with the coupon to issue.
    let feed: Value = w
        .app
        .get("/events?limit=1000")
        .bearer_auth(w.app.operator_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let redeemed: Vec<&Value> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "RewardRedeemed")
        .collect();
    assert_eq!(
        redeemed.len(),
        2,
        "one event per redemption, none for refusals"
    );
    let payload = &redeemed[0]["payload"];
    assert_eq!(payload["memberId"], "m1");
    assert_eq!(payload["brandId"], "coffee");
    assert_eq!(payload["coupon"]["code"], code);
    assert_eq!(
        payload["coupon"]["terms"]["benefit"],
        json!({ "kind": "AMOUNT_OFF", "amountFen": 500 })
    );
    assert_eq!(
        payload["coupon"]["terms"]["categoryIds"],
        json!(["coffee/beans"])
    );
}

fn operator(w: &World) -> String {
    w.app.operator_token()
}

#[tokio::test]
async fn the_last_unit_goes_to_exactly_one_of_fifty_members_at_once() {
    let w = world().await;
    let coffee = onboard(&w.app, "coffee", programme_input(0, None, "ONLY_PENDING")).await;
    let made = create(
        &w.app,
        &operator(&w),
        beans_coupon(&coffee, Some(1), None),
        "last",
    )
    .await;
    let reward_id = made.ok()["createReward"]["id"].as_str().unwrap().to_owned();
    let members: Vec<String> = (0..50).map(|i| format!("rush-{i}")).collect();
    for m in &members {
        earn(&w.app, m, &coffee, 200, &format!("seed-{m}"))
            .await
            .ok();
    }
    activate_after(&w.app, 0).await;
    let tokens: Vec<String> = members.iter().map(|m| member(&w.app, m)).collect();
    let answers = join_all(
        tokens
            .iter()
            .zip(&members)
            .map(|(t, m)| redeem(&w.app, t, &reward_id, None, m)),
    )
    .await;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for a in &answers {
        let outcome = match a.error_code() {
            Some(code) => code.to_owned(),
            None => "REDEEMED".to_owned(),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    assert_eq!(
        outcomes,
        BTreeMap::from([("OUT_OF_STOCK".to_owned(), 49), ("REDEEMED".to_owned(), 1)])
    );
    assert_eq!(remaining(&w.app, &coffee).await, 0);
    let mut debited = 0;
    for m in &members {
        if account(&w.app, m, &coffee).await["activeBalance"] == 100 {
            debited += 1;
        }
    }
    assert_eq!(debited, 1, "only the winner paid");
}

/// Eight identical requests redeem once; eight identical creations add
/// one reward.
#[tokio::test]
async fn identical_concurrent_redemptions_and_creations_act_once() {
    let w = world().await;
    let coffee = onboard(&w.app, "coffee", programme_input(0, None, "ONLY_PENDING")).await;
    let partner = scoped(&w.app, "coffee", &["MANAGE_REWARDS"]);
    let input = beans_coupon(&coffee, None, None);
    let made = join_all((0..8).map(|_| create(&w.app, &partner, input.clone(), "same"))).await;
    let ids: std::collections::BTreeSet<String> = made
        .iter()
        .map(|r| r.ok()["createReward"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1);
    let reward_id = ids.into_iter().next().unwrap();
    active_points(&w, "m1", &coffee, 1_000).await;
    let m1 = member(&w.app, "m1");
    let answers = join_all((0..8).map(|_| redeem(&w.app, &m1, &reward_id, None, "same"))).await;
    let redemptions: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|r| r.ok()["redeemReward"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(redemptions.len(), 1);
    assert_eq!(account(&w.app, "m1", &coffee).await["activeBalance"], 900);
    assert_balanced(&w.app, "m1").await;
}

#[tokio::test]
async fn reward_input_and_access_are_checked() {
    let w = world().await;
    let coffee = onboard(&w.app, "coffee", programme_input(0, None, "ONLY_PENDING")).await;
    onboard(&w.app, "cinema", programme_input(0, None, "ONLY_PENDING")).await;
    let partner = scoped(&w.app, "coffee", &["MANAGE_REWARDS"]);
    let good = || beans_coupon(&coffee, None, None);
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut i = good();
                i["pointsPrice"] = json!(0);
                i
            },
            "pointsPrice",
        ),
        (
            {
                let mut i = good();
                i["stock"] = json!(-1);
                i
            },
            "stock",
        ),
        (
            {
                let mut i = good();
                i["perMemberLimit"] = json!(0);
                i
            },
            "perMemberLimit",
        ),
        (
            {
                let mut i = good();
                i["eligibleTiers"] = json!(["gold"]);
                i
            },
            "eligibleTiers",
        ),
        (
            {
                let mut i = good();
                i["name"] = json!(" ");
                i
            },
            "name",
        ),
        (
            {
                let mut i = good();
                i["firstDay"] = json!("2026-12-01");
                i
            },
            "lastDay",
        ),
        (
            {
                let mut i = good();
                i["gift"] = json!("a tote bag");
                i
            },
            "coupon",
        ),
        (
            {
                let mut i = good();
                i["coupon"]["percentOff"] = json!(10);
                i
            },
            "coupon",
        ),
        (
            {
                let mut i = good();
                i["coupon"] = json!({ "percentOff": 120, "validDays": 3 });
                i
            },
            "percentOff",
        ),
        (
            {
                let mut i = good();
                i["coupon"] = json!({ "amountOffFen": 100, "capFen": 50, "validDays": 3 });
                i
            },
            "capFen",
        ),
        (
            {
                let mut i = good();
                i["coupon"]["validDays"] = json!(0);
                i
            },
            "validDays",
        ),
        (
            {
                let mut i = good();
                i["coupon"]["skuIds"] = json!([""]);
                i
            },
            "skuIds",
        ),
    ];
    for (n, (input, field)) in cases.into_iter().enumerate() {
        let r = create(&w.app, &partner, input.clone(), &format!("bad-{n}")).await;
        assert_eq!(r.error_code(), Some("BAD_USER_INPUT"), "{input}");
        assert_eq!(r.error_field(), Some(field), "{input}");
    }
    for token in [
        scoped(&w.app, "cinema", &["MANAGE_REWARDS"]),
        scoped(&w.app, "coffee", &["REDEEM"]),
        member(&w.app, "m1"),
    ] {
        let r = create(&w.app, &token, good(), "refused").await;
        assert_eq!(r.error_code(), Some("FORBIDDEN"), "{:?}", r.errors());
    }
    // A brand's coupons take money off its own goods; an operator may
    // make one for others'.
    let mut elsewhere = good();
    elsewhere["coupon"]["brandIds"] = json!(["apparel"]);
    let r = create(&w.app, &partner, elsewhere.clone(), "elsewhere").await;
    assert_eq!(r.error_code(), Some("FORBIDDEN"));
    let mut own = good();
    own["coupon"]["brandIds"] = json!(["coffee"]);
    create(&w.app, &partner, own, "own-brand").await.ok();
    let r = create(&w.app, &operator(&w), elsewhere, "elsewhere-op").await;
    assert_eq!(r.ok()["createReward"]["coupon"]["kind"], "AMOUNT_OFF");
    let gift = json!({ "programmeId": coffee, "name": "Tote", "pointsPrice": 10, "gift": "a tote bag", "eligibleTiers": ["GOLD"] });
    let made = create(&w.app, &partner, gift, "tote").await;
    let tote = made.ok()["createReward"].clone();
    assert_eq!(tote["kind"], "GIFT");
    assert_eq!(tote["coupon"], Value::Null);
    assert_eq!(tote["eligibleTiers"], json!(["GOLD"]));
    let tote_id = tote["id"].as_str().unwrap();
    active_points(&w, "m1", &coffee, 100).await;
    // Without a member service to say the tier, a tier's reward is refused.
    let r = redeem(&w.app, &member(&w.app, "m1"), tote_id, None, "tote").await;
    assert_eq!(r.error_code(), Some("FORBIDDEN"));
    // A member redeems only for themselves; another brand's key, not at all.
    let r = redeem(&w.app, &member(&w.app, "m1"), tote_id, Some("m2"), "other").await;
    assert_eq!(r.error_code(), Some("FORBIDDEN"));
    let r = redeem(
        &w.app,
        &scoped(&w.app, "cinema", &["REDEEM"]),
        tote_id,
        Some("m1"),
        "stranger",
    )
    .await;
    assert_eq!(r.error_code(), Some("FORBIDDEN"));
    // A segment's reward, with no member service to say who is in it:
    // refused, nothing taken.
    let regulars = json!({ "programmeId": coffee, "name": "Regulars' mug", "pointsPrice": 10, "gift": "a mug", "eligibleSegmentId": "regulars" });
    let made = create(&w.app, &partner, regulars, "regulars").await;
    assert_eq!(made.ok()["createReward"]["eligibleSegmentId"], "regulars");
    let mug = made.ok()["createReward"]["id"].as_str().unwrap().to_owned();
    let r = redeem(&w.app, &member(&w.app, "m1"), &mug, None, "mug").await;
    assert_eq!(r.error_code(), Some("FORBIDDEN"));
    let r = redeem(&w.app, &operator(&w), "no-such-reward", Some("m1"), "none").await;
    assert_eq!(r.error_code(), Some("NOT_FOUND"));
    assert_eq!(account(&w.app, "m1", &coffee).await["activeBalance"], 100);
}

/// A redemption whose caller hangs up midway: the points, the unit and the
/// coupon are taken together or not at all, and a retry with the same key
/// redeems once.
#[tokio::test]
async fn a_redemption_whose_caller_hangs_up_is_all_or_nothing() {
    let w = world().await;
    let coffee = onboard(&w.app, "coffee", programme_input(0, None, "ONLY_PENDING")).await;
    let made = create(
        &w.app,
        &operator(&w),
        beans_coupon(&coffee, Some(100), None),
        "hangup",
    )
    .await;
    let reward_id = made.ok()["createReward"]["id"].as_str().unwrap().to_owned();
    for (n, after_ms) in [0u64, 1, 2, 5, 10, 20, 50].into_iter().enumerate() {
        let member_id = format!("hangup-{n}");
        active_points(&w, &member_id, &coffee, 300).await;
        let token = member(&w.app, &member_id);
        let key = format!("hangup-{n}");
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(after_ms),
            redeem(&w.app, &token, &reward_id, None, &key),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let balance = account(&w.app, &member_id, &coffee).await["activeBalance"].clone();
        assert!(
            balance == 300 || balance == 200,
            "{member_id} after {after_ms} ms: {balance}"
        );
        let again = redeem(&w.app, &token, &reward_id, None, &key).await;
        assert_eq!(again.ok()["redeemReward"]["points"], 100);
        assert_eq!(
            account(&w.app, &member_id, &coffee).await["activeBalance"],
            200
        );
        assert_balanced(&w.app, &member_id).await;
    }
    // One unit per member, one event per redemption.
    assert_eq!(remaining(&w.app, &coffee).await, 93);
    let feed: Value = w
        .app
        .get("/events?limit=1000")
        .bearer_auth(w.app.operator_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let redeemed = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "RewardRedeemed")
        .count();
    assert_eq!(redeemed, 7);
}

/// A coupon drop gives a COUPON reward's coupon, without points, to every
/// member of a segment, a page at a time: each member once, even with two
/// runners at once and runs repeated; it is DONE after the last page. A
/// GIFT cannot be dropped; another brand's partner cannot drop; the same
/// key answers the same drop.
#[tokio::test]
async fn a_coupon_drop_gives_each_member_of_a_segment_one_coupon() {
    let (w, member_service) = world_and_member_service().await;
    let coffee = onboard(&w.app, "coffee", programme_input(0, None, "ONLY_PENDING")).await;
    let partner = scoped(&w.app, "coffee", &["MANAGE_REWARDS"]);
    let reward = w
        .app
        .graphql(
            Some(&partner),
            CREATE,
            json!({ "k": "drop-reward-1", "i": {
                "programmeId": coffee, "name": "5 yuan off", "pointsPrice": 100,
                "coupon": { "amountOffFen": 500, "validDays": 7 },
            } }),
        )
        .await;
    let reward = reward.ok()["createReward"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let gift = w
        .app
        .graphql(
            Some(&partner),
            CREATE,
            json!({ "k": "drop-gift-1", "i": {
                "programmeId": coffee, "name": "Mug", "pointsPrice": 100, "gift": "a mug",
            } }),
        )
        .await;
    let gift = gift.ok()["createReward"]["id"].as_str().unwrap().to_owned();

    // Five gold members and one other.
    let mut gold = Vec::new();
    for i in 0..5 {
        gold.push(register_at(&member_service, &format!("drop-gold-{i}"), None).await);
    }
    gold.sort();
    let other = register_at(&member_service, "drop-plain", None).await;
    let gold_ids: Vec<&str> = gold.iter().map(String::as_str).collect();
    let segment = gold_segment(&member_service, &gold_ids).await;

    const DROP: &str = "mutation($r: ID!, $s: ID!, $k: String!) { dropCoupons(rewardId: $r, segmentId: $s, idempotencyKey: $k) { id rewardId segmentId status granted finishedAt } }";
    let refused = w
        .app
        .graphql(
            Some(&partner),
            DROP,
            json!({ "r": gift, "s": segment, "k": "drop-gift-key" }),
        )
        .await;
    assert_eq!(refused.error_code(), Some("BAD_USER_INPUT"));
    assert_eq!(refused.error_field(), Some("rewardId"));
    let stranger = scoped(&w.app, "cinema", &["MANAGE_REWARDS"]);
    let refused = w
        .app
        .graphql(
            Some(&stranger),
            DROP,
            json!({ "r": reward, "s": segment, "k": "drop-key-0001" }),
        )
        .await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"));
    // Identical requests at once: one drop.
    let drops = join_all((0..4).map(|_| {
        w.app.graphql(
            Some(&partner),
            DROP,
            json!({ "r": reward, "s": segment, "k": "drop-key-0001" }),
        )
    }))
    .await;
    let drop = drops[0].ok()["dropCoupons"].clone();
    for other in &drops {
        assert_eq!(other.ok()["dropCoupons"]["id"], drop["id"]);
    }
    assert_eq!(drop["status"], "RUNNING");
    assert_eq!(drop["granted"], 0);

    // A segment the member service does not know: the drop FAILS, saying
    // so, and grants nothing.
    let lost = w
        .app
        .graphql(
            Some(&partner),
            DROP,
            json!({ "r": reward, "s": "no-such-segment", "k": "drop-key-lost" }),
        )
        .await;
    let lost = lost.ok()["dropCoupons"]["id"].clone();

    // Two runners at once, two members a page, until DONE.
    let directory = kit::members::MemberDirectory::new("alliance", w.app.keys().clone());
    directory.connect(&member_service.address);
    for _ in 0..4 {
        let now = w.app.now();
        let (a, b) = futures::join!(
            alliance::store::drops::run_once(w.app.db(), &directory, 2, now),
            alliance::store::drops::run_once(w.app.db(), &directory, 2, now),
        );
        a.unwrap();
        b.unwrap();
    }
    let listed = w
        .app
        .graphql(
            Some(&partner),
            "query($p: ID!) { programme(id: $p) { couponDrops { edges { node { id status granted failure finishedAt } } } } }",
            json!({ "p": coffee }),
        )
        .await;
    let nodes: Vec<Value> = listed.ok()["programme"]["couponDrops"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(nodes.len(), 2, "newest first: {nodes:?}");
    assert_eq!(nodes[0]["id"], lost);
    assert_eq!(nodes[0]["status"], "FAILED");
    assert_eq!(nodes[0]["granted"], 0);
    assert!(
        nodes[0]["failure"]
            .as_str()
            .is_some_and(|f| f.contains("no segment")),
        "{nodes:?}"
    );
    let node = nodes[1].clone();
    assert_eq!(node["id"], drop["id"]);
    assert_eq!(node["status"], "DONE");
    assert_eq!(node["granted"], 5);
    assert!(node["finishedAt"].is_string());

    // One CouponGranted per gold member, each a coupon of its own; nothing
    // for the other member.
    let feed: Value = w
        .app
        .get("/events?after=0&limit=1000")
        .bearer_auth(w.app.operator_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grants: Vec<Value> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "CouponGranted")
        .map(|e| e["payload"].clone())
        .collect();
    let mut granted_to: Vec<String> = grants
        .iter()
        .map(|g| g["memberId"].as_str().unwrap().to_owned())
        .collect();
    granted_to.sort();
    assert_eq!(granted_to, gold);
    assert!(!granted_to.contains(&other));
    let codes: std::collections::BTreeSet<&str> = grants
        .iter()
        .map(|g| g["coupon"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 5, "a code each");
    assert_eq!(
        grants[0]["coupon"]["terms"]["benefit"],
        json!({ "kind": "AMOUNT_OFF", "amountFen": 500 })
    );
    // No points moved.
    for member in &gold {
        assert!(accounts(&w.app, member).await.is_empty(), "{member}");
    }
    // A finished drop grants nothing more.
    let pass = alliance::store::drops::run_once(w.app.db(), &directory, 2, w.app.now())
        .await
        .unwrap();
    assert_eq!(pass.granted, 0);
}
