use alliance::events::{MEMBER_FEED, MemberFeed, ORDER_FEED, OrderFeed, StoreFeed};
use kit::auth::TokenRequest;
use kit::config::Secret;
use kit::events::consumer::FeedConsumer;
use kit::testing::{FEED_ONLY, GraphqlResponse, TestApp, TestDatabase, spawn_on};
use serde_json::{Value, json};

/// The alliance service, and stand-in producers of the order, member and
/// store feeds (events in the schema of `kit::events::schema`).
pub struct World {
    pub app: TestApp,
    /// Publishes what the product service's feed carries.
    pub feed: TestApp,
    /// Publishes what the member service's feed carries.
    pub members: TestApp,
    /// Publishes what the store service's feed carries.
    pub stores: TestApp,
}

pub async fn world() -> World {
    let secret = Secret::new(kit::auth::random_secret());
    let clock = kit::testing::clock();
    let app = spawn_on(
        &alliance::SPEC,
        TestDatabase::new().await,
        secret.clone(),
        clock.clone(),
    )
    .await;
    let feed = spawn_on(
        &FEED_ONLY,
        TestDatabase::new().await,
        secret.clone(),
        clock.clone(),
    )
    .await;
    let members = spawn_on(
        &FEED_ONLY,
        TestDatabase::new().await,
        secret.clone(),
        clock.clone(),
    )
    .await;
    let stores = spawn_on(&FEED_ONLY, TestDatabase::new().await, secret, clock.clone()).await;
    World {
        app,
        feed,
        members,
        stores,
    }
}

impl World {
    pub fn order_consumer(&self, name: &str) -> FeedConsumer<OrderFeed> {
        FeedConsumer::new(
            name,
            &self.feed.address,
            self.app.db().clone(),
            self.app.keys().clone(),
            self.app.clock().clone(),
            OrderFeed::default(),
        )
    }

    pub fn member_consumer(&self, name: &str) -> FeedConsumer<MemberFeed> {
        FeedConsumer::new(
            name,
            &self.members.address,
            self.app.db().clone(),
            self.app.keys().clone(),
            self.app.clock().clone(),
            MemberFeed::default(),
        )
    }

    pub fn store_consumer(&self, name: &str) -> FeedConsumer<StoreFeed> {
        FeedConsumer::new(
            name,
            &self.stores.address,
            self.app.db().clone(),
            self.app.keys().clone(),
            self.app.clock().clone(),
            StoreFeed::default(),
        )
    }

    /// Applies every event published so far.
    pub async fn apply(&self) {
        self.order_consumer(ORDER_FEED).catch_up().await.unwrap();
        self.member_consumer(MEMBER_FEED).catch_up().await.unwrap();
    }
}

pub async fn op(app: &TestApp, query: &str, vars: Value) -> Value {
    app.graphql(Some(&app.operator_token()), query, vars)
        .await
        .ok()
        .clone()
}

pub fn member(app: &TestApp, id: &str) -> String {
    app.token(TokenRequest::member(id))
}

pub fn partner(app: &TestApp, brand: &str) -> String {
    app.token(TokenRequest::partner(format!("cli-{brand}"), brand))
}

/// A token of `brand`'s partner whose key holds only `scopes`
/// (GraphQL names: `MANAGE_WEBHOOKS`...).
pub fn scoped(app: &TestApp, brand: &str, scopes: &[&str]) -> String {
    let scopes = kit::auth::Scopes::parse_list(&scopes.join(",").to_lowercase()).unwrap();
    app.token(TokenRequest::partner_scoped(
        format!("cli-{brand}"),
        brand,
        scopes,
    ))
}

pub const ONBOARD: &str = "mutation($b: ID!, $n: String!, $p: ProgrammeInput!) { onboardBrand(brandId: $b, name: $n, programme: $p) { id name programme { id pointsName cashValueFen pointsPerYuan pendingDays expiryMonths returnPolicy } } }";

pub fn programme_input(pending_days: i64, expiry_months: Option<i64>, policy: &str) -> Value {
    json!({
        "pointsName": "Points", "timeZone": "Asia/Shanghai", "cashValueFen": "1",
        "pointsPerYuan": "1", "pendingDays": pending_days, "expiryMonths": expiry_months,
        "returnPolicy": policy, "canSend": true, "canReceive": true,
    })
}

/// Onboards `brand` with a programme; returns the programme id.
pub async fn onboard(app: &TestApp, brand: &str, programme: Value) -> String {
    let r = op(
        app,
        ONBOARD,
        json!({ "b": brand, "n": format!("{brand} Co."), "p": programme }),
    )
    .await;
    r["onboardBrand"]["programme"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub const EARN: &str = "mutation($i: PointsTransactionInput!) { earnPoints(input: $i) { entry { id kind points pendingPoints balanceAfter pendingBalanceAfter } account { id activeBalance pendingBalance lifetimeEarned } } }";
pub const REDEEM: &str = "mutation($i: PointsTransactionInput!) { redeemPoints(input: $i) { entry { id kind points balanceAfter lotMovements { lotId points } } account { id activeBalance pendingBalance } } }";

pub fn tx(member: &str, programme: &str, points: i64, external: &str, key: &str) -> Value {
    json!({ "i": {
        "memberId": member, "programmeId": programme, "points": points,
        "sourceSystem": "pos", "externalTransactionId": external,
        "reason": "test purchase", "idempotencyKey": key,
    }})
}

/// Earns as the operator; returns the response.
pub async fn earn(
    app: &TestApp,
    member: &str,
    programme: &str,
    points: i64,
    external: &str,
) -> GraphqlResponse {
    app.graphql(
        Some(&app.operator_token()),
        EARN,
        tx(
            member,
            programme,
            points,
            external,
            &format!("earn-key-{external}"),
        ),
    )
    .await
}

pub const ACCOUNTS: &str = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { pointsAccounts { id programme { id } activeBalance pendingBalance lifetimeEarned lots { id state originalPoints remainingPoints expiresAt } ledger(first: 100) { edges { node { id kind points pendingPoints balanceAfter pendingBalanceAfter forgivenPoints reference reversesEntryId } } } } } } }";

/// A member's accounts by programme id, as the operator sees them.
pub async fn accounts(app: &TestApp, member: &str) -> Vec<Value> {
    let r = op(
        app,
        ACCOUNTS,
        json!({ "r": [{ "__typename": "Member", "id": member }] }),
    )
    .await;
    r["_entities"][0]["pointsAccounts"]
        .as_array()
        .unwrap()
        .clone()
}

pub async fn account(app: &TestApp, member: &str, programme: &str) -> Value {
    accounts(app, member)
        .await
        .into_iter()
        .find(|a| a["programme"]["id"] == programme)
        .unwrap_or(Value::Null)
}

/// Every account of `member`: its balances equal the sums of its ledger
/// entries, and the sums of its lots.
pub async fn assert_balanced(app: &TestApp, member: &str) {
    for a in accounts(app, member).await {
        let entries = a["ledger"]["edges"].as_array().unwrap();
        let sum = |f: &str| {
            entries
                .iter()
                .map(|e| e["node"][f].as_i64().unwrap())
                .sum::<i64>()
        };
        assert_eq!(a["activeBalance"].as_i64().unwrap(), sum("points"), "{a}");
        assert_eq!(
            a["pendingBalance"].as_i64().unwrap(),
            sum("pendingPoints"),
            "{a}"
        );
        let lots = a["lots"].as_array().unwrap();
        let in_state = |s: &str| {
            lots.iter()
                .filter(|l| l["state"] == s)
                .map(|l| l["remainingPoints"].as_i64().unwrap())
                .sum::<i64>()
        };
        assert_eq!(
            a["activeBalance"].as_i64().unwrap(),
            in_state("ACTIVE") + in_state("ARREARS"),
            "{a}"
        );
        assert_eq!(
            a["pendingBalance"].as_i64().unwrap(),
            in_state("PENDING"),
            "{a}"
        );
    }
}

/// Runs the activation job as if `days` had passed.
pub async fn activate_after(app: &TestApp, days: i64) -> usize {
    alliance::store::ledger::activate_due(app.db(), app.now() + chrono::Duration::days(days))
        .await
        .unwrap()
}

pub const PROPOSE: &str = "mutation($i: ExchangeTermsInput!) { proposeExchangeTerms(input: $i) { id version active acceptedBySenderAt acceptedByReceiverAt } }";
pub const ACCEPT: &str = "mutation($t: ID!, $v: Int!, $s: TermsSide) { acceptExchangeTerms(termsId: $t, version: $v, side: $s) { id version active } }";

pub fn terms_input(
    from: &str,
    to: &str,
    rate: &str,
    fee_bp: i64,
    block: i64,
    daily: i64,
    yearly: i64,
) -> Value {
    json!({ "i": {
        "fromProgrammeId": from, "toProgrammeId": to, "rate": rate, "feeBasisPoints": fee_bp,
        "minBlock": block, "dailyLimit": daily, "yearlyLimit": yearly,
    }})
}

/// Active terms from `from` to `to`, accepted by the operator for both sides.
pub async fn active_terms(app: &TestApp, from: &str, to: &str, rate: &str, fee_bp: i64) -> String {
    let t = op(
        app,
        PROPOSE,
        terms_input(from, to, rate, fee_bp, 100, 5_000, 50_000),
    )
    .await;
    let id = t["proposeExchangeTerms"]["id"].as_str().unwrap().to_owned();
    for side in ["FROM", "TO"] {
        op(app, ACCEPT, json!({ "t": id, "v": 1, "s": side })).await;
    }
    id
}

pub const QUOTE: &str = "mutation($f: ID!, $t: ID!, $p: Long!) { exchangeQuote(fromProgrammeId: $f, toProgrammeId: $t, points: $p) { id pointsOut feePoints pointsIn rate expiresAt } }";
pub const CONFIRM: &str = "mutation($q: ID!, $k: String!) { confirmExchange(quoteId: $q, idempotencyKey: $k) { id pointsOut feePoints pointsIn valueFen feeValueFen outEntry { kind points lotMovements { lotId points } } inEntry { kind points } } }";

pub async fn quote(
    app: &TestApp,
    token: &str,
    from: &str,
    to: &str,
    points: i64,
) -> GraphqlResponse {
    app.graphql(
        Some(token),
        QUOTE,
        json!({ "f": from, "t": to, "p": points }),
    )
    .await
}

pub async fn confirm(app: &TestApp, token: &str, quote_id: &str, key: &str) -> GraphqlResponse {
    app.graphql(Some(token), CONFIRM, json!({ "q": quote_id, "k": key }))
        .await
}

/// Coffee (cash value 0.5 fen) and cinema (2 fen, expiring) with 10,000
/// coffee points for m1: (coffee, cinema) programme ids.
pub async fn two_programmes(app: &TestApp) -> (String, String) {
    let mut c = programme_input(0, None, "ONLY_PENDING");
    c["cashValueFen"] = json!("0.5");
    let coffee = onboard(app, "coffee", c).await;
    let mut s = programme_input(0, Some(24), "ONLY_PENDING");
    s["cashValueFen"] = json!("2");
    let cinema = onboard(app, "cinema", s).await;
    earn(app, "m1", &coffee, 10_000, "seed").await.ok();
    (coffee, cinema)
}

/// This month in the programmes' zone, by the app's clock, as the service
/// counts it.
pub fn period(app: &TestApp) -> String {
    alliance::domain::exchange::Period::containing(app.now(), chrono_tz::Asia::Shanghai).to_string()
}

/// A world whose alliance signs with the same secret as a real member
/// service beside it.
pub async fn world_and_member_service() -> (World, TestApp) {
    let secret = kit::config::Secret::new(kit::auth::random_secret());
    let clock = kit::testing::clock();
    let spawn = |spec: &'static kit::service::ServiceSpec| {
        let (secret, clock) = (secret.clone(), clock.clone());
        async move {
            kit::testing::spawn_on(spec, kit::testing::TestDatabase::new().await, secret, clock)
                .await
        }
    };
    let w = World {
        app: spawn(&alliance::SPEC).await,
        feed: spawn(&kit::testing::FEED_ONLY).await,
        members: spawn(&kit::testing::FEED_ONLY).await,
        stores: spawn(&kit::testing::FEED_ONLY).await,
    };
    let member_service = spawn(&member::SPEC).await;
    (w, member_service)
}

/// Registers a member at the member service, with a birthday if given.
pub async fn register_at(
    member_service: &TestApp,
    tag: &str,
    birthday: Option<chrono::NaiveDate>,
) -> String {
    let r = member_service
        .graphql(
            None,
            "mutation($i: RegisterMemberInput!) { registerMember(input: $i) { member { id } } }",
            json!({ "i": {
                "identity": { "channel": "APP", "externalId": tag, "brandId": "coffee" },
                "birthday": birthday.map(|b| b.to_string()),
            } }),
        )
        .await;
    r.ok()["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Makes each of `gold` a GOLD member at the member service, and a
/// segment of GOLD members; returns the segment's id.
pub async fn gold_segment(member_service: &TestApp, gold: &[&str]) -> String {
    let operator = member_service.operator_token();
    for member in gold {
        member_service
            .graphql(
                Some(&operator),
                "mutation($m: ID!) { setMemberTier(memberId: $m, tier: \"GOLD\", reason: \"test\") { tier } }",
                json!({ "m": member }),
            )
            .await
            .ok();
    }
    let segment = member_service
        .graphql(
            Some(&operator),
            "mutation { createSegment(input: { name: \"Gold\", tiers: [\"GOLD\"] }, idempotencyKey: \"segment-gold\") { id } }",
            json!({}),
        )
        .await;
    segment.ok()["createSegment"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}
