//! The ledger against a model: random sequences of earn, redeem, orders
//! (placed, handed over, cancelled), exchange, merge and the passing of
//! days (activation and expiry jobs) run through the real store layer and
//! event handlers (SQLite, or PostgreSQL when BIGMEMBER_TEST_DATABASE_URL
//! is set), and through a plain in-memory model of what the README
//! promises. After every step each account's balances, and every lot that
//! holds points (state, points, activation, expiry), must be the model's;
//! every refusal must be the model's refusal. A fixed seed and case count
//! keep the run the same on every machine and under a minute.

use std::collections::BTreeMap;

use alliance::domain::expiry::ExpiryPolicy;
use alliance::domain::ledger::LotState;
use alliance::events::{MemberFeed, OrderFeed};
use alliance::store::entities::{account, lot};
use alliance::store::{IdempotencyKey, exchange, ledger};
use chrono::{DateTime, Duration, Utc};
use kit::Caller;
use kit::auth::Actor;
use kit::events::consumer::EventHandler;
use kit::events::schema::{
    MemberEvent, MemberMerged, OrderCancelled, OrderEvent, OrderFulfilled, OrderLine, OrderPlaced,
};
use kit::testing::TestApp;
use proptest::prelude::*;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestRng, TestRunner,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::json;

use crate::support::*;

/// Sequences tried; with the fixed seed below, the same ones every run.
const CASES: u32 = 24;
/// Members m0..m3 act; a merge folds one into another.
const MEMBERS: usize = 4;
/// Programme 0 ("alpha"): active at once, lapsing at the end of the month
/// after next. Programme 1 ("beta"): 3 days pending, never lapsing.
const PENDING_DAYS: [i64; 2] = [0, 3];
const EXPIRY_MONTHS: [Option<i32>; 2] = [Some(1), None];
/// Exchange terms alpha → beta: 1:1, no fee, blocks of 10.
const BLOCK: i64 = 10;

#[derive(Debug, Clone)]
enum Op {
    Earn {
        member: usize,
        programme: usize,
        points: i64,
    },
    Redeem {
        member: usize,
        programme: usize,
        points: i64,
    },
    /// An order with a line of each brand (0 fen: no line of that brand).
    Order {
        member: usize,
        alpha_yuan: i64,
        beta_yuan: i64,
    },
    Fulfil {
        order: usize,
    },
    Cancel {
        order: usize,
    },
    Exchange {
        member: usize,
        blocks: i64,
    },
    Merge {
        merged: usize,
        survivor: usize,
    },
    /// Days pass; the activation then the expiry job runs.
    Pass {
        days: i64,
    },
}

fn any_op() -> impl Strategy<Value = Op> {
    let member = 0..MEMBERS;
    prop_oneof![
        4 => (member.clone(), 0..2usize, 1..400i64)
            .prop_map(|(member, programme, points)| Op::Earn { member, programme, points }),
        3 => (member.clone(), 0..2usize, 1..500i64)
            .prop_map(|(member, programme, points)| Op::Redeem { member, programme, points }),
        3 => (member.clone(), 0..300i64, 0..300i64)
            .prop_map(|(member, alpha_yuan, beta_yuan)| Op::Order { member, alpha_yuan, beta_yuan }),
        2 => (0..8usize).prop_map(|order| Op::Fulfil { order }),
        1 => (0..8usize).prop_map(|order| Op::Cancel { order }),
        2 => (member.clone(), 1..20i64).prop_map(|(member, blocks)| Op::Exchange { member, blocks }),
        1 => (member.clone(), member).prop_map(|(merged, survivor)| Op::Merge { merged, survivor }),
        2 => prop_oneof![Just(1i64), Just(3), 0..70i64].prop_map(|days| Op::Pass { days }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum State {
    Pending,
    Active,
}

#[derive(Debug, Clone)]
struct ModelLot {
    member: String,
    programme: usize,
    state: State,
    remaining: i64,
    activates_at: Option<i64>,
    expires_at: Option<i64>,
    created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderState {
    Placed,
    Fulfilled,
    Cancelled,
}

#[derive(Debug)]
struct ModelOrder {
    id: String,
    member: String,
    state: OrderState,
    lots: Vec<usize>,
}

/// What the README promises, with nothing but vectors.
#[derive(Debug, Default)]
struct Model {
    lots: Vec<ModelLot>,
    merged_into: BTreeMap<String, String>,
    orders: Vec<ModelOrder>,
    /// What happened, for the test to show it tried every path.
    seen: BTreeMap<String, u32>,
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn expiry(programme: usize, activated: i64) -> Option<i64> {
    let policy = match EXPIRY_MONTHS[programme] {
        Some(months) => ExpiryPolicy::months(months).unwrap(),
        None => ExpiryPolicy::Never,
    };
    policy
        .expires_at(
            DateTime::from_timestamp_micros(activated).unwrap(),
            chrono_tz::Asia::Shanghai,
        )
        .map(micros)
}

impl Model {
    fn survivor(&self, member: &str) -> String {
        let mut id = member.to_owned();
        while let Some(next) = self.merged_into.get(&id) {
            id = next.clone();
        }
        id
    }

    /// A new lot earned at `now`: ACTIVE at once with no window to wait,
    /// else PENDING until the window passes (or, for an order, until the
    /// hand-over).
    fn earn(
        &mut self,
        member: &str,
        programme: usize,
        points: i64,
        now: i64,
        order: bool,
    ) -> usize {
        let pending = PENDING_DAYS[programme];
        let lot = if !order && pending == 0 {
            ModelLot {
                member: member.to_owned(),
                programme,
                state: State::Active,
                remaining: points,
                activates_at: Some(now),
                expires_at: expiry(programme, now),
                created_at: now,
            }
        } else {
            ModelLot {
                member: member.to_owned(),
                programme,
                state: State::Pending,
                remaining: points,
                activates_at: (!order)
                    .then(|| now + Duration::days(pending).num_microseconds().unwrap()),
                expires_at: None,
                created_at: now,
            }
        };
        self.lots.push(lot);
        self.lots.len() - 1
    }

    /// Spendable points at `now`: ACTIVE, not lapsed.
    fn spendable(&self, member: &str, programme: usize, now: i64) -> Vec<usize> {
        let mut lots: Vec<usize> = (0..self.lots.len())
            .filter(|&i| {
                let l = &self.lots[i];
                l.member == member
                    && l.programme == programme
                    && l.state == State::Active
                    && l.remaining > 0
                    && l.expires_at.is_none_or(|e| e > now)
            })
            .collect();
        // Soonest expiry first, never-expiring last, then the oldest.
        lots.sort_by_key(|&i| {
            let l = &self.lots[i];
            (l.expires_at.unwrap_or(i64::MAX), l.created_at)
        });
        lots
    }

    /// Takes `points` soonest-expiring first; false (taking nothing) when
    /// the spendable points do not cover them.
    fn debit(&mut self, member: &str, programme: usize, points: i64, now: i64) -> bool {
        let lots = self.spendable(member, programme, now);
        if lots.iter().map(|&i| self.lots[i].remaining).sum::<i64>() < points {
            return false;
        }
        let mut left = points;
        for i in lots {
            let take = self.lots[i].remaining.min(left);
            self.lots[i].remaining -= take;
            left -= take;
        }
        true
    }

    fn activate(&mut self, i: usize) {
        let due = self.lots[i].activates_at.expect("an activation time");
        let programme = self.lots[i].programme;
        let lot = &mut self.lots[i];
        lot.state = State::Active;
        lot.expires_at = expiry(programme, due);
    }

    fn pass_to(&mut self, now: i64) {
        for i in 0..self.lots.len() {
            let l = &self.lots[i];
            if l.state == State::Pending && l.activates_at.is_some_and(|a| a <= now) {
                self.activate(i);
                *self.seen.entry("activated by the job".into()).or_default() += 1;
            }
        }
        let mut lapsed = 0;
        for l in &mut self.lots {
            if l.state == State::Active && l.remaining > 0 && l.expires_at.is_some_and(|e| e <= now)
            {
                l.remaining = 0;
                lapsed += 1;
            }
        }
        *self.seen.entry("lapsed".into()).or_default() += lapsed;
    }

    /// (member, programme) → (active, pending), for accounts holding any.
    fn balances(&self) -> BTreeMap<(String, usize), (i64, i64)> {
        let mut out: BTreeMap<(String, usize), (i64, i64)> = BTreeMap::new();
        for l in &self.lots {
            let entry = out.entry((l.member.clone(), l.programme)).or_default();
            match l.state {
                State::Active => entry.0 += l.remaining,
                State::Pending => entry.1 += l.remaining,
            }
        }
        out.retain(|_, b| *b != (0, 0));
        out
    }

    fn holding_lots(&self) -> Vec<LotView> {
        let mut lots: Vec<LotView> = self
            .lots
            .iter()
            .filter(|l| l.remaining != 0)
            .map(|l| LotView {
                member: l.member.clone(),
                programme: l.programme,
                state: l.state,
                remaining: l.remaining,
                activates_at: l.activates_at,
                expires_at: l.expires_at,
            })
            .collect();
        lots.sort();
        lots
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LotView {
    member: String,
    programme: usize,
    state: State,
    remaining: i64,
    activates_at: Option<i64>,
    expires_at: Option<i64>,
}

/// One fresh alliance with the two programmes and active terms.
struct Ledger {
    app: TestApp,
    programmes: [String; 2],
    brands: [&'static str; 2],
}

impl Ledger {
    async fn start() -> Self {
        let app = kit::testing::spawn(&alliance::SPEC).await;
        let brands = ["alpha", "beta"];
        let mut programmes = Vec::new();
        for (i, brand) in brands.iter().enumerate() {
            let mut input = programme_input(
                PENDING_DAYS[i],
                EXPIRY_MONTHS[i].map(i64::from),
                "ONLY_PENDING",
            );
            input["pointsPerYuan"] = json!("1");
            programmes.push(onboard(&app, brand, input).await);
        }
        let t = op(
            &app,
            PROPOSE,
            terms_input(
                &programmes[0],
                &programmes[1],
                "1",
                0,
                BLOCK,
                1_000_000,
                100_000_000,
            ),
        )
        .await;
        let id = t["proposeExchangeTerms"]["id"].as_str().unwrap().to_owned();
        for side in ["FROM", "TO"] {
            op(&app, ACCEPT, json!({ "t": id, "v": 1, "s": side })).await;
        }
        Self {
            app,
            programmes: [programmes[0].clone(), programmes[1].clone()],
            brands,
        }
    }

    fn programme_index(&self, id: &str) -> usize {
        self.programmes
            .iter()
            .position(|p| p == id)
            .expect("a known programme")
    }

    async fn balances(&self) -> BTreeMap<(String, usize), (i64, i64)> {
        let mut out = BTreeMap::new();
        for a in account::Entity::find()
            .filter(account::Column::MergedInto.is_null())
            .all(self.app.db())
            .await
            .unwrap()
        {
            if (a.active_balance, a.pending_balance) != (0, 0) {
                out.insert(
                    (a.member_id, self.programme_index(&a.programme_id)),
                    (a.active_balance, a.pending_balance),
                );
            }
        }
        out
    }

    async fn holding_lots(&self) -> Vec<LotView> {
        let owners: BTreeMap<String, String> = account::Entity::find()
            .all(self.app.db())
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.id, a.member_id))
            .collect();
        let mut lots: Vec<LotView> = lot::Entity::find()
            .filter(lot::Column::Remaining.ne(0))
            .all(self.app.db())
            .await
            .unwrap()
            .into_iter()
            .map(|l| LotView {
                member: owners[&l.account_id].clone(),
                programme: self.programme_index(&l.programme_id),
                state: match l.state {
                    LotState::Pending => State::Pending,
                    LotState::Active => State::Active,
                    LotState::Arrears => panic!("arrears in a programme that forbids them"),
                },
                remaining: l.remaining,
                activates_at: l.activates_at,
                expires_at: l.expires_at,
            })
            .collect();
        lots.sort();
        lots
    }

    async fn order_event(&self, event: OrderEvent, now: DateTime<Utc>) {
        let txn = self.app.db().begin().await.unwrap();
        OrderFeed::default()
            .apply(&txn, 0, event, now)
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
}

fn member_id(i: usize) -> String {
    format!("m{i}")
}

/// The code a refusal carries, or "ok".
fn outcome<T>(result: alliance::error::Result<T>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(err) => err.code().as_str().to_owned(),
    }
}

/// Runs `ops` on a fresh ledger and on the model, comparing after each;
/// returns what the model saw happen.
async fn run(ops: Vec<Op>) -> Result<BTreeMap<String, u32>, String> {
    let ledger = Ledger::start().await;
    let db = ledger.app.db().clone();
    let mut model = Model::default();
    let operator = Caller::Operator {
        operator_id: "model".into(),
    };
    let actor = Actor::of(&operator);
    let mut now = DateTime::parse_from_rfc3339("2026-01-20T02:00:00Z")
        .unwrap()
        .to_utc();
    for (step, op) in ops.iter().enumerate() {
        // Every step a second later: lots never share a creation instant.
        now += Duration::seconds(1);
        let at = micros(now);
        let expected: String;
        let got: String;
        match op {
            Op::Earn {
                member,
                programme,
                points,
            } => {
                let who = model.survivor(&member_id(*member));
                model.earn(&who, *programme, *points, at, false);
                expected = "ok".into();
                let tx = ledger::PartnerTransaction {
                    requested_member_id: None,
                    member_id: member_id(*member),
                    programme_id: ledger.programmes[*programme].clone(),
                    points: *points,
                    source_system: "pos".into(),
                    external_txn_id: format!("earn-{step}"),
                    reason: "model".into(),
                };
                let key = IdempotencyKey::parse(&operator, &format!("model-earn-{step}")).unwrap();
                got = outcome(ledger::earn(&db, &tx, &key, &actor, now).await);
            }
            Op::Redeem {
                member,
                programme,
                points,
            } => {
                let who = model.survivor(&member_id(*member));
                expected = if model.debit(&who, *programme, *points, at) {
                    "ok".into()
                } else {
                    "INSUFFICIENT_POINTS".into()
                };
                let tx = ledger::PartnerTransaction {
                    requested_member_id: None,
                    member_id: member_id(*member),
                    programme_id: ledger.programmes[*programme].clone(),
                    points: *points,
                    source_system: "pos".into(),
                    external_txn_id: format!("redeem-{step}"),
                    reason: "model".into(),
                };
                let key =
                    IdempotencyKey::parse(&operator, &format!("model-redeem-{step}")).unwrap();
                got = outcome(ledger::redeem(&db, &tx, &key, &actor, now).await);
            }
            Op::Order {
                member,
                alpha_yuan,
                beta_yuan,
            } => {
                let id = format!("order-{step}");
                let who = model.survivor(&member_id(*member));
                let mut lots = Vec::new();
                let mut lines = Vec::new();
                for (programme, yuan) in [(0, *alpha_yuan), (1, *beta_yuan)] {
                    if yuan == 0 {
                        continue;
                    }
                    lots.push(model.earn(&who, programme, yuan, at, true));
                    lines.push(OrderLine {
                        line_id: format!("{id}-{programme}"),
                        sku_id: "sku".into(),
                        brand_id: ledger.brands[programme].into(),
                        quantity: 1,
                        unit_price_fen: yuan * 100,
                        amount_fen: yuan * 100,
                        source_location_id: None,
                        category_id: None,
                    });
                }
                model.orders.push(ModelOrder {
                    id: id.clone(),
                    member: member_id(*member),
                    state: OrderState::Placed,
                    lots,
                });
                let total_fen = lines.iter().map(|l| l.amount_fen).sum();
                ledger
                    .order_event(
                        OrderEvent::Placed(OrderPlaced {
                            order_id: id,
                            member_id: Some(member_id(*member)),
                            channel: kit::channel::Channel::App,
                            store_id: None,
                            fulfilment: "SHIP".into(),
                            lines,
                            total_fen,
                            placed_at: now,
                        }),
                        now,
                    )
                    .await;
                expected = "ok".into();
                got = "ok".into();
            }
            Op::Fulfil { order } | Op::Cancel { order } => {
                expected = "ok".into();
                got = "ok".into();
                // Only an order still placed can be handed over or cancelled
                // (the product service refuses the rest).
                let Some(placed) = model
                    .orders
                    .get_mut(*order)
                    .filter(|o| o.state == OrderState::Placed)
                else {
                    continue;
                };
                let (id, member) = (placed.id.clone(), Some(placed.member.clone()));
                let lots = placed.lots.clone();
                if matches!(op, Op::Fulfil { .. }) {
                    placed.state = OrderState::Fulfilled;
                    for i in lots {
                        let pending = PENDING_DAYS[model.lots[i].programme];
                        model.lots[i].activates_at =
                            Some(at + Duration::days(pending).num_microseconds().unwrap());
                        if pending == 0 {
                            model.activate(i);
                        }
                    }
                    ledger
                        .order_event(
                            OrderEvent::Fulfilled(OrderFulfilled {
                                order_id: id,
                                member_id: member,
                                fulfilled_at: now,
                            }),
                            now,
                        )
                        .await;
                } else {
                    placed.state = OrderState::Cancelled;
                    for i in lots {
                        model.lots[i].remaining = 0;
                    }
                    ledger
                        .order_event(
                            OrderEvent::Cancelled(OrderCancelled {
                                order_id: id,
                                member_id: member,
                                cancelled_at: now,
                            }),
                            now,
                        )
                        .await;
                }
            }
            Op::Exchange { member, blocks } => {
                let who = model.survivor(&member_id(*member));
                let points = blocks * BLOCK;
                expected = if model.debit(&who, 0, points, at) {
                    model.lots.push(ModelLot {
                        member: who.clone(),
                        programme: 1,
                        state: State::Active,
                        remaining: points,
                        activates_at: None,
                        expires_at: expiry(1, at),
                        created_at: at,
                    });
                    "ok".into()
                } else {
                    "INSUFFICIENT_POINTS".into()
                };
                let quoted = exchange::create_quote(
                    &db,
                    &member_id(*member),
                    &ledger.programmes[0],
                    &ledger.programmes[1],
                    points,
                    std::time::Duration::from_secs(60),
                    now,
                )
                .await;
                got = match quoted {
                    Ok(quote) => {
                        let caller = Caller::Member {
                            member_id: who.clone(),
                        };
                        let key = IdempotencyKey::parse(&caller, &format!("model-exchange-{step}"))
                            .unwrap();
                        outcome(
                            exchange::confirm(&db, &who, &quote.id, &key, &Actor::of(&caller), now)
                                .await,
                        )
                    }
                    Err(err) => outcome::<()>(Err(err)),
                };
            }
            Op::Merge { merged, survivor } => {
                expected = "ok".into();
                got = "ok".into();
                let (gone, kept) = (member_id(*merged), member_id(*survivor));
                // The member service merges two live members only.
                if gone == kept
                    || model.merged_into.contains_key(&gone)
                    || model.merged_into.contains_key(&kept)
                {
                    continue;
                }
                model.merged_into.insert(gone.clone(), kept.clone());
                for l in &mut model.lots {
                    if l.member == gone {
                        l.member = kept.clone();
                    }
                }
                for o in &mut model.orders {
                    if o.member == gone {
                        o.member = kept.clone();
                    }
                }
                let txn = db.begin().await.unwrap();
                MemberFeed::default()
                    .apply(
                        &txn,
                        0,
                        MemberEvent::Merged(MemberMerged {
                            survivor_id: kept,
                            merged_id: gone,
                            merged_at: now,
                        }),
                        now,
                    )
                    .await
                    .map_err(|e| format!("step {step} {op:?}: {e}"))?;
                txn.commit().await.unwrap();
            }
            Op::Pass { days } => {
                now += Duration::days(*days);
                model.pass_to(micros(now));
                ledger::activate_due(&db, now).await.unwrap();
                ledger::expire_due(&db, now).await.unwrap();
                expected = "ok".into();
                got = "ok".into();
            }
        }
        if got != expected {
            return Err(format!(
                "step {step} {op:?}: the ledger said {got}, the model {expected}"
            ));
        }
        let kind = format!("{op:?}");
        let kind = kind.split([' ', '{']).next().unwrap_or_default();
        *model.seen.entry(format!("{kind} {got}")).or_default() += 1;
        let (balances, expected) = (ledger.balances().await, model.balances());
        if balances != expected {
            return Err(format!(
                "after step {step} {op:?}: balances\n  ledger {balances:?}\n  model  {expected:?}"
            ));
        }
        let (lots, expected) = (ledger.holding_lots().await, model.holding_lots());
        if lots != expected {
            return Err(format!(
                "after step {step} {op:?}: lots\n  ledger {lots:?}\n  model  {expected:?}"
            ));
        }
    }
    ledger.app.stop().await;
    Ok(model.seen)
}

#[test]
fn the_ledger_does_what_a_plain_model_of_it_does() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let sequences = proptest::collection::vec(any_op(), 10..40);
    let seen = std::sync::Mutex::new(BTreeMap::<String, u32>::new());
    let result = runner.run(&sequences, |ops| {
        let happened = runtime.block_on(run(ops)).map_err(TestCaseError::fail)?;
        let mut seen = seen.lock().unwrap();
        for (what, n) in happened {
            *seen.entry(what).or_default() += n;
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The sequences went down every path, refusals included.
    let seen = seen.into_inner().unwrap();
    for path in [
        "Earn ok",
        "Redeem ok",
        "Redeem INSUFFICIENT_POINTS",
        "Order ok",
        "Fulfil ok",
        "Cancel ok",
        "Exchange ok",
        "Exchange INSUFFICIENT_POINTS",
        "Merge ok",
        "activated by the job",
        "lapsed",
    ] {
        assert!(seen.get(path) > Some(&0), "no {path:?} in {seen:?}");
    }
}
