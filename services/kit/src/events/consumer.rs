//! The consumer side of a feed: poll, apply each event, and store the
//! position in the same transaction as the event's effect.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, Set, TransactionTrait,
};

use super::entities::consumer_position;
use super::{FeedEvent, FeedEvents, FeedPage, parked};
use crate::auth::JwtKeys;
use crate::shutdown::Shutdown;
use crate::time::{Clock, from_micros};

/// What a consumer does with one event of its feed. It must use `txn` for
/// every write, so that the effect and the new position commit together.
/// `seq` is the event's place in its feed; `now` is the consuming service's
/// clock when the event is applied.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// Every event the feed carries, as one type: a handler matches it
    /// exhaustively, so a new event makes each consumer decide.
    type Events: FeedEvents;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        seq: i64,
        event: Self::Events,
        now: DateTime<Utc>,
    ) -> Result<(), HandlerError>;
}

/// How many times a rule may refuse an event before the consumer parks it
/// (see [`super::parked`]) and moves on.
pub const MAX_ATTEMPTS: u32 = 5;

/// Why a handler did not apply an event; the event is retried on the next
/// poll, its effect rolled back and the position left before it.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("event payload does not match its type: {0}")]
    Payload(#[from] serde_json::Error),
    #[error("{0}")]
    Rule(String),
    /// The event depends on something not known here yet (typically another
    /// feed that has not caught up). Not a failure: the consumer stops the
    /// poll and tries again at its normal interval, without backing off.
    #[error("not yet: {0}")]
    NotYet(String),
}

impl HandlerError {
    /// Whether trying again cannot help: the event breaks a rule here, or
    /// cannot be read. Such an event is parked after [`MAX_ATTEMPTS`].
    pub fn is_refusal(&self) -> bool {
        matches!(self, HandlerError::Payload(_) | HandlerError::Rule(_))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("feed {url} unreachable: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("feed {url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("feed {url} sent an unreadable page: {source}")]
    Page { url: String, source: reqwest::Error },
    #[error("this service has no credential to read feeds: {0}")]
    Credential(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// The source jumped past events this consumer has not applied.
    #[error("the feed skipped from {after} to {seq}: the events in between are gone")]
    Gap { after: i64, seq: i64 },
    /// The JetStream side: the server unreachable, the stream missing, or
    /// the stream out of step with the feed's numbers.
    #[error("JetStream: {0}")]
    JetStream(String),
    #[error("event {seq} ({kind}) failed: {source}")]
    Handler {
        seq: i64,
        kind: String,
        source: HandlerError,
    },
}

/// Where a consumer's pages come from: the producer's HTTP feed
/// ([`FeedReader`]) or a JetStream stream
/// ([`super::jetstream::JetStreamSource`]).
#[async_trait]
pub trait EventSource: Send + Sync {
    /// The events after `after`, oldest first, gapless, at most `limit`;
    /// the feed's head, and the instant up to which the head is complete
    /// ([`FeedPage::as_of`]).
    async fn page(&self, after: i64, limit: u64) -> Result<FeedPage, ConsumerError>;

    /// Whether [`page`](Self::page) itself waits a while for new events
    /// when there are none, so a consumer need not sleep between polls.
    fn waits_for_events(&self) -> bool {
        false
    }
}

#[async_trait]
impl EventSource for FeedReader {
    async fn page(&self, after: i64, limit: u64) -> Result<FeedPage, ConsumerError> {
        FeedReader::page(self, after, limit).await
    }
}

/// A service's own outbox, read from its own database: for a consumer of
/// the service's own events (the alliance's webhook deliveries), with the
/// same pages and the same pruning rules as a reader of `GET /events`.
pub struct OwnOutbox {
    /// The reader's name in `feed_readers`: pruning waits for it.
    name: String,
    db: DatabaseConnection,
    clock: Clock,
}

impl OwnOutbox {
    pub fn new(name: impl Into<String>, db: DatabaseConnection, clock: Clock) -> Self {
        Self {
            name: name.into(),
            db,
            clock,
        }
    }
}

#[async_trait]
impl EventSource for OwnOutbox {
    async fn page(&self, after: i64, limit: u64) -> Result<FeedPage, ConsumerError> {
        use super::outbox;
        outbox::record_reader(&self.db, &self.name, after, self.clock.now()).await?;
        // As the feed does: the instant first, then numbering, then the head.
        let as_of = self.clock.now();
        outbox::sequence(&self.db).await?;
        let head = outbox::head(&self.db).await?;
        let events = outbox::read(&self.db, after, limit).await?;
        Ok(FeedPage {
            events,
            head,
            as_of: Some(as_of),
        })
    }
}

/// Reads pages of one producer's feed (`GET /events`) with the reader's
/// own `service` credential.
pub struct FeedReader {
    /// Who reads: the credential's subject (`member:alliance-feed`).
    name: String,
    feed_url: String,
    keys: JwtKeys,
    http: reqwest::Client,
    /// Whether the producer keeps events until this reader has applied
    /// them (a consumer); a reader that keeps nothing is not waited for.
    durable: bool,
}

impl FeedReader {
    /// `base_url` is the producer's address, e.g. `http://127.0.0.1:4004`.
    pub fn new(name: impl Into<String>, base_url: &str, keys: JwtKeys) -> Self {
        Self {
            name: name.into(),
            feed_url: format!("{}/events", base_url.trim_end_matches('/')),
            keys,
            http: crate::tls::reqwest_builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            durable: true,
        }
    }

    /// A reader the producer does not wait for before pruning (it keeps
    /// nothing, and reads only what the retention window holds).
    pub fn ephemeral(mut self) -> Self {
        self.durable = false;
        self
    }

    /// The events after `after`, at most `limit`, and the feed's head.
    pub async fn page(&self, after: i64, limit: u64) -> Result<FeedPage, ConsumerError> {
        let url = &self.feed_url;
        let credential = self
            .keys
            .service_token(&self.name)
            .map_err(|e| ConsumerError::Credential(e.message))?;
        let response = self
            .http
            .get(url)
            .query(&[
                ("after", after.to_string()),
                ("limit", limit.to_string()),
                ("durable", self.durable.to_string()),
            ])
            .bearer_auth(credential)
            .send()
            .await
            .map_err(|source| ConsumerError::Unreachable {
                url: url.clone(),
                source,
            })?;
        if !response.status().is_success() {
            return Err(ConsumerError::Status {
                url: url.clone(),
                status: response.status().as_u16(),
            });
        }
        response
            .json::<FeedPage>()
            .await
            .map_err(|source| ConsumerError::Page {
                url: url.clone(),
                source,
            })
    }
}

/// Reads one producer's feed into this service's database.
pub struct FeedConsumer<H> {
    name: String,
    source: Box<dyn EventSource>,
    db: DatabaseConnection,
    clock: Clock,
    handler: H,
    batch: u64,
    /// The event rules refused last, and how many times in a row.
    refusals: std::sync::Mutex<Option<(i64, u32)>>,
}

impl<H: EventHandler> FeedConsumer<H> {
    /// `name` identifies the consumer's position (one per feed it reads);
    /// `base_url` is the producer's address, e.g. `http://127.0.0.1:4001`;
    /// `clock` stamps when it last caught up (other consumers compare that
    /// with event times, so it is the service's clock).
    pub fn new(
        name: impl Into<String>,
        base_url: &str,
        db: DatabaseConnection,
        keys: JwtKeys,
        clock: Clock,
        handler: H,
    ) -> Self {
        let name = name.into();
        let reader = FeedReader::new(name.clone(), base_url, keys);
        Self::from_source(name, reader, db, clock, handler)
    }

    /// A consumer reading from `source` (HTTP or JetStream), its position
    /// named `name` in `db`.
    pub fn from_source(
        name: impl Into<String>,
        source: impl EventSource + 'static,
        db: DatabaseConnection,
        clock: Clock,
        handler: H,
    ) -> Self {
        Self {
            source: Box::new(source),
            name: name.into(),
            db,
            clock,
            handler,
            batch: 100,
            refusals: std::sync::Mutex::new(None),
        }
    }

    pub fn with_batch(mut self, batch: u64) -> Self {
        self.batch = batch.clamp(1, super::feed::MAX_LIMIT);
        self
    }

    /// The sequence number of the last event applied.
    pub async fn position(&self) -> Result<i64, DbErr> {
        Ok(consumer_position::Entity::find_by_id(self.name.clone())
            .one(&self.db)
            .await?
            .map(|row| row.position)
            .unwrap_or(0))
    }

    /// When this consumer last found its feed drained (see
    /// [`caught_up_at`]).
    pub async fn caught_up_at(&self) -> Result<Option<DateTime<Utc>>, DbErr> {
        caught_up_at(&self.db, &self.name).await
    }

    /// Fetches one page after the stored position and applies it event by
    /// event. Returns how many events were applied. An event whose handler
    /// fails stops the page: its effect is rolled back and the position stays
    /// before it, so the next poll retries it.
    pub async fn poll_once(&self) -> Result<usize, ConsumerError> {
        Ok(self.poll_page().await?.applied)
    }

    /// Polls until the feed is drained, or an event must wait. Returns how
    /// many events were applied.
    pub async fn catch_up(&self) -> Result<usize, ConsumerError> {
        Ok(self.catch_up_to_end().await?.applied)
    }

    async fn catch_up_to_end(&self) -> Result<Progress, ConsumerError> {
        let mut applied = self.retry_parked().await?;
        loop {
            let page = self.poll_page().await?;
            applied += page.applied;
            match page.end {
                PageEnd::More => {}
                PageEnd::Drained => {
                    if let Some(as_of) = page.as_of {
                        self.record_caught_up(as_of).await?;
                    }
                    return Ok(Progress {
                        applied,
                        end: PageEnd::Drained,
                        as_of: page.as_of,
                    });
                }
                end => {
                    return Ok(Progress {
                        applied,
                        end,
                        as_of: None,
                    });
                }
            }
        }
    }

    async fn poll_page(&self) -> Result<Progress, ConsumerError> {
        self.ensure_position_row().await?;
        let mut position = self.position().await?;
        let page = self.fetch(position).await?;
        let mut applied = 0;
        for event in &page.events {
            if event.seq <= position {
                continue;
            }
            if event.seq != position + 1 {
                // A feed is gapless: a jump means events this consumer never
                // applied are gone (pruned, or dropped by a stream). A new
                // consumer starts at the oldest event its producer kept.
                if position != 0 {
                    return Err(ConsumerError::Gap {
                        after: position,
                        seq: event.seq,
                    });
                }
                tracing::warn!(consumer = %self.name, first = event.seq, "a new consumer starts after events its producer no longer keeps");
                let txn = self.db.begin().await?;
                if !self.advance(&txn, 0, event.seq - 1).await? {
                    txn.rollback().await?;
                    return Ok(Progress {
                        applied,
                        end: PageEnd::Overtaken,
                        as_of: None,
                    });
                }
                txn.commit().await?;
                position = event.seq - 1;
            }
            let txn = self.db.begin().await?;
            match self.apply(&txn, event).await {
                Ok(()) => {}
                Err(HandlerError::NotYet(reason)) => {
                    txn.rollback().await?;
                    metrics::counter!("events_held_total", "consumer" => self.name.clone())
                        .increment(1);
                    tracing::debug!(consumer = %self.name, seq = event.seq, %reason, "event held");
                    return Ok(Progress {
                        applied,
                        end: PageEnd::Held {
                            seq: event.seq,
                            reason,
                        },
                        as_of: None,
                    });
                }
                Err(source) => {
                    txn.rollback().await?;
                    // Another instance applied it meanwhile (its effect is
                    // why ours failed, on a unique key): not a failure.
                    if self.position().await? >= event.seq {
                        tracing::debug!(consumer = %self.name, seq = event.seq, "event applied by another instance");
                        return Ok(Progress {
                            applied,
                            end: PageEnd::Overtaken,
                            as_of: None,
                        });
                    }
                    metrics::counter!("events_failed_total", "consumer" => self.name.clone())
                        .increment(1);
                    let attempts = self.count_refusal(event.seq, &source);
                    if attempts < MAX_ATTEMPTS {
                        return Err(ConsumerError::Handler {
                            seq: event.seq,
                            kind: event.kind.clone(),
                            source,
                        });
                    }
                    if !self.park(event, &source, attempts, position).await? {
                        return Ok(Progress {
                            applied,
                            end: PageEnd::Overtaken,
                            as_of: None,
                        });
                    }
                    position = event.seq;
                    continue;
                }
            }
            // Compare-and-set: if another instance moved the position, its
            // transaction applied this event; ours must not commit.
            if !self.advance(&txn, position, event.seq).await? {
                txn.rollback().await?;
                tracing::debug!(consumer = %self.name, seq = event.seq, "position moved by another instance");
                return Ok(Progress {
                    applied,
                    end: PageEnd::Overtaken,
                    as_of: None,
                });
            }
            txn.commit().await?;
            position = event.seq;
            applied += 1;
            metrics::counter!("events_applied_total", "consumer" => self.name.clone()).increment(1);
        }
        // The head was read after this poll began, so every event committed
        // before then is at or below it.
        let end = if position >= page.head {
            PageEnd::Drained
        } else {
            PageEnd::More
        };
        Ok(Progress {
            applied,
            end,
            as_of: page.as_of.map(crate::time::to_micros),
        })
    }

    /// Decodes `event` into the feed's type and applies it.
    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        event: &FeedEvent,
    ) -> Result<(), HandlerError> {
        let typed = H::Events::decode(event)?;
        self.handler
            .apply(txn, event.seq, typed, self.clock.now())
            .await
    }

    /// Counts one more refusal of `seq` (a database failure counts none);
    /// returns how many in a row.
    fn count_refusal(&self, seq: i64, error: &HandlerError) -> u32 {
        if !error.is_refusal() {
            return 0;
        }
        let Ok(mut last) = self.refusals.lock() else {
            return 0;
        };
        let attempts = match *last {
            Some((refused, n)) if refused == seq => n.saturating_add(1),
            _ => 1,
        };
        *last = Some((seq, attempts));
        attempts
    }

    /// Sets `event` aside and moves the position past it, in one
    /// transaction; false when another instance moved the position first.
    async fn park(
        &self,
        event: &FeedEvent,
        error: &HandlerError,
        attempts: u32,
        position: i64,
    ) -> Result<bool, ConsumerError> {
        let now = self.clock.now_micros();
        let txn = self.db.begin().await?;
        // The position first: an instance that lost the race stops here
        // rather than on the parked row's key.
        if !self.advance(&txn, position, event.seq).await? {
            txn.rollback().await?;
            return Ok(false);
        }
        parked::park(&txn, &self.name, event, &error.to_string(), attempts, now).await?;
        txn.commit().await?;
        if let Ok(mut last) = self.refusals.lock() {
            *last = None;
        }
        metrics::counter!("events_parked_total", "consumer" => self.name.clone()).increment(1);
        tracing::warn!(
            consumer = %self.name,
            seq = event.seq,
            kind = %event.kind,
            event_id = %event.id,
            attempts,
            reason = %error,
            "event parked: refused {attempts} times, the feed moves on without it (bigmember events parked)"
        );
        Ok(true)
    }

    /// Moves the position from `from` to `to` in `txn`, unless another
    /// instance moved it: compare-and-set.
    async fn advance(&self, txn: &DatabaseTransaction, from: i64, to: i64) -> Result<bool, DbErr> {
        let moved = consumer_position::Entity::update_many()
            .col_expr(consumer_position::Column::Position, to.into())
            .col_expr(
                consumer_position::Column::UpdatedAt,
                self.clock.now_micros().into(),
            )
            .filter(consumer_position::Column::Consumer.eq(self.name.clone()))
            .filter(consumer_position::Column::Position.eq(from))
            .exec(txn)
            .await?;
        Ok(moved.rows_affected == 1)
    }

    /// Applies the parked events an operator asked to retry (each in its
    /// own transaction with its new status). Returns how many applied.
    pub async fn retry_parked(&self) -> Result<usize, ConsumerError> {
        let mut applied = 0;
        for row in parked::due(&self.db, &self.name).await? {
            let event = row.to_feed_event();
            let txn = self.db.begin().await?;
            match self.apply(&txn, &event).await {
                Ok(()) => {
                    parked::settle(&txn, row, None, self.clock.now_micros()).await?;
                    txn.commit().await?;
                    applied += 1;
                    tracing::info!(consumer = %self.name, seq = event.seq, "parked event applied on retry");
                }
                Err(error) if error.is_refusal() => {
                    txn.rollback().await?;
                    tracing::warn!(consumer = %self.name, seq = event.seq, reason = %error, "parked event refused again on retry");
                    parked::settle(
                        &self.db,
                        row,
                        Some(error.to_string()),
                        self.clock.now_micros(),
                    )
                    .await?;
                }
                Err(source) => {
                    txn.rollback().await?;
                    return Err(ConsumerError::Handler {
                        seq: event.seq,
                        kind: event.kind.clone(),
                        source,
                    });
                }
            }
        }
        Ok(applied)
    }

    /// Polls every `interval` until `shutdown`. Failures are logged and
    /// retried with a doubling delay (at most a minute), so a producer that
    /// is down costs one line a minute, not one per poll. An event held for
    /// longer than [`HELD_WARNING`] is logged once. Returns as soon as
    /// `shutdown` fires, even mid-poll.
    pub async fn run(self, interval: Duration, mut shutdown: Shutdown) {
        let mut failures = Failures::default();
        let mut held = HeldEvent::default();
        loop {
            // Stopping mid-poll is safe: an event's effect and the position
            // commit together, so a dropped transaction undoes both. Not
            // waiting for the poll stops promptly even when the producer
            // hangs, and does not report the producer's own shutdown.
            let outcome = tokio::select! {
                outcome = self.catch_up_to_end() => outcome,
                _ = shutdown.wait() => return,
            };
            let delay = match outcome {
                Ok(progress) => {
                    failures = Failures::default();
                    let waited =
                        self.source.waits_for_events() && matches!(progress.end, PageEnd::Drained);
                    if let (Some(held_for), PageEnd::Held { seq, reason }) =
                        (held.observe(&progress.end, Instant::now()), &progress.end)
                    {
                        tracing::warn!(
                            consumer = %self.name,
                            seq,
                            %reason,
                            held_s = held_for.as_secs(),
                            "event held for over a minute"
                        );
                    }
                    if waited { Duration::ZERO } else { interval }
                }
                Err(err) => {
                    let seq = match &err {
                        ConsumerError::Handler { seq, .. } => Some(*seq),
                        _ => None,
                    };
                    let delay = backoff(interval, failures.failed(seq));
                    tracing::warn!(
                        consumer = %self.name,
                        error = %err,
                        retry_in_ms = delay.as_millis() as u64,
                        "event consumer poll failed"
                    );
                    delay
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    /// Moves `caught_up_at` forward (never back: another instance may have
    /// recorded a later poll).
    async fn record_caught_up(&self, started: i64) -> Result<(), DbErr> {
        consumer_position::Entity::update_many()
            .col_expr(consumer_position::Column::CaughtUpAt, Some(started).into())
            .filter(consumer_position::Column::Consumer.eq(self.name.clone()))
            .filter(
                Condition::any()
                    .add(consumer_position::Column::CaughtUpAt.is_null())
                    .add(consumer_position::Column::CaughtUpAt.lt(started)),
            )
            .exec(&self.db)
            .await?;
        Ok(())
    }

    async fn ensure_position_row(&self) -> Result<(), DbErr> {
        let row = consumer_position::ActiveModel {
            consumer: Set(self.name.clone()),
            position: Set(0),
            updated_at: Set(self.clock.now_micros()),
            caught_up_at: Set(None),
        };
        match consumer_position::Entity::insert(row)
            .on_conflict(
                OnConflict::column(consumer_position::Column::Consumer)
                    .do_nothing()
                    .to_owned(),
            )
            .exec(&self.db)
            .await
        {
            Ok(_) | Err(DbErr::RecordNotInserted) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn fetch(&self, after: i64) -> Result<FeedPage, ConsumerError> {
        self.source.page(after, self.batch).await
    }
}

/// How far one poll (or one catch-up) got.
struct Progress {
    applied: usize,
    end: PageEnd,
    /// When drained: the producer's instant up to which everything is
    /// applied (micros).
    as_of: Option<i64>,
}

enum PageEnd {
    /// Every event published when the poll began is applied.
    Drained,
    /// The page was full: more events wait.
    More,
    /// The handler said an event must wait ([`HandlerError::NotYet`]).
    Held { seq: i64, reason: String },
    /// Another instance applied the next event first.
    Overtaken,
}

/// How long an event may be held before the consumer says so at WARN.
pub const HELD_WARNING: Duration = Duration::from_secs(60);

/// The event a consumer is holding, since when, and whether that was said.
#[derive(Default)]
struct HeldEvent {
    current: Option<(i64, Instant, bool)>,
}

impl HeldEvent {
    /// Notes how a catch-up ended at `now`; returns how long the event has
    /// been held once that passes [`HELD_WARNING`], and only once per event.
    fn observe(&mut self, end: &PageEnd, now: Instant) -> Option<Duration> {
        let PageEnd::Held { seq, .. } = end else {
            self.current = None;
            return None;
        };
        match &mut self.current {
            Some((held_seq, since, warned)) if held_seq == seq => {
                let held = now.saturating_duration_since(*since);
                (!*warned && held >= HELD_WARNING).then(|| {
                    *warned = true;
                    held
                })
            }
            _ => {
                self.current = Some((*seq, now, false));
                None
            }
        }
    }
}

/// When `consumer` (a position name in `db`) last found its feed drained:
/// every event its producer committed before this instant is applied here.
/// `None` until its first drained poll.
pub async fn caught_up_at<C: ConnectionTrait>(
    db: &C,
    consumer: &str,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(consumer_position::Entity::find_by_id(consumer.to_owned())
        .one(db)
        .await?
        .and_then(|row| row.caught_up_at)
        .map(from_micros))
}

/// Consecutive failed polls, counted per event: the count starts afresh
/// when another event fails (the one before was parked), so refused events
/// in a row are each tried at the first pace, not each slower than the
/// last. Failures that name no event (the producer is down) keep counting.
#[derive(Debug, Default)]
struct Failures {
    count: u32,
    event: Option<i64>,
}

impl Failures {
    /// Records a failed poll (about event `seq`, if one); the count now.
    fn failed(&mut self, seq: Option<i64>) -> u32 {
        if seq.is_some() && seq != self.event {
            self.count = 0;
        }
        self.event = seq;
        self.count = self.count.saturating_add(1);
        self.count
    }
}

/// The delay after `failures` consecutive failures.
fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.min(16));
    interval.saturating_mul(factor).min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_event_is_worth_a_warning_once_after_a_minute() {
        let mut held = HeldEvent::default();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let on = |seq| PageEnd::Held {
            seq,
            reason: "waits".into(),
        };
        assert_eq!(held.observe(&on(7), at(0)), None);
        assert_eq!(held.observe(&on(7), at(59)), None);
        assert_eq!(held.observe(&on(7), at(61)), Some(Duration::from_secs(61)));
        assert_eq!(held.observe(&on(7), at(200)), None, "said once");
        assert_eq!(
            held.observe(&on(8), at(201)),
            None,
            "a new event: a new clock"
        );
        assert_eq!(held.observe(&PageEnd::Drained, at(202)), None);
        assert_eq!(held.observe(&on(8), at(203)), None, "released in between");
        assert_eq!(held.observe(&on(8), at(262)), None);
        assert_eq!(held.observe(&on(8), at(263)), Some(Duration::from_secs(60)));
    }

    #[test]
    fn the_backoff_starts_afresh_for_each_refused_event() {
        let mut f = Failures::default();
        let counts: Vec<u32> = (0..5).map(|_| f.failed(Some(11))).collect();
        assert_eq!(counts, [1, 2, 3, 4, 5]);
        assert_eq!(f.failed(Some(12)), 1, "the next event, after a park");
        assert_eq!(f.failed(Some(12)), 2);
        assert_eq!(f.failed(None), 3, "the producer down: still counting");
        assert_eq!(f.failed(None), 4);
    }

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let base = Duration::from_millis(500);
        assert_eq!(backoff(base, 1), Duration::from_secs(1));
        assert_eq!(backoff(base, 3), Duration::from_secs(4));
        assert_eq!(backoff(base, 30), Duration::from_secs(60));
    }
}
