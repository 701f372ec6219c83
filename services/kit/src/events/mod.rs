//! Events between services, exactly once.
//!
//! A producer writes each event into its own outbox in the same transaction
//! as the fact ([`outbox::publish`]) and serves the outbox as an ordered feed
//! (`GET /events?after=<seq>&limit=<n>`, [`feed`]). A consumer polls the feed
//! and applies each event in a transaction that also stores its position
//! ([`consumer`]), so a crash or a repeat never applies an event twice or
//! skips one. The event shapes every service agrees on live in [`schema`].
//!
//! Between the outbox and the consumer, events travel one of two ways
//! (`events.transport`): the consumer polls the producer's feed over HTTP,
//! or the producer's [`jetstream::Relay`] publishes the outbox to a NATS
//! JetStream stream that the consumer reads ([`jetstream::JetStreamSource`]).
//! Either way the consumer sees the same gapless pages
//! ([`consumer::EventSource`]), so everything above does not know which.

pub mod consumer;
pub mod entities;
pub mod feed;
pub mod jetstream;
pub mod outbox;
pub mod parked;
pub mod schema;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// An event type with a stable name on the wire.
pub trait DomainEvent: Serialize + DeserializeOwned {
    const KIND: &'static str;
}

/// The events one feed carries, as one type (see [`schema::MemberEvent`]
/// and [`schema::OrderEvent`]).
pub trait FeedEvents: Sized + Send {
    /// The typed event; an event of a type the feed does not carry, or
    /// whose payload does not match its type, is an error.
    fn decode(event: &FeedEvent) -> Result<Self, serde_json::Error>;
}

/// One event as the feed serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedEvent {
    /// Position in the producer's feed: gapless and in commit order.
    pub seq: i64,
    /// Globally unique event id.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

impl FeedEvent {
    /// The typed payload if this event is of type `E`.
    pub fn decode<E: DomainEvent>(&self) -> Option<Result<E, serde_json::Error>> {
        (self.kind == E::KIND).then(|| serde_json::from_value(self.payload.clone()))
    }
}

/// A page of the feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedPage {
    pub events: Vec<FeedEvent>,
    /// The highest sequence number published so far.
    pub head: i64,
    /// Every event the producer committed before this instant (its clock)
    /// is at or below `head`: a consumer that has applied up to `head` has
    /// caught up to here. `None` when the source cannot say (a JetStream
    /// stream whose relay has not yet drained the outbox once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
}
