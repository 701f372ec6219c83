//! Sending partners' webhook deliveries: every due delivery is claimed
//! (a lease in the database, so replicas never send one attempt twice),
//! signed, POSTed with a timeout, and its outcome recorded: delivered, or
//! retried after an exponential wait with jitter, or failed after the last
//! attempt. Each endpoint has at most one delivery in flight from a
//! process, and sends run as their own tasks, so a slow or dead endpoint
//! delays only its own queue.
//!
//! A crash between the POST and the record leaves the delivery pending
//! under a lease that lapses; it is sent again, with the same event id
//! (receivers drop the repeat).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kit::config::WebhookSettings;
use kit::shutdown::Shutdown;
use kit::time::{Clock, to_micros};
use sea_orm::DatabaseConnection;

use crate::domain::webhooks::{
    AttemptOutcome, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, attempt_outcome,
    host_may_be_public, is_public, retry_delay_ms, signature,
};
use crate::store::webhooks::{self, Attempt, DueDelivery};

/// How much of an endpoint's answer is read (the log keeps less).
const ANSWER_READ_BYTES: usize = 2048;

/// Endpoints served per pass.
const PASS_LIMIT: u64 = 200;

/// Deliveries one endpoint is sent in a row before its next turn.
const BURST: usize = 100;

/// Sends due deliveries.
#[derive(Clone)]
pub struct Sender {
    db: DatabaseConnection,
    clock: Clock,
    settings: WebhookSettings,
    http: reqwest::Client,
    /// Endpoints with a delivery in flight from this process.
    in_flight: Arc<Mutex<HashSet<String>>>,
}

impl Sender {
    pub fn new(db: DatabaseConnection, clock: Clock, settings: WebhookSettings) -> Self {
        let mut builder = kit::tls::reqwest_builder();
        if !settings.allow_private_urls {
            // Names resolve to public addresses only, at the moment of
            // connecting: a name cannot be pointed inside afterwards.
            builder = builder.dns_resolver(Arc::new(PublicAddresses));
        }
        let http = builder
            .timeout(Duration::from_millis(settings.timeout_ms))
            // A redirect could point the signed body anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("bigmember-webhooks/1")
            .build()
            .unwrap_or_default();
        Self {
            db,
            clock,
            settings,
            http,
            in_flight: Arc::default(),
        }
    }

    /// Starts sending for each endpoint with a delivery due (none for an
    /// endpoint already sending): its earliest due delivery, then, in the
    /// same task, each next one due, up to [`BURST`] in a row. The started
    /// sends.
    pub async fn pass(&self) -> crate::error::Result<Vec<tokio::task::JoinHandle<()>>> {
        let now = self.clock.now();
        let due = webhooks::due(&self.db, now, PASS_LIMIT).await?;
        let mut started = Vec::new();
        for item in due {
            let endpoint = item.delivery.endpoint_id.clone();
            if !self.lock_endpoint(&endpoint) {
                continue;
            }
            match self.claim(&item).await {
                Ok(true) => {
                    let sender = self.clone();
                    started.push(tokio::spawn(async move {
                        sender.send_in_a_row(item).await;
                        sender.unlock_endpoint(&endpoint);
                    }));
                }
                Ok(false) => self.unlock_endpoint(&endpoint),
                Err(e) => {
                    self.unlock_endpoint(&endpoint);
                    return Err(e);
                }
            }
        }
        Ok(started)
    }

    /// Holds `item` for one attempt: the lease outlasts the attempt's
    /// timeout and its record, so that a live sender's attempt is never
    /// taken by another; after a crash it lapses soon.
    async fn claim(&self, item: &DueDelivery) -> crate::error::Result<bool> {
        let now = self.clock.now();
        let lease_ms = (self.settings.timeout_ms as i64).saturating_mul(2) + 1_000;
        let lease_until = to_micros(now) + lease_ms.saturating_mul(1_000);
        webhooks::claim(&self.db, &item.delivery.id, now, lease_until).await
    }

    /// Sends `first`, then the endpoint's next due deliveries one after
    /// another (a busy endpoint does not wait a poll between events), until
    /// none is due, an attempt fails, the endpoint is paused, or [`BURST`]
    /// were sent.
    async fn send_in_a_row(&self, first: DueDelivery) {
        let mut item = first;
        for _ in 0..BURST {
            if self.attempt(item.clone()).await != AttemptOutcome::Delivered {
                return;
            }
            let next = match webhooks::endpoint_by_id(&self.db, &item.delivery.endpoint_id).await {
                Ok(e) if !e.paused => webhooks::next_due(&self.db, &e, self.clock.now()).await,
                _ => return,
            };
            match next {
                Ok(Some(next)) if matches!(self.claim(&next).await, Ok(true)) => item = next,
                _ => return,
            }
        }
    }

    /// One pass, waiting for its sends to finish: how many were attempted.
    pub async fn deliver_due(&self) -> crate::error::Result<usize> {
        let started = self.pass().await?;
        let n = started.len();
        futures::future::join_all(started).await;
        Ok(n)
    }

    /// Passes every poll interval until shutdown.
    pub async fn run(self, mut shutdown: Shutdown) {
        let interval = Duration::from_millis(self.settings.poll_interval_ms);
        loop {
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "webhook deliveries could not be read");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    fn lock_endpoint(&self, endpoint: &str) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(endpoint.to_owned())
    }

    fn unlock_endpoint(&self, endpoint: &str) {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(endpoint);
    }

    async fn attempt(&self, item: DueDelivery) -> AttemptOutcome {
        let delivery = &item.delivery;
        if !self.settings.allow_private_urls
            && !url::Url::parse(&item.url).is_ok_and(|u| host_may_be_public(&u))
        {
            return self
                .record(
                    delivery,
                    None,
                    "the endpoint's address is not public".to_owned(),
                )
                .await;
        }
        // Replay protection is security, checked by the receiver against
        // its real clock: the system clock, as token lifetimes are, even
        // when the platform's clock was moved (`now`).
        let sent_at = chrono::Utc::now();
        let header = signature(&item.secret, sent_at.timestamp(), delivery.body.as_bytes());
        let answer = self
            .http
            .post(&item.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, header)
            .header(EVENT_ID_HEADER, &delivery.event_id)
            .header(EVENT_TYPE_HEADER, delivery.event_type.wire_name())
            .body(delivery.body.clone())
            .send()
            .await;
        let (status, text) = match answer {
            Ok(mut response) => {
                let status = response.status().as_u16();
                // Only the start is kept: a huge answer is not read whole.
                let mut kept = Vec::new();
                while kept.len() < ANSWER_READ_BYTES {
                    match response.chunk().await {
                        Ok(Some(chunk)) => {
                            let room = ANSWER_READ_BYTES - kept.len();
                            kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                        }
                        _ => break,
                    }
                }
                (Some(status), String::from_utf8_lossy(&kept).into_owned())
            }
            Err(e) if e.is_timeout() => (
                None,
                format!("no answer within {} ms", self.settings.timeout_ms),
            ),
            Err(e) if e.is_connect() => (None, "the endpoint could not be reached".to_owned()),
            Err(_) => (None, "the request failed".to_owned()),
        };
        self.record(delivery, status, text).await
    }

    /// Records an attempt's result; its outcome.
    async fn record(
        &self,
        delivery: &crate::store::entities::webhook_delivery::Model,
        status: Option<u16>,
        text: String,
    ) -> AttemptOutcome {
        let attempts = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
        let outcome = attempt_outcome(status, attempts, self.settings.max_attempts);
        let now = self.clock.now();
        let wait = retry_delay_ms(
            attempts,
            self.settings.retry_base_ms,
            self.settings.retry_cap_ms,
            rand::random::<f64>(),
        );
        let attempt = Attempt {
            status,
            answer: text,
            outcome,
            next_attempt_at: to_micros(now) + (wait as i64).saturating_mul(1_000),
        };
        match webhooks::record_attempt(&self.db, delivery, &attempt, now).await {
            Ok(()) => {
                metrics::counter!("webhook_attempts_total", "outcome" => outcome_name(outcome))
                    .increment(1);
                if outcome == AttemptOutcome::Failed {
                    tracing::warn!(
                        delivery = %delivery.id,
                        endpoint = %delivery.endpoint_id,
                        attempts,
                        "a webhook delivery failed for good"
                    );
                }
            }
            // The lease lapses and the delivery is sent again.
            Err(e) => {
                tracing::warn!(delivery = %delivery.id, error = %e, "a webhook attempt could not be recorded");
                return AttemptOutcome::Retry;
            }
        }
        outcome
    }
}

/// Resolves endpoint names to their public addresses only; a name with
/// none (it points at loopback, a private network, a cloud metadata
/// address) fails to resolve.
struct PublicAddresses;

impl reqwest::dns::Resolve for PublicAddresses {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<std::net::SocketAddr> = found.filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

fn outcome_name(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Delivered => "delivered",
        AttemptOutcome::Retry => "retry",
        AttemptOutcome::Failed => "failed",
    }
}
