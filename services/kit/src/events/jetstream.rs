//! Events on NATS JetStream (`events.transport = "nats"`).
//!
//! The outbox stays the source of truth: an event is written in the same
//! transaction as its fact. Each producer runs a [`Relay`] that publishes
//! its outbox, in order, to one stream per producer (`<prefix>_<SERVICE>`):
//!
//! - The event's id is the message id (`Nats-Msg-Id`), so JetStream drops a
//!   repeat within its duplicate window.
//! - Each publish expects the stream's last sequence to be the event's
//!   predecessor (`Nats-Expected-Last-Sequence`), so the stream's sequence
//!   *is* the outbox's: gapless, in commit order, never a duplicate, even
//!   with a relay in every replica racing the others.
//! - The subject is `<prefix>.<service>.<member id or _>`: one member's
//!   events share a subject, in order.
//! - After each pass that drains the outbox, the relay writes a watermark
//!   (`head`, `asOf`) into the `<prefix>_WATERMARKS` stream (the last per
//!   producer):
//!   every event committed before `asOf` is in the stream at or below
//!   `head`. That is what "the member feed has caught up" means on
//!   JetStream (see [`super::consumer::caught_up_at`]).
//! - The relay is a durable reader of its outbox (`nats-relay`), so pruning
//!   never deletes an event it has not published.
//!
//! A consumer reads the stream through [`JetStreamSource`], which serves the
//! same gapless pages as the HTTP feed. The consumer's rule does not change:
//! an event's effect and the consumer's position commit in one transaction,
//! so a redelivery (another replica, a reconnect) is never applied twice.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use async_trait::async_trait;
use futures::StreamExt as _;
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

use super::consumer::{ConsumerError, EventSource};
use super::{FeedEvent, FeedPage, outbox};
use crate::config::EventsConfig;
use crate::shutdown::Shutdown;
use crate::time::{Clock, from_micros, to_micros};

/// The outbox reader name the relay records its position under.
pub const RELAY_READER: &str = "nats-relay";

/// Events a relay reads from the outbox per database round trip.
const RELAY_BATCH: u64 = 500;

/// How long a page waits for an event it knows is in the stream (below the
/// watermark) before calling the stream out of step.
const BEHIND_WAIT: Duration = Duration::from_secs(5);

/// A connection to JetStream and the names this platform uses there.
#[derive(Clone)]
pub struct JetStream {
    context: jetstream::Context,
    prefix: String,
    /// How long a stream keeps an event (`events.outbox_retention_hours`).
    retention: Duration,
    /// Copies of each stream in a NATS cluster (`events.nats_replicas`).
    replicas: usize,
}

/// Why JetStream could not be used.
#[derive(Debug, thiserror::Error)]
#[error("JetStream at {url}: {message}")]
pub struct JetStreamError {
    url: String,
    message: String,
}

impl JetStream {
    /// Connects to `events.nats_url`. Fails when the server cannot be
    /// reached or has no JetStream (run `nats-server -js`).
    pub async fn connect(events: &EventsConfig) -> Result<Self, JetStreamError> {
        // Named without its password: the error is logged and printed.
        let error = |message: String| JetStreamError {
            url: crate::config::redact_password(&events.nats_url),
            message,
        };
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(events.nats_url.as_str())
            .await
            .map_err(|e| error(e.to_string()))?;
        // The account's JetStream info: an answer without an error means
        // JetStream is on (read loosely: servers add fields).
        let info = client
            .request("$JS.API.INFO", Default::default())
            .await
            .map_err(|e| {
                error(format!(
                    "no JetStream on this server (run nats-server -js): {e}"
                ))
            })?;
        let info: serde_json::Value = serde_json::from_slice(&info.payload)
            .map_err(|e| error(format!("unreadable JetStream info: {e}")))?;
        if let Some(problem) = info.get("error") {
            return Err(error(format!("no JetStream for this account: {problem}")));
        }
        let context = jetstream::new(client);
        Ok(Self {
            context,
            prefix: events.nats_prefix.clone(),
            retention: Duration::from_secs(events.outbox_retention_hours.saturating_mul(3_600)),
            replicas: events.nats_replicas.max(1) as usize,
        })
    }

    /// The stream of `producer`'s events: `<prefix>_<PRODUCER>`.
    pub fn stream_name(&self, producer: &str) -> String {
        format!("{}_{}", self.prefix, producer.to_ascii_uppercase())
    }

    /// The subject of `event` from `producer`: one member's events share
    /// one subject (`<prefix>.<producer>.<memberId>`), the rest `…._`.
    pub fn subject(&self, producer: &str, event: &FeedEvent) -> String {
        let member = event
            .payload
            .get("memberId")
            .and_then(|v| v.as_str())
            .filter(|id| {
                !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
            .unwrap_or("_");
        format!("{}.{producer}.{member}", self.prefix)
    }

    /// The producer's stream, created if it does not exist, and brought to
    /// the configured retention and replicas if it has others.
    async fn stream(&self, producer: &str) -> Result<stream::Stream, String> {
        let name = self.stream_name(producer);
        let config = stream::Config {
            name: name.clone(),
            subjects: vec![format!("{}.{producer}.*", self.prefix)],
            max_age: self.retention,
            num_replicas: self.replicas,
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            allow_direct: true,
            ..Default::default()
        };
        let stream = self
            .context
            .get_or_create_stream(config.clone())
            .await
            .map_err(|e| format!("stream {name}: {e}"))?;
        let kept = &stream.cached_info().config;
        if kept.max_age != config.max_age || kept.num_replicas != config.num_replicas {
            tracing::info!(stream = %name, retention_s = config.max_age.as_secs(), replicas = config.num_replicas, "stream brought to the configured retention and replicas");
            self.context
                .update_stream(config)
                .await
                .map_err(|e| format!("stream {name}: updating its retention or replicas: {e}"))?;
        }
        Ok(stream)
    }

    /// The stream that keeps each producer's last watermark
    /// (`<prefix>_WATERMARKS`, one message per subject: what a key-value
    /// bucket is underneath, without the bucket API newer servers need).
    async fn watermarks(&self) -> Result<stream::Stream, String> {
        let name = format!("{}_WATERMARKS", self.prefix);
        self.context
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                subjects: vec![format!("{}.watermark.*", self.prefix)],
                max_messages_per_subject: 1,
                num_replicas: self.replicas,
                storage: stream::StorageType::File,
                allow_direct: true,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("stream {name}: {e}"))
    }

    fn watermark_subject(&self, producer: &str) -> String {
        format!("{}.watermark.{producer}", self.prefix)
    }

    /// Records `producer`'s watermark.
    async fn put_watermark(&self, producer: &str, watermark: Watermark) -> Result<(), String> {
        let body: Vec<u8> = serde_json::to_vec(&watermark).unwrap_or_default();
        let publish = || async {
            self.context
                .publish(self.watermark_subject(producer), body.clone().into())
                .await
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())
        };
        if publish().await.is_err() {
            // No stream to take it (the first pass, or a server that lost
            // its streams): make it, and try once more.
            self.watermarks().await?;
            publish().await.map_err(|e| format!("watermark: {e}"))?;
        }
        Ok(())
    }

    /// `producer`'s last watermark; `None` before its relay's first pass.
    pub async fn watermark(&self, producer: &str) -> Result<Option<Watermark>, String> {
        let stream = self.watermarks().await?;
        match stream
            .get_last_raw_message_by_subject(&self.watermark_subject(producer))
            .await
        {
            Ok(message) => serde_json::from_slice(&message.payload)
                .map(Some)
                .map_err(|e| format!("unreadable watermark: {e}")),
            Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(format!("watermark: {e}")),
        }
    }

    /// Deletes every stream (events and watermarks) under this prefix:
    /// for tests, and for an operator starting over.
    pub async fn delete_all(&self) -> Result<(), String> {
        let mut names = self.context.stream_names();
        let mut doomed = Vec::new();
        while let Some(name) = names.next().await {
            let name = name.map_err(|e| e.to_string())?;
            if name.starts_with(&format!("{}_", self.prefix)) {
                doomed.push(name);
            }
        }
        for name in doomed {
            self.context
                .delete_stream(&name)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(())
    }

    /// The stream's last sequence: how far `producer`'s relays got.
    pub async fn last_sequence(&self, producer: &str) -> Result<u64, String> {
        let stream = self.stream(producer).await?;
        Ok(stream
            .get_info()
            .await
            .map_err(|e| e.to_string())?
            .state
            .last_sequence)
    }

    /// The message at `seq` in `producer`'s stream, as the relay put it:
    /// its subject, its message id and the event.
    pub async fn message(
        &self,
        producer: &str,
        seq: u64,
    ) -> Result<(String, Option<String>, FeedEvent), String> {
        let stream = self.stream(producer).await?;
        let raw = stream
            .get_raw_message(seq)
            .await
            .map_err(|e| format!("message {seq}: {e}"))?;
        let id = raw
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.to_string());
        let event = serde_json::from_slice(&raw.payload).map_err(|e| e.to_string())?;
        Ok((raw.subject.to_string(), id, event))
    }
}

/// What a relay tells consumers after draining its outbox: every event
/// committed before `as_of` (micros, the producer's clock) is in the stream
/// at or below event `head`; event `n` is stream message `n - offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Watermark {
    pub head: i64,
    pub as_of: i64,
    /// How far the stream's numbers sit below the feed's: non-zero when
    /// the stream started over an outbox already pruned.
    pub offset: i64,
}

/// Where a relay stands: the feed's last event in the stream, and the
/// stream's numbering.
#[derive(Debug, Clone, Copy)]
struct Published {
    /// The feed's number of the stream's last message (0: none yet).
    head: i64,
    offset: i64,
}

/// How often a relay looks again at its stream (a server that lost its
/// streams, another replica's progress) rather than trusting what it saw.
const RELAY_REFRESH: Duration = Duration::from_secs(5);

/// How often an idle relay renews its watermark (and a consumer's "caught
/// up"), and its reader record in the outbox (so pruning knows it lives).
const WATERMARK_EVERY: Duration = Duration::from_millis(500);
const READER_EVERY: Duration = Duration::from_secs(60);

/// Publishes one producer's outbox to its stream, in order.
pub struct Relay {
    js: JetStream,
    producer: String,
    db: DatabaseConnection,
    clock: Clock,
    /// The stream and where it stood after this relay's last pass, and
    /// when that was last read from the server.
    stream: Option<(stream::Stream, Published, std::time::Instant)>,
    /// The last watermark written, and when.
    watermark: Option<(i64, std::time::Instant)>,
    /// When the relay last recorded its position as an outbox reader.
    recorded: Option<std::time::Instant>,
}

/// Why a relay pass stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("JetStream: {0}")]
    JetStream(String),
    /// Another relay (another replica) published first; the next pass
    /// starts from the stream's new end.
    #[error("another relay published first")]
    Raced,
    /// The stream holds events the outbox does not (or others under the
    /// same numbers): the database was restored from an earlier state, or
    /// two platforms share one prefix. Nothing is published until an
    /// operator decides (see the README's "Deploy").
    #[error(
        "the stream ends at event {stream} but this outbox has numbered up to {outbox} or holds another event under that number: was the database restored from a backup, or do two platforms share events.nats_prefix? Nothing is relayed until the stream is deleted (it is rebuilt from the outbox)"
    )]
    Diverged { stream: i64, outbox: i64 },
    /// The outbox no longer holds the event after the stream's end.
    #[error(
        "the stream ends at event {head} but the outbox's next event is {next}: events in between were pruned before they were published"
    )]
    Gap { head: i64, next: i64 },
}

impl Relay {
    pub fn new(js: JetStream, producer: &str, db: DatabaseConnection, clock: Clock) -> Self {
        Self {
            js,
            producer: producer.to_owned(),
            db,
            clock,
            stream: None,
            watermark: None,
            recorded: None,
        }
    }

    /// Publishes every outbox event not yet in the stream, then writes the
    /// watermark. Returns how many events this pass published.
    pub async fn relay_once(&mut self) -> Result<usize, RelayError> {
        let as_of = self.clock.now();
        // Whatever committed before `as_of` gets its number now.
        outbox::sequence(&self.db).await?;
        let (stream, mut at, seen) = match self.stream.take() {
            Some((stream, at, seen)) if seen.elapsed() < RELAY_REFRESH => (stream, at, seen),
            _ => {
                let stream = self
                    .js
                    .stream(&self.producer)
                    .await
                    .map_err(RelayError::JetStream)?;
                let at = self.find_end(&stream).await?;
                self.watermark = None;
                (stream, at, std::time::Instant::now())
            }
        };
        // On any failure the next pass reads the stream afresh.
        let published = self.publish_from(&mut at).await?;
        let due = match self.watermark {
            Some((head, written)) => head != at.head || written.elapsed() >= WATERMARK_EVERY,
            None => true,
        };
        if due {
            let watermark = Watermark {
                head: at.head,
                as_of: to_micros(as_of),
                offset: at.offset,
            };
            self.js
                .put_watermark(&self.producer, watermark)
                .await
                .map_err(RelayError::JetStream)?;
            self.watermark = Some((at.head, std::time::Instant::now()));
        }
        if published > 0 || self.recorded.is_none_or(|at| at.elapsed() >= READER_EVERY) {
            outbox::record_reader(&self.db, RELAY_READER, at.head, self.clock.now()).await?;
            self.recorded = Some(std::time::Instant::now());
        }
        self.stream = Some((stream, at, seen));
        Ok(published)
    }

    /// Where the stream ends, in the feed's numbers: from its last message,
    /// or (all of them expired) from the last watermark.
    async fn find_end(&self, stream: &stream::Stream) -> Result<Published, RelayError> {
        let failed = |e: String| RelayError::JetStream(e);
        let last = stream
            .get_info()
            .await
            .map_err(|e| failed(e.to_string()))?
            .state
            .last_sequence;
        if last == 0 {
            return Ok(Published { head: 0, offset: 0 });
        }
        let end = if let Ok(message) = stream.get_raw_message(last).await
            && let Ok(event) = serde_json::from_slice::<FeedEvent>(&message.payload)
        {
            let at = Published {
                head: event.seq,
                offset: event.seq - last as i64,
            };
            // The stream's last event must be the outbox's event of that
            // number (or one pruned since): a database restored from an
            // earlier backup numbers new events again from its old head.
            let numbered = outbox::head(&self.db).await?;
            let kept = outbox::read(&self.db, event.seq - 1, 1).await?;
            let mismatch = kept
                .first()
                .filter(|e| e.seq == event.seq)
                .is_some_and(|e| e.id != event.id);
            if numbered < event.seq || mismatch {
                return Err(RelayError::Diverged {
                    stream: event.seq,
                    outbox: numbered,
                });
            }
            at
        } else {
            match self.js.watermark(&self.producer).await.map_err(failed)? {
                Some(w) if w.head - w.offset == last as i64 => Published {
                    head: w.head,
                    offset: w.offset,
                },
                _ => {
                    return Err(failed(format!(
                        "stream message {last} is gone and no watermark says which event it was"
                    )));
                }
            }
        };
        Ok(end)
    }

    /// Publishes the outbox after `at.head`, batch by batch, moving `at`
    /// to each acknowledged event.
    async fn publish_from(&self, at: &mut Published) -> Result<usize, RelayError> {
        let mut published = 0;
        let relayed =
            metrics::counter!("events_relayed_total", "producer" => self.producer.clone());
        loop {
            let events = outbox::read(&self.db, at.head, RELAY_BATCH).await?;
            let Some(first) = events.first() else {
                return Ok(published);
            };
            if first.seq != at.head + 1 {
                if at.head != 0 {
                    return Err(RelayError::Gap {
                        head: at.head,
                        next: first.seq,
                    });
                }
                // A new stream over an outbox already pruned: stream message
                // 1 is the oldest event kept.
                at.offset = first.seq - 1;
                at.head = first.seq - 1;
            }
            // Every publish names the stream message it expects to follow,
            // so they can be in flight together: if one fails, each after
            // it fails too, and a racing relay's copy is refused.
            let mut acks = Vec::with_capacity(events.len());
            for event in &events {
                let body = serde_json::to_vec(event).unwrap_or_default();
                let message = jetstream::message::PublishMessage::build()
                    .payload(body.into())
                    .message_id(&event.id)
                    .expected_last_sequence((event.seq - 1 - at.offset) as u64);
                let ack = self
                    .js
                    .context
                    .send_publish(self.js.subject(&self.producer, event), message)
                    .await
                    .map_err(|e| RelayError::JetStream(e.to_string()))?;
                acks.push((event.seq, ack));
            }
            let full = events.len() as u64 == RELAY_BATCH;
            for (seq, ack) in acks {
                match ack.await {
                    Ok(ack) if ack.sequence as i64 + at.offset == seq => {
                        at.head = seq;
                        if !ack.duplicate {
                            published += 1;
                            relayed.increment(1);
                        }
                    }
                    Ok(ack) => {
                        return Err(RelayError::JetStream(format!(
                            "event {seq} stored as stream message {} (offset {}): the stream is out of step with the outbox",
                            ack.sequence, at.offset
                        )));
                    }
                    Err(e)
                        if e.kind() == jetstream::context::PublishErrorKind::WrongLastSequence =>
                    {
                        return Err(RelayError::Raced);
                    }
                    Err(e) => return Err(RelayError::JetStream(e.to_string())),
                }
            }
            if !full {
                return Ok(published);
            }
        }
    }

    /// Relays every `interval` until `shutdown`. Failures are logged and
    /// retried at the next tick; a race with another replica's relay is
    /// not a failure.
    pub async fn run(mut self, interval: Duration, mut shutdown: Shutdown) {
        let mut failing = false;
        loop {
            let outcome = tokio::select! {
                outcome = self.relay_once() => outcome,
                _ = shutdown.wait() => return,
            };
            match outcome {
                Ok(_) | Err(RelayError::Raced) => failing = false,
                Err(err) => {
                    // Once per outage, then quietly until it works again.
                    if !failing {
                        if let RelayError::Diverged { .. } = err {
                            tracing::error!(producer = %self.producer, error = %err, "relaying the outbox to JetStream stopped");
                        } else {
                            tracing::warn!(producer = %self.producer, error = %err, "relaying the outbox to JetStream failed");
                        }
                    }
                    failing = true;
                }
            }
            let delay = if failing {
                interval.max(Duration::from_secs(1))
            } else {
                interval
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.wait() => return,
            }
        }
    }
}

/// Reads one producer's stream as gapless pages for a
/// [`super::consumer::FeedConsumer`].
pub struct JetStreamSource {
    js: JetStream,
    producer: String,
    /// How long a page waits for a new event when there is none.
    wait: Duration,
    state: tokio::sync::Mutex<Reading>,
}

/// What a source has pulled from the stream and not yet seen applied.
#[derive(Default)]
struct Reading {
    messages: Option<consumer::pull::Ordered>,
    /// Events after the last page's `after`, in order, with no gap.
    buffer: VecDeque<FeedEvent>,
    /// The feed's number of the last event pulled from the stream.
    pulled: i64,
    /// The stream's numbering (see [`Watermark::offset`]).
    offset: i64,
}

impl JetStreamSource {
    /// `wait`: how long a page with nothing new waits for an event (the
    /// poll interval: the consumer does not sleep between pages).
    pub fn new(js: JetStream, producer: &str, wait: Duration) -> Self {
        Self {
            js,
            producer: producer.to_owned(),
            wait,
            state: Default::default(),
        }
    }

    /// Starts reading the stream at `start` (an ordered consumer: no acks;
    /// a consumer's position lives in its own database).
    async fn read_from(
        &self,
        reading: &mut Reading,
        start: i64,
        offset: i64,
    ) -> Result<(), ConsumerError> {
        reading.messages = None;
        reading.buffer.clear();
        let stream = self
            .js
            .context
            .get_stream(self.js.stream_name(&self.producer))
            .await
            .map_err(|e| {
                ConsumerError::JetStream(format!(
                    "stream {}: {e} (has the {} service's relay run?)",
                    self.js.stream_name(&self.producer),
                    self.producer
                ))
            })?;
        let ordered = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: (start - offset).max(1) as u64,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| ConsumerError::JetStream(format!("consumer: {e}")))?;
        reading.messages = Some(
            ordered
                .messages()
                .await
                .map_err(|e| ConsumerError::JetStream(format!("messages: {e}")))?,
        );
        reading.pulled = start - 1;
        reading.offset = offset;
        Ok(())
    }

    /// The next message within `wait`, as a feed event.
    async fn pull(
        &self,
        reading: &mut Reading,
        wait: Duration,
    ) -> Result<Option<FeedEvent>, ConsumerError> {
        let Some(messages) = reading.messages.as_mut() else {
            return Ok(None);
        };
        let next = if wait.is_zero() {
            futures::FutureExt::now_or_never(messages.next()).flatten()
        } else {
            match tokio::time::timeout(wait, messages.next()).await {
                Ok(None) => {
                    // The reader ended: the next page makes another.
                    reading.messages = None;
                    return Ok(None);
                }
                Ok(next) => next,
                Err(_) => return Ok(None),
            }
        };
        let Some(message) = next else {
            return Ok(None);
        };
        let message = message.map_err(|e| ConsumerError::JetStream(e.to_string()))?;
        let stream_sequence = message
            .info()
            .map_err(|e| ConsumerError::JetStream(format!("message info: {e}")))?
            .stream_sequence;
        let event: FeedEvent = serde_json::from_slice(&message.payload).map_err(|e| {
            ConsumerError::JetStream(format!("stream message {stream_sequence}: {e}"))
        })?;
        if event.seq != stream_sequence as i64 + reading.offset {
            return Err(ConsumerError::JetStream(format!(
                "stream message {stream_sequence} holds event {} (offset {}): the stream is out of step with the feed",
                event.seq, reading.offset
            )));
        }
        reading.pulled = event.seq;
        Ok(Some(event))
    }
}

#[async_trait]
impl EventSource for JetStreamSource {
    async fn page(&self, after: i64, limit: u64) -> Result<FeedPage, ConsumerError> {
        // The watermark first: whatever it promises is in the stream now.
        let watermark = self
            .js
            .watermark(&self.producer)
            .await
            .map_err(ConsumerError::JetStream)?;
        let Some(watermark) = watermark else {
            // No relay has drained the outbox once: nothing to read yet,
            // and no instant to claim.
            return Ok(FeedPage {
                events: Vec::new(),
                head: after,
                as_of: None,
            });
        };
        let mut reading = self.state.lock().await;
        let reading = &mut *reading;
        while reading.buffer.front().is_some_and(|e| e.seq <= after) {
            reading.buffer.pop_front();
        }
        let in_step = reading.offset == watermark.offset
            && match reading.buffer.front() {
                Some(first) => first.seq == after + 1,
                None => reading.messages.is_some() && reading.pulled == after,
            };
        if !in_step {
            self.read_from(reading, after + 1, watermark.offset).await?;
        }
        let behind = after < watermark.head;
        let mut wait = match (reading.buffer.is_empty(), behind) {
            (false, _) => Duration::ZERO,
            (true, true) => BEHIND_WAIT,
            (true, false) => self.wait,
        };
        while (reading.buffer.len() as u64) < limit {
            let event = match self.pull(reading, wait).await {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(e) => {
                    // A reader that failed once (a server restarted, its
                    // consumer gone) is made afresh on the next page.
                    reading.messages = None;
                    return Err(e);
                }
            };
            reading.buffer.push_back(event);
            // Events the watermark promises are on their way: wait for
            // them so a page is as full as the stream allows; past the
            // watermark, take only what has already arrived.
            wait = if reading.pulled < watermark.head {
                BEHIND_WAIT
            } else {
                Duration::ZERO
            };
        }
        let events: Vec<FeedEvent> = reading
            .buffer
            .iter()
            .take(limit as usize)
            .cloned()
            .collect();
        if behind && events.is_empty() {
            reading.messages = None;
            return Err(ConsumerError::JetStream(format!(
                "the watermark promises events after {after} but the stream sent none within {BEHIND_WAIT:?}"
            )));
        }
        let last = events.last().map_or(after, |e| e.seq);
        Ok(FeedPage {
            events,
            head: watermark.head.max(last),
            as_of: Some(from_micros(watermark.as_of)),
        })
    }

    fn waits_for_events(&self) -> bool {
        true
    }
}

/// How events reach this service's consumers, from `events.transport`.
#[derive(Clone)]
pub enum Transport {
    /// Each consumer polls its producer's `GET /events`.
    Http,
    /// Relays publish to JetStream; consumers read the streams.
    JetStream(Box<JetStream>),
}

impl Transport {
    /// The transport `events` configures, connected.
    pub async fn connect(events: &EventsConfig) -> Result<Self, JetStreamError> {
        Ok(match events.transport {
            crate::config::EventTransport::Http => Transport::Http,
            crate::config::EventTransport::Nats => {
                Transport::JetStream(Box::new(JetStream::connect(events).await?))
            }
        })
    }
}
