//! 500 concurrent confirmations, redemptions and earns against 20 accounts,
//! some reusing idempotency keys; then the books are checked. Meant for
//! PostgreSQL (BIGMEMBER_TEST_DATABASE_URL), where the races are real.

use std::collections::{BTreeMap, BTreeSet};

use alliance::domain::ledger::{EntryKind, LotState};
use alliance::store::entities::{account, clearing_entry, entry, exchange, lot};
use futures::future::join_all;
use kit::testing::{GraphqlResponse, spawn};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::support::*;

const MEMBERS: usize = 10;

enum Op {
    Confirm {
        member: String,
        quote: String,
        key: String,
    },
    Redeem {
        member: String,
        programme: String,
        points: i64,
        external: String,
        key: String,
    },
    Earn {
        member: String,
        programme: String,
        points: i64,
        external: String,
        key: String,
    },
}

#[tokio::test]
async fn the_books_hold_under_concurrent_load() {
    let app = spawn(&alliance::SPEC).await;
    let mut input = programme_input(0, Some(12), "WITHIN_BALANCE");
    let p1 = onboard(&app, "coffee", input.clone()).await;
    input["cashValueFen"] = json!("2");
    let p2 = onboard(&app, "cinema", input).await;
    for (from, to, rate) in [(&p1, &p2, "0.5"), (&p2, &p1, "2")] {
        let t = op(
            &app,
            PROPOSE,
            terms_input(from, to, rate, 100, 100, 3_000, 50_000),
        )
        .await;
        for side in ["FROM", "TO"] {
            op(
                &app,
                ACCEPT,
                json!({ "t": t["proposeExchangeTerms"]["id"], "v": 1, "s": side }),
            )
            .await;
        }
    }
    let members: Vec<String> = (0..MEMBERS).map(|i| format!("cm{i}")).collect();
    for m in &members {
        for p in [&p1, &p2] {
            earn(&app, m, p, 5_000, &format!("seed-{m}-{p}")).await.ok();
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut ops = Vec::new();
    // 100 quotes, confirmed concurrently; 50 more confirmations reuse a
    // quote, half with its key (a retry), half with a new key.
    let mut quotes = Vec::new();
    for i in 0..100 {
        let m = &members[i % MEMBERS];
        let (from, to) = if i % 3 == 0 { (&p2, &p1) } else { (&p1, &p2) };
        let q = quote(
            &app,
            &member(&app, m),
            from,
            to,
            100 * rng.random_range(1..=8),
        )
        .await;
        quotes.push((
            m.clone(),
            q.ok()["exchangeQuote"]["id"].as_str().unwrap().to_owned(),
        ));
    }
    for (i, (m, q)) in quotes.iter().enumerate() {
        ops.push(Op::Confirm {
            member: m.clone(),
            quote: q.clone(),
            key: format!("confirm-{i:04}"),
        });
    }
    for j in 0..50 {
        let i = rng.random_range(0..quotes.len());
        let key = if j % 2 == 0 {
            format!("confirm-{i:04}")
        } else {
            format!("confirm-again-{j:04}")
        };
        ops.push(Op::Confirm {
            member: quotes[i].0.clone(),
            quote: quotes[i].1.clone(),
            key,
        });
    }
    // 200 redemptions (40 retried with the same key and input) and 150
    // earns (30 retried).
    for (count, retries, is_earn) in [(160, 40, false), (120, 30, true)] {
        let mut made = Vec::new();
        for i in 0..count {
            let member = members[rng.random_range(0..MEMBERS)].clone();
            let programme = if rng.random_bool(0.5) {
                p1.clone()
            } else {
                p2.clone()
            };
            let points = rng.random_range(50..=900);
            let kind = if is_earn { "earn" } else { "redeem" };
            made.push((
                member,
                programme,
                points,
                format!("{kind}-{i:04}"),
                format!("{kind}-key-{i:04}"),
            ));
        }
        for i in 0..retries {
            made.push(made[i * 3].clone());
        }
        for (member, programme, points, external, key) in made {
            ops.push(if is_earn {
                Op::Earn {
                    member,
                    programme,
                    points,
                    external,
                    key,
                }
            } else {
                Op::Redeem {
                    member,
                    programme,
                    points,
                    external,
                    key,
                }
            });
        }
    }
    assert_eq!(ops.len(), 500);
    ops.shuffle(&mut rng);

    let started = std::time::Instant::now();
    let results: Vec<(String, GraphqlResponse)> = join_all(ops.iter().map(|op| {
        let app = &app;
        async move {
            match op {
                Op::Confirm {
                    member: m,
                    quote: q,
                    key,
                } => (key.clone(), confirm(app, &member(app, m), q, key).await),
                Op::Redeem {
                    member: m,
                    programme,
                    points,
                    external,
                    key,
                } => (
                    key.clone(),
                    app.graphql(
                        Some(&partner(app, brand_of(programme))),
                        REDEEM,
                        tx(m, programme, *points, external, key),
                    )
                    .await,
                ),
                Op::Earn {
                    member: m,
                    programme,
                    points,
                    external,
                    key,
                } => (
                    key.clone(),
                    app.graphql(
                        Some(&partner(app, brand_of(programme))),
                        EARN,
                        tx(m, programme, *points, external, key),
                    )
                    .await,
                ),
            }
        }
    }))
    .await;
    eprintln!("500 concurrent operations in {:?}", started.elapsed());

    // Every answer is a result or an expected refusal; one key, one result.
    let mut by_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, r) in &results {
        match r.error_code() {
            None => {
                let data = r.data();
                let id = data["confirmExchange"]["id"]
                    .as_str()
                    .or(data["redeemPoints"]["entry"]["id"].as_str())
                    .or(data["earnPoints"]["entry"]["id"].as_str())
                    .unwrap_or_else(|| panic!("{data}"));
                by_key.entry(key.clone()).or_default().insert(id.to_owned());
            }
            Some("INSUFFICIENT_POINTS" | "LIMIT_EXCEEDED" | "QUOTE_USED") => {}
            Some(other) => panic!("unexpected {other}: {:?}", r.errors()),
        }
    }
    for (key, ids) in &by_key {
        assert_eq!(ids.len(), 1, "key {key} applied more than once: {ids:?}");
    }
    let db = app.db();
    let entries = entry::Entity::find().all(db).await.unwrap();
    let exchanges = exchange::Entity::find().all(db).await.unwrap();
    let applied = |kind: EntryKind, prefix: &str| {
        (
            entries
                .iter()
                .filter(|e| {
                    e.kind == kind
                        && e.reference.starts_with("pos:")
                        && e.reason == "test purchase"
                        && !e.reference.contains("seed")
                })
                .count(),
            by_key.keys().filter(|k| k.starts_with(prefix)).count(),
        )
    };
    let (redeems, redeem_keys) = applied(EntryKind::Redeem, "redeem-key");
    assert_eq!(redeems, redeem_keys, "each redeem key applied exactly once");
    let (earns, earn_keys) = applied(EntryKind::Earn, "earn-key");
    assert_eq!(earns, earn_keys, "each earn key applied exactly once");
    assert_eq!(
        exchanges.len(),
        by_key.keys().filter(|k| k.starts_with("confirm")).count()
    );
    let distinct_quotes: BTreeSet<&str> = exchanges.iter().map(|e| e.quote_id.as_str()).collect();
    assert_eq!(
        distinct_quotes.len(),
        exchanges.len(),
        "a quote is used once"
    );

    let lots = lot::Entity::find().all(db).await.unwrap();
    let accounts = account::Entity::find().all(db).await.unwrap();
    assert_eq!(accounts.len(), 2 * MEMBERS);
    for a in &accounts {
        assert!(
            a.active_balance >= 0,
            "WITHIN_BALANCE never goes negative: {a:?}"
        );
        let mine: Vec<&entry::Model> = entries.iter().filter(|e| e.account_id == a.id).collect();
        assert_eq!(
            a.active_balance,
            mine.iter().map(|e| e.points).sum::<i64>(),
            "{a:?}"
        );
        assert_eq!(
            a.pending_balance,
            mine.iter().map(|e| e.pending_points).sum::<i64>()
        );
        let seqs: BTreeSet<i64> = mine.iter().map(|e| e.seq).collect();
        assert_eq!(seqs.len(), mine.len(), "one entry per sequence number");
        let held: i64 = lots
            .iter()
            .filter(|l| l.account_id == a.id && l.state != LotState::Pending)
            .map(|l| l.remaining)
            .sum();
        assert_eq!(a.active_balance, held, "balance equals its lots: {a:?}");
        assert!(lots.iter().all(|l| l.remaining >= 0), "no lot overdrawn");
    }
    let net: i64 = clearing_entry::Entity::find()
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|c| c.amount_fen)
        .sum();
    assert_eq!(net, 0, "clearing nets to zero");
    let succeeded = results
        .iter()
        .filter(|(_, r)| r.error_code().is_none())
        .count();
    assert!(
        succeeded > 250,
        "the run did real work: {succeeded} succeeded"
    );
    let _: Value = json!(null);
}

fn brand_of(programme: &str) -> &str {
    programme.trim_end_matches("-points")
}
