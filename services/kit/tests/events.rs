//! The outbox feed and its consumer, over real HTTP and real databases.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use kit::events::consumer::{ConsumerError, EventHandler, FeedConsumer, HandlerError};
use kit::events::{DomainEvent, FeedEvent, FeedEvents};
use kit::service::ServiceSpec;
use kit::testing::{TestApp, TestDatabase};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, PaginatorTrait, Set,
};
use sea_orm_migration::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Counted {
    n: i64,
}

impl DomainEvent for Counted {
    const KIND: &'static str = "Counted";
}

static PRODUCER: &ServiceSpec = &kit::testing::FEED_ONLY;

/// The consumer's effect: one row per applied event. No unique constraint on
/// purpose: exactly-once must come from the position, not from the table.
mod applied {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "applied")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub seq: i64,
        pub n: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(DeriveIden)]
enum Applied {
    Table,
    Id,
    Seq,
    N,
}

struct ConsumerMigrator;

impl MigratorTrait for ConsumerMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = kit::migration::kit_migrations();
        all.push(Box::new(CreateApplied));
        all
    }
}

struct CreateApplied;

impl MigrationName for CreateApplied {
    fn name(&self) -> &str {
        "m20261122_009999_test_applied"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateApplied {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Applied::Table)
                    .col(
                        ColumnDef::new(Applied::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Applied::Seq).big_integer().not_null())
                    .col(ColumnDef::new(Applied::N).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }
}

/// Records each event; fails at `fail_at` to stand in for a crash mid-way,
/// and says "not yet" at `hold_at` to stand in for an event that waits.
#[derive(Clone, Default)]
struct Recorder {
    fail_at: Arc<AtomicI64>,
    hold_at: Arc<AtomicI64>,
    /// Refuses the event whose `n` is this (a rule, every time).
    refuse_n: Arc<AtomicI64>,
}

/// The test feed's one type of event.
#[derive(Debug, Clone, PartialEq)]
enum TestEvent {
    Counted(Counted),
}

impl FeedEvents for TestEvent {
    fn decode(event: &FeedEvent) -> Result<Self, serde_json::Error> {
        match event.decode::<Counted>() {
            Some(counted) => counted.map(TestEvent::Counted),
            None => Err(serde::de::Error::custom(format!(
                "not a test event: {}",
                event.kind
            ))),
        }
    }
}

#[async_trait]
impl EventHandler for Recorder {
    type Events = TestEvent;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        seq: i64,
        event: TestEvent,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), HandlerError> {
        let TestEvent::Counted(counted) = event;
        applied::ActiveModel {
            seq: Set(seq),
            n: Set(counted.n),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        if self.fail_at.load(Ordering::SeqCst) == seq {
            return Err(HandlerError::Rule("simulated crash".into()));
        }
        if self.refuse_n.load(Ordering::SeqCst) == counted.n {
            return Err(HandlerError::Rule(format!(
                "n = {} breaks a rule here",
                counted.n
            )));
        }
        if self.hold_at.load(Ordering::SeqCst) == seq {
            return Err(HandlerError::NotYet("simulated wait".into()));
        }
        Ok(())
    }
}

async fn publish(app: &TestApp, n: i64) -> i64 {
    app.publish(&Counted { n }).await
}

/// The consumer's own database; keep the `TestDatabase` alive as long as
/// the connection (it owns a SQLite file's folder).
async fn consumer_db() -> (TestDatabase, DatabaseConnection) {
    let database = TestDatabase::new().await;
    let db = database.connect("consumer").await;
    ConsumerMigrator::up(&db, None).await.unwrap();
    (database, db)
}

fn consumer(app: &TestApp, db: &DatabaseConnection, handler: Recorder) -> FeedConsumer<Recorder> {
    FeedConsumer::new(
        "test-consumer",
        &app.address,
        db.clone(),
        app.keys().clone(),
        app.clock().clone(),
        handler,
    )
    .with_batch(3)
}

async fn applied_seqs(db: &DatabaseConnection) -> Vec<i64> {
    let mut seqs: Vec<i64> = applied::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.seq)
        .collect();
    seqs.sort();
    seqs
}

#[tokio::test]
async fn events_are_applied_once_in_order_and_the_position_is_kept() {
    let app = kit::testing::spawn(PRODUCER).await;
    for n in 1..=7 {
        assert_eq!(
            publish(&app, n * 10).await,
            n,
            "sequence numbers are gapless"
        );
    }
    let (_database, db) = consumer_db().await;
    let c = consumer(&app, &db, Recorder::default());
    assert_eq!(c.poll_once().await.unwrap(), 3, "one page of 3");
    assert_eq!(c.position().await.unwrap(), 3);
    assert_eq!(c.catch_up().await.unwrap(), 4);
    assert_eq!(c.catch_up().await.unwrap(), 0, "nothing twice");
    assert_eq!(applied_seqs(&db).await, (1..=7).collect::<Vec<_>>());
    let values: Vec<i64> = applied::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.n)
        .collect();
    assert!(values.iter().all(|n| n % 10 == 0));
}

#[tokio::test]
async fn a_failure_mid_way_rolls_back_that_event_and_the_next_poll_resumes_there() {
    let app = kit::testing::spawn(PRODUCER).await;
    for n in 1..=5 {
        publish(&app, n).await;
    }
    let (_database, db) = consumer_db().await;
    let handler = Recorder::default();
    handler.fail_at.store(3, Ordering::SeqCst);
    let c = consumer(&app, &db, handler.clone()).with_batch(10);
    let err = c.poll_once().await.unwrap_err();
    assert!(
        matches!(err, ConsumerError::Handler { seq: 3, .. }),
        "{err}"
    );
    assert_eq!(
        applied_seqs(&db).await,
        [1, 2],
        "event 3's effect was rolled back with it"
    );
    assert_eq!(c.position().await.unwrap(), 2);

    // A new consumer on the same database (a restart) carries on from 2.
    handler.fail_at.store(0, Ordering::SeqCst);
    let restarted = consumer(&app, &db, handler).with_batch(10);
    assert_eq!(restarted.catch_up().await.unwrap(), 3);
    assert_eq!(applied_seqs(&db).await, [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn a_held_event_stops_the_consumer_without_failing_and_only_a_drained_feed_counts_as_caught_up()
 {
    let app = kit::testing::spawn(PRODUCER).await;
    for n in 1..=5 {
        publish(&app, n).await;
    }
    let (_database, db) = consumer_db().await;
    let handler = Recorder::default();
    handler.hold_at.store(4, Ordering::SeqCst);
    let c = consumer(&app, &db, handler.clone());
    assert_eq!(c.catch_up().await.unwrap(), 3, "held at 4: not an error");
    assert_eq!(applied_seqs(&db).await, [1, 2, 3], "4's effect rolled back");
    assert_eq!(c.position().await.unwrap(), 3);
    assert_eq!(
        c.caught_up_at().await.unwrap(),
        None,
        "5 is not applied yet"
    );

    handler.hold_at.store(0, Ordering::SeqCst);
    let before = app.now();
    assert_eq!(c.catch_up().await.unwrap(), 2);
    let first = c.caught_up_at().await.unwrap().expect("drained");
    assert!(
        first >= before - chrono::Duration::milliseconds(1),
        "{first} < {before}"
    );
    assert!(first <= app.now());

    // A poll that finds nothing new still moves the instant on: the feed
    // was drained then too.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(c.catch_up().await.unwrap(), 0);
    let second = c.caught_up_at().await.unwrap().unwrap();
    assert!(second > first);
    // Read by another consumer in the same database, by name.
    assert_eq!(
        kit::events::consumer::caught_up_at(&db, "test-consumer")
            .await
            .unwrap(),
        Some(second)
    );
    assert_eq!(
        kit::events::consumer::caught_up_at(&db, "nobody")
            .await
            .unwrap(),
        None
    );

    // A full page that leaves events behind is not caught up.
    publish(&app, 6).await;
    publish(&app, 7).await;
    publish(&app, 8).await;
    publish(&app, 9).await;
    assert_eq!(c.poll_once().await.unwrap(), 3);
    assert_eq!(c.caught_up_at().await.unwrap(), Some(second));
}

#[tokio::test]
async fn two_instances_racing_apply_each_event_once() {
    let app = kit::testing::spawn(PRODUCER).await;
    for n in 1..=30 {
        publish(&app, n).await;
    }
    let (_database, db) = consumer_db().await;
    let a = consumer(&app, &db, Recorder::default());
    let b = consumer(&app, &db, Recorder::default());
    for _ in 0..20 {
        let (ra, rb) = tokio::join!(a.poll_once(), b.poll_once());
        ra.unwrap();
        rb.unwrap();
    }
    assert_eq!(applied_seqs(&db).await, (1..=30).collect::<Vec<_>>());
    assert_eq!(applied::Entity::find().count(&db).await.unwrap(), 30);
}

#[tokio::test]
async fn concurrent_publishers_get_gapless_numbers_and_readers_never_see_a_hole() {
    let app = Arc::new(kit::testing::spawn(PRODUCER).await);
    let writers: Vec<_> = (0..20)
        .map(|n| {
            let app = app.clone();
            tokio::spawn(async move { publish(&app, n).await })
        })
        .collect();
    // Read while they write: every page must continue exactly where asked.
    let mut after = 0;
    let reader = async {
        for _ in 0..200 {
            let page: kit::events::FeedPage = app
                .get(&format!("/events?after={after}"))
                .bearer_auth(app.operator_token())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for (i, event) in page.events.iter().enumerate() {
                assert_eq!(event.seq, after + 1 + i as i64, "a reader saw a hole");
            }
            after += page.events.len() as i64;
            if after == 20 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    reader.await;
    let mut seqs: Vec<i64> = futures::future::join_all(writers)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    seqs.sort();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
    assert_eq!(after, 20);
}

/// Events are numbered after they commit, by whichever sequencer runs
/// first: identical sequencers racing number each event once, gaplessly.
#[tokio::test]
async fn sequencers_racing_number_each_committed_event_once_without_a_gap() {
    use sea_orm::TransactionTrait as _;
    let app = kit::testing::spawn(PRODUCER).await;
    for n in 0..50 {
        let txn = app.db().begin().await.unwrap();
        kit::events::outbox::publish(&txn, &Counted { n }, app.now())
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
    assert!(
        kit::events::outbox::read(app.db(), 0, 100)
            .await
            .unwrap()
            .is_empty(),
        "written, not yet numbered"
    );
    let counts =
        futures::future::join_all((0..8).map(|_| kit::events::outbox::sequence(app.db()))).await;
    let total: u64 = counts.into_iter().map(|c| c.unwrap()).sum();
    assert_eq!(total, 50, "each event numbered by one sequencer");
    let events = kit::events::outbox::read(app.db(), 0, 100).await.unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    let ns: Vec<i64> = events
        .iter()
        .map(|e| e.payload["n"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ns,
        (0..50).collect::<Vec<_>>(),
        "in the order they were written"
    );
    assert_eq!(kit::events::outbox::sequence(app.db()).await.unwrap(), 0);
    assert_eq!(kit::events::outbox::head(app.db()).await.unwrap(), 50);
}

/// On PostgreSQL a writer's open transaction holds up nobody: another
/// writer commits and its event is numbered meanwhile; the first gets the
/// next number once it commits. (SQLite has one writer at a time anyway.)
#[tokio::test]
async fn an_open_writer_holds_up_neither_other_writers_nor_numbering() {
    use sea_orm::{ConnectionTrait as _, TransactionTrait as _};
    let app = kit::testing::spawn(PRODUCER).await;
    if app.db().get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return;
    }
    let slow = app.db().begin().await.unwrap();
    kit::events::outbox::publish(&slow, &Counted { n: 1 }, app.now())
        .await
        .unwrap();
    let quick = tokio::time::timeout(Duration::from_secs(5), publish(&app, 2))
        .await
        .expect("not held up by the open transaction");
    assert_eq!(quick, 1);
    slow.commit().await.unwrap();
    assert_eq!(kit::events::outbox::sequence(app.db()).await.unwrap(), 1);
    let events = kit::events::outbox::read(app.db(), 0, 100).await.unwrap();
    let ns: Vec<i64> = events
        .iter()
        .map(|e| e.payload["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, [2, 1], "numbered in commit order");
}

#[tokio::test]
async fn an_unreachable_feed_is_an_error_not_a_skip() {
    let (_database, db) = consumer_db().await;
    let keys = kit::auth::JwtKeys::hs256(&kit::config::Secret::new(kit::auth::random_secret()));
    let c = FeedConsumer::new(
        "orphan",
        "http://127.0.0.1:1",
        db.clone(),
        keys,
        kit::time::Clock::system(),
        Recorder::default(),
    );
    assert!(matches!(
        c.poll_once().await,
        Err(ConsumerError::Unreachable { .. })
    ));
    assert_eq!(c.position().await.unwrap(), 0);
}

/// A producer that accepts the connection and never answers must not keep
/// the consumer from stopping: without the stop racing the poll, `run`
/// would wait out the client's 10 s timeout.
#[tokio::test]
async fn a_consumer_stops_at_once_even_while_its_feed_hangs() {
    let (_database, db) = consumer_db().await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let accepted = tokio::spawn(async move {
        let (socket, _) = silent.accept().await.unwrap();
        // Hold the connection open, unanswered, until the test ends.
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(socket);
    });
    let keys = kit::auth::JwtKeys::hs256(&kit::config::Secret::new(kit::auth::random_secret()));
    let c = FeedConsumer::new(
        "stalled",
        &url,
        db.clone(),
        keys,
        kit::time::Clock::system(),
        Recorder::default(),
    );
    let (trigger, shutdown) = kit::shutdown::channel();
    let running = tokio::spawn(c.run(Duration::from_millis(50), shutdown));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !running.is_finished(),
        "the poll is still waiting on the feed"
    );
    trigger.fire();
    let stopped = tokio::time::timeout(Duration::from_secs(2), running).await;
    assert!(stopped.is_ok(), "run returned within 2 s of the stop");
    accepted.abort();
}

/// An event of a type no test consumer knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Stranger {
    note: String,
}

impl DomainEvent for Stranger {
    const KIND: &'static str = "Stranger";
}

#[tokio::test]
async fn an_event_a_rule_refuses_is_parked_after_bounded_tries_and_the_feed_moves_on() {
    use kit::events::consumer::MAX_ATTEMPTS;
    use kit::events::parked::{self, Decision, ParkedStatus};

    let app = kit::testing::spawn(PRODUCER).await;
    for n in 1..=3 {
        publish(&app, n * 10).await;
    }
    // An event of a type this feed does not carry: unreadable, refused too.
    app.publish(&Stranger { note: "?".into() }).await;
    for n in 5..=6 {
        publish(&app, n * 10).await;
    }
    let (_database, db) = consumer_db().await;
    let handler = Recorder::default();
    handler.refuse_n.store(20, Ordering::SeqCst);
    let c = consumer(&app, &db, handler.clone()).with_batch(10);

    // Refused MAX_ATTEMPTS - 1 times: an error each time, nothing skipped.
    for _ in 1..MAX_ATTEMPTS {
        let err = c.catch_up().await.unwrap_err();
        assert!(
            matches!(err, ConsumerError::Handler { seq: 2, .. }),
            "{err}"
        );
        assert_eq!(c.position().await.unwrap(), 1);
    }
    // The last try parks it; the feed goes on to the stranger, which is
    // refused in its turn.
    c.catch_up().await.unwrap_err();
    assert_eq!(c.position().await.unwrap(), 3, "2 parked, 3 applied");
    for _ in 0..MAX_ATTEMPTS {
        let _ = c.catch_up().await;
    }
    assert_eq!(c.position().await.unwrap(), 6, "the stranger parked too");
    assert_eq!(applied_seqs(&db).await, [1, 3, 5, 6]);
    let parked_now = parked::list(&db, Some(ParkedStatus::Parked)).await.unwrap();
    let summary: Vec<(i64, &str, i64)> = parked_now
        .iter()
        .map(|p| (p.seq, p.kind.as_str(), p.attempts))
        .collect();
    assert_eq!(
        summary,
        [
            (2, "Counted", i64::from(MAX_ATTEMPTS)),
            (4, "Stranger", i64::from(MAX_ATTEMPTS))
        ]
    );
    assert!(
        parked_now[0].reason.contains("n = 20 breaks a rule"),
        "{}",
        parked_now[0].reason
    );
    assert!(
        parked_now[1].reason.contains("no"),
        "{}",
        parked_now[1].reason
    );

    // Retried while the rule still refuses: parked again, one more try.
    let now = app.clock().now_micros();
    parked::decide_on(&db, "test-consumer", 2, Decision::Retry, now)
        .await
        .unwrap();
    assert_eq!(c.catch_up().await.unwrap(), 0);
    let again = parked::list(&db, Some(ParkedStatus::Parked)).await.unwrap();
    assert_eq!(again[0].attempts, i64::from(MAX_ATTEMPTS) + 1);

    // The rule is fixed: a retry applies it once, however often it is asked.
    handler.refuse_n.store(0, Ordering::SeqCst);
    for _ in 0..3 {
        parked::decide_on(&db, "test-consumer", 2, Decision::Retry, now)
            .await
            .unwrap();
    }
    assert_eq!(c.catch_up().await.unwrap(), 1);
    assert_eq!(c.catch_up().await.unwrap(), 0, "once");
    assert_eq!(applied_seqs(&db).await, [1, 2, 3, 5, 6]);
    let applied_one = parked::list(&db, Some(ParkedStatus::Applied))
        .await
        .unwrap();
    assert_eq!(applied_one.len(), 1);
    assert_eq!(
        parked::decide_on(&db, "test-consumer", 2, Decision::Skip, now)
            .await
            .unwrap_err()
            .code,
        kit::ErrorCode::Conflict,
        "applied is done"
    );

    // The stranger is skipped for good; an event never parked is not found.
    let skipped = parked::decide_on(&db, "test-consumer", 4, Decision::Skip, now)
        .await
        .unwrap();
    assert_eq!(skipped.status, ParkedStatus::Skipped);
    assert_eq!(c.catch_up().await.unwrap(), 0);
    assert_eq!(
        parked::decide_on(&db, "test-consumer", 5, Decision::Retry, now)
            .await
            .unwrap_err()
            .code,
        kit::ErrorCode::NotFound
    );
}

#[tokio::test]
async fn two_instances_refused_by_the_same_rule_park_the_event_once() {
    use kit::events::consumer::MAX_ATTEMPTS;
    // Each instance counts its own tries: the event is parked by whichever
    // reaches the bound first, once.
    let app = kit::testing::spawn(PRODUCER).await;
    for n in 1..=4 {
        publish(&app, n).await;
    }
    let (_database, db) = consumer_db().await;
    let handler = Recorder::default();
    handler.refuse_n.store(2, Ordering::SeqCst);
    let a = consumer(&app, &db, handler.clone());
    let b = consumer(&app, &db, handler);
    let mut rounds = 0;
    while a.position().await.unwrap() < 4 {
        rounds += 1;
        assert!(rounds <= 10 * MAX_ATTEMPTS, "parked within bounded tries");
        let _ = futures::future::join(a.catch_up(), b.catch_up()).await;
    }
    assert_eq!(applied_seqs(&db).await, [1, 3, 4], "each applied once");
    let parked = kit::events::parked::list(&db, None).await.unwrap();
    assert_eq!(parked.len(), 1, "parked once");
    assert_eq!(parked[0].seq, 2);
}

/// The outbox is pruned only below every durable reader's position and
/// past retention; a reader that keeps nothing (the gateway's) holds
/// nothing back, nor does one not heard from for longer than retention;
/// the sequence goes on after a prune.
#[tokio::test]
async fn the_outbox_is_pruned_below_every_reader_once_past_retention() {
    use kit::events::consumer::FeedReader;
    use kit::events::outbox;
    let app = kit::testing::spawn(PRODUCER).await;
    for n in 1..=6 {
        publish(&app, n).await;
    }
    let (_fast_database, fast_db) = consumer_db().await;
    let fast = FeedConsumer::new(
        "fast-consumer",
        &app.address,
        fast_db.clone(),
        app.keys().clone(),
        app.clock().clone(),
        Recorder::default(),
    );
    assert_eq!(fast.catch_up().await.unwrap(), 6);
    // A reader reports what it has applied when it reads: this one has
    // applied 3 (it reads after 3).
    let slow = FeedReader::new("slow-consumer", &app.address, app.keys().clone());
    slow.page(3, 100).await.unwrap();

    let retention = Duration::from_secs(3_600);
    assert_eq!(
        outbox::prune(app.db(), app.now(), retention, false)
            .await
            .unwrap(),
        0,
        "events younger than retention stay, whoever has read them"
    );
    app.clock().advance(chrono::Duration::minutes(70));
    // Both read again within retention; the gateway's reader reads from
    // the start and keeps nothing.
    fast.poll_once().await.unwrap();
    slow.page(3, 100).await.unwrap();
    let gateway =
        FeedReader::new("gateway:alliance-feed", &app.address, app.keys().clone()).ephemeral();
    assert_eq!(gateway.page(0, 100).await.unwrap().events.len(), 6);
    assert_eq!(
        outbox::prune(app.db(), app.now(), retention, false)
            .await
            .unwrap(),
        3,
        "below the slowest live durable reader's reported position only"
    );
    let left: Vec<i64> = outbox::read(app.db(), 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(left, [4, 5, 6]);
    // The slow reader goes quiet for longer than retention (a consumer
    // gone, or moved to another transport): it no longer holds the rest.
    app.clock().advance(chrono::Duration::minutes(50));
    fast.poll_once().await.unwrap();
    app.clock().advance(chrono::Duration::minutes(15));
    fast.poll_once().await.unwrap();
    assert_eq!(
        outbox::prune(app.db(), app.now(), retention, false)
            .await
            .unwrap(),
        3
    );
    assert!(outbox::read(app.db(), 0, 100).await.unwrap().is_empty());
    assert_eq!(publish(&app, 7).await, 7, "the numbers go on");
    // Back after its events were pruned (it had applied 3), it is told
    // so rather than fed what follows the gap; a new consumer starts at 7.
    let (_late_database, late_db) = consumer_db().await;
    kit::events::entities::consumer_position::ActiveModel {
        consumer: Set("slow-consumer".into()),
        position: Set(3),
        updated_at: Set(0),
        caught_up_at: Set(None),
    }
    .insert(&late_db)
    .await
    .unwrap();
    let named = |name: &str| {
        FeedConsumer::new(
            name,
            &app.address,
            late_db.clone(),
            app.keys().clone(),
            app.clock().clone(),
            Recorder::default(),
        )
    };
    let err = named("slow-consumer").catch_up().await.unwrap_err();
    assert!(
        matches!(err, ConsumerError::Gap { after: 3, seq: 7 }),
        "{err}"
    );
    assert_eq!(named("new-consumer").catch_up().await.unwrap(), 1);
}

/// `jobs.in_process = false` (replicas whose jobs run as CronJobs): a
/// service's background has none of its periodic jobs; by default it has
/// each.
#[tokio::test]
async fn periodic_jobs_run_in_process_unless_configured_elsewhere() {
    use futures::FutureExt as _;
    static JOBS: [kit::service::Job; 2] = [
        kit::service::Job {
            name: "one",
            about: "a job",
            run: |_| async { Ok(String::new()) }.boxed(),
        },
        kit::service::Job {
            name: "two",
            about: "another",
            run: |_| async { Ok(String::new()) }.boxed(),
        },
    ];
    let app = kit::testing::spawn(PRODUCER).await;
    let (_trigger, shutdown) = kit::shutdown::channel();
    let background = |in_process: bool| {
        let mut config = (*app.ctx.config).clone();
        config.jobs.in_process = in_process;
        let mut ctx = app.ctx.clone();
        ctx.config = Arc::new(config);
        kit::service::Background {
            ctx,
            peers: Default::default(),
            poll_interval: Duration::from_secs(1),
            shutdown: shutdown.clone(),
            transport: kit::events::jetstream::Transport::Http,
        }
    };
    let interval = Duration::from_secs(60);
    assert!(kit::config::JobsConfig::default().in_process);
    assert_eq!(background(true).jobs(&JOBS, interval).count(), 2);
    assert_eq!(background(false).jobs(&JOBS, interval).count(), 0);
}

// ---- The same feed on NATS JetStream (`events.transport = "nats"`) ----

mod on_jetstream {
    use super::*;
    use kit::events::jetstream::{JetStream, JetStreamSource, Relay};

    /// A producer, its relay to a stream of the test's own, and the
    /// connection to clean up with.
    struct Streamed {
        app: TestApp,
        js: JetStream,
    }

    impl Streamed {
        async fn new() -> Self {
            Self {
                app: kit::testing::spawn(PRODUCER).await,
                js: kit::testing::jetstream().await,
            }
        }

        fn relay(&self) -> Relay {
            Relay::new(
                self.js.clone(),
                PRODUCER.name,
                self.app.db().clone(),
                self.app.clock().clone(),
            )
        }

        /// One relay pass by a relay that remembers nothing (a new replica).
        /// A pass the server failed (NATS 2.9 now and then answers 500
        /// "error creating store for stream" while other tests delete
        /// theirs) is tried again, as the relay's loop does; any other
        /// error fails the test.
        async fn relay_once(&self) -> usize {
            for _ in 0..3 {
                match self.relay().relay_once().await {
                    Err(kit::events::jetstream::RelayError::JetStream(e))
                        if e.contains("code 500") =>
                    {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    other => return other.unwrap(),
                }
            }
            self.relay().relay_once().await.unwrap()
        }

        fn consumer(&self, db: &DatabaseConnection, handler: Recorder) -> FeedConsumer<Recorder> {
            FeedConsumer::from_source(
                "test-consumer",
                JetStreamSource::new(self.js.clone(), PRODUCER.name, Duration::from_millis(50)),
                db.clone(),
                self.app.clock().clone(),
                handler,
            )
            .with_batch(3)
        }

        async fn done(self) {
            self.js.delete_all().await.unwrap();
        }
    }

    #[tokio::test]
    async fn the_relay_publishes_each_event_once_in_order_under_its_id_and_member_subject() {
        let s = Streamed::new().await;
        for n in 1..=7 {
            publish(&s.app, n * 10).await;
        }
        let member_event = s
            .app
            .publish(&kit::events::schema::MemberRegistered {
                member_id: "m-42".into(),
                channel: kit::channel::Channel::App,
                guide_code: None,
                brand_id: None,
                registered_at: s.app.now(),
                referrer_id: None,
            })
            .await;
        let mut relay = s.relay();
        assert_eq!(relay.relay_once().await.unwrap(), 8);
        assert_eq!(relay.relay_once().await.unwrap(), 0, "nothing twice");
        assert_eq!(s.relay_once().await, 0, "nor by a relay that starts afresh");
        assert_eq!(s.js.last_sequence(PRODUCER.name).await.unwrap(), 8);
        let outbox = kit::events::outbox::read(s.app.db(), 0, 100).await.unwrap();
        for event in &outbox {
            let (subject, id, stored) =
                s.js.message(PRODUCER.name, event.seq as u64).await.unwrap();
            assert_eq!(&stored, event, "stream message n is outbox event n");
            assert_eq!(
                id.as_deref(),
                Some(event.id.as_str()),
                "the event id is the message id"
            );
            let member = if event.seq == member_event {
                "m-42"
            } else {
                "_"
            };
            assert!(
                subject.ends_with(&format!(".{}.{member}", PRODUCER.name)),
                "{subject}"
            );
        }

        let (_database, db) = consumer_db().await;
        let c = s.consumer(&db, Recorder::default());
        assert_eq!(c.poll_once().await.unwrap(), 3, "one page of 3");
        let err = c.catch_up().await.unwrap_err();
        assert!(
            matches!(err, ConsumerError::Handler { seq: 8, .. }),
            "the member event is not this feed's: {err}"
        );
        assert_eq!(applied_seqs(&db).await, (1..=7).collect::<Vec<_>>());
        s.done().await;
    }

    #[tokio::test]
    async fn relays_in_every_replica_racing_publishers_put_each_event_in_the_stream_once() {
        let s = Arc::new(Streamed::new().await);
        let writers = (0..40).map(|n| {
            let s = s.clone();
            async move { publish(&s.app, n).await }
        });
        let relays = (0..4).map(|_| {
            let s = s.clone();
            async move {
                let mut relay = s.relay();
                for _ in 0..30 {
                    match relay.relay_once().await {
                        Ok(_) | Err(kit::events::jetstream::RelayError::Raced) => {}
                        Err(e) => panic!("{e}"),
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        });
        let (_, _) = tokio::join!(
            futures::future::join_all(writers),
            futures::future::join_all(relays)
        );
        s.relay_once().await;
        assert_eq!(s.js.last_sequence(PRODUCER.name).await.unwrap(), 40);
        let mut ids = std::collections::BTreeSet::new();
        for seq in 1..=40 {
            let (_, id, event) = s.js.message(PRODUCER.name, seq).await.unwrap();
            assert_eq!(event.seq, seq as i64);
            assert!(ids.insert(id.unwrap()), "no event twice");
        }
        Arc::into_inner(s).unwrap().done().await;
    }

    #[tokio::test]
    async fn consumers_racing_on_the_stream_apply_each_event_once_and_resume_after_a_failure() {
        let s = Streamed::new().await;
        for n in 1..=30 {
            publish(&s.app, n).await;
        }
        s.relay_once().await;
        let (_database, db) = consumer_db().await;
        let handler = Recorder::default();
        handler.fail_at.store(5, Ordering::SeqCst);
        let crashing = s.consumer(&db, handler.clone());
        let err = crashing.catch_up().await.unwrap_err();
        assert!(
            matches!(err, ConsumerError::Handler { seq: 5, .. }),
            "{err}"
        );
        assert_eq!(
            applied_seqs(&db).await,
            [1, 2, 3, 4],
            "5's effect rolled back"
        );
        handler.fail_at.store(0, Ordering::SeqCst);

        // Two replicas of the consumer, each with its own stream reader,
        // one database: each event applied once.
        let a = s.consumer(&db, handler.clone());
        let b = s.consumer(&db, handler);
        for _ in 0..20 {
            let (ra, rb) = tokio::join!(a.poll_once(), b.poll_once());
            ra.unwrap();
            rb.unwrap();
        }
        assert_eq!(applied_seqs(&db).await, (1..=30).collect::<Vec<_>>());
        assert_eq!(applied::Entity::find().count(&db).await.unwrap(), 30);
        s.done().await;
    }

    /// "Caught up" on JetStream is the relay's watermark: a consumer that
    /// has applied up to it has every event committed before its instant.
    #[tokio::test]
    async fn caught_up_follows_the_relays_watermark_and_a_held_event_waits() {
        let s = Streamed::new().await;
        for n in 1..=5 {
            publish(&s.app, n).await;
        }
        let (_database, db) = consumer_db().await;
        let handler = Recorder::default();
        let c = s.consumer(&db, handler.clone());
        assert_eq!(
            c.catch_up().await.unwrap(),
            0,
            "nothing before any relay ran"
        );
        assert_eq!(c.caught_up_at().await.unwrap(), None, "and no instant");

        let relayed_at = s.app.now();
        s.relay_once().await;
        handler.hold_at.store(4, Ordering::SeqCst);
        assert_eq!(c.catch_up().await.unwrap(), 3, "held at 4: not an error");
        assert_eq!(c.caught_up_at().await.unwrap(), None);

        handler.hold_at.store(0, Ordering::SeqCst);
        assert_eq!(c.catch_up().await.unwrap(), 2);
        let first = c.caught_up_at().await.unwrap().expect("drained");
        assert!(first >= relayed_at && first <= s.app.now(), "{first}");

        // Events committed after the relay's pass are not covered by its
        // watermark: reading the stream again claims nothing newer...
        s.app.clock().advance(chrono::Duration::seconds(3));
        publish(&s.app, 6).await;
        assert_eq!(c.catch_up().await.unwrap(), 0, "6 is not in the stream yet");
        assert_eq!(c.caught_up_at().await.unwrap(), Some(first));
        // ...until the relay publishes it and says so.
        let second_pass = s.app.now();
        s.relay_once().await;
        assert_eq!(c.catch_up().await.unwrap(), 1);
        let second = c.caught_up_at().await.unwrap().unwrap();
        assert!(second >= second_pass, "{second} < {second_pass}");
        s.done().await;
    }

    /// The relay is a durable reader of its outbox: pruning never deletes
    /// an event it has not published. A stream started over an outbox
    /// already pruned starts at the oldest event kept (its message 1), and
    /// says so in its watermark's offset.
    #[tokio::test]
    async fn pruning_waits_for_the_relay_and_a_late_stream_starts_at_the_oldest_event_kept() {
        use kit::events::outbox;
        let s = Streamed::new().await;
        for n in 1..=3 {
            publish(&s.app, n).await;
        }
        s.app.clock().advance(chrono::Duration::hours(2));
        let retention = Duration::from_secs(3_600);
        assert_eq!(
            outbox::prune(s.app.db(), s.app.now(), retention, true)
                .await
                .unwrap(),
            0,
            "on JetStream, nothing goes before the relay has said where it is"
        );
        // Pruned before any relay ran (HTTP until now, say).
        assert_eq!(
            outbox::prune(s.app.db(), s.app.now(), retention, false)
                .await
                .unwrap(),
            3
        );
        for n in 4..=5 {
            publish(&s.app, n).await;
        }
        s.relay_once().await;
        let (_, _, first) = s.js.message(PRODUCER.name, 1).await.unwrap();
        assert_eq!(first.seq, 4);
        let watermark = s.js.watermark(PRODUCER.name).await.unwrap().unwrap();
        assert_eq!((watermark.head, watermark.offset), (5, 3));
        for n in 6..=7 {
            publish(&s.app, n).await;
        }
        s.app.clock().advance(chrono::Duration::hours(2));
        assert_eq!(
            outbox::prune(s.app.db(), s.app.now(), retention, true)
                .await
                .unwrap(),
            2,
            "4 and 5 are relayed; 6 and 7 are not, however long the relay is away"
        );
        // A relay that starts afresh finds where the stream stands.
        assert_eq!(s.relay_once().await, 2);
        assert_eq!(s.js.last_sequence(PRODUCER.name).await.unwrap(), 4);
        let (_, _, last) = s.js.message(PRODUCER.name, 4).await.unwrap();
        assert_eq!(last.seq, 7);

        let (_database, db) = consumer_db().await;
        let c = s.consumer(&db, Recorder::default());
        assert_eq!(c.catch_up().await.unwrap(), 4, "a new consumer starts at 4");
        assert_eq!(applied_seqs(&db).await, [4, 5, 6, 7]);

        // Back on HTTP, the relay's record holds nothing back once stale.
        publish(&s.app, 8).await;
        s.app.clock().advance(chrono::Duration::hours(2));
        assert_eq!(
            outbox::prune(s.app.db(), s.app.now(), retention, true)
                .await
                .unwrap(),
            2,
            "relayed: 6 and 7 go, 8 (not relayed) stays"
        );
        assert_eq!(
            outbox::prune(s.app.db(), s.app.now(), retention, false)
                .await
                .unwrap(),
            1,
            "over HTTP with no reader left, age alone decides"
        );
        s.done().await;
    }

    /// A NATS server that lost its streams (restarted empty): the relays
    /// find out and publish the outbox again, with the same numbers, and
    /// consumers pick up where their positions say, each event once.
    #[tokio::test]
    async fn streams_lost_by_the_server_are_rebuilt_from_the_outbox_and_consumers_resume() {
        let s = Streamed::new().await;
        for n in 1..=3 {
            publish(&s.app, n).await;
        }
        let mut relay = s.relay();
        relay.relay_once().await.unwrap();
        let (_database, db) = consumer_db().await;
        let c = s.consumer(&db, Recorder::default());
        assert_eq!(c.catch_up().await.unwrap(), 3);

        s.js.delete_all().await.unwrap();
        // With nothing new to publish, the relay looks at its stream again
        // within seconds and rebuilds it.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while s.js.last_sequence(PRODUCER.name).await.unwrap() < 3 {
            assert!(std::time::Instant::now() < deadline, "not rebuilt");
            let _ = relay.relay_once().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        publish(&s.app, 4).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while c.position().await.unwrap() < 4 {
            assert!(std::time::Instant::now() < deadline, "not resumed");
            let _ = relay.relay_once().await;
            let _ = c.catch_up().await;
        }
        assert_eq!(applied_seqs(&db).await, [1, 2, 3, 4], "each once");
        s.done().await;
    }

    /// A producer whose database went back to an earlier state (a restore)
    /// numbers new events again under numbers the stream holds: its relay
    /// stops and says why, rather than skip them or mix them up.
    #[tokio::test]
    async fn a_stream_ahead_of_its_outbox_stops_the_relay_with_the_reason() {
        let s = Streamed::new().await;
        for n in 1..=3 {
            publish(&s.app, n).await;
        }
        s.relay_once().await;
        // The same producer's stream, and an outbox that has numbered two.
        let restored = kit::testing::spawn(PRODUCER).await;
        publish(&restored, 10).await;
        publish(&restored, 20).await;
        let mut relay = Relay::new(
            s.js.clone(),
            PRODUCER.name,
            restored.db().clone(),
            restored.clock().clone(),
        );
        let err = relay.relay_once().await.unwrap_err();
        assert!(
            matches!(
                err,
                kit::events::jetstream::RelayError::Diverged {
                    stream: 3,
                    outbox: 2
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("restored from a backup"), "{err}");
        // Even once it has numbered past the stream's end: another event
        // under number 3.
        publish(&restored, 30).await;
        let err = relay.relay_once().await.unwrap_err();
        assert!(
            matches!(
                err,
                kit::events::jetstream::RelayError::Diverged {
                    stream: 3,
                    outbox: 3
                }
            ),
            "{err}"
        );
        assert_eq!(s.js.last_sequence(PRODUCER.name).await.unwrap(), 3);
        let watermark = s.js.watermark(PRODUCER.name).await.unwrap().unwrap();
        assert_eq!(watermark.head, 3, "nothing promised that is not there");
        s.done().await;
    }

    #[tokio::test]
    async fn an_unreachable_nats_server_is_a_clear_error() {
        let closed = kit::testing::ClosedPort::new();
        let mut events = kit::testing::jetstream_events();
        events.nats_url = format!("nats://{}", closed.addr);
        let err = JetStream::connect(&events).await.err().expect("refused");
        assert!(err.to_string().contains(&closed.addr.to_string()), "{err}");
    }
}
