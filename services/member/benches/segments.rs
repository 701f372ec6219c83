//! Listing a segment's members at 100,000 members, on SQLite and (if
//! reachable) PostgreSQL: the first page, a page deep in the list (by
//! cursor), and one member's membership, for segments over a tier, a tag,
//! recent purchases, spend and points. Prints figures.
//!
//! cargo bench -p member --bench segments
//! BIGMEMBER_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/bigmember_test (default)

use std::time::{Duration, Instant};

use kit::channel::Channel;
use kit::paging::PageRequest;
use kit::testing::{TestDatabase, clock};
use member::domain::MemberStatus;
use member::domain::segment::{PointsRule, SegmentRules, SpendRule};
use member::domain::tag::Tag;
use member::store::entities::{
    identity, member as member_row, member_points, member_purchase, tag,
};
use member::store::segments::{contains, members_page};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};

const MEMBERS: usize = 100_000;
const BATCH: usize = 1_000;
const ROUNDS: usize = 20;

#[tokio::main]
async fn main() {
    println!("segment listing: {MEMBERS} members, pages of 20, {ROUNDS} rounds each");
    for (backend, database) in kit::testing::bench_databases().await {
        run(backend, database).await;
    }
}

async fn run(backend: &str, database: TestDatabase) {
    let db = database.connect("member").await;
    (member::SPEC.migrate)(&db).await.expect("migrations");
    let now = clock().now();
    let started = Instant::now();
    seed(&db, now).await;
    // As autovacuum would after a bulk load: the planner's statistics.
    if backend == "postgres" {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("ANALYZE").await.expect("analyze");
    }
    println!(
        "{backend:<8} seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let segments: [(&str, SegmentRules); 5] = [
        (
            "tier GOLD (10%)",
            SegmentRules {
                tiers: ["GOLD".into()].into(),
                ..Default::default()
            },
        ),
        (
            "tag coffee-lover (5%)",
            SegmentRules {
                tags: [Tag::parse("coffee-lover").unwrap()].into(),
                ..Default::default()
            },
        ),
        (
            "bought in 30 days (30%)",
            SegmentRules {
                purchased_within_days: Some(30),
                ..Default::default()
            },
        ),
        (
            "spent 500 yuan in 90 days",
            SegmentRules {
                min_spend: Some(SpendRule {
                    fen: 50_000,
                    days: 90,
                }),
                ..Default::default()
            },
        ),
        (
            "WeChat and 1,000 Beans",
            SegmentRules {
                channels: [Channel::WechatMiniProgram].into(),
                min_points: Some(PointsRule {
                    programme_id: "coffee-points".into(),
                    points: 1_000,
                }),
                ..Default::default()
            },
        ),
    ];
    for (name, rules) in &segments {
        let first = PageRequest::parse(Some(20), None).unwrap();
        let mut firsts = Vec::new();
        let mut last_cursor = None;
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let (rows, _) = members_page(&db, rules, &first, now).await.unwrap();
            firsts.push(t.elapsed());
            last_cursor = rows.last().map(|r| r.id.clone());
        }
        // Ten pages on from the first, by cursor.
        let mut deep = Vec::new();
        let mut after = last_cursor;
        for _ in 0..10 {
            let page = PageRequest {
                first: 20,
                after: after.clone(),
            };
            let t = Instant::now();
            let (rows, _) = members_page(&db, rules, &page, now).await.unwrap();
            deep.push(t.elapsed());
            after = rows.last().map(|r| r.id.clone());
        }
        let mut checks = Vec::new();
        for n in 0..ROUNDS {
            let t = Instant::now();
            contains(&db, rules, &member_id(n * 4_999 % MEMBERS), now)
                .await
                .unwrap();
            checks.push(t.elapsed());
        }
        println!(
            "{backend:<8} {name:<28} first page p50 {:>7.2} ms  next pages p50 {:>7.2} ms  one member p50 {:>6.2} ms",
            p50(&mut firsts),
            p50(&mut deep),
            p50(&mut checks),
        );
    }
}

fn p50(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1_000.0
}

fn member_id(n: usize) -> String {
    format!("bench-member-{n:06}")
}

/// 100,000 members: every tenth GOLD, every twentieth tagged, a third on
/// WeChat too, 30% with a purchase in the last 30 days (and 10% more
/// before), a fifth with Beans.
async fn seed(db: &DatabaseConnection, now: chrono::DateTime<chrono::Utc>) {
    let at = kit::time::to_micros(now);
    let day = 86_400_000_000i64;
    for start in (0..MEMBERS).step_by(BATCH) {
        let range = start..(start + BATCH).min(MEMBERS);
        member_row::Entity::insert_many(range.clone().map(|n| member_row::ActiveModel {
            id: Set(member_id(n)),
            status: Set(MemberStatus::Active),
            merged_into: Set(None),
            name: Set(None),
            phone: Set(None),
            email: Set(None),
            birthday: Set(None),
            gender: Set(None),
            registration_channel: Set(Channel::App),
            registration_brand_id: Set(None),
            guide_code: Set(None),
            referrer_id: Set(None),
            tier: Set(if n % 10 == 0 { "GOLD" } else { "BASIC" }.to_owned()),
            growth_value: Set(0),
            registered_at: Set(at),
            updated_at: Set(at),
            erased_at: Set(None),
            environment: Set(kit::auth::Environment::Live),
        }))
        .exec(db)
        .await
        .unwrap();
        identity::Entity::insert_many(range.clone().filter(|n| n % 3 == 0).map(|n| {
            identity::ActiveModel {
                id: Set(format!("bench-identity-{n:06}")),
                member_id: Set(member_id(n)),
                channel: Set(Channel::WechatMiniProgram),
                external_id: Set(format!("wx-{n}")),
                brand_id: Set(None),
                linked_at: Set(at),
                environment: Set(kit::auth::Environment::Live),
                namespace: Set(String::new()),
            }
        }))
        .exec(db)
        .await
        .unwrap();
        tag::Entity::insert_many(
            range
                .clone()
                .filter(|n| n % 20 == 0)
                .map(|n| tag::ActiveModel {
                    member_id: Set(member_id(n)),
                    tag: Set("coffee-lover".into()),
                    added_at: Set(at),
                    added_by: Set("bench".into()),
                }),
        )
        .exec(db)
        .await
        .unwrap();
        member_purchase::Entity::insert_many(range.clone().filter(|n| n % 10 < 4).map(|n| {
            let days_ago = if n % 10 < 3 { (n % 30) as i64 } else { 60 };
            member_purchase::ActiveModel {
                order_id: Set(format!("bench-order-{n:06}")),
                member_id: Set(member_id(n)),
                paid_fen: Set(((n % 7) as i64 + 1) * 10_000),
                placed_at: Set(at - days_ago * day),
                cancelled: Set(false),
            }
        }))
        .exec(db)
        .await
        .unwrap();
        member_points::Entity::insert_many(range.filter(|n| n % 5 == 0).map(|n| {
            member_points::ActiveModel {
                member_id: Set(member_id(n)),
                programme_id: Set("coffee-points".into()),
                active_balance: Set((n % 3_000) as i64),
                updated_at: Set(at),
            }
        }))
        .exec(db)
        .await
        .unwrap();
    }
}
