//! Earning campaigns through the subgraph: created by the brand's partner
//! (MANAGE_REWARDS) or an operator, applied to orders placed in their
//! window, recorded per EARN entry, taken back with a cancelled order.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::future::join_all;
use kit::events::schema::{
    BindingCause, BindingChanged, MemberRegistered, OrderCancelled, OrderLine, OrderPlaced,
    OrderRefunded, RefundedLine,
};
use kit::testing::TestApp;
use serde_json::{Value, json};

use crate::support::*;

const SHANGHAI: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

const CREATE: &str = "mutation($i: CampaignInput!, $k: String!) { createCampaign(input: $i, idempotencyKey: $k) { id programmeId name kind factor target targetIds bonusPoints priority stacking startsAt endsAt status } }";
const END: &str = "mutation($id: ID!) { endCampaign(id: $id) { id endsAt status } }";

fn line(id: &str, category: &str, amount_fen: i64) -> OrderLine {
    OrderLine {
        line_id: id.into(),
        sku_id: format!("sku-{id}"),
        brand_id: "coffee".into(),
        quantity: 1,
        unit_price_fen: amount_fen,
        amount_fen,
        source_location_id: None,
        category_id: Some(category.into()),
    }
}

fn placed(order: &str, member: &str, lines: Vec<OrderLine>, at: DateTime<Utc>) -> OrderPlaced {
    OrderPlaced {
        order_id: order.into(),
        member_id: Some(member.into()),
        channel: kit::channel::Channel::App,
        store_id: Some("store-1".into()),
        fulfilment: "PICKUP_IN_STORE".into(),
        total_fen: lines.iter().map(|l| l.amount_fen).sum(),
        lines,
        placed_at: at,
    }
}

/// Today in the programme's zone, as the service computes it.
fn today(app: &TestApp) -> NaiveDate {
    app.now().with_timezone(&SHANGHAI).date_naive()
}

fn week_of(app: &TestApp, programme: &str, name: &str, reward: Value) -> Value {
    let first = today(app);
    json!({
        "programmeId": programme, "name": name,
        "firstDay": first.to_string(),
        "lastDay": (first + Duration::days(6)).to_string(),
        "reward": reward,
    })
}

async fn create(
    app: &TestApp,
    token: &str,
    input: Value,
    key: &str,
) -> kit::testing::GraphqlResponse {
    let key = format!("campaign-{key}");
    app.graphql(Some(token), CREATE, json!({ "i": input, "k": key }))
        .await
}

/// The order's EARN entry in `member`'s account, with its awards.
async fn earn_entry(app: &TestApp, member: &str, programme: &str, order: &str) -> Value {
    let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { pointsAccounts { programme { id } ledger(first: 100) { edges { node { kind reference pendingPoints awards { campaignId points } } } } } } } }";
    let r = op(
        app,
        q,
        json!({ "r": [{ "__typename": "Member", "id": member }] }),
    )
    .await;
    let accounts = r["_entities"][0]["pointsAccounts"].as_array().unwrap();
    let account = accounts
        .iter()
        .find(|a| a["programme"]["id"] == programme)
        .expect("an account in the programme");
    account["ledger"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .find(|n| n["kind"] == "EARN" && n["reference"] == format!("order:{order}"))
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_campaign_doubles_its_category_in_its_week_and_each_entry_says_why() {
    let w = world().await;
    let coffee = onboard(&w.app, "coffee", programme_input(7, None, "ONLY_PENDING")).await;
    let partner = scoped(&w.app, "coffee", &["MANAGE_REWARDS"]);
    let double = create(
        &w.app,
        &partner,
        week_of(
            &w.app,
            &coffee,
            "Double beans week",
            json!({ "multiplier": { "factor": "2", "categoryIds": ["coffee/beans"] } }),
        ),
        "beans-x2",
    )
    .await;
    let double = double.ok()["createCampaign"].clone();
    assert_eq!(double["kind"], "MULTIPLIER");
    assert_eq!(double["target"], "CATEGORIES");
    assert_eq!(double["targetIds"], json!(["coffee/beans"]));
    assert_eq!(double["status"], "RUNNING");
    assert_eq!(double["stacking"], "STACKABLE");
    // The window is days in the programme's zone: up to the midnight after
    // the last day there.
    let last = today(&w.app) + Duration::days(7);
    let midnight = last
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(SHANGHAI)
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        double["endsAt"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        midnight
    );
    let first = create(
        &w.app,
        &w.app.operator_token(),
        week_of(
            &w.app,
            &coffee,
            "Welcome",
            json!({ "firstPurchaseBonus": 50 }),
        ),
        "welcome",
    )
    .await;
    let first = first.ok()["createCampaign"].clone();

    // 30 yuan of beans and 10 of cups: 40 base, 30 more for the beans, 50
    // for a first purchase.
    let now = w.app.now();
    w.feed
        .publish(&placed(
            "o1",
            "m1",
            vec![
                line("l1", "coffee/beans", 3_000),
                line("l2", "coffee/drinks", 1_000),
            ],
            now,
        ))
        .await;
    w.apply().await;
    let entry = earn_entry(&w.app, "m1", &coffee, "o1").await;
    assert_eq!(entry["pendingPoints"], 120);
    let mut awards = entry["awards"].as_array().unwrap().clone();
    awards.sort_by_key(|a| a["points"].as_i64());
    assert_eq!(
        awards,
        vec![
            json!({ "campaignId": double["id"], "points": 30 }),
            json!({ "campaignId": first["id"], "points": 50 }),
        ]
    );
    // A second purchase is no first one.
    w.feed
        .publish(&placed(
            "o2",
            "m1",
            vec![line("l3", "coffee/beans", 1_000)],
            now,
        ))
        .await;
    w.apply().await;
    let entry = earn_entry(&w.app, "m1", &coffee, "o2").await;
    assert_eq!(entry["pendingPoints"], 20);
    assert_eq!(
        entry["awards"],
        json!([{ "campaignId": double["id"], "points": 10 }])
    );
    assert_eq!(account(&w.app, "m1", &coffee).await["pendingBalance"], 140);

    // A cancelled order takes back its awards with its base points; a
    // cancelled first order was no first purchase.
    w.feed
        .publish(&placed(
            "o3",
            "m2",
            vec![line("l4", "coffee/drinks", 1_000)],
            now,
        ))
        .await;
    w.feed
        .publish(&OrderCancelled {
            order_id: "o3".into(),
            member_id: Some("m2".into()),
            cancelled_at: now,
        })
        .await;
    w.feed
        .publish(&placed(
            "o4",
            "m2",
            vec![line("l5", "coffee/drinks", 1_000)],
            now,
        ))
        .await;
    w.apply().await;
    assert_eq!(
        earn_entry(&w.app, "m2", &coffee, "o4").await["pendingPoints"],
        60,
        "10 base and the first-purchase bonus again"
    );
    assert_eq!(account(&w.app, "m2", &coffee).await["pendingBalance"], 60);
    assert_balanced(&w.app, "m2").await;

    // A refunded first order was a sale: refunding it does not make the
    // next order first (no bonus farming by buying and returning).
    w.feed
        .publish(&placed(
            "o7",
            "m5",
            vec![line("l9", "coffee/drinks", 1_000)],
            now,
        ))
        .await;
    w.feed
        .publish(&OrderRefunded {
            order_id: "o7".into(),
            refund_id: "r7".into(),
            member_id: Some("m5".into()),
            lines: vec![RefundedLine {
                line_id: "l9".into(),
                quantity: 1,
                amount_fen: 1_000,
            }],
            amount_fen: 1_000,
            fully_refunded: true,
            refunded_at: now,
        })
        .await;
    w.feed
        .publish(&placed(
            "o8",
            "m5",
            vec![line("l10", "coffee/drinks", 1_000)],
            now,
        ))
        .await;
    w.apply().await;
    assert_eq!(
        earn_entry(&w.app, "m5", &coffee, "o7").await["pendingPoints"],
        60
    );
    assert_eq!(
        earn_entry(&w.app, "m5", &coffee, "o8").await["pendingPoints"],
        10,
        "no second first purchase"
    );

    // Ended, a campaign gives nothing to orders placed after.
    let ended = w
        .app
        .graphql(Some(&partner), END, json!({ "id": double["id"] }))
        .await;
    assert_eq!(ended.ok()["endCampaign"]["status"], "ENDED");
    w.feed
        .publish(&placed(
            "o5",
            "m1",
            vec![line("l6", "coffee/beans", 1_000)],
            w.app.now(),
        ))
        .await;
    w.apply().await;
    let entry = earn_entry(&w.app, "m1", &coffee, "o5").await;
    assert_eq!(entry["pendingPoints"], 10);
    assert_eq!(entry["awards"], json!([]));

    // After its window, the welcome bonus gives nothing either.
    w.app.clock().advance(Duration::days(8));
    w.feed
        .publish(&placed(
            "o6",
            "m3",
            vec![line("l7", "coffee/beans", 1_000)],
            w.app.now(),
        ))
        .await;
    w.apply().await;
    assert_eq!(
        earn_entry(&w.app, "m3", &coffee, "o6").await["pendingPoints"],
        10
    );
    let listed = op(
        &w.app,
        "query($id: ID!) { programme(id: $id) { campaigns(first: 1) { edges { node { id status } } pageInfo { hasNextPage endCursor } } } }",
        json!({ "id": coffee }),
    )
    .await;
    let page = &listed["programme"]["campaigns"];
    assert_eq!(page["edges"][0]["node"]["id"], double["id"]);
    assert_eq!(page["edges"][0]["node"]["status"], "ENDED");
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_balanced(&w.app, "m1").await;
}

#[tokio::test]
async fn campaign_input_is_checked_field_by_field_and_only_the_brand_runs_its_own() {
    let w = world().await;
    let coffee = onboard(&w.app, "coffee", programme_input(7, None, "ONLY_PENDING")).await;
    onboard(&w.app, "cinema", programme_input(7, None, "ONLY_PENDING")).await;
    let partner = scoped(&w.app, "coffee", &["MANAGE_REWARDS"]);
    let good = || {
        week_of(
            &w.app,
            &coffee,
            "Double",
            json!({ "multiplier": { "factor": "2" } }),
        )
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut i = good();
                i["reward"] = json!({});
                i
            },
            "reward",
        ),
        (
            {
                let mut i = good();
                i["reward"] = json!({ "multiplier": { "factor": "2" }, "firstPurchaseBonus": 5 });
                i
            },
            "reward",
        ),
        (
            {
                let mut i = good();
                i["reward"] = json!({ "multiplier": { "factor": "1" } });
                i
            },
            "factor",
        ),
        (
            {
                let mut i = good();
                i["reward"] = json!({ "multiplier": { "factor": "eleven" } });
                i
            },
            "factor",
        ),
        (
            {
                let mut i = good();
                i["reward"] =
                    json!({ "multiplier": { "factor": "2", "skuIds": ["a"], "storeIds": ["s"] } });
                i
            },
            "reward",
        ),
        (
            {
                let mut i = good();
                i["reward"] = json!({ "firstPurchaseBonus": 0 });
                i
            },
            "firstPurchaseBonus",
        ),
        (
            {
                let mut i = good();
                i["name"] = json!("  ");
                i
            },
            "name",
        ),
        (
            {
                let mut i = good();
                i["firstDay"] = json!("7 December");
                i
            },
            "firstDay",
        ),
        (
            {
                let mut i = good();
                i["lastDay"] = json!((today(&w.app) - Duration::days(1)).to_string());
                i
            },
            "lastDay",
        ),
        (
            {
                let mut i = good();
                i["firstDay"] = json!((today(&w.app) - Duration::days(9)).to_string());
                i["lastDay"] = json!((today(&w.app) - Duration::days(2)).to_string());
                i
            },
            "lastDay",
        ),
    ];
    // Exponents, too many places, years out of range, control characters.
    let odd = |key: &str, value: Value| {
        let mut i = good();
        if key == "factor" {
            i["reward"] = json!({ "multiplier": { "factor": value } });
        } else {
            i[key] = value;
        }
        i
    };
    let more: Vec<(Value, &str)> = vec![
        (odd("factor", json!("1e1")), "factor"),
        (odd("factor", json!("1.55555")), "factor"),
        (odd("factor", json!("1.")), "factor"),
        (
            odd("factor", json!(format!("1.{}", "1".repeat(5_000)))),
            "factor",
        ),
        (odd("firstDay", json!("0000-01-01")), "firstDay"),
        (odd("lastDay", json!("9999-12-31")), "lastDay"),
        (odd("name", json!("double\u{0}beans")), "name"),
        (odd("priority", json!(1_001)), "priority"),
    ];
    let cases: Vec<(Value, &str)> = cases.into_iter().chain(more).collect();
    for (n, (input, field)) in cases.into_iter().enumerate() {
        let r = create(&w.app, &partner, input.clone(), &format!("bad-{n}")).await;
        assert_eq!(r.error_code(), Some("BAD_USER_INPUT"), "{input}");
        assert_eq!(r.error_field(), Some(field), "{input}");
    }
    let mut unknown = good();
    unknown["programmeId"] = json!("no-such-programme");
    let r = create(&w.app, &w.app.operator_token(), unknown, "unknown").await;
    assert_eq!(r.error_code(), Some("NOT_FOUND"));

    // Another brand's key, a key without the scope, a member: refused, and
    // nothing was made.
    for token in [
        scoped(&w.app, "cinema", &["MANAGE_REWARDS"]),
        scoped(&w.app, "coffee", &["EARN", "MANAGE_TERMS"]),
        member(&w.app, "m1"),
    ] {
        let r = create(&w.app, &token, good(), "refused").await;
        assert_eq!(r.error_code(), Some("FORBIDDEN"), "{:?}", r.errors());
    }
    let r = w
        .app
        .graphql(None, CREATE, json!({ "i": good(), "k": "campaign-anon" }))
        .await;
    assert!(r.error_code().is_some());
    // Ended before its first day: ENDED, not SCHEDULED.
    let mut later = good();
    later["firstDay"] = json!((today(&w.app) + Duration::days(2)).to_string());
    later["lastDay"] = json!((today(&w.app) + Duration::days(5)).to_string());
    let scheduled = create(&w.app, &partner, later, "later").await;
    assert_eq!(scheduled.ok()["createCampaign"]["status"], "SCHEDULED");
    let ended = w
        .app
        .graphql(
            Some(&partner),
            END,
            json!({ "id": scheduled.ok()["createCampaign"]["id"] }),
        )
        .await;
    assert_eq!(ended.ok()["endCampaign"]["status"], "ENDED");
    let made = create(&w.app, &partner, good(), "made").await;
    let id = made.ok()["createCampaign"]["id"].clone();
    let r = w
        .app
        .graphql(
            Some(&scoped(&w.app, "cinema", &["MANAGE_REWARDS"])),
            END,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r.error_code(), Some("FORBIDDEN"));
    let r = w
        .app
        .graphql(Some(&partner), END, json!({ "id": "no-such-campaign" }))
        .await;
    assert_eq!(r.error_code(), Some("NOT_FOUND"));
    let listed = op(
        &w.app,
        "query($id: ID!) { programme(id: $id) { campaigns { edges { node { id } } } } }",
        json!({ "id": coffee }),
    )
    .await;
    assert_eq!(
        listed["programme"]["campaigns"]["edges"],
        json!([
            { "node": { "id": scheduled.ok()["createCampaign"]["id"] } },
            { "node": { "id": id } }
        ])
    );
}

/// Eight identical creations make one campaign; eight identical endings
/// end it once (one audit entry each way); another input under a used key
/// is a CONFLICT.
#[tokio::test]
async fn identical_concurrent_creations_and_endings_act_once() {
    let w = world().await;
    let coffee = onboard(&w.app, "coffee", programme_input(7, None, "ONLY_PENDING")).await;
    let partner = scoped(&w.app, "coffee", &["MANAGE_REWARDS"]);
    let input = week_of(
        &w.app,
        &coffee,
        "Bonus",
        json!({ "firstPurchaseBonus": 20 }),
    );
    let answers = join_all((0..8).map(|_| create(&w.app, &partner, input.clone(), "same"))).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|r| r.ok()["createCampaign"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "one campaign for one key");
    let id = ids.into_iter().next().unwrap();
    let mut other = input.clone();
    other["name"] = json!("Another");
    let r = create(&w.app, &partner, other, "same").await;
    assert_eq!(r.error_code(), Some("CONFLICT"));

    let ended =
        join_all((0..8).map(|_| w.app.graphql(Some(&partner), END, json!({ "id": id })))).await;
    let ends: std::collections::BTreeSet<String> = ended
        .iter()
        .map(|r| r.ok()["endCampaign"]["endsAt"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ends.len(), 1, "every caller sees the one ending");
    let audit = |action: &'static str| {
        let app = &w.app;
        async move {
            op(
                app,
                "query($a: AuditAction) { auditLog(action: $a) { edges { node { subjectId } } } }",
                json!({ "a": action }),
            )
            .await["auditLog"]["edges"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(audit("CAMPAIGN_CREATED").await, 1);
    assert_eq!(audit("CAMPAIGN_ENDED").await, 1);
    let listed = op(
        &w.app,
        "query($id: ID!) { programme(id: $id) { campaigns { edges { node { id status } } } } }",
        json!({ "id": coffee }),
    )
    .await;
    assert_eq!(
        listed["programme"]["campaigns"]["edges"],
        json!([{ "node": { "id": id, "status": "ENDED" } }])
    );
}

/// A birthday-month campaign asks the member service for the member's
/// birthday month. While it does not answer, the order waits: nothing is
/// earned and nothing is parked. Once it answers, the order earns the
/// bonus (in the birthday month only, counted in the programme's zone).
#[tokio::test]
async fn a_birthday_month_order_waits_for_the_member_service_then_earns_its_bonus() {
    let (w, member_service) = world_and_member_service().await;
    let coffee = onboard(&w.app, "coffee", programme_input(7, None, "ONLY_PENDING")).await;
    let birthday = create(
        &w.app,
        &w.app.operator_token(),
        week_of(
            &w.app,
            &coffee,
            "Birthday month",
            json!({ "birthdayMonthBonus": 88 }),
        ),
        "birthday",
    )
    .await;
    let birthday = birthday.ok()["createCampaign"].clone();
    assert_eq!(birthday["kind"], "BIRTHDAY_MONTH");
    assert_eq!(birthday["bonusPoints"], 88);
    let this_month = chrono::Datelike::month(&today(&w.app));
    let born = |month: u32| NaiveDate::from_ymd_opt(1990, month, 1);
    let born_now = register_at(&member_service, "born-this-month", born(this_month)).await;
    let born_later = register_at(
        &member_service,
        "born-another-month",
        born(this_month % 12 + 1),
    )
    .await;
    let no_birthday = register_at(&member_service, "no-birthday", None).await;

    // Nothing answers at the member service's address yet.
    let directory = kit::members::MemberDirectory::new("alliance", w.app.keys().clone());
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    directory.connect(&format!("http://{}", unused.local_addr().unwrap()));
    drop(unused);
    let consumer = kit::events::consumer::FeedConsumer::new(
        alliance::events::ORDER_FEED,
        &w.feed.address,
        w.app.db().clone(),
        w.app.keys().clone(),
        w.app.clock().clone(),
        alliance::events::OrderFeed::asking(directory.clone()),
    );
    let now = w.app.now();
    for (order, member) in [("b1", &born_now), ("b2", &born_later), ("b3", &no_birthday)] {
        w.feed
            .publish(&placed(
                order,
                member,
                vec![line(&format!("{order}-l"), "coffee/drinks", 1_000)],
                now,
            ))
            .await;
    }
    assert_eq!(
        consumer.catch_up().await.unwrap(),
        0,
        "the first order waits"
    );
    assert_eq!(consumer.position().await.unwrap(), 0);
    assert!(
        accounts(&w.app, &born_now).await.is_empty(),
        "nothing earned"
    );
    assert_eq!(
        consumer.retry_parked().await.unwrap(),
        0,
        "nothing was parked"
    );

    directory.connect(&member_service.address);
    assert_eq!(consumer.catch_up().await.unwrap(), 3);
    let entry = earn_entry(&w.app, &born_now, &coffee, "b1").await;
    assert_eq!(entry["pendingPoints"], 10 + 88);
    assert_eq!(
        entry["awards"],
        json!([{ "campaignId": birthday["id"], "points": 88 }])
    );
    for (member, order) in [(&born_later, "b2"), (&no_birthday, "b3")] {
        let entry = earn_entry(&w.app, member, &coffee, order).await;
        assert_eq!(entry["pendingPoints"], 10, "{order}");
        assert_eq!(entry["awards"], json!([]), "{order}");
    }
}

/// Registration campaigns: a guide's registration (store feed) and a
/// referral (member feed) earn their bonuses once, even when a second
/// reader replays the same events; scans and registrations without a
/// referrer, or at a brand without a programme, earn nothing.
#[tokio::test]
async fn registrations_through_a_guide_or_a_referrer_earn_once_each() {
    let w = world().await;
    let coffee = onboard(&w.app, "coffee", programme_input(0, None, "ONLY_PENDING")).await;
    let token = w.app.operator_token();
    let guide = create(
        &w.app,
        &token,
        week_of(
            &w.app,
            &coffee,
            "Guide welcome",
            json!({ "guideRegistrationBonus": 50 }),
        ),
        "guide",
    )
    .await;
    let guide = guide.ok()["createCampaign"].clone();
    assert_eq!(guide["kind"], "GUIDE_REGISTRATION");
    let referral = create(
        &w.app,
        &token,
        week_of(
            &w.app,
            &coffee,
            "Bring a friend",
            json!({ "referral": { "newMemberPoints": 30, "referrerPoints": 70 } }),
        ),
        "referral",
    )
    .await;
    let referral = referral.ok()["createCampaign"].clone();
    let now = w.app.now();
    let registered = |member: &str, brand: &str, referrer: Option<&str>| MemberRegistered {
        member_id: member.into(),
        channel: kit::channel::Channel::App,
        guide_code: None,
        brand_id: Some(brand.into()),
        registered_at: now,
        referrer_id: referrer.map(Into::into),
    };
    w.members
        .publish(&registered("new-1", "coffee", Some("old-1")))
        .await;
    w.members
        .publish(&registered("new-2", "coffee", None))
        .await;
    w.members
        .publish(&registered("new-3", "cinema", Some("old-1")))
        .await;
    let bound = |member: &str, cause: BindingCause| BindingChanged {
        member_id: member.into(),
        store_id: Some("store-1".into()),
        guide_id: Some("guide-1".into()),
        brand_id: Some("coffee".into()),
        cause,
        expires_at: None,
        changed_at: now,
    };
    w.stores
        .publish(&bound("guided-1", BindingCause::Registration))
        .await;
    w.stores
        .publish(&bound("scanned-1", BindingCause::Scan))
        .await;
    for reader in ["first", "replay"] {
        w.member_consumer(&format!("members-{reader}"))
            .catch_up()
            .await
            .unwrap();
        w.store_consumer(&format!("stores-{reader}"))
            .catch_up()
            .await
            .unwrap();
    }
    let earned = |member: &'static str| {
        let app = &w.app;
        let coffee = coffee.clone();
        async move {
            let account = account(app, member, &coffee).await;
            (
                account["pendingBalance"].as_i64().unwrap_or(0)
                    + account["activeBalance"].as_i64().unwrap_or(0),
                account,
            )
        }
    };
    assert_eq!(earned("new-1").await.0, 30);
    assert_eq!(earned("old-1").await.0, 70);
    assert_eq!(earned("guided-1").await.0, 50);
    for nothing in ["new-2", "new-3", "scanned-1"] {
        assert!(
            accounts(&w.app, nothing).await.is_empty(),
            "{nothing} earns nothing"
        );
    }
    let q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { pointsAccounts { ledger(first: 10) { edges { node { kind reference awards { campaignId points } } } } } } } }";
    for (member, reference, campaign, points) in [
        ("new-1", "registration:referral:new-1", &referral, 30),
        ("old-1", "referral:new-1", &referral, 70),
        ("guided-1", "registration:guide:guided-1", &guide, 50),
    ] {
        let r = op(
            &w.app,
            q,
            json!({ "r": [{ "__typename": "Member", "id": member }] }),
        )
        .await;
        let earns: Vec<Value> = r["_entities"][0]["pointsAccounts"][0]["ledger"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .filter(|n| n["kind"] == "EARN")
            .collect();
        assert_eq!(
            earns,
            [json!({
                "kind": "EARN", "reference": reference,
                "awards": [{ "campaignId": campaign["id"], "points": points }],
            })],
            "{member}"
        );
    }
}

/// A campaign limited to a segment gives to the segment's members only, as
/// the member service says when the order is earned; a segment it does not
/// know has no members.
#[tokio::test]
async fn a_segments_campaign_gives_to_its_members_only() {
    let (w, member_service) = world_and_member_service().await;
    let coffee = onboard(&w.app, "coffee", programme_input(7, None, "ONLY_PENDING")).await;
    let gold = register_at(&member_service, "seg-gold", None).await;
    let plain = register_at(&member_service, "seg-plain", None).await;
    let segment = gold_segment(&member_service, &[&gold]).await;
    let limited = |name: &str, segment: &str, points: i64| {
        let mut input = week_of(
            &w.app,
            &coffee,
            name,
            json!({ "firstPurchaseBonus": points }),
        );
        input["eligibleSegmentId"] = json!(segment);
        input
    };
    let for_gold = create(
        &w.app,
        &w.app.operator_token(),
        limited("Gold welcome", &segment, 50),
        "gold",
    )
    .await;
    let for_gold = for_gold.ok()["createCampaign"].clone();
    create(
        &w.app,
        &w.app.operator_token(),
        limited("Nobody's", "no-such-segment", 7),
        "nobody",
    )
    .await
    .ok();
    let shown = op(
        &w.app,
        "query($id: ID!) { programme(id: $id) { campaigns { edges { node { name eligibleSegmentId } } } } }",
        json!({ "id": coffee }),
    )
    .await;
    assert!(
        shown
            .to_string()
            .contains(&format!(r#""eligibleSegmentId":"{segment}""#)),
        "{shown}"
    );
    let directory = kit::members::MemberDirectory::new("alliance", w.app.keys().clone());
    directory.connect(&member_service.address);
    let now = w.app.now();
    for (order, member) in [("s1", &gold), ("s2", &plain)] {
        w.feed
            .publish(&placed(
                order,
                member,
                vec![line(&format!("{order}-l"), "coffee/drinks", 1_000)],
                now,
            ))
            .await;
    }
    let consumer = kit::events::consumer::FeedConsumer::new(
        alliance::events::ORDER_FEED,
        &w.feed.address,
        w.app.db().clone(),
        w.app.keys().clone(),
        w.app.clock().clone(),
        alliance::events::OrderFeed::asking(directory),
    );
    assert_eq!(consumer.catch_up().await.unwrap(), 2);
    let entry = earn_entry(&w.app, &gold, &coffee, "s1").await;
    assert_eq!(
        entry["awards"],
        json!([{ "campaignId": for_gold["id"], "points": 50 }])
    );
    assert_eq!(entry["pendingPoints"], 10 + 50);
    let entry = earn_entry(&w.app, &plain, &coffee, "s2").await;
    assert_eq!(entry["awards"], json!([]));
    assert_eq!(entry["pendingPoints"], 10);
}

/// A referral campaign limited to a segment gives each of its two members
/// only if that member is in the segment: here the referrer is (GOLD) and
/// the new member is not.
#[tokio::test]
async fn a_segments_referral_campaign_asks_about_each_member_apart() {
    let (w, member_service) = world_and_member_service().await;
    let coffee = onboard(&w.app, "coffee", programme_input(0, None, "ONLY_PENDING")).await;
    let referrer = register_at(&member_service, "ref-gold", None).await;
    let newcomer = register_at(&member_service, "ref-new", None).await;
    let segment = gold_segment(&member_service, &[&referrer]).await;
    let mut input = week_of(
        &w.app,
        &coffee,
        "Gold friends",
        json!({ "referral": { "newMemberPoints": 11, "referrerPoints": 22 } }),
    );
    input["eligibleSegmentId"] = json!(segment);
    create(&w.app, &w.app.operator_token(), input, "gold-friends")
        .await
        .ok();
    w.members
        .publish(&MemberRegistered {
            member_id: newcomer.clone(),
            channel: kit::channel::Channel::App,
            guide_code: None,
            brand_id: Some("coffee".into()),
            registered_at: w.app.now(),
            referrer_id: Some(referrer.clone()),
        })
        .await;
    let directory = kit::members::MemberDirectory::new("alliance", w.app.keys().clone());
    directory.connect(&member_service.address);
    kit::events::consumer::FeedConsumer::new(
        alliance::events::MEMBER_FEED,
        &w.members.address,
        w.app.db().clone(),
        w.app.keys().clone(),
        w.app.clock().clone(),
        alliance::events::MemberFeed::asking(directory),
    )
    .catch_up()
    .await
    .unwrap();
    assert_eq!(
        account(&w.app, &referrer, &coffee).await["activeBalance"],
        22
    );
    assert!(
        accounts(&w.app, &newcomer).await.is_empty(),
        "the new member is not in the segment"
    );
}
