//! The member journey end to end, as a member, a store, a partner brand and
//! an operator live it, talking only to the graph that `bigmember up`
//! serves (on SQLite, or PostgreSQL when BIGMEMBER_TEST_DATABASE_URL is
//! set). Each return policy gets its own run; a second test crashes the
//! platform between an order and its consumers; a third places and
//! cancels orders until it is sure nothing unpaid earns anything.
//!
//! A journey orders straight after registering, as a member would: right
//! after `up --demo` the store service may read the order before the
//! registration that binds the member to the guide, and the commission
//! must arrive all the same.

mod support;

use serde_json::{Value, json};
use support::Platform;

/// Near People's Square, Shanghai, where the demo stores are.
const HERE: (f64, f64) = (31.2304, 121.4737);

/// Who acts in a journey, and what they act on.
struct Cast {
    operator: String,
    x: &'static str,
}

impl Cast {
    fn new(p: &Platform, x: &'static str) -> Self {
        Self {
            operator: p.token(&["--role", "operator"]),
            x,
        }
    }

    fn programme(brand: &str) -> String {
        format!("{brand}-points")
    }
}

/// A guide of brand `brand` (demo guide i works in demo store i, of brand
/// i mod 3).
fn guide_of(brand: &str) -> String {
    let i = ["apparel", "coffee", "cinema"]
        .iter()
        .position(|b| *b == brand)
        .unwrap();
    format!("demo-guide-{i:02}")
}

/// Steps 1-2: registration through a guide's QR code, then WeChat. Returns
/// the member id and their token.
async fn register(p: &Platform, cast: &Cast, tag: &str) -> (String, String) {
    register_with_phone(p, cast, tag, "138 0013 8000").await
}

/// [`register`] with a phone of one's own (one phone is one member).
async fn register_with_phone(
    p: &Platform,
    cast: &Cast,
    tag: &str,
    phone: &str,
) -> (String, String) {
    let guide = guide_of(cast.x);
    let code = p
        .data(
            Some(&cast.operator),
            "query($g: ID!) { guide(id: $g) { code brand { id } } }",
            json!({ "g": guide }),
        )
        .await;
    assert_eq!(code["guide"]["brand"]["id"], cast.x);
    let registered = p
        .data(
            None,
            "mutation($input: RegisterMemberInput!) { registerMember(input: $input) { outcome member { id } } }",
            json!({ "input": {
                "identity": { "channel": "APP", "externalId": format!("journey-app-{tag}"), "brandId": cast.x },
                "phone": phone,
                "name": "Li Lei",
                "guideCode": code["guide"]["code"],
            } }),
        )
        .await;
    assert_eq!(registered["registerMember"]["outcome"], "CREATED");
    let member = registered["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = p.token(&["--role", "member", "--sub", &member]);

    let linked = p
        .data(
            Some(&token),
            "mutation($m: ID!, $i: IdentityInput!) { linkIdentity(memberId: $m, identity: $i) { outcome member { identities { channel } } } }",
            json!({ "m": member, "i": { "channel": "WECHAT_MINI_PROGRAM", "externalId": format!("wx-openid-{tag}"), "brandId": cast.x } }),
        )
        .await;
    let channels: Vec<&str> = linked["linkIdentity"]["member"]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["APP", "WECHAT_MINI_PROGRAM"]);

    (member, token)
}

/// The guide's QR code bound the member to the guide: the guide lists
/// them (once the store service has read the registration from the member
/// feed).
async fn guide_lists(p: &Platform, cast: &Cast, member: &str) {
    p.eventually(
        Some(&cast.operator),
        "query($g: ID!) { guide(id: $g) { members { edges { node { member { id } } } } } }",
        json!({ "g": guide_of(cast.x) }),
        |d| {
            d["guide"]["members"]["edges"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["node"]["member"]["id"] == member))
        },
    )
    .await;
}

/// What a journey's order bought.
struct Order {
    id: String,
    line: String,
    store: String,
    quantity: i64,
    paid: i64,
}

/// Steps 3-4: brand X's dearest SKU, the nearest store of X holding enough
/// of it to earn at least `points` at `per_yuan`, and a pickup order there.
async fn order_for_pickup(
    p: &Platform,
    cast: &Cast,
    member: &str,
    token: &str,
    (points, per_yuan): (i64, f64),
    key: &str,
) -> Order {
    let catalogue = p
        .data(
            None,
            "query($b: ID!) { products(brandId: $b, first: 100) { edges { node { skus { id listPriceFen } } } } }",
            json!({ "b": cast.x }),
        )
        .await;
    let mut skus: Vec<Value> = catalogue["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["node"]["skus"].as_array().unwrap().clone())
        .collect();
    skus.sort_by_key(|s| -s["listPriceFen"].as_i64().unwrap());
    // The dearest SKU that a store near holds enough of.
    let mut chosen = None;
    for sku in &skus {
        let sku_id = sku["id"].as_str().unwrap();
        let price = sku["listPriceFen"].as_i64().unwrap();
        let per_unit = (price / 100) as f64 * per_yuan;
        let quantity = (points as f64 / per_unit).ceil() as i64;
        let near = p
            .data(
                None,
                "query($lat: Float!, $lng: Float!, $b: ID!, $sku: ID!) { storesNear(lat: $lat, lng: $lng, radiusKm: 30, brandId: $b, first: 20) { edges { distanceMeters node { id name inventory(skuIds: [$sku]) { available } } } } }",
                json!({ "lat": HERE.0, "lng": HERE.1, "b": cast.x, "sku": sku_id }),
            )
            .await;
        let edges = near["storesNear"]["edges"].as_array().unwrap();
        assert!(!edges.is_empty(), "stores of {} near: {near}", cast.x);
        let distances: Vec<f64> = edges
            .iter()
            .map(|e| e["distanceMeters"].as_f64().unwrap())
            .collect();
        assert!(distances.windows(2).all(|w| w[0] <= w[1]), "nearest first");
        if let Some(store) = edges
            .iter()
            .find(|e| e["node"]["inventory"][0]["available"].as_i64() >= Some(quantity))
        {
            let store = store["node"]["id"].as_str().unwrap().to_owned();
            chosen = Some((sku_id.to_owned(), price, quantity, store));
            break;
        }
    }
    let (sku_id, price, quantity, store_id) =
        chosen.unwrap_or_else(|| panic!("no store of {} near holds enough", cast.x));

    let placed = p
        .data(
            Some(token),
            "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status totalFen lines { id } } }",
            json!({ "input": {
                "memberId": member, "channel": "APP", "storeId": store_id,
                "fulfilment": "PICKUP_IN_STORE",
                "lines": [{ "skuId": sku_id, "quantity": quantity }],
                "idempotencyKey": key,
            } }),
        )
        .await;
    let order = &placed["placeOrder"];
    assert_eq!(order["totalFen"], price * quantity);
    Order {
        id: order["id"].as_str().unwrap().to_owned(),
        line: order["lines"][0]["id"].as_str().unwrap().to_owned(),
        store: store_id,
        quantity,
        paid: price * quantity,
    }
}

const ACCOUNTS: &str = "query($m: ID!) { member(id: $m) { pointsAccounts { programme { id } activeBalance pendingBalance lots { remainingPoints } ledger(first: 100) { edges { node { kind points pendingPoints forgivenPoints } } } } } }";

/// A member's account in `programme`, from the graph.
async fn account(p: &Platform, cast: &Cast, member: &str, programme: &str) -> Value {
    let data = p
        .data(Some(&cast.operator), ACCOUNTS, json!({ "m": member }))
        .await;
    data["member"]["pointsAccounts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["programme"]["id"] == programme))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Balance = Σ ledger entries = Σ lots, for active and pending together.
fn assert_balances(account: &Value) {
    let balance =
        account["activeBalance"].as_i64().unwrap() + account["pendingBalance"].as_i64().unwrap();
    let entries: i64 = account["ledger"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["node"]["points"].as_i64().unwrap() + e["node"]["pendingPoints"].as_i64().unwrap()
        })
        .sum();
    let lots: i64 = account["lots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["remainingPoints"].as_i64().unwrap())
        .sum();
    assert_eq!((balance, lots), (entries, entries), "{account}");
}

/// A guide's commission entries this month (no period given: the
/// calendar month in the store's zone, by the platform's clock).
const COMMISSIONS: &str = "query($g: ID!) { guide(id: $g) { commissions { period { zone } entries { orderId basisPoints baseFen amountFen refundedFen } } } }";

fn commissions_of(guide: &str) -> Value {
    json!({ "g": guide })
}

/// The entries of `COMMISSIONS` data for one order (a guide also has other
/// members' commissions: the demo orders').
fn entries_for(data: &Value, order: &str) -> Vec<Value> {
    data["guide"]["commissions"]["entries"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["orderId"] == order)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The basis points brand X pays guides of `guide`'s store kind.
async fn commission_rate(p: &Platform, cast: &Cast, guide: &str) -> i64 {
    let data = p
        .data(
            Some(&cast.operator),
            "query($g: ID!, $b: ID!) { guide(id: $g) { store { kind } } commissionRules(brandId: $b) { storeKind basisPoints } }",
            json!({ "g": guide, "b": cast.x }),
        )
        .await;
    let kind = &data["guide"]["store"]["kind"];
    data["commissionRules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| &r["storeKind"] == kind))
        .and_then(|r| r["basisPoints"].as_i64())
        .unwrap_or_else(|| panic!("a rule for {kind} stores of {}: {data}", cast.x))
}

/// A programme's settings, as `updateProgramme` takes them.
async fn programme_settings(p: &Platform, programme: &str) -> Value {
    p.data(
        None,
        "query($id: ID!) { programme(id: $id) { pointsName timeZone cashValueFen pointsPerYuan pendingDays expiryMonths returnPolicy canSend canReceive } }",
        json!({ "id": programme }),
    )
    .await["programme"]
        .clone()
}

/// Ends the programme's running campaigns (the demo runs some), so that
/// orders earn its base rate only: for journeys whose subject is the rate.
async fn base_rate_only(p: &Platform, operator: &str, programme: &str) {
    let listed = p
        .data(
            None,
            "query($id: ID!) { programme(id: $id) { campaigns(first: 100) { edges { node { id status } } } } }",
            json!({ "id": programme }),
        )
        .await;
    for edge in listed["programme"]["campaigns"]["edges"]
        .as_array()
        .unwrap()
    {
        if edge["node"]["status"] == "RUNNING" {
            let ended = p
                .data(
                    Some(operator),
                    "mutation($id: ID!) { endCampaign(id: $id) { status } }",
                    json!({ "id": edge["node"]["id"] }),
                )
                .await;
            assert_eq!(ended["endCampaign"]["status"], "ENDED");
        }
    }
}

fn points_per_yuan(settings: &Value) -> f64 {
    settings["pointsPerYuan"].as_str().unwrap().parse().unwrap()
}

/// The whole journey with X's return policy deciding step 7. `after_refund`
/// maps (earned, exchanged out) to X's active balance after the refund.
async fn journey(x: &'static str, y: &'static str, after_refund: fn(i64, i64) -> i64) {
    journey_on(&Platform::start().await, x, y, after_refund).await;
}

async fn journey_on(
    p: &Platform,
    x: &'static str,
    y: &'static str,
    after_refund: fn(i64, i64) -> i64,
) {
    let cast = Cast::new(p, x);
    let (px, py) = (Cast::programme(x), Cast::programme(y));

    // X's points become active on the day they are earned (the window is
    // each programme's own setting; the demo's are days long).
    base_rate_only(p, &cast.operator, &px).await;
    let mut settings = programme_settings(p, &px).await;
    let per_yuan = points_per_yuan(&settings);
    settings["pendingDays"] = json!(0);
    p.data(
        Some(&cast.operator),
        "mutation($id: ID!, $p: ProgrammeInput!) { updateProgramme(programmeId: $id, programme: $p) { pendingDays } }",
        json!({ "id": px, "p": settings }),
    )
    .await;

    let (member, token) = register(p, &cast, x).await;
    // Enough to exchange 100 (terms take multiples of 100) and keep some.
    let Order {
        id: order,
        line,
        store,
        quantity,
        paid,
    } = order_for_pickup(p, &cast, &member, &token, (150, per_yuan), "journey-order").await;

    // Step 5: the store hands it over; the order earns X points (pending
    // until then, active at the hand-over with no window) and the guide a
    // commission.
    let staff = p.token(&["--role", "staff", "--brand", x, "--store", &store]);
    let fulfilled = p
        .data(
            Some(&staff),
            "mutation($o: ID!) { fulfilOrder(orderId: $o) { status } }",
            json!({ "o": order }),
        )
        .await;
    assert_eq!(fulfilled["fulfilOrder"]["status"], "FULFILLED");
    let earned = ((paid / 100) as f64 * per_yuan).floor() as i64;
    let points = p
        .eventually(
            Some(&token),
            "query($o: ID!) { order(id: $o) { pointsEarned { programme { id } points reversedPoints state } } }",
            json!({ "o": order }),
            |d| d["order"]["pointsEarned"][0]["state"] == "ACTIVE",
        )
        .await;
    assert_eq!(
        points["order"]["pointsEarned"][0]["programme"]["id"],
        px.as_str()
    );
    assert_eq!(points["order"]["pointsEarned"][0]["points"], earned);
    let guide = guide_of(x);
    let credited = p
        .eventually(
            Some(&cast.operator),
            COMMISSIONS,
            commissions_of(&guide),
            |d| entries_for(d, &order).len() == 1,
        )
        .await;
    let entry = &entries_for(&credited, &order)[0];
    assert!(entry["amountFen"].as_i64() > Some(0));
    let bp = commission_rate(p, &cast, &guide).await;
    assert_eq!(
        (
            &entry["basisPoints"],
            &entry["baseFen"],
            &entry["amountFen"]
        ),
        (&json!(bp), &json!(paid), &json!(paid * bp / 10_000)),
        "the rule for the guide's store kind, on what was paid, rounded down: {entry}"
    );
    guide_lists(p, &cast, &member).await;

    let active = account(p, &cast, &member, &px).await;
    assert_eq!(
        (
            active["activeBalance"].as_i64(),
            active["pendingBalance"].as_i64()
        ),
        (Some(earned), Some(0)),
        "{active}"
    );

    // Step 6: 100 of them into Y points.
    let out = 100;
    let quote = p
        .data(
            Some(&token),
            "mutation($f: ID!, $t: ID!, $n: Long!) { exchangeQuote(fromProgrammeId: $f, toProgrammeId: $t, points: $n) { id pointsOut feePoints pointsIn } }",
            json!({ "f": px, "t": py, "n": out }),
        )
        .await["exchangeQuote"]
        .clone();
    let key = format!("journey-exchange-{member}");
    let confirm = "mutation($q: ID!, $k: String!) { confirmExchange(quoteId: $q, idempotencyKey: $k) { id pointsOut pointsIn valueFen createdAt } }";
    let exchange = p
        .data(Some(&token), confirm, json!({ "q": quote["id"], "k": key }))
        .await["confirmExchange"]
        .clone();
    let replay = p
        .data(Some(&token), confirm, json!({ "q": quote["id"], "k": key }))
        .await["confirmExchange"]
        .clone();
    assert_eq!(replay, exchange, "a retry replays");
    let sent = exchange["pointsOut"].as_i64().unwrap();
    let received = exchange["pointsIn"].as_i64().unwrap();
    assert!(sent > 0 && received > 0, "{exchange}");
    assert_eq!(
        account(p, &cast, &member, &px).await["activeBalance"].as_i64(),
        Some(earned - sent)
    );
    assert_eq!(
        account(p, &cast, &member, &py).await["activeBalance"].as_i64(),
        Some(received)
    );

    // Step 7: the order is refunded; the points it earned and the
    // commission are reversed, as far as X's policy allows.
    let refunded = p
        .data(
            Some(&staff),
            "mutation($o: ID!, $l: ID!, $n: Int!, $k: String!) { refundOrder(orderId: $o, lines: [{ lineId: $l, quantity: $n }], idempotencyKey: $k) { refundedFen } }",
            json!({ "o": order, "l": line, "n": quantity, "k": format!("journey-refund-{member}") }),
        )
        .await;
    assert_eq!(refunded["refundOrder"]["refundedFen"], paid);
    p.eventually(
        Some(&token),
        "query($o: ID!) { order(id: $o) { pointsEarned { reversedPoints } } }",
        json!({ "o": order }),
        |d| d["order"]["pointsEarned"][0]["reversedPoints"] == earned,
    )
    .await;
    let after = account(p, &cast, &member, &px).await;
    assert_eq!(
        after["activeBalance"].as_i64(),
        Some(after_refund(earned, sent)),
        "{x}'s policy: {after}"
    );
    assert_balances(&after);
    assert_eq!(
        account(p, &cast, &member, &py).await["activeBalance"].as_i64(),
        Some(received),
        "Y's points are Y's"
    );
    // The commission is reversed with the refund.
    p.eventually(
        Some(&cast.operator),
        COMMISSIONS,
        commissions_of(&guide),
        |d| {
            entries_for(d, &order)
                .first()
                .is_some_and(|e| e["refundedFen"] == paid)
        },
    )
    .await;

    // Step 8: brand Y's clearing statement for this month (no period given:
    // this month in Y's zone, by the platform's clock) shows the exchange.
    let partner = p.token(&["--role", "partner", "--brand", y]);
    let statement = p
        .data(
            Some(&partner),
            "query($b: ID!) { clearingStatement(brandId: $b) { period { month from to zone } lines { counterparty { id } exchanges pointsReceived receivableFen payableFen } } }",
            json!({ "b": y }),
        )
        .await;
    let period = &statement["clearingStatement"]["period"];
    assert_eq!(period["zone"], "Asia/Shanghai", "{statement}");
    let confirmed_at =
        chrono::DateTime::parse_from_rfc3339(exchange["createdAt"].as_str().unwrap()).unwrap();
    let bound =
        |k: &str| chrono::DateTime::parse_from_rfc3339(period[k].as_str().unwrap()).unwrap();
    assert!(
        bound("from") <= confirmed_at && confirmed_at < bound("to"),
        "the exchange falls in this month there: {statement} {exchange}"
    );
    let line = &statement["clearingStatement"]["lines"][0];
    assert_eq!(line["counterparty"]["id"], x, "{statement}");
    assert_eq!(line["exchanges"], 1);
    assert_eq!(line["pointsReceived"], received);
    assert!(line["receivableFen"].as_i64() > Some(0), "X owes Y: {line}");
    assert_eq!(
        line["receivableFen"], exchange["valueFen"],
        "what X owes Y for the exchange: {line}"
    );

    // Step 9: the member takes their data, then leaves.
    let export = p
        .data(Some(&token), "mutation { exportMyData }", json!({}))
        .await["exportMyData"]
        .to_string();
    assert!(
        export.contains("+8613800138000") && export.contains(&format!("wx-openid-{x}")),
        "{export}"
    );
    let erased = p
        .data(
            Some(&token),
            "mutation($m: ID!) { eraseMember(memberId: $m) { status name phone } }",
            json!({ "m": member }),
        )
        .await;
    assert_eq!(
        erased["eraseMember"],
        json!({ "status": "ERASED", "name": null, "phone": null })
    );
    let seen = p
        .data(
            Some(&cast.operator),
            "query($m: ID!) { member(id: $m) { status name phone identities { externalId } } }",
            json!({ "m": member }),
        )
        .await;
    assert_eq!(seen["member"]["status"], "ERASED");
    assert!(seen["member"]["name"].is_null() && seen["member"]["phone"].is_null());
    assert!(!seen.to_string().contains("wx-openid"), "{seen}");
    for programme in [&px, &py] {
        assert_balances(&account(p, &cast, &member, programme).await);
    }
}

#[tokio::test]
async fn journey_apparel_within_balance() {
    // What is left of the order's points is taken back; the exchanged part
    // is forgiven.
    journey("apparel", "coffee", |_earned, _sent| 0).await;
}

#[tokio::test]
async fn journey_coffee_only_pending() {
    // Only points still pending are taken back: these were active.
    journey("coffee", "cinema", |earned, sent| earned - sent).await;
}

#[tokio::test]
async fn journey_cinema_allow_negative() {
    // All of it is taken back; the account owes what was exchanged.
    journey("cinema", "apparel", |_earned, sent| -sent).await;
}

/// The same journey with every event on NATS JetStream (the production
/// transport) instead of each consumer polling its producer.
#[tokio::test]
async fn journey_on_jetstream() {
    journey_on(
        &Platform::start_on_jetstream().await,
        "apparel",
        "coffee",
        |_earned, _sent| 0,
    )
    .await;
}

#[tokio::test]
async fn a_crash_between_an_order_and_its_consumers_applies_every_effect_once() {
    a_crash_applies_every_effect_once(Platform::start().await).await;
}

/// The crash on JetStream: the relays and the consumers start again from
/// the stream and their own positions.
#[tokio::test]
async fn on_jetstream_a_crash_between_an_order_and_its_consumers_applies_every_effect_once() {
    a_crash_applies_every_effect_once(Platform::start_on_jetstream().await).await;
}

async fn a_crash_applies_every_effect_once(mut p: Platform) {
    let cast = Cast::new(&p, "coffee");
    let programme = Cast::programme("coffee");
    let (member, token) = register(&p, &cast, "crash").await;
    guide_lists(&p, &cast, &member).await;

    // From here the consumers look at their feeds once at start, then not
    // for ten minutes (on JetStream: the relays publish once at start):
    // the order below is in the product's outbox only.
    p.stop();
    p.up(&[], 600_000);
    base_rate_only(&p, &cast.operator, &programme).await;
    let per_yuan = points_per_yuan(&programme_settings(&p, &programme).await);
    let order = order_for_pickup(&p, &cast, &member, &token, (1, per_yuan), "crash-order").await;
    let earned = ((order.paid / 100) as f64 * per_yuan).floor() as i64;
    let points = "query($o: ID!) { order(id: $o) { pointsEarned { points } } }";
    let seen = p.data(Some(&token), points, json!({ "o": order.id })).await;
    assert_eq!(
        seen["order"]["pointsEarned"],
        json!([]),
        "not consumed yet: {seen}"
    );
    let guide = guide_of("coffee");
    let none = p
        .data(Some(&cast.operator), COMMISSIONS, commissions_of(&guide))
        .await;
    assert_eq!(
        entries_for(&none, &order.id),
        [] as [Value; 0],
        "not consumed yet: {none}"
    );

    p.crash();
    p.up(&[], 50);
    p.eventually(Some(&token), points, json!({ "o": order.id }), |d| {
        d["order"]["pointsEarned"][0]["points"] == earned
    })
    .await;
    p.eventually(
        Some(&cast.operator),
        COMMISSIONS,
        commissions_of(&guide),
        |d| entries_for(d, &order.id).len() == 1,
    )
    .await;

    // Another restart, and time for the consumers to look again: nothing
    // is applied twice.
    p.stop();
    p.up(&[], 50);
    tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
    let account = account(&p, &cast, &member, &programme).await;
    let earns: Vec<&Value> = account["ledger"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["kind"] == "EARN")
        .collect();
    assert_eq!(earns.len(), 1, "{account}");
    assert_eq!(
        account["activeBalance"].as_i64().unwrap() + account["pendingBalance"].as_i64().unwrap(),
        earned
    );
    assert_balances(&account);
    let once = p
        .data(Some(&cast.operator), COMMISSIONS, commissions_of(&guide))
        .await;
    assert_eq!(entries_for(&once, &order.id).len(), 1, "{once}");
}

/// Orders nobody paid for earn nothing: a coffee member (no pending
/// window, ONLY_PENDING returns) places pickups and cancels them, or lets
/// the 72-hour pickup expiry cancel them; each one's points stay PENDING
/// until then and are all taken back, the guide's commission comes to 0,
/// and nothing can be exchanged.
#[tokio::test]
async fn placing_and_cancelling_orders_earns_nothing() {
    let p = Platform::start().await;
    let cast = Cast::new(&p, "coffee");
    let programme = Cast::programme("coffee");
    let settings = programme_settings(&p, &programme).await;
    assert_eq!(
        (
            settings["pendingDays"].as_i64(),
            settings["returnPolicy"].as_str()
        ),
        (Some(0), Some("ONLY_PENDING")),
        "the demo's coffee programme is the case: {settings}"
    );
    let per_yuan = points_per_yuan(&settings);
    let (member, token) = register(&p, &cast, "cancel-loop").await;
    guide_lists(&p, &cast, &member).await;
    let earned_query = "query($o: ID!) { order(id: $o) { status pickupDeadline pointsEarned { points reversedPoints state activatesAt } } }";
    let mut orders = Vec::new();
    for round in 0..4 {
        let order = order_for_pickup(
            &p,
            &cast,
            &member,
            &token,
            (150, per_yuan),
            &format!("cancel-loop-{round}"),
        )
        .await;
        let seen = p
            .eventually(Some(&token), earned_query, json!({ "o": order.id }), |d| {
                d["order"]["pointsEarned"][0]["points"].as_i64() > Some(0)
            })
            .await;
        let earned = &seen["order"]["pointsEarned"][0];
        assert_eq!(
            (&earned["state"], &earned["activatesAt"]),
            (&json!("PENDING"), &Value::Null),
            "placed, not handed over: {seen}"
        );
        p.run(&["job", "activate-points"]);
        let a = account(&p, &cast, &member, &programme).await;
        assert_eq!(a["activeBalance"], 0, "nothing to spend yet: {a}");
        if round < 3 {
            let cancelled = p
                .data(
                    Some(&token),
                    "mutation($o: ID!) { cancelOrder(orderId: $o) { status } }",
                    json!({ "o": order.id }),
                )
                .await;
            assert_eq!(cancelled["cancelOrder"]["status"], "CANCELLED");
        } else {
            // Never collected: the pickup expiry cancels it once its
            // deadline (72 hours on the platform's clock) has passed.
            let deadline = seen["order"]["pickupDeadline"].as_str().unwrap();
            let later = chrono::DateTime::parse_from_rfc3339(deadline).unwrap()
                + chrono::Duration::minutes(1);
            let out = p.run(&["--now", &later.to_rfc3339(), "job", "expire-pickups"]);
            assert!(out.contains("product:"), "{out}");
            let status = p
                .data(Some(&token), earned_query, json!({ "o": order.id }))
                .await;
            assert_eq!(status["order"]["status"], "CANCELLED", "{out} {status}");
        }
        let taken_back = p
            .eventually(Some(&token), earned_query, json!({ "o": order.id }), |d| {
                let e = &d["order"]["pointsEarned"][0];
                e["reversedPoints"] == e["points"]
            })
            .await;
        let e = &taken_back["order"]["pointsEarned"][0];
        assert_eq!(
            (&e["state"], &e["activatesAt"]),
            (&Value::Null, &Value::Null),
            "all taken back: neither pending nor ever active: {taken_back}"
        );
        orders.push(order.id);
    }
    let a = account(&p, &cast, &member, &programme).await;
    assert_eq!(
        (a["activeBalance"].as_i64(), a["pendingBalance"].as_i64()),
        (Some(0), Some(0)),
        "{a}"
    );
    let forgiven: i64 = a["ledger"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["forgivenPoints"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(forgiven, 0, "a cancellation forgives nothing: {a}");
    assert_balances(&a);
    // Nothing to exchange.
    let quote = p
        .ask(
            Some(&token),
            "mutation { exchangeQuote(fromProgrammeId: \"coffee-points\", toProgrammeId: \"cinema-points\", points: 100) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        quote["errors"][0]["extensions"]["code"], "INSUFFICIENT_POINTS",
        "{quote}"
    );
    // The guide is owed nothing for any of them.
    let guide = guide_of("coffee");
    let owed = p
        .eventually(
            Some(&cast.operator),
            COMMISSIONS,
            commissions_of(&guide),
            |d| {
                orders
                    .iter()
                    .all(|o| entries_for(d, o).iter().all(|e| e["amountFen"] == 0))
            },
        )
        .await;
    let total: i64 = orders
        .iter()
        .flat_map(|o| entries_for(&owed, o))
        .map(|e| e["amountFen"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 0, "{owed}");
}

/// The rows of `held` (one service's tables that name members, from its
/// database catalogue) against that service's part of an export: every
/// table is listed by the service's `HELD_ABOUT`, and the export lists as
/// many of its rows as the table holds for the member. `must_hold` tables
/// must hold some (so the comparison proves something).
fn assert_export_covers(
    service: &str,
    held: &std::collections::BTreeMap<String, u64>,
    listed: &[kit::members::HeldAbout],
    part: &Value,
) {
    assert!(!held.is_empty(), "{service} has tables that name members");
    for (table, rows) in held {
        let about = listed.iter().find(|h| h.table == table).unwrap_or_else(|| {
            panic!("{service}.{table} names members but the export does not list it")
        });
        let exported = part
            .pointer(about.path)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{service}'s export has no {} list: {part}", about.path));
        assert!(
            *rows > 0,
            "the test gives the member rows in {service}.{table}"
        );
        assert_eq!(
            exported.len() as u64,
            *rows,
            "{service}.{table}: {rows} row(s) about the member, exported at {}: {exported:?}",
            about.path
        );
    }
}

/// A member's export is everything every service holds about them, under
/// their id and the ids merged into them; their erasure reaches every
/// service's personal data and leaves the financial records whole.
#[tokio::test]
async fn a_members_export_holds_every_service_and_erasure_reaches_each() {
    let p = Platform::start().await;
    let cast = Cast::new(&p, "apparel");
    let (px, py) = (Cast::programme("apparel"), Cast::programme("coffee"));
    let mut settings = programme_settings(&p, &px).await;
    let per_yuan = points_per_yuan(&settings);
    settings["pendingDays"] = json!(0);
    p.data(
        Some(&cast.operator),
        "mutation($id: ID!, $p: ProgrammeInput!) { updateProgramme(programmeId: $id, programme: $p) { pendingDays } }",
        json!({ "id": px, "p": settings }),
    )
    .await;

    // The member, bound to a guide, and an older record of theirs that
    // ordered a delivery home before the two were merged.
    let (member, token) = register(&p, &cast, "export").await;
    let older = p
        .data(
            None,
            "mutation($input: RegisterMemberInput!) { registerMember(input: $input) { member { id } } }",
            json!({ "input": {
                "identity": { "channel": "APP", "externalId": "export-older-app", "brandId": "apparel" },
                "phone": "139 0013 9000", "name": "Li Lei (old)",
            } }),
        )
        .await["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let older_token = p.token(&["--role", "member", "--sub", &older]);
    let sku = p
        .data(
            None,
            "query($b: ID!) { products(brandId: $b, first: 1) { edges { node { skus { id } } } } }",
            json!({ "b": "apparel" }),
        )
        .await["products"]["edges"][0]["node"]["skus"][0]["id"]
        .clone();
    let shipped = p
        .data(
            Some(&older_token),
            "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }",
            json!({ "input": {
                "channel": "APP", "fulfilment": "SHIP",
                "shipTo": { "lat": HERE.0, "lng": HERE.1 },
                "lines": [{ "skuId": sku, "quantity": 1 }],
                "idempotencyKey": "export-older-order",
            } }),
        )
        .await;
    let shipped = shipped["placeOrder"]["id"].clone();
    assert!(shipped.is_string(), "{shipped}");
    guide_lists(&p, &cast, &member).await;
    p.data(
        Some(&cast.operator),
        "mutation($s: ID!, $m: ID!) { mergeMembers(survivorId: $s, mergedId: $m, reason: \"same phone owner\") { id } }",
        json!({ "s": member, "m": older }),
    )
    .await;

    // An order handed over (points, a guide's commission), a favourite
    // store, an exchange of some of the points.
    let order = order_for_pickup(&p, &cast, &member, &token, (150, per_yuan), "export-order").await;
    let staff = p.token(&[
        "--role",
        "staff",
        "--brand",
        "apparel",
        "--store",
        &order.store,
    ]);
    p.data(
        Some(&staff),
        "mutation($o: ID!) { fulfilOrder(orderId: $o) { status } }",
        json!({ "o": order.id }),
    )
    .await;
    p.data(
        Some(&token),
        "mutation($s: ID!) { addFavoriteStore(storeId: $s) { id } }",
        json!({ "s": order.store }),
    )
    .await;
    let balance = |account: &Value| account["activeBalance"].as_i64().unwrap_or(0);
    let mut waited = 0;
    while balance(&account(&p, &cast, &member, &px).await) < 100 {
        waited += 1;
        assert!(waited < 200, "the order's points became active");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let quote = p
        .data(
            Some(&token),
            "mutation($f: ID!, $t: ID!) { exchangeQuote(fromProgrammeId: $f, toProgrammeId: $t, points: 100) { id } }",
            json!({ "f": px, "t": py }),
        )
        .await["exchangeQuote"]["id"]
        .clone();
    p.data(
        Some(&token),
        "mutation($q: ID!) { confirmExchange(quoteId: $q, idempotencyKey: \"export-exchange\") { id } }",
        json!({ "q": quote }),
    )
    .await;
    // A reward redeemed for a coupon (a redemption here, the coupon in the
    // product service once it reads the alliance's feed).
    let reward = p
        .data(
            Some(&cast.operator),
            CREATE_REWARD,
            json!({ "k": "export-reward", "i": {
                "programmeId": px, "name": "1 yuan off", "pointsPrice": 10,
                "coupon": { "amountOffFen": 100, "validDays": 7 },
            } }),
        )
        .await["createReward"]["id"]
        .clone();
    let redeemed = p
        .data(
            Some(&token),
            REDEEM_REWARD,
            json!({ "r": reward, "k": "export-redeem" }),
        )
        .await;
    assert!(
        redeemed["redeemReward"]["coupon"]["code"].is_string(),
        "{redeemed}"
    );
    // The same reward's coupon dropped to a segment of theirs (tagged):
    // a grant here, a second coupon there.
    p.data(
        Some(&cast.operator),
        "mutation($m: ID!) { addTags(memberId: $m, tags: [\"export-drop\"]) { id } }",
        json!({ "m": member }),
    )
    .await;
    let segment = p
        .data(
            Some(&cast.operator),
            "mutation { createSegment(input: { name: \"Export drop\", tags: [\"export-drop\"] }, idempotencyKey: \"export-drop-segment\") { id } }",
            json!({}),
        )
        .await["createSegment"]["id"]
        .clone();
    p.data(
        Some(&cast.operator),
        "mutation($r: ID!, $s: ID!) { dropCoupons(rewardId: $r, segmentId: $s, idempotencyKey: \"export-drop-1\") { id } }",
        json!({ "r": reward, "s": segment }),
    )
    .await;
    // The consumers have applied the merge (an alias in the alliance, the
    // older record's orders moved to the survivor) and the order (a
    // commission in the store service).
    let alliance = p.database("alliance").await;
    let store = p.database("store").await;
    let product = p.database("product").await;
    let members_db = p.database("member").await;
    let ids = vec![member.clone(), older.clone()];
    let mut waited = 0;
    loop {
        let a = kit::testing::rows_naming_members(&alliance, &ids).await;
        let s = kit::testing::rows_naming_members(&store, &ids).await;
        let o = kit::testing::rows_naming_members(&product, std::slice::from_ref(&older)).await;
        let coupons = kit::testing::rows_naming_members(&product, &ids).await;
        let facts = kit::testing::rows_naming_members(&members_db, &ids).await;
        if facts.get("member_purchases") > Some(&0)
            && facts.get("member_points") > Some(&0)
            && facts.get("member_bindings") > Some(&0)
            && a.get("member_aliases") > Some(&0)
            && a.get("coupon_grants") > Some(&0)
            && s.get("commissions") > Some(&0)
            && o.get("orders") == Some(&0)
            && coupons.get("coupons") > Some(&0)
        {
            break;
        }
        waited += 1;
        assert!(waited < 200, "the consumers caught up: {a:?} {s:?} {o:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The survivor lists and reads the order the older record placed; the
    // older record's token reads it too (it speaks for the survivor).
    let listed = p
        .data(
            Some(&token),
            "{ me { orders(first: 10) { edges { node { id member { id } } } } } }",
            json!({}),
        )
        .await;
    let edges = listed["me"]["orders"]["edges"].as_array().unwrap().clone();
    assert!(
        edges
            .iter()
            .any(|e| e["node"]["id"] == shipped && e["node"]["member"]["id"] == member.as_str()),
        "the survivor's orders hold the merged record's: {listed}"
    );
    for t in [&token, &older_token] {
        let read = p
            .data(
                Some(t),
                "query($o: ID!) { order(id: $o) { id } }",
                json!({ "o": shipped }),
            )
            .await;
        assert_eq!(read["order"]["id"], shipped, "{read}");
    }

    let export = p
        .data(Some(&token), "mutation { exportMyData }", json!({}))
        .await["exportMyData"]
        .clone();
    assert_eq!(export["memberId"], member.as_str());
    assert_eq!(export["memberIds"], json!([member, older]));
    let services = &export["services"];
    let names: Vec<&String> = services.as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        ["alliance", "member", "product", "store"],
        "{export}"
    );
    assert_eq!(services["member"]["member"]["name"], "Li Lei");
    // What segments read about them, from the order, points and store
    // feeds.
    for facts in ["purchases", "pointsBalances", "storeBindings"] {
        assert!(
            services["member"][facts]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
            "the member part holds their {facts}: {}",
            services["member"]
        );
    }
    assert_eq!(
        services["member"]["mergedRecords"][0]["mergedId"],
        older.as_str()
    );
    for (service, db, listed) in [
        ("alliance", &alliance, alliance::store::export::HELD_ABOUT),
        ("store", &store, store::store::export::HELD_ABOUT),
        ("product", &product, product::store::export::HELD_ABOUT),
    ] {
        let held = kit::testing::rows_naming_members(db, &ids).await;
        assert_export_covers(service, &held, listed, &services[service]);
    }
    let orders = services["product"]["orders"].as_array().unwrap();
    assert!(
        orders.iter().any(|o| o["id"] == shipped
            && o["memberId"] == member.as_str()
            && o["shipTo"] == json!({ "latitude": HERE.0, "longitude": HERE.1 })),
        "the merged record's delivery is the member's: {orders:?}"
    );
    let ledger_rows = |held: &std::collections::BTreeMap<String, u64>| {
        (held["accounts"], held["exchanges"], held["order_earns"])
    };
    let financial = ledger_rows(&kit::testing::rows_naming_members(&alliance, &ids).await);

    // Erasure: each service drops what is personal once it reads the event.
    let delivered = || async {
        use product::store::entities::order;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        order::Entity::find()
            .filter(order::Column::MemberId.is_in(ids.clone()))
            .filter(order::Column::ShipLatitude.is_not_null())
            .count(&product)
            .await
            .unwrap()
    };
    assert_eq!(delivered().await, 1, "the delivery home, before erasure");
    p.data(
        Some(&token),
        "mutation($m: ID!) { eraseMember(memberId: $m) { status } }",
        json!({ "m": member }),
    )
    .await;
    let mut waited = 0;
    loop {
        let favorites = kit::testing::rows_naming_members(&store, &ids).await["favorite_stores"];
        let delivered = delivered().await;
        if favorites == 0 && delivered == 0 {
            break;
        }
        waited += 1;
        assert!(
            waited < 200,
            "erasure reached the store ({favorites} favourites left) and product ({delivered} delivery locations) services"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let orders_after = kit::testing::rows_naming_members(&product, &ids).await["orders"];
    assert_eq!(orders_after, orders.len() as u64, "orders stay");
    assert_eq!(
        ledger_rows(&kit::testing::rows_naming_members(&alliance, &ids).await),
        financial,
        "accounts, exchanges and what orders earned stay whole"
    );
}

/// A stored enum that no write of ours produces (a row edited by hand, or
/// by a newer version) is the platform's fault: every service answers it
/// with INTERNAL_SERVER_ERROR, on reads and on the writes that read it, never with the
/// client's BAD_USER_INPUT and never with a silent default.
#[tokio::test]
async fn a_stored_name_nobody_wrote_is_an_internal_error_in_every_service() {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let p = Platform::start().await;
    let cast = Cast::new(&p, "apparel");
    let (member, token) = register(&p, &cast, "corrupt").await;
    let order = order_for_pickup(&p, &cast, &member, &token, (10, 1.0), "corrupt-order").await;
    let internal = |answer: &Value, what: &str| {
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "INTERNAL_SERVER_ERROR",
            "{what}: {answer}"
        );
        assert!(
            !answer.to_string().contains("ROBOT"),
            "{what}: the stored value stays in the log, not the answer: {answer}"
        );
    };

    // member: a gender nobody can choose.
    {
        use member::store::entities::member as row;
        row::Entity::update_many()
            .col_expr(row::Column::Gender, Expr::value("ROBOT"))
            .filter(row::Column::Id.eq(member.as_str()))
            .exec(&p.database("member").await)
            .await
            .unwrap();
    }
    let read = p
        .ask(
            Some(&token),
            "query($id: ID!) { member(id: $id) { gender } }",
            json!({ "id": member }),
        )
        .await;
    internal(&read, "member.gender");

    // store: a kind of store that does not exist.
    {
        use store::store::entities::store as row;
        row::Entity::update_many()
            .col_expr(row::Column::Kind, Expr::value("ROBOT"))
            .filter(row::Column::Id.eq(order.store.as_str()))
            .exec(&p.database("store").await)
            .await
            .unwrap();
    }
    let read = p
        .ask(
            None,
            "query($id: ID!) { store(id: $id) { kind } }",
            json!({ "id": order.store }),
        )
        .await;
    internal(&read, "store.kind");

    // product: an order in no known status, read and then cancelled.
    {
        use product::store::entities::order as row;
        row::Entity::update_many()
            .col_expr(row::Column::Status, Expr::value("ROBOT"))
            .filter(row::Column::Id.eq(order.id.as_str()))
            .exec(&p.database("product").await)
            .await
            .unwrap();
    }
    let read = p
        .ask(
            Some(&token),
            "query($id: ID!) { order(id: $id) { status } }",
            json!({ "id": order.id }),
        )
        .await;
    internal(&read, "order.status");
    let cancel = p
        .ask(
            Some(&token),
            "mutation($id: ID!) { cancelOrder(orderId: $id) { status } }",
            json!({ "id": order.id }),
        )
        .await;
    internal(&cancel, "cancelOrder");

    // alliance: a return policy no programme can have, read and earned on.
    {
        use alliance::store::entities::programme as row;
        row::Entity::update_many()
            .col_expr(row::Column::ReturnPolicy, Expr::value("ROBOT"))
            .filter(row::Column::Id.eq(Cast::programme("coffee")))
            .exec(&p.database("alliance").await)
            .await
            .unwrap();
    }
    let read = p
        .ask(
            Some(&cast.operator),
            "query($id: ID!) { programme(id: $id) { returnPolicy } }",
            json!({ "id": Cast::programme("coffee") }),
        )
        .await;
    internal(&read, "programme.returnPolicy");
    let partner = p.token(&["--role", "partner", "--brand", "coffee"]);
    let earn = p
        .ask(
            Some(&partner),
            "mutation($input: PointsTransactionInput!) { earnPoints(input: $input) { entry { id } } }",
            json!({ "input": {
                "programmeId": Cast::programme("coffee"), "memberId": member, "points": 5,
                "sourceSystem": "pos", "externalTransactionId": "corrupt-1", "reason": "test",
                "idempotencyKey": "corrupt-earn-1",
            } }),
        )
        .await;
    internal(&earn, "earnPoints");
}

/// A partner key's scopes hold at every subgraph its token reaches through
/// the graph: the member service (enrolling and reading members) and the
/// alliance (earning, redeeming, statements), each refusing with FORBIDDEN
/// naming the missing scope, and a refused write writes nothing.
#[tokio::test]
async fn a_partner_keys_scopes_hold_at_every_subgraph_through_the_graph() {
    let p = Platform::start().await;
    let operator = p.token(&["--role", "operator"]);
    let (_, enrol) =
        support::partner_key_scoped(p.graph(), &operator, "coffee", &["ENROL_MEMBERS"]).await;
    let (_, earn) =
        support::partner_key_scoped(p.graph(), &operator, "coffee", &["EARN", "READ_ACCOUNTS"])
            .await;
    let refused = |answer: &Value, scope: &str| {
        let error = answer["errors"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["extensions"]["code"] == "FORBIDDEN"))
            .unwrap_or_else(|| panic!("FORBIDDEN for lack of {scope}: {answer}"));
        assert!(
            error["message"].as_str().unwrap().contains(scope),
            "{scope}: {answer}"
        );
    };
    let register = "mutation($input: RegisterMemberInput!) { registerMember(input: $input) { outcome member { id } } }";
    let enrolment = json!({ "input": { "identity": { "channel": "PARTNER", "externalId": "coffee-cust-scoped" } } });
    refused(
        &p.ask(Some(&earn), register, enrolment.clone()).await,
        "enrol_members",
    );
    let registered = p.data(Some(&enrol), register, enrolment).await;
    assert_eq!(
        registered["registerMember"]["outcome"], "CREATED",
        "only once: the refusal wrote nothing"
    );
    let member = registered["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let read = "query($m: ID!) { member(id: $m) { id tier } }";
    refused(
        &p.ask(Some(&enrol), read, json!({ "m": member })).await,
        "read_accounts",
    );
    assert_eq!(
        p.data(Some(&earn), read, json!({ "m": member })).await["member"]["id"],
        member.as_str()
    );

    let points = |kind: &str, key: &str| {
        json!({ "input": {
            "programmeId": Cast::programme("coffee"), "memberId": member, "points": 5,
            "sourceSystem": "pos", "externalTransactionId": format!("scoped-{kind}"), "reason": "test",
            "idempotencyKey": format!("scoped-{key}"),
        } })
    };
    let earn_points = "mutation($input: PointsTransactionInput!) { earnPoints(input: $input) { account { pendingBalance activeBalance } } }";
    let redeem_points = "mutation($input: PointsTransactionInput!) { redeemPoints(input: $input) { account { activeBalance } } }";
    refused(
        &p.ask(Some(&enrol), earn_points, points("e0", "earn-0"))
            .await,
        "earn",
    );
    let earned = p
        .data(Some(&earn), earn_points, points("e1", "earn-1"))
        .await;
    let balance = earned["earnPoints"]["account"].clone();
    refused(
        &p.ask(Some(&earn), redeem_points, points("r1", "redeem-1"))
            .await,
        "redeem",
    );
    let accounts =
        "query($m: ID!) { member(id: $m) { pointsAccounts { pendingBalance activeBalance } } }";
    let after = p.data(Some(&earn), accounts, json!({ "m": member })).await;
    assert_eq!(
        after["member"]["pointsAccounts"],
        json!([balance]),
        "one earn, no redemption"
    );
    refused(
        &p.ask(Some(&enrol), accounts, json!({ "m": member })).await,
        "read_accounts",
    );
    refused(
        &p.ask(
            Some(&earn),
            "{ clearingStatement(brandId: \"coffee\") { netFen } }",
            json!({}),
        )
        .await,
        "read_statements",
    );
}

/// A revoked partner key's tokens stop working at every subgraph, not only
/// at the alliance that owns the key: at once there, at the others as soon
/// as they have read the alliance's feed. Eight identical revocations at
/// once publish one event and all answer with the same revocation.
#[tokio::test]
async fn a_revoked_partner_keys_tokens_stop_working_at_every_subgraph() {
    let p = Platform::start().await;
    let operator = p.token(&["--role", "operator"]);
    let (key_id, partner) = support::partner_key(p.graph(), &operator, "coffee").await;
    let services = ["member", "store", "product", "alliance"];
    // One public field of each subgraph, read through the graph.
    let everywhere = "{ tierLevels { name } products(first: 1) { edges { node { id } } } store(id: \"demo-store-00\") { id } programmes { id } }";
    let fields = ["tierLevels", "products", "store", "programmes"];
    let before = p.data(Some(&partner), everywhere, json!({})).await;
    for field in fields {
        assert!(
            !before[field].is_null(),
            "the live key reads {field}: {before}"
        );
    }
    for service in services {
        let answer = p
            .subgraph(service)
            .ask(Some(&partner), "{ __typename }", json!({}))
            .await;
        assert_eq!(
            answer["data"]["__typename"], "Query",
            "{service} takes the live key: {answer}"
        );
    }

    let revoke = "mutation($k: ID!) { revokePartnerKey(keyId: $k) { id revokedAt } }";
    let answers = futures::future::join_all(
        (0..8).map(|_| p.ask(Some(&operator), revoke, json!({ "k": key_id }))),
    )
    .await;
    let revoked_at = answers[0]["data"]["revokePartnerKey"]["revokedAt"].clone();
    assert!(revoked_at.is_string(), "{}", answers[0]);
    for answer in &answers {
        assert_eq!(
            answer["data"]["revokePartnerKey"]["revokedAt"], revoked_at,
            "every identical revocation answers with the one revocation: {answer}"
        );
    }
    let feed: Value = reqwest::Client::new()
        .get(format!(
            "{}/events?after=0&limit=1000",
            p.service_url("alliance")
        ))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let published: Vec<&Value> = feed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "PartnerKeyRevoked")
        .collect();
    assert_eq!(
        published.len(),
        1,
        "one event for eight revocations: {feed}"
    );
    assert_eq!(published[0]["payload"]["keyId"], key_id.as_str());
    assert!(
        !published[0]["payload"].to_string().contains("bmk_"),
        "the event carries ids, never the key"
    );

    let refused = |answer: &Value| {
        answer["data"].is_null() && answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    };
    let at_alliance = p
        .subgraph("alliance")
        .ask(Some(&partner), "{ __typename }", json!({}))
        .await;
    assert!(
        refused(&at_alliance),
        "the alliance refuses at once: {at_alliance}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    for service in services {
        loop {
            let answer = p
                .subgraph(service)
                .ask(Some(&partner), "{ __typename }", json!({}))
                .await;
            if refused(&answer) {
                let message = answer["errors"][0]["message"].as_str().unwrap();
                assert!(message.contains("revoked"), "{service}: {answer}");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{service} still takes the revoked key after 90 s: {answer}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    // The gateway follows the alliance's feed too: the token is refused
    // there, HTTP 401, before any subgraph is asked or any rate limit
    // counts it.
    let graph = reqwest::Client::new();
    let after = loop {
        let response = graph
            .post(p.graph_url())
            .bearer_auth(&partner)
            .json(&json!({ "query": everywhere }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        if status == 401 {
            break answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway still takes the revoked key after 90 s: {status} {answer}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(after["errors"].as_array().map(Vec::len), Some(1), "{after}");
    assert!(
        after["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{after}"
    );
    for field in fields {
        assert!(
            after["data"][field].is_null(),
            "{field} is refused: {after}"
        );
    }
    let codes: Vec<&Value> = after["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| &e["extensions"]["code"])
        .collect();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| *c == "UNAUTHENTICATED"),
        "{after}"
    );
    // Other callers are untouched.
    let still = p.data(Some(&operator), everywhere, json!({})).await;
    assert!(!still["programmes"].is_null(), "{still}");
}

/// How many requests [`ask_failing_over`] had to ask again elsewhere.
static FAILED_OVER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Asks gateway `first`, and on no answer or an error (its replicas'
/// services may be gone) asks gateway 0 the same: a client that retries
/// elsewhere, with the same idempotency key.
async fn ask_failing_over(
    p: &Platform,
    first: usize,
    token: &str,
    query: &str,
    variables: Value,
) -> Value {
    let answer = p
        .gateway(first)
        .try_ask(Some(token), query, variables.clone())
        .await;
    match answer {
        Ok(r) if r.get("errors").is_none() => r["data"].clone(),
        _ => {
            FAILED_OVER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            p.gateway(0).data(Some(token), query, variables).await
        }
    }
}

/// One member's part of the stream: `orders` pickup orders of `sku` at
/// `store`, each handed over, then 100 points exchanged out. Requests
/// alternate between the gateways. Returns the order ids, and the
/// exchange (pointsOut, pointsIn).
#[allow(clippy::too_many_arguments)]
async fn stream_of_orders(
    p: &Platform,
    member: &str,
    token: &str,
    staff: &str,
    (store, sku): (&str, &str),
    orders: usize,
    placed: &std::sync::atomic::AtomicUsize,
    (from, to): (&str, &str),
) -> (Vec<String>, (i64, i64)) {
    let mut ids = Vec::new();
    for k in 0..orders {
        let gateway = (k + ids.len()) % 2;
        let order = ask_failing_over(
            p,
            gateway,
            token,
            "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }",
            json!({ "input": {
                "memberId": member, "channel": "APP", "storeId": store,
                "fulfilment": "PICKUP_IN_STORE",
                "lines": [{ "skuId": sku, "quantity": 1 }],
                "idempotencyKey": format!("stream-{member}-{k}"),
            } }),
        )
        .await["placeOrder"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // A hand-over whose answer was lost is not handed over twice: the
        // retry finds the order fulfilled.
        let fulfil = "mutation($o: ID!) { fulfilOrder(orderId: $o) { status } }";
        let handed = p
            .gateway(1 - gateway)
            .try_ask(Some(staff), fulfil, json!({ "o": order }))
            .await;
        if !matches!(&handed, Ok(r) if r["data"]["fulfilOrder"]["status"] == "FULFILLED") {
            let status = p
                .gateway(0)
                .data(
                    Some(staff),
                    "query($o: ID!) { order(id: $o) { status } }",
                    json!({ "o": order }),
                )
                .await;
            if status["order"]["status"] != "FULFILLED" {
                p.gateway(0)
                    .data(Some(staff), fulfil, json!({ "o": order }))
                    .await;
            }
        }
        placed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ids.push(order);
    }
    // Once the orders' points are in, 100 of them to the other programme.
    p.gateway(0)
        .eventually(
            Some(token),
            "query($m: ID!) { member(id: $m) { pointsAccounts { programme { id } activeBalance } } }",
            json!({ "m": member }),
            |d| {
                d["member"]["pointsAccounts"].as_array().is_some_and(|a| {
                    a.iter()
                        .any(|a| a["programme"]["id"] == from && a["activeBalance"].as_i64() >= Some(100))
                })
            },
        )
        .await;
    let quote = ask_failing_over(
        p,
        1,
        token,
        "mutation($f: ID!, $t: ID!, $n: Long!) { exchangeQuote(fromProgrammeId: $f, toProgrammeId: $t, points: $n) { id } }",
        json!({ "f": from, "t": to, "n": 100 }),
    )
    .await["exchangeQuote"]["id"]
        .clone();
    let exchange = ask_failing_over(
        p,
        1,
        token,
        "mutation($q: ID!, $k: String!) { confirmExchange(quoteId: $q, idempotencyKey: $k) { pointsOut pointsIn } }",
        json!({ "q": quote, "k": format!("stream-exchange-{member}") }),
    )
    .await["confirmExchange"]
        .clone();
    (
        ids,
        (
            exchange["pointsOut"].as_i64().unwrap(),
            exchange["pointsIn"].as_i64().unwrap(),
        ),
    )
}

/// The deployment as Kubernetes runs it (each service twice, the gateway
/// twice, PostgreSQL, NATS JetStream, jobs outside the services): the
/// journey through one gateway and then the other; then a stream of
/// orders and exchanges through both, during which every service loses a
/// replica to SIGKILL. Afterwards: each order's points and commission
/// applied once, balances equal to their entries and lots, no stock sold
/// twice, the clearing statements netting to zero, and the outboxes pruned.
#[tokio::test]
async fn a_deployment_of_two_replicas_loses_one_of_each_service_mid_stream_and_nothing() {
    let Some(mut p) = Platform::deploy(2).await else {
        eprintln!(
            "skipped: a deployment runs on PostgreSQL (BIGMEMBER_TEST_DATABASE_URL); the PostgreSQL pass runs it"
        );
        return;
    };
    journey_on(&p, "apparel", "coffee", |_earned, _sent| 0).await;
    p.use_gateway(1);
    journey_on(&p, "cinema", "apparel", |_earned, sent| -sent).await;
    p.use_gateway(0);

    // The stream: coffee members order one of coffee's dearest SKUs at one
    // store, each order handed over, then exchange 100 points to cinema.
    let cast = Cast::new(&p, "coffee");
    let (from, to) = (Cast::programme("coffee"), Cast::programme("cinema"));
    base_rate_only(&p, &cast.operator, &from).await;
    let mut settings = programme_settings(&p, &from).await;
    let per_yuan = points_per_yuan(&settings);
    settings["pendingDays"] = json!(0);
    p.data(
        Some(&cast.operator),
        "mutation($id: ID!, $p: ProgrammeInput!) { updateProgramme(programmeId: $id, programme: $p) { pendingDays } }",
        json!({ "id": from, "p": settings }),
    )
    .await;
    const MEMBERS: usize = 4;
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let phone = format!("139 0000 00{i:02}");
        members.push(register_with_phone(&p, &cast, &format!("stream-{i}"), &phone).await);
    }
    // Enough for 100 points an order: one order's line, as the journey
    // picks it, tells the SKU, the store and the price.
    let probe = order_for_pickup(
        &p,
        &cast,
        &members[0].0,
        &members[0].1,
        (100, per_yuan),
        "stream-probe",
    )
    .await;
    let sku_of = p
        .data(
            Some(&cast.operator),
            "query($o: ID!) { order(id: $o) { lines { skuId } } }",
            json!({ "o": probe.id }),
        )
        .await;
    let sku = sku_of["order"]["lines"][0]["skuId"]
        .as_str()
        .unwrap()
        .to_owned();
    let unit = probe.paid / probe.quantity;
    let earned = |paid: i64| ((paid / 100) as f64 * per_yuan).floor() as i64;
    // Enough orders each for the 100 points exchanged, three at least.
    let orders = ((100 / earned(unit).max(1)) as usize + 1).max(3);
    let stock =
        "query($s: ID!, $k: ID!) { store(id: $s) { inventory(skuIds: [$k]) { available } } }";
    let available = |d: &Value| d["store"]["inventory"][0]["available"].as_i64().unwrap();
    p.data(
        Some(&cast.operator),
        "mutation($k: ID!, $l: ID!, $n: Int!) { receiveStock(skuId: $k, locationId: $l, quantity: $n, reason: \"the stream\") { skuId } }",
        json!({ "k": sku, "l": probe.store, "n": MEMBERS * orders }),
    )
    .await;
    let before = available(
        &p.data(None, stock, json!({ "s": probe.store, "k": sku }))
            .await,
    );
    assert!(before >= (MEMBERS * orders) as i64, "{before} in stock");
    let staff = p.token(&[
        "--role",
        "staff",
        "--brand",
        "coffee",
        "--store",
        &probe.store,
    ]);

    let placed = std::sync::atomic::AtomicUsize::new(0);
    let streams = futures::future::join_all(members.iter().map(|(member, token)| {
        stream_of_orders(
            &p,
            member,
            token,
            &staff,
            (&probe.store, &sku),
            orders,
            &placed,
            (&from, &to),
        )
    }));
    let kill = async {
        while placed.load(std::sync::atomic::Ordering::SeqCst) < MEMBERS * orders / 3 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        p.kill_services(1);
    };
    let (results, ()) = tokio::join!(streams, kill);
    assert!(
        FAILED_OVER.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "requests to the gateway whose services were killed were asked again"
    );

    // Every order's points, once; every order's commission, once.
    let guide = guide_of("coffee");
    let all_orders: Vec<&String> = results.iter().flat_map(|(ids, _)| ids).collect();
    for order in &all_orders {
        let points = p
            .eventually(
                Some(&cast.operator),
                "query($o: ID!) { order(id: $o) { pointsEarned { points state } } }",
                json!({ "o": order }),
                |d| d["order"]["pointsEarned"][0]["state"] == "ACTIVE",
            )
            .await;
        assert_eq!(
            points["order"]["pointsEarned"],
            json!([{ "points": earned(unit), "state": "ACTIVE" }]),
            "{order}"
        );
    }
    let credited = p
        .eventually(
            Some(&cast.operator),
            COMMISSIONS,
            commissions_of(&guide),
            |d| all_orders.iter().all(|o| !entries_for(d, o).is_empty()),
        )
        .await;
    for order in &all_orders {
        assert_eq!(
            entries_for(&credited, order).len(),
            1,
            "{order}: {credited}"
        );
    }
    // Balances equal their entries and lots; what went out came in.
    for ((member, _), (ids, (sent, received))) in members.iter().zip(&results) {
        let coffee = account(&p, &cast, member, &from).await;
        let cinema = account(&p, &cast, member, &to).await;
        assert_balances(&coffee);
        assert_balances(&cinema);
        assert_eq!(
            coffee["activeBalance"].as_i64().unwrap(),
            earned(unit) * ids.len() as i64 - sent,
            "{coffee}"
        );
        assert_eq!(
            cinema["activeBalance"].as_i64(),
            Some(*received),
            "{cinema}"
        );
    }
    // Each unit sold once: the store's stock fell by the units ordered.
    let after = available(
        &p.data(None, stock, json!({ "s": probe.store, "k": sku }))
            .await,
    );
    assert_eq!(
        before - after,
        (MEMBERS * orders) as i64,
        "{before} → {after}"
    );
    // Clearing nets to zero: what coffee owes cinema, cinema is owed.
    let statement = "query($b: ID!) { clearingStatement(brandId: $b) { lines { counterparty { id } receivableFen payableFen } } }";
    let line = |d: &Value, with: &str| {
        d["clearingStatement"]["lines"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["counterparty"]["id"] == with).cloned())
            .unwrap_or(Value::Null)
    };
    let coffee_side = p
        .data(
            Some(&p.token(&["--role", "partner", "--brand", "coffee"])),
            statement,
            json!({ "b": "coffee" }),
        )
        .await;
    let cinema_side = p
        .data(
            Some(&p.token(&["--role", "partner", "--brand", "cinema"])),
            statement,
            json!({ "b": "cinema" }),
        )
        .await;
    let (owes, owed) = (line(&coffee_side, "cinema"), line(&cinema_side, "coffee"));
    assert!(owed["receivableFen"].as_i64() > Some(0), "{cinema_side}");
    assert_eq!(
        owes["payableFen"], owed["receivableFen"],
        "{coffee_side} {cinema_side}"
    );
    assert_eq!(
        owes["receivableFen"], owed["payableFen"],
        "{coffee_side} {cinema_side}"
    );

    // The outboxes: once past retention, everything relayed is pruned.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let later = std::env::var(kit::testing::TEST_NOW_ENV)
        .ok()
        .filter(|n| !n.trim().is_empty())
        .and_then(|n| chrono::DateTime::parse_from_rfc3339(&n).ok())
        .map(|n| n.with_timezone(&chrono::Utc))
        .unwrap_or_else(chrono::Utc::now)
        + chrono::Duration::days(30);
    let pruned = support::run_ok(
        p.command()
            .args(["events", "prune"])
            .env("BIGMEMBER_NOW", later.to_rfc3339()),
    );
    // (Of these services' events, the run made member's and product's.)
    for service in ["member", "product"] {
        assert!(
            pruned.contains(&format!("{service}: "))
                && !pruned.contains(&format!("{service}: 0 events pruned")),
            "{pruned}"
        );
    }
    assert_eq!(
        pruned
            .matches("the outbox now starts at its head (empty)")
            .count(),
        4,
        "{pruned}"
    );
}

/// A partner registers a webhook through the graph; the platform is
/// killed (SIGKILL) while the receiver holds the first delivery; after the
/// restart the event arrives again, with the same id and body, signed, and
/// the delivery log says DELIVERED.
#[tokio::test]
async fn a_webhook_in_flight_when_the_platform_is_killed_arrives_after_the_restart_with_its_id() {
    use kit::testing::{Reply, WebhookReceiver};
    let mut p = Platform::start_with(&[
        ("BIGMEMBER_WEBHOOKS__ALLOW_PRIVATE_URLS", "true"),
        ("BIGMEMBER_WEBHOOKS__POLL_INTERVAL_MS", "50"),
        ("BIGMEMBER_WEBHOOKS__TIMEOUT_MS", "1000"),
        ("BIGMEMBER_WEBHOOKS__RETRY_BASE_MS", "100"),
        ("BIGMEMBER_WEBHOOKS__RETRY_CAP_MS", "200"),
    ])
    .await;
    let operator = p.token(&["--role", "operator"]);
    let (_, partner) = support::partner_key_scoped(
        p.graph(),
        &operator,
        "coffee",
        &["ENROL_MEMBERS", "EARN", "MANAGE_WEBHOOKS"],
    )
    .await;
    let hook = WebhookReceiver::start(&[Reply::Hang], Reply::Status(200));
    let registered = p
        .data(
            Some(&partner),
            "mutation($u: String!) { registerWebhookEndpoint(brandId: \"coffee\", url: $u, events: [POINTS_EARNED], idempotencyKey: \"journey-hook-1\") { signingSecret endpoint { id } } }",
            json!({ "u": hook.url }),
        )
        .await;
    let secret = registered["registerWebhookEndpoint"]["signingSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let endpoint = registered["registerWebhookEndpoint"]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = enrol_and_earn_coffee(&p, &partner, "hook-1", 42).await;
    // The receiver holds the first delivery; the platform dies under it.
    let first = hook.wait_for(1).await;
    assert_eq!(first.len(), 1, "the earning was sent");
    p.crash();
    p.up(&[], 50);
    let got = hook.wait_for(2).await;
    assert_eq!(got.len(), 2, "sent again after the restart: {got:?}");
    assert_eq!(got[1].event_id, got[0].event_id);
    assert_eq!(got[1].body, got[0].body);
    // Signed at the system clock, whatever the platform's (BIGMEMBER_NOW):
    // receivers check replays against theirs.
    alliance::domain::webhooks::verify_signature(
        &secret,
        &got[1].signature,
        got[1].body.as_bytes(),
        chrono::Utc::now().timestamp(),
        alliance::domain::webhooks::SIGNATURE_TOLERANCE_SECS,
    )
    .unwrap();
    let body: Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(body["type"], "points.earned");
    assert_eq!(body["data"]["memberId"], member.as_str());
    let log = p
        .eventually(
            Some(&partner),
            "query($e: ID!) { webhookEndpoint(id: $e) { deliveries { edges { node { eventId status attempts } } } } }",
            json!({ "e": endpoint }),
            |d| d["webhookEndpoint"]["deliveries"]["edges"][0]["node"]["status"] == "DELIVERED",
        )
        .await;
    let deliveries = log["webhookEndpoint"]["deliveries"]["edges"]
        .as_array()
        .unwrap();
    assert_eq!(deliveries.len(), 1, "one delivery, sent twice: {log}");
    assert_eq!(deliveries[0]["node"]["eventId"], got[0].event_id.as_str());
    assert_eq!(hook.got().len(), 2, "and not a third time");
}

/// A partner's month through the graph: a member exchanges coffee points
/// for cinema points; the month ends; an operator closes it; each brand's
/// partner reads its numbered statement, which matches the live one to the
/// fen; the CLI prints the same CSV as the graph; a settlement pays it down
/// and the open position follows.
#[tokio::test]
async fn a_month_of_exchanges_closes_into_statements_partners_read_export_and_settle() {
    let mut p = Platform::start().await;
    let operator = p.token(&["--role", "operator"]);
    let (_, coffee) = support::partner_key_scoped(
        p.graph(),
        &operator,
        "coffee",
        &["ENROL_MEMBERS", "EARN", "READ_STATEMENTS"],
    )
    .await;
    let (_, cinema) =
        support::partner_key_scoped(p.graph(), &operator, "cinema", &["READ_STATEMENTS"]).await;
    let member = enrol_and_earn_coffee(&p, &coffee, "statement-1", 5000).await;
    let me = p.token(&["--role", "member", "--sub", &member]);
    let quote = p
        .data(
            Some(&me),
            "mutation($f: ID!, $t: ID!) { exchangeQuote(fromProgrammeId: $f, toProgrammeId: $t, points: 1000) { id } }",
            json!({ "f": Cast::programme("coffee"), "t": Cast::programme("cinema") }),
        )
        .await["exchangeQuote"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.data(
        Some(&me),
        "mutation($q: ID!) { confirmExchange(quoteId: $q, idempotencyKey: \"statement-exchange-1\") { pointsIn } }",
        json!({ "q": quote }),
    )
    .await;
    let live_query = "query($b: ID!, $p: String) { clearingStatement(brandId: $b, period: $p) { period { month to } payableFen receivableFen netFen } }";
    let live = p
        .data(Some(&coffee), live_query, json!({ "b": "coffee" }))
        .await["clearingStatement"]
        .clone();
    let month = live["period"]["month"].as_str().unwrap().to_owned();
    let live_cinema = p
        .data(
            Some(&cinema),
            live_query,
            json!({ "b": "cinema", "p": month }),
        )
        .await["clearingStatement"]
        .clone();
    // The month ends (the platform's clock starts an hour after it).
    let end: chrono::DateTime<chrono::Utc> =
        live["period"]["to"].as_str().unwrap().parse().unwrap();
    let after = (end + chrono::Duration::hours(1)).to_rfc3339();
    p.stop();
    p.up(&["--now", &after], 50);
    let closed = p
        .data(
            Some(&operator),
            "mutation($p: String!) { closeClearingPeriod(period: $p) { id brand { id } number netFen } }",
            json!({ "p": month }),
        )
        .await["closeClearingPeriod"]
        .clone();
    assert!(closed.as_array().unwrap().len() >= 2, "{closed}");
    let read = "query($b: ID!) { closedClearingStatements(brandId: $b) { edges { node { id number reference period { month } payableFen receivableFen netFen outstandingFen csv } } } }";
    let mine = p.data(Some(&coffee), read, json!({ "b": "coffee" })).await;
    let statement = mine["closedClearingStatements"]["edges"][0]["node"].clone();
    assert_eq!(statement["period"]["month"], month.as_str());
    assert_eq!(statement["number"], 1);
    for field in ["payableFen", "receivableFen", "netFen"] {
        assert_eq!(statement[field], live[field], "{field}");
    }
    let theirs = p.data(Some(&cinema), read, json!({ "b": "cinema" })).await;
    let cinema_statement = theirs["closedClearingStatements"]["edges"][0]["node"].clone();
    assert_eq!(cinema_statement["netFen"], live_cinema["netFen"]);
    // Not another brand's.
    let refused = p.ask(Some(&cinema), read, json!({ "b": "coffee" })).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    // The CLI prints the graph's CSV, byte for byte.
    let printed = p.run(&["statement", "--brand", "coffee", "--period", &month]);
    assert_eq!(printed, statement["csv"].as_str().unwrap());
    let by_number = p.run(&["statement", "--brand", "coffee", "--number", "1"]);
    assert_eq!(by_number, printed);
    // A settlement of what coffee owes: nothing outstanding, position back by it.
    let owed = statement["outstandingFen"].as_i64().unwrap();
    assert!(
        owed > 0 && statement["netFen"].as_i64().unwrap() < 0,
        "{statement}"
    );
    let position = |answer: Value| {
        answer["allianceBrands"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["id"] == "coffee")
            .unwrap()["clearingPositionFen"]
            .as_i64()
            .unwrap()
    };
    let brands = "{ allianceBrands { id clearingPositionFen } }";
    let before = position(p.data(Some(&operator), brands, json!({})).await);
    p.data(
        Some(&operator),
        "mutation($s: ID!, $a: Long!, $d: String!) { recordSettlement(statementId: $s, amountFen: $a, paidOn: $d, reference: \"wire-1\", idempotencyKey: \"statement-settle-1\") { id } }",
        json!({ "s": statement["id"], "a": owed, "d": end.date_naive().to_string() }),
    )
    .await;
    let after_settling = position(p.data(Some(&operator), brands, json!({})).await);
    assert_eq!(after_settling, before + owed);
    let again = p.data(Some(&coffee), read, json!({ "b": "coffee" })).await;
    assert_eq!(
        again["closedClearingStatements"]["edges"][0]["node"]["outstandingFen"],
        0
    );
}

/// Sandbox and live through the graph: coffee's live partner issues its
/// own sandbox key; each key enrols, earns, reads and exchanges in its own
/// environment, and every partner operation aimed at the other one is
/// refused, with nothing written. (The alliance and member API tests go
/// through each refusal rule one by one.)
#[tokio::test]
async fn sandbox_and_live_keys_never_meet_on_any_partner_operation_through_the_graph() {
    let all: Vec<String> = kit::auth::Scope::ALL
        .iter()
        .map(|s| s.name().to_uppercase())
        .collect();
    use kit::testing::{Reply, WebhookReceiver};
    let mut p = Platform::start_with(&[
        ("BIGMEMBER_WEBHOOKS__ALLOW_PRIVATE_URLS", "true"),
        ("BIGMEMBER_WEBHOOKS__POLL_INTERVAL_MS", "50"),
    ])
    .await;
    let operator = p.token(&["--role", "operator"]);
    let (_, live) = support::partner_key_scoped(
        p.graph(),
        &operator,
        "coffee",
        &all.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let sandbox_key = |token: String, brand: &'static str| {
        let (p, all) = (&p, &all);
        async move {
            let issued = p
                .data(
                    Some(&token),
                    "mutation($b: ID!, $s: [PartnerScope!]!) { issueSandboxKey(brandId: $b, label: \"try\", scopes: $s) { apiKey key { environment } } }",
                    json!({ "b": brand, "s": all }),
                )
                .await;
            assert_eq!(issued["issueSandboxKey"]["key"]["environment"], "SANDBOX");
            let minted = p
                .data(
                    None,
                    "mutation($k: String!) { partnerToken(apiKey: $k) { token environment brand { id } } }",
                    json!({ "k": issued["issueSandboxKey"]["apiKey"] }),
                )
                .await;
            assert_eq!(minted["partnerToken"]["environment"], "SANDBOX");
            assert_eq!(
                minted["partnerToken"]["brand"]["id"],
                format!("{brand}-sandbox")
            );
            minted["partnerToken"]["token"].as_str().unwrap().to_owned()
        }
    };
    // The partner's own live key issues its sandbox key; an operator
    // issues cinema's.
    let sandbox = sandbox_key(live.clone(), "coffee").await;
    let cinema_sandbox = sandbox_key(operator.clone(), "cinema").await;
    let (coffee_test, cinema_test) = ("coffee-sandbox-points", "cinema-sandbox-points");

    // Each environment's webhook endpoint, registered with its own key.
    let register_hook = "mutation($b: ID!, $u: String!, $k: String!) { registerWebhookEndpoint(brandId: $b, url: $u, events: [POINTS_EARNED], idempotencyKey: $k) { endpoint { id } } }";
    let live_hook = WebhookReceiver::start(&[], Reply::Status(200));
    let sandbox_hook = WebhookReceiver::start(&[], Reply::Status(200));
    for (token, brand, hook) in [
        (&live, "coffee", &live_hook),
        (&sandbox, "coffee-sandbox", &sandbox_hook),
    ] {
        p.data(
            Some(token),
            register_hook,
            json!({ "b": brand, "u": hook.url, "k": format!("env-hook-{brand}") }),
        )
        .await;
    }
    // A sandbox key does what its scopes allow, no more.
    let read_only = p
        .data(
            Some(&live),
            "mutation { issueSandboxKey(brandId: \"coffee\", label: \"reader\", scopes: [READ_ACCOUNTS]) { apiKey } }",
            json!({}),
        )
        .await;
    let read_only = p
        .data(
            None,
            "mutation($k: String!) { partnerToken(apiKey: $k) { token } }",
            json!({ "k": read_only["issueSandboxKey"]["apiKey"] }),
        )
        .await["partnerToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Live: a member enrolled and earning as before.
    let live_member = enrol_and_earn_coffee(&p, &live, "env-live", 3000).await;
    // Sandbox: a test member, with the same partner id, earning in the
    // sandbox programme; no phone allowed.
    let enrol = "mutation($i: RegisterMemberInput!) { registerMember(input: $i) { outcome member { id environment } } }";
    let with_phone = p
        .ask(
            Some(&sandbox),
            enrol,
            json!({ "i": { "identity": { "channel": "PARTNER", "externalId": "env-live-customer" }, "phone": "13900000077" } }),
        )
        .await;
    assert_eq!(
        with_phone["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    let enrolled = p
        .data(
            Some(&sandbox),
            enrol,
            json!({ "i": { "identity": { "channel": "PARTNER", "externalId": "env-live-customer" } } }),
        )
        .await;
    assert_eq!(enrolled["registerMember"]["outcome"], "CREATED");
    assert_eq!(
        enrolled["registerMember"]["member"]["environment"],
        "SANDBOX"
    );
    let test_member = enrolled["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(test_member, live_member);
    let points = |member: &str, programme: &str, key: &str| {
        json!({ "i": {
            "programmeId": programme, "memberId": member, "points": 2000,
            "sourceSystem": "pos", "externalTransactionId": key, "reason": "test",
            "idempotencyKey": format!("env-{key}"),
        } })
    };
    let earn = "mutation($i: PointsTransactionInput!) { earnPoints(input: $i) { account { activeBalance } } }";
    let scoped = p
        .ask(
            Some(&read_only),
            earn,
            points(&test_member, coffee_test, "sbx-earn-0"),
        )
        .await;
    assert_eq!(
        scoped["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{scoped}"
    );
    assert!(
        scoped["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("earn")
    );
    let earned = p
        .data(
            Some(&sandbox),
            earn,
            points(&test_member, coffee_test, "sbx-earn-1"),
        )
        .await;
    assert_eq!(earned["earnPoints"]["account"]["activeBalance"], 2000);

    // What each member looks like to each key, before the refusals.
    let accounts = "query($m: ID!) { member(id: $m) { id environment pointsAccounts { programme { id } activeBalance pendingBalance } } }";
    let live_before = p
        .data(Some(&operator), accounts, json!({ "m": live_member }))
        .await;
    let test_before = p
        .data(Some(&operator), accounts, json!({ "m": test_member }))
        .await;
    let by_identity =
        "{ memberByIdentity(channel: PARTNER, externalId: \"env-live-customer\") { id } }";
    for (token, own) in [(&live, &live_member), (&sandbox, &test_member)] {
        let found = p.data(Some(token), by_identity, json!({})).await;
        assert_eq!(found["memberByIdentity"]["id"], own.as_str());
    }

    // Every partner operation across the line, each way: refused.
    let live_account = "query($m: ID!) { member(id: $m) { pointsAccounts { id } } }";
    let live_account_id = p
        .data(Some(&operator), live_account, json!({ "m": live_member }))
        .await["member"]["pointsAccounts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let redeem = "mutation($i: PointsTransactionInput!) { redeemPoints(input: $i) { account { activeBalance } } }";
    let coffee_live = Cast::programme("coffee");
    let cinema_live = Cast::programme("cinema");
    let crossings: Vec<(&str, &String, &str, Value)> = vec![
        (
            "read a live member",
            &sandbox,
            "query($m: ID!) { member(id: $m) { id } }",
            json!({ "m": live_member }),
        ),
        (
            "read a test member",
            &live,
            "query($m: ID!) { member(id: $m) { id } }",
            json!({ "m": test_member }),
        ),
        (
            "earn for a live member in the sandbox",
            &sandbox,
            earn,
            points(&live_member, coffee_test, "x-1"),
        ),
        (
            "earn for a test member live",
            &live,
            earn,
            points(&test_member, &coffee_live, "x-2"),
        ),
        (
            "earn in the live programme",
            &sandbox,
            earn,
            points(&test_member, &coffee_live, "x-3"),
        ),
        (
            "earn in the sandbox programme",
            &live,
            earn,
            points(&live_member, coffee_test, "x-4"),
        ),
        (
            "redeem a live member's points",
            &sandbox,
            redeem,
            points(&live_member, &coffee_live, "x-5"),
        ),
        (
            "redeem a test member's points",
            &live,
            redeem,
            points(&test_member, coffee_test, "x-6"),
        ),
        (
            "read a live account",
            &sandbox,
            "query($a: ID!) { pointsAccount(id: $a) { activeBalance } }",
            json!({ "a": live_account_id }),
        ),
        (
            "read the live statement",
            &sandbox,
            "{ clearingStatement(brandId: \"coffee\") { netFen } }",
            json!({}),
        ),
        (
            "read the sandbox statement",
            &live,
            "{ clearingStatement(brandId: \"coffee-sandbox\") { netFen } }",
            json!({}),
        ),
        (
            "read live webhooks",
            &sandbox,
            "{ webhookEndpoints(brandId: \"coffee\") { edges { node { id } } } }",
            json!({}),
        ),
        (
            "register a live webhook",
            &sandbox,
            "mutation { registerWebhookEndpoint(brandId: \"coffee\", url: \"https://hooks.example.com/\", events: [POINTS_EARNED], idempotencyKey: \"env-hook-1\") { endpoint { id } } }",
            json!({}),
        ),
        (
            "pair the sandbox with a live programme",
            &sandbox,
            "mutation($f: ID!, $t: ID!) { proposeExchangeTerms(input: { fromProgrammeId: $f, toProgrammeId: $t, rate: \"1\", feeBasisPoints: 0, minBlock: 100, dailyLimit: 5000, yearlyLimit: 50000 }) { id } }",
            json!({ "f": coffee_test, "t": cinema_live }),
        ),
        (
            "exchange a live member's points",
            &sandbox,
            "mutation($f: ID!, $t: ID!, $m: ID!) { exchangeQuote(fromProgrammeId: $f, toProgrammeId: $t, points: 100, memberId: $m) { id } }",
            json!({ "f": coffee_test, "t": cinema_test, "m": live_member }),
        ),
        (
            "issue a live key",
            &sandbox,
            "mutation { issuePartnerKey(brandId: \"coffee\", label: \"x\", scopes: [EARN]) { apiKey } }",
            json!({}),
        ),
        // Stores sell to live members only, whoever places the order.
        (
            "order for a test member",
            &operator,
            "mutation($m: ID!) { placeOrder(input: { memberId: $m, channel: STORE_POS, storeId: \"demo-store-01\", fulfilment: IN_STORE, lines: [{ skuId: \"demo-sku-03-0\", quantity: 1 }], idempotencyKey: \"env-order-1\" }) { id } }",
            json!({ "m": test_member }),
        ),
    ];
    for (what, token, query, vars) in crossings {
        let answer = p.ask(Some(token), query, vars).await;
        let code = answer["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: refused, not {answer}"));
        assert!(
            ["FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT"].contains(&code),
            "{what}: {answer}"
        );
    }
    // An operator cannot mix them either.
    let mixed = p
        .ask(
            Some(&operator),
            earn,
            points(&test_member, &coffee_live, "x-7"),
        )
        .await;
    assert_eq!(
        mixed["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{mixed}"
    );
    // Nothing was written on either side.
    assert_eq!(
        p.data(Some(&operator), accounts, json!({ "m": live_member }))
            .await,
        live_before
    );
    assert_eq!(
        p.data(Some(&operator), accounts, json!({ "m": test_member }))
            .await,
        test_before
    );

    // Sandboxes exchange with each other, for a test member.
    let terms = p
        .data(
            Some(&sandbox),
            "mutation($f: ID!, $t: ID!) { proposeExchangeTerms(input: { fromProgrammeId: $f, toProgrammeId: $t, rate: \"1\", feeBasisPoints: 0, minBlock: 100, dailyLimit: 5000, yearlyLimit: 50000 }) { id } }",
            json!({ "f": coffee_test, "t": cinema_test }),
        )
        .await["proposeExchangeTerms"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let accepted = p
        .data(
            Some(&cinema_sandbox),
            "mutation($t: ID!) { acceptExchangeTerms(termsId: $t, version: 1) { active } }",
            json!({ "t": terms }),
        )
        .await;
    assert_eq!(accepted["acceptExchangeTerms"]["active"], true);
    let quote = p
        .data(
            Some(&sandbox),
            "mutation($f: ID!, $t: ID!, $m: ID!) { exchangeQuote(fromProgrammeId: $f, toProgrammeId: $t, points: 500, memberId: $m) { id pointsIn } }",
            json!({ "f": coffee_test, "t": cinema_test, "m": test_member }),
        )
        .await["exchangeQuote"]
        .clone();
    p.data(
        Some(&sandbox),
        "mutation($q: ID!, $m: ID!) { confirmExchange(quoteId: $q, idempotencyKey: \"env-exchange-1\", memberId: $m) { id } }",
        json!({ "q": quote["id"], "m": test_member }),
    )
    .await;
    let after = p
        .data(Some(&sandbox), accounts, json!({ "m": test_member }))
        .await;
    let balance_in = |answer: &Value, programme: &str| {
        answer["member"]["pointsAccounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["programme"]["id"] == programme)
            .map(|a| a["activeBalance"].as_i64().unwrap())
    };
    assert_eq!(balance_in(&after, coffee_test), Some(1500), "{after}");
    let cinema_view = p
        .data(Some(&cinema_sandbox), accounts, json!({ "m": test_member }))
        .await;
    assert_eq!(
        balance_in(&cinema_view, cinema_test),
        quote["pointsIn"].as_i64(),
        "{cinema_view}"
    );
    // The live member's points never moved.
    assert_eq!(
        p.data(Some(&operator), accounts, json!({ "m": live_member }))
            .await,
        live_before
    );

    // Each endpoint heard of its own environment's earning only.
    for (hook, brand, member, other) in [
        (&live_hook, "coffee", &live_member, &test_member),
        (&sandbox_hook, "coffee-sandbox", &test_member, &live_member),
    ] {
        let got = hook.wait_for(1).await;
        assert!(!got.is_empty(), "{brand} heard nothing");
        for delivery in got {
            let body: Value = serde_json::from_str(&delivery.body).unwrap();
            assert_eq!(body["brandId"], brand, "{body}");
            assert_eq!(body["data"]["memberId"], member.as_str(), "{body}");
            assert!(!delivery.body.contains(other.as_str()), "{body}");
        }
    }

    // The month closes into statements of their own: the sandbox's holds
    // the exchange, the live brand's does not, and neither key reads the
    // other's.
    let live_view = p
        .data(
            Some(&sandbox),
            "{ clearingStatement(brandId: \"coffee-sandbox\") { period { month to } } }",
            json!({}),
        )
        .await["clearingStatement"]["period"]
        .clone();
    let month = live_view["month"].as_str().unwrap().to_owned();
    let end: chrono::DateTime<chrono::Utc> = live_view["to"].as_str().unwrap().parse().unwrap();
    p.stop();
    p.up(
        &["--now", &(end + chrono::Duration::hours(1)).to_rfc3339()],
        50,
    );
    p.data(
        Some(&operator),
        "mutation($p: String!) { closeClearingPeriod(period: $p) { id } }",
        json!({ "p": month }),
    )
    .await;
    let closed = "query($b: ID!) { closedClearingStatements(brandId: $b) { edges { node { reference exchanges } } } }";
    for (token, brand, exchanges) in [(&sandbox, "coffee-sandbox", 1), (&live, "coffee", 0)] {
        let read = p.data(Some(token), closed, json!({ "b": brand })).await;
        let statement = &read["closedClearingStatements"]["edges"][0]["node"];
        assert_eq!(statement["exchanges"], exchanges, "{read}");
        assert_eq!(statement["reference"], format!("{brand}-000001"));
    }
    for (token, brand) in [(&sandbox, "coffee"), (&live, "coffee-sandbox")] {
        let refused = p.ask(Some(token), closed, json!({ "b": brand })).await;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{refused}"
        );
    }
}

/// Coffee's partner (`token`: ENROL_MEMBERS and EARN) enrols a new member
/// through the PARTNER channel and earns `points` Beans for them at a till
/// (external ids from `name`); the member's id.
async fn enrol_and_earn_coffee(p: &Platform, token: &str, name: &str, points: i64) -> String {
    let member = p
        .data(
            Some(token),
            "mutation($x: String!) { registerMember(input: { identity: { channel: PARTNER, externalId: $x } }) { member { id } } }",
            json!({ "x": format!("{name}-customer") }),
        )
        .await["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.data(
        Some(token),
        "mutation($i: PointsTransactionInput!) { earnPoints(input: $i) { entry { id } } }",
        json!({ "i": {
            "programmeId": Cast::programme("coffee"), "memberId": member, "points": points,
            "sourceSystem": "pos", "externalTransactionId": format!("{name}-till"), "reason": "test",
            "idempotencyKey": format!("{name}-earn-key"),
        } }),
    )
    .await;
    member
}

const CREATE_CAMPAIGN: &str = "mutation($i: CampaignInput!, $k: String!) { createCampaign(input: $i, idempotencyKey: $k) { id status } }";
const CREATE_REWARD: &str = "mutation($i: RewardInput!, $k: String!) { createReward(input: $i, idempotencyKey: $k) { id remaining } }";
const REDEEM_REWARD: &str = "mutation($r: ID!, $k: String!) { redeemReward(rewardId: $r, idempotencyKey: $k) { id points coupon { id code } entry { kind points } } }";
const WALLET: &str =
    "query($m: ID!) { member(id: $m) { coupons { edges { node { id code state orderId } } } } }";
const EARNED: &str = "query($o: ID!) { order(id: $o) { status totalFen discountFen pointsEarned { points reversedPoints state } } }";

/// The demo's coffee beans: their SKU, price, and a coffee store near that
/// holds at least `quantity`.
async fn beans_near(p: &Platform, quantity: i64) -> (String, i64, String) {
    let catalogue = p
        .data(
            None,
            "query { products(brandId: \"coffee\", category: \"coffee/beans\", first: 10) { edges { node { skus { id listPriceFen } } } } }",
            json!({}),
        )
        .await;
    let sku = &catalogue["products"]["edges"][0]["node"]["skus"][0];
    let (sku_id, price) = (
        sku["id"].as_str().unwrap().to_owned(),
        sku["listPriceFen"].as_i64().unwrap(),
    );
    let near = p
        .data(
            None,
            "query($lat: Float!, $lng: Float!, $sku: ID!) { storesNear(lat: $lat, lng: $lng, radiusKm: 30, brandId: \"coffee\", first: 20) { edges { node { id inventory(skuIds: [$sku]) { available } } } } }",
            json!({ "lat": HERE.0, "lng": HERE.1, "sku": sku_id }),
        )
        .await;
    let store = near["storesNear"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["inventory"][0]["available"].as_i64() >= Some(quantity))
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .expect("a coffee store near with beans");
    (sku_id, price, store)
}

/// The member's coupon `code` as their wallet shows it.
async fn coupon_in_wallet(p: &Platform, token: &str, member: &str, code: &str) -> Value {
    let wallet = p.data(Some(token), WALLET, json!({ "m": member })).await;
    wallet["member"]["coupons"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .find(|c| c["code"] == code)
        .unwrap_or(Value::Null)
}

/// #19's journey through the graph: a campaign doubles points on coffee
/// beans this week; the member earns, redeems a reward for a coupon, uses
/// it on a pickup order (the discount on the order, points on what was
/// paid), cancels that order (the coupon is theirs again, the points taken
/// back) and completes another with it.
#[tokio::test]
async fn a_campaign_doubles_beans_and_a_rewards_coupon_pays_part_of_a_pickup() {
    let p = Platform::start().await;
    let cast = Cast::new(&p, "coffee");
    let programme = Cast::programme("coffee");
    let settings = programme_settings(&p, &programme).await;
    let per_yuan = points_per_yuan(&settings);
    let zone: chrono_tz::Tz = settings["timeZone"].as_str().unwrap().parse().unwrap();
    // "This week" as the programme counts days: in its zone, by the clock
    // the platform started from; a day before too, so that no midnight
    // during the test moves the window.
    let today = kit::testing::clock()
        .now()
        .with_timezone(&zone)
        .date_naive();
    let (_, partner) =
        support::partner_key_scoped(p.graph(), &cast.operator, "coffee", &["MANAGE_REWARDS"]).await;
    // The demo runs a campaign on beans of its own: ended first, so that
    // this one is the only one doubling.
    base_rate_only(&p, &cast.operator, &programme).await;
    let campaign = p
        .data(
            Some(&partner),
            CREATE_CAMPAIGN,
            json!({ "k": "journey-double-beans", "i": {
                "programmeId": programme, "name": "Double beans week",
                "firstDay": (today - chrono::Duration::days(1)).to_string(),
                "lastDay": (today + chrono::Duration::days(6)).to_string(),
                "reward": { "multiplier": { "factor": "2", "categoryIds": ["coffee/beans"] } },
            } }),
        )
        .await["createCampaign"]
        .clone();
    assert_eq!(campaign["status"], "RUNNING");
    let reward = p
        .data(
            Some(&partner),
            CREATE_REWARD,
            json!({ "k": "journey-beans-coupon", "i": {
                "programmeId": programme, "name": "10 yuan off beans", "pointsPrice": 100,
                "stock": 5, "perMemberLimit": 2,
                "coupon": { "amountOffFen": 1000, "minSpendFen": 6000, "categoryIds": ["coffee/beans"], "validDays": 14 },
            } }),
        )
        .await["createReward"]
        .clone();

    let (member, token) = register(&p, &cast, "rewards").await;
    let (beans, price, store) = beans_near(&p, 4).await;
    let staff = p.token(&["--role", "staff", "--brand", "coffee", "--store", &store]);
    let place = |coupon: Option<String>, quantity: i64, key: &'static str| {
        let token = token.clone();
        let store = store.clone();
        let beans = beans.clone();
        let p = &p;
        async move {
            p.data(
                Some(&token),
                "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id totalFen discountFen couponId lines { amountFen discountFen } } }",
                json!({ "i": {
                    "channel": "APP", "storeId": store, "fulfilment": "PICKUP_IN_STORE",
                    "lines": [{ "skuId": beans, "quantity": quantity }],
                    "couponCode": coupon, "idempotencyKey": key,
                } }),
            )
            .await["placeOrder"]
                .clone()
        }
    };
    let base = |paid: i64| ((paid / 100) as f64 * per_yuan).floor() as i64;

    // Two bags in the campaign's week: double points, and the entry says
    // which campaign gave the second half.
    let first = place(None, 2, "journey-rewards-1").await;
    let first_id = first["id"].as_str().unwrap().to_owned();
    p.data(
        Some(&staff),
        "mutation($o: ID!) { fulfilOrder(orderId: $o) { status } }",
        json!({ "o": first_id }),
    )
    .await;
    let earned = p
        .eventually(Some(&token), EARNED, json!({ "o": first_id }), |d| {
            d["order"]["pointsEarned"][0]["state"] == "ACTIVE"
        })
        .await;
    let doubled = 2 * base(price * 2);
    assert_eq!(
        earned["order"]["pointsEarned"][0]["points"], doubled,
        "{earned}"
    );
    let ledger = p
        .data(
            Some(&cast.operator),
            "query($m: ID!) { member(id: $m) { pointsAccounts { programme { id } activeBalance ledger(first: 20) { edges { node { kind reference awards { campaignId points } } } } } } }",
            json!({ "m": member }),
        )
        .await;
    let coffee_account = ledger["member"]["pointsAccounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["programme"]["id"] == programme.as_str())
        .unwrap()
        .clone();
    let earn = coffee_account["ledger"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["kind"] == "EARN" && n["reference"] == format!("order:{first_id}"))
        .unwrap()
        .clone();
    assert_eq!(
        earn["awards"],
        json!([{ "campaignId": campaign["id"], "points": doubled / 2 }])
    );

    // A reward for a segment's members only: those who bought in the last
    // week. The member service learns of the order from its feed; until
    // then, and for anyone outside, it is refused.
    let segment = p
        .data(
            Some(&cast.operator),
            "mutation($i: SegmentInput!) { createSegment(input: $i, idempotencyKey: \"journey-buyers\") { id } }",
            json!({ "i": { "name": "Bought this week", "purchasedWithinDays": 7 } }),
        )
        .await["createSegment"]["id"]
        .clone();
    let mug = p
        .data(
            Some(&partner),
            CREATE_REWARD,
            json!({ "k": "journey-buyers-mug", "i": {
                "programmeId": programme, "name": "Buyers' mug", "pointsPrice": 10,
                "gift": "a ceramic mug", "eligibleSegmentId": segment,
            } }),
        )
        .await["createReward"]["id"]
        .clone();
    let (_, stranger) = register_with_phone(&p, &cast, "rewards-stranger", "138 0013 8055").await;
    let refused = p
        .ask(
            Some(&stranger),
            REDEEM_REWARD,
            json!({ "r": mug, "k": "journey-mug-stranger" }),
        )
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    p.eventually(
        Some(&cast.operator),
        "query($s: ID!, $m: ID!) { segment(id: $s) { includes(memberId: $m) } }",
        json!({ "s": segment, "m": member }),
        |d| d["segment"]["includes"] == true,
    )
    .await;
    let gift = p
        .data(
            Some(&token),
            REDEEM_REWARD,
            json!({ "r": mug, "k": "journey-mug" }),
        )
        .await["redeemReward"]
        .clone();
    assert_eq!(gift["entry"]["points"], -10);

    // The reward: 100 points for a coupon, once per key.
    let redeemed = p
        .data(
            Some(&token),
            REDEEM_REWARD,
            json!({ "r": reward["id"], "k": "journey-redeem-1" }),
        )
        .await["redeemReward"]
        .clone();
    assert_eq!(redeemed["entry"]["points"], -100);
    let again = p
        .data(
            Some(&token),
            REDEEM_REWARD,
            json!({ "r": reward["id"], "k": "journey-redeem-1" }),
        )
        .await["redeemReward"]
        .clone();
    assert_eq!(again["id"], redeemed["id"]);
    let code = redeemed["coupon"]["code"].as_str().unwrap().to_owned();
    let held = p
        .eventually(Some(&token), WALLET, json!({ "m": member }), |d| {
            d["member"]["coupons"]["edges"]
                .as_array()
                .is_some_and(|e| e.iter().any(|c| c["node"]["code"] == code.as_str()))
        })
        .await;
    assert!(held.to_string().contains("ISSUED"), "{held}");
    let balance_after_reward = doubled - 10 - 100;

    // The coupon on a pickup of one bag: 10 yuan off, points on what was
    // paid (doubled: still the campaign's week). Cancelled: the coupon is
    // the member's again and the points go back.
    let second = place(Some(code.clone()), 1, "journey-rewards-2").await;
    let paid = price - 1_000;
    assert_eq!(
        (
            &second["totalFen"],
            &second["discountFen"],
            &second["lines"][0]["discountFen"]
        ),
        (&json!(paid), &json!(1_000), &json!(1_000))
    );
    let second_id = second["id"].as_str().unwrap().to_owned();
    let pending = p
        .eventually(Some(&token), EARNED, json!({ "o": second_id }), |d| {
            d["order"]["pointsEarned"][0]["points"].as_i64() > Some(0)
        })
        .await;
    assert_eq!(
        pending["order"]["pointsEarned"][0]["points"],
        2 * base(paid)
    );
    assert_eq!(
        coupon_in_wallet(&p, &token, &member, &code).await["state"],
        "RESERVED"
    );
    p.data(
        Some(&token),
        "mutation($o: ID!) { cancelOrder(orderId: $o) { status } }",
        json!({ "o": second_id }),
    )
    .await;
    assert_eq!(
        coupon_in_wallet(&p, &token, &member, &code).await["state"],
        "CLAIMED"
    );
    p.eventually(Some(&token), EARNED, json!({ "o": second_id }), |d| {
        d["order"]["pointsEarned"][0]["reversedPoints"] == d["order"]["pointsEarned"][0]["points"]
    })
    .await;

    // Completed with the same coupon: spent, and its points active.
    let third = place(Some(code.clone()), 1, "journey-rewards-3").await;
    assert_eq!(third["discountFen"], 1_000);
    let third_id = third["id"].as_str().unwrap().to_owned();
    p.data(
        Some(&staff),
        "mutation($o: ID!) { fulfilOrder(orderId: $o) { status } }",
        json!({ "o": third_id }),
    )
    .await;
    assert_eq!(
        coupon_in_wallet(&p, &token, &member, &code).await["state"],
        "USED"
    );
    p.eventually(Some(&token), EARNED, json!({ "o": third_id }), |d| {
        d["order"]["pointsEarned"][0]["state"] == "ACTIVE"
    })
    .await;
    let a = account(&p, &cast, &member, &programme).await;
    assert_eq!(
        a["activeBalance"].as_i64(),
        Some(balance_after_reward + 2 * base(paid)),
        "{a}"
    );
    assert_balances(&a);

    // The member service records the spent coupon as the member's
    // touchpoint, at the pickup's store.
    let used = p
        .eventually(
            Some(&token),
            "query($m: ID!) { member(id: $m) { timeline(first: 10, kinds: [COUPON_USED]) { edges { node { channel storeId attributes } } } } }",
            json!({ "m": member }),
            |d| {
                d["member"]["timeline"]["edges"]
                    .as_array()
                    .is_some_and(|e| !e.is_empty())
            },
        )
        .await;
    assert_eq!(
        used["member"]["timeline"]["edges"],
        json!([{ "node": {
            "channel": "APP", "storeId": store,
            "attributes": { "couponId": redeemed["coupon"]["id"], "brandId": "coffee", "orderId": third_id },
        } }])
    );
}

/// The EARN entries of `member`'s account in `programme` with `reference`:
/// their points and awards.
async fn earns_referenced(
    p: &Platform,
    operator: &str,
    member: &str,
    programme: &str,
    reference: &str,
) -> Vec<Value> {
    let data = p
        .data(
            Some(operator),
            "query($m: ID!) { member(id: $m) { pointsAccounts { programme { id } ledger(first: 100) { edges { node { kind reference points pendingPoints awards { campaignId points } } } } } } }",
            json!({ "m": member }),
        )
        .await;
    data["member"]["pointsAccounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["programme"]["id"] == programme)
        .flat_map(|a| a["ledger"]["edges"].as_array().unwrap().clone())
        .map(|e| e["node"].clone())
        .filter(|n| n["kind"] == "EARN" && n["reference"] == reference)
        .collect()
}

/// Waits until `member` has one EARN entry `reference` in `programme`,
/// and returns it.
async fn earned_once(
    p: &Platform,
    operator: &str,
    member: &str,
    programme: &str,
    reference: &str,
) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let found = earns_referenced(p, operator, member, programme, reference).await;
        if !found.is_empty() {
            assert_eq!(found.len(), 1, "{reference} earned once: {found:?}");
            return found[0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{member} never earned {reference}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_guide_a_referral_and_a_birthday_month_earn_their_campaigns_and_a_segment_finds_the_bound_store()
 {
    let p = Platform::start().await;
    let cast = Cast::new(&p, "coffee");
    let programme = Cast::programme("coffee");
    let settings = programme_settings(&p, &programme).await;
    let per_yuan = points_per_yuan(&settings);
    let zone: chrono_tz::Tz = settings["timeZone"].as_str().unwrap().parse().unwrap();
    // Days and months as the programme counts them: in its zone, by the
    // clock the platform started from; the window opens a day before so
    // that no midnight during the test moves it.
    let now = kit::testing::clock().now().with_timezone(&zone);
    let today = now.date_naive();
    base_rate_only(&p, &cast.operator, &programme).await;
    let campaign = |key: &'static str, name: &'static str, reward: Value| {
        let p = &p;
        let operator = cast.operator.clone();
        let programme = programme.clone();
        async move {
            p.data(
                Some(&operator),
                CREATE_CAMPAIGN,
                json!({ "k": key, "i": {
                    "programmeId": programme, "name": name,
                    "firstDay": (today - chrono::Duration::days(1)).to_string(),
                    "lastDay": (today + chrono::Duration::days(6)).to_string(),
                    "reward": reward,
                } }),
            )
            .await["createCampaign"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let guide_bonus = campaign(
        "journey-guide-bonus",
        "Welcome through a guide",
        json!({ "guideRegistrationBonus": 50 }),
    )
    .await;
    let referral = campaign(
        "journey-referral",
        "Bring a friend",
        json!({ "referral": { "newMemberPoints": 30, "referrerPoints": 70 } }),
    )
    .await;
    let birthday = campaign(
        "journey-birthday",
        "Birthday month",
        json!({ "birthdayMonthBonus": 88 }),
    )
    .await;
    // A kind named twice, or none, is refused, naming the input.
    let refused = p
        .ask(
            Some(&cast.operator),
            CREATE_CAMPAIGN,
            json!({ "k": "journey-two-kinds", "i": {
                "programmeId": programme, "name": "Two at once",
                "firstDay": today.to_string(), "lastDay": today.to_string(),
                "reward": { "birthdayMonthBonus": 1, "guideRegistrationBonus": 1 },
            } }),
        )
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    assert_eq!(refused["errors"][0]["extensions"]["field"], "reward");

    // Through a guide's code: the store service binds the member to the
    // guide, and the alliance gives the guide campaign's bonus, once.
    let (referrer, referrer_token) = register(&p, &cast, "bonus-guide").await;
    let welcome = earned_once(
        &p,
        &cast.operator,
        &referrer,
        &programme,
        &format!("registration:guide:{referrer}"),
    )
    .await;
    assert_eq!(
        welcome["pendingPoints"].as_i64().unwrap() + welcome["points"].as_i64().unwrap(),
        50
    );
    assert_eq!(
        welcome["awards"],
        json!([{ "campaignId": guide_bonus, "points": 50 }])
    );

    // Naming a referrer that no member has is refused; naming the member
    // above gives both their referral bonuses (and no guide bonus: no code).
    let enrol = |tag: &str, phone: &str, referrer: &str| {
        json!({ "input": {
            "identity": { "channel": "APP", "externalId": format!("journey-app-{tag}"), "brandId": cast.x },
            "phone": phone, "referrerId": referrer,
        } })
    };
    const REGISTER: &str = "mutation($input: RegisterMemberInput!) { registerMember(input: $input) { outcome member { id } } }";
    let unknown = p
        .ask(
            None,
            REGISTER,
            enrol("bonus-nobody", "138 0013 8071", "no-such-member"),
        )
        .await;
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{unknown}"
    );
    assert_eq!(unknown["errors"][0]["extensions"]["field"], "referrerId");
    let referred = p
        .data(
            None,
            REGISTER,
            enrol("bonus-referred", "138 0013 8072", &referrer),
        )
        .await["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown = p
        .data(
            Some(&cast.operator),
            "query($m: ID!) { member(id: $m) { referrerId } }",
            json!({ "m": referred }),
        )
        .await;
    assert_eq!(shown["member"]["referrerId"], referrer.as_str());
    let newcomer = earned_once(
        &p,
        &cast.operator,
        &referred,
        &programme,
        &format!("registration:referral:{referred}"),
    )
    .await;
    assert_eq!(
        newcomer["awards"],
        json!([{ "campaignId": referral, "points": 30 }])
    );
    let thanks = earned_once(
        &p,
        &cast.operator,
        &referrer,
        &programme,
        &format!("referral:{referred}"),
    )
    .await;
    assert_eq!(
        thanks["awards"],
        json!([{ "campaignId": referral, "points": 70 }])
    );
    assert!(
        earns_referenced(
            &p,
            &cast.operator,
            &referred,
            &programme,
            &format!("registration:guide:{referred}"),
        )
        .await
        .is_empty(),
        "no guide, no guide bonus"
    );

    // A birthday in this month (in the programme's zone): an order earns
    // the birthday bonus on top of the base rate.
    let born = chrono::NaiveDate::from_ymd_opt(1990, chrono::Datelike::month(&today), 1).unwrap();
    p.data(
        Some(&referrer_token),
        "mutation($m: ID!, $i: ProfileInput!) { updateProfile(memberId: $m, input: $i) { birthday } }",
        json!({ "m": referrer, "i": { "birthday": born.to_string() } }),
    )
    .await;
    let order = order_for_pickup(
        &p,
        &cast,
        &referrer,
        &referrer_token,
        (10, per_yuan),
        "journey-birthday-order",
    )
    .await;
    let on_birthday = earned_once(
        &p,
        &cast.operator,
        &referrer,
        &programme,
        &format!("order:{}", order.id),
    )
    .await;
    assert_eq!(
        on_birthday["awards"],
        json!([{ "campaignId": birthday, "points": 88 }])
    );
    let base = ((order.paid / 100) as f64 * per_yuan).floor() as i64;
    assert_eq!(
        on_birthday["pendingPoints"].as_i64().unwrap() + on_birthday["points"].as_i64().unwrap(),
        base + 88,
        "{on_birthday}"
    );

    // A segment of the members bound to the guide's store: the guide's
    // member is in it (the member service learns bindings from the store
    // service's feed), the referred member, bound to nobody, is not.
    let store = p
        .data(
            Some(&cast.operator),
            "query($g: ID!) { guide(id: $g) { store { id } } }",
            json!({ "g": guide_of(cast.x) }),
        )
        .await["guide"]["store"]["id"]
        .clone();
    let segment = p
        .data(
            Some(&cast.operator),
            "mutation($i: SegmentInput!) { createSegment(input: $i, idempotencyKey: \"journey-bound\") { id boundStoreIds } }",
            json!({ "i": { "name": "Bound to the guide's store", "boundStoreIds": [store] } }),
        )
        .await["createSegment"]
        .clone();
    assert_eq!(segment["boundStoreIds"], json!([store]));
    let includes = "query($s: ID!, $m: ID!) { segment(id: $s) { includes(memberId: $m) } }";
    p.eventually(
        Some(&cast.operator),
        includes,
        json!({ "s": segment["id"], "m": referrer }),
        |d| d["segment"]["includes"] == true,
    )
    .await;
    let outside = p
        .data(
            Some(&cast.operator),
            includes,
            json!({ "s": segment["id"], "m": referred }),
        )
        .await;
    assert_eq!(outside["segment"]["includes"], false);

    // A coupon drop to that segment: the demo's beans coupon, without
    // points, in the bound member's wallet (and no one else's).
    let rewards = p
        .data(
            None,
            "query($p: ID!) { programme(id: $p) { rewards { edges { node { id kind } } } } }",
            json!({ "p": programme }),
        )
        .await;
    let coupon_reward = rewards["programme"]["rewards"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["kind"] == "COUPON")
        .unwrap()["node"]["id"]
        .clone();
    let dropped = p
        .data(
            Some(&cast.operator),
            "mutation($r: ID!, $s: ID!) { dropCoupons(rewardId: $r, segmentId: $s, idempotencyKey: \"journey-drop-1\") { id status } }",
            json!({ "r": coupon_reward, "s": segment["id"] }),
        )
        .await;
    assert_eq!(dropped["dropCoupons"]["status"], "RUNNING");
    let wallet = p
        .eventually(
            Some(&referrer_token),
            WALLET,
            json!({ "m": referrer }),
            |d| {
                d["member"]["coupons"]["edges"]
                    .as_array()
                    .is_some_and(|e| !e.is_empty())
            },
        )
        .await;
    assert_eq!(
        wallet["member"]["coupons"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{wallet}"
    );
    let done = p
        .eventually(
            Some(&cast.operator),
            "query($p: ID!) { programme(id: $p) { couponDrops { edges { node { id status granted } } } } }",
            json!({ "p": programme }),
            |d| d["programme"]["couponDrops"]["edges"][0]["node"]["status"] == "DONE",
        )
        .await;
    let members = p
        .data(
            Some(&cast.operator),
            "query($s: ID!) { segment(id: $s) { members(first: 100) { edges { node { id } } } } }",
            json!({ "s": segment["id"] }),
        )
        .await;
    assert_eq!(
        done["programme"]["couponDrops"]["edges"][0]["node"]["granted"],
        members["segment"]["members"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        "one coupon per member of the segment"
    );
    let referred_token = p.token(&["--role", "member", "--sub", &referred]);
    let none = p
        .data(Some(&referred_token), WALLET, json!({ "m": referred }))
        .await;
    assert_eq!(none["member"]["coupons"]["edges"], json!([]));
}
