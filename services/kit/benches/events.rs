//! Events end to end, outbox write to consumer effect: HTTP polling against
//! NATS JetStream, with 1 and 8 producers writing at once. Prints events/s
//! (written and applied) and the lag from each event's commit to its
//! consumer's transaction (p50/p99), on SQLite and PostgreSQL.
//!
//! cargo bench -p kit --bench events
//! BIGMEMBER_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/bigmember_test (default)
//! BIGMEMBER_TEST_NATS_URL=nats://127.0.0.1:4222 (default)
//! BENCH_EVENTS=2000 (events per run)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kit::config::Secret;
use kit::events::consumer::{EventHandler, FeedConsumer, HandlerError};
use kit::events::jetstream::{JetStreamSource, Relay};
use kit::events::{DomainEvent, FeedEvent, FeedEvents};
use kit::testing::{FEED_ONLY, Latencies, TestDatabase, spawn_on};
use sea_orm::{DatabaseTransaction, TransactionTrait};
use sea_orm_migration::MigratorTrait;
use serde::{Deserialize, Serialize};

/// The event: when it was written (µs on the bench's monotonic clock).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stamped {
    written_us: u64,
}

impl DomainEvent for Stamped {
    const KIND: &'static str = "Stamped";
}

struct Events(Stamped);

impl FeedEvents for Events {
    fn decode(event: &FeedEvent) -> Result<Self, serde_json::Error> {
        match event.decode::<Stamped>() {
            Some(stamped) => stamped.map(Events),
            None => Err(serde::de::Error::custom("not a bench event")),
        }
    }
}

/// Records each event's lag, measured inside the consumer's transaction.
#[derive(Clone)]
struct Lag {
    start: Instant,
    lags: Arc<Mutex<Vec<Duration>>>,
}

#[async_trait]
impl EventHandler for Lag {
    type Events = Events;

    async fn apply(
        &self,
        _txn: &DatabaseTransaction,
        _seq: i64,
        Events(event): Events,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), HandlerError> {
        let now = self.start.elapsed().as_micros() as u64;
        if let Ok(mut lags) = self.lags.lock() {
            lags.push(Duration::from_micros(now.saturating_sub(event.written_us)));
        }
        Ok(())
    }
}

struct KitOnly;

impl MigratorTrait for KitOnly {
    fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
        kit::migration::kit_migrations()
    }
}

#[derive(Clone, Copy)]
enum Transport {
    /// Consumers poll `GET /events` every this many ms.
    Http(u64),
    /// The relay looks at the outbox every this many ms.
    JetStream(u64),
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Http(ms) => write!(f, "HTTP, poll {ms} ms"),
            Transport::JetStream(ms) => write!(f, "JetStream, relay {ms} ms"),
        }
    }
}

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    println!(
        "events end to end: {events} events per run, outbox write to the consumer's transaction"
    );
    let backends = kit::testing::bench_databases().await;
    for (backend, first) in backends {
        for producers in [1, 8] {
            for transport in [
                Transport::Http(500),
                Transport::Http(50),
                Transport::JetStream(50),
            ] {
                let (producer_db, consumer_db) = match backend {
                    "postgres" => (
                        TestDatabase::postgres(first.url.clone()).await,
                        TestDatabase::postgres(first.url.clone()).await,
                    ),
                    _ => (TestDatabase::sqlite(), TestDatabase::sqlite()),
                };
                run(
                    backend,
                    producers,
                    transport,
                    events,
                    producer_db,
                    consumer_db,
                )
                .await;
            }
        }
    }
}

async fn run(
    backend: &str,
    producers: usize,
    transport: Transport,
    events: usize,
    producer_db: TestDatabase,
    consumer_db: TestDatabase,
) {
    let clock = kit::testing::clock();
    let app = spawn_on(
        &FEED_ONLY,
        producer_db,
        Secret::new(kit::auth::random_secret()),
        clock.clone(),
    )
    .await;
    let db = consumer_db.connect("bench-consumer").await;
    KitOnly::up(&db, None).await.expect("consumer migrations");
    let start = Instant::now();
    let lag = Lag {
        start,
        lags: Default::default(),
    };
    let (trigger, shutdown) = kit::shutdown::channel();
    let mut background = Vec::new();
    let mut jetstream = None;
    let consumer = match transport {
        Transport::Http(poll_ms) => (
            FeedConsumer::new(
                "bench",
                &app.address,
                db.clone(),
                app.keys().clone(),
                clock.clone(),
                lag.clone(),
            ),
            Duration::from_millis(poll_ms),
        ),
        Transport::JetStream(relay_ms) => {
            let js = kit::testing::jetstream().await;
            let relay = Relay::new(js.clone(), FEED_ONLY.name, app.db().clone(), clock.clone());
            background.push(tokio::spawn(
                relay.run(Duration::from_millis(relay_ms), shutdown.clone()),
            ));
            jetstream = Some(js.clone());
            let wait = Duration::from_millis(500);
            (
                FeedConsumer::from_source(
                    "bench",
                    JetStreamSource::new(js, FEED_ONLY.name, wait),
                    db.clone(),
                    clock.clone(),
                    lag.clone(),
                ),
                wait,
            )
        }
    };
    let (consumer, interval) = consumer;
    let consumer = consumer.with_batch(500);
    background.push(tokio::spawn(consumer.run(interval, shutdown.clone())));

    // Each producer writes its share, one event per transaction, as fast
    // as its database lets it.
    let written = Instant::now();
    let writers: Vec<_> = (0..producers)
        .map(|_| {
            let db = app.db().clone();
            let clock = clock.clone();
            tokio::spawn(async move {
                for _ in 0..events / producers {
                    let txn = db.begin().await.expect("begin");
                    let stamped = Stamped {
                        written_us: start.elapsed().as_micros() as u64,
                    };
                    kit::events::outbox::publish(&txn, &stamped, clock.now())
                        .await
                        .expect("publish");
                    txn.commit().await.expect("commit");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let writing = written.elapsed();
    let total = (events / producers) * producers;
    let deadline = Instant::now() + Duration::from_secs(120);
    while lag.lags.lock().map(|l| l.len()).unwrap_or(0) < total {
        if Instant::now() > deadline {
            println!("{backend} {transport}: gave up waiting for the consumer");
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let applied = written.elapsed();
    trigger.fire();
    for task in background {
        let _ = task.await;
    }
    if let Some(js) = jetstream {
        let _ = js.delete_all().await;
    }
    let lags = lag.lags.lock().map(|l| l.clone()).unwrap_or_default();
    let latencies = Latencies::new(lags, applied);
    println!(
        "{backend:<8} {producers} producer(s) {transport:<24} written {:>7.0} events/s  applied {:>7.0} events/s  lag p50 {:>7.1} ms  p99 {:>7.1} ms",
        total as f64 / writing.as_secs_f64(),
        latencies.per_second(),
        latencies.ms(0.50),
        latencies.ms(0.99),
    );
}
