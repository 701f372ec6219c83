//! Partners' webhooks: events from the outbox, fanned out once per
//! endpoint, signed as documented, retried with backoff, logged,
//! redelivered, paused, and isolated per endpoint.

use std::time::Duration;

use alliance::events::{WEBHOOK_FEED, WebhookFanOut};
use alliance::webhooks::Sender;
use futures::future::join_all;
use hmac::{Hmac, Mac};
use kit::config::WebhookSettings;
use kit::events::consumer::{FeedConsumer, OwnOutbox};
use kit::testing::{Reply, TestApp, WebhookReceiver as Receiver, spawn};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::*;

/// Short waits so that a test walks through retries by moving the clock.
fn settings() -> WebhookSettings {
    WebhookSettings {
        poll_interval_ms: 50,
        timeout_ms: 2_000,
        retry_base_ms: 1_000,
        retry_cap_ms: 4_000,
        max_attempts: 3,
        expiring_soon_days: 14,
        allow_private_urls: true,
    }
}

fn sender(app: &TestApp, settings: WebhookSettings) -> Sender {
    Sender::new(app.db().clone(), app.clock().clone(), settings)
}

/// Queues deliveries for everything the outbox holds, as `up` does.
async fn fan_out(app: &TestApp) -> usize {
    FeedConsumer::from_source(
        WEBHOOK_FEED,
        OwnOutbox::new(WEBHOOK_FEED, app.db().clone(), app.clock().clone()),
        app.db().clone(),
        app.clock().clone(),
        WebhookFanOut,
    )
    .catch_up()
    .await
    .unwrap()
}

const REGISTER: &str = "mutation($b: ID!, $u: String!, $e: [WebhookEventType!]!, $k: String!) { registerWebhookEndpoint(brandId: $b, url: $u, events: $e, idempotencyKey: $k) { signingSecret endpoint { id url events paused brand { id } } } }";
const ENDPOINT: &str = "query($id: ID!, $s: WebhookDeliveryStatus) { webhookEndpoint(id: $id) { id paused deliveries(status: $s, first: 50) { edges { node { id eventId eventType status attempts lastStatus lastAnswer nextAttemptAt deliveredAt redeliveryOf payload } } } } }";
const REDELIVER: &str = "mutation($d: ID!) { redeliverWebhook(deliveryId: $d) { id eventId status attempts redeliveryOf } }";
const PAUSE: &str = "mutation($e: ID!, $p: Boolean!) { pauseWebhookEndpoint(endpointId: $e, paused: $p) { id paused } }";

/// A token of `brand`'s partner with only the scopes named.
/// Registers an endpoint as `brand`'s partner: (endpoint id, secret).
async fn register(app: &TestApp, brand: &str, url: &str, events: &[&str]) -> (String, String) {
    let token = scoped(app, brand, &["MANAGE_WEBHOOKS"]);
    let r = app
        .graphql(
            Some(&token),
            REGISTER,
            json!({ "b": brand, "u": url, "e": events, "k": format!("hook-{}", kit::idempotency::new_id()) }),
        )
        .await;
    let created = &r.ok()["registerWebhookEndpoint"];
    (
        created["endpoint"]["id"].as_str().unwrap().to_owned(),
        created["signingSecret"].as_str().unwrap().to_owned(),
    )
}

async fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    op(app, ENDPOINT, json!({ "id": endpoint })).await["webhookEndpoint"]["deliveries"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// The documented check, written from the README's description: HMAC-SHA256
/// under the secret over "<t>.<body>", hex, and t within 300 s of now.
fn verify(secret: &str, header: &str, body: &str, now: i64) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1.push(value.to_owned()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (now - t).abs() <= 300 && v1.contains(&expected)
}

#[tokio::test]
async fn an_earning_reaches_the_partner_signed_with_its_event_id() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, _) = two_programmes(&app).await;
    let hook = Receiver::start(&[], Reply::Status(204));
    let (endpoint, secret) = register(&app, "coffee", &hook.url, &["POINTS_EARNED"]).await;
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    earn(&app, "m7", &coffee, 120, "till-1").await.ok();
    fan_out(&app).await;
    assert_eq!(sender(&app, settings()).deliver_due().await.unwrap(), 1);

    let got = hook.got();
    assert_eq!(got.len(), 1, "one earning, one delivery: {got:?}");
    let r = &got[0];
    // The signature's `t` is the system time (replay protection is
    // security, as token lifetimes are), so it is checked against the
    // system clock: only a difference of seconds matters, never the hour,
    // zone or date.
    assert!(
        verify(
            &secret,
            &r.signature,
            &r.body,
            chrono::Utc::now().timestamp()
        ),
        "the signature verifies: {r:?}"
    );
    assert!(!verify(
        "whsec_wrong",
        &r.signature,
        &r.body,
        app.now().timestamp()
    ));
    let tampered = r.body.replacen("\"m7\"", "\"m8\"", 1);
    assert_ne!(tampered, r.body);
    assert!(!verify(
        &secret,
        &r.signature,
        &tampered,
        app.now().timestamp()
    ));
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["type"], "points.earned");
    assert_eq!(r.event_type, "points.earned");
    assert_eq!(body["id"], r.event_id.as_str());
    assert!(r.event_id.starts_with("evt_"));
    assert_eq!(body["brandId"], "coffee");
    assert_eq!(body["data"]["memberId"], "m7");
    assert_eq!(
        body["data"]["points"].as_i64().unwrap() + body["data"]["pendingPoints"].as_i64().unwrap(),
        120
    );
    // The log shows it delivered, with the body sent.
    let log = deliveries(&app, &endpoint).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "DELIVERED");
    assert_eq!(log[0]["attempts"], 1);
    assert_eq!(log[0]["lastStatus"], 204);
    assert_eq!(log[0]["nextAttemptAt"], Value::Null);
    assert_eq!(log[0]["payload"], r.body.as_str());
    // Nothing more to send, and fanning out again queues nothing.
    assert_eq!(fan_out(&app).await, 0);
    assert_eq!(sender(&app, settings()).deliver_due().await.unwrap(), 0);
    assert_eq!(hook.got().len(), 1);
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_event_three_times_with_one_id() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, _) = two_programmes(&app).await;
    let hook = Receiver::start(
        &[Reply::Status(500), Reply::Status(500)],
        Reply::Status(200),
    );
    let (endpoint, _) = register(&app, "coffee", &hook.url, &["POINTS_EARNED"]).await;
    earn(&app, "m7", &coffee, 50, "till-2").await.ok();
    fan_out(&app).await;
    let sender = sender(&app, settings());
    assert_eq!(sender.deliver_due().await.unwrap(), 1);
    let log = deliveries(&app, &endpoint).await;
    assert_eq!(log[0]["status"], "PENDING");
    assert_eq!(log[0]["attempts"], 1);
    assert_eq!(log[0]["lastStatus"], 500);
    assert_eq!(log[0]["lastAnswer"], "answered 500");
    // Not before its wait: 0.5-1 s after the first failure.
    assert_eq!(sender.deliver_due().await.unwrap(), 0);
    app.clock().advance(chrono::Duration::seconds(1));
    assert_eq!(sender.deliver_due().await.unwrap(), 1);
    // The second wait is 1-2 s.
    app.clock().advance(chrono::Duration::milliseconds(999));
    let early = sender.deliver_due().await.unwrap();
    app.clock().advance(chrono::Duration::seconds(2));
    assert_eq!(early + sender.deliver_due().await.unwrap(), 1);
    let got = hook.got();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got.iter()
            .all(|r| r.event_id == got[0].event_id && r.body == got[0].body)
    );
    let log = deliveries(&app, &endpoint).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "DELIVERED");
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["lastStatus"], 200);
}

#[tokio::test]
async fn after_the_last_attempt_a_delivery_fails_and_can_be_sent_again() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, _) = two_programmes(&app).await;
    let hook = Receiver::start(&[], Reply::Status(503));
    let (endpoint, _) = register(&app, "coffee", &hook.url, &["POINTS_EARNED"]).await;
    earn(&app, "m7", &coffee, 50, "till-3").await.ok();
    fan_out(&app).await;
    let sender = sender(&app, settings());
    for _ in 0..3 {
        assert_eq!(sender.deliver_due().await.unwrap(), 1);
        app.clock().advance(chrono::Duration::seconds(5));
    }
    assert_eq!(sender.deliver_due().await.unwrap(), 0, "no fourth attempt");
    let failed = deliveries(&app, &endpoint).await;
    assert_eq!(failed[0]["status"], "FAILED");
    assert_eq!(failed[0]["attempts"], 3);
    let failed_id = failed[0]["id"].as_str().unwrap().to_owned();

    // The partner asks again: a new delivery of the same event.
    let partner = scoped(&app, "coffee", &["MANAGE_WEBHOOKS"]);
    let again = app
        .graphql(Some(&partner), REDELIVER, json!({ "d": failed_id }))
        .await;
    let again = again.ok()["redeliverWebhook"].clone();
    assert_eq!(again["status"], "PENDING");
    assert_eq!(again["eventId"], failed[0]["eventId"]);
    assert_eq!(again["redeliveryOf"], failed_id.as_str());
    // Asking for the failed one again, even many times at once, answers
    // the same redelivery; the redelivery itself is pending: CONFLICT.
    let repeats =
        join_all((0..8).map(|_| app.graphql(Some(&partner), REDELIVER, json!({ "d": failed_id }))))
            .await;
    for r in repeats {
        assert_eq!(r.ok()["redeliverWebhook"]["id"], again["id"], "{}", r.body);
    }
    let pending = app
        .graphql(Some(&partner), REDELIVER, json!({ "d": again["id"] }))
        .await;
    assert_eq!(pending.error_code(), Some("CONFLICT"), "{}", pending.body);
    let stranger = scoped(&app, "cinema", &["MANAGE_WEBHOOKS"]);
    let refused = app
        .graphql(Some(&stranger), REDELIVER, json!({ "d": failed_id }))
        .await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"));
    hook.answer_from_now(Reply::Status(200));
    assert_eq!(sender.deliver_due().await.unwrap(), 1);
    let got = hook.got();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|r| r.event_id == got[0].event_id));
    let delivered = deliveries(&app, &endpoint).await;
    assert_eq!(delivered[0]["status"], "DELIVERED");
    assert_eq!(delivered[1]["status"], "FAILED");
}

#[tokio::test]
async fn a_hanging_endpoint_holds_up_no_other_partner() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, cinema) = two_programmes(&app).await;
    let dead = Receiver::start(&[], Reply::Hang);
    let live = Receiver::start(&[], Reply::Status(200));
    let (dead_endpoint, _) = register(&app, "coffee", &dead.url, &["POINTS_EARNED"]).await;
    register(&app, "cinema", &live.url, &["POINTS_EARNED"]).await;
    earn(&app, "m7", &coffee, 10, "till-4").await.ok();
    earn(&app, "m7", &cinema, 10, "till-5").await.ok();
    earn(&app, "m7", &coffee, 10, "till-6").await.ok();
    fan_out(&app).await;
    let sender = sender(
        &app,
        WebhookSettings {
            timeout_ms: 1_500,
            ..settings()
        },
    );
    let started = sender.pass().await.unwrap();
    // One attempt per endpoint at a time: the dead one's second event waits.
    assert_eq!(started.len(), 2);
    let began = std::time::Instant::now();
    while live.got().is_empty() && began.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(live.got().len(), 1);
    assert!(
        began.elapsed() < Duration::from_millis(1_000),
        "the live endpoint was not held up by the dead one: {:?}",
        began.elapsed()
    );
    // A pass meanwhile starts nothing for the endpoint still sending.
    assert!(sender.pass().await.unwrap().is_empty());
    join_all(started).await;
    let log = deliveries(&app, &dead_endpoint).await;
    let tried: Vec<&Value> = log.iter().filter(|d| d["attempts"] == 1).collect();
    assert_eq!(tried.len(), 1, "{log:?}");
    assert_eq!(tried[0]["status"], "PENDING");
    assert_eq!(tried[0]["lastStatus"], Value::Null);
    assert_eq!(tried[0]["lastAnswer"], "no answer within 1500 ms");
}

#[tokio::test]
async fn identical_senders_racing_send_each_attempt_once() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, _) = two_programmes(&app).await;
    let hooks: Vec<Receiver> = (0..4)
        .map(|_| Receiver::start(&[], Reply::Status(200)))
        .collect();
    for hook in &hooks {
        register(
            &app,
            "coffee",
            &hook.url,
            &["POINTS_EARNED", "POINTS_REDEEMED"],
        )
        .await;
    }
    for n in 0..3 {
        earn(&app, "m7", &coffee, 10, &format!("race-{n}"))
            .await
            .ok();
    }
    // Fan-out consumers racing on one position queue each event once.
    join_all((0..4).map(|_| fan_out(&app))).await;
    // Six replicas' senders, passing until nothing is due.
    let senders: Vec<Sender> = (0..6).map(|_| sender(&app, settings())).collect();
    loop {
        let sent: usize = join_all(senders.iter().map(|s| s.deliver_due()))
            .await
            .into_iter()
            .map(Result::unwrap)
            .sum();
        if sent == 0 {
            break;
        }
    }
    for hook in &hooks {
        let mut ids: Vec<String> = hook.got().into_iter().map(|r| r.event_id).collect();
        assert_eq!(ids.len(), 3, "each of three earnings once: {ids:?}");
        ids.dedup();
        assert_eq!(ids.len(), 3);
    }
}

#[tokio::test]
async fn identical_registrations_with_one_key_make_one_endpoint() {
    let app = spawn(&alliance::SPEC).await;
    two_programmes(&app).await;
    let token = scoped(&app, "coffee", &["MANAGE_WEBHOOKS"]);
    let vars = json!({ "b": "coffee", "u": "https://hooks.example.com/a", "e": ["POINTS_EARNED"], "k": "register-once-1" });
    let answers =
        join_all((0..12).map(|_| app.graphql(Some(&token), REGISTER, vars.clone()))).await;
    let first = answers[0].ok()["registerWebhookEndpoint"].clone();
    for a in &answers {
        assert_eq!(a.ok()["registerWebhookEndpoint"], first, "{}", a.body);
    }
    let list = app
        .graphql(
            Some(&token),
            "query { webhookEndpoints(brandId: \"coffee\") { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        list.ok()["webhookEndpoints"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The same key for another URL is a CONFLICT, and writes nothing.
    let mut other = vars.clone();
    other["u"] = json!("https://hooks.example.com/b");
    let reused = app.graphql(Some(&token), REGISTER, other).await;
    assert_eq!(reused.error_code(), Some("CONFLICT"));
}

#[tokio::test]
async fn registering_refuses_bad_input_and_other_callers() {
    let app = spawn(&alliance::SPEC).await;
    two_programmes(&app).await;
    let token = scoped(&app, "coffee", &["MANAGE_WEBHOOKS"]);
    let ask = |token: String, brand: &str, url: &str, events: Value| {
        let vars = json!({ "b": brand, "u": url, "e": events, "k": "bad-input-key" });
        let app = &app;
        async move { app.graphql(Some(&token), REGISTER, vars).await }
    };
    for url in [
        "ftp://x.example/",
        "not a url",
        "https://u:p@x.example/",
        "",
    ] {
        let r = ask(token.clone(), "coffee", url, json!(["POINTS_EARNED"])).await;
        assert_eq!(r.error_code(), Some("BAD_USER_INPUT"), "{url}: {}", r.body);
        assert_eq!(r.error_field(), Some("url"));
    }
    let r = ask(token.clone(), "coffee", "https://x.example/", json!([])).await;
    assert_eq!(r.error_field(), Some("events"));
    let r = ask(
        token.clone(),
        "coffee",
        "https://x.example/",
        json!(["NOT_AN_EVENT"]),
    )
    .await;
    assert!(!r.errors().is_empty());
    // Another brand, a key without the scope, a member: FORBIDDEN.
    for (who, brand) in [
        (token.clone(), "cinema"),
        (scoped(&app, "coffee", &["EARN", "READ_ACCOUNTS"]), "coffee"),
        (member(&app, "m1"), "coffee"),
    ] {
        let r = ask(who, brand, "https://x.example/", json!(["POINTS_EARNED"])).await;
        assert_eq!(r.error_code(), Some("FORBIDDEN"), "{}", r.body);
    }
    // Nothing was registered by any of them.
    let list = op(
        &app,
        "query { webhookEndpoints(brandId: \"coffee\") { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(list["webhookEndpoints"]["edges"], json!([]));
    // An unknown brand, as an operator: NOT_FOUND.
    let r = ask(
        app.operator_token(),
        "nobody",
        "https://x.example/",
        json!(["POINTS_EARNED"]),
    )
    .await;
    assert_eq!(r.error_code(), Some("NOT_FOUND"));
}

#[tokio::test]
async fn a_paused_endpoint_queues_its_events_until_resumed() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, _) = two_programmes(&app).await;
    let hook = Receiver::start(&[], Reply::Status(200));
    let (endpoint, _) = register(&app, "coffee", &hook.url, &["POINTS_EARNED"]).await;
    // Only an operator pauses.
    let partner = scoped(&app, "coffee", &["MANAGE_WEBHOOKS"]);
    let refused = app
        .graphql(Some(&partner), PAUSE, json!({ "e": endpoint, "p": true }))
        .await;
    assert_eq!(refused.error_code(), Some("FORBIDDEN"));
    let paused = op(&app, PAUSE, json!({ "e": endpoint, "p": true })).await;
    assert_eq!(paused["pauseWebhookEndpoint"]["paused"], true);
    earn(&app, "m7", &coffee, 10, "paused-1").await.ok();
    fan_out(&app).await;
    let sender = sender(&app, settings());
    assert_eq!(sender.deliver_due().await.unwrap(), 0);
    assert!(hook.got().is_empty());
    assert_eq!(deliveries(&app, &endpoint).await[0]["status"], "PENDING");
    op(&app, PAUSE, json!({ "e": endpoint, "p": false })).await;
    assert_eq!(sender.deliver_due().await.unwrap(), 1);
    assert_eq!(hook.got().len(), 1);
    // Both are in the audit log.
    let audit = op(
        &app,
        "query { auditLog(brandId: \"coffee\") { edges { node { action subjectId } } } }",
        json!({}),
    )
    .await;
    let actions: Vec<&str> = audit["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["subjectId"] == endpoint.as_str())
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["WEBHOOK_RESUMED", "WEBHOOK_PAUSED", "WEBHOOK_REGISTERED"]
    );
}

#[tokio::test]
async fn each_kind_of_event_reaches_the_brands_it_concerns_and_only_if_listened_to() {
    let app = spawn(&alliance::SPEC).await;
    let (coffee, cinema) = two_programmes(&app).await;
    let all: Vec<String> = [
        "POINTS_EARNED",
        "POINTS_ACTIVATED",
        "POINTS_REDEEMED",
        "POINTS_REVERSED",
        "POINTS_EXPIRED",
        "POINTS_EXPIRING_SOON",
        "POINTS_ADJUSTED",
        "EXCHANGE_OUT",
        "EXCHANGE_IN",
        "TERMS_PROPOSED",
        "TERMS_ACCEPTED",
        "MEMBER_MERGED",
        "MEMBER_ERASED",
    ]
    .map(String::from)
    .to_vec();
    let events: Vec<&str> = all.iter().map(String::as_str).collect();
    let coffee_hook = Receiver::start(&[], Reply::Status(200));
    let cinema_hook = Receiver::start(&[], Reply::Status(200));
    let redeem_only = Receiver::start(&[], Reply::Status(200));
    register(&app, "coffee", &coffee_hook.url, &events).await;
    register(&app, "cinema", &cinema_hook.url, &events).await;
    register(&app, "coffee", &redeem_only.url, &["POINTS_REDEEMED"]).await;
    let sender = sender(&app, settings());
    let drain = || async {
        fan_out(&app).await;
        while sender.deliver_due().await.unwrap() > 0 {}
    };
    drain().await; // the seed earning of two_programmes
    let types =
        |hook: &Receiver| -> Vec<String> { hook.got().into_iter().map(|r| r.event_type).collect() };
    let since = |hook: &Receiver, n: usize| types(hook)[n..].to_vec();

    // Earn, redeem and adjust in coffee: coffee hears, cinema does not.
    let (c0, k0, r0) = (
        coffee_hook.got().len(),
        cinema_hook.got().len(),
        redeem_only.got().len(),
    );
    app.graphql(
        Some(&app.operator_token()),
        REDEEM,
        tx("m1", &coffee, 100, "r-1", "redeem-key-1"),
    )
    .await
    .ok();
    let account = account(&app, "m1", &coffee).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    op(
        &app,
        "mutation($a: ID!) { adjustPoints(accountId: $a, points: 5, reason: \"goodwill\", idempotencyKey: \"adjust-key-1\") { entry { id } } }",
        json!({ "a": account }),
    )
    .await;
    drain().await;
    assert_eq!(
        since(&coffee_hook, c0),
        ["points.redeemed", "points.adjusted"]
    );
    assert_eq!(since(&redeem_only, r0), ["points.redeemed"]);
    assert_eq!(cinema_hook.got().len(), k0);

    // Terms: both brands hear of the proposal and of each acceptance.
    let (c0, k0) = (coffee_hook.got().len(), cinema_hook.got().len());
    let terms = active_terms(&app, &coffee, &cinema, "0.5", 0).await;
    drain().await;
    let expected = ["terms.proposed", "terms.accepted", "terms.accepted"];
    assert_eq!(since(&coffee_hook, c0), expected);
    assert_eq!(since(&cinema_hook, k0), expected);
    let accepted: Value = serde_json::from_str(&coffee_hook.got().last().unwrap().body).unwrap();
    assert_eq!(accepted["data"]["termsId"], terms.as_str());

    // An exchange: out of coffee, into cinema.
    let (c0, k0) = (coffee_hook.got().len(), cinema_hook.got().len());
    let m1 = member(&app, "m1");
    let q = quote(&app, &m1, &coffee, &cinema, 200).await;
    let quote_id = q.ok()["exchangeQuote"]["id"].as_str().unwrap().to_owned();
    confirm(&app, &m1, &quote_id, "exchange-key-1").await.ok();
    drain().await;
    assert!(
        since(&coffee_hook, c0).contains(&"exchange.out".to_owned()),
        "{:?}",
        since(&coffee_hook, c0)
    );
    assert!(
        since(&cinema_hook, k0).contains(&"exchange.in".to_owned()),
        "{:?}",
        since(&cinema_hook, k0)
    );
    assert!(!since(&coffee_hook, c0).contains(&"exchange.in".to_owned()));

    // Expiring soon: cinema's points expire (24 months): announced once
    // per lot, however many runs, even racing.
    // The moment is the lots' own expiry as the service computed it (end
    // of the month 24 months on, in the programme's zone), ten days before.
    let (c0, k0) = (coffee_hook.got().len(), cinema_hook.got().len());
    let expiries: Vec<chrono::DateTime<chrono::Utc>> = crate::support::account(&app, "m1", &cinema)
        .await["lots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["remainingPoints"].as_i64().unwrap() > 0)
        .filter_map(|l| l["expiresAt"].as_str().map(|t| t.parse().unwrap()))
        .collect();
    let first_expiry = *expiries.iter().min().expect("cinema's points expire");
    let later = first_expiry - chrono::Duration::days(10);
    let due = expiries
        .iter()
        .filter(|e| **e > later && **e <= later + chrono::Duration::days(30))
        .count();
    let runs =
        join_all((0..4).map(|_| alliance::store::ledger::warn_expiring(app.db(), later, 30))).await;
    let warned: usize = runs.into_iter().map(Result::unwrap).sum();
    assert_eq!(warned, due, "each lot expiring within the window, once");
    assert!(warned >= 1);
    assert_eq!(
        alliance::store::ledger::warn_expiring(app.db(), later, 30)
            .await
            .unwrap(),
        0
    );
    drain().await;
    let soon: Vec<String> = since(&cinema_hook, k0);
    assert_eq!(soon, vec!["points.expiring_soon".to_owned(); warned]);
    assert_eq!(coffee_hook.got().len(), c0, "coffee's points never expire");
    // And when they do expire, cinema hears that too.
    alliance::store::ledger::expire_due(app.db(), first_expiry + chrono::Duration::days(1))
        .await
        .unwrap();
    drain().await;
    assert_eq!(types(&cinema_hook).last().unwrap(), "points.expired");
}

#[tokio::test]
async fn merges_and_erasures_reach_the_brands_holding_accounts_by_id_only() {
    let w = world().await;
    let app = &w.app;
    let (coffee, _) = two_programmes(app).await;
    let coffee_hook = Receiver::start(&[], Reply::Status(200));
    let cinema_hook = Receiver::start(&[], Reply::Status(200));
    register(
        app,
        "coffee",
        &coffee_hook.url,
        &["MEMBER_MERGED", "MEMBER_ERASED"],
    )
    .await;
    register(
        app,
        "cinema",
        &cinema_hook.url,
        &["MEMBER_MERGED", "MEMBER_ERASED"],
    )
    .await;
    earn(app, "m2", &coffee, 10, "merge-1").await.ok();
    w.members
        .publish(&kit::events::schema::MemberMerged {
            survivor_id: "m1".into(),
            merged_id: "m2".into(),
            merged_at: app.now(),
        })
        .await;
    w.members
        .publish(&kit::events::schema::MemberErased {
            member_id: "m1".into(),
            merged_ids: vec!["m2".into()],
            erased_at: app.now(),
        })
        .await;
    w.apply().await;
    fan_out(app).await;
    let sender = sender(app, settings());
    while sender.deliver_due().await.unwrap() > 0 {}
    let got = coffee_hook.got();
    let bodies: Vec<Value> = got
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert_eq!(bodies[0]["type"], "member.merged");
    assert_eq!(
        bodies[0]["data"],
        json!({ "survivorId": "m1", "mergedId": "m2" })
    );
    assert_eq!(bodies[1]["type"], "member.erased");
    assert_eq!(bodies[1]["data"], json!({ "memberIds": ["m1", "m2"] }));
    assert!(cinema_hook.got().is_empty(), "no account at cinema");
}

#[tokio::test]
async fn a_backlog_at_one_endpoint_hides_no_other_endpoints_deliveries() {
    use sea_orm::{ActiveModelTrait, Set};
    let app = spawn(&alliance::SPEC).await;
    let (coffee, cinema) = two_programmes(&app).await;
    let stuck = Receiver::start(&[], Reply::Status(200));
    let busy = Receiver::start(&[], Reply::Status(200));
    let (stuck_endpoint, _) = register(&app, "coffee", &stuck.url, &["POINTS_EARNED"]).await;
    register(&app, "cinema", &busy.url, &["POINTS_EARNED"]).await;
    op(&app, PAUSE, json!({ "e": stuck_endpoint, "p": true })).await;
    // More queued for the paused endpoint than a pass serves endpoints.
    let body = r#"{"id":"evt_backlog"}"#;
    for n in 0..260 {
        alliance::store::entities::webhook_delivery::ActiveModel {
            id: Set(format!("backlog-{n:04}")),
            endpoint_id: Set(stuck_endpoint.clone()),
            event_id: Set(format!("evt_backlog_{n}")),
            event_type: Set(alliance::domain::webhooks::WebhookEventType::PointsEarned),
            body: Set(body.into()),
            status: Set(alliance::domain::webhooks::DeliveryStatus::Pending),
            attempts: Set(0),
            next_attempt_at: Set(0),
            leased_until: Set(None),
            last_attempt_at: Set(None),
            last_status: Set(None),
            last_answer: Set(None),
            created_at: Set(0),
            delivered_at: Set(None),
            redelivery_of: Set(None),
        }
        .insert(app.db())
        .await
        .unwrap();
    }
    // Five events for the other endpoint: one pass sends them all, in a row.
    for n in 0..5 {
        earn(&app, "m7", &cinema, 10, &format!("busy-{n}"))
            .await
            .ok();
    }
    earn(&app, "m7", &coffee, 10, "stuck-1").await.ok();
    fan_out(&app).await;
    assert_eq!(sender(&app, settings()).deliver_due().await.unwrap(), 1);
    assert_eq!(busy.got().len(), 5, "every due event of the busy endpoint");
    assert!(stuck.got().is_empty());
}

#[tokio::test]
async fn an_endpoint_on_a_private_address_is_refused_unless_allowed() {
    // The test services allow private addresses (their receivers are on
    // 127.0.0.1); a sender configured as production refuses to send there.
    let app = spawn(&alliance::SPEC).await;
    let (coffee, _) = two_programmes(&app).await;
    let hook = Receiver::start(&[], Reply::Status(200));
    let (endpoint, _) = register(&app, "coffee", &hook.url, &["POINTS_EARNED"]).await;
    earn(&app, "m7", &coffee, 10, "private-1").await.ok();
    fan_out(&app).await;
    let production = sender(
        &app,
        WebhookSettings {
            allow_private_urls: false,
            ..settings()
        },
    );
    assert_eq!(production.deliver_due().await.unwrap(), 1);
    assert!(hook.got().is_empty(), "nothing reached 127.0.0.1");
    let log = deliveries(&app, &endpoint).await;
    assert_eq!(log[0]["status"], "PENDING");
    assert_eq!(log[0]["lastAnswer"], "the endpoint's address is not public");
}
